"""The booth's own opening hours: "open at?" and "next opening", DST-safe. Pure.

Weekly ranges per weekday, in minutes after local midnight in the booth's time
zone (``zoneinfo``). ``None`` hours mean always open. Every computation is made
on the local wall clock then turned back into an aware datetime, so a range
"09:00-17:00" is 09:00-17:00 on the day clocks change too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from kiosk.i18n import N_

UTC_ZONE = ZoneInfo("UTC")
DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = (
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
)
"""English msgids of the weekdays (translated by the closed screen)."""


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


@dataclass(frozen=True)
class BoothHours:
    """Open ranges ``(start, end)`` in minutes for each weekday, Monday first."""

    days: tuple[tuple[tuple[int, int], ...], ...] | None
    zone: ZoneInfo

    @classmethod
    def from_settings(
        cls, hours: Mapping[str, Sequence[Sequence[str]]] | None, timezone: str
    ) -> BoothHours:
        """From ``{"mon": [["09:00", "12:00"], ...]}`` (None: always open)."""
        zone = ZoneInfo(timezone)
        if hours is None:
            return cls(None, zone)
        days = tuple(
            tuple(sorted((_minutes(r[0]), _minutes(r[1])) for r in hours.get(key, ())))
            for key in DAY_KEYS
        )
        return cls(days, zone)

    def is_open(self, now: datetime) -> bool:
        """Whether the booth is open at ``now`` (an aware datetime, any zone)."""
        if now.tzinfo is None:
            raise ValueError("is_open needs an aware datetime")
        if self.days is None:
            return True
        local = now.astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self.days[local.weekday()])

    def next_opening(self, now: datetime) -> datetime | None:
        """When the booth opens next after ``now`` (local time), or None if it never does.

        Only meaningful while closed; a wall-clock time skipped by a DST change
        becomes the first instant after it.
        """
        if now.tzinfo is None:
            raise ValueError("next_opening needs an aware datetime")
        if self.days is None:
            return None
        local = now.astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        for offset in range(8):
            day = local.date() + timedelta(days=offset)
            for start, _end in self.days[day.weekday()]:
                if offset == 0 and start <= minute:
                    continue
                hours, minutes = divmod(start, 60)
                naive = datetime.combine(day, time(hours % 24, minutes))
                if hours == 24:
                    naive += timedelta(days=1)
                wall = naive.replace(tzinfo=self.zone)
                # A wall time inside a spring-forward gap does not exist: normalise it.
                return wall.astimezone(UTC_ZONE).astimezone(self.zone)
        return None


MSG_CLOSED = N_("This booth is closed.")
MSG_REOPENS = N_("It opens again on {day} at {time}.")
MSG_CLOSED_FOR_NOW = N_("It is closed until further notice.")
MSG_CLOCK = N_("{hours}:{minutes}")
"""Clock format msgid: French ``{hours} h {minutes}`` (9 h 00), English 9:00."""


def reopening(when: datetime | None) -> list[int]:
    """``[weekday, hour, minute]`` of the local reopening time, ``[]`` if unknown."""
    return [] if when is None else [when.weekday(), when.hour, when.minute]


def reopening_text(gettext: Callable[[str], str], reopens: Sequence[int]) -> str:
    """ "It opens again on Tuesday at 9:00." in the current language (no reopening: closed)."""
    if len(reopens) != 3:
        return gettext(MSG_CLOSED_FOR_NOW)
    weekday, hours, minutes = reopens
    clock = gettext(MSG_CLOCK).format(hours=hours, minutes=f"{minutes:02d}")
    return gettext(MSG_REOPENS).format(day=gettext(DAY_NAMES[weekday]), time=clock)

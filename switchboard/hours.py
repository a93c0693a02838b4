"""Weekly opening hours: parse, "open now?", and human text per language. Pure."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

TIMEZONE = ZoneInfo("Europe/Paris")
"""Every booth and office is on French metropolitan time."""

DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = {
    "fr": ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    "es": ("lun.", "mar.", "mié.", "jue.", "vie.", "sáb.", "dom."),
    "pt": ("seg.", "ter.", "qua.", "qui.", "sex.", "sáb.", "dom."),
    # Arabic has no usual short weekday names: the full ones.
    "ar": ("الاثنين", "الثلاثاء", "الأربعاء", "الخميس", "الجمعة", "السبت", "الأحد"),
}
_ALWAYS_TEXT = {
    "fr": "7 j/7, 24 h/24",
    "en": "24/7",
    "es": "todos los días, 24 h",
    "pt": "todos os dias, 24 h",
    "ar": "كل يوم، 24 ساعة",
}
_CLOSED_TEXT = {"fr": "fermé", "en": "closed", "es": "cerrado", "pt": "fechado", "ar": "مغلق"}
_SEPARATOR = {"fr": " ; ", "ar": "؛ "}
"""Between day groups (default ``"; "``): French puts a space before it, Arabic has its own."""
_COMMA = {"ar": "، "}
"""Between the spans of one day (default ``", "``)."""
LANGUAGES = tuple(_DAY_NAMES)

_RULE = re.compile(r"^\s*(?P<days>[a-z]{3}(?:\s*-\s*[a-z]{3})?)\s+(?P<times>.+?)\s*$")
_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class HoursError(ValueError):
    """An opening-hours rule that cannot be read."""


@dataclass(frozen=True, order=True)
class Span:
    """Open from ``start`` to ``end``, both minutes after midnight (end excluded, 1440 max)."""

    start: int
    end: int


@dataclass(frozen=True)
class OpeningHours:
    """Open spans for each weekday, Monday first (index 0) to Sunday (6)."""

    days: tuple[tuple[Span, ...], ...]

    @classmethod
    def always(cls) -> OpeningHours:
        """Open every minute of every day."""
        return cls(tuple((Span(0, 1440),) for _ in range(7)))

    @classmethod
    def never(cls) -> OpeningHours:
        """Never open (a service kept in the catalogue but suspended)."""
        return cls(tuple(() for _ in range(7)))

    @property
    def is_always(self) -> bool:
        return all(day == (Span(0, 1440),) for day in self.days)

    def is_open(self, now: datetime) -> bool:
        """Whether the service is open at ``now`` (an aware datetime, any zone)."""
        if now.tzinfo is None:
            raise ValueError("is_open needs an aware datetime (naive times are ambiguous)")
        local = now.astimezone(TIMEZONE)
        minute = local.hour * 60 + local.minute
        return any(s.start <= minute < s.end for s in self.days[local.weekday()])

    def describe(self, language: str) -> str:
        """Short human text, e.g. fr ``lun.–ven. 9 h–17 h``, en ``Mon–Fri 9:00–17:00``,
        es ``lun.–vie. 9:00–17:00``, pt ``seg.–sex. 9h00–17h00``; other languages: English."""
        lang = language if language in _DAY_NAMES else "en"
        if self.is_always:
            return _ALWAYS_TEXT[lang]
        groups: list[tuple[int, int, tuple[Span, ...]]] = []
        for index, spans in enumerate(self.days):
            if groups and groups[-1][2] == spans and groups[-1][1] == index - 1:
                groups[-1] = (groups[-1][0], index, spans)
            else:
                groups.append((index, index, spans))
        parts = []
        for first, last, spans in groups:
            if not spans:
                continue
            names = _DAY_NAMES[lang]
            days = names[first] if first == last else f"{names[first]}–{names[last]}"
            times = _COMMA.get(lang, ", ").join(
                f"{_clock(s.start, lang)}–{_clock(s.end, lang)}" for s in spans
            )
            parts.append(f"{days} {times}")
        if not parts:
            return _CLOSED_TEXT[lang]
        return _SEPARATOR.get(lang, "; ").join(parts)


def _clock(minute: int, lang: str) -> str:
    hours, minutes = divmod(minute, 60)
    if lang == "fr":
        return f"{hours} h" if minutes == 0 else f"{hours} h {minutes:02d}"
    if lang == "pt":
        return f"{hours}h{minutes:02d}"  # as written in Portugal: 9h00
    return f"{hours}:{minutes:02d}"


def parse_hours(spec: str | Sequence[str]) -> OpeningHours:
    """Read ``"always"``, ``"never"`` or rules like ``["mon-fri 09:00-12:00, 13:30-17:00"]``."""
    if isinstance(spec, str):
        word = spec.strip().lower()
        if word == "always":
            return OpeningHours.always()
        if word == "never":
            return OpeningHours.never()
        rules: Iterable[str] = [spec]
    else:
        rules = spec
    days: list[list[Span]] = [[] for _ in range(7)]
    for rule in rules:
        if not isinstance(rule, str):
            raise HoursError(f"rule {rule!r} is not a string")
        for index, span in _parse_rule(rule):
            days[index].append(span)
    result: list[tuple[Span, ...]] = []
    for index, spans in enumerate(days):
        ordered = sorted(spans)
        for before, after in itertools.pairwise(ordered):
            if after.start < before.end:
                raise HoursError(f"overlapping hours on {DAY_KEYS[index]}")
        result.append(tuple(ordered))
    return OpeningHours(tuple(result))


def _parse_rule(rule: str) -> list[tuple[int, Span]]:
    match = _RULE.match(rule.lower())
    if match is None:
        raise HoursError(f"cannot read hours rule {rule!r} (expected e.g. 'mon-fri 09:00-17:00')")
    day_part = [d.strip() for d in match["days"].split("-")]
    for day in day_part:
        if day not in DAY_KEYS:
            raise HoursError(f"unknown day {day!r} in {rule!r} (use {', '.join(DAY_KEYS)})")
    first = DAY_KEYS.index(day_part[0])
    last = DAY_KEYS.index(day_part[-1])
    if last < first:
        raise HoursError(f"day range goes backwards in {rule!r}")
    spans = [_parse_span(text, rule) for text in match["times"].split(",")]
    return [(day, span) for day in range(first, last + 1) for span in spans]


def _parse_span(text: str, rule: str) -> Span:
    match = _SPAN.match(text)
    if match is None:
        raise HoursError(
            f"cannot read time span {text.strip()!r} in {rule!r} (expected HH:MM-HH:MM)"
        )
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if m1 > 59 or m2 > 59 or h1 > 23 or h2 > 24 or (h2 == 24 and m2 != 0):
        raise HoursError(f"impossible time in {rule!r}")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if end <= start:
        raise HoursError(f"span {text.strip()!r} ends before it starts in {rule!r}")
    return Span(start, end)

"""The booth's own opening hours: schema validation, mapping, "open at?" and "next
opening" (weekday wrap, DST), and the closed text in French and English."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from kiosk.config import BoothSettings
from kiosk.fleet import settings_from_config
from kiosk.i18n import Translator
from kiosk.opening_hours import BoothHours, reopening, reopening_text
from provisioning.schema import BoothConfig, OpeningRange

PARIS = ZoneInfo("Europe/Paris")
URL = "https://guichet.example.fr"
WEEKDAYS = {
    d: [("09:00", "12:00"), ("13:30", "17:00")] for d in ("mon", "tue", "wed", "thu", "fri")
}


def _hours(spec: dict[str, list[tuple[str, str]]] | None, tz: str = "Europe/Paris") -> BoothHours:
    return BoothHours.from_settings(spec, tz)


def test_no_hours_means_always_open() -> None:
    hours = _hours(None)
    assert hours.is_open(datetime(2026, 1, 4, 3, 0, tzinfo=UTC))
    assert hours.next_opening(datetime(2026, 1, 4, 3, 0, tzinfo=UTC)) is None
    assert BoothConfig(switchboard_url=URL).opening_hours is None


def test_open_inside_ranges_only_end_excluded() -> None:
    hours = _hours(WEEKDAYS)
    monday = datetime(2026, 1, 5, tzinfo=PARIS)
    assert not hours.is_open(monday.replace(hour=8, minute=59))
    assert hours.is_open(monday.replace(hour=9))
    assert not hours.is_open(monday.replace(hour=12))
    assert hours.is_open(monday.replace(hour=16, minute=59))
    assert not hours.is_open(datetime(2026, 1, 10, 10, 0, tzinfo=PARIS))  # Saturday
    # Any zone in, Paris wall clock decides: 08:30 UTC in winter is 09:30 in Paris.
    assert hours.is_open(datetime(2026, 1, 5, 8, 30, tzinfo=UTC))
    with pytest.raises(ValueError):
        hours.is_open(datetime(2026, 1, 5, 10, 0))


def test_next_opening_same_day_and_weekday_wrap() -> None:
    hours = _hours(WEEKDAYS)
    assert hours.next_opening(datetime(2026, 1, 5, 12, 15, tzinfo=PARIS)) == datetime(
        2026, 1, 5, 13, 30, tzinfo=PARIS
    )
    # Friday evening -> Monday morning; Sunday -> Monday.
    friday = datetime(2026, 1, 9, 18, 0, tzinfo=PARIS)
    assert hours.next_opening(friday) == datetime(2026, 1, 12, 9, 0, tzinfo=PARIS)
    only_monday = _hours({"mon": [("09:00", "10:00")]})
    # Monday after the range: next Monday, a week later.
    after = only_monday.next_opening(datetime(2026, 1, 5, 11, 0, tzinfo=PARIS))
    assert after == datetime(2026, 1, 12, 9, 0, tzinfo=PARIS)
    assert _hours({}).next_opening(friday) is None  # never open


def test_dst_changes_keep_the_wall_clock() -> None:
    hours = _hours({"sun": [("02:30", "04:00")], "mon": [("09:00", "17:00")]})
    # Spring forward (29 March 2026, 02:00 -> 03:00): 09:00 the next day is 07:00 UTC.
    opening = hours.next_opening(datetime(2026, 3, 29, 5, 0, tzinfo=PARIS))
    assert opening is not None and opening.astimezone(UTC).hour == 7
    assert hours.is_open(datetime(2026, 3, 30, 7, 0, tzinfo=UTC))
    # A range starting inside the skipped hour opens at the first real instant after.
    sunday = hours.next_opening(datetime(2026, 3, 28, 20, 0, tzinfo=PARIS))
    assert sunday is not None and sunday.astimezone(UTC) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    # Fall back (25 October 2026): 09:00 Monday is 08:00 UTC.
    autumn = hours.next_opening(datetime(2026, 10, 25, 12, 0, tzinfo=PARIS))
    assert autumn is not None and autumn.astimezone(UTC) == datetime(2026, 10, 26, 8, 0, tzinfo=UTC)


def test_another_timezone() -> None:
    hours = _hours({"mon": [("09:00", "17:00")]}, "America/Cayenne")
    assert not hours.is_open(datetime(2026, 1, 5, 10, 0, tzinfo=PARIS))  # 06:00 in Cayenne
    assert hours.is_open(datetime(2026, 1, 5, 14, 0, tzinfo=PARIS))


def test_schema_validates_ranges_and_timezone() -> None:
    ok = BoothConfig(
        switchboard_url=URL,
        opening_hours={
            "mon": [{"start": "09:00", "end": "12:00"}, {"start": "14:00", "end": "24:00"}]
        },
        timezone="Europe/Paris",
    )
    assert ok.opening_hours is not None
    assert ok.opening_hours["mon"][1] == OpeningRange(start="14:00", end="24:00")
    bad = [
        {"mon": [{"start": "9:00", "end": "12:00"}]},
        {"mon": [{"start": "12:00", "end": "09:00"}]},
        {"mon": [{"start": "09:00", "end": "09:00"}]},
        {"mon": [{"start": "09:00", "end": "24:30"}]},
        {"mon": [{"start": "09:00", "end": "12:00"}, {"start": "11:00", "end": "13:00"}]},
        {"mon": [{"start": f"0{i}:00", "end": f"0{i}:30"} for i in range(5)]},
        {"lundi": [{"start": "09:00", "end": "12:00"}]},
    ]
    for hours in bad:
        with pytest.raises(ValidationError):
            BoothConfig(switchboard_url=URL, opening_hours=hours)
    with pytest.raises(ValidationError):
        BoothConfig(switchboard_url=URL, timezone="Mars/Olympus")


def test_hours_reach_the_booth_settings(tmp_path: Path) -> None:
    config = BoothConfig(
        switchboard_url=URL,
        opening_hours={"tue": [{"start": "09:00", "end": "12:00"}]},
        timezone="Europe/Brussels",
    )
    settings = settings_from_config(BoothSettings(data_dir=tmp_path, fullscreen=False), config)
    assert settings.opening_hours == {"tue": [("09:00", "12:00")]}
    assert settings.timezone == "Europe/Brussels"
    always = settings_from_config(
        BoothSettings(data_dir=tmp_path), BoothConfig(switchboard_url=URL)
    )
    assert always.opening_hours is None


def test_closed_text_in_french_and_english() -> None:
    tuesday_9 = reopening(datetime(2026, 1, 6, 9, 0, tzinfo=PARIS))
    assert tuesday_9 == [1, 9, 0]
    fr, en = Translator("fr"), Translator("en")
    assert reopening_text(fr.gettext, tuesday_9) == "Elle rouvre mardi à 9 h 00."
    assert reopening_text(en.gettext, tuesday_9) == "It opens again on Tuesday at 9:00."
    assert reopening_text(fr.gettext, [6, 13, 30]) == "Elle rouvre dimanche à 13 h 30."
    assert reopening_text(fr.gettext, []) == "Nous ne savons pas encore quand elle rouvre."
    assert reopening(None) == []

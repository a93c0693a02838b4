"""Opening hours: parsing, open-now on Paris time, human text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard.hours import TIMEZONE, HoursError, OpeningHours, parse_hours

PARIS = TIMEZONE
OFFICE = ["mon-fri 09:00-12:00, 13:30-17:00", "sat 09:00-12:00"]


def paris(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=PARIS)


def test_office_hours_open_and_closed_on_paris_time() -> None:
    hours = parse_hours(OFFICE)
    assert hours.is_open(paris(2024, 3, 4, 9, 0))  # Monday 9:00
    assert not hours.is_open(paris(2024, 3, 4, 8, 59))
    assert not hours.is_open(paris(2024, 3, 4, 12, 0))  # end excluded
    assert hours.is_open(paris(2024, 3, 4, 13, 30))
    assert hours.is_open(paris(2024, 3, 9, 11, 59))  # Saturday
    assert not hours.is_open(paris(2024, 3, 10, 10, 0))  # Sunday


def test_utc_time_is_converted_to_paris_including_summer_time() -> None:
    hours = parse_hours(["tue 14:00-16:00"])
    # 2024-07-02 is a Tuesday; Paris is UTC+2 in summer.
    assert hours.is_open(datetime(2024, 7, 2, 12, 30, tzinfo=UTC))
    assert not hours.is_open(datetime(2024, 7, 2, 14, 30, tzinfo=UTC))
    # In winter, UTC+1.
    assert hours.is_open(datetime(2024, 1, 2, 13, 30, tzinfo=UTC))


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        OpeningHours.always().is_open(datetime(2024, 1, 1, 12, 0))


def test_human_text_in_french_and_english() -> None:
    hours = parse_hours("mon-fri 09:00-17:00")
    assert hours.describe("fr") == "lun.–ven. 9 h–17 h"
    assert hours.describe("en") == "Mon–Fri 9:00–17:00"
    office = parse_hours(OFFICE)
    assert office.describe("fr") == "lun.–ven. 9 h–12 h, 13 h 30–17 h ; sam. 9 h–12 h"
    assert office.describe("en") == "Mon–Fri 9:00–12:00, 13:30–17:00; Sat 9:00–12:00"
    assert parse_hours("always").describe("en") == "24/7"
    assert parse_hours("never").describe("fr") == "fermé"
    assert parse_hours("tue 14:00-16:00").describe("fr") == "mar. 14 h–16 h"


def test_human_text_in_spanish_portuguese_and_arabic() -> None:
    office = parse_hours(OFFICE)
    assert office.describe("es") == "lun.–vie. 9:00–12:00, 13:30–17:00; sáb. 9:00–12:00"
    assert office.describe("pt") == "seg.–sex. 9h00–12h00, 13h30–17h00; sáb. 9h00–12h00"
    # Arabic: full day names, Arabic comma and semicolon (shown right to left by the booth).
    assert office.describe("ar") == "الاثنين–الجمعة 9:00–12:00، 13:30–17:00؛ السبت 9:00–12:00"
    assert parse_hours("always").describe("es") == "todos los días, 24 h"
    assert parse_hours("always").describe("pt") == "todos os dias, 24 h"
    assert parse_hours("never").describe("ar") == "مغلق"


def test_every_booth_language_has_hours_text() -> None:
    from provisioning.schema import BOOTH_LANGUAGES
    from switchboard.hours import LANGUAGES

    assert set(LANGUAGES) == set(BOOTH_LANGUAGES)


def test_unknown_language_falls_back_to_english() -> None:
    assert parse_hours("mon 08:00-09:00").describe("de") == "Mon 8:00–9:00"


@pytest.mark.parametrize(
    ("rule", "needle"),
    [
        ("monday 9:00-10:00", "unknown day|cannot read"),
        ("mon 10:00-09:00", "ends before"),
        ("mon 25:00-26:00", "impossible"),
        ("fri-mon 09:00-10:00", "backwards"),
        ("mon 9h-10h", "HH:MM"),
        ("xyz 09:00-10:00", "unknown day"),
    ],
)
def test_bad_rules_say_what_is_wrong(rule: str, needle: str) -> None:
    with pytest.raises(HoursError, match=needle):
        parse_hours([rule])


def test_overlapping_spans_are_refused() -> None:
    with pytest.raises(HoursError, match="overlapping hours on mon"):
        parse_hours(["mon 09:00-12:00", "mon 11:00-13:00"])


def test_until_midnight_is_allowed() -> None:
    hours = parse_hours(["sun 20:00-24:00"])
    assert hours.is_open(paris(2024, 3, 10, 23, 59))


moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@given(moments)
def test_always_is_open_and_never_is_closed(now: datetime) -> None:
    assert OpeningHours.always().is_open(now)
    assert not OpeningHours.never().is_open(now)


@st.composite
def spans(draw: st.DrawFn) -> tuple[int, int]:
    start = draw(st.integers(0, 23 * 60 + 58))
    end = draw(st.integers(start + 1, 24 * 60))
    return start, end


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@given(span=spans(), day=st.integers(0, 6), moment=moments)
def test_open_exactly_inside_the_span(span: tuple[int, int], day: int, moment: datetime) -> None:
    key = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[day]
    hours = parse_hours([f"{key} {_hhmm(span[0])}-{_hhmm(span[1])}"])
    local = moment.astimezone(PARIS)
    minute = local.hour * 60 + local.minute
    expected = local.weekday() == day and span[0] <= minute < span[1]
    assert hours.is_open(moment) == expected


@given(moments)
def test_office_hours_closed_on_sundays(now: datetime) -> None:
    hours = parse_hours(OFFICE)
    local = now.astimezone(PARIS)
    if local.weekday() == 6:
        assert not hours.is_open(now)

"""Statistics: counts per day, service and site, roll-ups, and the figures derived."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard import stats, stats_store
from switchboard.db import Database
from switchboard.stats import ALL, DayCounts, Key, Rating, RatingReason

PARIS = ZoneInfo("Europe/Paris")


@given(st.dates(date(2020, 1, 1), date(2030, 12, 31)), st.integers(0, 800))
def test_months_and_edges_cover_every_day_of_a_period_once(start: date, length: int) -> None:
    end = start + timedelta(days=length)
    months, edges = stats.split_period(start, end)
    covered: list[date] = []
    for first in months:
        assert first.day == 1
        covered += [
            first + timedelta(days=n) for n in range((stats.month_end(first) - first).days + 1)
        ]
    for first, last in edges:
        covered += [first + timedelta(days=n) for n in range((last - first).days + 1)]
    assert sorted(covered) == [start + timedelta(days=n) for n in range(length + 1)]


def test_an_event_counts_in_its_row_and_the_rollups_of_its_day_and_month() -> None:
    keys = stats.rollup_keys(Key(date(2026, 11, 25), "caf", "mairie-ussel"))
    assert {(k.grain, k.day.isoformat(), k.service, k.site) for k in keys} == {
        (grain, day, service, site)
        for grain, day in (("d", "2026-11-25"), ("m", "2026-11-01"))
        for service in ("caf", ALL)
        for site in ("mairie-ussel", ALL)
    }


def test_the_local_day_is_the_booths_not_utc() -> None:
    late = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)  # 00:30 on the 26th in Paris
    assert stats.local_day(late, PARIS) == date(2026, 11, 26)


def test_figures_are_means_and_rates_and_none_when_nothing_to_divide() -> None:
    counts = DayCounts()
    for add in (
        stats.joined(),
        stats.joined(),
        stats.joined(),
        stats.answered(60),
        stats.answered(180),
        stats.abandoned(),
        stats.ended(300),
        stats.ended(100),
        stats.rated(Rating.HAPPY, None),
        stats.rated(Rating.UNHAPPY, RatingReason.WAIT),
    ):
        counts.add(add)
    figures = counts.figures()
    assert (counts.offered, counts.answered, counts.abandoned) == (3, 2, 1)
    assert figures.mean_wait_s == 120
    assert counts.wait_max_s == 180
    assert figures.mean_duration_s == 200
    assert figures.abandonment_rate == pytest.approx(1 / 3)
    assert figures.satisfaction == 0.5
    assert figures.mean_rating == 2
    assert counts.reason_wait == 1
    assert DayCounts().figures().mean_wait_s is None
    assert DayCounts().figures().satisfaction is None


def test_a_csv_row_has_every_column_in_order() -> None:
    counts = DayCounts(offered=3, answered=2, wait_sum_s=100, wait_max_s=70, rating_happy=1)
    row = stats.csv_row(Key(date(2026, 11, 25), "caf", "mairie-ussel"), counts)
    assert len(row) == len(stats.CSV_COLUMNS)
    assert dict(zip(stats.CSV_COLUMNS, row, strict=True))["attente_moyenne_s"] == "50"
    assert row[:4] == ["2026-11-25", "caf", "mairie-ussel", "3"]


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'stats.sqlite3'}")
    yield database  # type: ignore[misc]
    database.close()


def _random_events(rng: random.Random, first: date, days: int) -> dict[Key, DayCounts]:
    events: dict[Key, DayCounts] = {}
    for _ in range(400):
        key = Key(
            first + timedelta(days=rng.randrange(days)),
            rng.choice(["caf", "impots", "ants"]),
            rng.choice(["site-a", "site-b", "site-c", stats.NO_SITE]),
        )
        event = rng.choice(
            [
                stats.joined(),
                stats.abandoned(),
                stats.answered(rng.randint(0, 900)),
                stats.ended(rng.randint(0, 1800)),
                stats.rated(Rating(rng.randint(1, 3)), None),
            ]
        )
        events.setdefault(key, DayCounts()).add(event)
    return events


def test_reports_read_from_rollups_equal_the_sum_of_the_detailed_rows(db: Database) -> None:
    rng = random.Random(5)  # noqa: S311 (test data, not a secret)
    first = date(2026, 1, 20)
    events = _random_events(rng, first, 120)
    # Written in several batches, as the recorder does once a second.
    items = list(events.items())
    for start in range(0, len(items), 37):
        stats_store.add_counts(db, dict(items[start : start + 37]))
    for start, end, service, site in [
        (date(2026, 1, 1), date(2026, 6, 30), None, None),  # whole months and edges
        (date(2026, 2, 10), date(2026, 3, 5), None, None),  # no whole month
        (date(2026, 2, 1), date(2026, 3, 31), "caf", None),
        (date(2026, 1, 25), date(2026, 4, 2), None, "site-b"),
        (date(2026, 1, 25), date(2026, 4, 2), "impots", "site-a"),
    ]:
        got = stats_store.report(db, start, end, service, site)
        detail = stats_store.read_rows(db, start, end, service, site)
        want = stats.build_report(start, end, detail)
        assert got.total == want.total
        assert got.by_day == want.by_day
        assert got.by_service == want.by_service
        assert got.by_site == want.by_site
    everything = stats_store.read_rows(db, date(2026, 1, 1), date(2026, 12, 31))
    assert {k: v for k, v in everything} == events


def test_counting_the_same_key_twice_adds_up_and_keeps_the_longest_wait(db: Database) -> None:
    key = Key(date(2026, 11, 25), "caf", "site-a")
    stats_store.add_counts(db, {key: stats.answered(100)})
    stats_store.add_counts(db, {key: stats.answered(40)})
    [(_, counts)] = stats_store.read_rows(db, key.day, key.day)
    assert (counts.answered, counts.wait_sum_s, counts.wait_max_s) == (2, 140, 100)
    assert stats_store.dimensions(db) == (["caf"], ["site-a"])

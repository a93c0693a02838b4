"""Service statistics: what is counted per day, service and site, and the figures
derived from the counts. Pure: no database, no clock.

The switchboard keeps one row of :class:`DayCounts` per (local day, service,
site): a year for 1,000 booths is a few hundred thousand small rows whatever
the number of calls, so every report is a sum over rows, never a scan of calls.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta, tzinfo
from enum import IntEnum, StrEnum

NO_SITE = "-"
"""Site of a booth that has none (a token booth, not enrolled on a site)."""
ALL = "*"
"""Service or site of a roll-up row: every service, or every site, together."""
DAY, MONTH = "d", "m"
"""Grains of stored rows."""


class Rating(IntEnum):
    """The three faces the citizen can tap after a call."""

    UNHAPPY = 1
    NEUTRAL = 2
    HAPPY = 3


class RatingReason(StrEnum):
    """The optional reason a citizen can tap (no free text: nothing personal is kept)."""

    WAIT = "wait"
    """Attente trop longue."""
    TECHNICAL = "technical"
    """Problème de son, d'image ou d'appareil."""
    UNCLEAR = "unclear"
    """Réponse pas claire ou démarche pas faite."""
    OTHER = "other"


@dataclass
class DayCounts:
    """What happened in one (day, service, site); every field adds up."""

    offered: int = 0
    """Citizens who joined the queue."""
    answered: int = 0
    abandoned: int = 0
    """Citizens who left the queue before an agent answered."""
    ended: int = 0
    wait_sum_s: int = 0
    """Sum of waits before answer (answered calls)."""
    wait_max_s: int = 0
    duration_sum_s: int = 0
    """Sum of call durations (ended calls)."""
    duration_max_s: int = 0
    rating_unhappy: int = 0
    rating_neutral: int = 0
    rating_happy: int = 0
    reason_wait: int = 0
    reason_technical: int = 0
    reason_unclear: int = 0
    reason_other: int = 0

    def add(self, other: DayCounts) -> None:
        """Add ``other`` into this (maxima take the larger)."""
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            setattr(self, f.name, max(mine, theirs) if f.name.endswith("_max_s") else mine + theirs)

    @property
    def ratings(self) -> int:
        return self.rating_unhappy + self.rating_neutral + self.rating_happy

    def figures(self) -> Figures:
        """Means and rates (``None`` where there is nothing to divide by)."""
        return Figures(
            mean_wait_s=_ratio(self.wait_sum_s, self.answered),
            mean_duration_s=_ratio(self.duration_sum_s, self.ended),
            abandonment_rate=_ratio(self.abandoned, self.answered + self.abandoned),
            satisfaction=_ratio(self.rating_happy, self.ratings),
            mean_rating=_ratio(
                self.rating_unhappy + 2 * self.rating_neutral + 3 * self.rating_happy,
                self.ratings,
            ),
        )


COUNT_FIELDS = tuple(f.name for f in fields(DayCounts))


@dataclass(frozen=True)
class Figures:
    mean_wait_s: float | None
    mean_duration_s: float | None
    abandonment_rate: float | None
    """Share of citizens who left before an answer, among those who were answered or left."""
    satisfaction: float | None
    """Share of happy faces among the ratings given."""
    mean_rating: float | None
    """1 (unhappy) … 3 (happy)."""


def _ratio(numerator: int, denominator: int) -> float | None:
    return None if denominator <= 0 else numerator / denominator


@dataclass(frozen=True)
class Key:
    day: date
    service: str
    site: str


@dataclass(frozen=True)
class StoredKey:
    grain: str
    day: date
    """The day, or the first day of the month for a month row."""
    service: str
    site: str


def rollup_keys(key: Key) -> list[StoredKey]:
    """The rows an event of ``key`` is added to: its own and the ``*`` roll-ups,
    each for its day and for its month."""
    month = key.day.replace(day=1)
    return [
        StoredKey(grain, when, service, site)
        for grain, when in ((DAY, key.day), (MONTH, month))
        for service in (key.service, ALL)
        for site in (key.site, ALL)
    ]


def month_end(first: date) -> date:
    """The last day of the month starting at ``first``."""
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


def split_period(start: date, end: date) -> tuple[list[date], list[tuple[date, date]]]:
    """Whole months inside ``start``…``end`` (their first days) and the day ranges
    left over at either edge, so that months + ranges cover the period once."""
    months: list[date] = []
    first = start if start.day == 1 else month_end(start.replace(day=1)) + timedelta(days=1)
    while first <= end and month_end(first) <= end:
        months.append(first)
        first = month_end(first) + timedelta(days=1)
    if not months:
        return [], [(start, end)]
    edges = []
    if start < months[0]:
        edges.append((start, months[0] - timedelta(days=1)))
    after = month_end(months[-1]) + timedelta(days=1)
    if after <= end:
        edges.append((after, end))
    return months, edges


def local_day(at: datetime, zone: tzinfo) -> date:
    """The calendar day of ``at`` (aware) where the booths are (e.g. Europe/Paris)."""
    return at.astimezone(zone).date()


# -- what each event adds ---------------------------------------------------


def joined() -> DayCounts:
    return DayCounts(offered=1)


def abandoned() -> DayCounts:
    return DayCounts(abandoned=1)


def answered(waited_s: int) -> DayCounts:
    waited = max(0, waited_s)
    return DayCounts(answered=1, wait_sum_s=waited, wait_max_s=waited)


def ended(duration_s: int) -> DayCounts:
    duration = max(0, duration_s)
    return DayCounts(ended=1, duration_sum_s=duration, duration_max_s=duration)


def rated(rating: Rating, reason: RatingReason | None) -> DayCounts:
    counts = DayCounts()
    name = {Rating.UNHAPPY: "rating_unhappy", Rating.NEUTRAL: "rating_neutral"}.get(
        rating, "rating_happy"
    )
    setattr(counts, name, 1)
    if reason is not None:
        setattr(counts, f"reason_{reason.value}", 1)
    return counts


# -- reports ---------------------------------------------------------------


@dataclass
class Report:
    """Totals over a period, by day, by service and by site."""

    start: date
    end: date
    """Inclusive."""
    total: DayCounts = field(default_factory=DayCounts)
    by_day: dict[date, DayCounts] = field(default_factory=dict)
    by_service: dict[str, DayCounts] = field(default_factory=dict)
    by_site: dict[str, DayCounts] = field(default_factory=dict)


def build_report(start: date, end: date, rows: Iterable[tuple[Key, DayCounts]]) -> Report:
    """Fold rows (already filtered to the period and any service/site) into a report.

    Every day of the period is in ``by_day``, with zeros where nothing happened,
    so charts have no holes."""
    report = Report(start, end)
    day = start
    while day <= end:
        report.by_day[day] = DayCounts()
        day = date.fromordinal(day.toordinal() + 1)
    for key, counts in rows:
        if not start <= key.day <= end:
            continue
        report.total.add(counts)
        report.by_day[key.day].add(counts)
        report.by_service.setdefault(key.service, DayCounts()).add(counts)
        report.by_site.setdefault(key.site, DayCounts()).add(counts)
    return report


CSV_COLUMNS = (
    "jour",
    "service",
    "site",
    "appels_proposes",
    "appels_repondus",
    "abandons_avant_reponse",
    "appels_termines",
    "attente_moyenne_s",
    "attente_max_s",
    "duree_moyenne_s",
    "duree_max_s",
    "avis_contents",
    "avis_neutres",
    "avis_mecontents",
    "motif_attente",
    "motif_technique",
    "motif_pas_clair",
    "motif_autre",
)


def csv_row(key: Key, counts: DayCounts) -> list[str]:
    """One CSV line (``CSV_COLUMNS``) for one (day, service, site)."""
    figures = counts.figures()

    def rounded(value: float | None) -> str:
        return "" if value is None else str(round(value))

    return [
        key.day.isoformat(),
        key.service,
        key.site,
        str(counts.offered),
        str(counts.answered),
        str(counts.abandoned),
        str(counts.ended),
        rounded(figures.mean_wait_s),
        str(counts.wait_max_s),
        rounded(figures.mean_duration_s),
        str(counts.duration_max_s),
        str(counts.rating_happy),
        str(counts.rating_neutral),
        str(counts.rating_unhappy),
        str(counts.reason_wait),
        str(counts.reason_technical),
        str(counts.reason_unclear),
        str(counts.reason_other),
    ]

"""Service statistics in the database: counts added as calls happen, reports read back.

:class:`StatsRecorder` takes the hub's events on the event loop and adds them,
batched, to ``stats_daily`` from a worker thread, so a busy database never
slows signaling. Each event lands in its own row and in the ``*`` roll-ups of
its day and month (:func:`switchboard.stats.rollup_keys`); :func:`report`
reads roll-ups, so a year of 1,000 booths is a few thousand rows to sum
(``bench/stats.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from switchboard import stats
from switchboard.db import Database, StatsDaily
from switchboard.stats import ALL, COUNT_FIELDS, DAY, MONTH, DayCounts, Key, Report, StoredKey

log = logging.getLogger(__name__)

FLUSH_EVERY_S = 1.0
"""Events are written at most this long after they happen (batched)."""


def site_lookup(db: Database) -> Callable[[str], str]:
    """``booth_id -> site`` from the enrolment records (cached; ``-`` when none)."""
    from provisioning.models import ProvisionedBooth

    cache: dict[str, str] = {}

    def site_of(booth_id: str) -> str:
        site = cache.get(booth_id)
        if site is None:
            with db.session() as session:
                found = session.scalar(
                    select(ProvisionedBooth.site).where(ProvisionedBooth.booth_id == booth_id)
                )
            site = found or stats.NO_SITE
            cache[booth_id] = site
        return site

    return site_of


# -- writing -----------------------------------------------------------------


def add_counts(db: Database, batch: dict[Key, DayCounts]) -> None:
    """Add every ``batch`` entry to its rows and roll-ups, in one transaction.

    Plain UPDATE, then INSERT when no row was there (an INSERT that loses a race
    with another server process becomes the UPDATE): the same SQL on SQLite and
    PostgreSQL."""
    stored: dict[StoredKey, DayCounts] = {}
    for key, counts in batch.items():
        for target in stats.rollup_keys(key):
            stored.setdefault(target, DayCounts()).add(counts)
    if not stored:
        return
    with db.engine.begin() as connection:
        for target, counts in stored.items():
            match = (
                StatsDaily.grain == target.grain,
                StatsDaily.day == target.day.isoformat(),
                StatsDaily.service == target.service,
                StatsDaily.site == target.site,
            )
            increments = update(StatsDaily).where(*match).values(_increments(counts))
            if connection.execute(increments).rowcount:
                continue
            row: dict[str, Any] = {
                "grain": target.grain,
                "day": target.day.isoformat(),
                "service": target.service,
                "site": target.site,
            }
            row.update({name: getattr(counts, name) for name in COUNT_FIELDS})
            try:
                with connection.begin_nested():
                    connection.execute(insert(StatsDaily).values(row))
            except IntegrityError:
                connection.execute(increments)


def _increments(counts: DayCounts) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in COUNT_FIELDS:
        column, value = getattr(StatsDaily, name), getattr(counts, name)
        if name.endswith("_max_s"):
            out[name] = case((column < value, value), else_=column)
        else:
            out[name] = column + value
    return out


# -- reading -----------------------------------------------------------------

_SUMS = [
    func.max(getattr(StatsDaily, n)) if n.endswith("_max_s") else func.sum(getattr(StatsDaily, n))
    for n in COUNT_FIELDS
]
_COLUMNS = [getattr(StatsDaily, n) for n in COUNT_FIELDS]


def _counts(values: Iterable[Any]) -> DayCounts:
    return DayCounts(**{n: int(v or 0) for n, v in zip(COUNT_FIELDS, values, strict=True)})


def _days(start: date, end: date) -> ColumnElement[bool]:
    return and_(StatsDaily.day >= start.isoformat(), StatsDaily.day <= end.isoformat())


def report(
    db: Database, start: date, end: date, service: str | None = None, site: str | None = None
) -> Report:
    """Totals of ``start``…``end`` (inclusive) by day, service and site, for every
    service and site or for the ones given."""
    result = stats.build_report(start, end, [])
    want_service, want_site = service or ALL, site or ALL
    with db.session() as session:
        by_day = select(StatsDaily.day, *_COLUMNS).where(
            StatsDaily.grain == DAY,
            StatsDaily.service == want_service,
            StatsDaily.site == want_site,
            _days(start, end),
        )
        for day, *values in session.execute(by_day):
            counts = _counts(values)
            result.by_day[date.fromisoformat(day)] = counts
            result.total.add(counts)

        if service:
            result.by_service = {service: result.total} if result.total.offered else {}
        else:
            by_service = (
                select(StatsDaily.service, *_SUMS)
                .where(
                    StatsDaily.grain == DAY,
                    StatsDaily.site == want_site,
                    StatsDaily.service != ALL,
                    _days(start, end),
                )
                .group_by(StatsDaily.service)
            )
            result.by_service = {name: _counts(v) for name, *v in session.execute(by_service)}

        if site:
            result.by_site = {site: result.total} if result.total.offered else {}
        else:
            # Whole months from month rows, the edges from day rows.
            months, edges = stats.split_period(start, end)
            spans: list[ColumnElement[bool]] = [
                and_(StatsDaily.grain == DAY, _days(first, last)) for first, last in edges
            ]
            if months:
                spans.append(
                    and_(
                        StatsDaily.grain == MONTH,
                        StatsDaily.day.in_([m.isoformat() for m in months]),
                    )
                )
            by_site = (
                select(StatsDaily.site, *_SUMS)
                .where(StatsDaily.service == want_service, StatsDaily.site != ALL, or_(*spans))
                .group_by(StatsDaily.site)
            )
            result.by_site = {name: _counts(v) for name, *v in session.execute(by_site)}
    return result


def read_rows(
    db: Database,
    start: date,
    end: date,
    service: str | None = None,
    site: str | None = None,
) -> list[tuple[Key, DayCounts]]:
    """The detailed rows (one service at one site on one day) of ``start``…``end``."""
    query = select(StatsDaily.day, StatsDaily.service, StatsDaily.site, *_COLUMNS).where(
        StatsDaily.grain == DAY,
        StatsDaily.service != ALL,
        StatsDaily.site != ALL,
        _days(start, end),
    )
    if service:
        query = query.where(StatsDaily.service == service)
    if site:
        query = query.where(StatsDaily.site == site)
    query = query.order_by(StatsDaily.day, StatsDaily.service, StatsDaily.site)
    with db.session() as session:
        return [
            (Key(date.fromisoformat(day), svc, where), _counts(values))
            for day, svc, where, *values in session.execute(query)
        ]


def dimensions(db: Database) -> tuple[list[str], list[str]]:
    """Every service and every site that has figures."""
    with db.session() as session:
        services = session.scalars(
            select(StatsDaily.service)
            .where(StatsDaily.grain == MONTH, StatsDaily.site == ALL, StatsDaily.service != ALL)
            .distinct()
        )
        sites = session.scalars(
            select(StatsDaily.site)
            .where(StatsDaily.grain == MONTH, StatsDaily.service == ALL, StatsDaily.site != ALL)
            .distinct()
        )
        return sorted(services), sorted(sites)


# -- recording ---------------------------------------------------------------


class StatsRecorder:
    """Counts the hub's events; call :meth:`start` on the loop, :meth:`stop` at the end."""

    def __init__(
        self,
        db: Database,
        zone: tzinfo,
        site_of: Callable[[str], str],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db = db
        self._zone = zone
        self._site_of = site_of
        self._clock = clock
        self._pending: list[tuple[str, str, datetime, DayCounts]] = []
        self._task: asyncio.Task[None] | None = None

    def add(self, service: str, booth_id: str, counts: DayCounts) -> None:
        """Count ``counts`` for ``service`` at ``booth_id``'s site, today (returns at once)."""
        self._pending.append((service, booth_id, self._clock(), counts))

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="stats")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        await self.flush()

    async def flush(self) -> None:
        """Write what was counted so far."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        try:
            await asyncio.to_thread(self._write, pending)
        except Exception:
            log.exception("statistics: %d events could not be written", len(pending))

    def _write(self, pending: list[tuple[str, str, datetime, DayCounts]]) -> None:
        batch: dict[Key, DayCounts] = {}
        for service, booth_id, at, counts in pending:
            key = Key(stats.local_day(at, self._zone), service, self._site_of(booth_id))
            batch.setdefault(key, DayCounts()).add(counts)
        add_counts(self._db, batch)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY_S)
            await self.flush()

"""Statistics on a year of data for a fleet: how long the admin's reports take.

Fills a fresh SQLite database (the production default) with a year of
``stats_daily`` rows for ``--booths`` booths, one site each, on weekdays, each
booth serving a few of the catalogue's services a day. Then times, through
the same functions the admin API calls, the reports an admin opens:

* the whole year, all services and sites (by day, by service, by site);
* the last 30 days (the console's default view);
* the whole year for one site;
* the CSV rows of the last 30 days.

Baseline, measured in the same run: a bare ``SELECT count(*)`` over the year's
rows (the cheapest full pass SQLite can make over them).

    .venv/bin/python bench/stats.py [--booths 1000] [--days 365] [--rounds 5]

Last line, exactly:
``stats booths=<N> rows=<n> year_report_ms=<> month_report_ms=<> site_year_ms=<>
csv_month_ms=<> count_baseline_ms=<>``
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import func, insert, select  # noqa: E402

from switchboard import stats_store  # noqa: E402
from switchboard.db import Database, StatsDaily  # noqa: E402
from switchboard.stats import COUNT_FIELDS  # noqa: E402

SERVICES = ["caf", "impots", "ants", "cpam", "france-travail", "justice"]


def fill(db: Database, booths: int, first: date, days: int, rng: random.Random) -> int:
    """Insert the rows; returns how many."""
    rows = 0
    batch: list[dict[str, object]] = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        for booth in range(booths):
            site = f"site-{booth:04d}"
            for service in rng.sample(SERVICES, rng.randint(1, 4)):
                answered = rng.randint(1, 8)
                abandoned = rng.randint(0, 2)
                rated = rng.randint(0, answered)
                happy = rng.randint(0, rated)
                row: dict[str, object] = dict.fromkeys(COUNT_FIELDS, 0)
                row.update(
                    grain="d",
                    day=day.isoformat(),
                    service=service,
                    site=site,
                    offered=answered + abandoned,
                    answered=answered,
                    abandoned=abandoned,
                    ended=answered,
                    wait_sum_s=answered * rng.randint(30, 900),
                    wait_max_s=rng.randint(60, 1800),
                    duration_sum_s=answered * rng.randint(120, 1200),
                    duration_max_s=rng.randint(300, 2400),
                    rating_happy=happy,
                    rating_neutral=rated - happy,
                )
                batch.append(row)
                rows += 1
        if len(batch) >= 20_000:
            _insert(db, batch)
            batch.clear()
    _insert(db, batch)
    _rollups(db)
    return rows


def _rollups(db: Database) -> None:
    """The ``*`` and month rows the recorder keeps up as it counts (here in SQL)."""
    sums = ", ".join(f"{'max' if n.endswith('_max_s') else 'sum'}({n})" for n in COUNT_FIELDS)
    names = ", ".join(COUNT_FIELDS)
    detail = "grain = 'd' AND service != '*' AND site != '*'"
    with db.engine.begin() as connection:
        for service, site in (("service", "'*'"), ("'*'", "site"), ("'*'", "'*'")):
            # Column names of this file only, no outside input: S608 does not apply.
            sql = (
                f"INSERT INTO stats_daily (grain, day, service, site, {names})"  # noqa: S608
                f" SELECT 'd', day, {service}, {site}, {sums} FROM stats_daily"
                f" WHERE {detail} GROUP BY day, {service}, {site}"
            )
            connection.exec_driver_sql(sql)
        sql = (
            f"INSERT INTO stats_daily (grain, day, service, site, {names})"  # noqa: S608
            f" SELECT 'm', substr(day, 1, 8) || '01', service, site, {sums} FROM stats_daily"
            " WHERE grain = 'd' GROUP BY substr(day, 1, 8), service, site"
        )
        connection.exec_driver_sql(sql)


def _insert(db: Database, batch: list[dict[str, object]]) -> None:
    if batch:
        with db.engine.begin() as connection:
            connection.execute(insert(StatsDaily), batch)


def timed(fn: Callable[[], object], rounds: int) -> float:
    """Median wall time of ``fn`` in ms over ``rounds`` runs (after one warm-up)."""
    fn()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--booths", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    rng = random.Random(20261126)  # noqa: S311 (test data, not a secret)
    last = date(2026, 11, 25)
    first = last - timedelta(days=args.days - 1)
    month = last - timedelta(days=29)
    with tempfile.TemporaryDirectory(prefix="guichet-stats-bench-") as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'guichet.sqlite3'}")
        try:
            started = time.perf_counter()
            rows = fill(db, args.booths, first, args.days, rng)
            print(f"filled {rows} rows in {time.perf_counter() - started:.1f} s", flush=True)

            def count() -> object:
                with db.session() as session:
                    return session.scalar(
                        select(func.count()).where(
                            StatsDaily.grain == "d", StatsDaily.day >= first.isoformat()
                        )
                    )

            baseline = timed(count, args.rounds)
            year = timed(lambda: stats_store.report(db, first, last), args.rounds)
            month_ms = timed(lambda: stats_store.report(db, month, last), args.rounds)
            site = timed(lambda: stats_store.report(db, first, last, site="site-0042"), args.rounds)
            csv_ms = timed(lambda: stats_store.read_rows(db, month, last), args.rounds)
            check = stats_store.report(db, first, last)
            assert check.total.answered > 0 and len(check.by_site) == args.booths
        finally:
            db.close()
    print(
        f"medians of {args.rounds}: year report {year:.0f} ms, 30-day report {month_ms:.0f} ms,"
        f" one site's year {site:.0f} ms, 30-day CSV rows {csv_ms:.0f} ms;"
        f" baseline count(*) over the year {baseline:.0f} ms"
    )
    print(
        f"stats booths={args.booths} rows={rows} year_report_ms={year:.0f}"
        f" month_report_ms={month_ms:.0f} site_year_ms={site:.0f} csv_month_ms={csv_ms:.0f}"
        f" count_baseline_ms={baseline:.0f}"
    )


if __name__ == "__main__":
    main()

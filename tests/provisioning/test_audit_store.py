"""The audit trail in a real SQLite file: concurrent writers cannot fork the chain, the
triggers still refuse changes, and a log from before the chain is chained at upgrade."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from guichet.audit_chain import GENESIS
from provisioning import audit_trail, fleet
from provisioning.models import ensure_tables
from switchboard.db import Database

WRITERS = 6
PER_WRITER = 15


def test_concurrent_writers_in_two_engines_keep_one_unbroken_chain(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'guichet.sqlite3'}"
    # Two Database objects: two engines and pools, as two server processes would have.
    first, second = Database(url), Database(url)
    ensure_tables(first)
    errors: list[BaseException] = []

    def write(db: Database, writer: int) -> None:
        try:
            for n in range(PER_WRITER):
                audit_trail.record(db, f"agent{writer}", "agent", "call.answered", f"c-{n}", {})
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [
        threading.Thread(target=write, args=(first if i % 2 else second, i)) for i in range(WRITERS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    verdict = audit_trail.verify_engine(first.engine)
    assert verdict.broken is None
    assert [e.seq for e in verdict.entries] == list(range(1, WRITERS * PER_WRITER + 1))
    assert verdict.head.seq == WRITERS * PER_WRITER
    first.close()
    second.close()


def test_the_database_refuses_to_change_an_entry_or_fork_the_chain(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'guichet.sqlite3'}")
    fleet.record(db, fleet.Actor("ada", "admin"), "login", "ada", None, None)
    fleet.record(db, fleet.Actor("ada", "admin"), "code.create", "florac", None, {"x": 1})
    with db.engine.connect() as conn:
        for statement in (
            "UPDATE audit_log SET actor = 'mallory'",
            "DELETE FROM audit_log",
            "DELETE FROM audit_head",
            "UPDATE audit_head SET seq = 0",
        ):
            with pytest.raises(DBAPIError):
                conn.execute(text(statement))
            conn.rollback()
        # A second entry hanging off the same predecessor (a fork) is refused.
        with pytest.raises(DBAPIError):
            conn.execute(
                text(
                    "INSERT INTO audit_log (seq, at, actor, role, action, target, prev_hash, hash)"
                    " SELECT 3, at, 'x', 'admin', 'login', 'x', prev_hash, :h FROM audit_log"
                    " WHERE seq = 2"
                ),
                {"h": "f" * 64},
            )
        conn.rollback()
    assert audit_trail.verify_engine(db.engine).broken is None
    db.close()


def test_an_audit_log_from_before_the_chain_is_chained_at_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "guichet.sqlite3"
    with sqlite3.connect(path) as conn:
        # The table and triggers exactly as the fleet branch created them.
        conn.executescript(
            """
            CREATE TABLE audit_log (
                id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, at DATETIME NOT NULL,
                actor VARCHAR(80) NOT NULL, role VARCHAR(16) NOT NULL,
                action VARCHAR(40) NOT NULL, target VARCHAR(120) NOT NULL,
                before JSON, after JSON);
            CREATE TRIGGER audit_log_no_UPDATE BEFORE UPDATE ON audit_log
                BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
            CREATE TRIGGER audit_log_no_DELETE BEFORE DELETE ON audit_log
                BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
            INSERT INTO audit_log (at, actor, role, action, target, before, after) VALUES
                ('2026-11-20 09:00:00.000000', 'ada', 'admin', 'login', 'ada', 'null', 'null'),
                ('2026-11-20 09:01:00.500000', 'ada', 'admin', 'config.set', 'fleet',
                 '{"volume": 50}', '{"volume": 65}');
            """
        )
    conn.close()
    db = Database(f"sqlite:///{path}")
    fleet.record(db, fleet.Actor("ada", "admin"), "login", "ada", None, None)
    verdict = audit_trail.verify_engine(db.engine)
    assert verdict.broken is None
    assert [(e.seq, e.action) for e in verdict.entries] == [
        (1, "login"),
        (2, "config.set"),
        (3, "login"),
    ]
    assert verdict.entries[0].prev_hash == GENESIS
    assert verdict.entries[1].details == {"before": {"volume": 50}, "after": {"volume": 65}}
    assert verdict.entries[1].time == "2026-11-20T09:01:00.500000Z"
    with db.engine.connect() as conn, pytest.raises(DBAPIError):
        conn.execute(text("DELETE FROM audit_log"))
    db.close()
    # Checking opens the file without creating or upgrading anything.
    engine = create_engine(f"sqlite:///{path}")
    assert audit_trail.verify_engine(engine).broken is None
    engine.dispose()

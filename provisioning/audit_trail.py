"""The audit trail in the database: one hash chain (:mod:`guichet.audit_chain`) for what
staff did (admins, technicians, the CLI) and what agents did in citizens' calls.

Every entry goes through :func:`append`, which first locks the head row (an ``UPDATE`` of
``audit_head``): writers, in any thread or process, take turns, and each entry's
``prev_hash`` is the hash of the one committed before it. ``seq``, ``prev_hash`` and
``hash`` are also unique in the table, so even a writer that skipped the lock could not
fork the chain: its insert would fail. Blocking (SQLAlchemy): callers on the event loop
use a thread.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import select, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from guichet.audit_chain import (
    GENESIS,
    Broken,
    ChainFormatError,
    Entry,
    Head,
    entry_from_json,
    format_time,
    make_entry,
    verify,
)
from provisioning.models import AuditEntry, AuditHead, ensure_tables
from switchboard.db import Base, Database

log = logging.getLogger(__name__)

ACTOR_MAX = 80
TARGET_MAX = 120


def append(
    session: Session,
    actor: str,
    role: str,
    action: str,
    target: str,
    before: Any,
    after: Any,
    *,
    now: datetime | None = None,
) -> Entry:
    """Append one entry in the caller's transaction (committed with the caller's change)."""
    # The UPDATE is the lock: SQLite takes its write lock, PostgreSQL locks the row, and
    # any other writer waits here until this transaction ends.
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq))
    head_row = session.get(AuditHead, 1, populate_existing=True)
    if head_row is None:  # pragma: no cover - the row is created with the table
        raise RuntimeError("audit_head has no row: the audit tables were not created")
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    entry = make_entry(
        Head(head_row.seq, head_row.hash),
        moment,
        actor[:ACTOR_MAX],
        role,
        action,
        target[:TARGET_MAX],
        {"before": before, "after": after},
    )
    session.add(
        AuditEntry(
            seq=entry.seq,
            at=moment,
            actor=entry.actor,
            role=entry.role,
            action=entry.action,
            target=entry.target,
            before=entry.details["before"],
            after=entry.details["after"],
            prev_hash=entry.prev_hash,
            hash=entry.hash,
        )
    )
    head_row.seq = entry.seq
    head_row.hash = entry.hash
    session.flush()
    return entry


def record(db: Database, actor: str, role: str, action: str, target: str, details: Any) -> Entry:
    """Append one entry on its own transaction (``details`` goes in ``after``)."""
    ensure_tables(db)
    with db.session() as session, session.begin():
        return append(session, actor, role, action, target, None, details)


def as_entry(row: AuditEntry) -> Entry:
    """A stored row as the chain hashes it."""
    return Entry(
        seq=row.seq,
        time=format_time(row.at),
        actor=row.actor,
        role=row.role,
        action=row.action,
        target=row.target,
        details={"before": row.before, "after": row.after},
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def entries(db: Database, batch: int = 500) -> Iterator[Entry]:
    """Every entry in stored order (by row id), read in batches."""
    ensure_tables(db)
    return read_entries(db.engine, batch)


def read_entries(engine: Engine, batch: int = 500) -> Iterator[Entry]:
    """Every entry in stored order, without creating or upgrading anything (for checks)."""
    last_id = 0
    while True:
        with Session(engine) as session:
            rows = list(
                session.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.id > last_id)
                    .order_by(AuditEntry.id)
                    .limit(batch)
                )
            )
        if not rows:
            return
        for row in rows:
            yield as_entry(row)
        last_id = rows[-1].id


def head(db: Database) -> Head:
    """The head row: the last entry's ``seq`` and ``hash`` as the writers left them."""
    ensure_tables(db)
    return read_head(db.engine) or Head(0, GENESIS)


def read_head(engine: Engine) -> Head | None:
    """The head row, or None if there is none, without creating anything."""
    with Session(engine) as session:
        row = session.get(AuditHead, 1)
        return None if row is None else Head(row.seq, row.hash)


@dataclass(frozen=True)
class Verdict:
    """What verification found: the entries read, the head, the first break if any."""

    entries: list[Entry]
    head: Head
    broken: Broken | None


def verify_engine(engine: Engine) -> Verdict:
    """Walk the whole chain of this database and compare its end with the head row
    (read only: nothing is created or upgraded)."""
    stored_head = read_head(engine)
    listed = list(read_entries(engine))
    last = Head(listed[-1].seq, listed[-1].hash) if listed else Head(0, GENESIS)
    if stored_head is None:
        return Verdict(listed, last, Broken(1, "truncated", "the audit_head row is missing"))
    return Verdict(listed, stored_head, verify(listed, stored_head))


def compare_with_earlier(current: list[Entry], earlier: list[Entry]) -> Broken | None:
    """Every entry of an earlier export must still be there, unchanged: this catches a
    chain rewritten (and re-hashed) or cut short since that export was taken."""
    by_seq = {entry.seq: entry for entry in current}
    for old in earlier:
        now = by_seq.get(old.seq)
        if now is None:
            return Broken(old.seq, "truncated", "in the earlier export but gone now")
        if now.hash != old.hash:
            return Broken(old.seq, "rewritten", "differs from the earlier export (rewritten)")
    return None


def export(db: Database, out: TextIO) -> Head:
    """Write every entry as one JSON object per line (with its hashes); the head."""
    last = Head(0, GENESIS)
    for entry in entries(db):
        out.write(json.dumps(entry.to_json(), ensure_ascii=False, separators=(",", ":")) + "\n")
        last = Head(entry.seq, entry.hash)
    return last


def read_export(path: Path) -> list[Entry]:
    """Entries of an export file; :class:`ChainFormatError` names the bad line."""
    found = []
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ChainFormatError(f"line {number}: not UTF-8 text") from exc
            try:
                found.append(entry_from_json(json.loads(line)))
            except (ValueError, ChainFormatError) as exc:
                raise ChainFormatError(f"line {number}: {exc}") from exc
            except RecursionError as exc:  # "[[[[..." blows the stack of json.loads
                raise ChainFormatError(f"line {number}: nested too deeply") from exc
    return found


def chain_unchained_log(connection: Connection) -> int:
    """Bring an ``audit_log`` from before the chain into it (once, at upgrade).

    Its rows are re-written, in order, as the first entries of the chain: from then on
    the chain vouches for them; what happened to them before cannot be proven.
    """
    columns = {
        row[1] for row in connection.execute(text("PRAGMA table_info(audit_log)")).fetchall()
    }
    if not columns or "hash" in columns:
        return 0
    old = connection.execute(
        text("SELECT at, actor, role, action, target, before, after FROM audit_log ORDER BY id")
    ).fetchall()
    for op in ("UPDATE", "DELETE"):
        connection.execute(text(f"DROP TRIGGER IF EXISTS audit_log_no_{op}"))
    connection.execute(text("DROP TABLE audit_log"))
    Base.metadata.create_all(connection, tables=[Base.metadata.tables["audit_log"]])
    if connection.execute(text("SELECT count(*) FROM audit_head")).scalar_one() == 0:
        connection.execute(
            text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, :g)"), {"g": GENESIS}
        )
    with Session(bind=connection) as session:
        for at, actor, role, action, target, before, after in old:
            moment = datetime.fromisoformat(at) if isinstance(at, str) else at
            append(
                session,
                actor,
                role,
                action,
                target,
                json.loads(before) if before is not None else None,
                json.loads(after) if after is not None else None,
                now=moment.replace(tzinfo=moment.tzinfo or UTC),
            )
        session.flush()
    log.warning("audit_log from before the hash chain: %d entries chained now", len(old))
    return len(old)

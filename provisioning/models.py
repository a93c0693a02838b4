"""Provisioning tables, in the switchboard's database (same ``Base``, same file)."""

from __future__ import annotations

import weakref
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, String, Text, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Mapped, mapped_column

from guichet.audit_chain import GENESIS
from switchboard.db import Base, Database


class EnrolmentCode(Base):
    """A one-time code binding the next booth enrolled with it to a site; stored hashed."""

    __tablename__ = "enrolment_code"
    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    site: Mapped[str] = mapped_column(String(40), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    booth_id: Mapped[str | None] = mapped_column(String(64), default=None)


class ProvisionedBooth(Base):
    """An enrolled booth: its public key, its config and the last bundle signed for it."""

    __tablename__ = "provisioned_booth"
    booth_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    site: Mapped[str] = mapped_column(String(40), index=True)
    public_key: Mapped[str] = mapped_column(String(44), unique=True)
    enrolled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    bundle_version: Mapped[int] = mapped_column(Integer, default=0)
    bundle: Mapped[str | None] = mapped_column(Text, default=None)
    """The signed bundle last issued (re-sent until the config changes or it ages)."""
    bundle_expires_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), default=None
    )


class BundleRejection(Base):
    """The last bundle a booth refused or rolled back, as the booth reported it."""

    __tablename__ = "bundle_rejection"
    booth_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int | None] = mapped_column(Integer, default=None)
    code: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(500))
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class BoothMembership(Base):
    """The optional groups of a booth (its site comes from enrolment)."""

    __tablename__ = "booth_membership"
    booth_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    enrolled_url: Mapped[str] = mapped_column(String(300))
    """The switchboard URL the booth enrolled with: the base its config layers go on."""


class BoothHeartbeat(Base):
    """One heartbeat as received; the newest :data:`HISTORY_LIMIT` per booth are kept."""

    __tablename__ = "booth_heartbeat"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    booth_id: Mapped[str] = mapped_column(String(64), index=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


class BoothLiveState(Base):
    """The latest heartbeat of a booth, one row each: the fleet page reads only this."""

    __tablename__ = "booth_live_state"
    booth_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    interval_s: Mapped[float] = mapped_column(Float)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


class ConfigLayer(Base):
    """Config values set at one level: ``fleet`` (target ""), ``group``, ``site`` or ``booth``."""

    __tablename__ = "config_layer"
    scope: Mapped[str] = mapped_column(String(8), primary_key=True)
    target: Mapped[str] = mapped_column(String(64), primary_key=True)
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Dotted keys (``volume``, ``branding.name``) to values."""


class Rollout(Base):
    """A config change, applied to a canary group first and to the rest later."""

    __tablename__ = "config_rollout"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(8))
    target: Mapped[str] = mapped_column(String(64))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)
    """``{"set": {key: value}, "unset": [key]}``"""
    canary_group: Mapped[str] = mapped_column(String(64))
    rest_after: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    """When the rest follows without approval (None: only on approval)."""
    state: Mapped[str] = mapped_column(String(12))
    """``canary`` (only the canary group has it) or ``complete``."""
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    completed_by: Mapped[str | None] = mapped_column(String(64), default=None)


class AuditEntry(Base):
    """Who did what, when, with the state before and after. Append-only and hash-chained
    (:mod:`guichet.audit_chain`; written only through :mod:`provisioning.audit_trail`)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    """Position in the chain, from 1; the hash covers it."""
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(120))
    before: Mapped[Any] = mapped_column(JSON, nullable=True)
    after: Mapped[Any] = mapped_column(JSON, nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    """The previous entry's hash: unique, so two writers can never fork the chain."""
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """One row: the chain's last ``seq`` and ``hash``. Writers lock it (an ``UPDATE``)
    before appending, which serialises them; verification compares it with the last entry."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


_APPEND_ONLY = (
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_{op} BEFORE {op} ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
)


@event.listens_for(AuditEntry.__table__, "after_create")
def _audit_append_only(target: Any, connection: Connection, **_: Any) -> None:
    # The database itself refuses to change or delete an audit entry (SQLite triggers);
    # on PostgreSQL the same is done by granting the server's role INSERT and SELECT only.
    if connection.dialect.name == "sqlite":
        for op in ("UPDATE", "DELETE"):
            connection.execute(text(_APPEND_ONLY.format(op=op)))


@event.listens_for(AuditHead.__table__, "after_create")
def _audit_head_row(target: Any, connection: Connection, **_: Any) -> None:
    connection.execute(
        text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, :genesis)"), {"genesis": GENESIS}
    )
    if connection.dialect.name == "sqlite":
        # The head only moves forward and is never deleted.
        connection.execute(
            text(
                "CREATE TRIGGER IF NOT EXISTS audit_head_forward BEFORE UPDATE ON audit_head "
                "WHEN NEW.seq < OLD.seq BEGIN SELECT RAISE(ABORT, 'audit_head only moves "
                "forward'); END"
            )
        )
        connection.execute(
            text(
                "CREATE TRIGGER IF NOT EXISTS audit_head_no_DELETE BEFORE DELETE ON audit_head "
                "BEGIN SELECT RAISE(ABORT, 'audit_head is kept'); END"
            )
        )


TABLES = (
    "enrolment_code",
    "provisioned_booth",
    "bundle_rejection",
    "booth_membership",
    "booth_heartbeat",
    "booth_live_state",
    "config_layer",
    "config_rollout",
    "audit_log",
    "audit_head",
)


_UPGRADED: weakref.WeakSet[Engine] = weakref.WeakSet()
"""Engines whose audit log was checked for an upgrade to the hash chain."""


def ensure_tables(db: Database) -> None:
    """Create the provisioning tables if this database predates them (and chain an audit
    log written before the hash chain existed)."""
    tables = [Base.metadata.tables[name] for name in TABLES]
    Base.metadata.create_all(db.engine, tables=tables)
    if db.engine in _UPGRADED:
        return
    if db.engine.dialect.name == "sqlite":
        from provisioning.audit_trail import chain_unchained_log  # imports this module

        with db.engine.begin() as connection:
            chain_unchained_log(connection)
    _UPGRADED.add(db.engine)

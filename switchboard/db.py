"""SQLAlchemy models (accounts, agent sessions, booth credentials, webhooks, statistics)
and the database handle."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Text,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker


class Base(DeclarativeBase):
    pass


class Agent(Base):
    """A person who answers citizens, allowed for some services."""

    __tablename__ = "agent"
    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(300))
    services: Mapped[list[str]] = mapped_column(JSON, default=list)
    role: Mapped[str] = mapped_column(String(16), default="agent", server_default="agent")
    """``agent`` (answers its services) or ``supervisor`` (watches them, read-only)."""


class StaffAccount(Base):
    """An admin or a field technician: signs in to ``/admin/``, never to the agent console."""

    __tablename__ = "staff_account"
    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(16))
    """``admin`` or ``technician`` (see :class:`switchboard.auth.StaffRole`)."""


class BoothCredential(Base):
    """A booth's bearer token, stored only as its SHA-256."""

    __tablename__ = "booth_credential"
    booth_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=lambda: datetime.now(UTC)
    )
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class WebhookDelivery(Base):
    """One event to send to one webhook target, kept until delivered or given up.

    Stored before the first try, so a switchboard restart loses no event."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    """Same on every retry (``Guichet-Delivery`` header): receivers drop duplicates."""
    target: Mapped[str] = mapped_column(String(64), index=True)
    event: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    """The JSON sent, fixed at creation (its signature is made at each try)."""
    created_at: Mapped[float] = mapped_column(Float)
    """Unix seconds (as are the other times of this table)."""
    status: Mapped[str] = mapped_column(String(12), index=True, default="pending")
    """``pending``, ``delivered`` or ``failed`` (given up after the last try)."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Float, index=True)
    last_error: Mapped[str] = mapped_column(String(300), default="")
    delivered_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class IntegrationKey(Base):
    """An integrator's API key (bearer token), stored only as its SHA-256, with scopes."""

    __tablename__ = "integration_key"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=lambda: datetime.now(UTC)
    )
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class IntegrationEvent(Base):
    """An event given to integrators (webhooks and ``GET /api/v1/integration/events``),
    kept ``events_retention_days``."""

    __tablename__ = "integration_event"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    """Increasing: a reader asks for the events after the last ``seq`` it saw."""
    event_id: Mapped[str] = mapped_column(String(32), unique=True)
    type: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[float] = mapped_column(Float, index=True)
    body: Mapped[str] = mapped_column(Text)
    """The JSON object webhooks send (``id``, ``type``, ``occurred_at``, ``data``)."""


class StatsDaily(Base):
    """Counts of one (day or month, service, site): see :class:`switchboard.stats.DayCounts`.

    Each event is added to the row of its service and site and to the rows of
    "every service" and "every site" (``*``), for its day and for its month: a
    report then reads a few hundred rows, not every booth's day."""

    __tablename__ = "stats_daily"
    __table_args__ = (
        # Reports ask for one service (or ``*``) and one site (or ``*``) over days.
        Index("ix_stats_service_site_day", "grain", "service", "site", "day"),
        Index("ix_stats_site_service_day", "grain", "site", "service", "day"),
    )

    grain: Mapped[str] = mapped_column(String(1), primary_key=True)
    """``d``: ``day`` is one day; ``m``: ``day`` is the first day of a month whose
    whole counts the row holds (long reports read months, not days)."""
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    """ISO date in the booths' time zone."""
    service: Mapped[str] = mapped_column(String(64), primary_key=True)
    """A service id, or ``*``: every service together."""
    site: Mapped[str] = mapped_column(String(40), primary_key=True)
    """A site, or ``*``: every site together."""
    offered: Mapped[int] = mapped_column(Integer, default=0)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    abandoned: Mapped[int] = mapped_column(Integer, default=0)
    ended: Mapped[int] = mapped_column(Integer, default=0)
    wait_sum_s: Mapped[int] = mapped_column(Integer, default=0)
    wait_max_s: Mapped[int] = mapped_column(Integer, default=0)
    duration_sum_s: Mapped[int] = mapped_column(Integer, default=0)
    duration_max_s: Mapped[int] = mapped_column(Integer, default=0)
    rating_unhappy: Mapped[int] = mapped_column(Integer, default=0)
    rating_neutral: Mapped[int] = mapped_column(Integer, default=0)
    rating_happy: Mapped[int] = mapped_column(Integer, default=0)
    reason_wait: Mapped[int] = mapped_column(Integer, default=0)
    reason_technical: Mapped[int] = mapped_column(Integer, default=0)
    reason_unclear: Mapped[int] = mapped_column(Integer, default=0)
    reason_other: Mapped[int] = mapped_column(Integer, default=0)


class AgentSession(Base):
    """A signed-in agent console, stored only as its token's SHA-256: a restarted
    switchboard still knows it, so consoles reconnect by themselves."""

    __tablename__ = "agent_session"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[float] = mapped_column(Float, default=0.0)
    expires_at: Mapped[float] = mapped_column(Float)
    """Unix time (wall clock: it must mean the same after a restart)."""
    identity: Mapped[str | None] = mapped_column(Text, nullable=True)
    """For a sign-in through OpenID Connect: the roles and services the provider gave
    (JSON of ``AgentInfo``); ``None`` for a local account."""
    oidc: Mapped[bool] = mapped_column(Boolean, default=False)


class Database:
    """Engine + session factory; tables are created on open."""

    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///"):
            _create_private_file(Path(url.removeprefix("sqlite:///")))
        # The server uses the database from the event loop and from FastAPI's threads.
        connect_args = {"check_same_thread": False} if url.startswith("sqlite") else {}
        self.engine: Engine = create_engine(url, connect_args=connect_args)
        if url.startswith("sqlite:///") and ":memory:" not in url:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        Base.metadata.create_all(self.engine)
        _add_missing_columns(self.engine)

    def session(self) -> Session:
        return self._sessions()

    def close(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL: readers never wait for the writer, and a commit appends to the log instead of
    # rewriting pages with two fsyncs; NORMAL syncs at checkpoints (durable against a
    # process crash, may lose the last commits on power loss). Measured by bench/fleet.py:
    # a fleet's heartbeats and bundle fetches are many small writes.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _create_private_file(path: Path) -> None:
    """Create the SQLite file 0600 (and its folder 0700) before SQLite creates it 0644."""
    if str(path) in ("", ":memory:"):
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


_ADDED_COLUMNS = {"agent": {"role": "VARCHAR(16) NOT NULL DEFAULT 'agent'"}}
"""Columns added after the first release: a database made before them gets them on open."""


def _add_missing_columns(engine: Engine) -> None:
    inspector = inspect(engine)
    for table, columns in _ADDED_COLUMNS.items():
        have = {c["name"] for c in inspector.get_columns(table)}
        for name, ddl in columns.items():
            if name not in have:
                with engine.begin() as conn:
                    conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {name} {ddl}"))

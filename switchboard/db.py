"""SQLAlchemy models (agents, staff, booth credentials, agent sessions) and the database."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, String, create_engine, event
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


class AgentSession(Base):
    """A signed-in agent console, stored only as its token's SHA-256: a restarted
    switchboard still knows it, so consoles reconnect by themselves."""

    __tablename__ = "agent_session"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    expires_at: Mapped[float] = mapped_column(Float)
    """Unix time (wall clock: it must mean the same after a restart)."""


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

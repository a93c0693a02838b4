"""Provisioning tables, in the switchboard's database (same ``Base``, same file)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

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


def ensure_tables(db: Database) -> None:
    """Create the provisioning tables if this database predates them."""
    names = ("enrolment_code", "provisioned_booth", "bundle_rejection")
    tables = [Base.metadata.tables[name] for name in names]
    Base.metadata.create_all(db.engine, tables=tables)

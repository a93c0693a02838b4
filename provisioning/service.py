"""Server-side provisioning operations on the database: codes, enrolment, fleet, bundles."""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select, update

from provisioning.bundle import DEFAULT_LIFETIME, sign_bundle
from provisioning.keys import KeyFileError, key_id, public_from_b64
from provisioning.messages import (
    BundleRejectionPublic,
    BundleReport,
    FleetBooth,
    RefusalCode,
    SiteId,
)
from provisioning.models import BundleRejection, EnrolmentCode, ProvisionedBooth, ensure_tables
from provisioning.schema import BoothConfig
from switchboard.db import Database

log = logging.getLogger(__name__)

DEFAULT_CODE_TTL = timedelta(hours=24)
MAX_CODE_TTL = timedelta(days=30)
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
"""No I, L, O, 0 or 1: a code is read aloud and typed on a touch screen."""
CODE_LENGTH = 16
"""16 of 31 symbols: 79 bits, far beyond guessing within a code's lifetime."""
REISSUE_BEFORE = DEFAULT_LIFETIME / 2
"""A stored bundle closer than this to its expiry is replaced by a new version."""
LAST_SEEN_RESOLUTION = timedelta(seconds=60)
"""``last_seen_at`` is written at most this often by bundle fetches (heartbeats write it too)."""
_SITE = TypeAdapter(SiteId)


class ProvisioningError(Exception):
    """A provisioning operation refused, with a code and a reason for people."""

    def __init__(self, code: RefusalCode, reason: str) -> None:
        super().__init__(f"{code.value}: {reason}")
        self.code = code
        self.reason = reason


class UnknownBooth(LookupError):
    """No enrolled booth with that id."""


@dataclass(frozen=True)
class IssuedCode:
    code: str
    """The code as shown to the technician (``ABCD-EFGH-JKMN-PQRS``), never stored."""
    site: str
    expires_at: datetime


@dataclass(frozen=True)
class BoothKey:
    """What the request check needs of a booth."""

    booth_id: str
    site: str
    public_key: str
    revoked: bool


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes even for timezone-aware columns.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def normalise_code(code: str) -> str:
    """Upper-case, without spaces or dashes: how a typed code is compared."""
    return "".join(c for c in code.upper() if c not in " -\t")


def code_hash(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


def create_code(
    db: Database, site: str, ttl: timedelta = DEFAULT_CODE_TTL, *, now: datetime | None = None
) -> IssuedCode:
    """A new single-use enrolment code for ``site``; only its hash is stored."""
    try:
        _SITE.validate_python(site)
    except ValidationError as exc:
        raise ValueError(f"site {site!r}: use lower-case letters, digits and dashes") from exc
    if not timedelta(0) < ttl <= MAX_CODE_TTL:
        raise ValueError(f"a code must live more than 0 and at most {MAX_CODE_TTL.days} days")
    ensure_tables(db)
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    created = now or datetime.now(UTC)
    with db.session() as session, session.begin():
        session.add(
            EnrolmentCode(
                code_hash=code_hash(raw), site=site, created_at=created, expires_at=created + ttl
            )
        )
    shown = "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))
    return IssuedCode(shown, site, created + ttl)


def enrol(
    db: Database,
    code: str,
    site: str,
    public_key: str,
    default_config: BoothConfig,
    *,
    now: datetime | None = None,
) -> str:
    """Spend ``code`` to enrol a booth holding ``public_key`` at ``site``; return its id."""
    try:
        public_from_b64(public_key)
    except KeyFileError as exc:
        raise ProvisioningError(RefusalCode.BAD_KEY, str(exc)) from exc
    moment = now or datetime.now(UTC)
    hashed = code_hash(code)
    with db.session() as session, session.begin():
        row = session.get(EnrolmentCode, hashed)
        if row is None:
            raise ProvisioningError(RefusalCode.UNKNOWN_CODE, "no such enrolment code")
        if row.used_at is not None:
            raise ProvisioningError(RefusalCode.CODE_USED, "this code was already used")
        if _utc(row.expires_at) <= moment:
            raise ProvisioningError(RefusalCode.CODE_EXPIRED, "this code has expired")
        if row.site != site:
            raise ProvisioningError(RefusalCode.WRONG_SITE, f"this code is not for site {site!r}")
        taken = session.scalars(
            select(ProvisionedBooth.booth_id).where(ProvisionedBooth.public_key == public_key)
        ).first()
        if taken is not None:
            raise ProvisioningError(RefusalCode.KEY_IN_USE, "this key is already enrolled")
        booth_id = f"{site}-{secrets.token_hex(3)}"
        while session.get(ProvisionedBooth, booth_id) is not None:
            booth_id = f"{site}-{secrets.token_hex(3)}"
        # Conditional update: of two booths racing with one code, exactly one wins.
        spent = session.execute(
            update(EnrolmentCode)
            .where(EnrolmentCode.code_hash == hashed, EnrolmentCode.used_at.is_(None))
            .values(used_at=moment, booth_id=booth_id)
        )
        if getattr(spent, "rowcount", 0) != 1:
            raise ProvisioningError(RefusalCode.CODE_USED, "this code was already used")
        session.add(
            ProvisionedBooth(
                booth_id=booth_id,
                site=site,
                public_key=public_key,
                enrolled_at=moment,
                config=default_config.model_dump(mode="json"),
            )
        )
    log.info("booth %s enrolled at site %s", booth_id, site)
    return booth_id


def booth_key(db: Database, booth_id: str) -> BoothKey | None:
    """The booth's public key and state, for checking its requests."""
    with db.session() as session:
        row = session.get(ProvisionedBooth, booth_id)
        if row is None:
            return None
        return BoothKey(row.booth_id, row.site, row.public_key, row.revoked)


def revoke(db: Database, booth_id: str, *, now: datetime | None = None) -> None:
    """Refuse every later request of this booth (its key is kept for the audit trail)."""
    with db.session() as session, session.begin():
        row = session.get(ProvisionedBooth, booth_id)
        if row is None:
            raise UnknownBooth(booth_id)
        if not row.revoked:
            row.revoked = True
            row.revoked_at = now or datetime.now(UTC)
    log.info("booth %s revoked", booth_id)


def fleet(db: Database) -> list[FleetBooth]:
    """Every enrolled booth, revoked ones included, by site then id."""
    ensure_tables(db)
    with db.session() as session:
        rejections = {r.booth_id: r for r in session.scalars(select(BundleRejection))}
        rows = session.scalars(
            select(ProvisionedBooth).order_by(ProvisionedBooth.site, ProvisionedBooth.booth_id)
        )
        return [
            FleetBooth(
                booth_id=r.booth_id,
                site=r.site,
                key_id=key_id(public_from_b64(r.public_key)),
                enrolled_at=_utc(r.enrolled_at),
                last_seen_at=_utc(r.last_seen_at) if r.last_seen_at else None,
                bundle_version=r.bundle_version,
                revoked=r.revoked,
                last_rejection=_rejection_public(rejections.get(r.booth_id)),
            )
            for r in rows
        ]


def _rejection_public(row: BundleRejection | None) -> BundleRejectionPublic | None:
    if row is None:
        return None
    return BundleRejectionPublic(
        version=row.version, code=row.code, reason=row.reason, reported_at=_utc(row.reported_at)
    )


def record_rejection(
    db: Database, booth_id: str, report: BundleReport, *, now: datetime | None = None
) -> None:
    """Keep the booth's report of a refused bundle (only the last one per booth)."""
    moment = now or datetime.now(UTC)
    with db.session() as session, session.begin():
        if session.get(ProvisionedBooth, booth_id) is None:
            raise UnknownBooth(booth_id)
        row = session.get(BundleRejection, booth_id)
        if row is None:
            row = BundleRejection(booth_id=booth_id)
            session.add(row)
        row.version = report.version
        row.code = report.code
        row.reason = report.reason
        row.reported_at = moment
    log.warning(
        "booth %s refused config version %s: %s (%s)",
        booth_id,
        report.version,
        report.code,
        report.reason[:200],
    )


def last_rejection(db: Database, booth_id: str) -> BundleRejectionPublic | None:
    """The last refusal the booth reported, if any."""
    with db.session() as session:
        return _rejection_public(session.get(BundleRejection, booth_id))


def revoked(db: Database, booth_ids: list[str]) -> list[str]:
    """Those of these booths that are revoked (the switchboard closes their sockets)."""
    if not booth_ids:
        return []
    with db.session() as session:
        return list(
            session.scalars(
                select(ProvisionedBooth.booth_id).where(
                    ProvisionedBooth.booth_id.in_(booth_ids), ProvisionedBooth.revoked.is_(True)
                )
            )
        )


def set_config(db: Database, booth_id: str, config: BoothConfig) -> None:
    """Give a booth a new config: its next fetch gets a new, higher version.

    Low level: nothing is signed now, so nothing is pushed; the booth learns it from its
    next heartbeat's answer or poll. Admins change configs through layers
    (:func:`provisioning.fleet.change_config`), which sign at once and are pushed."""
    with db.session() as session, session.begin():
        row = session.get(ProvisionedBooth, booth_id)
        if row is None:
            raise UnknownBooth(booth_id)
        row.config = config.model_dump(mode="json")
        row.bundle = None


def bundle_for(
    db: Database, key: Ed25519PrivateKey, booth_id: str, *, now: datetime | None = None
) -> bytes:
    """The booth's signed bundle: the stored one, or a new version if none or ageing."""
    return bundle_and_version(db, key, booth_id, now=now)[0]


def bundle_and_version(
    db: Database, key: Ed25519PrivateKey, booth_id: str, *, now: datetime | None = None
) -> tuple[bytes, int]:
    """:func:`bundle_for` with the bundle's version."""
    moment = now or datetime.now(UTC)
    # Read first: a fleet fetching after a push must not queue up behind SQLite's one writer
    # just to move ``last_seen_at`` by a few seconds.
    with db.session() as session:
        row = session.get(ProvisionedBooth, booth_id)
        if (
            row is not None
            and row.bundle is not None
            and row.bundle_expires_at is not None
            and _utc(row.bundle_expires_at) - moment > REISSUE_BEFORE
            and row.last_seen_at is not None
            and moment - _utc(row.last_seen_at) < LAST_SEEN_RESOLUTION
        ):
            return row.bundle.encode("utf-8"), row.bundle_version
    with db.session() as session, session.begin():
        row = session.get(ProvisionedBooth, booth_id)
        if row is None:
            raise UnknownBooth(booth_id)
        row.last_seen_at = moment
        fresh = (
            row.bundle is not None
            and row.bundle_expires_at is not None
            and _utc(row.bundle_expires_at) - moment > REISSUE_BEFORE
        )
        if fresh and row.bundle is not None:
            return row.bundle.encode("utf-8"), row.bundle_version
        config = BoothConfig.model_validate(row.config)
        version = row.bundle_version + 1
        data = sign_bundle(key, booth_id, version, config, issued_at=moment)
        row.bundle_version = version
        row.bundle = data.decode("utf-8")
        row.bundle_expires_at = moment.replace(microsecond=0) + DEFAULT_LIFETIME
        return data, version

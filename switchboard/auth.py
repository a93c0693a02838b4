"""Console (agent, supervisor) and staff (admin, technician) passwords (scrypt), sessions,
booth tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import delete, select

from guichet.wire import AgentInfo, ConsoleRole
from switchboard.db import Agent, AgentSession, BoothCredential, Database, StaffAccount

SESSION_COOKIE = "guichet_session"
STAFF_COOKIE = "guichet_admin"
"""Admin console sessions: a separate cookie and store, so an agent session opens nothing."""
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
_SCRYPT_MAXMEM = 64 * 1024 * 1024
USERNAME_RE = re.compile(r"^[a-z0-9_.-]{1,64}$")


class AuthError(ValueError):
    """An account or token operation that cannot be done."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    """A salted scrypt hash: ``scrypt$n$r$p$salt$hash`` (base64)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=_SCRYPT_MAXMEM
    )
    return "$".join(
        ["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)]
    )


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (constant-time compare)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=_SCRYPT_MAXMEM,
            dklen=len(expected),
        )
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


# Checked against when the username does not exist, so both failures cost the same time.
_DUMMY_HASH = hash_password(secrets.token_hex(16))


def new_token() -> str:
    """A fresh random secret (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """SHA-256 hex of a token: what we store instead of the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


CONSOLE_ROLES: tuple[ConsoleRole, ...] = ("agent", "supervisor")


def agent_info(agent: Agent) -> AgentInfo:
    role: ConsoleRole = "supervisor" if agent.role == "supervisor" else "agent"
    return AgentInfo(
        username=agent.username,
        display_name=agent.display_name,
        services=list(agent.services),
        roles=[role],
    )


# ---------------------------------------------------------------------------
# Agents
# ---------------------------------------------------------------------------


def add_agent(
    db: Database,
    username: str,
    password: str,
    services: list[str],
    display_name: str | None,
    role: ConsoleRole = "agent",
) -> AgentInfo:
    """Create a console account, or update one with that username (password, services,
    name, role): an ``agent`` answers the services, a ``supervisor`` only watches them."""
    if role not in CONSOLE_ROLES:
        raise AuthError(f"role {role!r}: use agent or supervisor")
    if not USERNAME_RE.match(username):
        raise AuthError(f"username {username!r}: use 1-64 of a-z 0-9 _ . -")
    if not password:
        raise AuthError("empty password")
    with db.session() as session, session.begin():
        agent = session.get(Agent, username)
        if agent is None:
            agent = Agent(username=username)
            session.add(agent)
        agent.display_name = display_name or (
            agent.display_name if agent.display_name else username
        )
        agent.password_hash = hash_password(password)
        agent.services = list(services)
        agent.role = role
        return agent_info(agent)


def list_agents(db: Database) -> list[AgentInfo]:
    with db.session() as session:
        return [agent_info(a) for a in session.scalars(select(Agent).order_by(Agent.username))]


def get_agent(db: Database, username: str) -> AgentInfo | None:
    with db.session() as session:
        agent = session.get(Agent, username)
        return agent_info(agent) if agent else None


def authenticate(db: Database, username: str, password: str) -> AgentInfo | None:
    """The agent if the password is right; same cost whether or not the user exists."""
    with db.session() as session:
        agent = session.get(Agent, username)
        stored = agent.password_hash if agent else _DUMMY_HASH
        ok = verify_password(password, stored)
        return agent_info(agent) if (agent is not None and ok) else None


# ---------------------------------------------------------------------------
# Staff: admins and technicians
# ---------------------------------------------------------------------------


class StaffRole(StrEnum):
    """Least privilege: technicians enrol booths and look at the fleet; admins also
    change configuration, roll it out, revoke booths and read the audit log."""

    TECHNICIAN = "technician"
    ADMIN = "admin"


@dataclass(frozen=True)
class StaffInfo:
    username: str
    display_name: str
    role: StaffRole


def _staff_info(row: StaffAccount) -> StaffInfo:
    return StaffInfo(row.username, row.display_name, StaffRole(row.role))


def add_staff(
    db: Database, username: str, password: str, role: StaffRole, display_name: str | None = None
) -> StaffInfo:
    """Create a staff account, or update one with that username (password, role, name)."""
    if not USERNAME_RE.match(username):
        raise AuthError(f"username {username!r}: use 1-64 of a-z 0-9 _ . -")
    if not password:
        raise AuthError("empty password")
    with db.session() as session, session.begin():
        row = session.get(StaffAccount, username)
        if row is None:
            row = StaffAccount(username=username)
            session.add(row)
        row.display_name = display_name or (row.display_name if row.display_name else username)
        row.password_hash = hash_password(password)
        row.role = StaffRole(role).value
        return _staff_info(row)


def list_staff(db: Database) -> list[StaffInfo]:
    with db.session() as session:
        rows = session.scalars(select(StaffAccount).order_by(StaffAccount.username))
        return [_staff_info(r) for r in rows]


def get_staff(db: Database, username: str) -> StaffInfo | None:
    with db.session() as session:
        row = session.get(StaffAccount, username)
        return _staff_info(row) if row else None


def authenticate_staff(db: Database, username: str, password: str) -> StaffInfo | None:
    """The staff account if the password is right; same cost whether or not it exists."""
    with db.session() as session:
        row = session.get(StaffAccount, username)
        ok = verify_password(password, row.password_hash if row else _DUMMY_HASH)
        return _staff_info(row) if (row is not None and ok) else None


# ---------------------------------------------------------------------------
# Booths
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BoothPublic:
    booth_id: str
    name: str
    created_at: datetime
    revoked: bool


def _booth_id_for(name: str) -> str:
    # "Mairie de Florac — hall" -> "Mairie-de-Florac-hall": accents folded, not dropped.
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", ascii_name).strip("-")[:48]
    return slug or "booth"


def create_booth_token(db: Database, name: str) -> tuple[BoothPublic, str]:
    """A new booth credential; returns it and the token (shown once, stored hashed)."""
    if not name.strip():
        raise AuthError("empty booth name")
    token = new_token()
    with db.session() as session, session.begin():
        taken = set(session.scalars(select(BoothCredential.booth_id)))
        base = _booth_id_for(name)
        booth_id, n = base, 2
        while booth_id in taken:
            booth_id, n = f"{base}-{n}", n + 1
        row = BoothCredential(booth_id=booth_id, name=name, token_hash=token_hash(token))
        session.add(row)
        session.flush()
        return _booth_public(row), token


def revoke_booth(db: Database, booth_id: str) -> bool:
    with db.session() as session, session.begin():
        row = session.get(BoothCredential, booth_id)
        if row is None:
            return False
        row.revoked = True
        return True


def list_booths(db: Database) -> list[BoothPublic]:
    with db.session() as session:
        rows = session.scalars(select(BoothCredential).order_by(BoothCredential.booth_id))
        return [_booth_public(r) for r in rows]


def booth_for_token(db: Database, token: str) -> BoothPublic | None:
    """The booth owning an unrevoked ``token`` (lookup by hash, so no timing leak on the token)."""
    with db.session() as session:
        row = session.scalars(
            select(BoothCredential).where(BoothCredential.token_hash == token_hash(token))
        ).first()
        if row is None or row.revoked:
            return None
        return _booth_public(row)


def _booth_public(row: BoothCredential) -> BoothPublic:
    return BoothPublic(row.booth_id, row.name, row.created_at, row.revoked)


# ---------------------------------------------------------------------------
# Sessions
# ---------------------------------------------------------------------------


@dataclass
class Session:
    """One signed-in person: who, since when, last seen, and what the provider said."""

    username: str
    created: float
    last_seen: float
    identity: AgentInfo | None = None
    """For a sign-in through OpenID Connect: the person as the provider described them
    (roles and services from its claims). ``None``: a local account, read from the database."""
    oidc: bool = False
    staff: StaffInfo | None = None
    """For a staff sign-in through OpenID Connect: the role the provider gave."""


class SessionStore:
    """Sessions keyed by the token's hash.

    A session ends ``ttl_s`` after it was opened whatever happens (absolute lifetime),
    or ``idle_s`` after the last :meth:`get` or :meth:`touch` (idle lifetime).

    With ``db`` (agents' sessions) they are also written to the ``agent_session``
    table, so a restarted switchboard (same database) still knows them and the
    agents' consoles reconnect by themselves in the middle of a call; times are then
    wall-clock. Without ``db`` (staff sessions, tests) they live in memory only."""

    def __init__(
        self,
        ttl_s: float,
        clock: Callable[[], float] = time.time,
        *,
        idle_s: float | None = None,
        db: Database | None = None,
    ) -> None:
        self._ttl = ttl_s
        self._idle = idle_s if idle_s is not None else ttl_s
        self._clock = clock
        self._db = db
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()  # login runs in FastAPI's thread pool

    def create(
        self,
        username: str,
        identity: AgentInfo | None = None,
        *,
        oidc: bool = False,
        staff: StaffInfo | None = None,
    ) -> str:
        """Open a session; returns the token for the cookie."""
        token = new_token()
        key, now = token_hash(token), self._clock()
        with self._lock:
            self._purge()
            self._sessions[key] = Session(username, now, now, identity, oidc, staff)
        if self._db is not None and staff is None:
            with self._db.session() as session, session.begin():
                session.execute(delete(AgentSession).where(AgentSession.expires_at <= now))
                session.add(
                    AgentSession(
                        token_hash=key,
                        username=username,
                        created_at=now,
                        expires_at=now + self._ttl,
                        identity=identity.model_dump_json() if identity is not None else None,
                        oidc=oidc,
                    )
                )
        return token

    def get(self, token: str | None, *, touch: bool = True) -> Session | None:
        """The live session of ``token`` (counted as activity unless ``touch`` is False)."""
        if not token:
            return None
        key = token_hash(token)
        with self._lock:
            entry = self._sessions.get(key)
        if entry is None:
            entry = self._load(key)
        if entry is None:
            return None
        now = self._clock()
        if self._expired(entry, now):
            self.drop(token)
            return None
        if touch:
            entry.last_seen = now
        return entry

    def _load(self, key: str) -> Session | None:
        """A session another run of the server opened (restart), from the database."""
        if self._db is None:
            return None
        with self._db.session() as session:
            row = session.get(AgentSession, key)
        if row is None:
            return None
        identity = AgentInfo.model_validate_json(row.identity) if row.identity else None
        # The idle clock restarts with the server: activity before it is not known.
        entry = Session(row.username, row.created_at, self._clock(), identity, row.oidc)
        with self._lock:
            self._sessions[key] = entry
        return entry

    def username(self, token: str | None) -> str | None:
        """The session's user, or None if unknown or expired (counts as activity)."""
        entry = self.get(token)
        return entry.username if entry else None

    def touch(self, token: str | None) -> bool:
        """Record activity on a session; False if it is gone or expired."""
        return self.get(token) is not None

    def drop(self, token: str | None) -> None:
        if not token:
            return
        key = token_hash(token)
        with self._lock:
            self._sessions.pop(key, None)
        if self._db is not None:
            with self._db.session() as session, session.begin():
                session.execute(delete(AgentSession).where(AgentSession.token_hash == key))

    def _expired(self, entry: Session, now: float) -> bool:
        return now >= entry.created + self._ttl or now >= entry.last_seen + self._idle

    def _purge(self) -> None:
        now = self._clock()
        for key in [k for k, e in self._sessions.items() if self._expired(e, now)]:
            del self._sessions[key]

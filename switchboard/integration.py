"""The integrators' REST API (``/api/v1/integration``): API keys with scopes.

A portal's back end reads the live queues (to show "temps d'attente au
visio-guichet : 5 min"), the statistics, and the event log (the same events
as the webhooks, for a system that polls or missed some). Keys are bearer
tokens made with ``guichet integration-key create``, stored hashed, each with
the scopes it needs and nothing more.
"""

import asyncio
import json
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel
from sqlalchemy import select

from switchboard.auth import AuthError, token_hash
from switchboard.db import Database, IntegrationEvent, IntegrationKey
from switchboard.webhooks import EventType

TOKEN_PREFIX = "gik_"  # noqa: S105 (a prefix, not a secret)
MAX_EVENTS = 500
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


class Scope(StrEnum):
    QUEUES = "queues"
    """Live queues: waiting citizens, agents available, estimated wait, per service."""
    STATS = "stats"
    """Statistics per day, service and site (as the admin console shows them)."""
    EVENTS = "events"
    """The event log: calls started and ended, ratings."""


@dataclass(frozen=True)
class KeyInfo:
    name: str
    scopes: tuple[Scope, ...]
    created_at: datetime
    revoked: bool


def _info(row: IntegrationKey) -> KeyInfo:
    return KeyInfo(row.name, tuple(Scope(s) for s in row.scopes), row.created_at, row.revoked)


def create_key(db: Database, name: str, scopes: list[Scope]) -> tuple[KeyInfo, str]:
    """A new key (replacing a revoked one of that name); the token is returned once."""
    if not _NAME.match(name):
        raise AuthError(f"key name {name!r}: use 1-64 of a-z 0-9 -")
    if not scopes:
        raise AuthError("a key needs at least one scope: " + ", ".join(s.value for s in Scope))
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with db.session() as session, session.begin():
        row = session.get(IntegrationKey, name)
        if row is not None and not row.revoked:
            raise AuthError(f"key {name!r} exists; revoke it first")
        if row is None:
            row = IntegrationKey(name=name)
            session.add(row)
        row.token_hash = token_hash(token)
        row.scopes = sorted({s.value for s in scopes})
        row.revoked = False
        row.created_at = datetime.now().astimezone()
        session.flush()
        info = _info(row)
    return info, token


def list_keys(db: Database) -> list[KeyInfo]:
    with db.session() as session:
        return [
            _info(r) for r in session.scalars(select(IntegrationKey).order_by(IntegrationKey.name))
        ]


def revoke_key(db: Database, name: str) -> bool:
    with db.session() as session, session.begin():
        row = session.get(IntegrationKey, name)
        if row is None:
            return False
        row.revoked = True
        return True


def key_for_token(db: Database, token: str) -> KeyInfo | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    with db.session() as session:
        row = session.scalar(
            select(IntegrationKey).where(IntegrationKey.token_hash == token_hash(token))
        )
        return None if row is None or row.revoked else _info(row)


# -- API ---------------------------------------------------------------------


class DetailAnswer(BaseModel):
    """A refusal: a sentence, or FastAPI's list of validation errors."""

    detail: str | list[dict[str, Any]]


class QueueNow(BaseModel):
    service_id: str
    name: str
    """French name of the service."""
    open_now: bool
    waiting: int
    agents_available: int
    estimated_wait_s: int
    """For a citizen who would join now."""


class QueuesNow(BaseModel):
    at: datetime
    services: list[QueueNow]


class IntegrationEventOut(BaseModel):
    seq: int
    """Ask for ``after=<the last seq you saw>`` next time."""
    id: str
    type: str
    occurred_at: datetime
    data: dict[str, Any]


class EventPage(BaseModel):
    events: list[IntegrationEventOut]
    next_after: int
    """The ``after`` to ask next (the last event's ``seq``, or yours if none)."""


def read_events(
    db: Database, after: int, limit: int, types: list[str]
) -> list[IntegrationEventOut]:
    query = select(IntegrationEvent).where(IntegrationEvent.seq > after)
    if types:
        query = query.where(IntegrationEvent.type.in_(types))
    query = query.order_by(IntegrationEvent.seq).limit(limit)
    with db.session() as session:
        rows = list(session.scalars(query))
    out = []
    for row in rows:
        body = json.loads(row.body)
        out.append(
            IntegrationEventOut(
                seq=row.seq,
                id=body["id"],
                type=body["type"],
                occurred_at=body["occurred_at"],
                data=body["data"],
            )
        )
    return out


def integration_router(
    db: Database,
    queues_now: Callable[[], QueuesNow],
    stats_view: Callable[[date | None, date | None, str | None, str | None], Awaitable[Any]],
    stats_model: type[BaseModel],
) -> APIRouter:
    """Routes under ``/api/v1/integration``; every one needs a key with its scope."""
    router = APIRouter(prefix="/api/v1/integration", tags=["integration"])

    async def current_key(request: Request) -> KeyInfo:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise HTTPException(
                401,
                "send your integration key as 'Authorization: Bearer gik_…'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        key = await asyncio.to_thread(key_for_token, db, token.strip())
        if key is None:
            raise HTTPException(
                401, "unknown or revoked integration key", headers={"WWW-Authenticate": "Bearer"}
            )
        return key

    def scope(needed: Scope) -> Callable[[KeyInfo], Awaitable[KeyInfo]]:
        async def check(key: Annotated[KeyInfo, Depends(current_key)]) -> KeyInfo:
            if needed not in key.scopes:
                raise HTTPException(403, f"this key has no '{needed.value}' scope")
            return key

        return check

    @router.get("/queues")
    async def get_queues(_key: Annotated[KeyInfo, Depends(scope(Scope.QUEUES))]) -> QueuesNow:
        """Each service now: open or not, citizens waiting, agents available, and the
        wait a citizen joining now can expect."""
        return queues_now()

    @router.get(
        "/stats",
        response_model=stats_model,
        responses={422: {"model": DetailAnswer}},
    )
    async def get_stats(
        _key: Annotated[KeyInfo, Depends(scope(Scope.STATS))],
        start: date | None = None,
        end: date | None = None,
        service: Annotated[str | None, Query(max_length=64)] = None,
        site: Annotated[str | None, Query(max_length=40)] = None,
    ) -> Any:
        """The statistics of a period (default: the last 30 days), as in the admin
        console: per day, service and site."""
        return await stats_view(start, end, service, site)

    @router.get("/events")
    async def get_events(
        _key: Annotated[KeyInfo, Depends(scope(Scope.EVENTS))],
        after: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_EVENTS)] = 100,
        type: Annotated[list[EventType] | None, Query()] = None,
    ) -> EventPage:
        """Events after ``after`` (oldest first): ``call.started``, ``call.ended``,
        ``survey.submitted`` with the same bodies as the webhooks. Kept
        ``events_retention_days`` (30 by default)."""
        events = await asyncio.to_thread(read_events, db, after, limit, list(type or []))
        return EventPage(events=events, next_after=events[-1].seq if events else after)

    return router

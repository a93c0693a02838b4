"""Webhooks: signed POSTs to an integrator's URLs when calls start and end, and
the event log integrators can also read (``GET /api/v1/integration/events``).

Every event is stored (table ``webhook_deliveries``, one row per target) before
its first try, then POSTed by one background task; a failure (network error,
timeout, non-2xx answer) is retried with exponential back-off
(:func:`switchboard.webhook_signing.retry_delay_s`) until
:data:`~switchboard.webhook_signing.MAX_ATTEMPTS`, across restarts. Bodies hold
no citizen data: ids, service, times, durations, why the call ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import ssl
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import delete, select, update

from switchboard.db import Database, IntegrationEvent, WebhookDelivery
from switchboard.webhook_signing import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    gives_up,
    retry_delay_s,
    signature_header,
)

log = logging.getLogger(__name__)

EventType = Literal["call.started", "call.ended", "survey.submitted"]
EVENT_TYPES: tuple[EventType, ...] = ("call.started", "call.ended", "survey.submitted")
MIN_SECRET_BYTES = 32
BATCH = 50
"""Deliveries tried at once at most (each target gets them in creation order)."""
EVENTS_RETENTION_DAYS = 30
"""Default: how long events stay readable at ``GET /api/v1/integration/events``."""
PURGE_EVERY_S = 3600.0
IDLE_WAKE_S = 30.0
"""Longest sleep of the sender when nothing is due (new events wake it at once)."""
USER_AGENT = "Guichet-Webhooks/1"
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


class WebhookTarget(BaseModel):
    """One receiver of the integrator, from the ``[[webhooks]]`` tables of the settings."""

    model_config = ConfigDict(extra="forbid")

    name: str
    """Short id (``portail-caf``): in logs and the admin's delivery list."""
    url: str
    secret_file: Path
    """File (mode 600) with the HMAC secret shared with the receiver; never logged."""
    events: list[EventType] = Field(default_factory=lambda: list(EVENT_TYPES))
    ca_file: Path | None = None
    """PEM bundle to trust for an ``https`` URL signed by the administration's own CA."""
    timeout_s: Annotated[float, Field(gt=0, le=60)] = 10.0

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("webhook name: lowercase letters, digits and '-', at most 64")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parsed = httpx.URL(value)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError(f"webhook URL {value!r} must be http(s)://host/…")
        if parsed.userinfo:
            raise ValueError("webhook URL must not carry a user or password; use secret_file")
        return value


@dataclass(frozen=True)
class ReadyTarget:
    """A target with its secret read (at start-up, so a bad file stops the server)."""

    target: WebhookTarget
    secret: bytes


def event_from_call(
    action: str, details: Mapping[str, object], agent: str, call_id: str
) -> tuple[EventType, dict[str, object]] | None:
    """The webhook event for a hub call event, or ``None`` if integrators don't get it."""
    data: dict[str, object] = {
        "call_id": call_id,
        "service": details.get("service"),
        "booth": details.get("booth"),
        "agent": agent,
    }
    if action == "call.answered":
        return "call.started", {**data, "waited_s": details.get("waited_s")}
    if action == "call.ended":
        return "call.ended", {
            **data,
            "reason": details.get("reason"),
            "duration_s": details.get("duration_s"),
        }
    return None


class WebhookSender:
    """Stores events (the integrators' event log) and POSTs them to every target
    that wants them, retrying."""

    def __init__(
        self,
        db: Database,
        targets: list[ReadyTarget],
        clock: Callable[[], float] = time.time,
        retention_days: int = EVENTS_RETENTION_DAYS,
    ) -> None:
        self._db = db
        self._retention_s = retention_days * 86400.0
        self._purged_at = 0.0
        self._targets = {t.target.name: t for t in targets}
        self._clock = clock
        self._new: asyncio.Queue[tuple[EventType, dict[str, object], float]] = asyncio.Queue()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._clients: dict[str, httpx.AsyncClient] = {}

    @property
    def enabled(self) -> bool:
        return bool(self._targets)

    def publish(self, event: EventType, data: dict[str, object]) -> None:
        """Log ``event`` and queue it for every target subscribed to it (returns at once)."""
        self._new.put_nowait((event, data, self._clock()))
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="webhooks")

    async def stop(self) -> None:
        if self._task is not None:
            # Events still in memory are stored first: a restart then sends them.
            await self._store_new()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    # ------------------------------------------------------------------ loop

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self._store_new()
                if self._clock() - self._purged_at >= PURGE_EVERY_S:
                    self._purged_at = self._clock()
                    await asyncio.to_thread(self._purge, self._clock() - self._retention_s)
                due = await asyncio.to_thread(self._due, self._clock())
                if due:
                    await asyncio.gather(*(self._try(row) for row in due))
                    continue  # more may be due
                pause = await asyncio.to_thread(self._until_next, self._clock())
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook sender failed; retrying in %s s", IDLE_WAKE_S)
                pause = IDLE_WAKE_S
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), pause)

    def _purge(self, before: float) -> None:
        with self._db.session() as session:
            session.execute(delete(IntegrationEvent).where(IntegrationEvent.occurred_at < before))
            session.execute(
                delete(WebhookDelivery)
                .where(WebhookDelivery.status != "pending")
                .where(WebhookDelivery.created_at < before)
            )
            session.commit()

    async def _store_new(self) -> None:
        rows: list[IntegrationEvent | WebhookDelivery] = []
        while not self._new.empty():
            event, data, at = self._new.get_nowait()
            event_id = uuid.uuid4().hex
            body = json.dumps(
                {
                    "id": event_id,
                    "type": event,
                    "occurred_at": datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds"),
                    "data": data,
                },
                separators=(",", ":"),
                sort_keys=True,
            )
            rows.append(IntegrationEvent(event_id=event_id, type=event, occurred_at=at, body=body))
            for ready in self._targets.values():
                if event in ready.target.events:
                    rows.append(
                        WebhookDelivery(
                            id=uuid.uuid4().hex,
                            target=ready.target.name,
                            event=event,
                            body=body,
                            created_at=at,
                            status="pending",
                            attempts=0,
                            next_attempt_at=at,
                            last_error="",
                        )
                    )
        if rows:
            await asyncio.to_thread(self._insert, rows)

    def _insert(self, rows: list[IntegrationEvent | WebhookDelivery]) -> None:
        with self._db.session() as session:
            session.add_all(rows)
            session.commit()

    def _due(self, now: float) -> list[WebhookDelivery]:
        with self._db.session() as session:
            query = (
                select(WebhookDelivery)
                .where(WebhookDelivery.status == "pending")
                .where(WebhookDelivery.next_attempt_at <= now)
                .where(WebhookDelivery.target.in_(list(self._targets)))
                .order_by(WebhookDelivery.created_at)
                .limit(BATCH)
            )
            return list(session.scalars(query))

    def _until_next(self, now: float) -> float:
        with self._db.session() as session:
            query = (
                select(WebhookDelivery.next_attempt_at)
                .where(WebhookDelivery.status == "pending")
                .where(WebhookDelivery.target.in_(list(self._targets)))
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(1)
            )
            nxt = session.scalars(query).first()
        if nxt is None:
            return IDLE_WAKE_S
        return max(0.05, min(IDLE_WAKE_S, nxt - now))

    # ------------------------------------------------------------------ one try

    async def _try(self, row: WebhookDelivery) -> None:
        ready = self._targets[row.target]
        body = row.body.encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            EVENT_HEADER: row.event,
            DELIVERY_HEADER: row.id,
            SIGNATURE_HEADER: signature_header(ready.secret, int(self._clock()), body),
        }
        error = ""
        try:
            answer = await self._client(ready.target).post(
                ready.target.url, content=body, headers=headers
            )
            if not 200 <= answer.status_code < 300:
                error = f"HTTP {answer.status_code}"
        except httpx.TimeoutException:
            error = f"no answer within {ready.target.timeout_s:g} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
        await asyncio.to_thread(self._record, row.id, row.attempts + 1, error)

    def _record(self, delivery_id: str, attempts: int, error: str) -> None:
        now = self._clock()
        values: dict[str, object] = {"attempts": attempts, "last_error": error}
        if not error:
            values |= {"status": "delivered", "delivered_at": now}
            log.info("webhook %s delivered (try %d)", delivery_id, attempts)
        elif gives_up(attempts):
            values |= {"status": "failed"}
            log.error("webhook %s given up after %d tries: %s", delivery_id, attempts, error)
        else:
            delay = retry_delay_s(attempts)
            values |= {"next_attempt_at": now + delay}
            log.warning(
                "webhook %s try %d failed (%s); next in %.0f s", delivery_id, attempts, error, delay
            )
        with self._db.session() as session:
            session.execute(
                update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(**values)
            )
            session.commit()

    def _client(self, target: WebhookTarget) -> httpx.AsyncClient:
        client = self._clients.get(target.name)
        if client is None:
            verify: ssl.SSLContext | bool = True
            if target.ca_file is not None:
                verify = ssl.create_default_context(cafile=str(target.ca_file))
            client = httpx.AsyncClient(
                timeout=target.timeout_s,
                follow_redirects=False,  # a redirect would re-send the body elsewhere
                trust_env=False,  # no proxy from the environment: the URL is the receiver
                verify=verify,
            )
            self._clients[target.name] = client
        return client


def recent_deliveries(db: Database, limit: int = 100) -> list[WebhookDelivery]:
    """The last ``limit`` deliveries, newest first (for the admin)."""
    with db.session() as session:
        query = select(WebhookDelivery).order_by(WebhookDelivery.created_at.desc()).limit(limit)
        return list(session.scalars(query))

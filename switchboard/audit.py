"""What agents did in citizens' calls, into the audit trail (:mod:`provisioning.audit_trail`).

The hub reports answered and ended calls; the console reports device work, which happens
on the data channel where the server cannot see it. One writer task appends them in the
order they happened, off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from guichet.audit_chain import Entry
from guichet.wire import DeviceAuditReport
from provisioning import audit_trail
from switchboard.db import Database
from switchboard.hub import CallEvent

log = logging.getLogger(__name__)

AGENT_ROLE = "agent"
DRAIN_TIMEOUT_S = 5.0
"""At shutdown, how long queued entries may take to be written."""


@dataclass(frozen=True)
class AgentAction:
    """One entry to append: ``actor`` (an agent's username), ``action``, ``target``, ``details``."""

    actor: str
    action: str
    target: str
    details: dict[str, Any]


def from_call_event(event: CallEvent) -> AgentAction:
    """An answered or ended call as an audit entry (target: the call id)."""
    return AgentAction(event.agent, event.action, event.call_id, dict(event.details))


def from_device_report(agent: str, report: DeviceAuditReport) -> AgentAction:
    """Device work the console reported, as ``device.<kind>`` on the call."""
    details: dict[str, Any] = {
        "request": report.request_id,
        "outcome": report.outcome.value,
        "reported_by": "console",
    }
    if report.error is not None:
        details["error"] = report.error.value
    if report.pages is not None:
        details["pages"] = report.pages
    return AgentAction(agent, f"device.{report.kind.value}", report.call_id, details)


class AuditWriter:
    """One task that appends agent actions in order; :meth:`submit` never blocks."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._queue: asyncio.Queue[tuple[AgentAction, asyncio.Future[Entry]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Write what is queued (bounded by DRAIN_TIMEOUT_S), then stop."""
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), DRAIN_TIMEOUT_S)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    def submit(self, action: AgentAction) -> asyncio.Future[Entry]:
        """Queue an entry; the future gives it once written (or the error)."""
        future: asyncio.Future[Entry] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((action, future))
        return future

    async def _run(self) -> None:
        while True:
            action, future = await self._queue.get()
            try:
                entry = await asyncio.to_thread(
                    audit_trail.record,
                    self.db,
                    action.actor,
                    AGENT_ROLE,
                    action.action,
                    action.target,
                    action.details,
                )
            except Exception as exc:
                log.exception("audit entry %s %s not written", action.action, action.target)
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(entry)
            finally:
                self._queue.task_done()

"""Live connections and call routing between booths and agents.

The hub is synchronous and does no I/O itself: each connection is an :class:`Outbox`
that queues what to send (the WebSocket layer in ``app.py`` drains it). Every state
change happens in one method call on the event loop, so there are no races to lock.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel

from guichet import wire
from guichet.wire import AgentInfo, AgentPresence, CallEndReason, ErrorCode, WireError
from switchboard.catalogue import Catalogue, Service
from switchboard.queues import QueueBook, QueueError
from switchboard.turn import TurnConfig

log = logging.getLogger(__name__)

CLOSE_UNAUTHORIZED = 4401
CLOSE_REPLACED = 4409
RECENT_CALL_S = 600.0
"""How long after a call ends its agent may still report device work of it (a report
sent as the call ended, a console that was reconnecting)."""
AGENT_GRACE_S = 3.0
"""How long a call outlives its agent's socket: a console whose socket blipped comes
back with ``resume_call`` and keeps its call (the media never stopped); after that the
call ends with ``agent_gone``. Short enough for the booth to know within 5 s."""
REQUEUE_WINDOW_S = 120.0
"""How long after a call broke (agent gone, link lost, booth gone) its booth may put
its citizen back at the head of the queue (``join_queue.resume_call_id``)."""
REQUEUE_REASONS = frozenset(
    {CallEndReason.AGENT_GONE, CallEndReason.LINK_LOST, CallEndReason.BOOTH_GONE}
)
"""Call ends that were nobody's choice: the citizen keeps their place."""


@dataclass(frozen=True)
class CallEvent:
    """Something an agent did in a citizen's call, for the audit trail (no citizen data)."""

    agent: str
    action: str
    """``call.answered``, ``call.resumed`` (re-learnt after a restart), ``call.ended``
    or ``device.<kind>`` (the booth's report)."""
    call_id: str
    details: dict[str, object]


class CallCheck(StrEnum):
    """Whether an agent may report on a call: it is theirs and live, or ended recently."""

    LIVE = "live"
    RECENT = "recent"
    NOT_YOURS = "not_yours"
    UNKNOWN = "unknown"


class Outbox(Protocol):
    """Where the hub puts messages for one connection; sending happens elsewhere."""

    def send(self, message: BaseModel) -> None: ...

    def close(self, code: int, reason: str) -> None: ...


@dataclass(eq=False)
class BoothLink:
    """One connected, authenticated booth."""

    booth_id: str
    name: str
    outbox: Outbox
    call_id: str | None = None
    last_queued: tuple[str, int, int] | None = None
    """Last (ticket, position, estimate) sent, so ``queued`` is pushed only on change."""


@dataclass(eq=False)
class AgentLink:
    """One agent console connection (an agent may have several tabs)."""

    agent: AgentInfo
    outbox: Outbox
    presence: AgentPresence = AgentPresence.AVAILABLE
    presence_after_call: AgentPresence = AgentPresence.AVAILABLE
    call_id: str | None = None
    last_queues: list[wire.ServiceQueue] | None = field(default=None, repr=False)


@dataclass(eq=False)
class Call:
    call_id: str
    booth: BoothLink
    agent: AgentLink
    service_id: str
    ticket_id: str
    started_at: float
    language: str = "fr"
    joined_at: float = 0.0
    """When the citizen first joined the queue (kept if they are put back at the head)."""


@dataclass(frozen=True)
class BrokenCall:
    """A call that ended through nobody's choice: its citizen may take their place back."""

    booth_id: str
    service_id: str
    language: str
    joined_at: float
    ended_at: float


_HANGUP_REASONS = {
    CallEndReason.RELAY_FAILED.value: CallEndReason.RELAY_FAILED,
    CallEndReason.LINK_LOST.value: CallEndReason.LINK_LOST,
    CallEndReason.AGENT_GONE.value: CallEndReason.AGENT_GONE,
}


def _hangup_reason(reason: str, default: CallEndReason) -> CallEndReason:
    """A peer's ``hangup.reason`` as the ``call_ended`` reason the other side gets."""
    return _HANGUP_REASONS.get(reason, default)


def message_type(raw: str | bytes) -> str | None:
    """The ``type`` of a raw message if it can be read, for error references."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    value = data.get("type") if isinstance(data, dict) else None
    return value[:40] if isinstance(value, str) else None


class Hub:
    """Booths, agents, queues and calls of one switchboard process."""

    def __init__(
        self,
        catalogue: Catalogue,
        ice_servers: list[wire.IceServer],
        clock: Callable[[], float] = time.time,
        on_call_event: Callable[[CallEvent], None] | None = None,
        turn: TurnConfig | None = None,
        ice_transport_policy: wire.IceTransportPolicy = "all",
        on_queue_event: Callable[[str, str, str], None] | None = None,
    ) -> None:
        self.catalogue = catalogue
        self.on_queue_event = on_queue_event
        """``(event, service_id, booth_id)`` with event ``joined`` or ``abandoned`` (the
        citizen left the queue, or the booth went away, before an answer)."""
        self.queues = QueueBook({s.id: s.expected_call_s for s in catalogue.services})
        self.ice_servers = list(ice_servers)
        self.turn = turn
        self.ice_transport_policy: wire.IceTransportPolicy = ice_transport_policy
        self.clock = clock
        self.booths: dict[str, BoothLink] = {}
        self.agents: list[AgentLink] = []
        self.calls: dict[str, Call] = {}
        self.on_call_event = on_call_event
        self.on_survey: Callable[[wire.Survey, str, str, str], None] | None = None
        """``(survey, service_id, booth_id, agent username)`` for each rating accepted."""
        self.rateable: dict[str, tuple[str, str, str]] = {}
        """Calls ended recently and not rated yet: booth id, service id, agent."""
        self.ended_calls: dict[str, tuple[str, float, str]] = {}
        """Calls ended less than :data:`RECENT_CALL_S` ago: agent username, end time, booth."""
        self.booth_claims: dict[str, BoothLink] = {}
        """Calls booths said (in ``hello``) they are still in, not yet named by an agent."""
        self.agent_claims: dict[str, tuple[AgentLink, str]] = {}
        """Calls consoles said (``resume_call``) they are still in, with the service."""
        self.broken_calls: dict[str, BrokenCall] = {}
        """Calls that broke less than :data:`REQUEUE_WINDOW_S` ago, by call id."""

    # ------------------------------------------------------------------ queries

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def agents_available(self, service_id: str) -> int:
        """Distinct agents available (not paused, not in a call) who may answer the service."""
        return len(
            {
                a.agent.username
                for a in self.agents
                if a.presence is AgentPresence.AVAILABLE and service_id in a.agent.services
            }
        )

    def estimate_for_newcomer(self, service_id: str) -> int:
        """Estimated wait of a citizen who would join the service now."""
        position = len(self.queues.waiting(service_id)) + 1
        return self.queues.estimated_wait_s(service_id, position, self.agents_available(service_id))

    def service_public(self, service: Service) -> wire.ServicePublic:
        """A service as the booth's catalogue shows it."""
        return wire.ServicePublic(
            id=service.id,
            name=service.name,
            description=service.description,
            icon=service.icon,
            open_now=service.is_open(self.now()),
            hours=service.hours_text(),
            waiting=len(self.queues.waiting(service.id)),
            estimated_wait_s=self.estimate_for_newcomer(service.id),
            recording=service.recording,
        )

    def ice_servers_for(self, call_id: str, side: str) -> list[wire.IceServer]:
        """The configured ICE servers plus, with TURN, credentials for one side of one call.

        Each side gets its own username (``<expiry>:<call_id>.<side>``) so coturn's
        logs tell who relayed what, and nothing from one call opens another."""
        servers = list(self.ice_servers)
        if self.turn is not None:
            servers.append(self.turn.ice_server(f"{call_id}.{side}", self.clock()))
        return servers

    def catalogue_public(self) -> wire.Catalogue:
        return wire.Catalogue(
            services=[self.service_public(s) for s in self.catalogue.services],
            server_time=self.clock(),
        )

    def check_call(self, call_id: str, username: str) -> CallCheck:
        """Is ``call_id`` this agent's call, live or ended less than RECENT_CALL_S ago?"""
        call = self.calls.get(call_id)
        if call is not None:
            return CallCheck.LIVE if call.agent.agent.username == username else CallCheck.NOT_YOURS
        self._forget_old_calls()
        ended = self.ended_calls.get(call_id)
        if ended is None:
            return CallCheck.UNKNOWN
        return CallCheck.RECENT if ended[0] == username else CallCheck.NOT_YOURS

    def _forget_old_calls(self) -> None:
        horizon = self.clock() - RECENT_CALL_S
        for call_id in [c for c, (_, at, _b) in self.ended_calls.items() if at < horizon]:
            del self.ended_calls[call_id]
            self.rateable.pop(call_id, None)

    def _emit(self, event: CallEvent) -> None:
        if self.on_call_event is not None:
            try:
                self.on_call_event(event)
            except Exception:  # the call goes on even if the audit trail cannot be fed
                log.exception("audit of %s %s failed", event.action, event.call_id)

    def _queue_event(self, event: str, service_id: str, booth_id: str) -> None:
        if self.on_queue_event is not None:
            try:
                self.on_queue_event(event, service_id, booth_id)
            except Exception:  # statistics never stop the queue
                log.exception("counting %s in %s failed", event, service_id)

    # ------------------------------------------------------------------ booths

    def booth_connected(
        self, booth_id: str, name: str, outbox: Outbox, call_id: str | None = None
    ) -> BoothLink:
        """Register an authenticated booth (replacing an older connection) and welcome it.

        ``call_id``: the call the booth says it is still in (``hello.call_id``). When
        the replaced connection carries that very call (a cut line outlived the old
        socket while the booth was reconnecting the call), the call moves to the new
        connection instead of ending with ``booth_gone``."""
        old = self.booths.get(booth_id)
        kept: Call | None = None
        if old is not None and call_id is not None and old.call_id == call_id:
            kept = self.calls.get(call_id)
            if kept is not None:
                old.call_id = None
        if old is not None:
            log.warning("booth %s connected again: replacing its previous connection", booth_id)
            old.outbox.send(
                wire.Error(code=ErrorCode.REPLACED, message="this booth connected again elsewhere")
            )
            old.outbox.close(CLOSE_REPLACED, "replaced")
            self._forget_booth(old)
        link = BoothLink(booth_id, name, outbox)
        self.booths[booth_id] = link
        outbox.send(wire.BoothWelcome(booth_id=booth_id, booth_name=name))
        log.info("booth %s (%s) connected", booth_id, name)
        if kept is not None:
            kept.booth = link
            link.call_id = kept.call_id
            link.outbox.send(wire.CallResumed(call_id=kept.call_id))
            log.info("call %s kept: booth %s connected again during it", kept.call_id, booth_id)
        elif call_id is not None and call_id not in self.calls:
            self.booth_claims[call_id] = link
            self._try_resume(call_id)
        return link

    def send_to_booth(self, booth_id: str, message: BaseModel) -> bool:
        """Queue a message for one connected booth (by its hub id: an enrolled booth's is its
        provisioning booth id); False if that booth is not connected to this process."""
        link = self.booths.get(booth_id)
        if link is None:
            return False
        link.outbox.send(message)
        return True

    def booth_disconnected(self, link: BoothLink) -> None:
        """The booth's socket closed: leave its queue or end its call."""
        if self.booths.get(link.booth_id) is link:
            log.info("booth %s disconnected", link.booth_id)
            self._forget_booth(link)
            self.publish()

    def _forget_booth(self, link: BoothLink) -> None:
        del self.booths[link.booth_id]
        for call_id in [c for c, b in self.booth_claims.items() if b is link]:
            del self.booth_claims[call_id]
        ticket = self.queues.leave(link.booth_id)
        if ticket is not None:
            log.info("booth %s left queue %s (gone)", link.booth_id, ticket.service_id)
            self._queue_event("abandoned", ticket.service_id, link.booth_id)
        if link.call_id is not None:
            self._end_call(self.calls[link.call_id], CallEndReason.BOOTH_GONE)

    def booth_message(self, link: BoothLink, raw: str | bytes) -> None:
        """Handle one raw message from a booth; refusals become ``error`` messages."""
        if self.booths.get(link.booth_id) is not link:
            return  # a replaced connection's late messages change nothing
        try:
            msg = wire.parse_from_booth(raw)
            self._booth_handle(link, msg)
        except WireError as exc:
            self._refuse(link.outbox, f"booth {link.booth_id}", exc, message_type(raw))
            return
        self.publish()

    def _booth_handle(self, link: BoothLink, msg: BaseModel) -> None:
        match msg:
            case wire.Ping():
                link.outbox.send(wire.Pong(server_time=self.clock()))
            case wire.JoinQueue(
                service_id=service_id, language=language, resume_call_id=resume_call_id
            ):
                self._join(link, service_id, language, resume_call_id)
            case wire.LeaveQueue():
                ticket = self.queues.leave(link.booth_id)
                if ticket is None:
                    raise WireError(ErrorCode.NOT_QUEUED, "this booth is not in a queue")
                link.last_queued = None
                link.outbox.send(wire.LeftQueue(ticket_id=ticket.ticket_id, reason="cancelled"))
                log.info("booth %s left queue %s", link.booth_id, ticket.service_id)
                self._queue_event("abandoned", ticket.service_id, link.booth_id)
            case wire.Offer(call_id=call_id) | wire.Ice(call_id=call_id):
                self._call_of(call_id, link).agent.outbox.send(msg)
            case wire.Hangup(call_id=call_id, reason=reason):
                self._end_call(
                    self._call_of(call_id, link), _hangup_reason(reason, CallEndReason.BOOTH_HANGUP)
                )
            case wire.Survey():
                self._rate(link, msg)
            case wire.DeviceWork():
                self._device_work(link, msg)
            case wire.BoothHello():
                raise WireError(ErrorCode.MALFORMED, "hello was already received")
            case _:  # pragma: no cover - the parser only yields the types above
                raise WireError(ErrorCode.UNKNOWN_TYPE, "unexpected message")

    def _rate(self, link: BoothLink, survey: wire.Survey) -> None:
        rateable = self.rateable.get(survey.call_id)
        if rateable is None or rateable[0] != link.booth_id:
            raise WireError(
                ErrorCode.NO_CALL, f"no recent call {survey.call_id!r} of this booth to rate"
            )
        del self.rateable[survey.call_id]
        _booth, service_id, agent = rateable
        log.info("call %s rated %d by the citizen", survey.call_id, survey.rating)
        if self.on_survey is not None:
            try:
                self.on_survey(survey, service_id, link.booth_id, agent)
            except Exception:
                log.exception("recording the rating of %s failed", survey.call_id)

    def _device_work(self, link: BoothLink, work: wire.DeviceWork) -> None:
        """The booth's account of device work in its call (live or just ended), audited
        under the call's agent: the agent asked for it."""
        call = self.calls.get(work.call_id)
        if call is not None:
            if call.booth is not link:
                raise WireError(ErrorCode.NOT_YOUR_CALL, f"call {work.call_id!r} is not yours")
            agent = call.agent.agent.username
        else:
            self._forget_old_calls()
            ended = self.ended_calls.get(work.call_id)
            if ended is None:
                raise WireError(ErrorCode.NO_CALL, f"no live or recent call {work.call_id!r}")
            if ended[2] != link.booth_id:
                raise WireError(ErrorCode.NOT_YOUR_CALL, f"call {work.call_id!r} is not yours")
            agent = ended[0]
        details: dict[str, object] = {
            "request": work.request_id,
            "outcome": work.outcome.value,
            "reported_by": "booth",
            "booth": link.booth_id,
        }
        if work.error is not None:
            details["error"] = work.error.value
        if work.pages is not None:
            details["pages"] = work.pages
        if work.size is not None:
            details["size"] = work.size
        self._emit(CallEvent(agent, f"device.{work.kind.value}", work.call_id, details))

    def _join(
        self, link: BoothLink, service_id: str, language: str, resume_call_id: str | None = None
    ) -> None:
        if link.call_id is not None:
            raise WireError(ErrorCode.BUSY, "this booth is in a call")
        service = self.catalogue.get(service_id)
        if service is None:
            raise WireError(ErrorCode.UNKNOWN_SERVICE, f"no service {service_id!r}")
        if not service.is_open(self.now()):
            raise WireError(ErrorCode.SERVICE_CLOSED, f"{service.name_in('en')} is closed now")
        broken = self._broken_call(resume_call_id, link.booth_id, service_id)
        try:
            if broken is not None:
                ticket = self.queues.rejoin_at_head(
                    service_id, link.booth_id, language, broken.joined_at
                )
            else:
                ticket = self.queues.join(service_id, link.booth_id, language, self.clock())
        except QueueError as exc:
            raise WireError(ErrorCode(exc.code), exc.reason) from exc
        link.last_queued = None
        if broken is not None:
            assert resume_call_id is not None  # noqa: S101 - broken comes from it
            del self.broken_calls[resume_call_id]
            log.info(
                "booth %s back at the head of queue %s after call %s broke (%s)",
                link.booth_id,
                service_id,
                resume_call_id,
                ticket.ticket_id,
            )
        else:
            log.info("booth %s joined queue %s (%s)", link.booth_id, service_id, ticket.ticket_id)
            self._queue_event("joined", service_id, link.booth_id)

    def _broken_call(
        self, call_id: str | None, booth_id: str, service_id: str
    ) -> BrokenCall | None:
        """The broken call a booth names to take its place back, if the claim holds."""
        if call_id is None:
            return None
        horizon = self.clock() - REQUEUE_WINDOW_S
        for old in [c for c, b in self.broken_calls.items() if b.ended_at < horizon]:
            del self.broken_calls[old]
        broken = self.broken_calls.get(call_id)
        if broken is None or broken.booth_id != booth_id or broken.service_id != service_id:
            log.warning(
                "booth %s asked to resume call %s: not a recent broken call of its own"
                " in %s; it joins at the end",
                booth_id,
                call_id,
                service_id,
            )
            return None
        return broken

    # ------------------------------------------------------------------ agents

    def agent_connected(self, agent: AgentInfo, outbox: Outbox) -> AgentLink:
        """Register an authenticated agent console; sends the welcome and the queues."""
        link = AgentLink(agent, outbox)
        self.agents.append(link)
        outbox.send(wire.AgentWelcome(agent=agent, presence=link.presence))
        log.info("agent %s connected", agent.username)
        self.publish()
        return link

    def agent_disconnected(self, link: AgentLink) -> str | None:
        """The console's socket closed. Its call (if any) is held: returns its id, and
        the caller calls :meth:`agent_grace_over` :data:`AGENT_GRACE_S` later."""
        if link not in self.agents:
            return None
        self.agents.remove(link)
        for call_id in [c for c, (a, _) in self.agent_claims.items() if a is link]:
            del self.agent_claims[call_id]
        held = link.call_id
        if held is not None:
            log.info(
                "agent %s disconnected during call %s: held %.0f s for a reconnection",
                link.agent.username,
                held,
                AGENT_GRACE_S,
            )
        else:
            log.info("agent %s disconnected", link.agent.username)
        self.publish()
        return held

    def agent_grace_over(self, link: AgentLink, call_id: str) -> None:
        """The grace after an agent's socket closed is over: the call ends with
        ``agent_gone`` unless the console came back and resumed it."""
        call = self.calls.get(call_id)
        if call is not None and call.agent is link:
            self._end_call(call, CallEndReason.AGENT_GONE)
            self.publish()

    def agent_message(self, link: AgentLink, raw: str | bytes) -> None:
        """Handle one raw message from an agent console."""
        if link not in self.agents:
            return
        try:
            msg = wire.parse_from_agent(raw)
            self._agent_handle(link, msg)
        except WireError as exc:
            self._refuse(link.outbox, f"agent {link.agent.username}", exc, message_type(raw))
            return
        self.publish()

    def _agent_handle(self, link: AgentLink, msg: BaseModel) -> None:
        match msg:
            case wire.Ping():
                link.outbox.send(wire.Pong(server_time=self.clock()))
            case wire.AnswerNext(service_id=service_id):
                self._answer_next(link, service_id)
            case wire.Answer(call_id=call_id) | wire.Ice(call_id=call_id):
                self._call_of(call_id, link).booth.outbox.send(msg)
            case wire.Hangup(call_id=call_id, reason=reason):
                self._end_call(
                    self._call_of(call_id, link), _hangup_reason(reason, CallEndReason.AGENT_HANGUP)
                )
            case wire.ResumeCall(call_id=call_id, service_id=service_id):
                self._claim_call(link, call_id, service_id)
            case wire.SetPresence(status=status):
                if link.call_id is not None:
                    link.presence_after_call = AgentPresence(status)
                else:
                    link.presence = AgentPresence(status)
                log.info("agent %s is %s", link.agent.username, status)
            case _:  # pragma: no cover - the parser only yields the types above
                raise WireError(ErrorCode.UNKNOWN_TYPE, "unexpected message")

    def _claim_call(self, link: AgentLink, call_id: str, service_id: str) -> None:
        if service_id not in link.agent.services or self.catalogue.get(service_id) is None:
            raise WireError(
                ErrorCode.SERVICE_FORBIDDEN, f"you may not answer service {service_id!r}"
            )
        call = self.calls.get(call_id)
        if (
            call is not None
            and call.agent not in self.agents
            and call.agent.agent.username == link.agent.username
        ):
            # The console's socket blipped within the grace: same call, new socket.
            old = call.agent
            call.agent = link
            link.call_id = call_id
            link.presence_after_call = old.presence_after_call
            link.presence = AgentPresence.IN_CALL
            old.call_id = None
            link.outbox.send(wire.CallResumed(call_id=call_id))
            log.info("call %s: agent %s back on a new socket", call_id, link.agent.username)
            return
        if call is not None or self._busy(link.agent.username):
            raise WireError(ErrorCode.BUSY, "you are already in a call")
        self.agent_claims[call_id] = (link, service_id)
        self._try_resume(call_id)

    def _busy(self, username: str) -> bool:
        return any(c.agent.agent.username == username for c in self.calls.values())

    def _try_resume(self, call_id: str) -> None:
        """Both ends named the same call after reconnecting: route it again."""
        booth = self.booth_claims.get(call_id)
        claim = self.agent_claims.get(call_id)
        if booth is None or claim is None:
            return
        del self.booth_claims[call_id], self.agent_claims[call_id]
        agent, service_id = claim
        if booth.call_id is not None or self._busy(agent.agent.username):
            log.warning("call %s cannot be resumed: a side is in another call", call_id)
            return
        ticket = self.queues.leave(booth.booth_id)
        now = self.clock()
        call = Call(
            call_id=call_id,
            booth=booth,
            agent=agent,
            service_id=service_id,
            ticket_id="resumed",
            started_at=now,
            language=ticket.language if ticket is not None else "fr",
            joined_at=ticket.joined_at if ticket is not None else now,
        )
        self.calls[call_id] = call
        booth.call_id = agent.call_id = call_id
        booth.last_queued = None
        agent.presence_after_call = agent.presence
        agent.presence = AgentPresence.IN_CALL
        booth.outbox.send(wire.CallResumed(call_id=call_id))
        agent.outbox.send(wire.CallResumed(call_id=call_id))
        self._emit(
            CallEvent(
                agent.agent.username,
                "call.resumed",
                call_id,
                {"service": service_id, "booth": booth.booth_id},
            )
        )
        log.info(
            "call %s resumed: agent %s and booth %s named it after reconnecting",
            call_id,
            agent.agent.username,
            booth.booth_id,
        )

    def _answer_next(self, link: AgentLink, service_id: str | None) -> None:
        username = link.agent.username
        if any(a.call_id is not None for a in self.agents if a.agent.username == username):
            raise WireError(ErrorCode.BUSY, "you are already in a call")
        if service_id is not None:
            if service_id not in link.agent.services:
                raise WireError(
                    ErrorCode.SERVICE_FORBIDDEN, f"you may not answer service {service_id!r}"
                )
            if self.catalogue.get(service_id) is None:
                raise WireError(ErrorCode.UNKNOWN_SERVICE, f"no service {service_id!r}")
            allowed = [service_id]
        else:
            allowed = [s for s in link.agent.services if self.catalogue.get(s) is not None]
        ticket = self.queues.take_next(allowed)
        if ticket is None:
            raise WireError(ErrorCode.QUEUE_EMPTY, "nobody is waiting")
        booth = self.booths[ticket.booth_id]
        service = self.catalogue.get(ticket.service_id)
        assert service is not None  # noqa: S101 - tickets exist only for catalogue services
        call = Call(
            call_id=f"c-{secrets.token_hex(8)}",
            booth=booth,
            agent=link,
            service_id=ticket.service_id,
            ticket_id=ticket.ticket_id,
            started_at=self.clock(),
            language=ticket.language,
            joined_at=ticket.joined_at,
        )
        self.calls[call.call_id] = call
        booth.call_id = call.call_id
        booth.last_queued = None
        link.call_id = call.call_id
        link.presence_after_call = link.presence
        link.presence = AgentPresence.IN_CALL
        link.outbox.send(
            wire.CallAssigned(
                call_id=call.call_id,
                ticket_id=ticket.ticket_id,
                service_id=service.id,
                service_name=service.name_in("fr"),
                booth_name=booth.name,
                language=ticket.language,
                waited_s=max(0, round(self.clock() - ticket.joined_at)),
                ice_servers=self.ice_servers_for(call.call_id, "agent"),
                ice_transport_policy=self.ice_transport_policy,
                recording=service.recording,
            )
        )
        booth.outbox.send(
            wire.CallStarted(
                call_id=call.call_id,
                agent_name=link.agent.display_name,
                ice_servers=self.ice_servers_for(call.call_id, "booth"),
                ice_transport_policy=self.ice_transport_policy,
            )
        )
        self._emit(
            CallEvent(
                username,
                "call.answered",
                call.call_id,
                {
                    "service": service.id,
                    "booth": booth.booth_id,
                    "ticket": ticket.ticket_id,
                    "waited_s": max(0, round(self.clock() - ticket.joined_at)),
                },
            )
        )
        log.info(
            "call %s: agent %s answered booth %s (%s)",
            call.call_id,
            username,
            booth.booth_id,
            service.id,
        )

    # ------------------------------------------------------------------ calls

    def _call_of(self, call_id: str, sender: BoothLink | AgentLink) -> Call:
        call = self.calls.get(call_id)
        if call is None:
            raise WireError(ErrorCode.NO_CALL, f"no current call {call_id!r}")
        if sender is not call.booth and sender is not call.agent:
            raise WireError(ErrorCode.NOT_YOUR_CALL, f"call {call_id!r} is not yours")
        return call

    def _end_call(self, call: Call, reason: CallEndReason) -> None:
        del self.calls[call.call_id]
        call.booth.call_id = None
        call.agent.call_id = None
        call.agent.presence = call.agent.presence_after_call
        duration = self.clock() - call.started_at
        self.queues.record_call_duration(call.service_id, duration)
        ended = wire.CallEnded(call_id=call.call_id, reason=reason)
        if reason in (CallEndReason.BOOTH_HANGUP, CallEndReason.BOOTH_GONE):
            call.agent.outbox.send(ended)
        elif reason in (CallEndReason.RELAY_FAILED, CallEndReason.LINK_LOST):
            # Either side may have failed to reach the relay or lost the other; both
            # hear why (the one that said so has already closed its call and ignores it).
            call.agent.outbox.send(ended)
            call.booth.outbox.send(ended)
        else:
            call.booth.outbox.send(ended)
        self._forget_old_calls()
        self.ended_calls[call.call_id] = (
            call.agent.agent.username,
            self.clock(),
            call.booth.booth_id,
        )
        self.rateable[call.call_id] = (
            call.booth.booth_id,
            call.service_id,
            call.agent.agent.username,
        )
        if reason in REQUEUE_REASONS:
            self.broken_calls[call.call_id] = BrokenCall(
                call.booth.booth_id, call.service_id, call.language, call.joined_at, self.clock()
            )
        self._emit(
            CallEvent(
                call.agent.agent.username,
                "call.ended",
                call.call_id,
                {
                    "service": call.service_id,
                    "booth": call.booth.booth_id,
                    "reason": reason.value,
                    "duration_s": round(duration),
                },
            )
        )
        log.info("call %s ended after %.0f s: %s", call.call_id, duration, reason.value)

    # ------------------------------------------------------------------ pushes

    def publish(self) -> None:
        """Push ``queued`` to booths and ``queues`` to agents whose picture changed."""
        for ticket in self.queues.all_tickets():
            booth = self.booths[ticket.booth_id]
            position = self.queues.position(ticket.booth_id) or 1
            estimate = self.queues.estimated_wait_s(
                ticket.service_id, position, self.agents_available(ticket.service_id)
            )
            state = (ticket.ticket_id, position, estimate)
            if booth.last_queued != state:
                booth.last_queued = state
                booth.outbox.send(
                    wire.Queued(
                        ticket_id=ticket.ticket_id,
                        service_id=ticket.service_id,
                        position=position,
                        estimated_wait_s=estimate,
                    )
                )
        for agent in self.agents:
            services = self._queues_for(agent.agent)
            if agent.last_queues != services:
                agent.last_queues = services
                agent.outbox.send(wire.Queues(server_time=self.clock(), services=services))

    def supervisor_view(self, services: list[str]) -> wire.SupervisorView:
        """Queues and calls in progress of ``services``, for a supervisor (read-only)."""
        calls = [
            wire.OngoingCall(
                service_id=call.service_id,
                service_name=self._service_name(call.service_id),
                agent_name=call.agent.agent.display_name,
                booth_name=call.booth.name,
                started_at=call.started_at,
            )
            for call in sorted(self.calls.values(), key=lambda c: c.started_at)
            if call.service_id in services
        ]
        return wire.SupervisorView(
            server_time=self.clock(), services=self._queues_of(services), calls=calls
        )

    def _service_name(self, service_id: str) -> str:
        service = self.catalogue.get(service_id)
        return service.name_in("fr") if service is not None else service_id

    def _queues_for(self, agent: AgentInfo) -> list[wire.ServiceQueue]:
        return self._queues_of(agent.services)

    def _queues_of(self, allowed: list[str]) -> list[wire.ServiceQueue]:
        now = self.now()
        views = []
        for service in self.catalogue.services:
            if service.id not in allowed:
                continue
            waiting = [
                wire.WaitingCitizen(
                    ticket_id=t.ticket_id,
                    booth_name=self.booths[t.booth_id].name,
                    language=t.language,
                    waiting_since=t.joined_at,
                )
                for t in self.queues.waiting(service.id)
            ]
            views.append(
                wire.ServiceQueue(
                    service_id=service.id,
                    name=service.name_in("fr"),
                    open_now=service.is_open(now),
                    agents_available=self.agents_available(service.id),
                    estimated_wait_s=self.estimate_for_newcomer(service.id),
                    waiting=waiting,
                )
            )
        return views

    @staticmethod
    def _refuse(outbox: Outbox, who: str, exc: WireError, ref: str | None) -> None:
        log.warning("refused message from %s (%s): %s", who, ref or "?", exc)
        outbox.send(wire.Error(code=exc.code, message=exc.reason, ref=ref))

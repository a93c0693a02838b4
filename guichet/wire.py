"""Wire messages shared by the booth, the switchboard and (as JSON) the agent console.

Every message on the signaling WebSockets and on the call's data channel is one of
the Pydantic models below, serialised as JSON with a ``v`` (protocol version) and a
``type`` field.  Both ends import this module; the agent console follows the same
shapes (see ``docs/protocol.md``).  Unknown, malformed or wrong-version messages are
rejected with a :class:`WireError` carrying a machine code and a plain reason.
"""

from __future__ import annotations

import json
from enum import StrEnum
from functools import cache
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

PROTOCOL_VERSION = 1
MAX_MESSAGE_BYTES = 256 * 1024
"""A signaling message larger than this is refused before parsing."""
MAX_SDP_CHARS = 100_000
MAX_CHAT_CHARS = 2_000

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
LanguageCode = Annotated[
    str, Field(min_length=2, max_length=8, pattern=r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")
]


class ErrorCode(StrEnum):
    """Why a message was refused; stable strings that clients may branch on."""

    MALFORMED = "malformed"
    TOO_LARGE = "too_large"
    UNKNOWN_TYPE = "unknown_type"
    UNSUPPORTED_VERSION = "unsupported_version"
    UNAUTHORIZED = "unauthorized"
    NOT_YOUR_CALL = "not_your_call"
    NO_CALL = "no_call"
    QUEUE_EMPTY = "queue_empty"
    SERVICE_FORBIDDEN = "service_forbidden"
    SERVICE_CLOSED = "service_closed"
    UNKNOWN_SERVICE = "unknown_service"
    ALREADY_QUEUED = "already_queued"
    NOT_QUEUED = "not_queued"
    BUSY = "busy"
    REPLACED = "replaced"


class WireError(Exception):
    """A message that cannot be accepted, with a code and a reason a person can read."""

    def __init__(self, code: ErrorCode, reason: str) -> None:
        super().__init__(f"{code.value}: {reason}")
        self.code = code
        self.reason = reason


class _Msg(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    v: Literal[1] = 1


# ---------------------------------------------------------------------------
# WebRTC pieces
# ---------------------------------------------------------------------------


class SessionDescription(BaseModel):
    """An SDP offer or answer, as ``RTCSessionDescription`` has it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["offer", "answer"]
    sdp: Annotated[str, Field(min_length=1, max_length=MAX_SDP_CHARS)]


class IceCandidate(BaseModel):
    """A trickled ICE candidate, as the browser's ``RTCIceCandidateInit``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    candidate: Annotated[str, Field(max_length=1024)]
    sdpMid: str | None = None
    sdpMLineIndex: int | None = None


class IceServer(BaseModel):
    """One STUN/TURN server handed to both peers; never a third-party one."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    urls: list[str]
    username: str | None = None
    credential: str | None = None


# ---------------------------------------------------------------------------
# Messages both directions share
# ---------------------------------------------------------------------------


class Ping(_Msg):
    type: Literal["ping"] = "ping"


class Pong(_Msg):
    type: Literal["pong"] = "pong"
    server_time: float


class Offer(_Msg):
    """The booth's SDP offer for a call (booth -> server -> agent)."""

    type: Literal["offer"] = "offer"
    call_id: Id
    description: SessionDescription


class Answer(_Msg):
    """The agent's SDP answer (agent -> server -> booth)."""

    type: Literal["answer"] = "answer"
    call_id: Id
    description: SessionDescription


class Ice(_Msg):
    """A trickled candidate; ``candidate=None`` means end of candidates."""

    type: Literal["ice"] = "ice"
    call_id: Id
    candidate: IceCandidate | None = None


class Hangup(_Msg):
    """One side ends the call."""

    type: Literal["hangup"] = "hangup"
    call_id: Id
    reason: Annotated[str, Field(max_length=200)] = "hangup"


class CallEndReason(StrEnum):
    BOOTH_HANGUP = "booth_hangup"
    AGENT_HANGUP = "agent_hangup"
    BOOTH_GONE = "booth_gone"
    AGENT_GONE = "agent_gone"


class CallEnded(_Msg):
    """The server tells a peer the call is over and why."""

    type: Literal["call_ended"] = "call_ended"
    call_id: Id
    reason: CallEndReason


class Error(_Msg):
    """A refused message: ``code`` for programs, ``message`` for people."""

    type: Literal["error"] = "error"
    code: ErrorCode
    message: str
    ref: str | None = None
    """The ``type`` of the message that was refused, when known."""


# ---------------------------------------------------------------------------
# Booth <-> server
# ---------------------------------------------------------------------------


class BoothHello(_Msg):
    """First message a booth sends on its WebSocket: proves who it is."""

    type: Literal["hello"] = "hello"
    token: Annotated[str, Field(min_length=8, max_length=256)]
    app_version: Annotated[str, Field(max_length=64)] = "unknown"


class JoinQueue(_Msg):
    type: Literal["join_queue"] = "join_queue"
    service_id: Id
    language: LanguageCode = "fr"


class LeaveQueue(_Msg):
    type: Literal["leave_queue"] = "leave_queue"


class BoothWelcome(_Msg):
    type: Literal["welcome"] = "welcome"
    booth_id: Id
    booth_name: str


class Queued(_Msg):
    """The booth's citizen is in a queue; sent on join and whenever the figures change."""

    type: Literal["queued"] = "queued"
    ticket_id: Id
    service_id: Id
    position: Annotated[int, Field(ge=1)]
    estimated_wait_s: Annotated[int, Field(ge=0)]


class LeftQueue(_Msg):
    type: Literal["left_queue"] = "left_queue"
    ticket_id: Id
    reason: Literal["cancelled", "service_closed"]


class CallStarted(_Msg):
    """An agent answered: the booth now sends its offer."""

    type: Literal["call_started"] = "call_started"
    call_id: Id
    agent_name: str
    ice_servers: list[IceServer] = Field(default_factory=list)


BoothToServer = Annotated[
    BoothHello | JoinQueue | LeaveQueue | Offer | Ice | Hangup | Ping,
    Field(discriminator="type"),
]
ServerToBooth = Annotated[
    BoothWelcome | Queued | LeftQueue | CallStarted | Answer | Ice | CallEnded | Error | Pong,
    Field(discriminator="type"),
]

# ---------------------------------------------------------------------------
# Agent <-> server
# ---------------------------------------------------------------------------


class AgentPresence(StrEnum):
    AVAILABLE = "available"
    PAUSED = "paused"
    IN_CALL = "in_call"


class AnswerNext(_Msg):
    """Take the citizen who has waited longest (in ``service_id``, or any allowed service)."""

    type: Literal["answer_next"] = "answer_next"
    service_id: Id | None = None


class SetPresence(_Msg):
    type: Literal["set_presence"] = "set_presence"
    status: Literal[AgentPresence.AVAILABLE, AgentPresence.PAUSED]


class AgentInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    username: str
    display_name: str
    services: list[str]


class AgentWelcome(_Msg):
    type: Literal["agent_welcome"] = "agent_welcome"
    agent: AgentInfo
    presence: AgentPresence


class WaitingCitizen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    ticket_id: Id
    booth_name: str
    language: str
    waiting_since: float
    """Server wall-clock time (Unix seconds) when the citizen joined."""


class ServiceQueue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    service_id: Id
    name: str
    open_now: bool
    agents_available: int
    estimated_wait_s: int
    waiting: list[WaitingCitizen]


class Queues(_Msg):
    """Live picture of the queues an agent may answer (pushed on every change)."""

    type: Literal["queues"] = "queues"
    server_time: float
    services: list[ServiceQueue]


class CallAssigned(_Msg):
    """The agent got a citizen; the booth's offer follows."""

    type: Literal["call_assigned"] = "call_assigned"
    call_id: Id
    ticket_id: Id
    service_id: Id
    service_name: str
    booth_name: str
    language: str
    waited_s: int
    ice_servers: list[IceServer] = Field(default_factory=list)


AgentToServer = Annotated[
    AnswerNext | Answer | Ice | Hangup | SetPresence | Ping,
    Field(discriminator="type"),
]
ServerToAgent = Annotated[
    AgentWelcome | Queues | CallAssigned | Offer | Ice | CallEnded | Error | Pong,
    Field(discriminator="type"),
]

# ---------------------------------------------------------------------------
# Booth <-> agent, peer to peer over the call's data channel ("guichet")
# ---------------------------------------------------------------------------

DATA_CHANNEL_LABEL = "guichet"


class Chat(_Msg):
    type: Literal["chat"] = "chat"
    id: Id
    text: Annotated[str, Field(min_length=1, max_length=MAX_CHAT_CHARS)]


class Heartbeat(_Msg):
    """Sent every second by both peers so each notices the other gone in seconds."""

    type: Literal["heartbeat"] = "heartbeat"
    seq: Annotated[int, Field(ge=0)]


PeerMessage = Annotated[Chat | Heartbeat, Field(discriminator="type")]

# ---------------------------------------------------------------------------
# HTTP bodies
# ---------------------------------------------------------------------------


class ServicePublic(BaseModel):
    """A service as the booth shows it; texts keyed by language code."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: Id
    name: dict[str, str]
    description: dict[str, str]
    icon: str
    open_now: bool
    hours: dict[str, str]
    """Human-readable opening hours per language, e.g. ``{"fr": "lun.-ven. 9 h-17 h"}``."""
    waiting: int
    estimated_wait_s: int


class Catalogue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    services: list[ServicePublic]
    server_time: float


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=256)]


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------

_T = TypeVar("_T")

_ADAPTERS: dict[str, TypeAdapter[Any]] = {
    "booth": TypeAdapter(BoothToServer),
    "to_booth": TypeAdapter(ServerToBooth),
    "agent": TypeAdapter(AgentToServer),
    "to_agent": TypeAdapter(ServerToAgent),
    "peer": TypeAdapter(PeerMessage),
}


@cache
def _known_types(kind: str) -> frozenset[str]:
    schema = _ADAPTERS[kind].json_schema()
    mapping = schema.get("discriminator", {}).get("mapping", {})
    return frozenset(mapping)


def _parse(kind: str, raw: str | bytes) -> Any:
    if len(raw) > MAX_MESSAGE_BYTES:
        raise WireError(ErrorCode.TOO_LARGE, f"message of {len(raw)} bytes is over the limit")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WireError(ErrorCode.MALFORMED, "message is not valid JSON") from exc
    if not isinstance(data, dict):
        raise WireError(ErrorCode.MALFORMED, "message must be a JSON object")
    msg_type = data.get("type")
    if not isinstance(msg_type, str):
        raise WireError(ErrorCode.MALFORMED, "message has no 'type'")
    if msg_type not in _known_types(kind):
        raise WireError(ErrorCode.UNKNOWN_TYPE, f"unknown message type {msg_type[:40]!r}")
    if data.get("v", PROTOCOL_VERSION) != PROTOCOL_VERSION:
        raise WireError(
            ErrorCode.UNSUPPORTED_VERSION,
            f"protocol version {data.get('v')!r} is not supported"
            f" (this end speaks {PROTOCOL_VERSION})",
        )
    try:
        return _ADAPTERS[kind].validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"][1:]) or "message"
        raise WireError(ErrorCode.MALFORMED, f"{msg_type}: {where}: {first['msg']}") from exc


def parse_from_booth(
    raw: str | bytes,
) -> BoothHello | JoinQueue | LeaveQueue | Offer | Ice | Hangup | Ping:
    """Parse a message a booth sent to the server; raises :class:`WireError`."""
    return _parse("booth", raw)  # type: ignore[no-any-return]


def parse_to_booth(
    raw: str | bytes,
) -> BoothWelcome | Queued | LeftQueue | CallStarted | Answer | Ice | CallEnded | Error | Pong:
    """Parse a message the server sent to a booth; raises :class:`WireError`."""
    return _parse("to_booth", raw)  # type: ignore[no-any-return]


def parse_from_agent(raw: str | bytes) -> AnswerNext | Answer | Ice | Hangup | SetPresence | Ping:
    """Parse a message an agent console sent to the server; raises :class:`WireError`."""
    return _parse("agent", raw)  # type: ignore[no-any-return]


def parse_to_agent(
    raw: str | bytes,
) -> AgentWelcome | Queues | CallAssigned | Offer | Ice | CallEnded | Error | Pong:
    """Parse a message the server sent to an agent console; raises :class:`WireError`."""
    return _parse("to_agent", raw)  # type: ignore[no-any-return]


def parse_peer(raw: str | bytes) -> Chat | Heartbeat:
    """Parse a data-channel message between booth and agent; raises :class:`WireError`."""
    return _parse("peer", raw)  # type: ignore[no-any-return]


def dump(msg: BaseModel) -> str:
    """Serialise a message to the JSON text sent on the wire."""
    return msg.model_dump_json()

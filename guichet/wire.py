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
from typing import Annotated, Any, Literal, TypeVar, get_args

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


IceTransportPolicy = Literal["all", "relay"]
"""``relay``: a peer uses TURN relay candidates only (``RTCConfiguration.iceTransportPolicy``)."""


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


SurveyReason = Literal["wait", "technical", "unclear", "other"]
SURVEY_REASONS: tuple[str, ...] = get_args(SurveyReason)


class Survey(_Msg):
    """Booth -> server: the citizen's rating of a call that just ended (optional, once).

    Three faces, 1 (unhappy) to 3 (happy), and maybe one reason from a fixed
    list: no free text, so nothing personal is kept."""

    type: Literal["survey"] = "survey"
    call_id: Id
    rating: Annotated[int, Field(ge=1, le=3)]
    reason: SurveyReason | None = None


class CallEndReason(StrEnum):
    BOOTH_HANGUP = "booth_hangup"
    AGENT_HANGUP = "agent_hangup"
    BOOTH_GONE = "booth_gone"
    AGENT_GONE = "agent_gone"
    LINK_LOST = "link_lost"
    """One peer stopped hearing the other on the call's data channel (no heartbeat for
    a few seconds: the other browser or booth is gone, or the network between them is
    cut) and gave the call up; the booth's citizen waits again at the head of the queue."""
    RELAY_FAILED = "relay_failed"
    """The other side could not reach the TURN relay (refused or expired credentials,
    relay down) with the relay-only policy: the call cannot be set up."""


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
    """First message a booth sends on its WebSocket: proves who it is.

    An enrolled booth signs the WebSocket upgrade request with its key instead
    (``docs/provisioning.md``) and sends no token."""

    type: Literal["hello"] = "hello"
    token: Annotated[str, Field(min_length=8, max_length=256)] | None = None
    app_version: Annotated[str, Field(max_length=64)] = "unknown"
    call_id: Id | None = None
    """The call this booth is still in when it reconnects (the switchboard restarted or
    the socket dropped while the media went on peer to peer): the server learns the
    call again once the agent's console names it too (``resume_call``)."""


class JoinQueue(_Msg):
    type: Literal["join_queue"] = "join_queue"
    service_id: Id
    language: LanguageCode = "fr"
    resume_call_id: Id | None = None
    """The call that broke under this citizen (agent gone, link lost): the server puts
    them back at the head of that call's service queue, keeping their first join time,
    if that call was this booth's, of this service and ended less than
    ``REQUEUE_WINDOW_S`` ago for one of those reasons; otherwise an ordinary join."""


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
    ice_transport_policy: IceTransportPolicy = "all"


class CallResumed(_Msg):
    """Server -> booth and agent: both named this call after a reconnection; the server
    routes its hang-up and signaling again."""

    type: Literal["call_resumed"] = "call_resumed"
    call_id: Id


class ConfigAvailable(_Msg):
    """The server has a newer signed configuration for this booth: fetch it now
    (``GET /api/v1/provisioning/bundle``) instead of waiting for the next poll."""

    type: Literal["config_available"] = "config_available"
    version: Annotated[int, Field(ge=1)]


ServerToBooth = Annotated[
    BoothWelcome
    | Queued
    | LeftQueue
    | CallStarted
    | Answer
    | Ice
    | CallEnded
    | Error
    | Pong
    | ConfigAvailable
    | CallResumed,
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


ConsoleRole = Literal["agent", "supervisor"]
"""Roles of the agent console: ``agent`` answers citizens of its services,
``supervisor`` only watches their queues and calls (docs/console.md, "Roles")."""


def _agent_only() -> list[ConsoleRole]:
    return ["agent"]


class AgentInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    username: str
    display_name: str
    services: list[str]
    roles: list[ConsoleRole] = Field(default_factory=_agent_only)
    """What the person may do in the console (an older server sends no roles: agent)."""


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


class RecordingNotice(BaseModel):
    """A service whose calls are recorded: what the citizen and the agent are told.

    Guichet itself records nothing (media is peer to peer; the booth writes nothing):
    a service sets this when it records calls with its own means on the agent's side
    (a court's hearing recorder), so the citizen is told before the call starts."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    retention_days: Annotated[int, Field(ge=1, le=3650)]
    """How long the service keeps a recording, shown to the citizen."""


class OngoingCall(BaseModel):
    """A call in progress, as a supervisor sees it (no citizen data, no media)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    service_id: Id
    service_name: str
    agent_name: str
    booth_name: str
    started_at: float
    """Server wall-clock time (Unix seconds) when the agent answered."""


class SupervisorView(BaseModel):
    """Queues and ongoing calls of a supervisor's services (``GET /api/v1/supervisor/overview``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    server_time: float
    services: list[ServiceQueue]
    calls: list[OngoingCall]


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
    ice_transport_policy: IceTransportPolicy = "all"
    recording: RecordingNotice | None = None
    """Set: the service records its calls (the console shows a badge)."""


class ResumeCall(_Msg):
    """Agent -> server, after its socket came back during a call: the call it is still in."""

    type: Literal["resume_call"] = "resume_call"
    call_id: Id
    service_id: Id


AgentToServer = Annotated[
    AnswerNext | Answer | Ice | Hangup | SetPresence | Ping | ResumeCall,
    Field(discriminator="type"),
]
ServerToAgent = Annotated[
    AgentWelcome | Queues | CallAssigned | Offer | Ice | CallEnded | Error | Pong | CallResumed,
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


# -- Device work during a call (agent -> booth requests, booth -> agent reports) --

MAX_TRANSFER_BYTES = 20 * 1024 * 1024
"""Largest binary payload (a PDF to print, a scan) a receiver accepts by default."""
TRANSFER_CHUNK_BYTES = 16 * 1024
"""Raw bytes per ``transfer_chunk``: 16 KiB keeps every message inside one SCTP
message that every WebRTC stack (Chromium, Firefox, aiortc) delivers unfragmented."""
MAX_TRANSFER_CHUNK_CHARS = 4 * ((TRANSFER_CHUNK_BYTES + 2) // 3)
"""Base64 length of a full chunk: the wire bound on ``transfer_chunk.data``."""
MAX_CONCURRENT_TRANSFERS = 2
"""Transfers a receiver holds at once (in progress or completed and not yet used)."""
MAX_RECEIPT_LINES = 60
MAX_RECEIPT_LINE_CHARS = 64
MAX_QR_CHARS = 500
MAX_CODE_CHARS = 4_096
MAX_REASON_CHARS = 300

Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Mime = Annotated[str, Field(max_length=100, pattern=r"^[a-z0-9.+-]+/[a-z0-9.+-]+$")]
Reason = Annotated[str, Field(min_length=1, max_length=MAX_REASON_CHARS)]


class DeviceKind(StrEnum):
    """What an agent can ask the booth's peripherals to do."""

    PRINT_PDF = "print_pdf"
    PRINT_RECEIPT = "print_receipt"
    READ_CARD = "read_card"
    SCAN = "scan"
    READ_CODE = "read_code"


class PrintPdfCommand(BaseModel):
    """Print an A4 PDF already sent with a transfer (``transfer_id``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["print_pdf"] = "print_pdf"
    transfer_id: Id
    title: Annotated[str, Field(max_length=200)] = ""


class PrintReceiptCommand(BaseModel):
    """Print a short ticket on the receipt printer: a title, lines, an optional QR code."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["print_receipt"] = "print_receipt"
    title: Annotated[str, Field(min_length=1, max_length=MAX_RECEIPT_LINE_CHARS)]
    lines: Annotated[
        list[Annotated[str, Field(max_length=MAX_RECEIPT_LINE_CHARS)]],
        Field(max_length=MAX_RECEIPT_LINES),
    ] = Field(default_factory=list)
    qr: Annotated[str, Field(min_length=1, max_length=MAX_QR_CHARS)] | None = None


class ReadCardCommand(BaseModel):
    """Ask the citizen to present a card (contactless or chip) and report what it is."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["read_card"] = "read_card"


class ScanCommand(BaseModel):
    """Scan one page; the image comes back as a booth -> agent transfer."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["scan"] = "scan"
    dpi: Literal[75, 150, 300] = 150
    colour: bool = True


class ReadCodeCommand(BaseModel):
    """Ask the citizen to show a convocation code (barcode / QR) to the reader."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["read_code"] = "read_code"


DeviceCommand = Annotated[
    PrintPdfCommand | PrintReceiptCommand | ReadCardCommand | ScanCommand | ReadCodeCommand,
    Field(discriminator="kind"),
]


class DeviceRequest(_Msg):
    """Agent -> booth: do one piece of device work; every report names ``request_id``."""

    type: Literal["device_request"] = "device_request"
    request_id: Id
    command: DeviceCommand


class CancelRequest(_Msg):
    """Agent -> booth: give up a request (the booth answers ``device_error cancelled``)."""

    type: Literal["cancel_request"] = "cancel_request"
    request_id: Id


class DevicePhase(StrEnum):
    WAITING_CONSENT = "waiting_consent"
    CONSENT_REFUSED = "consent_refused"
    WORKING = "working"
    DONE = "done"
    FAILED = "failed"


class DeviceProgress(_Msg):
    """Booth -> agent: where a request stands, with a plain French sentence."""

    type: Literal["device_progress"] = "device_progress"
    request_id: Id
    phase: DevicePhase
    message: Annotated[str, Field(max_length=MAX_REASON_CHARS)] = ""
    percent: Annotated[int, Field(ge=0, le=100)] | None = None


class PrintOutcome(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["print_pdf", "print_receipt"]
    pages: Annotated[int, Field(ge=0)] | None = None


class CardOutcome(BaseModel):
    """What was read from a card: never its personal data, only what identifies the card."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["read_card"] = "read_card"
    card_type: Annotated[str, Field(min_length=1, max_length=64)]
    uid: Annotated[str, Field(max_length=64, pattern=r"^[0-9A-F]*$")] | None = None
    atr: Annotated[str, Field(max_length=80, pattern=r"^[0-9A-F]*$")] | None = None


class CodeOutcome(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["read_code"] = "read_code"
    text: Annotated[str, Field(min_length=1, max_length=MAX_CODE_CHARS)]
    symbology: Annotated[str, Field(max_length=32)] | None = None


class ScanOutcome(BaseModel):
    """A scanned page: the image itself travels as transfer ``transfer_id`` just before."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["scan"] = "scan"
    transfer_id: Id
    mime: Literal["image/png", "image/jpeg"]
    size: Annotated[int, Field(ge=1)]
    width: Annotated[int, Field(ge=1, le=20_000)]
    height: Annotated[int, Field(ge=1, le=20_000)]
    dpi: Annotated[int, Field(ge=1, le=1200)]


DeviceOutcome = Annotated[
    PrintOutcome | CardOutcome | CodeOutcome | ScanOutcome, Field(discriminator="kind")
]


class DeviceResult(_Msg):
    """Booth -> agent: the request succeeded; ``result.kind`` is the request's kind."""

    type: Literal["device_result"] = "device_result"
    request_id: Id
    result: DeviceOutcome


class DeviceErrorCode(StrEnum):
    """Why device work failed; stable strings the console maps to French texts."""

    BAD_REQUEST = "bad_request"
    DUPLICATE_REQUEST = "duplicate_request"
    UNKNOWN_REQUEST = "unknown_request"
    BUSY = "busy"
    UNAVAILABLE = "unavailable"
    NOT_SUPPORTED = "not_supported"
    CONSENT_REFUSED = "consent_refused"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    TRANSFER_FAILED = "transfer_failed"
    FAILED = "failed"


class DeviceAuditOutcome(StrEnum):
    """How device work ended, as the console and the booth report it to the audit trail."""

    DONE = "done"
    FAILED = "failed"
    REFUSED = "refused"
    CANCELLED = "cancelled"


class DeviceAuditReport(BaseModel):
    """Agent console -> server (``POST /api/v1/agent/audit``): device work of a call ended.

    Only metadata: what kind of work, how it ended, how many pages. Never what was read,
    scanned or printed (no card identifier, no code, no image); unknown fields are refused.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    call_id: Id
    request_id: Id
    kind: DeviceKind
    outcome: DeviceAuditOutcome
    error: DeviceErrorCode | None = None
    pages: Annotated[int, Field(ge=0, le=10_000)] | None = None


class DeviceWork(_Msg):
    """Booth -> server: device work the agent asked for in call ``call_id`` has ended.

    The booth's own account for the audit trail (the console's report can be missing:
    a console that never reports must not leave the work untraced). Only metadata:
    the kind of work, how it ended, the page count, the size in bytes of the document
    printed or scanned. Never what was read, scanned or printed (no card identifier, no
    code, no image, no title); unknown fields are refused.
    """

    type: Literal["device_work"] = "device_work"
    call_id: Id
    request_id: Id
    kind: DeviceKind
    outcome: DeviceAuditOutcome
    error: DeviceErrorCode | None = None
    pages: Annotated[int, Field(ge=0, le=10_000)] | None = None
    size: Annotated[int, Field(ge=0, le=MAX_TRANSFER_BYTES)] | None = None
    """Bytes of the PDF printed or of the image scanned."""


BoothToServer = Annotated[
    BoothHello | JoinQueue | LeaveQueue | Offer | Ice | Hangup | Ping | Survey | DeviceWork,
    Field(discriminator="type"),
]


class AuditReceipt(BaseModel):
    """The audit entry a report became: its place in the chain."""

    seq: int
    hash: Sha256Hex


class DeviceErrorReport(_Msg):
    """Booth -> agent: the request failed; ``reason`` is plain French for the agent."""

    type: Literal["device_error"] = "device_error"
    request_id: Id
    code: DeviceErrorCode
    reason: Reason


class TransferErrorCode(StrEnum):
    TOO_LARGE = "too_large"
    TOO_MANY = "too_many"
    BAD_START = "bad_start"
    UNKNOWN_TRANSFER = "unknown_transfer"
    DUPLICATE_TRANSFER = "duplicate_transfer"
    BAD_CHUNK = "bad_chunk"
    DUPLICATE_CHUNK = "duplicate_chunk"
    MISSING_CHUNKS = "missing_chunks"
    CHECKSUM = "checksum"
    ABORTED = "aborted"


class TransferStart(_Msg):
    """Opens a binary transfer of ``size`` bytes in ``chunks`` chunks (either direction)."""

    type: Literal["transfer_start"] = "transfer_start"
    transfer_id: Id
    name: Annotated[str, Field(max_length=200)] = ""
    mime: Mime
    size: Annotated[int, Field(ge=1)]
    sha256: Sha256Hex
    chunks: Annotated[int, Field(ge=1)]


class TransferChunk(_Msg):
    """Chunk ``index`` (0-based): standard base64 of at most ``TRANSFER_CHUNK_BYTES``."""

    type: Literal["transfer_chunk"] = "transfer_chunk"
    transfer_id: Id
    index: Annotated[int, Field(ge=0)]
    data: Annotated[str, Field(min_length=1, max_length=MAX_TRANSFER_CHUNK_CHARS)]


class TransferEnd(_Msg):
    """Every chunk was sent: the receiver checks the count and the sha256."""

    type: Literal["transfer_end"] = "transfer_end"
    transfer_id: Id


class TransferAbort(_Msg):
    """Either side gives up a transfer (sender: cancelled; receiver: refused, with why)."""

    type: Literal["transfer_abort"] = "transfer_abort"
    transfer_id: Id
    code: TransferErrorCode = TransferErrorCode.ABORTED
    reason: Reason = "transfert interrompu"


TransferMessage = TransferStart | TransferChunk | TransferEnd | TransferAbort
DeviceMessage = (
    DeviceRequest
    | CancelRequest
    | DeviceProgress
    | DeviceResult
    | DeviceErrorReport
    | TransferStart
    | TransferChunk
    | TransferEnd
    | TransferAbort
)
AnyPeerMessage = Chat | Heartbeat | DeviceMessage
DEVICE_MESSAGE_TYPES: tuple[type[BaseModel], ...] = (
    DeviceRequest,
    CancelRequest,
    DeviceProgress,
    DeviceResult,
    DeviceErrorReport,
    TransferStart,
    TransferChunk,
    TransferEnd,
    TransferAbort,
)

PeerMessage = Annotated[AnyPeerMessage, Field(discriminator="type")]

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
    recording: RecordingNotice | None = None
    """Set: the booth says, before the call, that the service records it."""


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
    except RecursionError as exc:  # "[[[[..." within the size limit: the stack, not memory
        raise WireError(ErrorCode.MALFORMED, "message is nested too deeply") from exc
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
) -> BoothHello | JoinQueue | LeaveQueue | Offer | Ice | Hangup | Ping | Survey | DeviceWork:
    """Parse a message a booth sent to the server; raises :class:`WireError`."""
    return _parse("booth", raw)  # type: ignore[no-any-return]


def parse_to_booth(
    raw: str | bytes,
) -> (
    BoothWelcome
    | Queued
    | LeftQueue
    | CallStarted
    | Answer
    | Ice
    | CallEnded
    | Error
    | Pong
    | ConfigAvailable
    | CallResumed
):
    """Parse a message the server sent to a booth; raises :class:`WireError`."""
    return _parse("to_booth", raw)  # type: ignore[no-any-return]


def parse_from_agent(
    raw: str | bytes,
) -> AnswerNext | Answer | Ice | Hangup | SetPresence | Ping | ResumeCall:
    """Parse a message an agent console sent to the server; raises :class:`WireError`."""
    return _parse("agent", raw)  # type: ignore[no-any-return]


def parse_to_agent(
    raw: str | bytes,
) -> AgentWelcome | Queues | CallAssigned | Offer | Ice | CallEnded | Error | Pong | CallResumed:
    """Parse a message the server sent to an agent console; raises :class:`WireError`."""
    return _parse("to_agent", raw)  # type: ignore[no-any-return]


def parse_peer(raw: str | bytes) -> AnyPeerMessage:
    """Parse a data-channel message between booth and agent; raises :class:`WireError`."""
    return _parse("peer", raw)  # type: ignore[no-any-return]


def dump(msg: BaseModel) -> str:
    """Serialise a message to the JSON text sent on the wire."""
    return msg.model_dump_json()

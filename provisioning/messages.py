"""HTTP messages of the provisioning API, shared by the server and the booth client."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

SiteId = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9-]*$")]
"""A site (town hall, France Services point): lower-case letters, digits and dashes."""
ENROLMENT_CODE_CHARS = 16
SQL_INT_MAX = 2**63 - 1
"""The largest integer a database column takes: larger ones are refused at the door."""


class _Msg(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EnrolRequest(_Msg):
    """What a booth sends once, with the code its technician typed or scanned."""

    site: SiteId
    code: Annotated[str, Field(min_length=1, max_length=64)]
    public_key: Annotated[str, Field(min_length=44, max_length=44)]
    """The booth's Ed25519 public key, 32 raw bytes in base64. The private key stays."""


class EnrolResponse(_Msg):
    """The booth's new identity and the key its config bundles are signed with."""

    booth_id: str
    site: SiteId
    server_public_key: str
    server_key_id: str


class RefusalCode(StrEnum):
    """Why enrolment or a signed request was refused (the ``code`` of the error detail)."""

    UNKNOWN_CODE = "unknown_code"
    CODE_EXPIRED = "code_expired"
    CODE_USED = "code_used"
    WRONG_SITE = "wrong_site"
    BAD_KEY = "bad_key"
    KEY_IN_USE = "key_in_use"
    UNSIGNED = "unsigned"
    CLOCK_SKEW = "clock_skew"
    UNKNOWN_BOOTH = "unknown_booth"
    BAD_SIGNATURE = "bad_signature"
    REPLAYED = "replayed"
    REVOKED = "revoked"


class Refusal(_Msg):
    """Error detail of every refused provisioning request."""

    code: RefusalCode
    reason: str


class RefusalAnswer(BaseModel):
    """The body of a refused provisioning request (FastAPI puts the refusal in ``detail``;
    a body that is not JSON at all gets FastAPI's own message instead)."""

    detail: Refusal | str


class BundleReport(_Msg):
    """A booth telling the server it refused (or rolled back) a bundle."""

    version: Annotated[int, Field(ge=0, le=SQL_INT_MAX)] | None = None
    """The version refused, when the booth could read it (not for a tampered bundle)."""
    code: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z_]+$")]
    """A ``BundleRejected`` code, or ``health_check`` for a rolled-back apply."""
    reason: Annotated[str, Field(max_length=500)]


class BundleRejectionPublic(_Msg):
    """The last rejection a booth reported (the fleet view shows it)."""

    version: int | None
    code: str
    reason: str
    reported_at: datetime


class FleetBooth(_Msg):
    """One booth as the fleet list shows it."""

    booth_id: str
    site: str
    key_id: str
    enrolled_at: datetime
    last_seen_at: datetime | None
    bundle_version: int
    revoked: bool
    last_rejection: BundleRejectionPublic | None = None


# ---------------------------------------------------------------------------
# Heartbeat (booth -> server, signed)
# ---------------------------------------------------------------------------

HEARTBEAT_VERSION = 1


class PeripheralStatus(StrEnum):
    """The device manager's view of one peripheral (see kiosk/devices)."""

    OK = "ok"
    DEGRADED = "degraded"
    UNAVAILABLE = "unavailable"


class PeripheralState(_Msg):
    role: Annotated[str, Field(min_length=1, max_length=40)]
    state: PeripheralStatus
    reason: Annotated[str, Field(max_length=300)] = ""


class Heartbeat(_Msg):
    """What a booth reports every ``heartbeat_interval_s`` (``POST .../heartbeat``)."""

    v: Annotated[int, Field(ge=1, le=HEARTBEAT_VERSION)] = HEARTBEAT_VERSION
    app_version: Annotated[str, Field(max_length=40)]
    config_version: Annotated[int, Field(ge=0, le=SQL_INT_MAX)] | None
    """The bundle version applied, None before the first one."""
    uptime_s: Annotated[float, Field(ge=0)]
    peripherals: Annotated[list[PeripheralState], Field(max_length=32)] = Field(
        default_factory=list
    )
    rtt_ms: Annotated[float, Field(ge=0)] | None = None
    """Round trip of the previous heartbeat to the switchboard (None on the first)."""
    last_call_at: datetime | None = None
    disk_free_mb: Annotated[float, Field(ge=0)] | None = None
    memory_used_mb: Annotated[float, Field(ge=0)] | None = None
    memory_total_mb: Annotated[float, Field(ge=0)] | None = None


class HeartbeatAck(_Msg):
    """The server's answer: the newest config version waiting, and when to come back."""

    config_version: int
    interval_s: float

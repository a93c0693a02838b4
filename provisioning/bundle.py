"""Signed configuration bundles: build and sign on the server, verify on the booth. Pure.

A bundle travels as JSON::

    {"format": "guichet-bundle/1", "key_id": "<16 hex>",
     "payload": "<base64 of canonical JSON>", "signature": "<base64 Ed25519>"}

The payload is the canonical JSON (sorted keys, no spaces, UTF-8) of
``{booth_id, version, issued_at, expires_at, config}``. The signature covers
``SIGNING_CONTEXT + payload`` exactly as sent, so the booth never has to
re-canonicalise anything to check it. Verification refuses, with a
:class:`BundleRejected` code: oversized input (before parsing), malformed JSON or
schema, another signing key, a bad signature, another booth's bundle, a version
not newer than the one applied (rollback) and an expired bundle (freeze).
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from provisioning.keys import key_id
from provisioning.schema import BoothConfig

FORMAT = "guichet-bundle/1"
SIGNING_CONTEXT = b"guichet-bundle-v1\x00"
"""Prefix of the signed bytes, so a bundle signature can never pass for another message's."""
MAX_BUNDLE_BYTES = 64 * 1024
"""A bundle larger than this is refused before it is parsed."""
DEFAULT_LIFETIME = timedelta(days=7)
"""How long a bundle stays valid; the server re-issues well before (see service.py)."""
BoothId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]


class RejectCode(StrEnum):
    """Why a booth refused a bundle; stable strings for logs and the fleet console."""

    TOO_LARGE = "too_large"
    MALFORMED = "malformed"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    WRONG_BOOTH = "wrong_booth"
    ROLLBACK = "rollback"
    EXPIRED = "expired"


class BundleRejected(Exception):
    """A bundle the booth must not apply, with a code and a reason a technician can read."""

    def __init__(self, code: RejectCode, reason: str) -> None:
        super().__init__(f"{code.value}: {reason}")
        self.code = code
        self.reason = reason


class BundlePayload(BaseModel):
    """What the server signs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    booth_id: BoothId
    version: Annotated[int, Field(ge=1)]
    issued_at: AwareDatetime
    expires_at: AwareDatetime
    config: BoothConfig


class SignedBundle(BaseModel):
    """The envelope on the wire and on the booth's disk."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["guichet-bundle/1"] = "guichet-bundle/1"
    key_id: Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]
    payload: Annotated[str, Field(max_length=MAX_BUNDLE_BYTES)]
    signature: Annotated[str, Field(max_length=200)]


def canonical_json(data: Any) -> bytes:
    """Deterministic JSON bytes: sorted keys, no whitespace, UTF-8."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign_bundle(
    key: Ed25519PrivateKey,
    booth_id: str,
    version: int,
    config: BoothConfig,
    *,
    issued_at: datetime | None = None,
    lifetime: timedelta = DEFAULT_LIFETIME,
) -> bytes:
    """The signed bundle (JSON bytes) of ``config`` for one booth at one version."""
    issued = (issued_at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    payload = BundlePayload(
        booth_id=booth_id,
        version=version,
        issued_at=issued,
        expires_at=issued + lifetime,
        config=config,
    )
    body = canonical_json(payload.model_dump(mode="json"))
    signature = key.sign(SIGNING_CONTEXT + body)
    envelope = SignedBundle(
        key_id=key_id(key.public_key()),
        payload=base64.b64encode(body).decode("ascii"),
        signature=base64.b64encode(signature).decode("ascii"),
    )
    data = canonical_json(envelope.model_dump(mode="json"))
    if len(data) > MAX_BUNDLE_BYTES:
        raise ValueError(f"bundle of {len(data)} bytes exceeds {MAX_BUNDLE_BYTES}")
    return data


def verify_bundle(
    data: bytes,
    server_key: Ed25519PublicKey,
    booth_id: str,
    current_version: int | None = None,
    *,
    now: datetime | None = None,
    check_expiry: bool = True,
) -> BundlePayload:
    """Check a bundle for this booth; return its payload or raise :class:`BundleRejected`.

    ``current_version`` is the version applied now (None on a fresh booth): only a
    strictly greater version is accepted. ``check_expiry=False`` is for re-reading
    the bundle already applied: an expired config still runs the booth until a new
    one arrives (the fleet console shows it stale), it is only never *applied* late.
    """
    if len(data) > MAX_BUNDLE_BYTES:
        raise BundleRejected(
            RejectCode.TOO_LARGE, f"{len(data)} bytes, the limit is {MAX_BUNDLE_BYTES}"
        )
    try:
        envelope = SignedBundle.model_validate_json(data)
    except ValidationError as exc:
        raise BundleRejected(RejectCode.MALFORMED, f"not a bundle envelope: {_first(exc)}") from exc
    if envelope.key_id != key_id(server_key):
        raise BundleRejected(
            RejectCode.UNKNOWN_KEY,
            f"signed by key {envelope.key_id}, this booth trusts {key_id(server_key)}",
        )
    try:
        body = base64.b64decode(envelope.payload, validate=True)
        signature = base64.b64decode(envelope.signature, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BundleRejected(RejectCode.MALFORMED, "payload or signature is not base64") from exc
    try:
        server_key.verify(signature, SIGNING_CONTEXT + body)
    except InvalidSignature as exc:
        raise BundleRejected(
            RejectCode.BAD_SIGNATURE, "signature does not match: tampered or forged"
        ) from exc
    try:
        payload = BundlePayload.model_validate_json(body)
    except ValidationError as exc:
        # Signed by our server yet invalid here: a schema this booth's software does not know.
        raise BundleRejected(RejectCode.MALFORMED, f"payload: {_first(exc)}") from exc
    if payload.booth_id != booth_id:
        raise BundleRejected(
            RejectCode.WRONG_BOOTH, f"bundle is for booth {payload.booth_id!r}, not {booth_id!r}"
        )
    if current_version is not None and payload.version <= current_version:
        raise BundleRejected(
            RejectCode.ROLLBACK,
            f"version {payload.version} is not newer than the applied {current_version}",
        )
    moment = now or datetime.now(UTC)
    if check_expiry and payload.expires_at <= moment:
        raise BundleRejected(
            RejectCode.EXPIRED, f"bundle expired at {payload.expires_at.isoformat()}"
        )
    return payload


def _first(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error["loc"]) or "document"
    return f"{where}: {error['msg']}"

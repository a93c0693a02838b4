"""The provisioning HTTP API, mounted on the switchboard's FastAPI app.

``POST /api/v1/provisioning/enrol`` spends a one-time code; every other route is
called by an enrolled booth and authenticated by its signed headers
(:mod:`provisioning.signing`). The same check (:class:`BoothVerifier`, kept in
``app.state.booth_verifier``) authenticates the booth's signaling WebSocket and
its catalogue requests. The server's bundle-signing key is generated on
first start in the data folder (0600) and never logged, only its key id.
"""

# No `from __future__ import annotations`: FastAPI must see the closures in Depends().
import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response

from provisioning import fleet, service, signing
from provisioning.bundle import SignedBundle
from provisioning.keys import key_id, load_or_create_private_key, public_b64, public_from_b64
from provisioning.messages import (
    BundleReport,
    EnrolRequest,
    EnrolResponse,
    Heartbeat,
    HeartbeatAck,
    Refusal,
    RefusalAnswer,
    RefusalCode,
)
from provisioning.models import ensure_tables
from provisioning.schema import BoothConfig
from switchboard import settings
from switchboard.db import Database

log = logging.getLogger(__name__)

SIGNING_KEY_FILE = settings.SIGNING_KEY_FILE
PREFIX = "/api/v1/provisioning"


@dataclass(frozen=True)
class SignedBooth:
    """The booth a signed request came from."""

    booth_id: str
    site: str


def _refuse(status: int, code: RefusalCode, reason: str) -> HTTPException:
    return HTTPException(status, Refusal(code=code, reason=reason).model_dump(mode="json"))


class BoothRefused(Exception):
    """A signed booth request refused: HTTP ``status`` and a refusal code."""

    def __init__(self, status: int, code: RefusalCode, reason: str) -> None:
        super().__init__(f"{code.value}: {reason}")
        self.status = status
        self.code = code
        self.reason = reason


class BoothVerifier:
    """Checks the signed headers of a booth request (HTTP or a WebSocket upgrade)."""

    def __init__(self, db: Database, nonces: signing.NonceCache) -> None:
        self._db = db
        self._nonces = nonces

    async def check(
        self, headers: dict[str, str], method: str, path: str, body: bytes = b""
    ) -> SignedBooth:
        """The booth that signed this request; :class:`BoothRefused` otherwise."""
        try:
            booth_id, stamp, nonce, signature = signing.parse_headers(headers)
        except signing.SignatureError as exc:
            raise BoothRefused(401, RefusalCode.UNSIGNED, str(exc)) from exc
        if abs(time.time() - stamp) > signing.REPLAY_WINDOW_S:
            raise BoothRefused(401, RefusalCode.CLOCK_SKEW, "timestamp outside the replay window")
        booth = await asyncio.to_thread(service.booth_key, self._db, booth_id)
        if booth is None:
            raise BoothRefused(401, RefusalCode.UNKNOWN_BOOTH, "no such booth")
        public = public_from_b64(booth.public_key)
        if not signing.verify_request(
            public, method, path, booth_id, stamp, nonce, body, signature
        ):
            log.warning("bad request signature for booth %s", booth_id)
            raise BoothRefused(401, RefusalCode.BAD_SIGNATURE, "signature does not match")
        # Revocation is checked on every request, after the signature so that only
        # the booth itself learns that it is revoked.
        if booth.revoked:
            log.warning("revoked booth %s refused", booth_id)
            raise BoothRefused(403, RefusalCode.REVOKED, "this booth has been revoked")
        if not self._nonces.first_use(booth_id, nonce):
            raise BoothRefused(401, RefusalCode.REPLAYED, "nonce already used")
        return SignedBooth(booth.booth_id, booth.site)


def install(
    app: FastAPI,
    db: Database,
    data_dir: Path,
    on_served: Callable[[str, int], None] | None = None,
) -> Ed25519PrivateKey:
    """Add the provisioning routes to ``app``; returns the server's signing key.

    ``on_served(booth_id, version)`` learns of each bundle a booth fetched (so it is
    not told again of a version it already has)."""
    ensure_tables(db)
    key = load_or_create_private_key(data_dir / SIGNING_KEY_FILE)
    server_key_b64 = public_b64(key.public_key())
    server_key_id = key_id(key.public_key())
    log.info("provisioning: bundles signed with key %s", server_key_id)
    nonces = signing.NonceCache()
    router = APIRouter(prefix=PREFIX, tags=["provisioning"])

    verifier = BoothVerifier(db, nonces)
    app.state.booth_verifier = verifier

    async def signed_booth(request: Request) -> SignedBooth:
        body = await request.body()
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        try:
            return await verifier.check(dict(request.headers), request.method, path, body)
        except BoothRefused as exc:
            raise _refuse(exc.status, exc.code, exc.reason) from exc

    @router.post(
        "/enrol",
        responses={
            403: {"model": RefusalAnswer},
            400: {"model": RefusalAnswer},
            409: {"model": RefusalAnswer},
        },
    )
    def enrol(body: EnrolRequest, request: Request) -> EnrolResponse:
        """Spend a one-time enrolment code: bind the booth's public key to a site."""
        default = BoothConfig(switchboard_url=str(request.base_url).rstrip("/"))
        try:
            booth_id = service.enrol(db, body.code, body.site, body.public_key, default)
        except service.ProvisioningError as exc:
            status = {RefusalCode.BAD_KEY: 400, RefusalCode.KEY_IN_USE: 409}.get(exc.code, 403)
            log.warning("enrolment refused at site %s: %s", body.site, exc.code.value)
            raise _refuse(status, exc.code, exc.reason) from exc
        return EnrolResponse(
            booth_id=booth_id,
            site=body.site,
            server_public_key=server_key_b64,
            server_key_id=server_key_id,
        )

    @router.get(
        "/bundle",
        response_class=Response,
        responses={
            200: {"content": {"application/json": {"schema": SignedBundle.model_json_schema()}}},
            401: {"model": RefusalAnswer},
            403: {"model": RefusalAnswer},
        },
    )
    def bundle(booth: Annotated[SignedBooth, Depends(signed_booth)]) -> Response:
        """The booth's signed configuration bundle (signed headers required)."""
        data, version = service.bundle_and_version(db, key, booth.booth_id)
        if on_served is not None:
            on_served(booth.booth_id, version)
        return Response(data, media_type="application/json")

    @router.post(
        "/report",
        status_code=204,
        responses={401: {"model": RefusalAnswer}, 403: {"model": RefusalAnswer}},
    )
    def report(body: BundleReport, booth: Annotated[SignedBooth, Depends(signed_booth)]) -> None:
        """A booth reports a bundle it refused or rolled back (kept for the fleet view)."""
        service.record_rejection(db, booth.booth_id, body)

    @router.post(
        "/heartbeat", responses={401: {"model": RefusalAnswer}, 403: {"model": RefusalAnswer}}
    )
    def heartbeat(
        body: Heartbeat, booth: Annotated[SignedBooth, Depends(signed_booth)]
    ) -> HeartbeatAck:
        """The booth's state (versions, peripherals, round trip, resources): signed."""
        return fleet.record_heartbeat(db, booth.booth_id, body)

    app.include_router(router)
    return key

"""The booth's side of provisioning: enrol with a code, then fetch and apply signed bundles.

Blocking (``requests``): the booth runs it through ``asyncio.to_thread``. State
lives in one private folder, shared with :class:`~provisioning.booth_store.BoothStore`:
``booth.key`` (the booth's Ed25519 private key, 0600, never sent anywhere) and
``identity.json`` (booth id, site, server URL and the server's pinned public key).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from guichet.tls import http_session
from provisioning.booth_store import BoothStore, HealthCheck, atomic_write
from provisioning.bundle import BundlePayload, BundleRejected, verify_bundle
from provisioning.heartbeat import HeartbeatSender, StateProvider
from provisioning.keys import (
    load_or_create_private_key,
    public_b64,
    public_from_b64,
    read_private_key,
)
from provisioning.messages import BundleReport, EnrolRequest, EnrolResponse
from provisioning.signing import sign_request

log = logging.getLogger(__name__)

KEY_FILE = "booth.key"
IDENTITY_FILE = "identity.json"
HTTP_TIMEOUT_S = 10.0
ENROL_PATH = "/api/v1/provisioning/enrol"
BUNDLE_PATH = "/api/v1/provisioning/bundle"
REPORT_PATH = "/api/v1/provisioning/report"


class ProvisioningRefused(Exception):
    """The server refused a request; ``code`` is its refusal code when it gave one."""

    def __init__(self, status: int, code: str, reason: str) -> None:
        super().__init__(f"HTTP {status} {code}: {reason}")
        self.status = status
        self.code = code
        self.reason = reason


class AlreadyEnrolled(Exception):
    """This booth already has an identity; wipe its state folder to enrol it again."""


@dataclass(frozen=True)
class BoothIdentity:
    booth_id: str
    site: str
    server_url: str
    server_public_key: str


class SyncOutcome(StrEnum):
    UNCHANGED = "unchanged"
    APPLIED = "applied"
    SKIPPED_REJECTED = "skipped_rejected"
    """The server still offers a version that failed its health check here."""


def _refusal(response: requests.Response) -> ProvisioningRefused:
    code, reason = "http_error", response.reason or "error"
    try:
        detail = response.json().get("detail")
        if isinstance(detail, dict):
            code, reason = str(detail.get("code", code)), str(detail.get("reason", reason))
        elif detail is not None:
            reason = str(detail)
    except (ValueError, AttributeError):
        pass
    return ProvisioningRefused(response.status_code, code, reason)


def enrol(
    server_url: str,
    site: str,
    code: str,
    state_dir: Path,
    *,
    session: requests.Session | None = None,
    ca_file: Path | None = None,
) -> BoothIdentity:
    """Create this booth's key (if needed) and enrol it with a one-time code.

    Over HTTPS only the CA in ``ca_file`` is trusted (:func:`guichet.tls.http_session`)."""
    state = BoothStore(state_dir).dir
    if (state / IDENTITY_FILE).exists():
        raise AlreadyEnrolled(f"{state / IDENTITY_FILE} exists")
    # Reused if a previous attempt failed after creating it: the key is still unknown.
    key = load_or_create_private_key(state / KEY_FILE)
    body = EnrolRequest(site=site, code=code, public_key=public_b64(key.public_key()))
    http = session or http_session(ca_file)
    response = http.post(
        server_url.rstrip("/") + ENROL_PATH,
        data=body.model_dump_json(),
        headers={"Content-Type": "application/json"},
        timeout=HTTP_TIMEOUT_S,
    )
    if response.status_code != 200:
        raise _refusal(response)
    answer = EnrolResponse.model_validate_json(response.content)
    public_from_b64(answer.server_public_key)  # refuse garbage before pinning it
    identity = BoothIdentity(
        booth_id=answer.booth_id,
        site=answer.site,
        server_url=server_url.rstrip("/"),
        server_public_key=answer.server_public_key,
    )
    atomic_write(state, IDENTITY_FILE, json.dumps(asdict(identity)).encode())
    log.info("enrolled as booth %s at site %s", identity.booth_id, identity.site)
    return identity


class ProvisioningClient:
    """An enrolled booth talking to its server with signed requests."""

    def __init__(
        self,
        state_dir: Path,
        *,
        session: requests.Session | None = None,
        ca_file: Path | None = None,
    ) -> None:
        self.store = BoothStore(state_dir)
        raw = json.loads((self.store.dir / IDENTITY_FILE).read_text(encoding="utf-8"))
        self.identity = BoothIdentity(**raw)
        self._key: Ed25519PrivateKey = read_private_key(self.store.dir / KEY_FILE)
        self._server_key = public_from_b64(self.identity.server_public_key)
        self._ca_file = ca_file
        self._http = session or http_session(ca_file)

    def signed_headers(self, method: str, path: str, body: bytes = b"") -> dict[str, str]:
        """Fresh signed headers for one request (also used for the WebSocket upgrade)."""
        return sign_request(self._key, self.identity.booth_id, method, path, body)

    def heartbeat_sender(
        self, app_version: str, state: StateProvider, interval_s: float
    ) -> HeartbeatSender:
        """A heartbeat sender for this booth, to the server it enrolled with."""
        return HeartbeatSender(
            self.identity.server_url,
            self.identity.booth_id,
            self._key,
            self.store.dir,
            app_version,
            state,
            interval_s=interval_s,
            session=http_session(self._ca_file),
        )  # its own HTTP session: it runs in another thread than the bundle fetches

    def report_rejection(self, version: int | None, code: str, reason: str) -> None:
        """Tell the server this booth refused (or rolled back) a bundle."""
        body = BundleReport(version=version, code=code, reason=reason[:500])
        data = body.model_dump_json().encode()
        headers = self.signed_headers("POST", REPORT_PATH, data)
        headers["Content-Type"] = "application/json"
        response = self._http.post(
            self.identity.server_url + REPORT_PATH,
            data=data,
            headers=headers,
            timeout=HTTP_TIMEOUT_S,
        )
        if response.status_code not in (200, 204):
            raise _refusal(response)

    def _get(self, path: str) -> requests.Response:
        headers = sign_request(self._key, self.identity.booth_id, "GET", path)
        response = self._http.get(
            self.identity.server_url + path, headers=headers, timeout=HTTP_TIMEOUT_S
        )
        if response.status_code != 200:
            raise _refusal(response)
        return response

    def fetch_bundle(self) -> bytes:
        """The signed bundle the server has for this booth (not yet verified)."""
        return self._get(BUNDLE_PATH).content

    def current_payload(self) -> BundlePayload | None:
        """The bundle applied now, re-checked against the pinned key (expiry not checked)."""
        data = self.store.current()
        if data is None:
            return None
        return verify_bundle(data, self._server_key, self.identity.booth_id, check_expiry=False)

    def current_version(self) -> int | None:
        """The version applied now, re-checked against the pinned server key."""
        payload = self.current_payload()
        return payload.version if payload is not None else None

    def sync(self, health_check: HealthCheck) -> SyncOutcome:
        """Fetch the bundle; verify and apply it if newer (:class:`BundleRejected` if bad)."""
        data = self.fetch_bundle()
        if data == self.store.current():
            return SyncOutcome.UNCHANGED
        payload = verify_bundle(
            data, self._server_key, self.identity.booth_id, self.current_version()
        )
        if payload.version == self.store.rejected_version():
            return SyncOutcome.SKIPPED_REJECTED
        self.store.apply(data, payload, health_check)
        return SyncOutcome.APPLIED


__all__ = [
    "AlreadyEnrolled",
    "BoothIdentity",
    "BundleRejected",
    "ProvisioningClient",
    "ProvisioningRefused",
    "SyncOutcome",
    "enrol",
]

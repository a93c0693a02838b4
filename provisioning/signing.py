"""Signed booth requests: how a booth proves, request by request, that it holds its key.

Headers of every booth request after enrolment::

    X-Guichet-Booth:      <booth id>
    X-Guichet-Timestamp:  <Unix seconds>
    X-Guichet-Nonce:      <16 random bytes, base64url without padding: 22 chars>
    X-Guichet-Signature:  <Ed25519 signature, base64>

The signature covers :func:`request_message`: a fixed context line, then the
method, the path with its query, the booth id, the timestamp, the nonce and the
SHA-256 of the body, one per line. The server refuses a timestamp further than
:data:`REPLAY_WINDOW_S` from its clock and a nonce it has already seen within
that window (:class:`NonceCache`), so a captured request cannot be replayed. Pure
code but for the clock and random nonces.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

HEADER_BOOTH = "X-Guichet-Booth"
HEADER_TIMESTAMP = "X-Guichet-Timestamp"
HEADER_NONCE = "X-Guichet-Nonce"
HEADER_SIGNATURE = "X-Guichet-Signature"
CONTEXT = b"guichet-request-v1"
REPLAY_WINDOW_S = 300
"""How far a request's timestamp may be from the server's clock (booths run NTP)."""
NONCE_CACHE_LIMIT = 100_000
"""Nonces remembered at most; beyond it the oldest go first (they are outside the window
long before on any real fleet)."""
NONCE_RE = re.compile(r"^[A-Za-z0-9_-]{22}$")
BOOTH_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class SignatureError(ValueError):
    """A request whose signature headers are missing, malformed or wrong."""


def request_message(
    method: str, path: str, booth_id: str, timestamp: int, nonce: str, body: bytes
) -> bytes:
    """The exact bytes a booth signs for one request."""
    lines = [
        method.upper(),
        path,
        booth_id,
        str(timestamp),
        nonce,
        hashlib.sha256(body).hexdigest(),
    ]
    return CONTEXT + b"\n" + "\n".join(lines).encode("utf-8")


def new_nonce() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode("ascii")


def sign_request(
    key: Ed25519PrivateKey,
    booth_id: str,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The four headers that authenticate one request (``path`` includes any query)."""
    when = int(time.time()) if timestamp is None else timestamp
    once = nonce or new_nonce()
    signature = key.sign(request_message(method, path, booth_id, when, once, body))
    return {
        HEADER_BOOTH: booth_id,
        HEADER_TIMESTAMP: str(when),
        HEADER_NONCE: once,
        HEADER_SIGNATURE: base64.b64encode(signature).decode("ascii"),
    }


def parse_headers(headers: dict[str, str]) -> tuple[str, int, str, bytes]:
    """``(booth_id, timestamp, nonce, signature)`` from request headers (any case)."""
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        booth_id = lower[HEADER_BOOTH.lower()]
        stamp = lower[HEADER_TIMESTAMP.lower()]
        nonce = lower[HEADER_NONCE.lower()]
        sig = lower[HEADER_SIGNATURE.lower()]
    except KeyError as exc:
        raise SignatureError(f"missing header {exc.args[0]}") from exc
    if not BOOTH_ID_RE.match(booth_id):
        raise SignatureError("malformed booth id")
    if not stamp.isdigit() or len(stamp) > 12:
        raise SignatureError("malformed timestamp")
    if not NONCE_RE.match(nonce):
        raise SignatureError("malformed nonce")
    try:
        signature = base64.b64decode(sig, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError("signature is not base64") from exc
    if len(signature) != 64:
        raise SignatureError("an Ed25519 signature is 64 bytes")
    return booth_id, int(stamp), nonce, signature


def verify_request(
    key: Ed25519PublicKey,
    method: str,
    path: str,
    booth_id: str,
    timestamp: int,
    nonce: str,
    body: bytes,
    signature: bytes,
) -> bool:
    """Whether ``signature`` is the booth's over this request."""
    try:
        key.verify(signature, request_message(method, path, booth_id, timestamp, nonce, body))
    except InvalidSignature:
        return False
    return True


class NonceCache:
    """Nonces seen in the replay window (one server process; Redis when there are several)."""

    def __init__(
        self,
        window_s: float = REPLAY_WINDOW_S,
        limit: int = NONCE_CACHE_LIMIT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._window = window_s
        self._limit = limit
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_use(self, booth_id: str, nonce: str) -> bool:
        """Record the nonce; False if this booth already used it within the window."""
        key = f"{booth_id}\n{nonce}"
        now = self._clock()
        with self._lock:
            while self._seen and (
                next(iter(self._seen.values())) < now - 2 * self._window
                or len(self._seen) >= self._limit
            ):
                self._seen.popitem(last=False)
            if key in self._seen:
                return False
            self._seen[key] = now
            return True

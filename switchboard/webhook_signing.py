"""Webhook signatures and retry delays: pure functions, no I/O.

Each delivery carries ``Guichet-Signature: t=<unix seconds>,v1=<hex>`` where the
hex is HMAC-SHA256, keyed by the target's shared secret, of ``"<t>." + body``.
Signing the timestamp with the body lets a receiver refuse replays older than a
few minutes; :func:`verify` is what an integrator's receiver does (documented
in ``docs/integration.md``).
"""

from __future__ import annotations

import hashlib
import hmac
import random

SIGNATURE_HEADER = "Guichet-Signature"
EVENT_HEADER = "Guichet-Event"
DELIVERY_HEADER = "Guichet-Delivery"
"""Same value on every retry of one event: receivers use it to drop duplicates."""
TOLERANCE_S = 300
"""How old (or how far in the future) a signed timestamp a receiver accepts."""

RETRY_BASE_S = 5.0
RETRY_MAX_S = 3600.0
MAX_ATTEMPTS = 12
"""5 s, 10 s, 20 s … capped at an hour: about 5 hours of retries, then given up."""


class WebhookSignatureError(ValueError):
    """A delivery whose signature is missing, malformed, wrong or too old."""


def signature_header(secret: bytes, timestamp: int, body: bytes) -> str:
    """The ``Guichet-Signature`` value for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify(
    secret: bytes, header: str | None, body: bytes, now: float, tolerance_s: int = TOLERANCE_S
) -> int:
    """Check a received delivery; return its signed timestamp or raise
    :class:`WebhookSignatureError` saying what is wrong."""
    if not header:
        raise WebhookSignatureError(f"no {SIGNATURE_HEADER} header")
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep or not key or not value:
            raise WebhookSignatureError(f"malformed {SIGNATURE_HEADER} header")
        fields.setdefault(key, []).append(value)
    stamps = fields.get("t", [])
    if len(stamps) != 1 or not stamps[0].isdigit() or len(stamps[0]) > 12:
        raise WebhookSignatureError("the signature has no valid timestamp")
    timestamp = int(stamps[0])
    if abs(now - timestamp) > tolerance_s:
        raise WebhookSignatureError(
            f"the signature is {round(abs(now - timestamp))} s away from now "
            f"(more than {tolerance_s} s): replayed or clock wrong"
        )
    expected = _mac(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, given) for given in fields.get("v1", [])):
        raise WebhookSignatureError("the signature does not match the body")
    return timestamp


def retry_delay_s(attempts: int, rng: random.Random | None = None) -> float:
    """Wait before the next try after ``attempts`` failed ones (exponential, jittered).

    The jitter (±20 %) keeps a receiver that comes back from facing every pending
    delivery at the same second."""
    if attempts < 1:
        return 0.0
    ceiling = min(RETRY_MAX_S, RETRY_BASE_S * 2 ** min(attempts - 1, 30))
    jitter: float = (rng or random).uniform(0.8, 1.2)  # not a secret: S311 does not apply
    return float(min(RETRY_MAX_S, ceiling * jitter))


def gives_up(attempts: int) -> bool:
    """Whether a delivery that failed ``attempts`` times is abandoned."""
    return attempts >= MAX_ATTEMPTS


def _mac(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()

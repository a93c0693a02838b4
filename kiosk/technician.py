"""Technician access: PIN hashing, wrong-PIN lock-out, the hidden tap gesture.

Pure (no Kivy, no I/O besides ``hashlib``): the controller holds a :class:`PinGate`
and a :class:`TapCounter` and passes them the monotonic time.

A PIN is stored as ``scrypt$<salt-b64>$<hash-b64>`` (``technician_pin_hash`` in the
booth settings); ``python -m kiosk.technician`` prints the hash of a PIN typed on
standard input.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import os
import sys
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

from kiosk.i18n import N_

SCHEME = "scrypt"
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32

MAX_PIN_ATTEMPTS = 5
"""Wrong PINs in a row before the PIN pad locks."""
LOCKOUT_S = 60.0
"""How long the PIN pad stays locked after ``MAX_PIN_ATTEMPTS`` wrong PINs."""
GESTURE_TAPS = 5
"""Taps on the header's booth name (welcome screen) that open the PIN pad..."""
GESTURE_WINDOW_S = 3.0
"""...when they all fall within this many seconds."""
TECHNICIAN_IDLE_S = 180.0
"""The diagnostics screen returns to the welcome screen after this long untouched."""
PIN_PAD_IDLE_S = 60.0
"""The PIN pad closes by itself after this long untouched."""
TEST_READ_TIMEOUT_S = 30.0
"""How long a "Test read" waits for a card or a code."""
MAX_PIN_LENGTH = 12

STATE_MSGIDS = {
    "unknown": N_("Unknown"),
    "ready": N_("Ready"),
    "busy": N_("Busy"),
    "degraded": N_("Degraded"),
    "unavailable": N_("Unavailable"),
}
"""Device states as the diagnostics screen shows them (English msgids)."""
ROLE_MSGIDS = {
    "receipt_printer": N_("Receipt printer"),
    "a4_printer": N_("A4 printer"),
    "card_reader": N_("Card reader"),
    "barcode_reader": N_("Code reader"),
    "scanner": N_("Scanner"),
    "smart_card": N_("Smart card reader"),
}
"""Device roles as the diagnostics screen shows them (English msgids)."""
LINK_MSGIDS = {
    "connecting": N_("connecting"),
    "connected": N_("connected"),
    "disconnected": N_("disconnected"),
    "unauthorized": N_("refused (token)"),
    "revoked": N_("refused (booth revoked)"),
    "stopped": N_("stopped"),
}
"""Switchboard link states (English msgids)."""
MSG_WRONG_PIN = N_("Wrong PIN.")
MSG_LOCKED = N_("Too many wrong PINs. Try again in {seconds} s.")
MSG_PRINTED = N_("Test page printed.")
MSG_CARD_READ = N_("Card read: {uid} ({card_type})")
MSG_CODE_READ = N_("Code read: {code}")
MSG_SCANNED = N_("Page scanned: {width} x {height} px")
MSG_WAITING_CARD = N_("Present a card within {seconds} s…")
MSG_WAITING_CODE = N_("Present a code within {seconds} s…")
MSG_WORKING = N_("Working…")
TEST_TICKET_TITLE = "Guichet - test"

MSGIDS = {
    *STATE_MSGIDS.values(),
    *ROLE_MSGIDS.values(),
    *LINK_MSGIDS.values(),
    MSG_WRONG_PIN,
    MSG_LOCKED,
    MSG_PRINTED,
    MSG_CARD_READ,
    MSG_CODE_READ,
    MSG_SCANNED,
    MSG_WAITING_CARD,
    MSG_WAITING_CODE,
    MSG_WORKING,
}
"""Every msgid this module gives the UI (the translation test checks them)."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_pin(pin: str, *, salt: bytes | None = None) -> str:
    """``scrypt$<salt-b64>$<hash-b64>`` for ``pin`` (a fresh random salt by default)."""
    if not pin:
        raise ValueError("empty PIN")
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    digest = hashlib.scrypt(
        pin.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=HASH_BYTES
    )
    return f"{SCHEME}${_b64(salt)}${_b64(digest)}"


def verify_pin(pin: str, stored: str | None) -> bool:
    """True if ``pin`` matches ``stored``; False for anything malformed or missing."""
    if not pin or not stored:
        return False
    try:
        scheme, salt_b64, hash_b64 = stored.split("$")
        salt = base64.b64decode(salt_b64, validate=True)
        expected = base64.b64decode(hash_b64, validate=True)
    except ValueError:
        return False
    if scheme != SCHEME or not salt or not expected:
        return False
    digest = hashlib.scrypt(
        pin.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=len(expected)
    )
    return hmac.compare_digest(digest, expected)


def is_pin_hash(stored: str) -> bool:
    """True if ``stored`` has the ``scrypt$salt$hash`` shape (settings validation)."""
    parts = stored.split("$")
    if len(parts) != 3 or parts[0] != SCHEME:
        return False
    try:
        return all(base64.b64decode(p, validate=True) for p in parts[1:])
    except ValueError:
        return False


class PinCheck(StrEnum):
    """Outcome of a PIN typed on the pad."""

    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"
    NOT_CONFIGURED = "not_configured"


@dataclass
class PinGate:
    """Checks PINs; locks for ``LOCKOUT_S`` after ``MAX_PIN_ATTEMPTS`` wrong ones."""

    stored: str | None
    failures: int = 0
    locked_until: float = 0.0

    def locked_for(self, now: float) -> float:
        """Seconds left of the lock-out (0 when not locked)."""
        return max(0.0, self.locked_until - now)

    def check(self, pin: str, now: float) -> PinCheck:
        """Check ``pin`` at monotonic time ``now`` (a locked gate checks nothing)."""
        if not self.stored:
            return PinCheck.NOT_CONFIGURED
        if self.locked_for(now) > 0:
            return PinCheck.LOCKED
        if verify_pin(pin, self.stored):
            self.failures = 0
            return PinCheck.OK
        self.failures += 1
        if self.failures >= MAX_PIN_ATTEMPTS:
            self.failures = 0
            self.locked_until = now + LOCKOUT_S
            return PinCheck.LOCKED
        return PinCheck.WRONG


@dataclass
class TapCounter:
    """True on the ``GESTURE_TAPS``-th tap within ``GESTURE_WINDOW_S`` seconds."""

    taps: deque[float] = field(default_factory=deque)

    def tap(self, now: float) -> bool:
        """Record a tap at ``now``; True (and start over) when the gesture is complete."""
        self.taps.append(now)
        while self.taps and now - self.taps[0] > GESTURE_WINDOW_S:
            self.taps.popleft()
        if len(self.taps) >= GESTURE_TAPS:
            self.taps.clear()
            return True
        return False


def make_test_pdf() -> bytes:
    """A one-page A4 test PDF made in memory (Pillow)."""
    from PIL import Image, ImageDraw

    page = Image.new("RGB", (1240, 1754), "white")  # A4 at 150 dpi
    draw = ImageDraw.Draw(page)
    draw.rectangle((60, 60, 1180, 1694), outline="black", width=6)
    draw.text((120, 140), TEST_TICKET_TITLE, fill="black", font_size=64)
    out = io.BytesIO()
    page.save(out, format="PDF", resolution=150.0)
    return out.getvalue()


if __name__ == "__main__":  # pragma: no cover - operator tool
    sys.stdout.write(hash_pin(sys.stdin.readline().strip()) + "\n")

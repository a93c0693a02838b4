"""kiosk.technician: PIN hashing, lock-out, tap gesture, test PDF (pure, no Kivy)."""

from __future__ import annotations

import pytest

from kiosk import technician as t
from kiosk.config import BoothSettings


def test_hash_and_verify() -> None:
    stored = t.hash_pin("2468")
    assert stored.startswith("scrypt$")
    assert t.is_pin_hash(stored)
    assert t.verify_pin("2468", stored)
    assert not t.verify_pin("2469", stored)
    assert not t.verify_pin("", stored)
    assert not t.verify_pin("2468", None)
    # A fresh salt each time: the same PIN never gives the same hash.
    assert t.hash_pin("2468") != stored
    assert t.hash_pin("2468", salt=b"0123456789abcdef") == t.hash_pin(
        "2468", salt=b"0123456789abcdef"
    )


@pytest.mark.parametrize(
    "stored", ["", "2468", "md5$abc$def", "scrypt$$", "scrypt$!!$!!", "scrypt$YQ==", "a$b$c$d"]
)
def test_malformed_hashes_match_nothing(stored: str) -> None:
    assert not t.verify_pin("2468", stored)
    assert not t.is_pin_hash(stored)


def test_empty_pin_cannot_be_hashed() -> None:
    with pytest.raises(ValueError):
        t.hash_pin("")


def test_settings_accept_a_hash_and_refuse_anything_else() -> None:
    stored = t.hash_pin("2468")
    assert BoothSettings(technician_pin_hash=stored).technician_pin_hash == stored
    assert BoothSettings().technician_pin_hash is None
    with pytest.raises(ValueError):
        BoothSettings(technician_pin_hash="2468")


def test_lockout_after_max_wrong_pins() -> None:
    gate = t.PinGate(t.hash_pin("2468"))
    for _ in range(t.MAX_PIN_ATTEMPTS - 1):
        assert gate.check("0000", now=10.0) is t.PinCheck.WRONG
    assert gate.check("0000", now=11.0) is t.PinCheck.LOCKED
    assert gate.locked_for(11.0) == t.LOCKOUT_S
    # Even the right PIN is refused while locked...
    assert gate.check("2468", now=11.0 + t.LOCKOUT_S - 1) is t.PinCheck.LOCKED
    # ...and accepted once the lock-out is over.
    assert gate.check("2468", now=11.0 + t.LOCKOUT_S) is t.PinCheck.OK
    assert gate.failures == 0


def test_right_pin_resets_the_count() -> None:
    gate = t.PinGate(t.hash_pin("2468"))
    for _ in range(t.MAX_PIN_ATTEMPTS - 1):
        gate.check("1", now=0.0)
    assert gate.check("2468", now=0.0) is t.PinCheck.OK
    assert gate.check("1", now=0.0) is t.PinCheck.WRONG


def test_no_pin_configured() -> None:
    assert t.PinGate(None).check("2468", now=0.0) is t.PinCheck.NOT_CONFIGURED


def test_tap_gesture() -> None:
    taps = t.TapCounter()
    # Too slow: the window slides, the gesture never completes.
    slow = t.GESTURE_WINDOW_S / (t.GESTURE_TAPS - 1) + 0.1
    assert not any(taps.tap(i * slow) for i in range(t.GESTURE_TAPS * 2))
    taps = t.TapCounter()
    results = [taps.tap(100.0 + i * 0.2) for i in range(t.GESTURE_TAPS)]
    assert results == [False] * (t.GESTURE_TAPS - 1) + [True]
    # It starts over after opening.
    assert not taps.tap(101.5)


def test_test_pdf_is_one_page() -> None:
    pdf = t.make_test_pdf()
    assert pdf.startswith(b"%PDF")
    assert b"/Count 1" in pdf

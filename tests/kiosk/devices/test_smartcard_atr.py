"""ATR parsing and card identification, from ATRs kept in tests/data/atr/."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.devices.smartcard_atr import (
    AtrError,
    format_hex,
    identify,
    parse_atr,
    parse_hex,
)

ATR_DIR = Path(__file__).resolve().parents[2] / "data" / "atr"


def _cases(name: str) -> list[tuple[str, str]]:
    cases = []
    for line in (ATR_DIR / name).read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        hex_text, expected = line.split("|")
        cases.append((hex_text.strip(), expected.strip()))
    return cases


@pytest.mark.parametrize(("hex_text", "card_type"), _cases("known_cards.txt"))
def test_known_atrs_are_recognised(hex_text: str, card_type: str) -> None:
    found = identify(parse_hex(hex_text))
    assert found.card_type == card_type, found.reason
    assert found.atr is not None
    assert found.atr.hex == hex_text


@pytest.mark.parametrize(("hex_text", "word"), _cases("malformed.txt"))
def test_malformed_atrs_are_unknown_with_a_reason(hex_text: str, word: str) -> None:
    found = identify(parse_hex(hex_text))
    assert found.card_type == "unknown"
    assert word in found.reason
    with pytest.raises(AtrError):
        parse_atr(parse_hex(hex_text))


def test_mifare_classic_atr_fields() -> None:
    atr = parse_atr(parse_hex("3B 8F 80 01 80 4F 0C A0 00 00 03 06 03 00 01 00 00 00 00 6A"))
    assert atr.convention == "direct"
    assert atr.protocols == (0, 1)
    assert [group.td for group in atr.interface] == [0x80, 0x01, None]
    assert atr.historical[:3] == b"\x80\x4f\x0c"
    assert len(atr.historical) == 15
    assert atr.tck == 0x6A
    found = identify(atr.raw)
    assert (found.label, found.standard) == ("MIFARE Classic 1K", "ISO 14443 A, part 3")


def test_carte_vitale_uses_inverse_convention_and_t0_without_tck() -> None:
    atr = parse_atr(parse_hex("3F 65 25 00 2C 09 69 90 00"))
    assert atr.convention == "inverse"
    assert atr.protocols == (0,)
    assert atr.tck is None
    assert atr.interface[0].tb == 0x25
    assert atr.historical == bytes.fromhex("2C09699000")


def test_hex_spellings() -> None:
    assert parse_hex("3b:8f:80") == parse_hex("3B8F80") == b"\x3b\x8f\x80"
    assert format_hex(b"\x3b\x0f") == "3B 0F"
    with pytest.raises(AtrError):
        parse_hex("3B 8")
    with pytest.raises(AtrError):
        parse_hex("ZZ")


@given(st.binary(max_size=40))
def test_identify_never_raises(data: bytes) -> None:
    found = identify(data)
    assert found.card_type
    if found.card_type == "unknown":
        assert found.reason


@given(
    st.sampled_from([0x3B, 0x3F]),
    st.binary(max_size=14),
    st.lists(st.integers(0, 15), max_size=3),
)
def test_well_built_atrs_round_trip(ts: int, historical: bytes, protocols: list[int]) -> None:
    """ATRs built by the rules parse back to the same parts, TCK included."""
    body = bytearray([((0x8 if protocols else 0) << 4) | len(historical)])
    for position, protocol in enumerate(protocols):
        more = 0x8 if position + 1 < len(protocols) else 0
        body.append((more << 4) | protocol)
    body += historical
    if any(protocols):
        tck = 0
        for byte in body:
            tck ^= byte
        body.append(tck)
    atr = parse_atr(bytes([ts]) + bytes(body))
    assert atr.historical == historical
    assert atr.protocols == (tuple(protocols) or (0,))

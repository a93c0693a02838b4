"""vpcd frames and card answers, from byte strings in tests/data/vpcd, and fuzzed."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.devices.sim.virtual_card import CARD_TYPES, parse_uid
from kiosk.devices.sim.vpcd_protocol import (
    MAX_APDU_BYTES,
    Apdu,
    CardState,
    Control,
    ControlMessage,
    FrameDecoder,
    Message,
    answer_apdu,
    encode_control,
    encode_frame,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "vpcd"
UID = bytes.fromhex("04A1B2C3")


def data(name: str) -> bytes:
    return (DATA / name).read_bytes()


def test_control_frames_decode_to_controls() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(data("ctrl_on.bin")) == [ControlMessage(Control.ON)]
    assert decoder.feed(data("power_cycle_then_atr.bin")) == [
        ControlMessage(Control.OFF),
        ControlMessage(Control.ON),
        ControlMessage(Control.ATR),
    ]
    assert encode_control(Control.ATR) == data("ctrl_atr.bin")


def test_card_answers_atr_and_uid_with_the_recorded_frames() -> None:
    card = CardState(atr=CARD_TYPES["mifare_classic_1k"].atr, uid=UID)
    (atr_request,) = FrameDecoder().feed(data("ctrl_atr.bin"))
    assert encode_frame(card.answer(atr_request) or b"") == data("atr_answer_mifare_1k.bin")
    (get_uid,) = FrameDecoder().feed(data("get_uid.bin"))
    assert encode_frame(card.answer(get_uid) or b"") == data("get_uid_answer_04a1b2c3.bin")
    (select,) = FrameDecoder().feed(data("select_aid.bin"))
    assert encode_frame(card.answer(select) or b"") == data("answer_6d00.bin")
    assert card.apdus == 2


def test_power_controls_get_no_answer_and_track_power() -> None:
    card = CardState(atr=b"\x3b\x00")
    assert card.answer(ControlMessage(Control.ON)) is None
    assert card.powered
    assert card.answer(ControlMessage(Control.OFF)) is None
    assert not card.powered


@pytest.mark.parametrize(
    ("apdu", "answer"),
    [
        ("FFCA000000", "04A1B2C39000"),
        ("FFCA000004", "04A1B2C39000"),
        ("FFCA0000", "04A1B2C39000"),
        ("FFCA000002", "6C04"),
        ("FFCA00000000", "6700"),
        ("FFCA010000", "6D00"),
        ("00B0000010", "6D00"),
        ("FFCA", "6700"),
    ],
)
def test_apdu_answers(apdu: str, answer: str) -> None:
    assert answer_apdu(bytes.fromhex(apdu), UID).hex().upper() == answer


def test_a_card_without_uid_does_not_know_get_data() -> None:
    assert answer_apdu(bytes.fromhex("FFCA000000"), b"") == bytes.fromhex("6D00")


def test_frames_split_anywhere_decode_the_same() -> None:
    stream = data("power_cycle_then_atr.bin") + data("get_uid.bin") + data("select_aid.bin")
    whole = FrameDecoder().feed(stream)
    decoder = FrameDecoder()
    split = [m for byte in stream for m in decoder.feed(bytes([byte]))]
    assert split == whole
    assert len(whole) == 5


def test_garbage_frames_are_counted_logged_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    decoder = FrameDecoder()
    with caplog.at_level(logging.WARNING):
        messages = decoder.feed(
            encode_frame(b"")  # empty
            + encode_frame(b"\x07")  # unknown control
            + data("get_uid.bin")
        )
    assert messages == [Apdu(bytes.fromhex("FFCA000000"))]
    assert decoder.counters.empty_frames == 1
    assert decoder.counters.unknown_controls == 1
    assert "unknown control byte 0x07" in caplog.text


def test_oversized_frame_is_skipped_unbuffered_even_when_it_arrives_in_pieces() -> None:
    decoder = FrameDecoder()
    big = encode_frame(bytes(MAX_APDU_BYTES + 1000))
    messages: list[Message] = []
    for start in range(0, len(big), 700):
        messages += decoder.feed(big[start : start + 700])
        assert decoder.pending_bytes < 700
    messages += decoder.feed(data("ctrl_atr.bin"))
    assert messages == [ControlMessage(Control.ATR)]
    assert decoder.counters.oversized_frames == 1
    assert decoder.counters.skipped_bytes == len(big)


def test_a_flood_of_frames_in_one_read_is_all_decoded() -> None:
    decoder = FrameDecoder()
    messages = decoder.feed(data("get_uid.bin") * 10_000)
    assert len(messages) == 10_000
    assert decoder.counters.frames == 10_000


def test_stream_ending_mid_frame_counts_a_truncated_frame() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(data("get_uid.bin")[:4]) == []
    decoder.close()
    assert decoder.counters.truncated_frames == 1
    assert decoder.feed(data("ctrl_atr.bin")) == [ControlMessage(Control.ATR)]


def test_too_long_payload_cannot_be_framed() -> None:
    with pytest.raises(ValueError, match="at most 65535"):
        encode_frame(bytes(65536))


@pytest.mark.parametrize(
    ("text", "error"),
    [("04A1B2", "has 3 bytes"), ("zz112233", "not hexadecimal"), ("", "has 0 bytes")],
)
def test_bad_uids_are_refused_with_the_reason(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_uid(text)


def test_uids_may_be_typed_with_separators() -> None:
    assert parse_uid("04:a1:b2:c3") == UID
    assert parse_uid("04 A1 B2 C3 D4 E5 F6") == bytes.fromhex("04A1B2C3D4E5F6")


@settings(max_examples=300)
@given(st.binary(max_size=2000), st.lists(st.integers(1, 64), max_size=40))
def test_any_bytes_in_any_chunks_decode_without_exception(blob: bytes, cuts: list[int]) -> None:
    decoder = FrameDecoder(max_apdu_bytes=300)
    card = CardState(atr=CARD_TYPES["carte_vitale_2"].atr, uid=UID)
    pos = 0
    for size in [*cuts, len(blob)]:
        for message in decoder.feed(blob[pos : pos + size]):
            answer = card.answer(message)
            if isinstance(message, Apdu):
                assert answer is not None and len(answer) >= 2
        pos += size
    decoder.close()
    assert decoder.pending_bytes == 0


@settings(max_examples=200)
@given(st.lists(st.binary(min_size=2, max_size=300), max_size=20), st.integers(1, 50))
def test_encoded_apdus_come_back_whole_in_any_chunking(payloads: list[bytes], chunk: int) -> None:
    stream = b"".join(encode_frame(p) for p in payloads)
    decoder = FrameDecoder()
    out: list[Message] = []
    for start in range(0, len(stream), chunk):
        out += decoder.feed(stream[start : start + chunk])
    assert out == [Apdu(p) for p in payloads]

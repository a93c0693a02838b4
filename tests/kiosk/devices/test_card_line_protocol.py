"""Card reader line protocol: captured frames, round trips, garbled frames, fuzz."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.devices.card_line_protocol import (
    MAX_FRAME,
    CardIn,
    CardLineParser,
    CardOut,
    CardUid,
    Command,
    CommandParser,
    Err,
    FrameError,
    FrameErrorKind,
    Ok,
    ReaderMessage,
    ReaderStatus,
    check_frame,
    encode_command,
    encode_frame,
    encode_message,
    parse_command,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "serial"


def test_captured_insert_read_remove() -> None:
    parser = CardLineParser()
    messages = parser.feed((DATA / "card_line_insert_read_remove.bin").read_bytes())
    assert messages == [
        CardIn("04A1B2C3D4E5F6", "ISO14443A"),
        CardUid("04A1B2C3D4E5F6", "ISO14443A"),
        CardOut(),
    ]
    assert not parser.errors


def test_captured_answers() -> None:
    messages = CardLineParser().feed((DATA / "card_line_answers.bin").read_bytes())
    assert messages == [
        Ok(),
        ReaderStatus(),
        Err(1, "NO CARD"),
        ReaderStatus("DEADBEEF", "CONTACT"),
    ]
    assert messages[3].present  # type: ignore[union-attr]


def test_garbled_frames_are_typed_errors_and_counted() -> None:
    parser = CardLineParser()
    results = parser.feed((DATA / "card_line_garbled.bin").read_bytes())
    kinds = [r.kind if isinstance(r, FrameError) else r for r in results]
    assert kinds == [
        FrameErrorKind.BAD_CHECKSUM,
        FrameErrorKind.NO_CHECKSUM,
        FrameErrorKind.BAD_LINE_END,
        FrameErrorKind.UNKNOWN,
        FrameErrorKind.BAD_FIELDS,
        FrameErrorKind.NOT_ASCII,
        Ok(),
    ]
    assert sum(parser.errors.values()) == 6


@pytest.mark.parametrize(
    "message",
    [
        Ok(),
        Err(2, "READ FAILED"),
        CardUid("04A1B2C3D4E5F6", "MIFARE_DESFIRE"),
        ReaderStatus(),
        ReaderStatus("0102030405060708090A", "ISO14443B"),
        CardIn("DEADBEEF", "CONTACT"),
        CardOut(),
    ],
)
def test_every_message_round_trips_even_byte_by_byte(message: ReaderMessage) -> None:
    parser = CardLineParser()
    results = []
    for byte in encode_message(message):
        results += parser.feed(bytes([byte]))
    assert results == [message]


def test_commands_encode_and_parse() -> None:
    assert encode_command(Command.PING) == b"PING*10\r\n"
    for command in Command:
        assert parse_command(encode_command(command)[:-1]) == command
    assert CommandParser().feed(b"EJECT*" + b"%02X" % 0 + b"\r\n")[0] == FrameError(
        FrameErrorKind.BAD_CHECKSUM, 9
    )


def test_illegal_bodies_are_refused_when_encoding() -> None:
    for body in ["", "A*B", "X" * 65, "tab\there"]:
        with pytest.raises(ValueError):
            encode_frame(body)


def test_overlong_frame_is_one_error_and_the_next_frame_parses() -> None:
    parser = CardLineParser()
    results = parser.feed(b"Z" * 1000)
    results += parser.feed(b"Z" * 1000 + b"\r\n" + encode_message(CardOut()))
    assert results == [FrameError(FrameErrorKind.TOO_LONG, 2002), CardOut()]
    assert parser.buffered < MAX_FRAME


_valid_frames = st.sampled_from(
    [encode_message(m) for m in (Ok(), CardOut(), CardIn("DEADBEEF", "CONTACT"), Err(1, "NO CARD"))]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=200), _valid_frames), max_size=30))
def test_fuzz_parser_never_raises_and_stays_bounded(chunks: list[bytes]) -> None:
    parser = CardLineParser()
    commands = CommandParser()
    for chunk in chunks:
        for result in parser.feed(chunk):
            assert isinstance(
                result, FrameError | Ok | Err | CardUid | ReaderStatus | CardIn | CardOut
            )
        commands.feed(chunk)
        assert parser.buffered < MAX_FRAME


@settings(max_examples=200, deadline=None)
@given(frame=_valid_frames, cut=st.integers(0, 40), tail=st.binary(max_size=5))
def test_fuzz_truncated_frame_then_valid_frame(frame: bytes, cut: int, tail: bytes) -> None:
    parser = CardLineParser()
    parser.feed(frame[:cut] + tail)
    # After any junk, a line end resynchronises the parser.
    results = parser.feed(b"\n" + encode_message(CardOut()))
    assert results[-1] == CardOut()


@settings(max_examples=200, deadline=None)
@given(frame=_valid_frames, index=st.integers(0, 100), flip=st.integers(1, 255))
def test_fuzz_one_corrupted_byte_is_never_a_wrong_message(
    frame: bytes, index: int, flip: int
) -> None:
    index %= len(frame) - 2  # leave CRLF alone
    corrupted = bytearray(frame)
    corrupted[index] ^= flip
    results = CardLineParser().feed(bytes(corrupted))
    assert all(isinstance(r, FrameError) for r in results)


def test_example_session_in_the_docs_is_valid() -> None:
    doc = (Path(__file__).resolve().parents[3] / "docs" / "devices.md").read_text()
    frames = [
        line.split(": ", 1)[1].strip().encode() + b"\r"
        for line in doc.splitlines()
        if line.startswith(("reader: ", "host:   "))
    ]
    assert len(frames) == 4
    assert all(not isinstance(check_frame(frame), FrameError) for frame in frames)

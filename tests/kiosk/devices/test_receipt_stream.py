"""The simulator's ESC/POS stream parser: a captured receipt, chunking, garbage, floods."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.devices.sim.escpos_stream import (
    MAX_LINE_BYTES,
    Cut,
    EscPosStreamParser,
    Initialise,
    QrCode,
    RasterImage,
    StatusRequest,
    TextLine,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "escpos"
RECEIPT = (DATA / "receipt_accents_qr_logo_cut.bin").read_bytes()


def _lines(events: list[object]) -> list[str]:
    return [e.text for e in events if isinstance(e, TextLine) and e.text]


def test_captured_receipt_decodes_to_text_qr_logo_and_cut() -> None:
    parser = EscPosStreamParser()
    events: list[object] = list(parser.feed(RECEIPT))
    assert _lines(events) == [
        "Reçu",
        "Dépôt à 10 h : 12,50 €",
        "Préfecture - guichet n° 3",
        "Merci, à bientôt",
    ]
    assert QrCode("https://guichet.example/r/é42") in events
    assert RasterImage(width=40, height=16) in events
    assert events[0] == Initialise()
    assert events[-1] == Cut(partial=False)
    assert parser.counters.garbage_bytes == 0
    assert parser.counters.unknown_commands == 0


def test_byte_by_byte_gives_the_same_events() -> None:
    whole = EscPosStreamParser().feed(RECEIPT)
    parser = EscPosStreamParser()
    pieces = [e for b in RECEIPT for e in parser.feed(bytes([b]))]
    assert pieces == whole


def test_status_requests_come_out_in_stream_order() -> None:
    events = EscPosStreamParser().feed(b"\x10\x04\x01avant\n\x10\x04\x04")
    assert events == [StatusRequest(1), TextLine("avant"), StatusRequest(4)]


def test_garbage_is_counted_and_skipped() -> None:
    parser = EscPosStreamParser()
    events = parser.feed(b"\x01\x02\x1b\xfe\x1d\xfdok\n")
    # The unknown command bytes themselves print as characters, as on paper.
    assert events == [TextLine("\u25a0\u00b2ok")]
    assert parser.counters.garbage_bytes == 4
    assert parser.counters.unknown_commands == 2


def test_absurd_declared_length_is_not_buffered() -> None:
    parser = EscPosStreamParser()
    parser.feed(b"\x1dv0\x00\xff\xff\xff\xffsuite\n")
    assert parser.counters.oversized_commands == 1


def test_text_flood_without_newline_is_cut_into_lines() -> None:
    parser = EscPosStreamParser()
    events = parser.feed(b"A" * (MAX_LINE_BYTES * 3))
    assert len(events) == 3


def test_truncated_command_waits_then_flush_counts_it() -> None:
    parser = EscPosStreamParser()
    assert parser.feed(b"reste\n\x1d(k\x10\x00") == [TextLine("reste")]
    assert parser.flush() == []
    assert parser.counters.garbage_bytes == 5


@settings(max_examples=300)
@given(st.binary(max_size=2048))
def test_any_bytes_parse_without_exception(data: bytes) -> None:
    parser = EscPosStreamParser()
    parser.feed(data)
    parser.flush()
    assert parser.counters.garbage_bytes >= 0


@given(st.lists(st.binary(max_size=64), max_size=40))
def test_any_chunking_of_garbage_then_a_receipt_still_cuts(chunks: list[bytes]) -> None:
    parser = EscPosStreamParser()
    for chunk in chunks:
        parser.feed(chunk)
    parser.flush()
    events = parser.feed(b"\x1b@" + RECEIPT)
    assert Cut(partial=False) in events


@given(st.integers(min_value=1, max_value=len(RECEIPT) - 1))
def test_truncated_receipt_never_raises(cut_at: int) -> None:
    parser = EscPosStreamParser()
    parser.feed(RECEIPT[:cut_at])
    parser.flush()

"""Barcode line framer: captured scanner bytes, chunking, garbage, floods."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.devices.barcode_protocol import (
    BarcodeFramer,
    FramerConfig,
    Rejected,
    RejectReason,
    Scan,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "serial"


def _codes(results: list[Scan | Rejected]) -> list[str]:
    return [r.code for r in results if isinstance(r, Scan)]


def test_two_captured_crlf_scans_come_out_whole() -> None:
    framer = BarcodeFramer()
    results = framer.feed((DATA / "barcode_two_scans_crlf.bin").read_bytes())
    assert results == [Scan("CONV-2026-000417"), Scan("RDV:CAF:8F3K2Q")]
    assert framer.scans == 2
    assert framer.buffered == 0


def test_scan_split_byte_by_byte_is_the_same_scan() -> None:
    framer = BarcodeFramer()
    results = []
    for byte in (DATA / "barcode_two_scans_crlf.bin").read_bytes():
        results += framer.feed(bytes([byte]))
    assert _codes(results) == ["CONV-2026-000417", "RDV:CAF:8F3K2Q"]
    assert not framer.rejected


def test_stx_prefix_and_cr_suffix_configuration() -> None:
    framer = BarcodeFramer(FramerConfig(suffix=b"\r", prefix=b"\x02"))
    data = (DATA / "barcode_stx_prefix_cr.bin").read_bytes()
    assert framer.feed(data) == [Scan("CONV-2026-000418")]
    assert framer.feed(b"NOPREFIX\r") == [Rejected(RejectReason.MISSING_PREFIX, 8)]
    assert framer.rejected == {"missing_prefix": 1}


def test_noise_between_scans_is_counted_and_scans_survive() -> None:
    framer = BarcodeFramer()
    results = framer.feed((DATA / "barcode_noise_between_scans.bin").read_bytes())
    assert _codes(results) == ["CONV-1", "CONV-2"]
    assert framer.rejected == {"not_text": 1}


def test_oversized_line_is_rejected_once_and_next_scan_is_fine() -> None:
    framer = BarcodeFramer(FramerConfig(max_length=16))
    results = framer.feed(b"A" * 10_000)
    results += framer.feed(b"B" * 10_000 + b"\r\nOK-CODE\r\n")
    assert results == [Rejected(RejectReason.TOO_LONG, 20_000), Scan("OK-CODE")]
    assert framer.buffered <= framer.max_buffer


def test_line_just_over_the_limit_in_one_chunk_is_too_long() -> None:
    framer = BarcodeFramer(FramerConfig(max_length=8))
    assert framer.feed(b"123456789\n") == [Rejected(RejectReason.TOO_LONG, 9)]
    assert framer.feed(b"12345678\n") == [Scan("12345678")]


def test_explicit_suffix_split_across_chunks() -> None:
    framer = BarcodeFramer(FramerConfig(suffix=b"\r\n"))
    assert framer.feed(b"CODE\r") == []
    assert framer.feed(b"\n") == [Scan("CODE")]


def test_utf8_code_is_accepted() -> None:
    assert BarcodeFramer().feed("Préfecture-42\n".encode()) == [Scan("Préfecture-42")]


@settings(max_examples=300, deadline=None)
@given(
    chunks=st.lists(st.binary(max_size=300), max_size=40),
    suffix=st.sampled_from([b"", b"\r", b"\n", b"\r\n", b"\x03"]),
    prefix=st.sampled_from([b"", b"\x02"]),
    max_length=st.integers(1, 64),
)
def test_fuzz_framer_never_raises_and_stays_bounded(
    chunks: list[bytes], suffix: bytes, prefix: bytes, max_length: int
) -> None:
    framer = BarcodeFramer(FramerConfig(suffix=suffix, prefix=prefix, max_length=max_length))
    for chunk in chunks:
        for result in framer.feed(chunk):
            if isinstance(result, Scan):
                assert result.code.isprintable()
                assert 0 < len(result.code) <= max_length
        assert framer.buffered <= framer.max_buffer


@settings(max_examples=50, deadline=None)
@given(byte=st.binary(min_size=1, max_size=1), rounds=st.integers(1, 200))
def test_fuzz_flood_without_terminator_keeps_memory_bounded(byte: bytes, rounds: int) -> None:
    framer = BarcodeFramer(FramerConfig(suffix=b"\r\n"))
    for _ in range(rounds):
        framer.feed(byte * 1000)
        assert framer.buffered <= framer.max_buffer


@settings(max_examples=200, deadline=None)
@given(
    codes=st.lists(
        st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40),
        max_size=5,
    ),
    cut=st.integers(1, 7),
)
def test_fuzz_any_chunking_gives_the_same_scans(codes: list[str], cut: int) -> None:
    stream = b"".join(code.encode() + b"\r\n" for code in codes)
    framer = BarcodeFramer()
    results = []
    for start in range(0, len(stream), cut):
        results += framer.feed(stream[start : start + cut])
    assert _codes(results) == codes

"""Hypothesis over ``guichet audit verify FILE``'s input: an exported audit trail
damaged at random (bytes cut, inserted or flipped, lines dropped, NaN or deep nesting
slipped in). Reading it raises nothing but ``ChainFormatError``; and whenever what is
read differs from what was exported, the verdict says the chain is broken.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fixtures.fuzz import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guichet.audit_chain import GENESIS, ChainFormatError, Entry, Head, make_entry, verify
from provisioning.audit_trail import read_export

START = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def _chain(details: list[object]) -> list[Entry]:
    chain: list[Entry] = []
    head = Head(0, GENESIS)
    for i, detail in enumerate(details):
        entry = make_entry(
            head, START + timedelta(seconds=i), "ada", "admin", "config.set", "x", detail
        )
        chain.append(entry)
        head = Head(entry.seq, entry.hash)
    return chain


def _export(chain: list[Entry]) -> bytes:
    return "".join(
        json.dumps(e.to_json(), ensure_ascii=False, separators=(",", ":")) + "\n" for e in chain
    ).encode("utf-8")


details = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=8),
    lambda kids: (
        st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=5), kids, max_size=3)
    ),
    max_leaves=5,
)


@st.composite
def damaged_exports(draw: st.DrawFn) -> tuple[list[Entry], bytes]:
    chain = _chain(draw(st.lists(details, min_size=1, max_size=6)))
    data = bytearray(_export(chain))
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(data)))
        edit = draw(st.sampled_from(["cut", "insert", "flip", "drop_line", "nan", "nest"]))
        if edit == "cut":
            del data[at : at + draw(st.integers(1, 30))]
        elif edit == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=10))
        elif edit == "flip" and at < len(data):
            data[at] ^= draw(st.integers(1, 255))
        elif edit == "drop_line":
            lines = bytes(data).splitlines(keepends=True)
            if lines:
                del lines[draw(st.integers(0, len(lines) - 1))]
            data = bytearray(b"".join(lines))
        elif edit == "nan":
            data = bytearray(bytes(data).replace(b'"details":', b'"details":NaN,"x":', 1))
        elif edit == "nest":
            depth = draw(st.integers(100, 20_000))
            data[at:at] = b"\n" + b"[" * depth + b"]" * depth + b"\n"
    return chain, bytes(data)


@settings(
    max_examples=examples(200),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(damaged_exports())
def test_a_damaged_export_is_refused_or_found_broken(
    tmp_path: Path, export: tuple[list[Entry], bytes]
) -> None:
    chain, data = export
    path = tmp_path / "audit.jsonl"
    path.write_bytes(data)
    head = Head(chain[-1].seq, chain[-1].hash)
    try:
        read = read_export(path)
        verdict = verify(read, head)
    except ChainFormatError as exc:
        assert str(exc).strip()
        return
    if read == chain:
        assert verdict is None
    else:
        assert verdict is not None, "a changed trail passed as intact"


def test_a_line_nested_thousands_deep_is_a_format_error_naming_the_line(tmp_path: Path) -> None:
    """Found by the fuzzing: ``json.loads`` blew the stack (a traceback from the CLI)."""
    path = tmp_path / "audit.jsonl"
    chain = _chain([{"a": 1}])
    path.write_bytes(_export(chain) + b"[" * 50_000 + b"]" * 50_000 + b"\n")
    with pytest.raises(ChainFormatError, match="line 2: nested too deeply"):
        read_export(path)


def test_a_line_that_is_not_utf8_is_a_format_error_naming_the_line(tmp_path: Path) -> None:
    """Found by the fuzzing: a flipped byte gave a UnicodeDecodeError (a traceback)."""
    path = tmp_path / "audit.jsonl"
    path.write_bytes(_export(_chain([1, 2])).replace(b"ada", b"\xe9da", 2))
    with pytest.raises(ChainFormatError, match="line 1: not UTF-8"):
        read_export(path)

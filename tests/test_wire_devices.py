"""Device and transfer messages on the data channel: shapes, bounds, clean refusals."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guichet import wire
from guichet.wire import ErrorCode, WireError

GOOD = [
    {
        "type": "device_request",
        "request_id": "r1",
        "command": {"kind": "print_pdf", "transfer_id": "t1", "title": "Attestation"},
    },
    {
        "type": "device_request",
        "request_id": "r2",
        "command": {"kind": "print_receipt", "title": "Reçu", "lines": ["a", "b"], "qr": "x"},
    },
    {"type": "device_request", "request_id": "r3", "command": {"kind": "read_card"}},
    {
        "type": "device_request",
        "request_id": "r4",
        "command": {"kind": "scan", "dpi": 300, "colour": False},
    },
    {"type": "device_request", "request_id": "r5", "command": {"kind": "read_code"}},
    {"type": "cancel_request", "request_id": "r5"},
    {
        "type": "device_progress",
        "request_id": "r3",
        "phase": "waiting_consent",
        "message": "En attente de l'accord du citoyen.",
        "percent": None,
    },
    {
        "type": "device_result",
        "request_id": "r3",
        "result": {"kind": "read_card", "card_type": "ISO14443A", "uid": "04A1", "atr": "3B8F"},
    },
    {"type": "device_result", "request_id": "r5", "result": {"kind": "read_code", "text": "ABC"}},
    {
        "type": "device_result",
        "request_id": "r4",
        "result": {
            "kind": "scan",
            "transfer_id": "s1",
            "mime": "image/png",
            "size": 10,
            "width": 1,
            "height": 1,
            "dpi": 75,
        },
    },
    {"type": "device_error", "request_id": "r1", "code": "consent_refused", "reason": "Refusé."},
    {
        "type": "transfer_start",
        "transfer_id": "t1",
        "name": "a.pdf",
        "mime": "application/pdf",
        "size": 5,
        "sha256": "a" * 64,
        "chunks": 1,
    },
    {"type": "transfer_chunk", "transfer_id": "t1", "index": 0, "data": "aGVsbG8="},
    {"type": "transfer_end", "transfer_id": "t1"},
    {"type": "transfer_abort", "transfer_id": "t1", "code": "too_large", "reason": "trop gros"},
]


@pytest.mark.parametrize("data", GOOD, ids=lambda d: str(d["type"]))
def test_each_shape_round_trips(data: dict[str, object]) -> None:
    msg = wire.parse_peer(json.dumps({"v": 1, **data}))
    assert wire.parse_peer(wire.dump(msg)) == msg
    assert msg.type == data["type"]


@pytest.mark.parametrize(
    "data",
    [
        {"type": "device_request", "request_id": "r1", "command": {"kind": "format_disk"}},
        {"type": "device_request", "request_id": "r1", "command": {"kind": "scan", "dpi": 9600}},
        {"type": "device_request", "request_id": "r 1", "command": {"kind": "read_card"}},
        {
            "type": "device_request",
            "request_id": "r1",
            "command": {"kind": "print_receipt", "title": "t", "lines": ["x" * 65]},
        },
        {"type": "device_progress", "request_id": "r1", "phase": "working", "percent": 101},
        {
            "type": "device_result",
            "request_id": "r1",
            "result": {"kind": "read_card", "card_type": "x", "uid": "zz"},
        },
        {
            "type": "transfer_start",
            "transfer_id": "t",
            "mime": "application/pdf",
            "size": 0,
            "sha256": "a" * 64,
            "chunks": 1,
        },
        {
            "type": "transfer_start",
            "transfer_id": "t",
            "mime": "application/pdf",
            "size": 1,
            "sha256": "A" * 64,
            "chunks": 1,
        },
        {"type": "transfer_chunk", "transfer_id": "t", "index": -1, "data": "AA=="},
        {
            "type": "transfer_chunk",
            "transfer_id": "t",
            "index": 0,
            "data": "A" * (wire.MAX_TRANSFER_CHUNK_CHARS + 4),
        },
        {"type": "transfer_end", "transfer_id": "t", "extra": 1},
    ],
)
def test_bad_shapes_are_refused_with_a_reason(data: dict[str, object]) -> None:
    with pytest.raises(WireError) as info:
        wire.parse_peer(json.dumps({"v": 1, **data}))
    assert info.value.code is ErrorCode.MALFORMED
    assert str(data["type"]) in info.value.reason


def test_a_full_chunk_fits_the_wire_bound() -> None:
    import base64

    full = base64.b64encode(b"\xff" * wire.TRANSFER_CHUNK_BYTES).decode()
    assert len(full) == wire.MAX_TRANSFER_CHUNK_CHARS
    wire.TransferChunk(transfer_id="t", index=0, data=full)


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "request_id",
                "command",
                "result",
                "phase",
                "code",
                "transfer_id",
                "index",
                "data",
                "size",
                "chunks",
            ]
        ),
        st.none() | st.integers() | st.text(max_size=20) | st.lists(st.integers()),
    ),
    st.sampled_from([d["type"] for d in GOOD]),
)
def test_random_fields_fail_cleanly(fields: dict[str, object], msg_type: object) -> None:
    with contextlib.suppress(WireError):
        wire.parse_peer(json.dumps({"type": msg_type, **fields}))

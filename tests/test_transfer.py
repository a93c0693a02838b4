"""Chunked transfers: round trips, and every kind of damage refused cleanly.

Pure code, no I/O: the property tests feed :class:`TransferAssembler` with the
messages :func:`transfer_messages` builds, damaged in every way hypothesis can
think of, and check that a payload is only ever accepted when it is exactly the
one that was sent, and that nothing raises.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guichet import wire
from guichet.transfer import (
    CompletedTransfer,
    TransferAssembler,
    TransferFailure,
    chunk_count,
    transfer_messages,
)
from guichet.wire import TransferErrorCode

SMALL_CHUNK = 16
"""Tests use tiny chunks so random payloads span many of them."""

Msg = wire.TransferStart | wire.TransferChunk | wire.TransferEnd | wire.TransferAbort


def _messages(data: bytes, tid: str = "t1") -> list[Msg]:
    return list(transfer_messages(tid, data, mime="application/pdf", chunk_bytes=SMALL_CHUNK))


def _feed_all(asm: TransferAssembler, msgs: list[Msg]) -> list[CompletedTransfer | TransferFailure]:
    out = []
    for msg in msgs:
        result = asm.feed(msg)
        if result is not None:
            out.append(result)
    return out


def _assembler(**kw: int) -> TransferAssembler:
    return TransferAssembler(chunk_bytes=SMALL_CHUNK, **kw)


@given(st.binary(min_size=1, max_size=600))
def test_round_trip(data: bytes) -> None:
    asm = _assembler()
    msgs = _messages(data)
    assert len(msgs) == chunk_count(len(data), SMALL_CHUNK) + 2
    [done] = _feed_all(asm, msgs)
    assert isinstance(done, CompletedTransfer)
    assert bytes(done.data) == data
    assert done.sha256 == hashlib.sha256(data).hexdigest()
    asm.release("t1")
    assert asm.held == 0


@given(st.binary(min_size=1, max_size=400), st.randoms(use_true_random=False))
def test_chunks_in_any_order_are_accepted(data: bytes, rnd: object) -> None:
    msgs = _messages(data)
    chunks = msgs[1:-1]
    rnd.shuffle(chunks)  # type: ignore[attr-defined]
    [done] = _feed_all(_assembler(), [msgs[0], *chunks, msgs[-1]])
    assert isinstance(done, CompletedTransfer) and bytes(done.data) == data


def test_real_chunk_size_round_trip_of_a_large_payload() -> None:
    data = bytes(range(256)) * 1000 + b"tail"  # 256 004 bytes: 16 chunks, last one short
    msgs = list(transfer_messages("big", data, mime="application/pdf"))
    assert all(
        len(m.data) <= wire.MAX_TRANSFER_CHUNK_CHARS
        for m in msgs
        if isinstance(m, wire.TransferChunk)
    )
    # Every message fits well inside one SCTP message once serialised.
    assert max(len(wire.dump(m)) for m in msgs) < 64 * 1024
    # And survives the wire parser.
    asm = TransferAssembler()
    results = [asm.feed(wire.parse_peer(wire.dump(m))) for m in msgs]  # type: ignore[arg-type]
    done = results[-1]
    assert isinstance(done, CompletedTransfer) and bytes(done.data) == data


Damage = st.sampled_from(["drop", "duplicate", "flip", "truncate", "extend", "bad_b64", "index"])


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=300)
@given(st.binary(min_size=1, max_size=300), Damage, st.data())
def test_damage_is_refused_cleanly_never_accepted(
    data: bytes, damage: str, draw: st.DataObject
) -> None:
    msgs = _messages(data)
    chunks: list[Msg] = msgs[1:-1]
    i = draw.draw(st.integers(0, len(chunks) - 1))
    victim = chunks[i]
    assert isinstance(victim, wire.TransferChunk)
    raw = base64.b64decode(victim.data)
    if damage == "drop":
        del chunks[i]
    elif damage == "duplicate":
        chunks.insert(draw.draw(st.integers(0, len(chunks))), victim)
    elif damage == "flip":
        pos = draw.draw(st.integers(0, len(raw) - 1))
        bit = 1 << draw.draw(st.integers(0, 7))
        bad = raw[:pos] + bytes([raw[pos] ^ bit]) + raw[pos + 1 :]
        chunks[i] = victim.model_copy(update={"data": base64.b64encode(bad).decode()})
    elif damage == "truncate":
        bad = raw[:-1]
        if not bad:
            bad = b"\x00\x00"  # one byte cannot be truncated to a valid chunk: grow it instead
        chunks[i] = victim.model_copy(update={"data": base64.b64encode(bad).decode()})
    elif damage == "extend":
        chunks[i] = victim.model_copy(update={"data": base64.b64encode(raw + b"x").decode()})
    elif damage == "bad_b64":
        chunks[i] = victim.model_copy(update={"data": "!!" + victim.data[2:]})
    else:
        chunks[i] = victim.model_copy(update={"index": len(chunks) + draw.draw(st.integers(0, 5))})
    asm = _assembler()
    results = _feed_all(asm, [msgs[0], *chunks, msgs[-1]])
    assert not any(isinstance(r, CompletedTransfer) for r in results), damage
    assert any(isinstance(r, TransferFailure) for r in results), damage
    assert asm.held == 0  # a refused transfer frees its buffer at once


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["start", "chunk", "end", "abort"]),
            st.integers(0, 3),
            st.integers(0, 50),
            st.binary(max_size=40),
        ),
        max_size=40,
    )
)
def test_random_message_soup_never_raises_and_stays_bounded(
    ops: list[tuple[str, int, int, bytes]],
) -> None:
    asm = _assembler(max_bytes=100, max_concurrent=2)
    for op, tid_n, number, blob in ops:
        tid = f"t{tid_n}"
        msg: Msg
        if op == "start":
            msg = wire.TransferStart(
                transfer_id=tid,
                mime="image/png",
                size=number + 1,
                sha256=hashlib.sha256(blob).hexdigest(),
                chunks=max(1, number // 3),
            )
        elif op == "chunk":
            msg = wire.TransferChunk(
                transfer_id=tid, index=number, data=base64.b64encode(blob or b"x").decode()
            )
        elif op == "end":
            msg = wire.TransferEnd(transfer_id=tid)
        else:
            msg = wire.TransferAbort(transfer_id=tid)
        result = asm.feed(msg)
        if isinstance(result, CompletedTransfer):
            assert hashlib.sha256(result.data).hexdigest() == result.sha256
        assert asm.held <= 2
        assert asm.held_bytes <= 200


def test_limits_are_enforced_with_clear_reasons() -> None:
    asm = _assembler(max_bytes=100, max_concurrent=1)
    big = wire.TransferStart(
        transfer_id="big",
        mime="application/pdf",
        size=101,
        sha256="0" * 64,
        chunks=chunk_count(101, SMALL_CHUNK),
    )
    fail = asm.feed(big)
    assert isinstance(fail, TransferFailure) and fail.code is TransferErrorCode.TOO_LARGE
    assert "trop volumineux" in fail.reason
    lying = big.model_copy(update={"transfer_id": "lie", "size": 50, "chunks": 1})
    fail = asm.feed(lying)
    assert isinstance(fail, TransferFailure) and fail.code is TransferErrorCode.BAD_START
    assert asm.feed(_messages(b"a" * 20, "one")[0]) is None
    fail = asm.feed(_messages(b"b" * 20, "two")[0])
    assert isinstance(fail, TransferFailure) and fail.code is TransferErrorCode.TOO_MANY
    # A duplicate start does not destroy the transfer already running.
    fail = asm.feed(_messages(b"a" * 20, "one")[0])
    assert isinstance(fail, TransferFailure) and fail.code is TransferErrorCode.DUPLICATE_TRANSFER
    assert asm.in_progress("one")
    # The abort message sent back is a valid wire message.
    assert wire.parse_peer(wire.dump(fail.to_abort())).type == "transfer_abort"


def test_unknown_transfer_and_sender_abort() -> None:
    asm = _assembler()
    fail = asm.feed(wire.TransferChunk(transfer_id="nope", index=0, data="AA=="))
    assert isinstance(fail, TransferFailure) and fail.code is TransferErrorCode.UNKNOWN_TRANSFER
    fail = asm.feed(wire.TransferEnd(transfer_id="nope"))
    assert isinstance(fail, TransferFailure) and fail.code is TransferErrorCode.UNKNOWN_TRANSFER
    msgs = _messages(b"x" * 40)
    asm.feed(msgs[0])
    asm.feed(msgs[1])
    assert asm.feed(wire.TransferAbort(transfer_id="t1")) is None
    assert asm.held == 0
    assert asm.feed(wire.TransferAbort(transfer_id="t1")) is None  # twice: still quiet


def test_wipe_zeroes_every_buffer() -> None:
    asm = _assembler()
    secret = b"NIR 1 84 12 75 123 456 78" * 3
    [done] = _feed_all(asm, _messages(secret, "done"))
    assert isinstance(done, CompletedTransfer)
    half = _messages(secret, "half")
    asm.feed(half[0])
    asm.feed(half[1])
    pending = asm._incoming["half"].buffer
    asm.wipe()
    assert asm.held == 0
    assert done.data == bytearray(len(secret))
    assert pending == bytearray(len(secret))


def test_sender_refuses_bad_input() -> None:
    with pytest.raises(ValueError):
        list(transfer_messages("t", b"", mime="application/pdf"))
    with pytest.raises(ValueError):
        list(
            transfer_messages(
                "t", b"x", mime="application/pdf", chunk_bytes=wire.TRANSFER_CHUNK_BYTES + 1
            )
        )

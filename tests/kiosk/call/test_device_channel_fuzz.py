"""Hypothesis over the booth's device router (kiosk/call/device_channel.py): any
sequence of well-formed data-channel messages an agent console could send, in any
order (requests of every kind, cancels of known and unknown ids, duplicate ids,
transfers with wrong indexes, sizes and hashes, a PDF print before or without its
transfer, reports sent the wrong way).

The router runs on the real simulated devices of ``fixtures.device_handler``. After
each sequence: no unexpected error was logged, everything the booth sent back is a
message of the protocol, and every request it accepted got its final answer (a result
or an error report) before the call ended.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
from typing import Any

from fixtures.device_handler import SimDeviceHandler
from fixtures.fuzz import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guichet import wire
from kiosk.call.device_channel import DeviceChannel

REQUEST_TIMEOUT_S = 1.0
"""Short, so that a request left waiting (a PDF whose transfer never ends) times out
within the example; the router's real timeout is a module constant."""
SETTLE_S = REQUEST_TIMEOUT_S + 1.5

ids = st.sampled_from(["r1", "r2", "r3", "t1", "t2", "x"])
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 4 + b"\n%%EOF\n"
commands = st.one_of(
    st.fixed_dictionaries(
        {"kind": st.just("print_pdf"), "transfer_id": ids},
        optional={"title": st.text(max_size=30)},
    ),
    st.fixed_dictionaries(
        {"kind": st.just("print_receipt"), "title": st.text(min_size=1, max_size=20)},
        optional={
            "lines": st.lists(st.text(max_size=30), max_size=5),
            "qr": st.text(min_size=1, max_size=40),
        },
    ),
    st.just({"kind": "read_card"}),
    st.just({"kind": "read_code"}),
    st.fixed_dictionaries(
        {"kind": st.just("scan")},
        optional={"dpi": st.sampled_from([75, 150]), "colour": st.booleans()},
    ),
)


def _start(tid: str, data: bytes, chunks: int, sha: str | None) -> dict[str, Any]:
    return {
        "type": "transfer_start",
        "transfer_id": tid,
        "mime": "application/pdf",
        "size": len(data),
        "sha256": sha or hashlib.sha256(data).hexdigest(),
        "chunks": chunks,
    }


@st.composite
def transfers(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A PDF transfer, whole or damaged (missing, repeated or wrong chunks, bad hash)."""
    tid = draw(ids)
    cut = draw(st.integers(1, len(PDF) - 1))
    parts = [PDF[:cut], PDF[cut:]]
    messages = [_start(tid, PDF, 2, draw(st.none() | st.just("0" * 64)))]
    for index in draw(st.lists(st.integers(0, 3), min_size=0, max_size=3) | st.just([0, 1])):
        data = parts[index] if index < 2 else b"extra"
        messages.append(
            {
                "type": "transfer_chunk",
                "transfer_id": tid,
                "index": index,
                "data": base64.b64encode(data).decode(),
            }
        )
    if draw(st.booleans()):
        messages.append({"type": "transfer_end", "transfer_id": tid})
    return messages


single = st.one_of(
    st.builds(
        lambda rid, command: {"type": "device_request", "request_id": rid, "command": command},
        ids,
        commands,
    ),
    ids.map(lambda rid: {"type": "cancel_request", "request_id": rid}),
    ids.map(lambda tid: {"type": "transfer_abort", "transfer_id": tid}),
    ids.map(lambda tid: {"type": "transfer_end", "transfer_id": tid}),
    # Reports go booth -> agent: an agent sending one is confused, not obeyed.
    ids.map(lambda rid: {"type": "device_error", "request_id": rid, "code": "busy", "reason": "x"}),
)
sequences = st.lists(st.one_of(single.map(lambda m: [m]), transfers()), max_size=8).map(
    lambda groups: [m for group in groups for m in group]
)


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def _run(messages: list[dict[str, Any]]) -> None:
    sent: list[wire.AnyPeerMessage] = []

    def send(msg: wire.AnyPeerMessage) -> None:
        sent.append(wire.parse_peer(wire.dump(msg)))  # raises if out of protocol

    handler = await SimDeviceHandler().start()
    errors = Collect()
    logging.getLogger("kiosk").addHandler(errors)
    router = DeviceChannel(handler, send, request_timeout_s=REQUEST_TIMEOUT_S)
    try:
        for raw in messages:
            msg = wire.parse_peer(json.dumps(raw))
            router.handle(msg)
            await asyncio.sleep(0)
        async with asyncio.timeout(SETTLE_S):
            while not all(state.finished for state in router.requests.values()):
                await asyncio.sleep(0.02)
        for rid in router.requests:
            finals = [
                m
                for m in sent
                if isinstance(m, wire.DeviceResult | wire.DeviceErrorReport) and m.request_id == rid
            ]
            assert finals, f"request {rid} got no final answer: {sent}"
        for m in sent:
            if isinstance(m, wire.DeviceErrorReport):
                assert m.reason.strip()
        assert not errors.records, [r.getMessage() for r in errors.records]
    finally:
        logging.getLogger("kiosk").removeHandler(errors)
        await router.close()
        await handler.stop()


@settings(
    max_examples=examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(sequences)
def test_any_agent_messages_in_any_order_get_answers_and_no_unexpected_error(
    messages: list[dict[str, Any]],
) -> None:
    asyncio.run(_run(messages))

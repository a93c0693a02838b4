"""Signaling edge cases the real switchboard cannot be made to produce.

The switchboard only ever sends well-formed messages, always welcomes a good
token at once and always explains a 4401 close with an ``error`` first.  To check
that the booth survives a buggy or hostile server anyway, these tests use a tiny
``websockets`` server scripted per test.  Normal paths are tested against the real
switchboard in ``test_call_signaling.py``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from callkit import wait_for
from websockets.asyncio.server import ServerConnection, serve

from guichet import wire
from kiosk.call.signaling import CLOSE_UNAUTHORIZED, SignalingClient

Script = Callable[[ServerConnection], Awaitable[None]]
Client = tuple[SignalingClient, list[object], list[str]]
TOKEN = "edge-case-token"
FAST_RECONNECT_MIN_S = 0.05
FAST_RECONNECT_MAX_S = 0.2
WELCOME = wire.dump(wire.BoothWelcome(booth_id="b-1", booth_name="Mairie"))
QUEUED = wire.dump(wire.Queued(ticket_id="t-1", service_id="caf", position=1, estimated_wait_s=60))


class StandIn:
    """A scripted server: each connection runs ``script``; counts connections."""

    def __init__(self) -> None:
        self.script: Script | None = None
        self.connections = 0
        self.hellos: list[wire.BoothHello] = []
        self.url = ""

    async def handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        hello = wire.parse_from_booth(await ws.recv())
        assert isinstance(hello, wire.BoothHello)
        self.hellos.append(hello)
        assert self.script is not None
        await self.script(ws)


@pytest.fixture
async def stand_in() -> AsyncIterator[StandIn]:
    server = StandIn()
    # The stand-in accepts anything, as a buggy server might.
    async with serve(server.handler, "127.0.0.1", 0, max_size=None) as ws_server:
        port = ws_server.sockets[0].getsockname()[1]
        server.url = f"ws://127.0.0.1:{port}/ws/booth"
        yield server


@pytest.fixture
async def client(
    stand_in: StandIn,
) -> AsyncIterator[Client]:
    messages: list[object] = []
    states: list[str] = []
    signaling = SignalingClient(
        stand_in.url,
        TOKEN,
        "edge-1",
        reconnect_min_s=FAST_RECONNECT_MIN_S,
        reconnect_max_s=FAST_RECONNECT_MAX_S,
        welcome_timeout_s=0.3,
        on_message=messages.append,
        on_state=lambda state, reason: states.append(state),
    )
    yield signaling, messages, states
    await signaling.stop()


async def serve_forever(ws: ServerConnection) -> None:
    await ws.wait_closed()


async def test_malformed_server_frames_are_dropped_and_the_socket_stays_open(
    stand_in: StandIn, client: Client
) -> None:
    signaling, messages, states = client
    garbage: list[str | bytes] = [
        "not json",
        b"\xff\xfe\x00binary",
        "[]",
        json.dumps({"v": 1, "type": "no_such_type"}),
        json.dumps({"v": 2, "type": "queued"}),
        json.dumps({"v": 1, "type": "queued", "ticket_id": "t-1"}),
        json.dumps({"v": 1, "type": "queued", **json.loads(QUEUED), "surprise": True}),
    ]

    async def script(ws: ServerConnection) -> None:
        await ws.send(WELCOME)
        for frame in garbage:
            await ws.send(frame)
        await ws.send(QUEUED)
        await ws.wait_closed()

    stand_in.script = script
    await signaling.start()
    await wait_for(lambda: any(isinstance(m, wire.Queued) for m in messages), what="queued")
    assert signaling.bad_messages == len(garbage)
    assert states == ["connecting", "connected"]
    assert stand_in.connections == 1
    assert stand_in.hellos[0].token == TOKEN
    assert stand_in.hellos[0].app_version == "edge-1"


async def test_an_oversized_frame_drops_the_connection_and_the_booth_reconnects(
    stand_in: StandIn, client: Client
) -> None:
    signaling, _, states = client
    sent_big = False

    async def script(ws: ServerConnection) -> None:
        nonlocal sent_big
        await ws.send(WELCOME)
        if not sent_big:
            sent_big = True
            await ws.send("x" * (wire.MAX_MESSAGE_BYTES + 1))
        await ws.wait_closed()

    stand_in.script = script
    await signaling.start()
    await wait_for(lambda: signaling.connections == 2, what="reconnection")
    assert states[:4] == ["connecting", "connected", "disconnected", "connecting"]
    assert signaling.connected


async def test_a_server_that_never_welcomes_is_left_and_retried(
    stand_in: StandIn, client: Client
) -> None:
    signaling, _, states = client
    stand_in.script = serve_forever
    await signaling.start()
    await wait_for(lambda: stand_in.connections >= 2, what="retry after welcome timeout")
    assert "connected" not in states
    assert "TimeoutError" in signaling.reason or signaling.state == "connecting"


async def test_close_4401_without_explanation_still_means_unauthorized(
    stand_in: StandIn, client: Client
) -> None:
    signaling, _, states = client

    async def script(ws: ServerConnection) -> None:
        await ws.close(CLOSE_UNAUTHORIZED, "go away")

    stand_in.script = script
    await signaling.start()
    await wait_for(lambda: "unauthorized" in states, what="unauthorized")
    await asyncio.sleep(3 * FAST_RECONNECT_MAX_S)
    assert stand_in.connections == 1


async def test_a_failing_message_handler_does_not_break_the_connection(
    stand_in: StandIn, client: Client
) -> None:
    signaling, messages, _ = client
    seen: list[object] = []

    def explode(msg: object) -> None:
        seen.append(msg)
        raise RuntimeError("bug in the booth UI")

    async def script(ws: ServerConnection) -> None:
        await ws.send(WELCOME)
        await ws.send(QUEUED)
        await ws.send(QUEUED)
        await ws.wait_closed()

    signaling.on_message = explode
    stand_in.script = script
    await signaling.start()
    await wait_for(lambda: len(seen) == 3, what="all messages despite errors")
    assert signaling.connected
    assert messages == []

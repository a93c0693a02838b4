"""Hypothesis-made frames sent to the real server's ``/ws/booth`` and ``/ws/agent``.

Frames are well-shaped messages with wrong values, wrong types, unknown types, text
that is not JSON or not an object, binary frames, messages just under and over the
size limit, deeply nested JSON, and real protocol messages in any order (joining,
answering, SDP and ICE for the live call or for another one). After each sequence:
every frame the server sent is a message of the protocol (an ``error`` says why in
words), a socket still open answers a ping, one that was closed was closed with a
documented code, and the server still answers a normal booth and agent. The server
log must show no traceback at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import websockets
from fixtures import clients
from fixtures.fuzz import examples
from fixtures.server import RunningServer, start_switchboard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import ClientConnection

from guichet import wire
from provisioning import signing
from switchboard.hub import CLOSE_REPLACED, CLOSE_UNAUTHORIZED

EXAMPLES = examples(60)
"""Sequences per test: bounded so that the module takes about half a minute."""
RECV_TIMEOUT_S = 15.0
"""Generous: the server answers in milliseconds, but CI machines can be very loaded."""
CURRENT_CALL = "@current-call@"
"""Stands for the id of the call in progress, filled in when the frame is sent."""
CLOSE_TOO_BIG = 1009
"""What the WebSocket layer answers to a frame over its own limit (16 MiB)."""
DOCUMENTED_CLOSES = {CLOSE_UNAUTHORIZED, CLOSE_REPLACED, CLOSE_TOO_BIG}
SERVICES = ["caf", "impots", "ants", "nope", ""]
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=10), kids, max_size=4)
    ),
    max_leaves=15,
)
call_ids = st.one_of(
    st.just(CURRENT_CALL),
    st.from_regex(r"[A-Za-z0-9_.:-]{1,64}", fullmatch=True),
    st.text(max_size=80),
)
descriptions = st.one_of(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["offer", "answer", "pranswer"]), "sdp": st.text(max_size=200)}
    ),
    json_values,
)
candidates = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {"candidate": st.text(max_size=100)},
        optional={"sdpMid": json_values, "sdpMLineIndex": json_values},
    ),
    json_values,
)


def _msg(type_: str, **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[str]:
    """A message of that type whose fields come from the strategies (each may be left out)."""
    return st.fixed_dictionaries({"type": st.just(type_)}, optional=fields).map(json.dumps)


def _as_bytes(frame: str | bytes) -> bytes:
    return frame if isinstance(frame, bytes) else frame.encode("utf-8")


def _sized(n: int) -> str:
    return json.dumps({"type": "ping", "pad": "x" * max(n - 30, 0)})


shared_frames = st.one_of(
    _msg("ping"),
    _msg("ping", v=st.integers(-2, 3) | json_values),
    st.builds(
        lambda t, extra: json.dumps({**extra, "type": t}),
        st.text(max_size=40) | json_values,
        st.dictionaries(st.text(max_size=10), json_values, max_size=4),
    ),
    st.text(max_size=200),  # mostly not JSON
    json_values.map(json.dumps),  # JSON, but maybe not an object
    st.binary(max_size=200),
    st.integers(wire.MAX_MESSAGE_BYTES - 64, wire.MAX_MESSAGE_BYTES + 64).map(
        _sized
    ),  # either side of the size limit
    st.integers(1_000, 60_000).map(lambda depth: "[" * depth + "]" * depth),
    st.integers(1_000, 30_000).map(lambda depth: '{"type":' * depth + "1" + "}" * depth),
)
booth_frames = st.one_of(
    shared_frames,
    _msg("hello", token=json_values | st.text(max_size=300), app_version=json_values),
    _msg(
        "join_queue",
        service_id=st.sampled_from(SERVICES) | json_values,
        language=st.sampled_from(["fr", "en", "ar", "x", "fr-FR"]) | json_values,
    ),
    _msg("join_queue", service_id=st.sampled_from(SERVICES[:2])),
    _msg("leave_queue"),
    _msg("offer", call_id=call_ids, description=descriptions),
    _msg("ice", call_id=call_ids, candidate=candidates),
    _msg("hangup", call_id=call_ids, reason=st.text(max_size=250) | json_values),
)
agent_frames = st.one_of(
    shared_frames,
    _msg("answer_next", service_id=st.sampled_from(SERVICES) | json_values),
    _msg("answer_next"),
    _msg("set_presence", status=st.sampled_from(["available", "paused", "away"]) | json_values),
    _msg("answer", call_id=call_ids, description=descriptions),
    _msg("ice", call_id=call_ids, candidate=candidates),
    _msg("hangup", call_id=call_ids, reason=st.text(max_size=250) | json_values),
)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("booth"), booth_frames),
        st.tuples(st.just("agent"), agent_frames),
        st.tuples(st.just("booth"), booth_frames.map(_as_bytes)),  # the same, as binary
    ),
    max_size=12,
)


@dataclass
class Target:
    server: RunningServer
    agent_cookie: str
    frames_sent: int = 0
    closes: list[int] = field(default_factory=list)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    server = start_switchboard(tmp_path_factory.mktemp("ws-fuzz"))
    try:
        yield Target(server, clients.login_cookie(server, "alice"))
    finally:
        server.stop()


@dataclass
class Side:
    """One fuzzed socket and everything it received."""

    name: str
    ws: ClientConnection
    parse: Any
    received: list[str] = field(default_factory=list)

    async def drain_until_pong(self) -> None:
        """Read until a pong (all earlier frames handled) or the close."""
        await self.ws.send(wire.dump(wire.Ping()))
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), RECV_TIMEOUT_S)
            assert isinstance(raw, str), f"{self.name}: the server sent a binary frame"
            self.received.append(raw)
            if json.loads(raw).get("type") == "pong":
                return


async def _open_booth(server: RunningServer) -> ClientConnection:
    ws = await websockets.connect(f"{server.ws_url}/ws/booth", max_size=None)
    await ws.send(wire.dump(wire.BoothHello(token=server.booth_tokens["booth-1"])))
    welcome = wire.parse_to_booth(await asyncio.wait_for(ws.recv(), RECV_TIMEOUT_S))
    assert isinstance(welcome, wire.BoothWelcome)
    return ws


async def _open_agent(target: Target) -> ClientConnection:
    ws = await websockets.connect(
        f"{target.server.ws_url}/ws/agent",
        additional_headers={"Cookie": f"guichet_session={target.agent_cookie}"},
        max_size=None,
    )
    for expected in (wire.AgentWelcome, wire.Queues):
        message = wire.parse_to_agent(await asyncio.wait_for(ws.recv(), RECV_TIMEOUT_S))
        assert isinstance(message, expected)
    return ws


def _current_call(sides: list[Side]) -> str:
    for side in sides:
        for raw in reversed(side.received):
            with contextlib.suppress(ValueError, AttributeError):
                call_id = json.loads(raw).get("call_id")
                if isinstance(call_id, str):
                    return call_id
    return "no-call-yet"


async def _start_call(booth: Side, agent: Side) -> None:
    """The booth queues for caf and the agent answers: the frames then land mid-call."""
    await booth.ws.send(wire.dump(wire.JoinQueue(service_id="caf")))
    await booth.drain_until_pong()
    await agent.ws.send(wire.dump(wire.AnswerNext(service_id="caf")))
    await agent.drain_until_pong()
    types = [json.loads(raw)["type"] for raw in agent.received]
    assert "call_assigned" in types, agent.received


async def _fuzz_sequence(
    target: Target, in_call: bool, sequence: list[tuple[str, str | bytes]]
) -> None:
    booth = Side("booth", await _open_booth(target.server), wire.parse_to_booth)
    agent = Side("agent", await _open_agent(target), wire.parse_to_agent)
    sides = {"booth": booth, "agent": agent}
    try:
        if in_call:
            await _start_call(booth, agent)
        for who, frame in sequence:
            side = sides[who]
            if side.ws.close_code is not None:
                continue
            if isinstance(frame, str) and CURRENT_CALL in frame:
                frame = frame.replace(CURRENT_CALL, _current_call([booth, agent]))
            with contextlib.suppress(websockets.ConnectionClosed):
                await side.ws.send(frame)
                target.frames_sent += 1
            # Read as we go, so that the call ids the server hands out can be reused.
            with contextlib.suppress(websockets.ConnectionClosed):
                await side.drain_until_pong()
        for side in (booth, agent):
            try:
                await side.drain_until_pong()
            except websockets.ConnectionClosed:
                target.closes.append(side.ws.close_code or 0)
                assert side.ws.close_code in DOCUMENTED_CLOSES, (side.name, side.ws.close_code)
            for raw in side.received:
                message = side.parse(raw)  # raises if the server spoke out of protocol
                if isinstance(message, wire.Error):
                    assert message.message.strip(), raw
    finally:
        await booth.ws.close()
        await agent.ws.close()


def _assert_server_healthy(target: Target) -> None:
    server = target.server
    assert server.process.poll() is None, server.log()[-3000:]
    assert httpx.get(f"{server.base_url}/api/v1/health", timeout=5).status_code == 200


async def _normal_call_still_works(target: Target) -> None:
    """A booth joins, the agent answers, both hear of the call, the booth hangs up."""
    booth = await clients.booth(target.server)
    agent = await clients.agent(target.server)
    try:
        await booth.send("join_queue", service_id="caf", language="fr")
        await booth.next("queued")
        await agent.send("answer_next", service_id="caf")
        assigned = await agent.next("call_assigned")
        started = await booth.next("call_started")
        assert assigned["call_id"] == started["call_id"]
        await booth.send("hangup", call_id=started["call_id"])
        await agent.next("call_ended")
    finally:
        await booth.close()
        await agent.close()


def _assert_log_clean(server: RunningServer) -> None:
    log = server.log()
    for sign in ("Traceback", "Exception in ASGI", "websocket ended with"):
        assert sign not in log, log[max(log.find(sign) - 2000, 0) : log.find(sign) + 2000]


@FUZZ_SETTINGS
@given(st.booleans(), steps)
def test_any_frames_in_any_order_get_protocol_answers_and_the_server_stays_up(
    target: Target, in_call: bool, sequence: list[tuple[str, str | bytes]]
) -> None:
    asyncio.run(_fuzz_sequence(target, in_call, sequence))
    _assert_server_healthy(target)


first_frames = st.one_of(
    booth_frames,
    booth_frames.map(_as_bytes),
    _msg("hello", token=st.text(min_size=8, max_size=60)),
)
signature_headers = st.dictionaries(
    st.sampled_from(
        [
            signing.HEADER_BOOTH,
            signing.HEADER_TIMESTAMP,
            signing.HEADER_NONCE,
            signing.HEADER_SIGNATURE,
        ]
    ),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80),
    max_size=4,
)


@FUZZ_SETTINGS
@given(first_frames, signature_headers)
def test_a_booth_that_does_not_prove_who_it_is_gets_an_error_and_4401(
    target: Target, first: str | bytes, headers: dict[str, str]
) -> None:
    async def run() -> None:
        async with websockets.connect(
            f"{target.server.ws_url}/ws/booth", additional_headers=headers, max_size=None
        ) as ws:
            with contextlib.suppress(websockets.ConnectionClosed):
                await ws.send(first)
            answers = []
            with contextlib.suppress(websockets.ConnectionClosed):
                while True:
                    answers.append(await asyncio.wait_for(ws.recv(), RECV_TIMEOUT_S))
            assert ws.close_code in (CLOSE_UNAUTHORIZED, CLOSE_TOO_BIG), ws.close_code
            if ws.close_code == CLOSE_UNAUTHORIZED:
                assert len(answers) == 1, answers
                error = wire.parse_to_booth(answers[0])
                assert isinstance(error, wire.Error) and error.message.strip()

    asyncio.run(run())


@FUZZ_SETTINGS
@given(
    cookie=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=80),
    origin=st.none() | st.sampled_from(["http://evil.example", "null", "http://127.0.0.1"]),
)
def test_an_agent_without_a_valid_session_or_from_elsewhere_gets_4401(
    target: Target, cookie: str, origin: str | None
) -> None:
    async def run() -> None:
        headers = {"Cookie": cookie}
        if origin is not None:
            headers["Origin"] = origin
        async with websockets.connect(
            f"{target.server.ws_url}/ws/agent", additional_headers=headers
        ) as ws:
            with contextlib.suppress(websockets.ConnectionClosed):
                while True:
                    await asyncio.wait_for(ws.recv(), RECV_TIMEOUT_S)
            assert ws.close_code == CLOSE_UNAUTHORIZED

    asyncio.run(run())


def test_frame_over_the_socket_limit_closes_with_1009_and_the_server_stays_up(
    target: Target,
) -> None:
    async def run() -> None:
        ws = await _open_booth(target.server)
        await ws.send(_sized(17 * 1024 * 1024))
        with contextlib.suppress(websockets.ConnectionClosed):
            while True:
                await asyncio.wait_for(ws.recv(), RECV_TIMEOUT_S)
        assert ws.close_code == CLOSE_TOO_BIG

    asyncio.run(run())
    asyncio.run(_normal_call_still_works(target))
    _assert_server_healthy(target)


def test_json_nested_too_deeply_is_answered_and_the_socket_stays_open(target: Target) -> None:
    """Found by this fuzzing: ``json.loads`` raised RecursionError and the server dropped
    the socket (1006) without a word or a log line."""

    async def run() -> None:
        booth = Side("booth", await _open_booth(target.server), wire.parse_to_booth)
        agent = Side("agent", await _open_agent(target), wire.parse_to_agent)
        try:
            for side in (booth, agent):
                await side.ws.send("[" * 100_000 + "]" * 100_000)
                await side.drain_until_pong()  # still open: it answers the ping
                errors = [m for m in map(side.parse, side.received) if isinstance(m, wire.Error)]
                assert [(e.code, e.message) for e in errors] == [
                    (wire.ErrorCode.MALFORMED, "message is nested too deeply")
                ]
        finally:
            await booth.ws.close()
            await agent.ws.close()

    asyncio.run(run())


def test_the_server_still_serves_normal_clients_and_logged_no_crash(target: Target) -> None:
    """Runs last in this module: after everything above, a normal call works."""
    asyncio.run(_normal_call_still_works(target))
    _assert_server_healthy(target)
    _assert_log_clean(target.server)

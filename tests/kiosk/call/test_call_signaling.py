"""The booth's signaling client against the real switchboard (normal paths).

Protocol edge cases the real server never produces (malformed frames, a silent
server) are in ``test_call_signaling_edge.py`` with a tiny stand-in server.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from callkit import TEST_HEARTBEAT_S, TEST_PEER_TIMEOUT_S, AgentPeer, BoothRecorder, wait_for
from fixtures.server import RunningServer, free_port
from websockets.asyncio.client import ClientConnection, connect

from guichet import wire
from kiosk.call.media import make_media
from kiosk.call.peer import BoothPeer
from kiosk.call.signaling import NotConnected, SignalingClient

FAST_RECONNECT_MIN_S = 0.05
FAST_RECONNECT_MAX_S = 0.3


class Inbox:
    """Collects a client's states and messages."""

    def __init__(self) -> None:
        self.states: list[tuple[str, str]] = []
        self.messages: list[object] = []

    def on_state(self, state: str, reason: str) -> None:
        self.states.append((state, reason))

    def on_message(self, msg: object) -> None:
        self.messages.append(msg)

    def of_type(self, kind: type) -> list[object]:
        return [m for m in self.messages if isinstance(m, kind)]

    def state_names(self) -> list[str]:
        return [s for s, _ in self.states]


def make_client(url: str, token: str, inbox: Inbox) -> SignalingClient:
    return SignalingClient(
        url,
        token,
        "test-1.0",
        reconnect_min_s=FAST_RECONNECT_MIN_S,
        reconnect_max_s=FAST_RECONNECT_MAX_S,
        on_message=inbox.on_message,
        on_state=inbox.on_state,
    )


@pytest.fixture
async def clients() -> AsyncIterator[list[SignalingClient]]:
    started: list[SignalingClient] = []
    yield started
    for client in started:
        await client.stop()


async def test_booth_is_welcomed_then_queues_and_pings(
    switchboard: RunningServer, clients: list[SignalingClient]
) -> None:
    inbox = Inbox()
    client = make_client(
        f"{switchboard.ws_url}/ws/booth", switchboard.booth_tokens["booth-1"], inbox
    )
    clients.append(client)
    await client.start()
    await client.wait_connected(5)
    assert inbox.state_names() == ["connecting", "connected"]
    await wait_for(lambda: inbox.of_type(wire.BoothWelcome), what="welcome")
    welcome = inbox.of_type(wire.BoothWelcome)[0]
    assert isinstance(welcome, wire.BoothWelcome)
    assert welcome.booth_id == switchboard.booth_ids["booth-1"]

    await client.send(wire.JoinQueue(service_id="caf", language="fr"))
    await client.send(wire.Ping())
    await wait_for(lambda: inbox.of_type(wire.Queued) and inbox.of_type(wire.Pong), what="answers")
    queued = inbox.of_type(wire.Queued)[0]
    assert isinstance(queued, wire.Queued)
    assert (queued.service_id, queued.position) == ("caf", 1)
    assert client.bad_messages == 0


async def test_refused_token_is_reported_once_and_not_retried(
    switchboard: RunningServer, clients: list[SignalingClient]
) -> None:
    inbox = Inbox()
    client = make_client(f"{switchboard.ws_url}/ws/booth", "not-a-real-token-123", inbox)
    clients.append(client)
    await client.start()
    await wait_for(lambda: "unauthorized" in inbox.state_names(), what="unauthorized")
    await asyncio.sleep(5 * FAST_RECONNECT_MAX_S)
    assert inbox.state_names() == ["connecting", "unauthorized"]
    with pytest.raises(NotConnected):
        await client.send(wire.Ping())


async def test_a_second_connection_of_the_booth_replaces_the_first(
    switchboard: RunningServer, clients: list[SignalingClient]
) -> None:
    url, token = f"{switchboard.ws_url}/ws/booth", switchboard.booth_tokens["booth-1"]
    first_inbox, second_inbox = Inbox(), Inbox()
    first = make_client(url, token, first_inbox)
    clients.append(first)
    await first.start()
    await first.wait_connected(5)
    second = make_client(url, token, second_inbox)
    clients.append(second)
    await second.start()
    await wait_for(lambda: "disconnected" in first_inbox.state_names(), what="replaced")
    reason = dict(first_inbox.states)["disconnected"]
    assert reason.startswith("replaced"), reason
    # The first retries after the long delay, and takes the place back.
    await wait_for(lambda: first.connections == 2, timeout=5, what="first reconnects")


async def test_unreachable_switchboard_is_retried_until_it_answers(
    tmp_path: object, clients: list[SignalingClient]
) -> None:
    inbox = Inbox()
    client = make_client(f"ws://127.0.0.1:{free_port()}/ws/booth", "whatever-token", inbox)
    clients.append(client)
    await client.start()
    await wait_for(lambda: inbox.state_names().count("disconnected") >= 3, what="retries")
    reasons = {reason for state, reason in inbox.states if state == "disconnected"}
    assert any("Connect" in r or "refused" in r.lower() for r in reasons), reasons
    with pytest.raises(NotConnected):
        await client.send(wire.Ping())
    await client.stop()
    assert inbox.state_names()[-1] == "stopped"


async def _agent_socket(server: RunningServer, username: str) -> ClientConnection:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        response = await http.post(
            "/api/v1/agent/login",
            json={"username": username, "password": server.agent_passwords[username]},
        )
        response.raise_for_status()
        cookie = "; ".join(f"{k}={v}" for k, v in response.cookies.items())
    return await connect(f"{server.ws_url}/ws/agent", additional_headers={"Cookie": cookie})


async def _next_of(ws: ClientConnection, kind: type, timeout: float = 10) -> object:
    async with asyncio.timeout(timeout):
        while True:
            msg = wire.parse_to_agent(await ws.recv())
            if isinstance(msg, kind):
                return msg


async def test_full_call_through_the_switchboard(
    switchboard: RunningServer, clients: list[SignalingClient]
) -> None:
    """Booth queues, agent answers, offer/answer relayed, video flows, agent hangs up."""
    media = make_media(fake=True)
    recorder = BoothRecorder()
    agent_peer = AgentPeer()
    booth_peer: BoothPeer | None = None
    started_at: dict[str, float] = {}
    inbox = Inbox()
    client = make_client(
        f"{switchboard.ws_url}/ws/booth", switchboard.booth_tokens["booth-1"], inbox
    )
    clients.append(client)

    async def on_booth_message(msg: object) -> None:
        nonlocal booth_peer
        inbox.on_message(msg)
        if isinstance(msg, wire.CallStarted):
            started_at["call_started"] = time.monotonic()
            booth_peer = BoothPeer(
                msg.ice_servers,
                media,
                on_remote_video_frame=recorder.on_frame,
                on_chat=recorder.on_chat,
                on_state=recorder.on_state,
                heartbeat_interval_s=TEST_HEARTBEAT_S,
                peer_timeout_s=TEST_PEER_TIMEOUT_S,
            )
            offer = await booth_peer.create_offer()
            await client.send(wire.Offer(call_id=msg.call_id, description=offer))
        elif isinstance(msg, wire.Answer) and booth_peer is not None:
            await booth_peer.accept_answer(msg.description)

    client.on_message = on_booth_message
    agent_ws = await _agent_socket(switchboard, "alice")
    try:
        await client.start()
        await client.wait_connected(5)
        await client.send(wire.JoinQueue(service_id="caf"))
        await wait_for(lambda: inbox.of_type(wire.Queued), what="queued")
        await agent_ws.send(wire.dump(wire.AnswerNext(service_id="caf")))
        assigned = await _next_of(agent_ws, wire.CallAssigned)
        assert isinstance(assigned, wire.CallAssigned)
        offer = await _next_of(agent_ws, wire.Offer)
        assert isinstance(offer, wire.Offer)
        answer = await agent_peer.answer(offer.description)
        await agent_ws.send(wire.dump(wire.Answer(call_id=assigned.call_id, description=answer)))
        await wait_for(
            lambda: booth_peer is not None and booth_peer.frames_received > 0 and agent_peer.frames,
            timeout=10,
            what="video both ways",
        )
        assert booth_peer is not None and booth_peer.first_frame_at is not None
        setup_ms = 1000 * (booth_peer.first_frame_at - started_at["call_started"])
        print(f"call_started -> first booth frame through the switchboard: {setup_ms:.0f} ms")
        assert booth_peer.remote_frame_size == (640, 480)

        await agent_ws.send(wire.dump(wire.Hangup(call_id=assigned.call_id)))
        await wait_for(lambda: inbox.of_type(wire.CallEnded), what="call_ended")
        ended = inbox.of_type(wire.CallEnded)[0]
        assert isinstance(ended, wire.CallEnded)
        assert ended.reason == wire.CallEndReason.AGENT_HANGUP
    finally:
        await agent_ws.close()
        if booth_peer is not None:
            await booth_peer.close()
        await agent_peer.close()
        media.close()

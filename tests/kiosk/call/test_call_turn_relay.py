"""Relay-only calls through a real coturn on 127.0.0.1, and no ICE server but ours.

Booth (``BoothPeer``) and agent (a plain aiortc peer) both use the relay-only policy
with credentials made by the switchboard's own code from coturn's shared secret.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from callkit import TEST_HEARTBEAT_S, BoothRecorder, wait_for
from fixtures.turn import TurnServer

from guichet import wire
from kiosk.call.media import FakeCamera, FakeMicrophone, MediaSources
from kiosk.call.peer import BoothPeer, RelayUnavailable, candidate_types, rtc_configuration
from switchboard.turn import TurnConfig, rest_credentials

FAIL_FAST_S = 3.0
"""A refused relay must be known well within this (aioice gathers for 5 s at most)."""


def _ice_connection(pc: RTCPeerConnection) -> Any:
    """aioice's Connection under a bundled peer connection (private: for inspection only)."""
    transceiver = pc.getTransceivers()[0]
    return transceiver.sender.transport.transport.iceGatherer._connection


def _booth(servers: list[wire.IceServer], media: MediaSources, rec: BoothRecorder) -> BoothPeer:
    return BoothPeer(
        servers,
        media,
        on_remote_video_frame=rec.on_frame,
        on_chat=rec.on_chat,
        on_state=rec.on_state,
        heartbeat_interval_s=TEST_HEARTBEAT_S,
        ice_transport_policy="relay",
    )


@pytest.fixture
async def relay_agent() -> AsyncIterator[list[RTCPeerConnection]]:
    made: list[RTCPeerConnection] = []
    yield made
    for pc in made:
        await pc.close()


async def test_booth_and_agent_talk_through_the_relay_only(
    turn_server: TurnServer,
    media: MediaSources,
    recorder: BoothRecorder,
    relay_agent: list[RTCPeerConnection],
) -> None:
    turn = TurnConfig(urls=(turn_server.url,), secret=turn_server.secret.encode(), ttl_s=600)
    booth = _booth([turn.ice_server("c-1.booth", time.time())], media, recorder)
    agent = RTCPeerConnection(
        rtc_configuration([turn.ice_server("c-1.agent", time.time())], "relay")
    )
    relay_agent.append(agent)
    opened = asyncio.Event()
    agent.on("datachannel", lambda channel: opened.set())
    try:
        offer = await booth.create_offer()
        # Only relay candidates leave the booth: no host address, no related address.
        assert set(candidate_types(offer.sdp)) == {"relay"}
        assert "raddr 0.0.0.0" in offer.sdp or "raddr" not in offer.sdp
        await agent.setRemoteDescription(RTCSessionDescription(sdp=offer.sdp, type="offer"))
        agent.addTrack(FakeMicrophone())
        agent.addTrack(FakeCamera())
        await agent.setLocalDescription(await agent.createAnswer())
        assert set(candidate_types(agent.localDescription.sdp)) == {"relay"}
        await booth.accept_answer(
            wire.SessionDescription(type="answer", sdp=agent.localDescription.sdp)
        )
        await wait_for(lambda: booth.state == "connected", 15, "the relayed call to connect")
        await asyncio.wait_for(opened.wait(), 10)
        await wait_for(lambda: len(recorder.frames) >= 3, 15, "agent video through the relay")
        for pc in (booth.pc, agent):
            pair = _ice_connection(pc)._nominated[1]
            assert pair.local_candidate.type == "relay"
            assert pair.remote_candidate.type == "relay"
        assert "relay_failed" not in recorder.states
    finally:
        await booth.close()


@pytest.mark.parametrize("problem", ["wrong_secret", "expired"])
async def test_refused_relay_credentials_fail_the_offer_fast(
    turn_server: TurnServer, media: MediaSources, recorder: BoothRecorder, problem: str
) -> None:
    now = int(time.time())
    if problem == "wrong_secret":
        username, password = rest_credentials(
            b"not-the-coturn-secret-at-all", "c-2.booth", now + 600
        )
    else:
        username, password = rest_credentials(turn_server.secret.encode(), "c-2.booth", now - 60)
    server = wire.IceServer(urls=[turn_server.url], username=username, credential=password)
    booth = _booth([server], media, recorder)
    started = time.monotonic()
    try:
        with pytest.raises(RelayUnavailable):
            await booth.create_offer()
        assert time.monotonic() - started < FAIL_FAST_S
        assert recorder.states == ["connecting", "relay_failed"]
    finally:
        await booth.close()
    assert recorder.states[-1] == "closed"


async def test_only_configured_ice_servers_are_ever_used(
    turn_server: TurnServer, media: MediaSources, recorder: BoothRecorder
) -> None:
    # aiortc falls back to Google's STUN server when iceServers is None: never ours.
    assert rtc_configuration([]).iceServers == []
    assert rtc_configuration([], "relay").iceTransportPolicy.value == "relay"
    host_only = BoothPeer(
        [],
        media,
        on_remote_video_frame=recorder.on_frame,
        on_chat=recorder.on_chat,
        on_state=recorder.on_state,
    )
    turn = TurnConfig(urls=(turn_server.url,), secret=turn_server.secret.encode(), ttl_s=60)
    relayed = _booth([turn.ice_server("c-3.booth", time.time())], media, recorder)
    try:
        await host_only.create_offer()
        connection = _ice_connection(host_only.pc)
        assert connection.stun_server is None and connection.turn_server is None
        assert "relay" not in candidate_types(host_only.pc.localDescription.sdp)
        assert "google" not in host_only.pc.localDescription.sdp

        await relayed.create_offer()
        connection = _ice_connection(relayed.pc)
        assert connection.stun_server is None
        assert connection.turn_server == ("127.0.0.1", turn_server.port)
    finally:
        await host_only.close()
        await relayed.close()

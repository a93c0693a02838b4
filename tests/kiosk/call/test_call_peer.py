"""A real aiortc call between the booth peer and an agent peer on this host's address."""

from __future__ import annotations

import asyncio
import time

from callkit import TEST_PEER_TIMEOUT_S, AgentPeer, BoothRecorder, wait_for

from kiosk.call.peer import BoothPeer


async def connect(booth: BoothPeer, agent: AgentPeer) -> float:
    """Offer, answer, and return the time the offer started."""
    offer = await booth.create_offer()
    answer = await agent.answer(offer)
    await booth.accept_answer(answer)
    assert booth.offer_started_at is not None
    return booth.offer_started_at


async def test_call_carries_640x480_video_both_ways(
    booth: BoothPeer, agent: AgentPeer, recorder: BoothRecorder
) -> None:
    started = await connect(booth, agent)
    await wait_for(lambda: booth.frames_received >= 10 and len(agent.frames) >= 1, what="frames")
    assert booth.remote_frame_size == (640, 480)
    assert (agent.frames[-1].width, agent.frames[-1].height) == (640, 480)
    assert recorder.frames and recorder.frames[-1].width == 640
    assert booth.first_frame_at is not None
    print(f"offer -> first booth frame {1000 * (booth.first_frame_at - started):.0f} ms")
    assert recorder.states[:2] == ["connecting", "connected"]
    await wait_for(lambda: booth.audio_frames_received > 5 and agent.audio_frames > 5, what="audio")


async def test_offer_uses_no_outside_stun_server(booth: BoothPeer) -> None:
    offer = await booth.create_offer()
    assert booth.configuration.iceServers == []
    # Only host candidates: nothing was asked of a STUN server.
    candidates = [line for line in offer.sdp.splitlines() if line.startswith("a=candidate:")]
    assert candidates
    assert all(" typ host" in line for line in candidates)
    assert "127.0.0.1" not in offer.sdp


async def test_chat_goes_both_ways(
    booth: BoothPeer, agent: AgentPeer, recorder: BoothRecorder
) -> None:
    await connect(booth, agent)
    await wait_for(lambda: booth.heartbeats_received > 0, what="data channel")
    msg_id = booth.send_chat("Bonjour, je viens pour ma carte vitale")
    agent.send_chat("Bonjour ! Je vous écoute.", msg_id="a-1")
    await wait_for(lambda: agent.chats() and recorder.chats, what="chat lines")
    assert agent.chats()[0].id == msg_id
    assert agent.chats()[0].text == "Bonjour, je viens pour ma carte vitale"
    assert recorder.chats == [("a-1", "Bonjour ! Je vous écoute.")]


async def test_silent_agent_is_reported_lost_within_the_timeout(
    booth: BoothPeer, agent: AgentPeer, recorder: BoothRecorder
) -> None:
    await connect(booth, agent)
    await wait_for(lambda: booth.heartbeats_received > 2, what="heartbeats")
    # The agent just stops: no close, no hang-up, the connection stays up.
    agent.heartbeats_on = False
    silent_since = time.monotonic()
    await wait_for(lambda: "peer_lost" in recorder.states, timeout=3 * TEST_PEER_TIMEOUT_S)
    lost_after = time.monotonic() - silent_since
    # The margin covers a loaded 2-core CI machine (and the watchdog's stall grace);
    # aiortc alone would take ~30 s.
    assert lost_after <= TEST_PEER_TIMEOUT_S + 0.5
    assert agent.pc.connectionState == "connected"


async def test_agent_closing_its_side_is_seen_at_once(
    booth: BoothPeer, agent: AgentPeer, recorder: BoothRecorder
) -> None:
    await connect(booth, agent)
    await wait_for(lambda: booth.state == "connected", what="connected")
    closed_at = time.monotonic()
    await agent.close()
    await wait_for(lambda: "peer_closed" in recorder.states, timeout=TEST_PEER_TIMEOUT_S)
    assert "peer_lost" not in recorder.states, "a close on purpose is not a lost peer"
    assert time.monotonic() - closed_at < TEST_PEER_TIMEOUT_S


async def test_close_is_idempotent_and_final(
    booth: BoothPeer, agent: AgentPeer, recorder: BoothRecorder
) -> None:
    await connect(booth, agent)
    await wait_for(lambda: booth.frames_received > 0, what="frames")
    await booth.close()
    await booth.close()
    await asyncio.sleep(0.2)
    assert recorder.states.count("closed") == 1
    assert recorder.states[-1] == "closed"
    assert booth.pc.connectionState == "closed"
    # The camera itself stays usable for the preview and the next call.
    assert booth.media.video.readyState == "live"

"""5 % packet loss and 200 ms delay each way during a call: it stays up and usable.

The booth's peer (``BoothPeer``, production heartbeat and peer timeout) is relay-only
and reaches a real coturn through :class:`fixtures.impair.ImpairingRelay`, a small
asyncio UDP relay that drops 5 % of the datagrams and delays the others by 200 ms,
in each direction. netem is not used: this kernel has no ``sch_netem``, and a
userspace relay needs no root. The agent is an aiortc peer (a browser cannot be put
behind the relay here: Chromium ignores a TURN server on a port we choose only for
one side, and the switchboard hands both sides the same TURN URL) reaching coturn
directly, so only the booth's side of the path is impaired, as with a booth on a
poor rural line. After the call is up the impairment is switched on for
``IMPAIRED_S``; the booth must not report the agent lost or the call failed, and
video must keep arriving both ways at a usable rate.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from callkit import AgentPeer, BoothRecorder, wait_for
from fixtures.impair import ImpairingRelay
from fixtures.turn import TurnServer

from guichet import wire
from kiosk.call.media import MediaSources
from kiosk.call.peer import HEARTBEAT_INTERVAL_S, BoothPeer, rtc_configuration
from switchboard.turn import TurnConfig

LOSS = 0.05
DELAY_S = 0.2
IMPAIRED_S = 20.0
MIN_FPS = 10.0
"""Usable floor: well under the 30 fps sent, above what reads as a frozen picture."""


@pytest.fixture
async def relay(turn_server: TurnServer) -> AsyncIterator[ImpairingRelay]:
    impairing = ImpairingRelay(target=("127.0.0.1", turn_server.port))
    await impairing.start()
    yield impairing
    impairing.close()


async def test_call_stays_up_and_usable_with_loss_and_delay(
    turn_server: TurnServer, relay: ImpairingRelay, media: MediaSources, recorder: BoothRecorder
) -> None:
    turn = TurnConfig(urls=(turn_server.url,), secret=turn_server.secret.encode(), ttl_s=600)
    through_relay = turn.ice_server("c-1.booth", time.time()).model_copy(
        update={"urls": [f"turn:127.0.0.1:{relay.port}"]}
    )
    booth = BoothPeer(
        [through_relay],
        media,
        on_remote_video_frame=recorder.on_frame,
        on_chat=recorder.on_chat,
        on_state=recorder.on_state,
        ice_transport_policy="relay",
    )
    agent = AgentPeer(
        heartbeat_interval_s=HEARTBEAT_INTERVAL_S,
        configuration=rtc_configuration([turn.ice_server("c-1.agent", time.time())], "relay"),
    )
    try:
        offer = await booth.create_offer()
        await booth.accept_answer(await agent.answer(offer))
        await wait_for(lambda: booth.state == "connected", 15, "the relayed call")
        await wait_for(lambda: booth.frames_received >= 30, 15, "agent video at the booth")
        await wait_for(lambda: agent.video_frames >= 30, 15, "booth video at the agent")

        relay.loss, relay.delay_s = LOSS, DELAY_S
        booth_before, agent_before = booth.frames_received, agent.video_frames
        started = time.monotonic()
        await asyncio.sleep(IMPAIRED_S)
        took = time.monotonic() - started
        booth_fps = (booth.frames_received - booth_before) / took
        agent_fps = (agent.video_frames - agent_before) / took
        dropped = relay.counters.dropped / max(1, relay.counters.dropped + relay.counters.forwarded)
        print(
            f"{LOSS:.0%} loss + {DELAY_S * 1000:.0f} ms each way for {took:.0f} s:"
            f" booth receives {booth_fps:.1f} fps, agent receives {agent_fps:.1f} fps,"
            f" {dropped:.1%} of {relay.counters.forwarded + relay.counters.dropped} datagrams"
            f" dropped, {booth.heartbeats_received} heartbeats heard"
        )
        assert 0.03 < dropped < 0.08, "the relay did impair the path"
        assert booth.state == "connected", recorder.states
        assert "peer_lost" not in recorder.states and "failed" not in recorder.states
        assert booth_fps >= MIN_FPS and agent_fps >= MIN_FPS
        # The data channel still carries chat both ways.
        agent.send_chat("Vous m'entendez ?")
        await wait_for(lambda: recorder.chats, 5, "chat at the booth")
        booth.send_chat("Oui, un peu lent.")
        await wait_for(lambda: agent.chats(), 5, "chat at the agent")
        assert wire.Chat in {type(m) for m in agent.received}
    finally:
        await booth.close()
        await agent.close()

"""A network cut during a call: the call comes back on a NEW peer connection, or gives up.

Same set-up as ``test_call_impaired_network.py``: the booth's peer (production
heartbeat and peer timeout) is relay-only and reaches a real coturn through
:class:`fixtures.impair.ImpairingRelay`; the agent is an aiortc peer reaching coturn
directly (a browser cannot be put behind the relay here, see that test).  The relay's
``blackhole`` cuts both directions of the booth's UDP.

The booth side runs :func:`kiosk.call.reconnect.reconnect` exactly as the controller
does on ``peer_lost``; signaling is a direct hand-over (offer to the agent, answer
back) instead of the switchboard, which only forwards those messages.  The agent
does what the console does on a new offer for the same call: drop its old peer
connection and answer with a new one.
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
from kiosk.call.peer import HEARTBEAT_INTERVAL_S, PEER_TIMEOUT_S, BoothPeer, rtc_configuration
from kiosk.call.reconnect import RECONNECT_BUDGET_S, reconnect
from switchboard.turn import TurnConfig

SHORT_CUT_S = 8.0
LONG_CUT_S = RECONNECT_BUDGET_S + 3.0


class CutCall:
    """One relayed call, booth and agent, with the controller's and console's recovery."""

    def __init__(self, turn_server: TurnServer, relay: ImpairingRelay, media: MediaSources) -> None:
        turn = TurnConfig(urls=(turn_server.url,), secret=turn_server.secret.encode(), ttl_s=600)
        self.booth_server = turn.ice_server("c-1.booth", time.time()).model_copy(
            update={"urls": [f"turn:127.0.0.1:{relay.port}"]}
        )
        self.agent_config = rtc_configuration([turn.ice_server("c-1.agent", time.time())], "relay")
        self.media = media
        self.recorder = BoothRecorder()
        self.peers: list[BoothPeer] = []
        self.agents: list[AgentPeer] = []
        self.booth = self.new_booth_peer()
        self.lost_at: float | None = None
        self.outcome: BoothPeer | None = None
        self.gave_up = asyncio.Event()
        self.back = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def agent(self) -> AgentPeer:
        return self.agents[-1]

    def new_booth_peer(self) -> BoothPeer:
        peer = BoothPeer(
            [self.booth_server],
            self.media,
            on_remote_video_frame=self.recorder.on_frame,
            on_chat=self.recorder.on_chat,
            on_state=lambda state: self._state(peer, state),
            ice_transport_policy="relay",
        )
        self.peers.append(peer)
        self.booth = peer
        return peer

    async def start(self) -> None:
        offer = await self.booth.create_offer()
        await self.booth.accept_answer(await self.agent_answers(offer))

    async def agent_answers(self, offer: wire.SessionDescription) -> wire.SessionDescription:
        """The console: a new offer for the call replaces its peer connection."""
        for old in self.agents:
            await old.close()
        agent = AgentPeer(
            heartbeat_interval_s=HEARTBEAT_INTERVAL_S, configuration=self.agent_config
        )
        self.agents.append(agent)
        return await agent.answer(offer)

    async def send_offer(self, offer: wire.SessionDescription) -> None:
        """Signaling: the offer goes to the agent, the answer comes back later."""
        peer = self.booth

        async def round_trip() -> None:
            answer = await self.agent_answers(offer)
            if peer is self.booth:
                await peer.accept_answer(answer)

        self._spawn(round_trip())

    def _state(self, peer: BoothPeer, state: str) -> None:
        self.recorder.on_state(state)
        if state == "peer_lost" and peer is self.booth and self.lost_at is None:
            self.lost_at = time.monotonic()
            self._spawn(self._recover(peer))

    async def _recover(self, lost: BoothPeer) -> None:
        self._spawn(lost.close())
        peer = await reconnect(
            self.new_booth_peer,
            self.send_offer,
            lambda p: self._spawn(p.close()),
            lost_at=lost.last_heard_at or time.monotonic(),
        )
        self.outcome = peer
        (self.back if peer is not None else self.gave_up).set()

    def _spawn(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for peer in self.peers:
            await peer.close()
        for agent in self.agents:
            await agent.close()


@pytest.fixture
async def relay(turn_server: TurnServer) -> AsyncIterator[ImpairingRelay]:
    impairing = ImpairingRelay(target=("127.0.0.1", turn_server.port))
    await impairing.start()
    yield impairing
    impairing.close()


@pytest.fixture
async def call(
    turn_server: TurnServer, relay: ImpairingRelay, media: MediaSources
) -> AsyncIterator[CutCall]:
    cut = CutCall(turn_server, relay, media)
    await cut.start()
    await wait_for(lambda: cut.booth.ready.is_set(), 15, "the relayed call")
    await wait_for(lambda: cut.booth.frames_received >= 10, 15, "agent video at the booth")
    yield cut
    await cut.close()


async def test_short_cut_brings_the_call_back_on_a_new_peer_connection(
    call: CutCall, relay: ImpairingRelay
) -> None:
    first = call.booth
    relay.blackhole = True
    cut_at = time.monotonic()
    await wait_for(lambda: call.lost_at is not None, PEER_TIMEOUT_S + 2, "the cut noticed")
    assert call.lost_at is not None
    noticed = call.lost_at - cut_at
    assert noticed <= 5.5, f"the booth noticed the cut after {noticed:.1f} s"
    await asyncio.sleep(max(0.0, SHORT_CUT_S - (time.monotonic() - cut_at)))
    relay.blackhole = False
    healed_at = time.monotonic()
    await wait_for(call.back.is_set, RECONNECT_BUDGET_S, "the call back")
    back_after = time.monotonic() - healed_at
    peer = call.outcome
    assert peer is not None and peer is not first and peer is call.booth
    assert not call.gave_up.is_set()
    # Media and chat flow again on the new connection, both ways.
    await wait_for(lambda: peer.frames_received >= 30, 10, "agent video on the new peer")
    agent = call.agent
    await wait_for(lambda: agent.video_frames >= 30, 10, "booth video at the new agent peer")
    agent.send_chat("Vous êtes revenu.")
    await wait_for(lambda: call.recorder.chats, 5, "chat at the booth")
    peer.send_chat("Oui, me revoilà.")
    await wait_for(agent.chats, 5, "chat at the agent")
    print(
        f"cut {SHORT_CUT_S:.0f} s: noticed after {noticed:.1f} s, call back"
        f" {back_after:.1f} s after the network returned ({len(call.peers)} peers,"
        f" {len(call.agents)} agent answers)"
    )


async def test_cut_longer_than_the_budget_gives_up(call: CutCall, relay: ImpairingRelay) -> None:
    relay.blackhole = True
    cut_at = time.monotonic()
    await wait_for(call.gave_up.is_set, LONG_CUT_S, "the booth giving up")
    gave_up_after = time.monotonic() - cut_at
    relay.blackhole = False
    assert call.outcome is None
    # From the agent's last word: the budget, give or take an attempt in flight.
    assert RECONNECT_BUDGET_S - 1 <= gave_up_after <= RECONNECT_BUDGET_S + 2
    print(f"cut for good: gave up {gave_up_after:.1f} s after the cut ({len(call.peers)} peers)")

"""Bad input from the agent's side of a call is counted and logged, never a crash."""

from __future__ import annotations

import json

import pytest
from callkit import AgentPeer, BoothRecorder, wait_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guichet import wire
from kiosk.call.peer import BoothPeer, PeerError

GARBAGE_EXAMPLES = 150
LENIENT_PEER_TIMEOUT_S = 5.0
"""These tests are about bad input, not liveness: a busy CI machine must not make the
booth declare the agent lost mid-test (liveness is tested in test_call_peer.py)."""

# Near misses are more interesting than pure noise: JSON objects of the right
# types with wrong or missing fields.
near_misses = st.fixed_dictionaries(
    {"type": st.sampled_from(["chat", "heartbeat", "hangup", "", "CHAT"])},
    optional={
        "v": st.one_of(st.integers(-2, 3), st.text(max_size=3)),
        "id": st.one_of(st.text(max_size=70), st.integers()),
        "text": st.one_of(st.text(max_size=50), st.none(), st.just("x" * 2001)),
        "seq": st.one_of(st.integers(), st.floats(), st.text(max_size=5)),
        "extra": st.booleans(),
    },
).map(json.dumps)
garbage = st.one_of(st.binary(max_size=300), st.text(max_size=300), near_misses)


@pytest.fixture
def peer_timeout_s() -> float:
    """Lenient: a loaded machine must not make the booth declare the agent lost here."""
    return LENIENT_PEER_TIMEOUT_S


def is_valid(raw: str | bytes) -> bool:
    try:
        wire.parse_peer(raw)
    except wire.WireError:
        return False
    return True


async def connected_call(booth: BoothPeer, agent: AgentPeer) -> None:
    offer = await booth.create_offer()
    await booth.accept_answer(await agent.answer(offer))
    await wait_for(lambda: booth.heartbeats_received > 0, what="data channel up")


async def test_garbage_on_the_data_channel_is_counted_and_the_call_goes_on(
    booth: BoothPeer, agent: AgentPeer, recorder: BoothRecorder
) -> None:
    samples: list[str | bytes] = []

    # Hypothesis only generates here (its runner is synchronous); the messages
    # then go over the real data channel.
    @settings(
        max_examples=GARBAGE_EXAMPLES,
        database=None,
        suppress_health_check=list(HealthCheck),
        deadline=None,
    )
    @given(garbage)
    def collect(raw: str | bytes) -> None:
        samples.append(raw)

    collect()
    await connected_call(booth, agent)
    expected_bad = sum(not is_valid(raw) for raw in samples)
    expected_chats = sum(
        isinstance(wire.parse_peer(raw), wire.Chat) for raw in samples if is_valid(raw)
    )
    for raw in samples:
        agent.send_raw(raw)
    agent.send_chat("toujours là ?", msg_id="after-garbage")
    await wait_for(lambda: ("after-garbage", "toujours là ?") in recorder.chats, what="chat")
    assert booth.bad_messages == expected_bad
    assert len(recorder.chats) == expected_chats + 1
    assert booth.state == "connected"
    booth.send_chat("oui")
    await wait_for(lambda: agent.chats(), what="booth chat after garbage")


async def test_bad_remote_candidates_are_ignored(booth: BoothPeer, agent: AgentPeer) -> None:
    await connected_call(booth, agent)
    for line in ["", "candidate:", "garbage", "candidate:1 1 udp notanumber 1.2.3.4 x typ host"]:
        await booth.add_remote_candidate(wire.IceCandidate(candidate=line, sdpMid="0"))
    await booth.add_remote_candidate(None)
    await booth.add_remote_candidate(
        wire.IceCandidate(candidate="candidate:1 1 udp 2122260223 192.0.2.2 9 typ host", sdpMid="0")
    )
    assert booth.state == "connected"


async def test_chat_text_is_checked_before_sending(booth: BoothPeer, agent: AgentPeer) -> None:
    with pytest.raises(PeerError):
        booth.send_chat("too early: no channel yet")
    await connected_call(booth, agent)
    with pytest.raises(ValueError):
        booth.send_chat("")
    with pytest.raises(ValueError):
        booth.send_chat("x" * (wire.MAX_CHAT_CHARS + 1))


async def test_an_unreadable_answer_fails_the_call(
    booth: BoothPeer, recorder: BoothRecorder
) -> None:
    await booth.create_offer()
    with pytest.raises(PeerError):
        await booth.accept_answer(wire.SessionDescription(type="answer", sdp="v=0\r\nnonsense"))
    assert recorder.states[-1] == "failed"

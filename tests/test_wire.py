"""The shared wire messages: round trips, and every kind of bad input refused with a reason."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guichet import wire


def test_every_booth_message_round_trips() -> None:
    desc = wire.SessionDescription(type="offer", sdp="v=0\r\n")
    msgs = [
        wire.BoothHello(token="t" * 32, app_version="0.1"),
        wire.JoinQueue(service_id="caf", language="fr"),
        wire.LeaveQueue(),
        wire.Offer(call_id="c1", description=desc),
        wire.Ice(call_id="c1", candidate=wire.IceCandidate(candidate="candidate:1", sdpMid="0")),
        wire.Ice(call_id="c1"),
        wire.Hangup(call_id="c1"),
        wire.Ping(),
    ]
    for msg in msgs:
        assert wire.parse_from_booth(wire.dump(msg)) == msg


def test_every_agent_message_round_trips() -> None:
    desc = wire.SessionDescription(type="answer", sdp="v=0\r\n")
    msgs = [
        wire.AnswerNext(),
        wire.AnswerNext(service_id="impots"),
        wire.Answer(call_id="c1", description=desc),
        wire.SetPresence(status=wire.AgentPresence.PAUSED),
        wire.Hangup(call_id="c1", reason="done"),
    ]
    for msg in msgs:
        assert wire.parse_from_agent(wire.dump(msg)) == msg


def test_server_messages_round_trip() -> None:
    queued = wire.Queued(ticket_id="t1", service_id="caf", position=2, estimated_wait_s=300)
    assert wire.parse_to_booth(wire.dump(queued)) == queued
    queues = wire.Queues(
        server_time=1.0,
        services=[
            wire.ServiceQueue(
                service_id="caf",
                name="CAF",
                open_now=True,
                agents_available=1,
                estimated_wait_s=0,
                waiting=[
                    wire.WaitingCitizen(
                        ticket_id="t1", booth_name="Mairie", language="fr", waiting_since=0.5
                    )
                ],
            )
        ],
    )
    assert wire.parse_to_agent(wire.dump(queues)) == queues


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", wire.ErrorCode.MALFORMED),
        ("[1, 2]", wire.ErrorCode.MALFORMED),
        ('{"v": 1}', wire.ErrorCode.MALFORMED),
        ('{"type": 7}', wire.ErrorCode.MALFORMED),
        ('{"type": "launch_missiles"}', wire.ErrorCode.UNKNOWN_TYPE),
        ('{"type": "answer_next"}', wire.ErrorCode.UNKNOWN_TYPE),  # an agent's message
        ('{"v": 2, "type": "ping"}', wire.ErrorCode.UNSUPPORTED_VERSION),
        ('{"type": "join_queue"}', wire.ErrorCode.MALFORMED),
        ('{"type": "join_queue", "service_id": "../etc"}', wire.ErrorCode.MALFORMED),
        ('{"type": "join_queue", "service_id": "caf", "extra": 1}', wire.ErrorCode.MALFORMED),
        ('{"type": "hello", "token": "short"}', wire.ErrorCode.MALFORMED),
    ],
)
def test_bad_booth_messages_are_refused_with_a_reason(raw: str, code: wire.ErrorCode) -> None:
    with pytest.raises(wire.WireError) as err:
        wire.parse_from_booth(raw)
    assert err.value.code is code
    assert err.value.reason


def test_oversized_message_is_refused_before_parsing() -> None:
    raw = json.dumps({"type": "ping", "pad": "x" * wire.MAX_MESSAGE_BYTES})
    with pytest.raises(wire.WireError) as err:
        wire.parse_from_booth(raw)
    assert err.value.code is wire.ErrorCode.TOO_LARGE


def test_chat_longer_than_limit_is_refused() -> None:
    raw = json.dumps({"type": "chat", "id": "m1", "text": "a" * (wire.MAX_CHAT_CHARS + 1)})
    with pytest.raises(wire.WireError):
        wire.parse_peer(raw)


@given(st.one_of(st.binary(max_size=512), st.text(max_size=512)))
def test_garbage_never_escapes_as_anything_but_wire_error(raw: bytes | str) -> None:
    for parse in (
        wire.parse_from_booth,
        wire.parse_from_agent,
        wire.parse_to_booth,
        wire.parse_to_agent,
        wire.parse_peer,
    ):
        with contextlib.suppress(wire.WireError):
            parse(raw)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=10), kids, max_size=4)
    ),
    max_leaves=20,
)


@given(
    st.sampled_from(["hello", "join_queue", "offer", "ice", "hangup", "chat", "answer_next"]),
    st.dictionaries(st.text(max_size=12), json_values, max_size=6),
)
def test_known_types_with_random_fields_fail_cleanly(
    msg_type: str, fields: dict[str, object]
) -> None:
    raw = json.dumps({**fields, "type": msg_type})
    for parse in (wire.parse_from_booth, wire.parse_from_agent, wire.parse_peer):
        try:
            parse(raw)
        except wire.WireError as exc:
            assert exc.reason


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deeply_nested_json_is_malformed_not_a_recursion_error(depth: int) -> None:
    """Found by the WebSocket fuzzing: ``[[[[...`` under the size limit blew the stack
    in ``json.loads`` and the server dropped the socket without a word."""
    for raw in ("[" * depth + "]" * depth, '{"type":' * depth + "1" + "}" * depth):
        for parse in (wire.parse_from_booth, wire.parse_from_agent, wire.parse_peer):
            with pytest.raises(wire.WireError) as refused:
                parse(raw[: wire.MAX_MESSAGE_BYTES])
            assert refused.value.code in (wire.ErrorCode.MALFORMED, wire.ErrorCode.TOO_LARGE)

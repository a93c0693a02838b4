"""Signaling through the real switchboard: a booth, an agent, a call, and bad input.

Every test runs the server as a subprocess on 127.0.0.1 and talks to it with the
``websockets`` client, as the booth and the agent console do.
"""

from __future__ import annotations

import json

import pytest
import websockets
from fixtures.clients import agent, booth, waiting_counts
from fixtures.server import RunningServer, start_switchboard

pytestmark = pytest.mark.timeout(60)

OFFER = {"type": "offer", "sdp": "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"}
ANSWER = {"type": "answer", "sdp": "v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\n"}
CANDIDATE = {
    "candidate": "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host",
    "sdpMid": "0",
    "sdpMLineIndex": 0,
}


def _waiting(queues: dict[str, object], service: str) -> list[str]:
    for view in queues["services"]:  # type: ignore[attr-defined]
        if view["service_id"] == service:
            return [w["booth_name"] for w in view["waiting"]]
    raise AssertionError(f"{service} not in queues")


async def test_full_call_story(switchboard: RunningServer) -> None:
    alice = await agent(switchboard, "alice")
    citizen = await booth(switchboard, "booth-1")

    await citizen.send("join_queue", service_id="caf", language="en")
    queued = await citizen.next("queued")
    assert queued["position"] == 1
    assert queued["estimated_wait_s"] == 480  # expected_call_s with one agent available
    await alice.next("queues", lambda q: _waiting(q, "caf") == ["booth-1"])

    await alice.send("answer_next")
    assigned = await alice.next("call_assigned")
    assert assigned["service_id"] == "caf"
    assert assigned["booth_name"] == "booth-1"
    assert assigned["language"] == "en"
    assert assigned["ice_servers"] == []
    started = await citizen.next("call_started")
    call_id = started["call_id"]
    assert call_id == assigned["call_id"]
    assert started["ice_servers"] == []
    await alice.next("queues", lambda q: _waiting(q, "caf") == [])

    await citizen.send("offer", call_id=call_id, description=OFFER)
    assert (await alice.next("offer"))["description"] == OFFER
    await alice.send("answer", call_id=call_id, description=ANSWER)
    assert (await citizen.next("answer"))["description"] == ANSWER
    await alice.send("ice", call_id=call_id, candidate=CANDIDATE)
    assert (await citizen.next("ice"))["candidate"] == CANDIDATE
    await citizen.send("ice", call_id=call_id, candidate=None)
    assert (await alice.next("ice"))["candidate"] is None

    await citizen.send("hangup", call_id=call_id)
    ended = await alice.next("call_ended")
    assert ended == {"v": 1, "type": "call_ended", "call_id": call_id, "reason": "booth_hangup"}
    assert waiting_counts(switchboard) == {}
    # The agent is available again and can be asked to answer: nobody is left.
    await alice.send("answer_next")
    assert (await alice.next("error"))["code"] == "queue_empty"
    await alice.close()
    await citizen.close()


async def test_agent_hangup_tells_the_booth(switchboard: RunningServer) -> None:
    alice = await agent(switchboard)
    citizen = await booth(switchboard)
    await citizen.send("join_queue", service_id="impots")
    await citizen.next("queued")
    await alice.send("answer_next", service_id="impots")
    call_id = (await alice.next("call_assigned"))["call_id"]
    await citizen.next("call_started")
    await alice.send("hangup", call_id=call_id)
    ended = await citizen.next("call_ended")
    assert ended["reason"] == "agent_hangup"
    # The booth can queue again at once.
    await citizen.send("join_queue", service_id="caf")
    assert (await citizen.next("queued"))["position"] == 1


async def test_positions_are_pushed_when_someone_ahead_leaves(switchboard: RunningServer) -> None:
    first = await booth(switchboard, "booth-1")
    second = await booth(switchboard, "booth-2")
    await first.send("join_queue", service_id="caf")
    await first.next("queued")
    await second.send("join_queue", service_id="caf")
    assert (await second.next("queued"))["position"] == 2
    await first.send("leave_queue")
    left = await first.next("left_queue")
    assert left["reason"] == "cancelled"
    assert (await second.next("queued"))["position"] == 1
    assert waiting_counts(switchboard) == {"caf": 1}


async def test_estimate_follows_agent_presence(switchboard: RunningServer) -> None:
    citizen = await booth(switchboard)
    await citizen.send("join_queue", service_id="caf")
    assert (await citizen.next("queued"))["estimated_wait_s"] == 480
    alice = await agent(switchboard)
    await alice.send("set_presence", status="paused")
    await alice.next("queues", lambda q: q["services"][0]["agents_available"] == 0)
    await alice.send("set_presence", status="available")
    await alice.next("queues", lambda q: q["services"][0]["agents_available"] == 1)
    # Estimate unchanged by count 0 vs 1 (max(1, agents)); the push happens on real changes only.
    await citizen.ping()


async def test_agent_only_sees_services_they_may_answer(switchboard: RunningServer) -> None:
    bob = await agent(switchboard, "bob")
    assert [s["service_id"] for s in bob.seen[1]["services"]] == ["ants"]
    citizen = await booth(switchboard)
    await citizen.send("join_queue", service_id="caf")
    await citizen.next("queued")
    await bob.send("answer_next")
    assert (await bob.next("error"))["code"] == "queue_empty"
    assert waiting_counts(switchboard) == {"caf": 1}


async def test_booth_closing_while_queued_leaves_the_queue(switchboard: RunningServer) -> None:
    alice = await agent(switchboard)
    citizen = await booth(switchboard)
    await citizen.send("join_queue", service_id="caf")
    await alice.next("queues", lambda q: _waiting(q, "caf") == ["booth-1"])
    await citizen.close()
    await alice.next("queues", lambda q: _waiting(q, "caf") == [])
    assert waiting_counts(switchboard) == {}


async def test_booth_vanishing_mid_call_ends_the_call_for_the_agent(
    switchboard: RunningServer,
) -> None:
    alice = await agent(switchboard)
    citizen = await booth(switchboard)
    await citizen.send("join_queue", service_id="caf")
    await citizen.next("queued")
    await alice.send("answer_next")
    call_id = (await alice.next("call_assigned"))["call_id"]
    await citizen.next("call_started")
    await citizen.close()
    ended = await alice.next("call_ended")
    assert ended == {"v": 1, "type": "call_ended", "call_id": call_id, "reason": "booth_gone"}
    await alice.next("queues", lambda q: q["services"][0]["agents_available"] == 1)


async def test_agent_vanishing_mid_call_ends_the_call_for_the_booth(
    switchboard: RunningServer,
) -> None:
    alice = await agent(switchboard)
    citizen = await booth(switchboard)
    await citizen.send("join_queue", service_id="caf")
    await citizen.next("queued")
    await alice.send("answer_next")
    call_id = (await citizen.next("call_started"))["call_id"]
    await alice.close()
    ended = await citizen.next("call_ended")
    assert ended["call_id"] == call_id
    assert ended["reason"] == "agent_gone"


async def test_second_booth_connection_replaces_the_first(switchboard: RunningServer) -> None:
    alice = await agent(switchboard)
    old = await booth(switchboard)
    await old.send("join_queue", service_id="caf")
    await old.next("queued")
    new = await booth(switchboard)
    error = await old.next("error")
    assert error["code"] == "replaced"
    assert await old.closed_with() == 4409
    await new.ping()
    # The replaced connection's ticket went with it; the new one starts clean.
    await alice.next("queues", lambda q: _waiting(q, "caf") == [])
    await new.send("join_queue", service_id="caf")
    assert (await new.next("queued"))["position"] == 1


# ---------------------------------------------------------------------------
# Bad input: a clear error, a log line, the connection stays, nothing changes.
# ---------------------------------------------------------------------------


async def _queued_elsewhere(server: RunningServer) -> None:
    """booth-2 waits for caf, so each test can check queues stay intact."""
    other = await booth(server, "booth-2")
    await other.send("join_queue", service_id="caf")
    await other.next("queued")


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("this is not json", "malformed"),
        ("[1, 2]", "malformed"),
        ('{"v": 1}', "malformed"),
        ('{"v": 1, "type": "fly_to_the_moon"}', "unknown_type"),
        ('{"v": 2, "type": "join_queue", "service_id": "caf"}', "unsupported_version"),
        ('{"v": 1, "type": "join_queue"}', "malformed"),
        ('{"v": 1, "type": "join_queue", "service_id": "caf", "extra": 1}', "malformed"),
        (
            '{"v": 1, "type": "offer", "call_id": "x", "description": {"type": "offer"}}',
            "malformed",
        ),
        (json.dumps({"v": 1, "type": "ping", "pad": "x" * 300_000}), "too_large"),
    ],
)
async def test_bad_booth_message_gets_an_error_and_changes_nothing(
    switchboard: RunningServer, raw: str, code: str
) -> None:
    await _queued_elsewhere(switchboard)
    citizen = await booth(switchboard)
    await citizen.send_raw(raw)
    error = await citizen.next("error")
    assert error["code"] == code
    assert error["message"]
    await citizen.ping()
    assert waiting_counts(switchboard) == {"caf": 1}
    assert "refused message from booth booth-1" in switchboard.log()


async def test_bad_agent_message_gets_an_error_and_changes_nothing(
    switchboard: RunningServer,
) -> None:
    await _queued_elsewhere(switchboard)
    alice = await agent(switchboard)
    for raw, code in [
        ("{", "malformed"),
        ('{"v": 1, "type": "join_queue", "service_id": "caf"}', "unknown_type"),
        ('{"v": 7, "type": "answer_next"}', "unsupported_version"),
        ('{"v": 1, "type": "set_presence", "status": "in_call"}', "malformed"),
    ]:
        await alice.send_raw(raw)
        assert (await alice.next("error"))["code"] == code, raw
    await alice.ping()
    assert waiting_counts(switchboard) == {"caf": 1}
    assert "refused message from agent alice" in switchboard.log()


async def test_message_for_someone_elses_call_is_refused(tmp_path: object) -> None:
    server = start_switchboard(
        tmp_path,  # type: ignore[arg-type]
        agents=[("alice", "pw-a", ["caf"]), ("carol", "pw-c", ["caf"])],
        booths=["booth-1", "booth-2", "booth-3"],
    )
    try:
        alice = await agent(server, "alice")
        carol = await agent(server, "carol")
        one, two = await booth(server, "booth-1"), await booth(server, "booth-2")
        await one.send("join_queue", service_id="caf")
        await one.next("queued")
        await alice.send("answer_next")
        call_id = (await alice.next("call_assigned"))["call_id"]
        await two.send("join_queue", service_id="caf")
        await two.next("queued", lambda m: m["position"] == 1)
        third = await booth(server, "booth-3")
        await third.send("join_queue", service_id="caf")
        await third.next("queued")

        await carol.send("answer", call_id=call_id, description=ANSWER)
        assert (await carol.next("error"))["code"] == "not_your_call"
        await carol.send("hangup", call_id=call_id)
        assert (await carol.next("error"))["code"] == "not_your_call"
        await two.send("offer", call_id=call_id, description=OFFER)
        assert (await two.next("error"))["code"] == "not_your_call"
        await two.send("ice", call_id="c-nonexistent", candidate=None)
        assert (await two.next("error"))["code"] == "no_call"
        # The real call is untouched: the offer still flows between its two ends.
        await one.send("offer", call_id=call_id, description=OFFER)
        await alice.next("offer")
        assert waiting_counts(server) == {"caf": 2}
    finally:
        server.stop()


async def test_answering_an_empty_queue(switchboard: RunningServer) -> None:
    alice = await agent(switchboard)
    await alice.send("answer_next", service_id="caf")
    error = await alice.next("error")
    assert error["code"] == "queue_empty"
    assert error["ref"] == "answer_next"
    await alice.ping()


async def test_answering_a_forbidden_service(switchboard: RunningServer) -> None:
    other = await booth(switchboard, "booth-2")
    await other.send("join_queue", service_id="ants")
    await other.next("queued")
    alice = await agent(switchboard)  # caf and impots only
    await alice.send("answer_next", service_id="ants")
    assert (await alice.next("error"))["code"] == "service_forbidden"
    await alice.ping()
    assert waiting_counts(switchboard) == {"ants": 1}


async def test_agent_in_a_call_is_busy(switchboard: RunningServer) -> None:
    await _queued_elsewhere(switchboard)
    citizen = await booth(switchboard)
    await citizen.send("join_queue", service_id="impots")
    await citizen.next("queued")
    alice = await agent(switchboard)
    await alice.send("answer_next", service_id="impots")
    await alice.next("call_assigned")
    await alice.send("answer_next")
    assert (await alice.next("error"))["code"] == "busy"
    assert waiting_counts(switchboard) == {"caf": 1}


async def test_join_errors(tmp_path: object) -> None:
    catalogue = """
[[service]]
id = "caf"
name = { fr = "Allocations familiales", en = "Family benefits" }
icon = "family"
hours = "always"

[[service]]
id = "justice"
name = { fr = "Tribunal", en = "Court" }
icon = "court"
hours = "never"
"""
    server = start_switchboard(tmp_path, catalogue=catalogue)  # type: ignore[arg-type]
    try:
        citizen = await booth(server)
        await citizen.send("join_queue", service_id="justice")
        assert (await citizen.next("error"))["code"] == "service_closed"
        await citizen.send("join_queue", service_id="nope")
        assert (await citizen.next("error"))["code"] == "unknown_service"
        await citizen.send("leave_queue")
        assert (await citizen.next("error"))["code"] == "not_queued"
        await citizen.send("join_queue", service_id="caf")
        await citizen.next("queued")
        await citizen.send("join_queue", service_id="caf")
        assert (await citizen.next("error"))["code"] == "already_queued"
        assert waiting_counts(server) == {"caf": 1}
    finally:
        server.stop()


async def test_unknown_booth_token_is_refused(switchboard: RunningServer) -> None:
    await _queued_elsewhere(switchboard)
    async with websockets.connect(f"{switchboard.ws_url}/ws/booth") as ws:
        await ws.send(json.dumps({"v": 1, "type": "hello", "token": "not-a-real-token"}))
        error = json.loads(await ws.recv())
        assert error["type"] == "error"
        assert error["code"] == "unauthorized"
        await ws.wait_closed()
        assert ws.close_code == 4401
    assert waiting_counts(switchboard) == {"caf": 1}


async def test_booth_must_say_hello_first(switchboard: RunningServer) -> None:
    async with websockets.connect(f"{switchboard.ws_url}/ws/booth") as ws:
        await ws.send(json.dumps({"v": 1, "type": "join_queue", "service_id": "caf"}))
        assert json.loads(await ws.recv())["code"] == "unauthorized"
        await ws.wait_closed()
        assert ws.close_code == 4401


@pytest.mark.parametrize("cookie", [None, "guichet_session=forged"])
async def test_agent_socket_without_valid_session_is_closed(
    switchboard: RunningServer, cookie: str | None
) -> None:
    headers = {"Cookie": cookie} if cookie else {}
    async with websockets.connect(
        f"{switchboard.ws_url}/ws/agent", additional_headers=headers
    ) as ws:
        await ws.wait_closed()
        assert ws.close_code == 4401


async def test_agent_socket_from_a_foreign_origin_is_closed(switchboard: RunningServer) -> None:
    from fixtures.clients import login_cookie

    cookie = login_cookie(switchboard, "alice")
    async with websockets.connect(
        f"{switchboard.ws_url}/ws/agent",
        additional_headers={"Cookie": f"guichet_session={cookie}"},
        origin="https://evil.example",  # type: ignore[arg-type]
    ) as ws:
        await ws.wait_closed()
        assert ws.close_code == 4401

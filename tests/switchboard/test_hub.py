"""Hub routing without sockets: outboxes record what would be sent (the I/O is elsewhere)."""

from __future__ import annotations

import json

from pydantic import BaseModel

from guichet.wire import AgentInfo
from switchboard.catalogue import parse_catalogue
from switchboard.hub import (
    RECENT_CALL_S,
    REQUEUE_WINDOW_S,
    AgentLink,
    BoothLink,
    CallCheck,
    CallEvent,
    Hub,
)

CATALOGUE = parse_catalogue(
    """
[[service]]
id = "caf"
name = { fr = "Allocations" }
icon = "family"
expected_call_s = 600
"""
)


class RecordingOutbox:
    """Stands in for a WebSocket: the hub's contract is only send() and close()."""

    def __init__(self) -> None:
        self.sent: list[dict[str, object]] = []
        self.closed: int | None = None

    def send(self, message: BaseModel) -> None:
        self.sent.append(json.loads(message.model_dump_json()))

    def close(self, code: int, reason: str) -> None:
        self.closed = code

    def last(self, type_: str) -> dict[str, object]:
        return next(m for m in reversed(self.sent) if m["type"] == type_)


def msg(type_: str, **fields: object) -> str:
    return json.dumps({"v": 1, "type": type_, **fields})


def test_call_durations_feed_the_estimate() -> None:
    now = [1000.0]
    hub = Hub(CATALOGUE, [], clock=lambda: now[0])
    agent_box, booth_box = RecordingOutbox(), RecordingOutbox()
    agent = hub.agent_connected(
        AgentInfo(username="a", display_name="A", services=["caf"]), agent_box
    )
    booth = hub.booth_connected("b1", "Booth 1", booth_box)
    hub.booth_message(booth, msg("join_queue", service_id="caf"))
    assert booth_box.last("queued")["estimated_wait_s"] == 600
    hub.agent_message(agent, msg("answer_next"))
    call_id = agent_box.last("call_assigned")["call_id"]
    now[0] += 120
    hub.agent_message(agent, msg("hangup", call_id=call_id))
    assert booth_box.last("call_ended")["reason"] == "agent_hangup"
    assert hub.queues.mean_call_s("caf") == 120
    hub.booth_message(booth, msg("join_queue", service_id="caf"))
    assert booth_box.last("queued")["estimated_wait_s"] == 120


def test_paused_agent_goes_back_to_paused_after_a_call() -> None:
    hub = Hub(CATALOGUE, [])
    agent_box = RecordingOutbox()
    agent = hub.agent_connected(
        AgentInfo(username="a", display_name="A", services=["caf"]), agent_box
    )
    booth = hub.booth_connected("b1", "Booth 1", RecordingOutbox())
    hub.booth_message(booth, msg("join_queue", service_id="caf"))
    hub.agent_message(agent, msg("set_presence", status="paused"))
    assert hub.agents_available("caf") == 0
    hub.agent_message(agent, msg("answer_next"))  # a paused agent may still pick someone
    assert agent.presence == "in_call"
    hub.booth_message(booth, msg("hangup", call_id=agent.call_id))
    assert agent.presence == "paused"
    assert agent_box.last("call_ended")["reason"] == "booth_hangup"


def test_same_agent_in_two_tabs_counts_once_and_cannot_take_two_calls() -> None:
    hub = Hub(CATALOGUE, [])
    info = AgentInfo(username="a", display_name="A", services=["caf"])
    tab1, tab2 = RecordingOutbox(), RecordingOutbox()
    first, second = hub.agent_connected(info, tab1), hub.agent_connected(info, tab2)
    assert hub.agents_available("caf") == 1
    for n in (1, 2):
        booth = hub.booth_connected(f"b{n}", f"Booth {n}", RecordingOutbox())
        hub.booth_message(booth, msg("join_queue", service_id="caf"))
    hub.agent_message(first, msg("answer_next"))
    hub.agent_message(second, msg("answer_next"))
    assert tab2.last("error")["code"] == "busy"
    assert len(hub.queues.waiting("caf")) == 1


def test_answered_and_ended_calls_are_told_to_the_audit_and_reports_stay_in_time() -> None:
    now = [1000.0]
    events: list[CallEvent] = []
    hub = Hub(CATALOGUE, [], clock=lambda: now[0], on_call_event=events.append)
    agent_box = RecordingOutbox()
    agent = hub.agent_connected(
        AgentInfo(username="a", display_name="A", services=["caf"]), agent_box
    )
    hub.agent_connected(
        AgentInfo(username="z", display_name="Z", services=["caf"]), RecordingOutbox()
    )
    booth = hub.booth_connected("b1", "Booth 1", RecordingOutbox())
    hub.booth_message(booth, msg("join_queue", service_id="caf", language="fr"))
    now[0] += 30
    hub.agent_message(agent, msg("answer_next"))
    call_id = str(agent_box.last("call_assigned")["call_id"])
    assert hub.check_call(call_id, "a") is CallCheck.LIVE
    assert hub.check_call(call_id, "z") is CallCheck.NOT_YOURS
    assert hub.check_call("c-unknown", "a") is CallCheck.UNKNOWN
    now[0] += 95
    hub.booth_message(booth, msg("hangup", call_id=call_id))
    assert [(e.agent, e.action, e.call_id) for e in events] == [
        ("a", "call.answered", call_id),
        ("a", "call.ended", call_id),
    ]
    assert events[0].details["waited_s"] == 30
    assert events[1].details == {
        "service": "caf",
        "booth": "b1",
        "reason": "booth_hangup",
        "duration_s": 95,
    }
    # After the call: reports are taken for RECENT_CALL_S, from its agent only.
    assert hub.check_call(call_id, "a") is CallCheck.RECENT
    assert hub.check_call(call_id, "z") is CallCheck.NOT_YOURS
    now[0] += RECENT_CALL_S + 1
    assert hub.check_call(call_id, "a") is CallCheck.UNKNOWN


def test_a_failing_audit_callback_does_not_break_the_call() -> None:
    def broken(event: CallEvent) -> None:
        raise RuntimeError("database gone")

    hub = Hub(CATALOGUE, [], on_call_event=broken)
    agent_box, booth_box = RecordingOutbox(), RecordingOutbox()
    agent = hub.agent_connected(
        AgentInfo(username="a", display_name="A", services=["caf"]), agent_box
    )
    booth = hub.booth_connected("b1", "Booth 1", booth_box)
    hub.booth_message(booth, msg("join_queue", service_id="caf"))
    hub.agent_message(agent, msg("answer_next"))
    assert booth_box.last("call_started")["call_id"] == agent.call_id
    hub.agent_message(agent, msg("hangup", call_id=agent.call_id))
    assert booth_box.last("call_ended")["reason"] == "agent_hangup"


def test_the_booth_reports_device_work_of_its_call_to_the_audit_under_the_agent() -> None:
    now = [1000.0]
    events: list[CallEvent] = []
    hub = Hub(CATALOGUE, [], clock=lambda: now[0], on_call_event=events.append)
    agent_box = RecordingOutbox()
    agent = hub.agent_connected(
        AgentInfo(username="a", display_name="A", services=["caf"]), agent_box
    )
    booth_box, other_box = RecordingOutbox(), RecordingOutbox()
    booth = hub.booth_connected("b1", "Booth 1", booth_box)
    other = hub.booth_connected("b2", "Booth 2", other_box)
    hub.booth_message(booth, msg("join_queue", service_id="caf"))
    hub.agent_message(agent, msg("answer_next"))
    call_id = str(agent_box.last("call_assigned")["call_id"])
    work = {"call_id": call_id, "request_id": "r1", "kind": "scan", "outcome": "done"}

    hub.booth_message(booth, msg("device_work", **work, size=123_456))
    hub.booth_message(
        booth,
        msg(
            "device_work",
            **{**work, "request_id": "r2", "kind": "read_card", "outcome": "refused"},
            error="consent_refused",
        ),
    )
    # Another booth cannot write into this call; nothing but metadata is accepted.
    hub.booth_message(other, msg("device_work", **work))
    assert other_box.last("error")["code"] == "not_your_call"
    hub.booth_message(booth, msg("device_work", **work, uid="04A1B2C3"))
    assert booth_box.last("error")["code"] == "malformed"

    # Just after the call the booth may still report (a request cancelled by the hang-up).
    hub.agent_message(agent, msg("hangup", call_id=call_id))
    late = {**work, "request_id": "r3", "kind": "print_pdf", "outcome": "cancelled"}
    hub.booth_message(booth, msg("device_work", **late, error="cancelled"))
    hub.booth_message(other, msg("device_work", **late))
    assert other_box.last("error")["code"] == "not_your_call"
    now[0] += RECENT_CALL_S + 1
    hub.booth_message(booth, msg("device_work", **late))
    assert booth_box.last("error")["code"] == "no_call"

    devices = [e for e in events if e.action.startswith("device.")]
    assert [(e.agent, e.action, e.call_id) for e in devices] == [
        ("a", "device.scan", call_id),
        ("a", "device.read_card", call_id),
        ("a", "device.print_pdf", call_id),
    ]
    assert devices[0].details == {
        "request": "r1",
        "outcome": "done",
        "reported_by": "booth",
        "booth": "b1",
        "size": 123_456,
    }
    assert devices[1].details["error"] == "consent_refused"
    assert devices[2].details["outcome"] == "cancelled"


def test_a_recorded_service_is_announced_to_the_booth_and_to_the_agent() -> None:
    catalogue = parse_catalogue(
        """
[[service]]
id = "justice"
name = { fr = "Tribunal" }
icon = "court"
recording = { retention_days = 30 }

[[service]]
id = "caf"
name = { fr = "Allocations" }
icon = "family"
"""
    )
    hub = Hub(catalogue, [])
    public = {s.id: s.recording for s in hub.catalogue_public().services}
    assert public["caf"] is None
    assert public["justice"] is not None and public["justice"].retention_days == 30
    agent_box = RecordingOutbox()
    agent = hub.agent_connected(
        AgentInfo(username="a", display_name="A", services=["justice", "caf"]), agent_box
    )
    for booth_id, service in (("b1", "justice"), ("b2", "caf")):
        booth = hub.booth_connected(booth_id, booth_id, RecordingOutbox())
        hub.booth_message(booth, msg("join_queue", service_id=service))
        hub.agent_message(agent, msg("answer_next", service_id=service))
        assigned = agent_box.last("call_assigned")
        hub.agent_message(agent, msg("hangup", call_id=assigned["call_id"]))
        expected = {"retention_days": 30} if service == "justice" else None
        assert assigned["recording"] == expected


def _broken_call_setup(
    now: list[float],
) -> tuple[Hub, AgentLink, BoothLink, RecordingOutbox, str]:
    """b1 waits since t=1000, b2 since t=1010; the agent answers b1."""
    hub = Hub(CATALOGUE, [], clock=lambda: now[0])
    agent = hub.agent_connected(
        AgentInfo(username="a", display_name="A", services=["caf"]), RecordingOutbox()
    )
    b1_box = RecordingOutbox()
    b1 = hub.booth_connected("b1", "Booth 1", b1_box)
    hub.booth_message(b1, msg("join_queue", service_id="caf"))
    now[0] += 10
    b2 = hub.booth_connected("b2", "Booth 2", RecordingOutbox())
    hub.booth_message(b2, msg("join_queue", service_id="caf"))
    hub.agent_message(agent, msg("answer_next"))
    call_id = b1_box.last("call_started")["call_id"]
    assert isinstance(call_id, str)
    return hub, agent, b1, b1_box, call_id


def test_citizen_of_a_call_whose_agent_left_takes_back_the_head_of_the_queue() -> None:
    now = [1000.0]
    hub, agent, b1, b1_box, call_id = _broken_call_setup(now)
    now[0] += 30
    assert hub.agent_disconnected(agent) == call_id
    assert "call_ended" not in [m["type"] for m in b1_box.sent], "held for the grace"
    hub.agent_grace_over(agent, call_id)
    assert b1_box.last("call_ended")["reason"] == "agent_gone"
    hub.booth_message(b1, msg("join_queue", service_id="caf", resume_call_id=call_id))
    assert b1_box.last("queued")["position"] == 1
    assert [t.booth_id for t in hub.queues.waiting("caf")] == ["b1", "b2"]
    assert hub.queues.waiting("caf")[0].joined_at == 1000.0, "the first join time is kept"
    # The claim is used up: a second try joins at the end like anyone.
    hub.booth_message(b1, msg("leave_queue"))
    hub.booth_message(b1, msg("join_queue", service_id="caf", resume_call_id=call_id))
    assert [t.booth_id for t in hub.queues.waiting("caf")] == ["b2", "b1"]


def test_booth_that_lost_the_agent_hangs_up_link_lost_and_rejoins_first() -> None:
    now = [1000.0]
    hub, _agent, b1, _box, call_id = _broken_call_setup(now)
    hub.booth_message(b1, msg("hangup", call_id=call_id, reason="link_lost"))
    hub.booth_message(b1, msg("join_queue", service_id="caf", resume_call_id=call_id))
    assert [t.booth_id for t in hub.queues.waiting("caf")] == ["b1", "b2"]


def test_a_normal_hangup_or_an_old_or_foreign_call_gives_no_head_place() -> None:
    now = [1000.0]
    hub, _agent, b1, _box, call_id = _broken_call_setup(now)
    hub.booth_message(b1, msg("hangup", call_id=call_id))
    hub.booth_message(b1, msg("join_queue", service_id="caf", resume_call_id=call_id))
    assert [t.booth_id for t in hub.queues.waiting("caf")] == ["b2", "b1"]

    now = [1000.0]
    hub, _agent, b1, _box, call_id = _broken_call_setup(now)
    hub.booth_message(b1, msg("hangup", call_id=call_id, reason="link_lost"))
    b2 = hub.booths["b2"]
    hub.booth_message(b2, msg("leave_queue"))
    hub.booth_message(b2, msg("join_queue", service_id="caf", resume_call_id=call_id))
    assert [t.booth_id for t in hub.queues.waiting("caf")] == ["b2"], "not b2's call"
    now[0] += REQUEUE_WINDOW_S + 1
    hub.booth_message(b1, msg("join_queue", service_id="caf", resume_call_id=call_id))
    assert [t.booth_id for t in hub.queues.waiting("caf")] == ["b2", "b1"], "too late"


def test_a_restarted_hub_learns_the_call_again_when_both_sides_name_it() -> None:
    hub = Hub(CATALOGUE, [])
    agent_box, booth_box = RecordingOutbox(), RecordingOutbox()
    agent = hub.agent_connected(
        AgentInfo(username="a", display_name="A", services=["caf"]), agent_box
    )
    hub.agent_message(agent, msg("resume_call", call_id="c-old", service_id="caf"))
    assert "c-old" not in hub.calls, "one side alone proves nothing"
    booth = hub.booth_connected("b1", "Booth 1", booth_box, call_id="c-old")
    assert hub.calls["c-old"].booth is booth and hub.calls["c-old"].agent is agent
    assert booth_box.last("call_resumed")["call_id"] == "c-old"
    assert agent_box.last("call_resumed")["call_id"] == "c-old"
    assert agent.presence == "in_call"
    hub.agent_message(agent, msg("hangup", call_id="c-old"))
    assert booth_box.last("call_ended")["reason"] == "agent_hangup"


def test_resume_claims_are_checked() -> None:
    hub = Hub(CATALOGUE, [])
    box = RecordingOutbox()
    agent = hub.agent_connected(AgentInfo(username="a", display_name="A", services=["x"]), box)
    hub.agent_message(agent, msg("resume_call", call_id="c-1", service_id="caf"))
    assert box.last("error")["code"] == "service_forbidden"
    booth = hub.booth_connected("b1", "Booth 1", RecordingOutbox(), call_id="c-2")
    hub.booth_disconnected(booth)
    assert hub.booth_claims == {}, "a gone booth's claim goes with it"


def test_a_console_back_within_the_grace_keeps_its_call() -> None:
    now = [1000.0]
    hub, agent, _b1, b1_box, call_id = _broken_call_setup(now)
    assert hub.agent_disconnected(agent) == call_id
    box = RecordingOutbox()
    again = hub.agent_connected(agent.agent, box)
    hub.agent_message(again, msg("resume_call", call_id=call_id, service_id="caf"))
    assert box.last("call_resumed")["call_id"] == call_id
    hub.agent_grace_over(agent, call_id)
    assert hub.calls[call_id].agent is again and again.presence == "in_call"
    assert "call_ended" not in [m["type"] for m in b1_box.sent]
    hub.agent_message(again, msg("hangup", call_id=call_id))
    assert b1_box.last("call_ended")["reason"] == "agent_hangup"


def test_booth_socket_replaced_during_its_call_keeps_the_call() -> None:
    """A cut line outlives the booth's socket while the booth brings its call back: its
    new connection names the call, which moves to it (no booth_gone), and the new
    offer on it reaches the agent."""
    now = [1000.0]
    hub, agent, b1, _box, call_id = _broken_call_setup(now)
    agent_box = agent.outbox
    assert isinstance(agent_box, RecordingOutbox)
    new_box = RecordingOutbox()
    again = hub.booth_connected("b1", "Booth 1", new_box, call_id=call_id)
    assert again.call_id == call_id and b1.call_id is None
    assert new_box.last("call_resumed")["call_id"] == call_id
    assert "call_ended" not in [m["type"] for m in agent_box.sent]
    offer = {"type": "offer", "sdp": "v=0"}
    hub.booth_message(again, msg("offer", call_id=call_id, description=offer))
    assert agent_box.last("offer")["call_id"] == call_id
    hub.agent_message(
        agent, msg("answer", call_id=call_id, description={**offer, "type": "answer"})
    )
    assert new_box.last("answer")["call_id"] == call_id
    # The old socket closing late changes nothing.
    hub.booth_disconnected(b1)
    assert "call_ended" not in [m["type"] for m in agent_box.sent]


def test_booth_socket_replaced_naming_another_call_still_ends_its_call() -> None:
    now = [1000.0]
    hub, agent, _b1, _box, _call_id = _broken_call_setup(now)
    agent_box = agent.outbox
    assert isinstance(agent_box, RecordingOutbox)
    hub.booth_connected("b1", "Booth 1", RecordingOutbox())
    assert agent_box.last("call_ended")["reason"] == "booth_gone"

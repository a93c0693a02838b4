"""QueueBook: FIFO per service, positions, estimates. Pure, so tested without a server."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from switchboard.queues import HISTORY_SIZE, QueueBook, QueueError

SERVICES = {"caf": 480.0, "impots": 600.0, "ants": 420.0}


def book() -> QueueBook:
    return QueueBook(SERVICES)


def test_first_come_first_served_within_a_service() -> None:
    q = book()
    a = q.join("caf", "b1", "fr", now=10)
    b = q.join("caf", "b2", "en", now=11)
    assert [q.position("b1"), q.position("b2")] == [1, 2]
    assert q.take_next("caf") == a
    assert q.position("b2") == 1
    assert q.take_next("caf") == b
    assert q.take_next("caf") is None


def test_take_next_over_several_services_takes_the_oldest() -> None:
    q = book()
    q.join("impots", "b1", "fr", now=5)
    older = q.join("caf", "b2", "fr", now=1)
    q.join("ants", "b3", "fr", now=0)
    assert q.take_next({"caf", "impots"}) == older
    assert q.take_next(["caf", "impots"]) is not None
    assert q.take_next(["caf", "impots"]) is None
    assert q.position("b3") == 1  # a service not asked for is untouched


def test_equal_times_keep_join_order() -> None:
    q = book()
    first = q.join("impots", "b1", "fr", now=1)
    q.join("caf", "b2", "fr", now=1)
    assert q.take_next(["caf", "impots"]) == first


def test_one_ticket_per_booth_and_unknown_service() -> None:
    q = book()
    q.join("caf", "b1", "fr", now=0)
    with pytest.raises(QueueError) as exc:
        q.join("impots", "b1", "fr", now=1)
    assert exc.value.code == "already_queued"
    with pytest.raises(QueueError) as exc:
        q.join("nope", "b2", "fr", now=1)
    assert exc.value.code == "unknown_service"


def test_leave_moves_the_others_up() -> None:
    q = book()
    q.join("caf", "b1", "fr", now=0)
    q.join("caf", "b2", "fr", now=1)
    q.join("caf", "b3", "fr", now=2)
    assert q.leave("b2") is not None
    assert q.leave("b2") is None
    assert [q.position("b1"), q.position("b3")] == [1, 2]
    assert q.position("b2") is None


def test_estimate_uses_expected_time_then_the_mean_of_recent_calls() -> None:
    q = book()
    assert q.estimated_wait_s("caf", position=1, agents_available=0) == 480
    assert q.estimated_wait_s("caf", position=3, agents_available=2) == 960
    q.record_call_duration("caf", 100)
    q.record_call_duration("caf", 200)
    assert q.mean_call_s("caf") == 150
    assert q.estimated_wait_s("caf", position=4, agents_available=1) == 600
    assert q.mean_call_s("impots") == 600  # other services keep their own figures


def test_only_the_last_twenty_calls_count() -> None:
    q = book()
    for _ in range(HISTORY_SIZE):
        q.record_call_duration("ants", 1000)
    for _ in range(HISTORY_SIZE):
        q.record_call_duration("ants", 10)
    assert q.mean_call_s("ants") == 10


@given(
    position=st.integers(1, 500),
    agents=st.integers(0, 50),
    durations=st.lists(st.floats(0, 7200), max_size=40),
)
def test_estimate_never_negative_and_grows_with_position(
    position: int, agents: int, durations: list[float]
) -> None:
    q = book()
    for d in durations:
        q.record_call_duration("caf", d)
    here = q.estimated_wait_s("caf", position, agents)
    behind = q.estimated_wait_s("caf", position + 1, agents)
    assert 0 <= here <= behind


class QueueMachine(RuleBasedStateMachine):
    """Random joins, leaves and answers: no ticket is lost or duplicated."""

    def __init__(self) -> None:
        super().__init__()
        self.q = book()
        self.waiting: dict[str, str] = {}  # booth -> service (the model)
        self.served: list[str] = []
        self.clock = 0.0

    @rule(
        booth=st.sampled_from([f"b{i}" for i in range(8)]), service=st.sampled_from(list(SERVICES))
    )
    def join(self, booth: str, service: str) -> None:
        self.clock += 1
        if booth in self.waiting:
            with pytest.raises(QueueError):
                self.q.join(service, booth, "fr", self.clock)
        else:
            self.q.join(service, booth, "fr", self.clock)
            self.waiting[booth] = service

    @rule(booth=st.sampled_from([f"b{i}" for i in range(8)]))
    def leave(self, booth: str) -> None:
        ticket = self.q.leave(booth)
        assert (ticket is not None) == (booth in self.waiting)
        self.waiting.pop(booth, None)

    @rule(services=st.sets(st.sampled_from(list(SERVICES)), min_size=1))
    def answer(self, services: set[str]) -> None:
        candidates = [t for t in self.q.all_tickets() if t.service_id in services]
        ticket = self.q.take_next(services)
        if not candidates:
            assert ticket is None
            return
        assert ticket is not None
        assert ticket.joined_at == min(t.joined_at for t in candidates)
        assert self.waiting.pop(ticket.booth_id) == ticket.service_id
        self.served.append(ticket.booth_id)

    @invariant()
    def positions_are_one_to_n(self) -> None:
        for service in SERVICES:
            booths = [t.booth_id for t in self.q.waiting(service)]
            assert [self.q.position(b) for b in booths] == list(range(1, len(booths) + 1))

    @invariant()
    def no_ticket_lost(self) -> None:
        assert {t.booth_id: t.service_id for t in self.q.all_tickets()} == self.waiting


TestQueueMachine = QueueMachine.TestCase

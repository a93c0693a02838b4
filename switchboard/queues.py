"""QueueBook: tickets per service, positions and estimated waits. Pure: no I/O, no asyncio."""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

HISTORY_SIZE = 20
"""How many recent call durations the mean handling time is taken over (docs/protocol.md)."""


class QueueError(Exception):
    """A queue operation that cannot be done; ``code`` matches a wire ``ErrorCode`` value."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Ticket:
    """One citizen waiting: which booth, for which service, since when."""

    ticket_id: str
    service_id: str
    booth_id: str
    language: str
    joined_at: float
    """Wall-clock time (Unix seconds) of the join."""
    seq: int
    """Join order across all services; breaks ties between equal ``joined_at``."""


class QueueBook:
    """FIFO queues per service, at most one ticket per booth."""

    def __init__(self, expected_call_s: Mapping[str, float]) -> None:
        self._expected = dict(expected_call_s)
        self._queues: dict[str, list[Ticket]] = {service: [] for service in self._expected}
        self._by_booth: dict[str, Ticket] = {}
        self._durations: dict[str, deque[float]] = {
            service: deque(maxlen=HISTORY_SIZE) for service in self._expected
        }
        self._counter = itertools.count(1)

    @property
    def services(self) -> list[str]:
        return list(self._queues)

    def join(self, service_id: str, booth_id: str, language: str, now: float) -> Ticket:
        """Put a booth at the end of a service's queue."""
        if service_id not in self._queues:
            raise QueueError("unknown_service", f"no service {service_id!r}")
        if booth_id in self._by_booth:
            raise QueueError("already_queued", f"booth {booth_id!r} is already in a queue")
        seq = next(self._counter)
        ticket = Ticket(f"t-{seq}", service_id, booth_id, language, now, seq)
        self._queues[service_id].append(ticket)
        self._by_booth[booth_id] = ticket
        return ticket

    def rejoin_at_head(
        self, service_id: str, booth_id: str, language: str, joined_at: float
    ) -> Ticket:
        """Put back a citizen whose call broke: first in the service's queue, with the
        join time of their first ticket (so they also come first across services)."""
        if service_id not in self._queues:
            raise QueueError("unknown_service", f"no service {service_id!r}")
        if booth_id in self._by_booth:
            raise QueueError("already_queued", f"booth {booth_id!r} is already in a queue")
        seq = next(self._counter)
        ticket = Ticket(f"t-{seq}", service_id, booth_id, language, joined_at, seq)
        self._queues[service_id].insert(0, ticket)
        self._by_booth[booth_id] = ticket
        return ticket

    def leave(self, booth_id: str) -> Ticket | None:
        """Remove a booth's ticket, if it has one; returns it."""
        ticket = self._by_booth.pop(booth_id, None)
        if ticket is not None:
            self._queues[ticket.service_id].remove(ticket)
        return ticket

    def ticket_of(self, booth_id: str) -> Ticket | None:
        return self._by_booth.get(booth_id)

    def take_next(self, services: str | Iterable[str]) -> Ticket | None:
        """Remove and return the ticket that has waited longest among ``services``."""
        wanted = [services] if isinstance(services, str) else list(services)
        heads = [self._queues[s][0] for s in wanted if self._queues.get(s)]
        if not heads:
            return None
        oldest = min(heads, key=lambda t: (t.joined_at, t.seq))
        self._queues[oldest.service_id].pop(0)
        del self._by_booth[oldest.booth_id]
        return oldest

    def waiting(self, service_id: str) -> list[Ticket]:
        """Tickets of a service, first in line first."""
        return list(self._queues.get(service_id, ()))

    def position(self, booth_id: str) -> int | None:
        """1 for the next citizen to be answered in that service, None if not queued."""
        ticket = self._by_booth.get(booth_id)
        if ticket is None:
            return None
        return self._queues[ticket.service_id].index(ticket) + 1

    def all_tickets(self) -> list[Ticket]:
        return [t for queue in self._queues.values() for t in queue]

    def record_call_duration(self, service_id: str, seconds: float) -> None:
        """Remember how long a call of that service took, for the estimates."""
        if service_id in self._durations and seconds >= 0:
            self._durations[service_id].append(seconds)

    def mean_call_s(self, service_id: str) -> float:
        """Mean of the last calls' durations, or the catalogue's expectation before any."""
        recent = self._durations.get(service_id)
        if recent:
            return sum(recent) / len(recent)
        return self._expected.get(service_id, 0.0)

    def estimated_wait_s(self, service_id: str, position: int, agents_available: int) -> int:
        """``ceil(position / max(1, agents)) × mean handling time``, whole seconds."""
        rounds = math.ceil(position / max(1, agents_available))
        return round(rounds * self.mean_call_s(service_id))

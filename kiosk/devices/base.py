"""What every peripheral driver shares: its state as the device manager sees it.

Drivers report a :class:`DeviceStatus` through a listener each time their state
changes; screens and the agent console only ever read those statuses (they never
call a driver). A device that fails becomes ``UNAVAILABLE`` with a reason a
technician can read; a job that fails raises :class:`DeviceError` with a reason a
citizen or an agent can read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

logger = logging.getLogger(__name__)


class DeviceState(StrEnum):
    """Coarse state of one device, for screens, logs and the heartbeat."""

    UNKNOWN = "unknown"
    """Not probed yet."""
    READY = "ready"
    BUSY = "busy"
    """Working on a job."""
    DEGRADED = "degraded"
    """Works, but needs attention soon (paper near end...)."""
    UNAVAILABLE = "unavailable"
    """Cannot work now (unplugged, paper out, cover open, offline...)."""


@dataclass(frozen=True)
class DeviceStatus:
    """One device's state at one moment."""

    role: str
    """What the booth uses it for: ``receipt_printer``, ``a4_printer``, ``card_reader``,
    ``smart_card``, ``barcode_reader``, ``scanner``."""
    kind: str
    """Which driver: ``escpos``, ``cups``, ``pcsc``, ``serial_card``, ``serial_barcode``,
    ``sane``, ``camera_qr``..."""
    state: DeviceState
    reason: str = ""
    """Plain words for a technician when not READY (e.g. "plus de papier")."""
    details: dict[str, str] = field(default_factory=dict)
    """Extra facts for diagnostics (model, port, paper level...)."""


StatusListener = Callable[[DeviceStatus], None]


class DeviceError(Exception):
    """A job or probe failed; ``code`` for programs, ``reason`` for people."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


def notify(listener: StatusListener, status: DeviceStatus) -> None:
    """Hand ``status`` to ``listener``; a failing listener is logged, never raised.

    A faulty screen or manager callback must not take the device (or its job) down.
    """
    try:
        listener(status)
    except Exception:
        logger.exception("%s: status listener failed", status.role)

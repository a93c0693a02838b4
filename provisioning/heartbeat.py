"""The booth's heartbeat: what it reports to the server, and the loop that sends it.

:func:`build_heartbeat` is pure (state in, message out). :func:`system_figures`
reads the machine with the standard library only (``/proc``, ``os.statvfs``), so
the booth needs no psutil. :class:`HeartbeatSender` does the I/O with ``requests``
and signed headers; it is blocking, so the booth runs :meth:`HeartbeatSender.send`
through ``asyncio.to_thread`` or :meth:`HeartbeatSender.run` in a thread.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from provisioning.messages import Heartbeat, HeartbeatAck, PeripheralState
from provisioning.signing import sign_request

log = logging.getLogger(__name__)

HEARTBEAT_PATH = "/api/v1/provisioning/heartbeat"
HTTP_TIMEOUT_S = 10.0
RETRY_AFTER_FAILURE_S = 15.0
"""After a failed heartbeat, try again this soon (capped by the interval)."""
PROC = Path("/proc")


@dataclass(frozen=True)
class SystemFigures:
    uptime_s: float
    disk_free_mb: float | None
    memory_used_mb: float | None
    memory_total_mb: float | None


def parse_meminfo(text: str) -> tuple[float, float] | None:
    """``(used_mb, total_mb)`` from ``/proc/meminfo`` (used = total - available)."""
    fields: dict[str, float] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            fields[name.strip()] = float(parts[0]) / 1024  # kB -> MiB
    total = fields.get("MemTotal")
    available = fields.get("MemAvailable", fields.get("MemFree"))
    if total is None or available is None:
        return None
    return round(total - available, 1), round(total, 1)


def system_figures(state_dir: Path, proc: Path = PROC) -> SystemFigures:
    """Uptime, free disk where the booth keeps its state, and memory; None where unreadable."""
    try:
        uptime = float((proc / "uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        uptime = time.monotonic()
    try:
        st = os.statvfs(state_dir)
        disk: float | None = round(st.f_bavail * st.f_frsize / 2**20, 1)
    except OSError:
        disk = None
    try:
        memory = parse_meminfo((proc / "meminfo").read_text())
    except OSError:
        memory = None
    return SystemFigures(
        uptime_s=uptime,
        disk_free_mb=disk,
        memory_used_mb=memory[0] if memory else None,
        memory_total_mb=memory[1] if memory else None,
    )


def build_heartbeat(
    *,
    app_version: str,
    config_version: int | None,
    figures: SystemFigures,
    peripherals: Iterable[PeripheralState] = (),
    rtt_ms: float | None = None,
    last_call_at: datetime | None = None,
) -> Heartbeat:
    """The heartbeat message for this state (pure)."""
    return Heartbeat(
        app_version=app_version,
        config_version=config_version,
        uptime_s=round(figures.uptime_s, 1),
        peripherals=list(peripherals),
        rtt_ms=None if rtt_ms is None else round(rtt_ms, 1),
        last_call_at=last_call_at,
        disk_free_mb=figures.disk_free_mb,
        memory_used_mb=figures.memory_used_mb,
        memory_total_mb=figures.memory_total_mb,
    )


class HeartbeatRefused(Exception):
    """The server answered something else than 200 (``status``, body text)."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:200]}")
        self.status = status


StateProvider = Callable[[], tuple[int | None, list[PeripheralState], datetime | None]]
"""Returns ``(config version applied, peripheral states, last call time)`` now."""


class HeartbeatSender:
    """Sends signed heartbeats for one enrolled booth; remembers the last round trip."""

    def __init__(
        self,
        server_url: str,
        booth_id: str,
        key: Ed25519PrivateKey,
        state_dir: Path,
        app_version: str,
        state: StateProvider,
        *,
        interval_s: float = 60.0,
        session: requests.Session | None = None,
    ) -> None:
        self.server_url = server_url.rstrip("/")
        self.booth_id = booth_id
        self.key = key
        self.state_dir = state_dir
        self.app_version = app_version
        self.state = state
        self.interval_s = interval_s
        """From the booth's config (``heartbeat_interval_s``); the server's answer updates it."""
        self.last_rtt_ms: float | None = None
        self._http = session or requests.Session()

    def build(self) -> Heartbeat:
        version, peripherals, last_call = self.state()
        return build_heartbeat(
            app_version=self.app_version,
            config_version=version,
            figures=system_figures(self.state_dir),
            peripherals=peripherals,
            rtt_ms=self.last_rtt_ms,
            last_call_at=last_call,
        )

    def send(self) -> HeartbeatAck:
        """Send one heartbeat; returns the server's answer (:class:`HeartbeatRefused`)."""
        body = self.build().model_dump_json().encode()
        headers = sign_request(self.key, self.booth_id, "POST", HEARTBEAT_PATH, body)
        headers["Content-Type"] = "application/json"
        started = time.monotonic()
        response = self._http.post(
            self.server_url + HEARTBEAT_PATH, data=body, headers=headers, timeout=HTTP_TIMEOUT_S
        )
        self.last_rtt_ms = (time.monotonic() - started) * 1000
        if response.status_code != 200:
            raise HeartbeatRefused(response.status_code, response.text)
        ack = HeartbeatAck.model_validate_json(response.content)
        self.interval_s = ack.interval_s
        return ack

    def run(
        self, stop: threading.Event, on_ack: Callable[[HeartbeatAck], None] | None = None
    ) -> None:
        """Send heartbeats until ``stop`` is set; ``on_ack`` sees each answer (e.g. to sync
        when ``config_version`` is newer than the one applied)."""
        while not stop.is_set():
            wait = self.interval_s
            try:
                ack = self.send()
                if on_ack is not None:
                    on_ack(ack)
            except (requests.RequestException, HeartbeatRefused, ValueError) as exc:
                log.warning("heartbeat failed: %s", exc)
                wait = min(self.interval_s, RETRY_AFTER_FAILURE_S)
            stop.wait(wait)

"""Run the central server under uvicorn and keep systemd informed.

``READY=1`` goes out once uvicorn listens (after the application's startup), not
before: a ``Type=notify`` unit that orders a reverse proxy or a booth after it then
knows the port answers. ``WATCHDOG=1`` is sent from the event loop itself, so a
loop blocked by some synchronous call stops the pings and systemd restarts the
server. ``STOPPING=1`` goes out when shutdown begins.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import Any

import uvicorn

from guichet.systemd_notify import Notifier

logger = logging.getLogger(__name__)


class NotifyingServer(uvicorn.Server):
    """uvicorn's server with sd_notify READY, WATCHDOG and STOPPING."""

    def __init__(self, config: uvicorn.Config, notifier: Notifier) -> None:
        """Serve ``config``, reporting to ``notifier``."""
        super().__init__(config)
        self.notifier = notifier
        self._pings: asyncio.Task[None] | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start as uvicorn does, then say READY (and start the watchdog pings)."""
        await super().startup(sockets)
        if not self.started:
            return  # could not bind: uvicorn exits with an error, no READY
        self.notifier.ready("guichet server listening")
        if self.notifier.enabled and self.notifier.watchdog_s:
            self._pings = asyncio.create_task(self._ping(self.notifier.watchdog_s))

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Say STOPPING, stop the pings, then shut down as uvicorn does."""
        self.notifier.stopping("guichet server stopping")
        if self._pings is not None:
            self._pings.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pings
        await super().shutdown(sockets)

    async def _ping(self, interval_s: float) -> None:
        while True:
            self.notifier.watchdog()
            await asyncio.sleep(interval_s)


STARTUP_FAILURE = 3
"""Exit status when the server could not start (the port is taken...), as ``uvicorn.run``."""


def run_server(app: Any, **config: Any) -> None:
    """Like ``uvicorn.run(app, **config)`` for one process, telling systemd about it.

    Exits with :data:`STARTUP_FAILURE` when it could not start, so that systemd
    counts a failure (and ``Restart=on-failure`` tries again) instead of a clean stop.
    """
    server = NotifyingServer(uvicorn.Config(app, **config), Notifier.from_environ())
    server.run()
    if not server.started:
        raise SystemExit(STARTUP_FAILURE)

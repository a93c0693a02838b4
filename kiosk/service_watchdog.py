"""The booth's link to systemd: READY once the welcome screen is up, WATCHDOG from the UI.

The pings are scheduled on Kivy's ``Clock``, which only runs while the main loop
turns (input, drawing, the asyncio tasks of the call and the devices share it).
If that loop freezes, the pings stop, and after ``WatchdogSec=`` systemd kills the
booth and ``Restart=on-failure`` brings it back to the welcome screen: a frozen
booth is a broken booth, and nobody is there to unplug it.

Outside systemd nothing is scheduled at all.
"""

from __future__ import annotations

import logging
from typing import Any

from guichet.systemd_notify import Notifier

logger = logging.getLogger(__name__)

READY_MESSAGE = "booth ready: {screen} screen shown"
"""Logged (and sent as STATUS) once the first frame is up: tests and technicians look for it."""


class BoothWatchdog:
    """Tells systemd the booth is ready, alive while its UI loop runs, and stopping."""

    def __init__(self, notifier: Notifier) -> None:
        """Use ``notifier`` (``Notifier.from_environ()`` in the real booth)."""
        self.notifier = notifier
        self._events: list[Any] = []
        self._app: Any = None

    def start(self, app: Any) -> None:
        """Schedule READY after the first frame and WATCHDOG pings; call from ``on_start``."""
        from kivy.clock import Clock
        from kivy.core.window import Window

        self._app = app
        # on_start runs before the first frame: READY waits for the first on_flip
        # (the frame is drawn), then for the next tick (it is on screen).
        Window.fbind("on_flip", self._first_frame)
        if self.notifier.enabled and self.notifier.watchdog_s:
            self._events.append(Clock.schedule_interval(self._ping, self.notifier.watchdog_s))
        app.bind(on_stop=self._stopping)

    def _first_frame(self, *_: Any) -> None:
        from kivy.clock import Clock
        from kivy.core.window import Window

        Window.funbind("on_flip", self._first_frame)
        self._events.append(Clock.schedule_once(self._ready, 0))

    def _ready(self, _dt: float) -> None:
        message = READY_MESSAGE.format(screen=self._screen())
        logger.info(message)
        self.notifier.ready(message)
        self.notifier.watchdog()
        if self.notifier.enabled:
            # `systemctl status` then tells a technician which screen is up (its
            # name only: nothing about the citizen).
            self._app.state.bind(screen=self._screen_changed)

    def _screen(self) -> str:
        root = getattr(self._app, "root", None)
        return str(getattr(root, "current", "") or "unknown")

    def _screen_changed(self, _state: Any, name: str) -> None:
        self.notifier.status(f"screen: {name}")

    def _ping(self, _dt: float) -> None:
        self.notifier.watchdog()

    def _stopping(self, *_: Any) -> None:
        for event in self._events:
            event.cancel()
        self.notifier.stopping("booth stopping")


def start_booth_watchdog(app: Any) -> BoothWatchdog:
    """Create the booth's watchdog from the environment and start it for ``app``."""
    watchdog = BoothWatchdog(Notifier.from_environ())
    watchdog.start(app)
    return watchdog

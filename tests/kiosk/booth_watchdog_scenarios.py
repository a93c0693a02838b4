"""Booth scenarios for the systemd watchdog (run in their own process by kivy_harness)."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from kivy_harness import BoothHarness, harness_settings

FREEZE_S = 1.5
PING_USEC = 400_000
"""WATCHDOG_USEC for the scenario: a ping every 0.2 s."""


async def ui_loop_frozen_then_alive(ctx: dict[str, Any]) -> None:
    """Block the booth's UI loop for FREEZE_S between two markers sent to the socket.

    The parent checks that no WATCHDOG=1 falls between the markers: the pings come
    from the Kivy clock, not from a thread that would keep pinging a frozen screen.
    """
    os.environ["NOTIFY_SOCKET"] = ctx["notify_socket"]
    os.environ["WATCHDOG_USEC"] = str(PING_USEC)
    settings = harness_settings({"server_url": ctx["server_url"], "token": ctx["token"]})
    async with BoothHarness(settings) as booth:
        await booth.wait_screen("welcome")
        notifier = booth.app.service_watchdog.notifier
        assert notifier.enabled and notifier.watchdog_s == PING_USEC / 2_000_000
        # WATCHDOG_USEC was taken out of the environment: helpers do not inherit it.
        assert "NOTIFY_SOCKET" not in os.environ
        await asyncio.sleep(1.0)
        # Something threads keep running meanwhile, as the call's media threads do.
        worker = asyncio.get_running_loop().run_in_executor(None, time.sleep, FREEZE_S)
        notifier.notify("X_GUICHET_TEST=freeze-begin")
        time.sleep(FREEZE_S)  # the UI loop is stuck, as in a blocking call on it
        notifier.notify("X_GUICHET_TEST=freeze-end")
        await worker
        await asyncio.sleep(1.0)

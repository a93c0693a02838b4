"""Shared pieces of the call-fault tests: a real booth controller (aiortc peer, fake
camera, no Kivy) on the test switchboard, and a polling wait."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from fixtures.server import RunningServer

from kiosk.config import BoothSettings
from kiosk.controller import BoothController


async def until(predicate: Callable[[], Any], what: str, timeout: float = 15.0) -> None:
    """Poll ``predicate`` every 20 ms; fail the test with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@asynccontextmanager
async def running_booth(
    server: RunningServer, name: str = "booth-1"
) -> AsyncIterator[BoothController]:
    """A booth controller connected to ``server`` with ``name``'s token, online."""
    settings = BoothSettings(
        server_url=server.base_url,
        token=server.booth_tokens[name],
        fake_media=True,
        demo=True,  # plain http:// to the test server
        retry_min_s=0.1,
        retry_max_s=0.5,
    )
    controller = BoothController(settings)
    await controller.start()
    try:
        await until(lambda: controller.services and controller.problem == "", "booth online")
        yield controller
    finally:
        await controller.stop()

"""Re-opening a serial device that went away, with a growing back-off.

A scanner or card reader on USB-serial vanishes when unplugged and comes back
under the same path when plugged in again; drivers keep trying to open it
through an *opener* callable given by whoever knows the path.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable

from kiosk.devices.transport import Transport, TransportClosed

logger = logging.getLogger(__name__)

REOPEN_FIRST_DELAY_S = 0.5
"""Wait before the first re-open attempt (a replug takes about that long)."""
REOPEN_MAX_DELAY_S = 10.0
"""Longest wait between attempts, so a replugged device is back within seconds."""
REOPEN_FACTOR = 2.0
"""Each failed attempt multiplies the wait by this, up to the maximum."""

Opener = Callable[[], Transport | Awaitable[Transport]]
"""Opens the device again; raises TransportClosed while it is absent."""


async def open_once(opener: Opener) -> Transport:
    """Call ``opener`` once, awaiting it if it is a coroutine function."""
    opened = opener()
    if inspect.isawaitable(opened):
        return await opened
    return opened


async def reopen_with_backoff(opener: Opener, what: str) -> Transport:
    """Try ``opener`` until it succeeds, waiting longer after each failure.

    Runs until it succeeds or its task is cancelled (driver stopped).
    """
    # Read at call time so tests can shrink the module constants.
    delay = REOPEN_FIRST_DELAY_S
    attempt = 0
    while True:
        await asyncio.sleep(delay)
        attempt += 1
        try:
            transport = await open_once(opener)
        except (TransportClosed, OSError) as exc:
            logger.debug("%s: re-open attempt %d failed: %s", what, attempt, exc)
            delay = min(delay * REOPEN_FACTOR, REOPEN_MAX_DELAY_S)
            continue
        logger.info("%s: device back after %d attempt(s)", what, attempt)
        return transport

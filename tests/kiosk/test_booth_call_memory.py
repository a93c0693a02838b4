"""An ended call leaves nothing behind in the booth's memory (found by bench/soak.py).

aiortc's objects reference each other, so a closed peer connection is only freed
by the cyclic garbage collector; the booth runs one when a call ends. The test
turns automatic collection off, so only the booth's own collection can free the
call: without it, every ended call stayed in memory until a rare full collection.
Real switchboard, real aiortc agent peer, the real controller (no Kivy).
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from booth_agent import agent_console, answer_next
from fixtures.server import RunningServer
from test_booth_controller import booth, settings_for, until

from kiosk.controller import BoothController
from kiosk.session import State

__all__ = ["booth", "settings_for"]


@pytest.fixture
def no_automatic_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def test_an_ended_call_is_freed_when_it_ends(
    no_automatic_gc: None, booth: BoothController, switchboard: RunningServer
) -> None:
    booth.tap_start()
    booth.choose_service("caf")
    await until(lambda: booth.data.position == 1, "queued")
    console = await agent_console(switchboard)
    call = await answer_next(console)
    try:
        await until(lambda: booth.frames_received >= 10, "agent video at the booth")
        peer = booth.in_call_peer
        assert peer is not None
        held = {
            "BoothPeer": weakref.ref(peer),
            "RTCPeerConnection": weakref.ref(peer.pc),
            "MediaSources": weakref.ref(peer.media),
        }
        del peer
        await call.hang_up()
        await until(lambda: booth.state is State.WELCOME, "back to welcome")
        await until(
            lambda: all(ref() is None for ref in held.values()),
            f"the call freed: still alive {[n for n, r in held.items() if r() is not None]}",
            timeout=5.0,
        )
    finally:
        await call.close()

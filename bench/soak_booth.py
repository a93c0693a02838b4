"""The booth's half of bench/soak.py: one real booth app, session after session.

Runs in its own process (started by ``kivy_harness``), so the benchmark can watch
that one process's memory and file descriptors over the whole soak. For each of
``ctx["sessions"]`` sessions it plays the citizen with real touches: start, choose
the CAF service, wait to be answered, check that the agent's video arrives, read
the agent's chat line and answer one, then hang up itself on odd sessions (when
the bench says so) or let the agent hang up on even ones, and wait for the welcome
screen again. A session that goes wrong is marked ``failed_<n>`` and the booth is
brought back to its welcome screen: the soak goes on.

Milestones go to the JSON-lines file ``ctx["progress"]`` (wall-clock ``at``); the
bench's commands (``hangup_<n>``) are empty files in ``ctx["commands"]``.
"""

from __future__ import annotations

import asyncio
import gc
import json
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from kivy_harness import BoothHarness, harness_settings

STEP_S = 60.0
MIN_FRAMES = 20
"""Agent frames the booth must receive in each call (~1 s of the console's camera)."""
WATCHED_TYPES = (
    "RTCPeerConnection",
    "RTCDataChannel",
    "RTCRtpSender",
    "RTCRtpReceiver",
    "BoothPeer",
    "MediaSources",
    "DeviceChannel",
    "BoothDeviceHandler",
    "Task",
    "Widget",
    "Label",
    "Texture",
    "VideoFrame",
    "AudioFrame",
)
"""Live objects counted at the measuring points, to find what a growth is made of."""


def agent_says(n: int) -> str:
    """The agent's chat line in session ``n`` (unique, so no session reads another's)."""
    return f"Bonjour, dossier {n} ?"


def citizen_says(n: int) -> str:
    """The citizen's chat line in session ``n``."""
    return f"Mon allocation, session {n}."


def citizen_hangs_up(n: int) -> bool:
    """Who ends session ``n``: the citizen on odd sessions, the agent on even ones."""
    return n % 2 == 1


def _mark(ctx: dict[str, Any], step: str, **data: Any) -> None:
    with Path(ctx["progress"]).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"step": step, "at": time.time(), **data}) + "\n")


def live_objects() -> dict[str, int]:
    """Live objects of each watched type made since the booth started, threads, tasks.

    The booth freezes its startup heap (imports, the built UI) out of collections;
    ``gc.get_objects()`` does not list those, so the counts are of what sessions made.
    """
    gc.collect()  # count what is held, not garbage waiting for the next collection
    counts: Counter[str] = Counter()
    watched = set(WATCHED_TYPES)
    for obj in gc.get_objects():
        for cls in type(obj).__mro__:
            if cls.__name__ in watched:
                counts[cls.__name__] += 1
    result = {name: counts[name] for name in WATCHED_TYPES}
    result["threads"] = threading.active_count()
    result["asyncio_tasks"] = len(asyncio.all_tasks())
    return result


async def _wait_command(ctx: dict[str, Any], name: str) -> None:
    path = Path(ctx["commands"]) / name
    deadline = time.monotonic() + STEP_S
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the bench never said {name!r}")
        await asyncio.sleep(0.05)


async def session(booth: BoothHarness, ctx: dict[str, Any], n: int) -> None:
    """One citizen, from the welcome screen back to it."""
    await booth.wait_screen("welcome", timeout=STEP_S)
    await booth.tap("start_button")
    await booth.wait_screen("choose")
    await booth.wait_for(lambda: booth.find("service_caf"), what="catalogue")
    await booth.tap("service_caf")
    await booth.wait_for(lambda: booth.controller.data.position == 1, timeout=STEP_S)
    _mark(ctx, f"queued_{n}")

    await booth.wait_screen("call", timeout=STEP_S)
    await booth.wait_for(
        lambda: booth.controller.frames_received >= MIN_FRAMES,
        timeout=STEP_S,
        what=f"{MIN_FRAMES} frames from the agent's browser",
    )
    peer = booth.controller.in_call_peer
    size = list(peer.remote_frame_size) if peer and peer.remote_frame_size else None
    _mark(ctx, f"media_{n}", frames=booth.controller.frames_received, size=size)

    await booth.wait_text(agent_says(n), timeout=STEP_S)
    await booth.type_text("chat_input", citizen_says(n))
    await booth.tap("send_button")
    await booth.wait_text(citizen_says(n))
    _mark(ctx, f"chatted_{n}")

    if citizen_hangs_up(n):
        await _wait_command(ctx, f"hangup_{n}")
        await booth.tap("hangup_button")
    await booth.wait_screen("goodbye", timeout=STEP_S)
    await booth.wait_screen("welcome", timeout=STEP_S)
    # Nothing of this citizen is left in the booth's state.
    if booth.controller.data.transcript != () or citizen_says(n) in booth.all_text():
        raise AssertionError(f"session {n} left the citizen's chat behind")


async def _recover(booth: BoothHarness) -> None:
    """Back to the welcome screen after a failed session, as a citizen walking away would."""
    from kiosk.session import State

    state = booth.controller.state
    if state is State.IN_CALL:
        booth.controller.hangup()
    elif state is State.WAITING:
        booth.controller.cancel()
    elif state is State.CHOOSING:
        booth.controller.back()
    elif state is State.GOODBYE:
        booth.controller.finish()
    await booth.wait_screen("welcome", timeout=STEP_S * 2)


async def drive(ctx: dict[str, Any]) -> None:
    """``ctx["sessions"]`` sessions on one booth app; live objects at the measuring points."""
    settings = harness_settings(
        {"server_url": ctx["server_url"], "token_file": ctx["token_file"], "goodbye_s": 0.5}
    )
    sessions = int(ctx["sessions"])
    census_after = set(ctx.get("census_after", []))
    async with BoothHarness(settings) as booth:
        await booth.wait_screen("welcome", timeout=STEP_S)
        await booth.wait_for(
            lambda: booth.controller.link_state == "connected", timeout=STEP_S, what="online"
        )
        _mark(ctx, "ready", live=live_objects() if -1 in census_after else None)
        for n in range(sessions):
            _mark(ctx, f"start_{n}")
            try:
                await session(booth, ctx, n)
            except Exception as exc:
                _mark(ctx, f"failed_{n}", reason=f"{type(exc).__name__}: {exc}")
                await _recover(booth)
                _mark(ctx, f"recovered_{n}")
                continue
            _mark(ctx, f"done_{n}", live=live_objects() if n in census_after else None)
        await _wait_command(ctx, "stop")

"""The citizen's half of the end-to-end story, run in its own process by the harness.

The real booth app (Kivy, aiortc, fake camera and tone) is driven by touches on
its real widgets. It talks to the real switchboard; the agent's half runs in
headless Chromium in the test process. The two halves meet only through the
product itself: the booth waits for what the agent does to show on its screen.
Milestones are written to ``ctx["progress"]`` so the test can follow along.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from kivy_harness import BoothHarness, harness_settings

CALL_TIMEOUT_S = 30.0
MIN_FRAMES = 30


def _mark(ctx: dict[str, Any], step: str, **data: Any) -> None:
    with Path(ctx["progress"]).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"step": step, "at": time.time(), **data}) + "\n")


async def _join(booth: BoothHarness, ctx: dict[str, Any], shots: bool) -> None:
    await booth.wait_screen("welcome", timeout=CALL_TIMEOUT_S)
    if shots:
        booth.screenshot("e2e-booth-welcome")
    await booth.tap("start_button")
    await booth.wait_screen("choose")
    await booth.wait_for(lambda: booth.find("service_caf"), what="catalogue shown")
    if shots:
        booth.screenshot("e2e-booth-choose")
    await booth.tap("service_caf")
    if shots:
        # The agent answers only after this step is marked, so the screen is stable.
        await booth.wait_screen("waiting")
        await booth.wait_text("Vous êtes le prochain")
        booth.screenshot("e2e-booth-waiting")
        _mark(ctx, "queued", position=booth.controller.data.position)


async def _in_call(booth: BoothHarness, ctx: dict[str, Any], step: str) -> None:
    await booth.wait_screen("call", timeout=CALL_TIMEOUT_S)
    await booth.wait_for(
        lambda: booth.controller.frames_received >= MIN_FRAMES,
        timeout=CALL_TIMEOUT_S,
        what=f"{MIN_FRAMES} frames from the agent's browser",
    )
    peer = booth.controller.in_call_peer
    _mark(
        ctx,
        step,
        frames=booth.controller.frames_received,
        size=list(peer.remote_frame_size) if peer and peer.remote_frame_size else None,
    )


async def citizen_story(ctx: dict[str, Any]) -> None:
    """Two calls: the citizen hangs up the first, the agent the second."""
    # alsa-lib reads ~/.asoundrc when the speaker first opens: the test's one sends
    # what the booth plays to a file (no sound card here).
    os.environ["HOME"] = ctx["alsa_home"]
    settings = harness_settings(
        {
            "server_url": ctx["server_url"],
            "token_file": ctx["token_file"],
            "goodbye_s": 2.0,
            "speaker": "booth_speaker",
        }
    )
    async with BoothHarness(settings) as booth:
        # First call: chat both ways, the citizen hangs up.
        await _join(booth, ctx, shots=True)
        await _in_call(booth, ctx, "media_1")
        await booth.wait_text(ctx["agent_says"], timeout=CALL_TIMEOUT_S)
        await booth.type_text("chat_input", ctx["citizen_says"])
        await booth.tap("send_button")
        await booth.wait_text(ctx["citizen_says"])
        await booth.frames(5)
        booth.screenshot("e2e-booth-call")
        _mark(ctx, "chatted")
        await booth.wait_for(lambda: Path(ctx["go_hangup"]).exists(), timeout=CALL_TIMEOUT_S)
        await booth.tap("hangup_button")
        await booth.wait_screen("goodbye")
        booth.screenshot("e2e-booth-goodbye")
        await booth.wait_screen("welcome", timeout=CALL_TIMEOUT_S)
        # The session was wiped: nothing of the citizen is left in the booth's state.
        assert booth.controller.data.transcript == ()
        assert booth.controller.data.service_id is None
        assert ctx["agent_says"] not in booth.all_text()
        _mark(ctx, "back_to_welcome_1")

        # Second call: the agent hangs up.
        await _join(booth, ctx, shots=False)
        await _in_call(booth, ctx, "media_2")
        await booth.wait_screen("goodbye", timeout=CALL_TIMEOUT_S)
        await booth.wait_screen("welcome", timeout=CALL_TIMEOUT_S)
        assert ctx["citizen_says"] not in booth.all_text()
        _mark(ctx, "back_to_welcome_2")

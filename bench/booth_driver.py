"""The booth's half of bench/call_setup.py: the real booth app, driven by touches.

Runs in its own process (started by ``kivy_harness``) so the benchmark can
measure that process's CPU alone. It joins the queue, waits for the agent,
records when the first remote frame was decoded, and goes round again until
told to stop. Milestones go to the JSON-lines file ``ctx["progress"]``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from kivy_harness import BoothHarness, harness_settings

WAIT_S = 60.0


def _mark(ctx: dict[str, Any], step: str, **data: Any) -> None:
    with Path(ctx["progress"]).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"step": step, "at": time.time(), **data}) + "\n")


async def drive(ctx: dict[str, Any]) -> None:
    """Join, be answered, report the first frame; ``ctx["calls"]`` times."""
    settings = harness_settings(
        {"server_url": ctx["server_url"], "token_file": ctx["token_file"], "goodbye_s": 0.5}
    )
    async with BoothHarness(settings) as booth:
        for n in range(int(ctx["calls"])):
            await booth.wait_screen("welcome", timeout=WAIT_S)
            await booth.tap("start_button")
            await booth.wait_screen("choose")
            await booth.wait_for(lambda: booth.find("service_caf"), what="catalogue")
            await booth.tap("service_caf")
            await booth.wait_for(lambda: booth.controller.data.position == 1, timeout=WAIT_S)
            _mark(ctx, f"queued_{n}")

            def first_frame() -> float | None:
                peer = booth.controller.in_call_peer
                return peer.first_frame_at if peer is not None else None

            first = await booth.wait_for(first_frame, timeout=WAIT_S, what="first frame")
            # first_frame_at is monotonic: turn it into wall-clock time for the parent.
            wall = time.time() - (time.monotonic() - first)
            peer = booth.controller.in_call_peer
            _mark(ctx, f"first_frame_{n}", wall=wall, size=list(peer.remote_frame_size or ()))
            await booth.wait_screen("goodbye", timeout=WAIT_S * 2)
            _mark(ctx, f"ended_{n}")

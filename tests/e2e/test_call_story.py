"""End to end: a citizen at the real booth and an agent in Chromium, through the real switchboard.

The booth runs in its own process (Kivy under Xvfb, aiortc, fake camera and tone,
touches on its real widgets); the agent console runs in headless Debian Chromium
with a fake camera, driven by Playwright; the switchboard is the real server on
127.0.0.1. Nothing is mocked.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fixtures.browser import (
    agent_login,
    console_state,
    console_stats,
    launch_chromium,
    new_agent_page,
    screenshot,
    wait_console,
)
from fixtures.server import RunningServer
from kivy_harness import run_scenario
from playwright.async_api import Page, async_playwright

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.kivy]

STEP_TIMEOUT_S = 60.0
AGENT_SAYS = "Bonjour, je vous écoute."
CITIZEN_SAYS = "Je viens pour mon allocation."


def _steps(progress: Path) -> list[dict[str, Any]]:
    if not progress.exists():
        return []
    return [json.loads(line) for line in progress.read_text().splitlines() if line.strip()]


async def _wait_step(progress: Path, step: str, booth: asyncio.Task[Any]) -> dict[str, Any]:
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while time.monotonic() < deadline:
        for entry in _steps(progress):
            if entry["step"] == step:
                return entry
        if booth.done():
            booth.result()  # the booth's failure, with its output
            raise AssertionError(f"booth finished before step {step!r}")
        await asyncio.sleep(0.05)
    raise AssertionError(f"booth never reached step {step!r}; got {_steps(progress)}")


async def _frames_decoded_growing(page: Page) -> dict[str, float]:
    first = await console_stats(page)
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        now = await console_stats(page)
        if now["framesDecoded"] > first["framesDecoded"] + 10 and now["frameWidth"]:
            return now
    raise AssertionError(f"framesDecoded not growing: {first} -> {await console_stats(page)}")


async def test_citizen_and_agent_call_chat_and_hang_up_from_either_side(
    switchboard: RunningServer, tmp_path: Path
) -> None:
    token_file = tmp_path / "booth.token"
    token_file.write_text(switchboard.booth_tokens["booth-1"] + "\n")
    os.chmod(token_file, 0o600)
    progress = tmp_path / "progress.jsonl"
    alsa_home = tmp_path / "alsa"
    alsa_home.mkdir()
    played = tmp_path / "played.raw"
    (alsa_home / ".asoundrc").write_text(
        'pcm.booth_speaker {\n  type file\n  slave.pcm "null"\n'
        f'  file "{played}"\n  format "raw"\n}}\n'
    )
    go_hangup = tmp_path / "go-hangup"
    ctx = {
        "server_url": switchboard.base_url,
        "token_file": str(token_file),
        "progress": str(progress),
        "go_hangup": str(go_hangup),
        "agent_says": AGENT_SAYS,
        "citizen_says": CITIZEN_SAYS,
        "alsa_home": str(alsa_home),
    }
    booth = asyncio.create_task(
        asyncio.to_thread(run_scenario, "e2e.booth_story:citizen_story", ctx, 300.0)
    )
    try:
        async with async_playwright() as pw:
            browser = await launch_chromium(pw)
            context, page, guard = await new_agent_page(browser, switchboard.base_url)
            await agent_login(page, switchboard.base_url, "alice", "alice-pw")

            # The booth shows position 1; the console shows the citizen waiting.
            queued = await _wait_step(progress, "queued", booth)
            assert queued["position"] == 1
            await wait_console(page, "c.waiting === 1", 20_000)
            await screenshot(page, "e2e-console-queue")

            # The agent answers: video both ways at the booth's resolution.
            await page.locator("#gc-answer-next").click()
            await wait_console(page, "c.state === 'in_call' && c.channelOpen", 30_000)
            stats = await _frames_decoded_growing(page)
            assert (stats["frameWidth"], stats["frameHeight"]) == (640, 480)
            media = await _wait_step(progress, "media_1", booth)
            assert media["frames"] >= 30
            assert media["size"] is not None and media["size"][0] > 0

            # Chat both ways over the data channel.
            await page.locator("#gc-chat-input").fill(AGENT_SAYS)
            await page.locator("#gc-chat-send").click()
            await _wait_step(progress, "chatted", booth)
            await page.locator("#gc-chat-log").get_by_text(CITIZEN_SAYS).wait_for(timeout=20_000)
            await screenshot(page, "e2e-console-call")

            # The citizen hangs up: the console says so; the queue is empty.
            go_hangup.touch()
            await wait_console(page, "c.state === 'idle' && c.lastCallEnd === 'booth_hangup'")
            assert await console_state(page, "waiting") == 0
            await screenshot(page, "e2e-console-citizen-left")
            await _wait_step(progress, "back_to_welcome_1", booth)

            # Second citizen: the agent answers and hangs up this time.
            await wait_console(page, "c.waiting === 1", 30_000)
            await page.locator("#gc-answer-next").click()
            await wait_console(page, "c.state === 'in_call' && c.channelOpen", 30_000)
            await _frames_decoded_growing(page)
            await _wait_step(progress, "media_2", booth)
            await page.locator("#gc-hangup").click()
            await wait_console(page, "c.state === 'idle'")
            await _wait_step(progress, "back_to_welcome_2", booth)
            assert await console_state(page, "waiting") == 0

            assert guard.outside == [], f"requests left 127.0.0.1: {guard.outside}"
            await context.close()
            await browser.close()
        await booth
        # The citizen heard the agent: Chromium's fake microphone (beeps) reached the
        # booth's loudspeaker, 48 kHz stereo s16.
        pcm = np.frombuffer(played.read_bytes(), dtype=np.int16)
        assert len(pcm) >= 48_000 * 2, f"only {len(pcm)} samples played"
        assert int(np.abs(pcm).max()) > 1000
    finally:
        if not booth.done():
            # The scenario process ends on its own timeout; don't leave it behind.
            await asyncio.wait([booth], timeout=5)

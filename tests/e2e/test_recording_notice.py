"""A service that records its calls says so: on the booth before the call, in the console.

Guichet records nothing itself; the catalogue's ``recording`` declares that a service
records with its own means (see docs/architecture.md, "Privacy"). The real booth
(Kivy under Xvfb) and the real console (headless Chromium) meet through the real
switchboard started with a catalogue whose court hearings are recorded.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from fixtures.browser import agent_login, launch_chromium, new_agent_page, screenshot, wait_console
from fixtures.server import start_switchboard
from kivy_harness import run_scenario
from playwright.async_api import async_playwright, expect
from story_steps import wait_step

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.kivy]

CATALOGUE = """\
[[service]]
id = "justice"
name = { fr = "Tribunal judiciaire", en = "Court" }
icon = "court"
recording = { retention_days = 30 }

[[service]]
id = "caf"
name = { fr = "Allocations familiales", en = "Family benefits" }
icon = "family"
"""


async def test_the_citizen_is_told_before_the_call_and_the_agent_sees_a_badge(
    tmp_path: Path,
) -> None:
    server = start_switchboard(
        tmp_path, agents=[("carla", "carla-pw", ["justice", "caf"])], catalogue=CATALOGUE
    )
    try:
        token_file = tmp_path / "booth.token"
        token_file.write_text(server.booth_tokens["booth-1"] + "\n")
        os.chmod(token_file, 0o600)
        progress = tmp_path / "progress.jsonl"
        ctx = {
            "server_url": server.base_url,
            "token_file": str(token_file),
            "progress": str(progress),
        }
        booth = asyncio.create_task(
            asyncio.to_thread(run_scenario, "e2e.booth_story:recording_story", ctx, 180.0)
        )
        try:
            async with async_playwright() as pw:
                browser = await launch_chromium(pw)
                context, page, guard = await new_agent_page(browser, server.base_url)
                await agent_login(page, server.base_url, "carla", "carla-pw")
                queued = await wait_step(progress, "queued", booth)
                assert queued["notice"] == (
                    "Le service « Tribunal judiciaire » enregistre cet appel."
                    " Il garde l'enregistrement 30 jours."
                    " Si vous n'êtes pas d'accord, touchez « Annuler »."
                )
                assert queued["height"] > 40

                await wait_console(page, "c.waiting === 1", 30_000)
                badge = page.locator("#gc-call-recording")
                await page.locator("#gc-answer-next").click()
                await wait_console(page, "c.state === 'in_call' && c.channelOpen", 30_000)
                await expect(badge).to_be_visible()
                await expect(badge).to_have_text("Appel enregistré (conservé 30 jours)")
                await wait_step(progress, "in_call", booth)
                await screenshot(page, "e2e-console-call-recorded")
                await page.locator("#gc-hangup").click()
                await wait_console(page, "c.state === 'idle'", 20_000)
                await expect(badge).to_be_hidden()
                await wait_step(progress, "done", booth)
                assert guard.outside == [], guard.outside
                await context.close()
                await browser.close()
            await booth
        finally:
            if not booth.done():
                await asyncio.wait([booth], timeout=5)
    finally:
        server.stop()

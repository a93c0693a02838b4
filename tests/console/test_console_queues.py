"""The queues panel follows citizens joining and leaving, live."""

from __future__ import annotations

import asyncio

import pytest
from console_booth import FakeBooth
from fixtures.a11y import assert_accessible
from fixtures.browser import AgentPage, console_state, screenshot, wait_console
from fixtures.server import RunningServer
from playwright.async_api import expect

pytestmark = pytest.mark.browser


async def test_queue_updates_live_when_citizens_join_and_leave(
    alice: AgentPage, switchboard: RunningServer
) -> None:
    page = alice.page
    queues = page.locator("#gc-queue-list")
    global_answer = page.locator("#gc-answer-next")
    # alice answers caf and impots only.
    await expect(queues.locator("li.gc-queue")).to_have_count(2)
    await expect(queues.get_by_role("heading", name="Allocations familiales")).to_be_visible()
    await expect(queues.get_by_role("heading", name="Impôts")).to_be_visible()
    await expect(global_answer).to_be_disabled()
    caf_answer = page.get_by_role("button", name="Répondre au suivant — Allocations familiales")
    await expect(caf_answer).to_be_disabled()

    one = FakeBooth(switchboard.ws_url, switchboard.booth_tokens["booth-1"])
    two = FakeBooth(switchboard.ws_url, switchboard.booth_tokens["booth-2"])
    try:
        await one.connect()
        await two.connect()
        await one.join_queue("caf", language="ar")
        await two.join_queue("impots", language="fr")
        await wait_console(page, "c.waiting === 2")
        caf = queues.locator("li.gc-queue[data-service-id='caf']")
        await expect(caf.locator(".gc-citizen-booth")).to_have_text("booth-1")
        await expect(caf.locator(".gc-citizen-lang")).to_have_text("arabe")
        await expect(caf.locator(".gc-fact-waiting dd")).to_have_text("1")
        await expect(global_answer).to_be_enabled()
        await expect(caf_answer).to_be_enabled()
        await expect(page.locator("#gc-queues-summary")).to_contain_text("2 citoyens en attente")

        # The "waiting for" counter runs on the server's clock, every second.
        clock = caf.locator("time.gc-wait-clock")
        first = await clock.text_content()
        assert first is not None and first.startswith("0:0")
        await expect(clock).not_to_have_text(first, timeout=3000)
        await screenshot(page, "console-queues")
        await assert_accessible(page, "console-queues")

        await one.leave_queue()
        await wait_console(page, "c.waiting === 1")
        await expect(caf.locator(".gc-queue-empty")).to_have_text("Personne n'attend.")
        await expect(caf_answer).to_be_disabled()

        # A booth that vanishes leaves its queue too.
        await two.close()
        await wait_console(page, "c.waiting === 0")
        await expect(global_answer).to_be_disabled()
    finally:
        await one.close()
        await two.close()


async def test_answering_an_empty_queue_shows_the_server_error(
    alice: AgentPage, switchboard: RunningServer
) -> None:
    page = alice.page
    # The button is disabled when nobody waits; force a stale click as a slow UI could.
    await page.evaluate(
        "() => { const b = document.getElementById('gc-answer-next');"
        " b.disabled = false; b.click(); }"
    )
    await expect(page.get_by_role("alert")).to_contain_text(
        "Personne n'attend dans cette file pour le moment."
    )
    error = await console_state(page, "lastError")
    assert error["code"] == "queue_empty"
    assert await console_state(page, "state") == "idle"
    await assert_accessible(page, "console-error-banner")


async def test_presence_toggle_pauses_and_resumes_the_agent(
    alice: AgentPage, switchboard: RunningServer
) -> None:
    page = alice.page
    presence = page.locator("#gc-presence")
    await expect(presence).to_have_attribute("data-presence", "available")
    await expect(page.locator("#gc-presence-help")).to_have_text("Activer pour passer en pause")
    await expect(presence).to_have_text("Disponible")
    booth = FakeBooth(switchboard.ws_url, switchboard.booth_tokens["booth-1"])
    try:
        await booth.connect()
        await booth.join_queue("caf")
        agents = page.locator("li.gc-queue[data-service-id='caf'] .gc-fact-agents dd")
        await expect(agents).to_have_text("1")
        await presence.click()
        await expect(presence).to_have_text("En pause")
        await expect(presence).to_have_attribute("data-presence", "paused")
        assert await console_state(page, "presence") == "paused"
        # A paused agent counts for nobody's estimate (server pushes new queues).
        await expect(agents).to_have_text("0")
        await assert_accessible(page, "console-paused")
        await presence.click()
        await expect(presence).to_have_text("Disponible")
        await expect(agents).to_have_text("1")
        await asyncio.sleep(0)
    finally:
        await booth.close()

"""The console says so when the switchboard goes away, and is usable by keyboard."""

from __future__ import annotations

import asyncio

import pytest
from fixtures.a11y import assert_accessible
from fixtures.browser import AgentPage, console_state, screenshot, wait_console
from fixtures.server import RunningServer
from playwright.async_api import expect

pytestmark = pytest.mark.browser


async def test_lost_switchboard_shows_reconnecting_then_reconnects_or_asks_to_sign_in(
    alice: AgentPage, switchboard: RunningServer
) -> None:
    page = alice.page
    switchboard.stop()
    await wait_console(page, "c.connection === 'reconnecting'")
    banner = page.locator("#gc-conn-banner")
    await expect(banner).to_be_visible()
    await expect(banner).to_contain_text("Connexion perdue")
    await expect(page.locator("#gc-conn")).to_contain_text("Reconnexion")
    await expect(page.locator("#gc-answer-next")).to_be_disabled()
    await screenshot(page, "console-reconnecting")
    await assert_accessible(page, "console-reconnecting")

    # Same port, same database: the session is in the database, so the console comes
    # back by itself, still signed in.
    await asyncio.to_thread(switchboard.start_again)
    await wait_console(page, "c.connection === 'online' && c.state === 'idle'", 20_000)
    await expect(banner).to_be_hidden()

    # A session the server no longer knows (here: the cookie is gone) asks to sign in.
    await alice.context.clear_cookies()
    switchboard.stop()
    await wait_console(page, "c.connection === 'reconnecting'")
    await asyncio.to_thread(switchboard.start_again)
    await wait_console(page, "c.state === 'signed_out'", 20_000)
    await expect(page.get_by_role("alert")).to_contain_text(
        "Votre session a expiré. Reconnectez-vous."
    )
    await assert_accessible(page, "console-session-expired")
    await expect(banner).to_be_hidden()


async def test_every_control_has_a_name_and_the_desk_is_keyboard_reachable(
    alice: AgentPage, switchboard: RunningServer
) -> None:
    page = alice.page
    unnamed = await page.evaluate(
        """() => [...document.querySelectorAll('button, input, video')].filter((el) => {
            const name = (el.getAttribute('aria-label') || el.textContent || '').trim()
              || (el.labels && el.labels.length ? el.labels[0].textContent.trim() : '');
            return !name;
        }).map((el) => el.id || el.outerHTML.slice(0, 80))"""
    )
    assert unnamed == []
    reached: list[str] = []
    await page.locator("body").focus()
    for _ in range(12):
        await page.keyboard.press("Tab")
        reached.append(await page.evaluate("() => document.activeElement.id"))
    assert {"gc-presence", "gc-logout"} <= set(reached), reached
    # Presence toggles from the keyboard.
    await page.locator("#gc-presence").focus()
    await page.keyboard.press("Enter")
    await wait_console(page, "c.presence === 'paused'")
    assert await console_state(page, "presence") == "paused"
    live = await page.evaluate(
        "() => [...document.querySelectorAll('[aria-live]')].map((e) => e.id)"
    )
    assert {"gc-announcer", "gc-chat-log"} <= set(live)
    stats = await page.evaluate("() => window.guichetConsole.stats()")
    assert stats["framesDecoded"] == 0

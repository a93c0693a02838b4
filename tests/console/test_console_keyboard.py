"""The agent console's main flow by keyboard alone: sign in, answer, chat, hang up.

Only Tab / Shift+Tab / Enter / Space and typed text; every focus stop must show
its focus ring. axe-core also checks the states only this flow reaches
(connecting call).
"""

from __future__ import annotations

import asyncio

import pytest
from console_booth import FakeBooth
from fixtures.a11y import assert_accessible
from fixtures.browser import AgentPage, open_console, screenshot, wait_console
from fixtures.keyboard import focused_id, tab_to
from fixtures.server import RunningServer
from playwright.async_api import expect

pytestmark = pytest.mark.browser

CALL_TIMEOUT_MS = 15_000


async def test_agent_signs_in_answers_chats_and_hangs_up_by_keyboard_only(
    console: AgentPage, switchboard: RunningServer
) -> None:
    page = console.page
    keys = page.keyboard
    await open_console(page, switchboard.base_url)
    # The sign-in form takes the focus itself.
    assert await focused_id(page) == "gc-username"
    await keys.type("alice")
    await tab_to(page, "gc-password")
    await keys.type(switchboard.agent_passwords["alice"])
    await tab_to(page, "gc-login-submit")
    await keys.press("Enter")
    await wait_console(page, "c.state === 'idle' && c.connection === 'online'", 15_000)

    booth = FakeBooth(switchboard.ws_url, switchboard.booth_tokens["booth-1"])
    try:
        await booth.connect()
        await booth.join_queue("caf")
        await wait_console(page, "c.waiting >= 1")
        await expect(page.locator("#gc-answer-next")).to_be_enabled()
        await tab_to(page, "gc-answer-next")
        await keys.press("Space")
        await wait_console(page, "c.state === 'connecting_call' || c.state === 'in_call'")
        await assert_accessible(page, "console-connecting-call")
        await booth.take_call()
        await wait_console(page, "c.state === 'in_call' && c.channelOpen", CALL_TIMEOUT_MS)
        # The call panel took the focus; the chat is reachable from there.
        assert await focused_id(page) == "gc-call-booth"
        await tab_to(page, "gc-chat-input")
        await keys.type("Bonjour, je vous écoute.")
        await keys.press("Enter")
        async with asyncio.timeout(5):
            while "Bonjour, je vous écoute." not in booth.chats:
                await asyncio.sleep(0.05)
        assert await focused_id(page) == "gc-chat-input"
        await screenshot(page, "console-keyboard-chat")

        # Back to the call controls and hang up.
        await tab_to(page, "gc-hangup", backwards=True)
        await keys.press("Enter")
        ended = await booth.expect("call_ended")
        assert ended["reason"] == "agent_hangup"
        await wait_console(page, "c.state === 'idle' && c.callId === null")
        await expect(page.locator("#gc-notice")).to_contain_text("Appel terminé.")
        await assert_accessible(page, "console-after-call")
        # The notice closes from the keyboard too.
        await tab_to(page, "gc-notice-close", backwards=True)
        await keys.press("Enter")
        await expect(page.locator("#gc-notice")).to_be_hidden()
    finally:
        await booth.close()

    # Sign out by keyboard.
    await tab_to(page, "gc-logout", backwards=True, limit=40)
    await keys.press("Enter")
    await wait_console(page, "c.state === 'signed_out'")

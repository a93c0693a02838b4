"""Fixtures for the agent console tests: headless Chromium and a signed-in agent page."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fixtures.browser import AgentPage, agent_login, launch_chromium, new_agent_page
from fixtures.device_handler import SimDeviceHandler
from fixtures.server import RunningServer
from playwright.async_api import Browser, async_playwright


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian Chromium, headless, fake camera and microphone."""
    async with async_playwright() as pw:
        chromium = await launch_chromium(pw)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def console(browser: Browser, switchboard: RunningServer) -> AsyncIterator[AgentPage]:
    """A fresh console page (not signed in). On teardown: nothing left 127.0.0.1, no JS error."""
    context, page, guard = await new_agent_page(browser, switchboard.base_url)
    try:
        yield AgentPage(page, context, guard)
    finally:
        await context.close()
    assert guard.outside == [], f"requests left 127.0.0.1: {guard.outside}"
    assert guard.requests, "the guard saw no request at all"
    bad = [e for e in guard.console_errors if "pageerror" in e or "Content Security Policy" in e]
    assert not bad, guard.console_errors


@pytest.fixture
async def alice(console: AgentPage, switchboard: RunningServer) -> AgentPage:
    """The console signed in as alice (caf, impots), socket online."""
    await agent_login(
        console.page, switchboard.base_url, "alice", switchboard.agent_passwords["alice"]
    )
    return console


@pytest.fixture
async def handler() -> AsyncIterator[SimDeviceHandler]:
    """The booth's device handler on simulated devices (tests/fixtures/device_handler.py)."""
    h = await SimDeviceHandler().start()
    try:
        yield h
    finally:
        await h.stop()

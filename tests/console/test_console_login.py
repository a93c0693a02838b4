"""Signing in and out of the agent console, with plain French error messages."""

from __future__ import annotations

import pytest
from fixtures.a11y import assert_accessible
from fixtures.browser import (
    AgentPage,
    console_state,
    fill_login,
    open_console,
    screenshot,
    wait_console,
)
from fixtures.server import RunningServer
from playwright.async_api import expect

pytestmark = pytest.mark.browser


async def test_login_errors_are_shown_in_plain_french_then_agent_signs_in_and_out(
    console: AgentPage, switchboard: RunningServer
) -> None:
    page = console.page
    await open_console(page, switchboard.base_url)
    assert await console_state(page, "state") == "signed_out"
    await expect(page.get_by_role("heading", name="Connexion agent")).to_be_visible()
    await screenshot(page, "console-login")
    await assert_accessible(page, "console-login")

    alert = page.get_by_role("alert").filter(has_text="Veuillez")
    await page.get_by_role("button", name="Se connecter").click()
    await expect(alert).to_have_text("Veuillez saisir votre identifiant et votre mot de passe.")

    await fill_login(page, "alice", "not-her-password")
    wrong = page.get_by_text("Identifiant ou mot de passe incorrect.")
    await expect(wrong).to_be_visible()
    # Same words whether or not the user exists.
    await fill_login(page, "nobody", "whatever")
    await expect(wrong).to_be_visible()
    assert await page.get_by_label("Mot de passe").input_value() == ""
    await screenshot(page, "console-login-error")
    await assert_accessible(page, "console-login-error")

    await fill_login(page, "alice", switchboard.agent_passwords["alice"])
    await wait_console(page, "c.state === 'idle' && c.connection === 'online'")
    await expect(page.get_by_text("alice", exact=False).first).to_be_visible()
    assert await console_state(page, "agent") == "alice"

    # The session survives a reload (cookie), and signing out ends it.
    await open_console(page, switchboard.base_url)
    await wait_console(page, "c.state === 'idle'")
    await page.get_by_role("button", name="Se déconnecter").click()
    await wait_console(page, "c.state === 'signed_out'")
    await open_console(page, switchboard.base_url)
    assert await console_state(page, "state") == "signed_out"


async def test_console_is_plain_modules_under_a_strict_csp(
    console: AgentPage, switchboard: RunningServer
) -> None:
    page = console.page
    response = await page.goto(switchboard.base_url + "/console/")
    assert response is not None and response.ok
    html = await response.text()
    assert "<script>" not in html and "style=" not in html  # nothing inline: CSP script-src 'self'
    assert all(
        url.startswith(switchboard.base_url) for url in console.guard.requests if "://" in url
    )
    await page.wait_for_function("() => window.guichetConsole && window.guichetConsole.state")
    # The hook is read-only.
    assert await page.evaluate(
        "() => { try { window.guichetConsole.state = 'x'; } catch (e) {} "
        "return window.guichetConsole.state !== 'x' && Object.isFrozen(window.guichetConsole); }"
    )

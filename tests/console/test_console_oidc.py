"""The console in headless Chromium with a real OpenID Connect provider: an agent signs in
with the provider's button, a supervisor lands on the read-only view, and an expired
session takes the console back to the sign-in page with a message.
Screenshots: test-artifacts/screenshots/console-oidc-*.png, supervisor-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fixtures.browser import (
    LoopbackGuard,
    console_state,
    fill_login,
    new_agent_page,
    open_console,
    screenshot,
    wait_console,
)
from fixtures.clients import booth
from fixtures.oidc_provider import (
    PROVIDER_NAME,
    OidcSite,
    provider_installed,
    start_oidc_site,
)
from fixtures.server import start_switchboard
from playwright.async_api import Browser, Page, expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not provider_installed(), reason="needs npm oidc-provider: run scripts/install.sh"
    ),
]
PROVIDER_FONT_HOST = "fonts.googleapis.com"
"""The provider's development login page imports a web font (not our page): the guard
blocks it, and it is the only outside request tolerated in this file."""


@pytest.fixture
def site(tmp_path: Path) -> Iterator[OidcSite]:
    running = start_oidc_site(tmp_path)
    try:
        yield running
    finally:
        running.stop()


def only_the_provider_font_left(guard: LoopbackGuard) -> None:
    assert all(urlsplit(u).hostname == PROVIDER_FONT_HOST for u in guard.outside), guard.outside


async def sign_in_at_provider(page: Page, login: str) -> None:
    await page.get_by_role("link", name=f"Se connecter avec {PROVIDER_NAME}").click()
    await page.wait_for_url("**/interaction/**")
    await page.locator("input[name=login]").fill(login)
    await page.locator("input[name=password]").fill("any")
    await page.locator("button[type=submit]").click()


async def test_agent_and_supervisor_sign_in_through_the_provider(
    browser: Browser, site: OidcSite
) -> None:
    server = site.server
    context, page, guard = await new_agent_page(browser, server.base_url)
    try:
        await open_console(page, server.base_url)
        button = page.get_by_role("link", name=f"Se connecter avec {PROVIDER_NAME}")
        await expect(button).to_be_visible()
        await expect(page.get_by_label("Identifiant")).to_be_visible()  # local form kept
        await screenshot(page, "console-oidc-login")
        await sign_in_at_provider(page, "amelie")
        await page.wait_for_url(f"{server.base_url}/console/")
        await wait_console(page, "c.state === 'idle' && c.connection === 'online'", 15_000)
        assert await console_state(page, "agent") == "amelie"
        await expect(page.locator("#gc-agent-name")).to_have_text("Amélie Durand")
        await screenshot(page, "console-oidc-agent")
        await page.get_by_role("button", name="Se déconnecter").click()
        await wait_console(page, "c.state === 'signed_out'")
        # An answer from the provider that this browser did not ask for: a French page.
        await page.goto(f"{server.base_url}/api/v1/oidc/callback?state=forged&code=x")
        await expect(page.get_by_role("alert")).to_contain_text("Recommencez la connexion")
        await screenshot(page, "console-oidc-error")
        await page.get_by_role("link", name="Revenir à la page de connexion").click()
        await wait_console(page, "c.state === 'signed_out'")
    finally:
        await context.close()
    only_the_provider_font_left(guard)

    context, page, guard = await new_agent_page(browser, server.base_url)
    citizen = await booth(server, "booth-1")
    try:
        await citizen.send("join_queue", service_id="impots")
        await citizen.next("queued")
        await open_console(page, server.base_url)
        await sign_in_at_provider(page, "sam")
        await page.wait_for_url("**/console/supervisor.html")
        await page.wait_for_function(
            "() => window.guichetSupervisor && window.guichetSupervisor.waiting === 1"
        )
        await expect(page.get_by_role("heading", name="Impôts", exact=False)).to_be_visible()
        await expect(page.get_by_text("Lecture seule", exact=True)).to_be_visible()
        # Read-only: no button to answer anywhere on the page.
        assert await page.get_by_role("button", name="Répondre").count() == 0
        await screenshot(page, "supervisor-view")
        await page.get_by_role("button", name="Se déconnecter").click()
        await page.wait_for_url(f"{server.base_url}/console/")
    finally:
        await citizen.close()
        await context.close()
    only_the_provider_font_left(guard)

    # The admin console offers the same provider to admins and technicians.
    context, page, guard = await new_agent_page(browser, server.base_url)
    try:
        await page.goto(f"{server.base_url}/admin/")
        await expect(page.get_by_role("heading", name="Connexion administration")).to_be_visible()
        await sign_in_at_provider(page, "adeline")
        await page.wait_for_url(f"{server.base_url}/admin/**")
        await expect(page.locator("#ga-who")).to_have_text("Adeline Admin")
        await screenshot(page, "admin-oidc-signed-in")
    finally:
        await context.close()
    only_the_provider_font_left(guard)
    assert not [e for e in guard.console_errors if "pageerror" in e]


async def test_console_says_the_session_expired(browser: Browser, tmp_path: Path) -> None:
    config = tmp_path / "short.toml"
    config.write_text("session_idle_s = 3\n", encoding="utf-8")
    server = start_switchboard(tmp_path, extra_args=["--config", str(config)])
    context, page, guard = await new_agent_page(browser, server.base_url)
    try:
        await open_console(page, server.base_url)
        await fill_login(page, "alice", server.agent_passwords["alice"])
        await wait_console(page, "c.state === 'idle' && c.connection === 'online'")
        # Nothing done for 3 s: the server closes the socket, the console says why.
        await wait_console(page, "c.state === 'signed_out'", 10_000)
        await expect(page.get_by_role("alert")).to_have_text(
            "Votre session a expiré. Reconnectez-vous."
        )
        await screenshot(page, "console-session-expired")
    finally:
        await context.close()
        server.stop()
    assert guard.outside == []

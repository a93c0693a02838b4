"""Every page the product serves, loaded in headless Chromium signed out and signed in:
each request it makes (page.on("request") and WebSockets) goes to the switchboard's own
origin (no CDN, no font, no analytics), and each page carries the security headers
(CSP with frame-ancestors from the settings, nosniff, no referrer, COOP)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fixtures.browser import CHROMIUM_ARGS, CHROMIUM_PATH
from fixtures.oidc_provider import OidcSite, provider_installed, start_oidc_site
from playwright.async_api import BrowserContext, Page, Route, async_playwright

from switchboard import auth
from switchboard.auth import StaffRole
from switchboard.db import Database

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not provider_installed(), reason="needs npm oidc-provider: run scripts/install.sh"
    ),
]
PORTAL = "https://portail.example.fr"
"""A portal allowed to embed the console (``frame_ancestors`` in the settings)."""


@pytest.fixture
def site(tmp_path: Path) -> Iterator[OidcSite]:
    running = start_oidc_site(
        tmp_path, settings_extra=f'frame_ancestors = ["\'self\'", "{PORTAL}"]'
    )
    db = Database(f"sqlite:///{running.server.data_dir / 'guichet.sqlite3'}")
    try:
        auth.add_staff(db, "ada", "ada-pw", StaffRole.ADMIN, "Ada")
        auth.add_agent(db, "sue", "sue-pw", ["caf"], "Sue Superviseure", role="supervisor")
    finally:
        db.close()
    try:
        yield running
    finally:
        running.stop()


class Recorder:
    """Every URL a context asks for; anything off the origin is recorded and aborted."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.urls: list[str] = []

    def _origin_of(self, url: str) -> str:
        parts = urlsplit(url)
        scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
        return f"{scheme}://{parts.netloc}"

    def off_origin(self) -> list[str]:
        return [
            u
            for u in self.urls
            if not u.startswith(("data:", "blob:")) and self._origin_of(u) != self.origin
        ]

    async def _route(self, route: Route) -> None:
        if self._origin_of(route.request.url) == self.origin:
            await route.continue_()
        else:
            await route.abort("blockedbyclient")

    async def attach(self, context: BrowserContext) -> None:
        await context.route("**/*", self._route)

    def watch(self, page: Page) -> None:
        page.on("request", lambda request: self.urls.append(request.url))
        page.on("websocket", lambda ws: self.urls.append(ws.url))


async def test_every_page_stays_on_its_origin_and_sends_security_headers(site: OidcSite) -> None:
    base = site.server.base_url
    pages: list[tuple[str, str | None, str, str]] = [
        # (who, how to sign in, path, selector that shows the page is ready)
        ("nobody", None, "/console/", "#gc-oidc-link"),
        ("nobody", None, "/console/supervisor.html", "#gc-signed-out"),
        ("nobody", None, "/admin/", "#ga-login"),
        ("nobody", None, "/docs", "table"),
        ("nobody", None, "/api/v1/oidc/callback?state=x&code=y", "#gc-oidc-error"),
        ("agent", "/api/v1/agent/login", "/console/", "#gc-desk"),
        ("supervisor", "/api/v1/agent/login", "/console/supervisor.html", "#gc-desk"),
        ("admin", "/api/v1/admin/login", "/admin/", "#ga-header-tools"),
    ]
    accounts = {
        "agent": ("alice", "alice-pw"),
        "supervisor": ("sue", "sue-pw"),
        "admin": ("ada", "ada-pw"),
    }
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS)
        try:
            for who, login_path, path, ready in pages:
                context = await browser.new_context(
                    permissions=["camera", "microphone"], locale="fr-FR"
                )
                recorder = Recorder(base)
                await recorder.attach(context)
                if login_path is not None:
                    username, password = accounts[who]
                    answer = await context.request.post(
                        base + login_path, data={"username": username, "password": password}
                    )
                    assert answer.ok, (who, answer.status)
                page = await context.new_page()
                recorder.watch(page)
                response = await page.goto(base + path)
                assert response is not None
                await page.locator(ready).first.wait_for(state="visible", timeout=15_000)
                await page.wait_for_load_state("networkidle")
                if who == "agent":  # the desk opens its WebSocket
                    await page.wait_for_function(
                        "() => window.guichetConsole.connection === 'online'"
                    )
                where = f"{path} as {who}"
                assert recorder.urls, where
                assert recorder.off_origin() == [], where
                headers = response.headers
                csp = headers["content-security-policy"]
                assert f"frame-ancestors 'self' {PORTAL}" in csp, where
                assert "default-src 'self'" in csp and "script-src 'self'" in csp, where
                assert headers["x-content-type-options"] == "nosniff", where
                assert headers["referrer-policy"] == "no-referrer", where
                assert headers["cross-origin-opener-policy"] == "same-origin", where
                await context.close()

            # Control: the recorder does see a page that reaches out. The provider's own
            # development login page imports a web font from a third party.
            context = await browser.new_context()
            recorder = Recorder(base)
            await recorder.attach(context)
            page = await context.new_page()
            recorder.watch(page)
            await page.goto(base + "/api/v1/oidc/login")
            await page.locator("input[name=login]").wait_for()
            hosts = {urlsplit(u).hostname for u in recorder.off_origin()}
            assert "fonts.googleapis.com" in hosts, recorder.urls
            await context.close()
        finally:
            await browser.close()

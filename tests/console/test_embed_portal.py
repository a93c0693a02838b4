"""The embed SDK end to end: an "existing portal" on another origin embeds the
console with ``<guichet-agent>``-style code (switchboard/embed/exemple/), drives
a whole call from its own buttons and files the scan in its case file.

The portal is served by a plain HTTP server on another 127.0.0.1 port (another
origin, as a real portal is); the booth is the aiortc ``FakeBooth`` with the
booth's real device router on simulated devices (tests/fixtures/device_handler.py).
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from console_booth import FakeBooth
from fixtures.a11y import assert_accessible
from fixtures.browser import new_agent_page, screenshot
from fixtures.device_handler import SimDeviceHandler
from fixtures.server import REPO, RunningServer, free_port, start_switchboard
from playwright.async_api import Browser, Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

PORTAL_DIR = REPO / "switchboard" / "embed" / "exemple"
TIMEOUT_MS = 15_000


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *_args: object) -> None:
        pass


@contextlib.contextmanager
def serve(directory: Path, port: int) -> Iterator[str]:
    """Serve ``directory`` on 127.0.0.1:``port`` (another origin than the switchboard)."""
    handler = functools.partial(_Quiet, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[tuple[RunningServer, str]]:
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    settings = tmp_path / "settings.toml"
    settings.write_text(f'embed_origins = ["{origin}"]\n', encoding="utf-8")
    server = start_switchboard(tmp_path, extra_args=["--config", str(settings)])
    try:
        with serve(PORTAL_DIR, port) as served:
            yield server, served
    finally:
        server.stop()


async def _console_frame_ready(page: Page) -> None:
    await page.wait_for_function(
        "() => window.portal && document.querySelector('#pt-agent iframe')", timeout=TIMEOUT_MS
    )


async def test_a_portal_drives_a_call_through_the_embedded_console(
    browser: Browser, portal: tuple[RunningServer, str], handler: SimDeviceHandler
) -> None:
    server, portal_url = portal
    context, page, guard = await new_agent_page(
        browser, portal_url, viewport={"width": 1440, "height": 1000}
    )
    booth = FakeBooth(server.ws_url, server.booth_tokens["booth-1"], device_handler=handler)
    try:
        await page.goto(f"{portal_url}/index.html?guichet={server.base_url}")
        await _console_frame_ready(page)
        frame = page.frame_locator("#pt-agent iframe")
        await expect(page.locator("#pt-status")).to_contain_text(
            "Console prête", timeout=TIMEOUT_MS
        )
        # The agent signs in inside the frame: the portal never sees the password.
        await frame.get_by_label("Identifiant").fill("alice")
        await frame.get_by_label("Mot de passe").fill(server.agent_passwords["alice"])
        await frame.get_by_role("button", name="Se connecter").click()
        await expect(page.locator("#pt-status")).to_have_text(
            "Connecté (alice)", timeout=TIMEOUT_MS
        )

        await booth.connect()
        await booth.join_queue("caf")
        await expect(page.locator("#pt-waiting")).to_have_text("1", timeout=TIMEOUT_MS)
        await page.get_by_role("button", name="Répondre à l'usager suivant").click()
        await booth.take_call()
        await expect(page.locator("#pt-call")).to_contain_text("booth-1", timeout=TIMEOUT_MS)
        await expect(page.get_by_role("button", name="Raccrocher")).to_be_enabled()
        inner = page.frames[1]
        await inner.wait_for_function(
            "() => window.guichetConsole.state === 'in_call' && window.guichetConsole.channelOpen",
            timeout=TIMEOUT_MS,
        )

        await page.get_by_role("button", name="Envoyer « Bonjour »").click()
        await expect(page.locator("#pt-log")).to_contain_text("Message envoyé")
        booth.send_chat("Merci, voici ma question.")
        await expect(page.locator("#pt-log")).to_contain_text("L'usager écrit : Merci")

        await page.get_by_role("button", name="Imprimer l'attestation").click()
        await expect(page.locator("#pt-log")).to_contain_text(
            "impression terminée", timeout=TIMEOUT_MS
        )
        [(title, pdf)] = handler.printed_pdfs
        assert pdf.startswith(b"%PDF-1.4") and b"Attestation de paiement" in pdf
        assert title == "attestation-2026-0147"

        await page.get_by_role("button", name="Demander un justificatif (scan)").click()
        await expect(page.locator("#pt-docs img")).to_have_count(1, timeout=TIMEOUT_MS)
        docs = await page.evaluate("() => window.portal.documents")
        assert docs[0]["mime"].startswith("image/") and docs[0]["size"] > 1000
        assert docs[0]["dpi"] == 300

        await page.get_by_role("button", name="Lire la carte").click()
        await expect(page.locator("#pt-log")).to_contain_text(
            "lecture de carte terminée", timeout=TIMEOUT_MS
        )

        # A window that is not the portal (a sibling frame of the same origin) is ignored.
        forged = "{guichet: 1, type: 'hangup', id: 'x'}"
        await page.evaluate(
            """(forged) => {
              const f = document.createElement('iframe');
              f.srcdoc = `<script>parent.frames[0].postMessage(${forged}, '*')<\\/script>`;
              document.body.append(f);
            }""",
            forged,
        )
        await inner.wait_for_function("() => window.guichetConsole.embed.rejected >= 1")
        assert await inner.evaluate("() => window.guichetConsole.state") == "in_call"
        assert await inner.evaluate("() => window.guichetConsole.embed.parent") == portal_url
        await screenshot(page, "embed-portal-in-call")
        # The portal page is the integrator's; the console inside it is ours.
        await assert_accessible(inner, "embed-console-in-call")

        # A cut line: the portal hears of it, and of the booth coming back.
        booth.send_heartbeats = False
        await expect(page.locator("#pt-log")).to_contain_text(
            "Liaison perdue avec la borne", timeout=TIMEOUT_MS
        )
        await booth.reconnect()
        await expect(page.locator("#pt-log")).to_contain_text(
            "Liaison rétablie avec la borne", timeout=TIMEOUT_MS
        )
        assert await inner.evaluate("() => window.guichetConsole.state") == "in_call"

        await page.get_by_role("button", name="Raccrocher").click()
        await booth.expect("call_ended")
        await expect(page.locator("#pt-call")).to_have_text("Aucun", timeout=TIMEOUT_MS)
        events = [e["type"] for e in await page.evaluate("() => window.portal.events")]
        assert (
            events.index("call_started")
            < events.index("document_received")
            < events.index("call_reconnecting")
            < events.index("call_reconnected")
            < events.index("call_ended")
        )
        await screenshot(page, "embed-portal-after-call")
        await assert_accessible(inner, "embed-console-after-call")
    finally:
        await booth.close()
        await context.close()
    assert guard.outside == []
    bad = [e for e in guard.console_errors if "pageerror" in e]
    assert not bad, guard.console_errors


async def test_a_page_not_listed_in_embed_origins_cannot_frame_the_console(
    browser: Browser, portal: tuple[RunningServer, str]
) -> None:
    server, _allowed = portal
    with serve(PORTAL_DIR, free_port()) as rogue:
        context, page, guard = await new_agent_page(browser, rogue)
        try:
            await page.goto(f"{rogue}/index.html?guichet={server.base_url}")
            await _console_frame_ready(page)
            await page.wait_for_timeout(2000)
            # CSP frame-ancestors: Chromium refuses to render the console in the frame,
            # so it never answers the portal's hello.
            assert await page.evaluate("() => window.portal.agent.ready") is False
            assert await page.locator("#pt-status").text_content() == "Connexion à la console…"
        finally:
            await context.close()
    assert any("frame-ancestors" in e for e in guard.console_errors), guard.console_errors

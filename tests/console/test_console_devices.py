"""The "Périphériques" panel: print a PDF and a receipt, read a card and a code, scan.

The booth is the aiortc ``FakeBooth`` running the booth's real router
(``kiosk.call.device_channel.DeviceChannel``) with ``SimDeviceHandler``: real
card-reader, barcode and ESC/POS drivers on pty simulators; PDFs recorded, scans
drawn in memory (see tests/fixtures/device_handler.py for why).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from console_booth import FakeBooth
from fixtures.a11y import assert_accessible
from fixtures.browser import AgentPage, screenshot, wait_console
from fixtures.device_handler import SimDeviceHandler
from fixtures.server import RunningServer
from playwright.async_api import Page, expect

from kiosk.devices.sim.escpos_printer import PrinterState

pytestmark = pytest.mark.browser

CALL_TIMEOUT_MS = 15_000
DEVICE_TIMEOUT_MS = 10_000


def _small_pdf() -> bytes:
    """A one-page PDF padded past two 16 KiB chunks, so the transfer really is chunked."""
    body = (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
        b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >> endobj\n"
    )
    padding = b"% " + bytes(range(32, 127)) * 400 + b"\n"
    return body + padding + b"trailer << /Root 1 0 R >>\n%%EOF\n"


async def _in_call(page: Page, booth: FakeBooth) -> None:
    await booth.connect()
    await booth.join_queue("caf")
    await wait_console(page, "c.waiting >= 1")
    await page.get_by_role("button", name="Répondre au suivant", exact=True).click()
    await booth.take_call()
    await wait_console(page, "c.state === 'in_call' && c.channelOpen", CALL_TIMEOUT_MS)


async def _wait_request(page: Page, kind: str, status: str) -> None:
    await wait_console(
        page,
        f"c.devices.some(r => r.kind === {kind!r} && r.status === {status!r})",
        DEVICE_TIMEOUT_MS,
    )


async def test_agent_prints_reads_and_scans_through_the_booth(
    alice: AgentPage, switchboard: RunningServer, handler: SimDeviceHandler, tmp_path: Path
) -> None:
    page = alice.page
    booth = FakeBooth(
        switchboard.ws_url, switchboard.booth_tokens["booth-1"], device_handler=handler
    )
    try:
        await _in_call(page, booth)
        panel = page.get_by_role("region", name="Périphériques")
        await expect(panel).to_be_visible()
        await expect(page.get_by_role("button", name="Demander la carte")).to_be_enabled()

        # A PDF: chunked, sha256-checked at the booth, printed with the same bytes.
        pdf = _small_pdf()
        path = tmp_path / "attestation-caf.pdf"
        path.write_bytes(pdf)
        await page.get_by_label("Document PDF (A4)").set_input_files(str(path))
        await page.get_by_role("button", name="Imprimer un PDF").click()
        await _wait_request(page, "print_pdf", "done")
        assert [(t, hashlib.sha256(b).hexdigest()) for t, b in handler.printed_pdfs] == [
            ("attestation-caf", hashlib.sha256(pdf).hexdigest())
        ]
        assert booth.device_messages.count("transfer_chunk") == 3
        log = page.locator("#gc-dev-log")
        await expect(log).to_contain_text("Impression de « attestation-caf.pdf »")
        await expect(log).to_contain_text("1 page imprimée.")

        # A card and a code: the citizen consents, the real drivers read them.
        await page.get_by_role("button", name="Demander la carte").click()
        await page.get_by_role("button", name="Demander un code").click()
        await _wait_request(page, "read_card", "done")
        await _wait_request(page, "read_code", "done")
        await expect(log).to_contain_text("ISO14443A")
        await expect(log).to_contain_text("04A1B2C3D4E5F6")
        await expect(log).to_contain_text("CONVOC-2026-000123")

        # A receipt with a QR code, on the ESC/POS simulator.
        await page.get_by_label("Titre du reçu").fill("Rendez-vous CAF")
        await page.get_by_label("Texte du reçu").fill("Mardi 3 mars à 10 h\nGuichet 2")
        await page.get_by_label("QR code (facultatif)").fill("https://rdv.caf.example/42")
        await page.get_by_role("button", name="Imprimer un reçu").click()
        await _wait_request(page, "print_receipt", "done")
        assert "Guichet 2" in "\n".join(handler.printer_sim.printed.lines)
        assert handler.printer_sim.printed.qr_payloads == ["https://rdv.caf.example/42"]

        # A scan: the agent's resolution and colour reach the booth; the image
        # comes back, is shown, and can be downloaded.
        await page.get_by_label("Résolution").select_option("300")
        await page.get_by_label("Couleurs").select_option("gray")
        await page.get_by_role("button", name="Demander un scan").click()
        await _wait_request(page, "scan", "done")
        assert handler.scan_options == [(300, False)]
        image = log.locator("img.gc-dev-scan")
        await expect(image).to_be_visible()
        await expect(image).to_have_attribute("alt", "Document numérisé (620 × 877 pixels)")
        width = await image.evaluate("img => img.naturalWidth")
        assert width == 620
        async with page.expect_download() as info:
            await page.get_by_role("link", name="Télécharger le document numérisé").click()
        download = await info.value
        saved = tmp_path / "scan.png"
        await download.save_as(saved)
        assert saved.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert download.suggested_filename.endswith(".png")
        await screenshot(page, "console-devices-results")
        await assert_accessible(page, "console-devices-results")
        await page.locator("#gc-devices").screenshot(
            path=str(
                Path(__file__).resolve().parents[2]
                / "test-artifacts"
                / "screenshots"
                / "console-devices-panel.png"
            )
        )

        # A failing device: the plain French reason reaches the agent.
        handler.printer_sim.state = PrinterState.PAPER_OUT
        await page.get_by_label("Titre du reçu").fill("Reçu")
        await page.get_by_role("button", name="Imprimer un reçu").click()
        await _wait_request(page, "print_receipt", "failed")
        failed = log.locator(".gc-dev-item[data-status='failed']")
        await expect(failed).to_contain_text("Impression impossible : plus de papier.")
        handler.consent = False
        await page.get_by_role("button", name="Demander la carte").click()
        await _wait_request(page, "read_card", "refused")
        refused = log.locator(".gc-dev-item").first
        await expect(refused).to_contain_text("Le citoyen a refusé la demande.")
        await expect(refused).to_contain_text("Refusée par le citoyen")
        await screenshot(page, "console-devices-errors")
        await assert_accessible(page, "console-devices-errors")

        # The end of the call wipes everything: list, images, blob URLs.
        blob_url = await image.get_attribute("src") if await image.count() else None
        await page.get_by_role("button", name="Raccrocher").click()
        await booth.expect("call_ended")
        await wait_console(page, "c.state === 'idle' && c.devices.length === 0")
        await expect(log.locator("li")).to_have_count(0)
        if blob_url:
            # An <img> (img-src allows blob:; fetch would break connect-src 'self').
            still = await page.evaluate(
                "(u) => new Promise(r => { const i = new Image();"
                " i.onload = () => r(true); i.onerror = () => r(false); i.src = u; })",
                blob_url,
            )
            assert still is False, "the scan's blob URL outlived the call"
    finally:
        await booth.close()


async def test_a_file_that_is_not_a_pdf_is_refused_in_the_console(
    alice: AgentPage, switchboard: RunningServer, handler: SimDeviceHandler, tmp_path: Path
) -> None:
    page = alice.page
    booth = FakeBooth(
        switchboard.ws_url, switchboard.booth_tokens["booth-1"], device_handler=handler
    )
    try:
        await _in_call(page, booth)
        fake = tmp_path / "photo.pdf"
        fake.write_bytes(b"\x89PNG not a pdf")
        await page.get_by_label("Document PDF (A4)").set_input_files(str(fake))
        await page.get_by_role("button", name="Imprimer un PDF").click()
        await expect(page.locator("#gc-dev-error")).to_have_text("Ce fichier n'est pas un PDF.")
        assert await page.evaluate("() => window.guichetConsole.devices.length") == 0
        assert handler.printed_pdfs == []
    finally:
        await booth.close()


async def test_console_assembler_refuses_damaged_transfers(alice: AgentPage) -> None:
    """The console's TransferAssembler against messages built by guichet/transfer.py."""
    import base64
    import json

    from guichet import wire
    from guichet.transfer import transfer_messages

    data = bytes(range(256)) * 300  # 76 800 bytes: 5 chunks
    good = [json.loads(wire.dump(m)) for m in transfer_messages("t1", data, mime="image/png")]
    flipped = [dict(m) for m in good]
    raw = bytearray(base64.b64decode(flipped[2]["data"]))
    raw[10] ^= 1
    flipped[2]["data"] = base64.b64encode(bytes(raw)).decode()
    dropped = good[:2] + good[3:]
    duplicated = good[:3] + good[2:]
    too_big = [{**good[0], "size": 21 * 1024 * 1024, "chunks": 21 * 64}]
    results = await alice.page.evaluate(
        """async (cases) => {
          const { TransferAssembler } = await import('/console/transfer.js');
          const out = {};
          for (const [name, msgs] of Object.entries(cases)) {
            const asm = new TransferAssembler();
            const seen = [];
            for (const m of msgs) {
              const r = await asm.feed(m);
              if (r) seen.push(r.done ? 'done:' + r.bytes.length : r.code);
            }
            out[name] = { seen, held: asm.held };
          }
          return out;
        }""",
        {
            "good": good,
            "flipped": flipped,
            "dropped": dropped,
            "duplicated": duplicated,
            "too_big": too_big,
        },
    )
    assert results["good"] == {"seen": [f"done:{len(data)}"], "held": 1}
    assert results["flipped"]["seen"] == ["checksum"]
    assert results["dropped"]["seen"] == ["missing_chunks"]
    assert results["duplicated"]["seen"][0] == "duplicate_chunk"
    assert "done" not in "".join(results["duplicated"]["seen"])
    assert results["too_big"]["seen"] == ["too_large"]
    assert all(r["held"] == 0 for name, r in results.items() if name != "good")

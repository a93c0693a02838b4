"""End to end: a citizen at the real booth and an agent in Chromium, through the real switchboard.

The booth runs in its own process (Kivy under Xvfb, aiortc, fake camera and tone,
touches on its real widgets); the agent console runs in headless Debian Chromium
with a fake camera, driven by Playwright; the switchboard is the real server on
127.0.0.1. Nothing is mocked. In the devices story the booth's peripherals are real
parts too: a private cupsd with a CUPS-PDF queue, SANE's ``test`` backend, and the
pty simulators of the ESC/POS receipt printer and the serial card reader.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import numpy as np
import pytest
from fixtures.browser import (
    SCREENSHOT_DIR,
    agent_login,
    console_state,
    console_stats,
    launch_chromium,
    new_agent_page,
    screenshot,
    wait_console,
)
from fixtures.peripherals import (
    A4_PAGE_SIZE,
    SANE_DEVICE,
    a4_pdf,
    wait_new_pdf,
    write_sane_config,
)
from fixtures.server import RunningServer
from kivy_harness import run_scenario
from PIL import Image
from playwright.async_api import Page, async_playwright, expect
from story_steps import (
    STEP_TIMEOUT_S,
    audit_entries,
    audit_verdict,
    wait_request,
    wait_step,
)

from kiosk.devices.scanner_options import A4_HEIGHT_MM, A4_WIDTH_MM, expected_pixels
from kiosk.devices.sim.cups_pdf import PDF_QUEUE, CupsServer

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.kivy]

AGENT_SAYS = "Bonjour, je vous écoute."
CITIZEN_SAYS = "Je viens pour mon allocation."


async def _frames_decoded_growing(page: Page) -> dict[str, float]:
    first = await console_stats(page)
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        now = await console_stats(page)
        if now["framesDecoded"] > first["framesDecoded"] + 10 and now["frameWidth"]:
            return now
    raise AssertionError(f"framesDecoded not growing: {first} -> {await console_stats(page)}")


async def test_citizen_and_agent_call_chat_and_hang_up_from_either_side(
    switchboard: RunningServer, tmp_path: Path
) -> None:
    token_file = tmp_path / "booth.token"
    token_file.write_text(switchboard.booth_tokens["booth-1"] + "\n")
    os.chmod(token_file, 0o600)
    progress = tmp_path / "progress.jsonl"
    alsa_home = tmp_path / "alsa"
    alsa_home.mkdir()
    played = tmp_path / "played.raw"
    (alsa_home / ".asoundrc").write_text(
        'pcm.booth_speaker {\n  type file\n  slave.pcm "null"\n'
        f'  file "{played}"\n  format "raw"\n}}\n'
    )
    go_hangup = tmp_path / "go-hangup"
    ctx = {
        "server_url": switchboard.base_url,
        "token_file": str(token_file),
        "progress": str(progress),
        "go_hangup": str(go_hangup),
        "agent_says": AGENT_SAYS,
        "citizen_says": CITIZEN_SAYS,
        "alsa_home": str(alsa_home),
    }
    booth = asyncio.create_task(
        asyncio.to_thread(run_scenario, "e2e.booth_story:citizen_story", ctx, 300.0)
    )
    try:
        async with async_playwright() as pw:
            browser = await launch_chromium(pw)
            context, page, guard = await new_agent_page(browser, switchboard.base_url)
            await agent_login(page, switchboard.base_url, "alice", "alice-pw")

            # The booth shows position 1; the console shows the citizen waiting.
            queued = await wait_step(progress, "queued", booth)
            assert queued["position"] == 1
            await wait_console(page, "c.waiting === 1", 20_000)
            await screenshot(page, "e2e-console-queue")

            # The agent answers: video both ways at the booth's resolution.
            await page.locator("#gc-answer-next").click()
            await wait_console(page, "c.state === 'in_call' && c.channelOpen", 30_000)
            stats = await _frames_decoded_growing(page)
            assert (stats["frameWidth"], stats["frameHeight"]) == (640, 480)
            media = await wait_step(progress, "media_1", booth)
            assert media["frames"] >= 30
            assert media["size"] is not None and media["size"][0] > 0

            # Chat both ways over the data channel.
            await page.locator("#gc-chat-input").fill(AGENT_SAYS)
            await page.locator("#gc-chat-send").click()
            await wait_step(progress, "chatted", booth)
            await page.locator("#gc-chat-log").get_by_text(CITIZEN_SAYS).wait_for(timeout=20_000)
            await screenshot(page, "e2e-console-call")

            # The citizen hangs up: the console says so; the queue is empty.
            go_hangup.touch()
            await wait_console(page, "c.state === 'idle' && c.lastCallEnd === 'booth_hangup'")
            assert await console_state(page, "waiting") == 0
            await screenshot(page, "e2e-console-citizen-left")
            await wait_step(progress, "back_to_welcome_1", booth)

            # Second citizen: the agent answers and hangs up this time.
            await wait_console(page, "c.waiting === 1", 30_000)
            await page.locator("#gc-answer-next").click()
            await wait_console(page, "c.state === 'in_call' && c.channelOpen", 30_000)
            await _frames_decoded_growing(page)
            await wait_step(progress, "media_2", booth)
            await page.locator("#gc-hangup").click()
            await wait_console(page, "c.state === 'idle'")
            await wait_step(progress, "back_to_welcome_2", booth)
            assert await console_state(page, "waiting") == 0

            assert guard.outside == [], f"requests left 127.0.0.1: {guard.outside}"
            await context.close()
            await browser.close()
        await booth
        # The citizen heard the agent: Chromium's fake microphone (beeps) reached the
        # booth's loudspeaker, 48 kHz stereo s16.
        pcm = np.frombuffer(played.read_bytes(), dtype=np.int16)
        assert len(pcm) >= 48_000 * 2, f"only {len(pcm)} samples played"
        assert int(np.abs(pcm).max()) > 1000
    finally:
        if not booth.done():
            # The scenario process ends on its own timeout; don't leave it behind.
            await asyncio.wait([booth], timeout=5)


CARD_UID = "04A1B2C3D4E5F6"
CARD_TYPE = "ISO14443A"
RECEIPT_QR = "https://rdv.caf.example/42"
BOOTH_SCAN_DPI = 150
"""The booth's own ``[devices.scanner] dpi``; the agent asks for 300 (see the scan step)."""


async def test_agent_prints_reads_the_card_and_scans_on_the_real_booth_peripherals(
    switchboard: RunningServer, cups: CupsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # libsane reads SANE_CONFIG_DIR once per process: the booth's process gets it at birth.
    monkeypatch.setenv("SANE_CONFIG_DIR", str(write_sane_config(tmp_path / "sane")))
    token_file = tmp_path / "booth.token"
    token_file.write_text(switchboard.booth_tokens["booth-1"] + "\n")
    os.chmod(token_file, 0o600)
    progress = tmp_path / "progress.jsonl"
    ctx = {
        "server_url": switchboard.base_url,
        "token_file": str(token_file),
        "progress": str(progress),
        "cups_queue": PDF_QUEUE,
        "cups_server": cups.server,
        "sane_device": SANE_DEVICE,
        "booth_scan_dpi": BOOTH_SCAN_DPI,
        "card_uid": CARD_UID,
        "card_type": CARD_TYPE,
    }
    booth = asyncio.create_task(
        asyncio.to_thread(run_scenario, "e2e.booth_story:devices_story", ctx, 240.0)
    )
    try:
        async with async_playwright() as pw:
            browser = await launch_chromium(pw)
            context, page, guard = await new_agent_page(browser, switchboard.base_url)
            await agent_login(page, switchboard.base_url, "alice", "alice-pw")
            await wait_step(progress, "queued", booth)
            await wait_console(page, "c.waiting === 1", 30_000)
            await page.locator("#gc-answer-next").click()
            await wait_console(page, "c.state === 'in_call' && c.channelOpen", 30_000)
            await wait_step(progress, "in_call", booth)
            log = page.locator("#gc-dev-log")

            # A one-page PDF goes through CUPS and comes out of CUPS-PDF as one A4 page.
            before = set(cups.pdf_out.glob("*.pdf"))
            upload = tmp_path / "attestation-caf.pdf"
            upload.write_bytes(a4_pdf())
            await page.get_by_label("Document PDF (A4)").set_input_files(str(upload))
            await page.get_by_role("button", name="Imprimer un PDF").click()
            await wait_request(page, "print_pdf")
            await expect(log).to_contain_text("1 page imprimée.")
            _, info, _ = await asyncio.to_thread(wait_new_pdf, cups.pdf_out, before)
            assert info["Pages"] == "1"
            assert info["Page size"].startswith(A4_PAGE_SIZE), info["Page size"]
            assert "A4" in info["Page size"]
            await wait_step(progress, "printed", booth)

            # A receipt with a QR code comes out of the ESC/POS simulator, cut.
            await page.get_by_label("Titre du reçu").fill("Rendez-vous CAF")
            await page.get_by_label("Texte du reçu").fill("Mardi 3 mars à 10 h\nGuichet 2")
            await page.get_by_label("QR code (facultatif)").fill(RECEIPT_QR)
            await page.get_by_role("button", name="Imprimer un reçu").click()
            await wait_request(page, "print_receipt")
            receipt = await wait_step(progress, "receipt", booth)
            assert receipt["qr"] == [RECEIPT_QR]
            assert "Guichet 2" in receipt["lines"]
            assert receipt["cuts"] >= 1

            # The card: the citizen agrees on the booth and lays it on the reader.
            await page.get_by_role("button", name="Demander la carte").click()
            await wait_request(page, "read_card")
            await expect(log).to_contain_text(CARD_TYPE)
            await expect(log).to_contain_text(CARD_UID)
            await wait_step(progress, "card_read", booth)
            await screenshot(page, "e2e-console-card-read")

            # A 300 dpi colour scan from SANE's test backend, agreed to on the booth.
            await page.locator("#gc-dev-scan-dpi").select_option("300")
            await page.locator("#gc-dev-scan-colour").select_option("colour")
            await page.locator("#gc-dev-scan").click()
            await wait_request(page, "scan")
            image = log.locator("img.gc-dev-scan")
            await expect(image).to_be_visible()
            natural = await image.evaluate("img => [img.naturalWidth, img.naturalHeight]")
            assert natural[0] > 0 and natural[1] > 0
            async with page.expect_download() as download_info:
                await page.get_by_role("link", name="Télécharger le document numérisé").click()
            download = await download_info.value
            saved = tmp_path / download.suggested_filename
            await download.save_as(saved)
            with Image.open(saved) as scanned:
                assert scanned.format in ("PNG", "JPEG")
                assert list(scanned.size) == natural
                assert scanned.mode == "RGB"
                dpi = round(scanned.info["dpi"][0]) if "dpi" in scanned.info else None
            # The agent's 300 dpi wins over the booth's own 150: a whole A4 page at 300 dpi.
            assert dpi == 300, dpi
            assert natural == [
                expected_pixels(A4_WIDTH_MM, 300),
                expected_pixels(A4_HEIGHT_MM, 300),
            ]
            await expect(log).to_contain_text(f"{dpi} ppp")
            await wait_step(progress, "scanned", booth)
            await screenshot(page, "e2e-console-devices")
            await page.locator("#gc-devices").screenshot(
                path=str(SCREENSHOT_DIR / "e2e-console-devices-panel.png")
            )

            # The agent hangs up: the console forgets the results, the booth its work.
            await page.locator("#gc-hangup").click()
            await wait_console(page, "c.state === 'idle' && c.devices.length === 0", 20_000)
            await wait_step(progress, "done", booth)
            assert guard.outside == [], f"requests left 127.0.0.1: {guard.outside}"
            await context.close()
            await browser.close()
        await booth
        # The server's audit trail framed all of it, without the citizen's card: each
        # piece of device work twice, as the booth did it and as the console saw it.
        db_file = switchboard.data_dir / "guichet.sqlite3"
        entries = await asyncio.to_thread(audit_entries, db_file, "call.ended")
        calls = [(e.actor, e.action) for e in entries if e.action.startswith("call.")]
        assert calls == [("alice", "call.answered"), ("alice", "call.ended")]
        work = [
            ("alice", "device.print_pdf"),
            ("alice", "device.print_receipt"),
            ("alice", "device.read_card"),
            ("alice", "device.scan"),
        ]
        for source in ("booth", "console"):
            said = [e for e in entries if e.details["after"].get("reported_by") == source]
            assert [(e.actor, e.action) for e in said] == work, source
            assert said[0].details["after"]["pages"] == 1
            assert {e.details["after"]["outcome"] for e in said} == {"done"}
        assert len({e.target for e in entries}) == 1
        assert CARD_UID not in repr([e.to_json() for e in entries])
        verdict = await asyncio.to_thread(audit_verdict, db_file)
        assert verdict is None
    finally:
        if not booth.done():
            await asyncio.wait([booth], timeout=5)

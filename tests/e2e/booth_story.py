"""The citizen's half of the end-to-end story, run in its own process by the harness.

The real booth app (Kivy, aiortc, fake camera and tone) is driven by touches on
its real widgets. It talks to the real switchboard; the agent's half runs in
headless Chromium in the test process. The two halves meet only through the
product itself: the booth waits for what the agent does to show on its screen.
Milestones are written to ``ctx["progress"]`` so the test can follow along.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from kivy_harness import BoothHarness, harness_settings

CALL_TIMEOUT_S = 30.0
MIN_FRAMES = 30


def _mark(ctx: dict[str, Any], step: str, **data: Any) -> None:
    with Path(ctx["progress"]).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"step": step, "at": time.time(), **data}) + "\n")


async def _join(booth: BoothHarness, ctx: dict[str, Any], shots: bool) -> None:
    await booth.wait_screen("welcome", timeout=CALL_TIMEOUT_S)
    if shots:
        booth.screenshot("e2e-booth-welcome")
    await booth.tap("start_button")
    await booth.wait_screen("choose")
    await booth.wait_for(lambda: booth.find("service_caf"), what="catalogue shown")
    if shots:
        booth.screenshot("e2e-booth-choose")
    await booth.tap("service_caf")
    if shots:
        # The agent answers only after this step is marked, so the screen is stable.
        await booth.wait_screen("waiting")
        await booth.wait_text("Vous êtes la prochaine personne")
        booth.screenshot("e2e-booth-waiting")
        _mark(ctx, "queued", position=booth.controller.data.position)


async def _in_call(booth: BoothHarness, ctx: dict[str, Any], step: str) -> None:
    await booth.wait_screen("call", timeout=CALL_TIMEOUT_S)
    await booth.wait_for(
        lambda: booth.controller.frames_received >= MIN_FRAMES,
        timeout=CALL_TIMEOUT_S,
        what=f"{MIN_FRAMES} frames from the agent's browser",
    )
    peer = booth.controller.in_call_peer
    _mark(
        ctx,
        step,
        frames=booth.controller.frames_received,
        size=list(peer.remote_frame_size) if peer and peer.remote_frame_size else None,
    )


async def citizen_story(ctx: dict[str, Any]) -> None:
    """Two calls: the citizen hangs up the first, the agent the second."""
    # alsa-lib reads ~/.asoundrc when the speaker first opens: the test's one sends
    # what the booth plays to a file (no sound card here).
    os.environ["HOME"] = ctx["alsa_home"]
    settings = harness_settings(
        {
            "server_url": ctx["server_url"],
            "token_file": ctx["token_file"],
            "goodbye_s": 2.0,
            "speaker": "booth_speaker",
        }
    )
    async with BoothHarness(settings) as booth:
        # First call: chat both ways, the citizen hangs up.
        await _join(booth, ctx, shots=True)
        await _in_call(booth, ctx, "media_1")
        await booth.wait_text(ctx["agent_says"], timeout=CALL_TIMEOUT_S)
        await booth.type_text("chat_input", ctx["citizen_says"])
        await booth.tap("send_button")
        await booth.wait_text(ctx["citizen_says"])
        await booth.frames(5)
        booth.screenshot("e2e-booth-call")
        _mark(ctx, "chatted")
        await booth.wait_for(lambda: Path(ctx["go_hangup"]).exists(), timeout=CALL_TIMEOUT_S)
        await booth.tap("hangup_button")
        await booth.wait_screen("goodbye")
        booth.screenshot("e2e-booth-goodbye")
        await booth.wait_screen("welcome", timeout=CALL_TIMEOUT_S)
        # The session was wiped: nothing of the citizen is left in the booth's state.
        assert booth.controller.data.transcript == ()
        assert booth.controller.data.service_id is None
        assert ctx["agent_says"] not in booth.all_text()
        _mark(ctx, "back_to_welcome_1")

        # Second call: the agent hangs up.
        await _join(booth, ctx, shots=False)
        await _in_call(booth, ctx, "media_2")
        await booth.wait_screen("goodbye", timeout=CALL_TIMEOUT_S)
        await booth.wait_screen("welcome", timeout=CALL_TIMEOUT_S)
        assert ctx["citizen_says"] not in booth.all_text()
        _mark(ctx, "back_to_welcome_2")


async def _devices_ready(booth: BoothHarness) -> None:
    from kiosk.devices.base import DeviceState

    def ready() -> bool:
        statuses = booth.controller.devices.statuses
        return bool(statuses) and all(s.state is DeviceState.READY for s in statuses.values())

    await booth.wait_for(ready, timeout=CALL_TIMEOUT_S, what="every peripheral ready")


async def _consent_yes(booth: BoothHarness, kind: str, shot: str) -> None:
    """Wait for the modal asking for ``kind``, photograph it, tap "yes" like a citizen."""

    def asked() -> bool:
        request = booth.controller.consent_request
        return request is not None and request.kind == kind

    await booth.wait_for(asked, timeout=CALL_TIMEOUT_S, what=f"consent asked for {kind}")
    await booth.wait_for(lambda: booth.find("consent_yes"), what="consent modal drawn")
    await booth.frames(3)
    booth.screenshot(shot)
    await booth.tap("consent_yes")


async def _activity(booth: BoothHarness, msgid: str) -> None:
    await booth.wait_for(
        lambda: booth.controller.device_activity == msgid,
        timeout=CALL_TIMEOUT_S,
        what=f"activity line {msgid!r}",
    )


async def devices_story(ctx: dict[str, Any]) -> None:
    """One call in which the agent prints a PDF, reads the card and asks for a scan.

    The booth's ``[devices]`` point at real parts: the private cupsd's CUPS-PDF
    queue, SANE's ``test`` backend (``SANE_CONFIG_DIR`` is in this process's
    environment), and the pty simulators of the receipt printer and the card
    reader, started here on the booth's loop. The citizen taps "yes" on the
    consent modal and lays the card on the simulated reader when asked.
    """
    from kiosk.call.booth_devices import (
        MSG_CARD_READ,
        MSG_PRESENT_CARD,
        MSG_PRINTED,
        MSG_SCANNED,
    )
    from kiosk.devices.sim.card_reader import CardReaderSimulator
    from kiosk.devices.sim.escpos_printer import SimulatedEscPosPrinter

    printer = SimulatedEscPosPrinter()
    card = CardReaderSimulator()
    devices = {
        "receipt_printer": {"path": await printer.start()},
        "card_reader": {"path": await card.start()},
        "a4_printer": {"queue": ctx["cups_queue"], "server": ctx["cups_server"]},
        "scanner": {"device": ctx["sane_device"], "dpi": ctx["booth_scan_dpi"], "mode": "color"},
    }
    settings = harness_settings(
        {"server_url": ctx["server_url"], "token_file": ctx["token_file"], "goodbye_s": 2.0},
        devices=devices,
    )
    try:
        async with BoothHarness(settings) as booth:
            await _devices_ready(booth)
            await _join(booth, ctx, shots=False)
            await booth.wait_for(lambda: booth.controller.data.position == 1, what="queued")
            _mark(ctx, "queued")
            await _in_call(booth, ctx, "in_call")

            # The PDF needs no consent: it goes straight to CUPS.
            await _activity(booth, MSG_PRINTED)
            await booth.frames(3)
            booth.screenshot("e2e-booth-printed")
            _mark(ctx, "printed")

            # A receipt with a QR code, on the ESC/POS simulator (no consent either).
            await booth.wait_for(lambda: printer.printed.cuts >= 1, timeout=CALL_TIMEOUT_S)
            _mark(
                ctx,
                "receipt",
                lines=printer.printed.lines,
                qr=printer.printed.qr_payloads,
                cuts=printer.printed.cuts,
            )

            # The card: asked, agreed to, laid on the reader.
            await _consent_yes(booth, "read_card", "e2e-booth-consent-card")
            await _activity(booth, MSG_PRESENT_CARD)
            await booth.frames(3)
            booth.screenshot("e2e-booth-present-card")
            card.insert(ctx["card_uid"], ctx["card_type"])
            await _activity(booth, MSG_CARD_READ)
            await booth.frames(3)
            booth.screenshot("e2e-booth-card-read")
            card.remove()
            _mark(ctx, "card_read")

            # The scan: asked, agreed to, scanned.
            await _consent_yes(booth, "scan", "e2e-booth-consent-scan")
            await _activity(booth, MSG_SCANNED)
            await booth.frames(3)
            booth.screenshot("e2e-booth-scanned")
            _mark(ctx, "scanned")

            # The agent hangs up: nothing of the device work outlives the call.
            await booth.wait_screen("goodbye", timeout=CALL_TIMEOUT_S)
            await booth.wait_screen("welcome", timeout=CALL_TIMEOUT_S)
            assert booth.controller.device_activity == ""
            assert booth.controller.consent_request is None
            _mark(ctx, "done", receipt_cuts=printer.printed.cuts)
    finally:
        await card.stop()
        await printer.stop()


def _texts_of_every_screen(booth: BoothHarness) -> str:
    """Every text held by any widget of any screen (shown or not) and of open modals."""
    from kivy.core.window import Window

    texts = []
    for root in [*Window.children, *booth.app.root.screens]:
        for widget in root.walk(restrict=True):
            text = getattr(widget, "text", None)
            if isinstance(text, str) and text:
                texts.append(text)
    return "\n".join(texts)


async def privacy_story(ctx: dict[str, Any]) -> None:
    """A full session for the privacy proof: chat, a printed PDF, a card read, a scan.

    Runs like :func:`devices_story` (real CUPS-PDF, SANE ``test``, the card reader's pty
    simulator), in the folders the test gave through the environment (``HOME``,
    ``KIVY_HOME``, ``XDG_*``, ``TMPDIR``). After the agent hangs up, nothing of the
    citizen may be left on any screen or in the session.
    """
    from kiosk.call.booth_devices import MSG_CARD_READ, MSG_PRESENT_CARD, MSG_PRINTED, MSG_SCANNED
    from kiosk.devices.sim.card_reader import CardReaderSimulator

    card = CardReaderSimulator()
    devices = {
        "card_reader": {"path": await card.start()},
        "a4_printer": {"queue": ctx["cups_queue"], "server": ctx["cups_server"]},
        "scanner": {"device": ctx["sane_device"], "dpi": 150, "mode": "color"},
    }
    settings = harness_settings(
        {"server_url": ctx["server_url"], "token_file": ctx["token_file"], "goodbye_s": 2.0},
        devices=devices,
    )
    try:
        async with BoothHarness(settings) as booth:
            await _devices_ready(booth)
            await _join(booth, ctx, shots=False)
            await booth.wait_for(lambda: booth.controller.data.position == 1, what="queued")
            # The default catalogue records nothing: no recording notice.
            assert booth.find("recording_notice").text == ""
            assert "enregistr" not in booth.all_text()
            _mark(ctx, "queued")
            await _in_call(booth, ctx, "in_call")

            await booth.wait_text(ctx["agent_says"], timeout=CALL_TIMEOUT_S)
            await booth.type_text("chat_input", ctx["citizen_says"])
            await booth.tap("send_button")
            await booth.wait_text(ctx["citizen_says"])
            _mark(ctx, "chatted")

            await _activity(booth, MSG_PRINTED)
            _mark(ctx, "printed")
            await _consent_yes(booth, "read_card", "e2e-privacy-consent-card")
            await _activity(booth, MSG_PRESENT_CARD)
            card.insert(ctx["card_uid"], "ISO14443A")
            await _activity(booth, MSG_CARD_READ)
            card.remove()
            _mark(ctx, "card_read")
            await _consent_yes(booth, "scan", "e2e-privacy-consent-scan")
            await _activity(booth, MSG_SCANNED)
            await booth.frames(3)
            booth.screenshot("e2e-privacy-in-call")
            _mark(ctx, "scanned")

            # The agent hangs up: the screens, the session and the activity line forget it all.
            await booth.wait_screen("goodbye", timeout=CALL_TIMEOUT_S)
            await booth.wait_screen("welcome", timeout=CALL_TIMEOUT_S)
            await booth.frames(3)
            booth.screenshot("e2e-privacy-after")
            assert booth.controller.data.transcript == ()
            assert booth.controller.device_activity == ""
            assert booth.controller.consent_request is None
            everything = _texts_of_every_screen(booth)
            for secret in (ctx["agent_says"], ctx["citizen_says"], ctx["chat_marker"]):
                assert secret not in everything, f"{secret!r} still on a screen"
            assert ctx["card_uid"] not in everything.upper()
            _mark(ctx, "done")
    finally:
        await card.stop()


async def recording_story(ctx: dict[str, Any]) -> None:
    """A service that records its calls: the citizen is told while waiting, before the call."""
    settings = harness_settings(
        {"server_url": ctx["server_url"], "token_file": ctx["token_file"], "goodbye_s": 1.0}
    )
    async with BoothHarness(settings) as booth:
        await booth.wait_screen("welcome", timeout=CALL_TIMEOUT_S)
        await booth.tap("start_button")
        await booth.wait_screen("choose")
        await booth.wait_for(lambda: booth.find("service_justice"), what="catalogue shown")
        await booth.tap("service_justice")
        await booth.wait_screen("waiting")
        await booth.wait_text("Vous êtes la prochaine personne")
        notice = booth.find("recording_notice")
        await booth.wait_for(lambda: notice.text and notice.opacity == 1, what="notice shown")
        await booth.frames(3)
        booth.screenshot("e2e-booth-waiting-recorded")
        _mark(ctx, "queued", notice=notice.text, height=notice.height)
        await _in_call(booth, ctx, "in_call")
        await booth.wait_screen("goodbye", timeout=CALL_TIMEOUT_S)
        await booth.wait_screen("welcome", timeout=CALL_TIMEOUT_S)
        _mark(ctx, "done")

"""UI scenarios of the agent's device requests (run by ``kivy_harness`` in their own
process): the booth's ``[devices]`` point at the pty simulators of
``kiosk/devices/sim``, started inside the scenario process, and a real aiortc agent
sends ``device_request`` messages on the data channel.
"""

from __future__ import annotations

from typing import Any

from booth_agent import AgentCall, agent_console, answer_next, booth_settings_ctx, server_from_ctx
from kivy_harness import BoothHarness, harness_settings

from guichet import wire
from kiosk.devices.base import DeviceState
from kiosk.devices.config import Role
from kiosk.devices.sim.barcode_reader import BarcodeScannerSimulator
from kiosk.devices.sim.card_reader import CardReaderSimulator
from kiosk.devices.sim.escpos_printer import SimulatedEscPosPrinter

CARD_UID = "04A1B2C3D4E5F6"
CARD_QUESTION_FR = "L'agent veut lire votre carte. Êtes-vous d'accord ?"
CODE_QUESTION_FR = "L'agent veut lire le code de votre convocation. Êtes-vous d'accord ?"
RECEIPT_LINES = ["Dossier n° 2026-0042", "Rendez-vous le 3 décembre à 10 h"]


def send_request(call: AgentCall, rid: str, **command: Any) -> None:
    """Send a device_request as the agent console does."""
    msg = wire.DeviceRequest.model_validate({"request_id": rid, "command": command})
    call.peer.send_raw(wire.dump(msg))


def report(call: AgentCall, rid: str, cls: type[Any]) -> Any:
    """The agent's first report of type ``cls`` for request ``rid`` (None yet)."""
    return next((m for m in call.peer.received if isinstance(m, cls) and m.request_id == rid), None)


async def card_receipt_and_refusal(ctx: dict[str, object]) -> None:
    """Consent asked and given for a card read, a receipt printed, a code read refused."""
    printer = SimulatedEscPosPrinter()
    barcode = BarcodeScannerSimulator()
    card = CardReaderSimulator()
    devices = {
        "receipt_printer": {"path": await printer.start()},
        "barcode_reader": {"path": await barcode.start()},
        "card_reader": {"path": await card.start()},
    }
    try:
        settings = harness_settings(booth_settings_ctx(ctx), devices=devices)
        async with BoothHarness(settings) as booth:
            await booth.wait_for(lambda: booth.controller.services, what="catalogue")
            await booth.wait_for(
                lambda: all(
                    booth.controller.devices.statuses[role].state is DeviceState.READY
                    for role in (Role.RECEIPT_PRINTER, Role.BARCODE_READER, Role.CARD_READER)
                ),
                what="devices ready",
            )
            await booth.tap("start_button")
            await booth.wait_screen("choose")
            await booth.tap("service_caf")
            await booth.wait_screen("waiting")
            console = await agent_console(server_from_ctx(ctx))
            call = await answer_next(console)
            try:
                await _in_call(booth, call, card, printer)
                # The agent hangs up while a question is still on screen.
                await call.console.send("hangup", call_id=call.call_id)
                await booth.wait_screen("goodbye")
                await booth.wait_for(
                    lambda: CARD_QUESTION_FR not in booth.all_text(), what="question withdrawn"
                )
                r4 = report(call, "r4", wire.DeviceResult)
                assert r4 is None
                # Nothing of the citizen's device work outlives the call.
                assert booth.controller.device_activity == ""
                assert booth.controller.consent_request is None
                assert booth.find("device_activity").text == ""
            finally:
                await call.close()
    finally:
        await card.stop()
        await barcode.stop()
        await printer.stop()


async def _in_call(
    booth: BoothHarness, call: AgentCall, card: CardReaderSimulator, printer: SimulatedEscPosPrinter
) -> None:
    await booth.wait_screen("call")
    await booth.wait_for(lambda: booth.controller.call_status == "connected", what="connected")
    await booth.wait_for(lambda: call.peer.channel_open.is_set(), what="data channel")

    # Reading a card: the citizen is asked first.
    send_request(call, "r1", kind="read_card")
    await booth.wait_text(CARD_QUESTION_FR)
    await booth.wait_text("Oui")
    await booth.frames(3)
    booth.screenshot("12_consent_fr")
    # The booth shows the question, then the agent's side hears of it over the
    # data channel: wait for that report rather than race it.
    progress = await booth.wait_for(
        lambda: report(call, "r1", wire.DeviceProgress), what="r1 waiting for consent"
    )
    assert progress.phase == wire.DevicePhase.WAITING_CONSENT
    await booth.tap("consent_yes")
    await booth.wait_for(lambda: CARD_QUESTION_FR not in booth.all_text(), what="modal gone")
    await booth.wait_text("Posez votre carte sur le lecteur.")
    card.insert(CARD_UID)
    result = await booth.wait_for(lambda: report(call, "r1", wire.DeviceResult), what="r1 result")
    assert isinstance(result.result, wire.CardOutcome)
    assert result.result.uid == CARD_UID
    await booth.wait_text("Votre carte est lue. Vous pouvez la reprendre.")
    card.remove()

    # Printing a receipt needs no consent: it goes straight to the printer.
    send_request(call, "r2", kind="print_receipt", title="Votre reçu", lines=RECEIPT_LINES)
    result = await booth.wait_for(
        lambda: report(call, "r2", wire.DeviceResult), timeout=15, what="r2 result"
    )
    assert isinstance(result.result, wire.PrintOutcome)
    await booth.wait_for(
        lambda: all(line in printer.printed.lines for line in RECEIPT_LINES), what="printed"
    )
    assert any("Votre reçu" in line for line in printer.printed.lines), printer.printed.lines
    assert printer.printed.cuts >= 1
    await booth.wait_text("L'impression est finie.")
    await booth.frames(3)
    booth.screenshot("13_device_activity_fr")

    # The citizen says no: nothing is read and the agent is told.
    send_request(call, "r3", kind="read_code")
    await booth.wait_text(CODE_QUESTION_FR)
    await booth.tap("consent_no")
    error = await booth.wait_for(lambda: report(call, "r3", wire.DeviceErrorReport), what="r3")
    assert error.code == wire.DeviceErrorCode.CONSENT_REFUSED
    await booth.wait_text("Vous avez dit non. La borne n'a rien lu.")
    assert report(call, "r3", wire.DeviceResult) is None

    # A question left unanswered is withdrawn when the call ends.
    send_request(call, "r4", kind="read_card")
    await booth.wait_text(CARD_QUESTION_FR)


SCAN_QUESTION_FR = "L'agent veut faire une copie de votre document. Êtes-vous d'accord ?"
COUNTDOWN_FR = "Tenez votre document devant la caméra : photo dans {n}…"


async def camera_scan_and_hangup_under_consent(ctx: dict[str, object]) -> None:
    """No scanner: the camera takes the page after a countdown; then, with a question
    on screen, the citizen can still see and tap the hang-up button, which ends the call."""
    settings = harness_settings(booth_settings_ctx(ctx), devices={})
    async with BoothHarness(settings) as booth:
        await booth.wait_for(lambda: booth.controller.services, what="catalogue")
        await booth.tap("start_button")
        await booth.wait_screen("choose")
        await booth.tap("service_caf")
        await booth.wait_screen("waiting")
        console = await agent_console(server_from_ctx(ctx))
        call = await answer_next(console)
        try:
            await booth.wait_screen("call")
            await booth.wait_for(lambda: booth.controller.call_status == "connected", what="up")
            await booth.wait_for(lambda: call.peer.channel_open.is_set(), what="data channel")

            # A scan without a scanner: a photo from the booth camera, counted down.
            send_request(call, "s1", kind="scan", dpi=300, colour=False)
            await booth.wait_text(SCAN_QUESTION_FR)
            await booth.tap("consent_yes")
            await booth.wait_text(COUNTDOWN_FR.format(n=3))
            await booth.wait_text(COUNTDOWN_FR.format(n=2))
            await booth.frames(3)
            booth.screenshot("14_camera_scan_countdown_fr")
            result = await booth.wait_for(
                lambda: report(call, "s1", wire.DeviceResult), timeout=15, what="s1 result"
            )
            assert isinstance(result.result, wire.ScanOutcome)
            assert result.result.mime == "image/jpeg"
            assert (result.result.width, result.result.height) == (640, 480)
            assert 1 <= result.result.dpi < 300  # an estimate, not the 300 asked for
            await booth.wait_text("La photo est prise.")

            # A question on screen never hides nor blocks the hang-up button.
            send_request(call, "c1", kind="read_code")
            await booth.wait_text(CODE_QUESTION_FR)
            await booth.frames(3)
            booth.screenshot("15_consent_keeps_hangup_fr")
            hangup = booth.find("hangup_button")
            modal = booth.find("consent_yes").parent.parent.parent
            hx, hy = hangup.to_window(*hangup.center)
            assert not modal.collide_point(hx, hy), "the consent modal covers the hang-up button"
            await booth.tap("hangup_button")
            await booth.wait_screen("goodbye")
            ended = await call.console.next("call_ended")
            assert ended["reason"] == "booth_hangup"
            assert report(call, "c1", wire.DeviceResult) is None
            assert booth.controller.consent_request is None
            assert CODE_QUESTION_FR not in booth.all_text()
        finally:
            await call.close()

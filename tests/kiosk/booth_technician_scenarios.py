"""UI scenario of the technician diagnostics screen (run by ``kivy_harness`` in its own
process): the booth's ``[devices]`` point at the pty simulators of ``kiosk/devices/sim``
and its settings hold a technician PIN hash."""

from __future__ import annotations

from booth_agent import booth_settings_ctx
from kivy_harness import BoothHarness, harness_settings

from kiosk import technician as t
from kiosk.devices.base import DeviceState
from kiosk.devices.sim.barcode_reader import BarcodeScannerSimulator
from kiosk.devices.sim.card_reader import CardReaderSimulator
from kiosk.devices.sim.escpos_printer import PrinterState, SimulatedEscPosPrinter

PIN = "2468"
CARD_UID = "04A1B2C3D4E5F6"


async def type_pin(booth: BoothHarness, pin: str) -> None:
    """Type ``pin`` on the PIN pad and press OK."""
    for digit in pin:
        await booth.tap(f"pin_key_{digit}")
    assert booth.text_of("pin_display") == " ".join("•" * len(pin))
    await booth.tap("pin_ok")


async def pin_then_diagnostics(ctx: dict[str, object]) -> None:
    """Gesture, wrong PIN refused, right PIN, devices ready, tests, paper out, back."""
    printer = SimulatedEscPosPrinter()
    barcode = BarcodeScannerSimulator()
    card = CardReaderSimulator()
    devices = {
        "receipt_printer": {"path": await printer.start(), "poll_interval_s": 0.3},
        "barcode_reader": {"path": await barcode.start()},
        "card_reader": {"path": await card.start()},
    }
    try:
        settings = harness_settings(
            booth_settings_ctx(ctx), devices=devices, technician_pin_hash=t.hash_pin(PIN)
        )
        async with BoothHarness(settings) as booth:
            await booth.wait_screen("welcome")
            await booth.wait_for(lambda: booth.controller.booth_name, what="booth name")
            await booth.wait_for(
                lambda: all(
                    s.state is DeviceState.READY for s in booth.controller.devices.statuses.values()
                ),
                what="devices ready",
            )
            # One tap does nothing; five quick ones open the PIN pad.
            await booth.tap("booth_name_label")
            await booth.frames(2)
            assert booth.app.technician_pad.parent is None
            for _ in range(t.GESTURE_TAPS - 1):
                await booth.tap("booth_name_label")
            await booth.wait_text("Saisissez le code technicien.")
            assert booth.screen == "welcome"

            # A wrong PIN is refused with a message.
            await type_pin(booth, "1111")
            await booth.wait_text("Code erroné.")
            assert booth.screen == "welcome"
            await booth.tap("pin_key_2")
            await booth.frames(3)
            booth.screenshot("14_technician_pin_fr")
            await booth.tap("pin_erase")
            assert booth.text_of("pin_display") == ""

            # The right PIN opens the diagnostics screen, every device ready.
            await type_pin(booth, PIN)
            await booth.wait_screen("technician")
            assert booth.app.technician_pad.parent is None
            for role in ("receipt_printer", "barcode_reader", "card_reader"):
                await booth.wait_for(lambda r=role: booth.find(f"state_{r}").text == "Prêt")
            await booth.wait_text("Imprimante de reçus")
            await booth.wait_text("Standard : connecté")

            # Test print: a ticket arrives at the simulated printer.
            await booth.tap("test_print_receipt_printer")
            await booth.wait_for(
                lambda: any(t.TEST_TICKET_TITLE in line for line in printer.printed.lines),
                timeout=15,
                what="test ticket printed",
            )
            await booth.wait_text("Page de test imprimée.")
            await booth.wait_text("Travaux réussis : 1, échoués : 0")

            # Test read: a card is presented and shown.
            await booth.tap("test_read_card_reader")
            await booth.wait_text("Présentez une carte dans les 30 s…")
            card.insert(CARD_UID)
            await booth.wait_text(f"Carte lue : {CARD_UID} (ISO14443A)")
            card.remove()

            # Paper out on the printer: shown live, with the French reason.
            printer.state = PrinterState.PAPER_OUT
            await booth.wait_for(
                lambda: booth.find("state_receipt_printer").text == "Indisponible",
                what="printer unavailable",
            )
            await booth.wait_text("plus de papier")
            await booth.frames(3)
            booth.screenshot("15_technician_fr")

            await booth.tap("tech_back")
            await booth.wait_screen("welcome")
            assert not booth.controller.technician_open
    finally:
        await card.stop()
        await barcode.stop()
        await printer.stop()


async def no_pin_configured(ctx: dict[str, object]) -> None:
    """Without a PIN hash the gesture opens nothing."""
    async with BoothHarness(harness_settings(booth_settings_ctx(ctx))) as booth:
        await booth.wait_screen("welcome")
        await booth.wait_for(lambda: booth.controller.booth_name, what="booth name")
        for _ in range(t.GESTURE_TAPS + 1):
            await booth.tap("booth_name_label")
        await booth.frames(3)
        assert booth.app.technician_pad.parent is None
        assert booth.screen == "welcome"

"""The booth's half of bench/peripherals.py: the real booth app with real peripherals.

Runs in its own process (started by ``kivy_harness``). Its ``[devices]`` point at
the private cupsd's CUPS-PDF queue, SANE's ``test`` backend (``SANE_CONFIG_DIR``
comes with the environment) and the pty simulators of the ESC/POS printer and the
card reader, started here on the booth's loop. It joins the queue, and once in the
call plays the citizen as fast as it can: taps "yes" on every consent modal and lays
the card on the reader when asked. Milestones go to the JSON-lines file
``ctx["progress"]`` (wall-clock ``at``), among them every cut the printer simulator
received and how long each consent tap and card took the driver.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from kivy_harness import BoothHarness, harness_settings

from kiosk.call.booth_devices import MSG_CARD_READ, MSG_PRESENT_CARD
from kiosk.devices.base import DeviceState
from kiosk.devices.sim.card_reader import CardReaderSimulator
from kiosk.devices.sim.escpos_printer import SimulatedEscPosPrinter

WAIT_S = 60.0
CITIZEN_POLL_S = 0.002
"""How often the driver looks at the booth's state (consent modal, card prompt, cuts)."""


def _mark(ctx: dict[str, Any], step: str, **data: Any) -> None:
    with Path(ctx["progress"]).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"step": step, "at": time.time(), **data}) + "\n")


async def _citizen(
    booth: BoothHarness,
    ctx: dict[str, Any],
    printer: SimulatedEscPosPrinter,
    card: CardReaderSimulator,
) -> None:
    """React to what the agent asks, as fast as the booth lets a finger do it."""
    cuts = 0
    card_down = False
    while True:
        controller = booth.controller
        request = controller.consent_request
        if request is not None:
            seen = time.monotonic()
            kind = request.kind
            await booth.tap("consent_yes")
            # The tap is done when the controller has the answer (the modal is gone).
            await booth.wait_for(lambda: booth.controller.consent_request is None, what="answer")
            _mark(ctx, "consent", kind=kind, tap_ms=(time.monotonic() - seen) * 1000)
        activity = controller.device_activity
        if activity == MSG_PRESENT_CARD and not card_down:
            card.insert(ctx["card_uid"], ctx["card_type"])
            card_down = True
            _mark(ctx, "card_laid")
        elif activity == MSG_CARD_READ and card_down:
            card.remove()
            card_down = False
        if printer.printed.cuts > cuts:
            cuts = printer.printed.cuts
            _mark(ctx, "cut", cuts=cuts, qr=printer.printed.qr_payloads[-1:])
        await asyncio.sleep(CITIZEN_POLL_S)


async def drive(ctx: dict[str, Any]) -> None:
    """Join, be answered, play the citizen until the agent hangs up."""
    printer = SimulatedEscPosPrinter()
    card = CardReaderSimulator()
    devices = {
        "receipt_printer": {"path": await printer.start()},
        "card_reader": {"path": await card.start()},
        "a4_printer": {"queue": ctx["cups_queue"], "server": ctx["cups_server"]},
        "scanner": {"device": ctx["sane_device"], "dpi": ctx["scan_dpi"], "mode": "color"},
    }
    settings = harness_settings(
        {"server_url": ctx["server_url"], "token_file": ctx["token_file"], "goodbye_s": 0.5},
        devices=devices,
    )
    try:
        async with BoothHarness(settings) as booth:

            def ready() -> bool:
                statuses = booth.controller.devices.statuses
                return bool(statuses) and all(
                    s.state is DeviceState.READY for s in statuses.values()
                )

            await booth.wait_for(ready, timeout=WAIT_S, what="every peripheral ready")
            await booth.wait_screen("welcome", timeout=WAIT_S)
            await booth.tap("start_button")
            await booth.wait_screen("choose")
            await booth.wait_for(lambda: booth.find("service_caf"), what="catalogue")
            await booth.tap("service_caf")
            await booth.wait_for(lambda: booth.controller.data.position == 1, timeout=WAIT_S)
            _mark(ctx, "queued")
            await booth.wait_screen("call", timeout=WAIT_S)
            await booth.wait_for(
                lambda: booth.controller.call_status == "connected", timeout=WAIT_S
            )
            _mark(ctx, "in_call")
            citizen = asyncio.create_task(_citizen(booth, ctx, printer, card))
            ended = asyncio.create_task(booth.wait_screen("goodbye", timeout=3600))
            done, _ = await asyncio.wait({citizen, ended}, return_when=asyncio.FIRST_COMPLETED)
            citizen.cancel()
            ended.cancel()
            for task in done:
                task.result()  # the citizen's failure, if that is what ended the wait
            _mark(ctx, "ended")
    finally:
        await card.stop()
        await printer.stop()

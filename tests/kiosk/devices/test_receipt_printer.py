"""Receipt printer driver against the simulated printer over a real pty pair and TCP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kiosk.devices.base import DeviceError, DeviceState, DeviceStatus
from kiosk.devices.receipt_printer import Receipt, ReceiptPrinter
from kiosk.devices.sim import PrinterState, SimulatedEscPosPrinter
from kiosk.devices.transport import SerialTransport, TcpTransport

STATUS_TIMEOUT_S = 0.3
LOGO = (Path(__file__).resolve().parents[2] / "data" / "escpos" / "receipt_logo.png").read_bytes()
RECEIPT = Receipt(
    title="Reçu",
    lines=["Dépôt à 10 h : 12,50 €", "Pièce reçue — merci"],
    qr_payload="https://guichet.example/r/é42",
    logo_png=LOGO,
    footer="À bientôt",
)


class Rig:
    """A simulated printer, the driver on a real serial pty, and what it reported."""

    def __init__(self, sim: SimulatedEscPosPrinter, driver: ReceiptPrinter) -> None:
        self.sim = sim
        self.driver = driver
        self.reported: list[DeviceStatus] = []


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    sim = SimulatedEscPosPrinter()
    path = await sim.start()
    reported: list[DeviceStatus] = []
    driver = ReceiptPrinter(
        SerialTransport(path),
        on_status=reported.append,
        status_timeout_s=STATUS_TIMEOUT_S,
        poll_interval_s=0.05,
    )
    r = Rig(sim, driver)
    r.reported = reported
    try:
        yield r
    finally:
        await driver.close()
        await sim.stop()


async def test_receipt_with_accents_qr_logo_and_cut_arrives_as_sent(rig: Rig) -> None:
    assert (await rig.driver.start()).state is DeviceState.READY
    await rig.driver.print_receipt(RECEIPT)
    printed = rig.sim.printed
    assert [line for line in printed.lines if line] == [
        "Reçu",
        "Dépôt à 10 h : 12,50 €",
        "Pièce reçue - merci",
        "À bientôt",
    ]
    assert printed.qr_payloads == ["https://guichet.example/r/é42"]
    assert printed.images == [(40, 16)]
    assert printed.cuts == 1
    assert rig.sim.counters.garbage_bytes == 0
    assert rig.driver.status.state is DeviceState.READY
    assert [s.state for s in rig.reported] == [
        DeviceState.READY,
        DeviceState.BUSY,
        DeviceState.READY,
    ]


@pytest.mark.parametrize(
    ("state", "expected", "reason"),
    [
        (PrinterState.OK, DeviceState.READY, ""),
        (PrinterState.NEAR_END, DeviceState.DEGRADED, "papier bientôt épuisé"),
        (PrinterState.PAPER_OUT, DeviceState.UNAVAILABLE, "plus de papier"),
        (PrinterState.COVER_OPEN, DeviceState.UNAVAILABLE, "capot de l'imprimante ouvert"),
        (PrinterState.OFFLINE, DeviceState.UNAVAILABLE, "imprimante hors ligne"),
        (PrinterState.ERROR, DeviceState.UNAVAILABLE, "imprimante en erreur"),
        (PrinterState.SILENT, DeviceState.UNAVAILABLE, "imprimante muette"),
    ],
)
async def test_each_printer_state_gives_its_status_and_reason(
    rig: Rig, state: PrinterState, expected: DeviceState, reason: str
) -> None:
    rig.sim.state = state
    status = await rig.driver.poll()
    assert (status.state, status.reason) == (expected, reason)
    assert rig.reported[-1] == status


@pytest.mark.parametrize(
    "state", [PrinterState.PAPER_OUT, PrinterState.COVER_OPEN, PrinterState.SILENT]
)
async def test_job_on_unavailable_printer_is_refused_in_plain_french(
    rig: Rig, state: PrinterState
) -> None:
    rig.sim.state = state
    with pytest.raises(DeviceError) as caught:
        await rig.driver.print_receipt(RECEIPT)
    assert caught.value.reason.startswith("impression impossible : ")
    assert rig.sim.printed.lines == []
    assert rig.driver.status.state is DeviceState.UNAVAILABLE


async def test_near_end_still_prints(rig: Rig) -> None:
    rig.sim.state = PrinterState.NEAR_END
    await rig.driver.print_receipt(RECEIPT)
    assert rig.sim.printed.cuts == 1
    assert rig.driver.status.state is DeviceState.DEGRADED


async def test_paper_out_midway_fails_the_job_then_refuses_the_next(rig: Rig) -> None:
    await rig.driver.start()
    rig.sim.paper_lines_left = 2
    with pytest.raises(DeviceError) as caught:
        await rig.driver.print_receipt(RECEIPT)
    assert caught.value.code == "paper_out"
    assert "plus de papier" in caught.value.reason
    assert rig.sim.printed.cuts == 0
    assert rig.driver.status.reason == "plus de papier"
    with pytest.raises(DeviceError, match="plus de papier"):
        await rig.driver.print_receipt(RECEIPT)
    # The printer keeps its state until someone refills it.
    assert rig.sim.state is PrinterState.PAPER_OUT
    assert (await rig.driver.poll()).state is DeviceState.UNAVAILABLE
    rig.sim.state = PrinterState.OK
    assert (await rig.driver.poll()).state is DeviceState.READY


async def test_background_polling_notices_a_change(rig: Rig) -> None:
    await rig.driver.start()
    rig.sim.state = PrinterState.COVER_OPEN
    for _ in range(100):
        if rig.driver.status.state is DeviceState.UNAVAILABLE:
            break
        await asyncio.sleep(0.05)
    assert rig.driver.status.reason == "capot de l'imprimante ouvert"


async def test_printer_vanishing_mid_job_fails_it_as_unplugged(rig: Rig) -> None:
    await rig.driver.start()
    big = Receipt(title="Reçu", lines=[f"ligne {i} à 1 €" for i in range(3000)])

    async def unplug_soon() -> None:
        await asyncio.sleep(0.05)
        await rig.sim.stop()

    unplug = asyncio.create_task(unplug_soon())
    with pytest.raises(DeviceError) as caught:
        await rig.driver.print_receipt(big)
    await unplug
    assert caught.value.code == "unplugged"
    assert rig.driver.status.state is DeviceState.UNAVAILABLE
    assert rig.driver.status.reason == "imprimante débranchée"
    # Later calls keep failing cleanly; nothing escapes.
    assert (await rig.driver.poll()).state is DeviceState.UNAVAILABLE
    with pytest.raises(DeviceError, match="débranchée"):
        await rig.driver.print_receipt(RECEIPT)


async def test_network_printer_over_tcp_loopback() -> None:
    sim = SimulatedEscPosPrinter()
    host, port = await sim.start_tcp()
    reported: list[DeviceStatus] = []
    driver = ReceiptPrinter(
        await TcpTransport.connect(host, port),
        on_status=reported.append,
        status_timeout_s=STATUS_TIMEOUT_S,
    )
    try:
        assert (await driver.start()).state is DeviceState.READY
        await driver.print_receipt(RECEIPT)
        assert "Dépôt à 10 h : 12,50 €" in sim.printed.lines
        assert sim.printed.qr_payloads == ["https://guichet.example/r/é42"]
        assert sim.printed.cuts == 1
        sim.state = PrinterState.NEAR_END
        assert (await driver.poll()).state is DeviceState.DEGRADED
        await sim.stop()
        with pytest.raises(DeviceError) as caught:
            await driver.print_receipt(RECEIPT)
        assert caught.value.code == "unplugged"
        assert driver.status.reason == "imprimante débranchée"
    finally:
        await driver.close()
        await sim.stop()

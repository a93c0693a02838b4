"""DeviceManager against the real simulators over ptys and TCP loopback."""

from __future__ import annotations

import asyncio
import logging
import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from kiosk.config import load_settings
from kiosk.devices import barcode_reader, reopen, serial_card_reader
from kiosk.devices.base import DeviceError, DeviceState, DeviceStatus
from kiosk.devices.config import DevicesConfig, Role
from kiosk.devices.manager import DeviceManager
from kiosk.devices.receipt_printer import Receipt
from kiosk.devices.sim.barcode_reader import BarcodeScannerSimulator
from kiosk.devices.sim.card_reader import CardReaderSimulator
from kiosk.devices.sim.escpos_printer import PrinterState, SimulatedEscPosPrinter

WAIT_S = 5.0


@pytest.fixture(autouse=True)
def fast_timers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(barcode_reader, "READ_POLL_S", 0.02)
    monkeypatch.setattr(serial_card_reader, "READ_POLL_S", 0.02)
    monkeypatch.setattr(reopen, "REOPEN_FIRST_DELAY_S", 0.02)
    monkeypatch.setattr(reopen, "REOPEN_MAX_DELAY_S", 0.05)


async def until(condition: Callable[[], bool]) -> None:
    """Wait until ``condition`` holds, failing after WAIT_S."""
    async with asyncio.timeout(WAIT_S):
        while not condition():
            await asyncio.sleep(0.01)


class Booth:
    """The three serial simulators and a manager configured on their ptys."""

    def __init__(self) -> None:
        self.printer = SimulatedEscPosPrinter()
        self.scanner = BarcodeScannerSimulator()
        self.cards = CardReaderSimulator()
        self.changes: list[DeviceStatus] = []
        self.manager: DeviceManager

    async def start(self) -> None:
        config = DevicesConfig.model_validate(
            {
                "receipt_printer": {"path": await self.printer.start(), "poll_interval_s": 0.05},
                "barcode_reader": {"path": await self.scanner.start()},
                "card_reader": {"path": await self.cards.start()},
            }
        )
        self.manager = DeviceManager(config, on_change=self.changes.append)
        await self.manager.start()

    def state(self, role: Role) -> DeviceState:
        return self.manager.statuses[role].state

    async def stop(self) -> None:
        await self.manager.stop()
        for sim in (self.printer, self.scanner, self.cards):
            await sim.stop()


@pytest.fixture
async def booth() -> AsyncIterator[Booth]:
    b = Booth()
    await b.start()
    yield b
    await b.stop()


async def test_manager_opens_every_simulator_and_reports_ready(booth: Booth) -> None:
    await until(lambda: all(s.state is DeviceState.READY for s in booth.manager.statuses.values()))
    roles = [d["role"] for d in booth.manager.diagnostics()]
    assert roles == ["receipt_printer", "card_reader", "barcode_reader"]
    diag = {d["role"]: d for d in booth.manager.diagnostics()}
    assert diag["receipt_printer"]["address"].startswith("/dev/pts/")
    assert diag["card_reader"]["state"] == "ready"
    assert {c.role for c in booth.changes} == {"receipt_printer", "card_reader", "barcode_reader"}


async def test_manager_runs_jobs_on_the_simulators(booth: Booth) -> None:
    await until(lambda: booth.state(Role.CARD_READER) is DeviceState.READY)
    await booth.manager.print_receipt(Receipt("Convocation", ["Guichet CAF", "Mardi 10 h"]))
    assert "Convocation" in booth.printer.printed.lines
    assert booth.printer.printed.cuts == 1

    pending = asyncio.create_task(booth.manager.next_code(timeout=WAIT_S))
    await until(lambda: bool(booth.manager._code_waiters))
    await booth.scanner.scan("RDV-2026-0042")
    assert await pending == "RDV-2026-0042"

    booth.cards.insert("04A1B2C3D4E5F6")
    card = await booth.manager.read_card(timeout=WAIT_S)
    assert (card.uid, card.card_type, card.role) == ("04A1B2C3D4E5F6", "ISO14443A", "card_reader")
    diag = {d["role"]: d for d in booth.manager.diagnostics()}
    assert diag["receipt_printer"]["jobs_ok"] == 1


async def test_manager_paper_out_makes_printer_unavailable_then_recovers(
    booth: Booth, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kiosk.devices.manager")
    await until(lambda: booth.state(Role.RECEIPT_PRINTER) is DeviceState.READY)
    booth.printer.state = PrinterState.PAPER_OUT
    await until(lambda: booth.state(Role.RECEIPT_PRINTER) is DeviceState.UNAVAILABLE)
    reason = booth.manager.statuses[Role.RECEIPT_PRINTER].reason
    assert "papier" in reason
    with pytest.raises(DeviceError) as err:
        await booth.manager.print_receipt(Receipt("Reçu"))
    assert "papier" in err.value.reason
    assert any(
        "receipt_printer" in r.message and "unavailable" in r.message for r in caplog.records
    )

    booth.printer.state = PrinterState.OK
    await until(lambda: booth.state(Role.RECEIPT_PRINTER) is DeviceState.READY)
    await booth.manager.print_receipt(Receipt("Reçu"))
    assert booth.printer.printed.cuts == 1


async def test_manager_reopens_a_network_printer_that_went_away() -> None:
    sim = SimulatedEscPosPrinter()
    host, port = await sim.start_tcp()
    config = DevicesConfig.model_validate(
        {"receipt_printer": {"tcp": f"{host}:{port}", "poll_interval_s": 0.05}}
    )
    manager = DeviceManager(config)
    await manager.start()
    try:
        await until(lambda: manager.statuses[Role.RECEIPT_PRINTER].state is DeviceState.READY)
        await sim.stop()
        await until(lambda: manager.statuses[Role.RECEIPT_PRINTER].state is DeviceState.UNAVAILABLE)
        assert manager.statuses[Role.RECEIPT_PRINTER].reason == "imprimante débranchée"
        with pytest.raises(DeviceError, match="indisponible"):
            await manager.print_receipt(Receipt("Reçu"))

        back = SimulatedEscPosPrinter()
        await back.start_tcp(host, port)
        await until(lambda: manager.statuses[Role.RECEIPT_PRINTER].state is DeviceState.READY)
        await manager.print_receipt(Receipt("De retour"))
        assert "De retour" in back.printed.lines
        await back.stop()
    finally:
        await manager.stop()
        await sim.stop()


async def test_manager_unplugged_card_reader_fails_the_running_read_and_comes_back(
    booth: Booth,
) -> None:
    await until(lambda: booth.state(Role.CARD_READER) is DeviceState.READY)
    path = booth.cards.device_path
    read = asyncio.create_task(booth.manager.read_card(timeout=WAIT_S))
    await asyncio.sleep(0.1)
    await booth.manager.device_removed(Role.CARD_READER, path)
    with pytest.raises(DeviceError) as err:
        await read
    assert err.value.code == "unplugged"
    assert "lecteur de cartes débranché" in err.value.reason
    assert booth.manager.statuses[Role.CARD_READER].reason == "lecteur de cartes débranché"
    # The other devices are untouched: the booth stays up.
    assert booth.state(Role.BARCODE_READER) is DeviceState.READY

    await booth.manager.device_added(Role.CARD_READER, path)
    await until(lambda: booth.state(Role.CARD_READER) is DeviceState.READY)
    booth.cards.insert("0A0B0C0D")
    assert (await booth.manager.read_card(timeout=WAIT_S)).uid == "0A0B0C0D"


async def test_manager_missing_device_at_boot_is_unavailable_with_a_reason() -> None:
    config = DevicesConfig.model_validate(
        {
            "barcode_reader": {"path": "/dev/nonexistent-scanner"},
            "card_reader": {"usb": "072f:90cc"},
        }
    )
    changes: list[DeviceStatus] = []
    manager = DeviceManager(config, on_change=changes.append, hotplug=False)
    await manager.start()
    try:
        await until(
            lambda: all(s.state is DeviceState.UNAVAILABLE for s in manager.statuses.values())
        )
        assert manager.statuses[Role.BARCODE_READER].reason == "lecteur absent"
        assert "en attente du branchement" in manager.statuses[Role.CARD_READER].reason
        with pytest.raises(DeviceError) as err:
            await manager.next_code(timeout=0.1)
        assert err.value.code == "unavailable"
        assert err.value.reason.startswith("lecteur de codes indisponible")
    finally:
        await manager.stop()


async def test_manager_jobs_on_missing_roles_raise_plain_french_reasons() -> None:
    manager = DeviceManager(DevicesConfig())
    await manager.start()
    cases = [
        (manager.print_receipt(Receipt("x")), "pas d'imprimante de reçus sur cette borne"),
        (manager.print_pdf(b"%PDF-1.4", "doc"), "pas d'imprimante A4 sur cette borne"),
        (manager.read_card(1.0), "pas de lecteur de cartes sur cette borne"),
        (manager.scan(), "pas de scanner sur cette borne"),
        (manager.next_code(1.0), "pas de lecteur de codes sur cette borne"),
    ]
    for job, reason in cases:
        with pytest.raises(DeviceError) as err:
            await job
        assert (err.value.code, err.value.reason) == ("not_configured", reason)
    assert manager.diagnostics() == []
    await manager.stop()


async def test_manager_survives_a_faulty_listener_and_a_code_timeout(booth: Booth) -> None:
    def explode(_status: DeviceStatus) -> None:
        raise RuntimeError("screen bug")

    booth.manager._on_change = explode
    booth.printer.state = PrinterState.NEAR_END
    await until(lambda: booth.state(Role.RECEIPT_PRINTER) is DeviceState.DEGRADED)
    await until(lambda: booth.state(Role.BARCODE_READER) is DeviceState.READY)
    with pytest.raises(DeviceError) as err:
        await booth.manager.next_code(timeout=0.05)
    assert err.value.code == "timeout"


def test_manager_devices_table_in_booth_toml(tmp_path: Path) -> None:
    toml = tmp_path / "booth.toml"
    toml.write_text(
        textwrap.dedent(
            """
            [booth]
            server_url = "http://127.0.0.1:8700"

            [devices.receipt_printer]
            tcp = "192.0.2.10:9100"

            [devices.barcode_reader]
            path = "/dev/ttyACM0"
            usb = "0C2E:0B61"

            [devices.scanner]
            device = "test:0"
            dpi = 300
            """
        ),
        encoding="utf-8",
    )
    devices = load_settings(toml).devices
    assert devices.configured_roles() == [Role.RECEIPT_PRINTER, Role.BARCODE_READER, Role.SCANNER]
    assert devices.receipt_printer is not None
    assert devices.receipt_printer.tcp_address == ("192.0.2.10", 9100)
    assert devices.barcode_reader is not None
    assert devices.barcode_reader.usb_ids == ("0c2e", "0b61")
    assert load_settings(None).devices == DevicesConfig()


@pytest.mark.parametrize(
    "table",
    [
        {"barcode_reader": {}},
        {"barcode_reader": {"usb": "12:34"}},
        {"receipt_printer": {"tcp": "printer"}},
        {"scanner": {"mode": "sepia"}},
        {"scanner": {"dpi": 300, "colour": True}},
        {"fax": {}},
    ],
)
def test_manager_config_refuses_bad_device_tables(table: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        DevicesConfig.model_validate(table)


async def test_manager_cups_and_pcsc_roles_without_their_services_are_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kiosk.devices import manager as manager_module

    monkeypatch.setattr(manager_module, "PROBE_RETRY_FIRST_S", 0.05)
    config = DevicesConfig.model_validate(
        {
            # Port 9 (discard) on loopback: no CUPS there.
            "a4_printer": {"queue": "Guichet_A4", "server": "127.0.0.1:9"},
            "smart_card": {"reader": "No Such Reader 4242"},
        }
    )
    manager = DeviceManager(config)
    await manager.start()
    try:
        await until(
            lambda: all(s.state is DeviceState.UNAVAILABLE for s in manager.statuses.values())
        )
        assert all(s.reason for s in manager.statuses.values())
        with pytest.raises(DeviceError) as err:
            await manager.print_pdf(b"%PDF-1.4\n%%EOF\n", "Attestation")
        assert err.value.reason.startswith("imprimante A4 indisponible : ")
        with pytest.raises(DeviceError) as err:
            await manager.read_card(timeout=0.1)
        assert err.value.reason.startswith("lecteur de cartes à puce indisponible : ")
        assert {d["kind"] for d in manager.diagnostics()} == {"cups", "pcsc"}
    finally:
        await manager.stop()

"""USB printer-class receipt printer (``/dev/usb/lp0``, Linux ``usblp``) on real file descriptors.

Why no real usblp: the kernel driver binds only to a real USB printer-class
interface. This machine (and CI) has no USB printer, and making one in software
(``dummy_hcd`` + the ``g_printer`` gadget) needs kernel modules loaded on the
host, which a container cannot do; umockdev cannot fake USB transfers either.
What umockdev *can* do is put a character device at ``/dev/usb/lp0`` (backed by a
pty whose other end the test holds) and send udev ``add``/``remove`` events for
it: the booth code opens, polls, reads and writes that node exactly as it would
the usblp node, and the ESC/POS printer simulator answers ``DLE EOT n`` on the
other end. Closing the simulator's end is the unplug: the booth then gets EIO on
write and a hang-up on read, as usblp gives ENODEV/EIO and POLLHUP when the
printer goes.

The transport's own tests at the top use a plain pty, so they run without umockdev;
the rest re-runs this module under ``umockdev-wrapper``.
"""

from __future__ import annotations

import asyncio
import gc
import os
import pty
import tty
from collections.abc import AsyncIterator, Callable

import pytest
from pydantic import ValidationError
from umockdev_support import UNDER_UMOCKDEV, new_testbed, run_module_under_umockdev

from kiosk.devices import transport
from kiosk.devices.config import DevicesConfig, Role
from kiosk.devices.hotplug import HotplugRule, rules_from_config
from kiosk.devices.transport import TransportClosed, UsbLpTransport

WAIT_S = 5.0


async def until(condition: Callable[[], bool]) -> None:
    """Wait until ``condition`` holds, failing after WAIT_S."""
    async with asyncio.timeout(WAIT_S):
        while not condition():
            await asyncio.sleep(0.01)


def test_usblp_paths_and_usb_ids_in_config() -> None:
    config = DevicesConfig.model_validate(
        {
            "receipt_printer": {"path": "/dev/usb/lp0", "usb": "0416:5011"},
            "a4_printer": {"queue": "A4", "usb": "04F9:0042"},
            "scanner": {"device": "test:0", "usb": "04a9:1909"},
            "smart_card": {"usb": "072f:2200"},
        }
    )
    printer = config.receipt_printer
    assert printer is not None and printer.usblp and printer.subsystem == "usbmisc"
    assert rules_from_config(config) == [
        HotplugRule(Role.RECEIPT_PRINTER, "0416", "5011", "usbmisc"),
        HotplugRule(Role.A4_PRINTER, "04f9", "0042", "usb"),
        HotplugRule(Role.SCANNER, "04a9", "1909", "usb"),
        HotplugRule(Role.SMART_CARD, "072f", "2200", "usb"),
    ]
    serial = DevicesConfig.model_validate({"receipt_printer": {"path": "/dev/ttyUSB0"}})
    assert serial.receipt_printer is not None and not serial.receipt_printer.usblp


@pytest.mark.parametrize(
    ("devices", "message"),
    [
        ({"receipt_printer": {"path": "/dev/usb/hiddev0"}}, "must be /dev/usb/lpN"),
        ({"card_reader": {"path": "/dev/usb/lp0"}}, "only the receipt printer"),
        ({"scanner": {"usb": "canon"}}, "usb must be 'vvvv:pppp'"),
        ({"a4_printer": {"queue": "A4", "usb": "04f9-0042"}}, "usb must be 'vvvv:pppp'"),
    ],
)
def test_bad_usb_printer_node_or_ids_are_refused_clearly(
    devices: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        DevicesConfig.model_validate(devices)


async def test_usblp_transport_reads_answers_and_times_out_without_blocking_the_loop() -> None:
    device_side, booth_side = pty.openpty()
    tty.setraw(device_side)
    tty.setraw(booth_side)
    port = UsbLpTransport(os.ttyname(booth_side))
    os.close(booth_side)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    beat = asyncio.create_task(ticker())
    try:
        await port.write(b"\x10\x04\x04")
        assert os.read(device_side, 16) == b"\x10\x04\x04"
        os.write(device_side, b"\x7e")
        assert await port.read(16, timeout=1.0) == b"\x7e"
        # Silence: read gives up at its timeout, and the loop kept running meanwhile.
        ticks = 0
        started = asyncio.get_running_loop().time()
        assert await port.read(16, timeout=0.3) == b""
        assert asyncio.get_running_loop().time() - started >= 0.29
        assert ticks >= 10
        # The device goes: the next read and write say so instead of waiting.
        os.close(device_side)
        with pytest.raises(TransportClosed, match=r"hung up|Input/output"):
            await port.read(16, timeout=1.0)
        with pytest.raises(TransportClosed):
            await port.write(b"\x1b@")
    finally:
        beat.cancel()
        await port.close()
        await port.close()


async def test_usblp_write_to_a_printer_that_stops_taking_data_fails_instead_of_hanging(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(transport, "USBLP_WRITE_STALL_S", 0.2)
    device_side, booth_side = pty.openpty()
    tty.setraw(device_side)
    tty.setraw(booth_side)
    port = UsbLpTransport(os.ttyname(booth_side))
    try:
        # Nobody reads the device side: the buffer fills up and the write stalls.
        async with asyncio.timeout(5):
            with pytest.raises(TransportClosed, match=r"no write progress for 0\.2 s"):
                await port.write(b"\x00" * 1_000_000)
    finally:
        await port.close()
        os.close(device_side)
        os.close(booth_side)


def test_missing_usblp_node_is_a_clear_error() -> None:
    with pytest.raises(TransportClosed, match="cannot open /dev/usb/lp-nowhere"):
        UsbLpTransport("/dev/usb/lp-nowhere")


if not UNDER_UMOCKDEV:

    def test_usblp_suite_under_umockdev() -> None:
        """Run this module's umockdev tests under umockdev-wrapper."""
        run_module_under_umockdev(__file__)

else:
    from collections.abc import Iterator
    from typing import Any

    from kiosk.devices import reopen
    from kiosk.devices.base import DeviceError, DeviceState
    from kiosk.devices.manager import DeviceManager
    from kiosk.devices.receipt_printer import Receipt
    from kiosk.devices.sim.escpos_printer import PrinterState, SimulatedEscPosPrinter

    LP_SYSFS = "/devices/pci0000:00/0000:00:14.0/usb1/1-4/1-4:1.0/usbmisc/lp0"
    LP_DESCRIPTION = (
        f"P: {LP_SYSFS}\nN: usb/lp0\nE: DEVNAME=/dev/usb/lp0\nE: SUBSYSTEM=usbmisc\n"
        "E: ID_VENDOR_ID=0416\nE: ID_MODEL_ID=5011\nA: dev=180:0\n"
    )
    LP1_SYSFS = "/devices/pci0000:00/0000:00:14.0/usb1/1-5/1-5:1.0/usbmisc/lp1"
    LP1_DESCRIPTION = LP_DESCRIPTION.replace(LP_SYSFS, LP1_SYSFS).replace("lp0", "lp1")
    """The same printer plugged back into another port: usblp gives it the next minor."""
    LONG_RECEIPT = Receipt("Attestation", [f"Ligne {n} : pièce déposée" for n in range(400)])
    """About 10 kB of ESC/POS: several write chunks, so an unplug can land mid-job."""

    class UnpluggedMidJob(SimulatedEscPosPrinter):
        """A printer whose cable is pulled after ``after_bytes`` bytes of the job."""

        def __init__(self, after_bytes: int) -> None:
            super().__init__()
            self.after_bytes = after_bytes
            self.received = 0

        def _consume(self, data: bytes) -> list[bytes]:
            answers = super()._consume(data)
            self.received += len(data)
            fd = self._master_fd
            if self.received >= self.after_bytes and fd is not None:
                asyncio.get_running_loop().remove_reader(fd)
                os.close(fd)
                self._master_fd = None
                return []
            return answers

    @pytest.fixture(autouse=True)
    def fast_timers(monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(reopen, "REOPEN_FIRST_DELAY_S", 0.02)
        monkeypatch.setattr(reopen, "REOPEN_MAX_DELAY_S", 0.05)

    def hold_open(node: str = "/dev/usb/lp0") -> int:
        """Keep the node open on the booth side for the whole test.

        umockdev backs the node with a pty: while nobody has it open, the device
        end reads EIO, so the simulator would see a hang-up each time the manager
        re-opens the printer (a real usblp has no such gap).
        """
        return os.open(node, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)

    @pytest.fixture
    def testbed() -> Iterator[Any]:
        tb = new_testbed()
        assert tb.add_from_string(LP_DESCRIPTION)
        holder = hold_open()
        yield tb
        os.close(holder)
        tb.clear()
        # Dispose of it now: a testbed finalised later, during the next test, would
        # take that test's UMOCKDEV_DIR down with it.
        del tb
        gc.collect()

    @pytest.fixture
    async def manager() -> AsyncIterator[DeviceManager]:
        config = DevicesConfig.model_validate(
            {
                "receipt_printer": {
                    "path": "/dev/usb/lp0",
                    "usb": "0416:5011",
                    "poll_interval_s": 0.05,
                },
                "barcode_reader": {"path": "loop://"},
            }
        )
        mgr = DeviceManager(config)
        yield mgr
        await mgr.stop()

    def printer_state(manager: DeviceManager) -> tuple[DeviceState, str]:
        status = manager.statuses[Role.RECEIPT_PRINTER]
        return status.state, status.reason

    async def test_usblp_printer_prints_and_reports_paper_out_and_cover_open(
        testbed: Any, manager: DeviceManager
    ) -> None:
        sim = SimulatedEscPosPrinter()
        await sim.attach(testbed.get_dev_fd("/dev/usb/lp0"))
        try:
            await manager.start()
            await until(lambda: printer_state(manager) == (DeviceState.READY, ""))
            assert manager.statuses[Role.RECEIPT_PRINTER].details["transport"] == (
                "usblp /dev/usb/lp0"
            )
            await manager.print_receipt(Receipt("Reçu", ["Dépôt : 12,50 €"]))
            assert "Dépôt : 12,50 €" in sim.printed.lines and sim.printed.cuts == 1

            sim.state = PrinterState.PAPER_OUT
            await until(lambda: printer_state(manager)[0] is DeviceState.UNAVAILABLE)
            assert printer_state(manager)[1] == "plus de papier"
            with pytest.raises(DeviceError) as err:
                await manager.print_receipt(Receipt("Reçu"))
            assert "plus de papier" in err.value.reason

            sim.state = PrinterState.COVER_OPEN
            await until(lambda: printer_state(manager)[1] == "capot de l'imprimante ouvert")

            # Silent is never "fine": a printer that stops answering is unavailable.
            sim.state = PrinterState.SILENT
            await until(lambda: printer_state(manager)[1] == "imprimante muette")

            sim.state = PrinterState.OK
            await until(lambda: printer_state(manager) == (DeviceState.READY, ""))
            assert sim.printed.cuts == 1
        finally:
            await sim.stop()

    async def test_usblp_printer_unplugged_mid_print_fails_job_and_booth_stays_up(
        testbed: Any, manager: DeviceManager
    ) -> None:
        sim = UnpluggedMidJob(after_bytes=3000)
        await sim.attach(testbed.get_dev_fd("/dev/usb/lp0"))
        await manager.start()
        await until(lambda: printer_state(manager) == (DeviceState.READY, ""))
        await until(lambda: manager.statuses[Role.BARCODE_READER].state is DeviceState.READY)

        with pytest.raises(DeviceError) as err:
            await manager.print_receipt(LONG_RECEIPT)
        assert err.value.code == "unplugged"
        assert err.value.reason == "imprimante débranchée"
        assert sim.printed.cuts == 0, "the job must not have completed"
        assert printer_state(manager) == (DeviceState.UNAVAILABLE, "imprimante débranchée")

        # udev says the printer is gone: the role waits for it, the rest carries on.
        testbed.uevent("/sys" + LP_SYSFS, "remove")
        await until(
            lambda: (
                printer_state(manager)
                == (DeviceState.UNAVAILABLE, "imprimante de reçus débranchée")
            )
        )
        with pytest.raises(DeviceError) as refused:
            await manager.print_receipt(Receipt("Reçu"))
        assert refused.value.reason == (
            "imprimante de reçus indisponible : imprimante de reçus débranchée"
        )
        assert manager.statuses[Role.BARCODE_READER].state is DeviceState.READY
        assert {d["role"] for d in manager.diagnostics()} == {"receipt_printer", "barcode_reader"}

        # Plugged in again, into another port: udev's add gives the new node, and the
        # configured /dev/usb/lp0 is left for the node hotplug found.
        assert testbed.add_from_string(LP1_DESCRIPTION)
        back = SimulatedEscPosPrinter()
        await back.attach(testbed.get_dev_fd("/dev/usb/lp1"))
        holder = hold_open("/dev/usb/lp1")
        try:
            await until(lambda: printer_state(manager) == (DeviceState.READY, ""))
            assert manager.diagnostics()[0]["address"].startswith("/dev/usb/lp1")
            await manager.print_receipt(Receipt("Reçu", ["Après rebranchement"]))
            assert "Après rebranchement" in back.printed.lines
        finally:
            await back.stop()
            os.close(holder)

"""Hotplug of the A4 printer, the scanner and the smart-card reader, with real jobs.

umockdev fakes only the USB device and its udev ``add``/``remove`` events (real
USB transfers cannot be faked here); the jobs themselves run against the real
thing: a private cupsd with a slow backend (a printer still printing), SANE's
``test`` backend slowed down (a scan in progress) and pcscd with a vpcd reader
(a card read waiting for the card). Pulling the USB device must fail the running
job with "… débranché(e)" at once, cancel it (the CUPS job leaves the queue), keep
the manager up, and plugging it back must re-probe at once, not after the probe
interval.

umockdev preloads a library, so the module re-runs itself under
``umockdev-wrapper`` (see ``umockdev_support.py``); cupsd and pcscd are started
without that library, so they see the real machine. Needs root (cupsd, pcscd).
"""

from __future__ import annotations

from umockdev_support import UNDER_UMOCKDEV, new_testbed, run_module_under_umockdev

if not UNDER_UMOCKDEV:

    def test_hotplug_jobs_suite_under_umockdev() -> None:
        """Run this module's umockdev tests under umockdev-wrapper."""
        run_module_under_umockdev(__file__)

else:
    import asyncio
    import gc
    import io
    import os
    from collections.abc import AsyncIterator, Callable, Iterator
    from pathlib import Path
    from typing import Any

    import pytest
    from PIL import Image
    from umockdev_support import without_umockdev

    from kiosk.devices import a4_printer, smartcard_reader
    from kiosk.devices import manager as manager_module
    from kiosk.devices.base import DeviceError, DeviceState
    from kiosk.devices.config import DevicesConfig, Role
    from kiosk.devices.manager import DeviceManager
    from kiosk.devices.sim.cups_pdf import (
        CUPS_PDF_PPD,
        CupsServer,
        make_cups_server,
        stop_cups_server,
    )
    from kiosk.devices.sim.pcscd import PrivatePcscd, why_not_private_pcscd
    from kiosk.devices.sim.virtual_card import VirtualCard

    WAIT_S = 10.0
    SCANNER_USB = ("04a9", "1909")
    PRINTER_USB = ("04f9", "0042")
    READER_USB = ("072f", "2200")

    SANE_TEST_CONF = """\
number_of_devices 1
mode Gray
depth 8
resolution_min 1.0
resolution_max 1200.0
resolution_quant 1.0
resolution 50.0
test-picture "Grid"
geometry_min 0.0
geometry_max 300.0
geometry_quant 1.0
"""
    SLOW_BACKEND = """#!/bin/sh
# Test backend: a printer that takes the job and keeps printing it for a minute.
if [ $# -eq 0 ]; then
    echo 'direct slow "Unknown" "Slow printer simulator"'
    exit 0
fi
if [ -n "$6" ]; then cat "$6"; else cat; fi > /dev/null
exec sleep 60
"""
    SLOW_QUEUE = "SLOW"

    def usb_device(port: int, ids: tuple[str, str]) -> tuple[str, str]:
        """(sysfs path, umockdev description) of a USB device on bus 1, port ``port``."""
        sysfs = f"/devices/pci0000:00/0000:00:14.0/usb1/1-{port}"
        vendor, product = ids
        description = (
            f"P: {sysfs}\nN: bus/usb/001/{port + 1:03d}\n"
            f"E: DEVNAME=/dev/bus/usb/001/{port + 1:03d}\nE: SUBSYSTEM=usb\n"
            f"E: DEVTYPE=usb_device\nE: ID_VENDOR_ID={vendor}\nE: ID_MODEL_ID={product}\n"
            f"A: idVendor={vendor}\nA: idProduct={product}\nA: dev=189:{port}\n"
        )
        return sysfs, description

    async def until(condition: Callable[[], bool], timeout: float = WAIT_S) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.02)

    def state(manager: DeviceManager, role: Role) -> tuple[DeviceState, str]:
        status = manager.statuses[role]
        return status.state, status.reason

    @pytest.fixture(autouse=True)
    def probe_only_on_hotplug(monkeypatch: pytest.MonkeyPatch) -> None:
        """Periodic probes far away: READY after a replug can only come from the add event."""
        monkeypatch.setattr(manager_module, "PROBE_INTERVAL_S", 600.0)
        monkeypatch.setattr(manager_module, "PROBE_RETRY_FIRST_S", 600.0)
        monkeypatch.setattr(a4_printer, "POLL_S", 0.1)

    @pytest.fixture
    def testbed() -> Iterator[Any]:
        tb = new_testbed()
        yield tb
        tb.clear()
        # Dispose of it now, not during the next test (it would unset UMOCKDEV_DIR).
        del tb
        gc.collect()

    @pytest.fixture
    async def manager_for() -> AsyncIterator[Callable[[dict[str, Any]], DeviceManager]]:
        made: list[DeviceManager] = []

        def make(devices: dict[str, Any]) -> DeviceManager:
            mgr = DeviceManager(DevicesConfig.model_validate(devices))
            made.append(mgr)
            return mgr

        yield make
        for mgr in made:
            await mgr.stop()

    # ------------------------------------------------------------------ scanner

    @pytest.fixture(scope="module")
    def sane_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
        """A private SANE config with only the ``test`` backend (read at first sane_init)."""
        folder = tmp_path_factory.mktemp("sane")
        (folder / "dll.conf").write_text("test\n")
        (folder / "test.conf").write_text(SANE_TEST_CONF)
        previous = os.environ.get("SANE_CONFIG_DIR")
        os.environ["SANE_CONFIG_DIR"] = str(folder)
        yield folder
        if previous is None:
            os.environ.pop("SANE_CONFIG_DIR", None)
        else:
            os.environ["SANE_CONFIG_DIR"] = previous

    def slow_scans(slow: bool) -> None:
        """The test backend keeps option values between opens, like a scanner's panel."""
        import sane

        from kiosk.devices.scanner import _sane

        _sane()  # sane_init once, the way the driver does
        dev = sane.open("test:0")
        try:
            dev.read_limit = slow
            dev.read_delay = slow
            if slow:  # the sizes are inactive options until their switch is on
                dev.read_limit_size = 4096
                dev.read_delay_duration = 20000  # µs per 4 kB: an A4 page takes ~30 s
        finally:
            dev.close()

    async def test_scanner_unplugged_mid_scan_fails_the_scan_and_comes_back_on_replug(
        testbed: Any, sane_dir: Path, manager_for: Callable[[dict[str, Any]], DeviceManager]
    ) -> None:
        pytest.importorskip("sane")
        sysfs, description = usb_device(2, SCANNER_USB)
        assert testbed.add_from_string(description)
        await asyncio.to_thread(slow_scans, True)
        manager = manager_for(
            {
                "scanner": {"device": "test:0", "dpi": 150, "usb": ":".join(SCANNER_USB)},
                "barcode_reader": {"path": "loop://"},
            }
        )
        try:
            await manager.start()
            await until(lambda: state(manager, Role.SCANNER) == (DeviceState.READY, ""))

            scan = asyncio.create_task(manager.scan())
            await until(lambda: state(manager, Role.SCANNER)[0] is DeviceState.BUSY)
            await asyncio.sleep(0.2)
            assert not scan.done()
            testbed.uevent("/sys" + sysfs, "remove")
            with pytest.raises(DeviceError) as err:
                await asyncio.wait_for(scan, WAIT_S)
            assert err.value.code == "unplugged"
            assert err.value.reason == "numérisation impossible : scanner débranché"
            assert state(manager, Role.SCANNER) == (DeviceState.UNAVAILABLE, "scanner débranché")
            # The rest of the booth carries on, and a new scan is refused plainly.
            assert state(manager, Role.BARCODE_READER)[0] is DeviceState.READY
            with pytest.raises(DeviceError) as refused:
                await manager.scan()
            assert refused.value.reason == "scanner indisponible : scanner débranché"

            await asyncio.to_thread(slow_scans, False)
            testbed.uevent("/sys" + sysfs, "add")
            # Probes are 600 s apart here: READY now means the add re-probed at once.
            await until(lambda: state(manager, Role.SCANNER) == (DeviceState.READY, ""))
            result = await manager.scan()
            assert result.media_type == "image/png"
            assert Image.open(io.BytesIO(result.data)).size == (result.width, result.height)
        finally:
            await asyncio.to_thread(slow_scans, False)

    # ------------------------------------------------------------------ A4 printer

    @pytest.fixture
    def cups() -> Iterator[CupsServer]:
        """A private cupsd (seeing the real machine) with a slow queue."""
        server = make_cups_server()
        server.env = without_umockdev(server.env)
        try:
            slow = server.root / "serverbin" / "backend" / "slow"
            slow.write_text(SLOW_BACKEND)
            slow.chmod(0o755)
            server.start()
            server.add_queue(SLOW_QUEUE, "slow:/", CUPS_PDF_PPD)
            yield server
        finally:
            stop_cups_server(server)

    def one_page_pdf() -> bytes:
        out = io.BytesIO()
        Image.new("RGB", (595, 842), "white").save(out, "PDF", resolution=72.0)
        return out.getvalue()

    def queued_jobs(cups: CupsServer) -> str:
        return cups.run("lpstat", "-o", SLOW_QUEUE, check=False).stdout.strip()

    async def test_a4_printer_unplugged_mid_job_cancels_the_cups_job_and_comes_back(
        testbed: Any, cups: CupsServer, manager_for: Callable[[dict[str, Any]], DeviceManager]
    ) -> None:
        sysfs, description = usb_device(3, PRINTER_USB)
        assert testbed.add_from_string(description)
        manager = manager_for(
            {
                "a4_printer": {
                    "queue": SLOW_QUEUE,
                    "server": cups.server,
                    "usb": ":".join(PRINTER_USB),
                },
                "barcode_reader": {"path": "loop://"},
            }
        )
        await manager.start()
        await until(lambda: state(manager, Role.A4_PRINTER) == (DeviceState.READY, ""))

        job = asyncio.create_task(manager.print_pdf(one_page_pdf(), "Attestation CAF"))
        async with asyncio.timeout(WAIT_S):
            while not await asyncio.to_thread(queued_jobs, cups):
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        assert not job.done(), "the slow printer is still printing"
        testbed.uevent("/sys" + sysfs, "remove")
        with pytest.raises(DeviceError) as err:
            await asyncio.wait_for(job, WAIT_S)
        assert err.value.code == "unplugged"
        assert err.value.reason == "impression du document impossible : imprimante A4 débranchée"
        assert state(manager, Role.A4_PRINTER) == (
            DeviceState.UNAVAILABLE,
            "imprimante A4 débranchée",
        )
        # The citizen's document left CUPS: cancelled and purged, nothing in the spool.
        await asyncio.to_thread(cups.wait_idle, SLOW_QUEUE, WAIT_S)
        assert not list((cups.root / "spool").glob("d*"))
        assert state(manager, Role.BARCODE_READER)[0] is DeviceState.READY

        testbed.uevent("/sys" + sysfs, "add")
        await until(lambda: state(manager, Role.A4_PRINTER) == (DeviceState.READY, ""))

    # ------------------------------------------------------------------ smart cards

    @pytest.fixture
    def pcscd(tmp_path: Path) -> Iterator[PrivatePcscd]:
        """Run under ``flock /tmp/guichet-pcscd.lock``: one pcscd on the machine at a time."""
        reason = why_not_private_pcscd()
        assert reason is None, reason
        daemon = PrivatePcscd(tmp_path, env=without_umockdev(dict(os.environ)))
        daemon.start()
        try:
            yield daemon
        finally:
            daemon.stop()

    async def test_smart_card_reader_unplugged_while_waiting_for_a_card_then_replugged(
        testbed: Any,
        pcscd: PrivatePcscd,
        manager_for: Callable[[dict[str, Any]], DeviceManager],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        pytest.importorskip("smartcard")
        monkeypatch.setattr(smartcard_reader, "POLL_INTERVAL_S", 0.05)
        monkeypatch.setattr(smartcard_reader, "BACKOFF_START_S", 0.05)
        sysfs, description = usb_device(4, READER_USB)
        assert testbed.add_from_string(description)
        manager = manager_for(
            {"smart_card": {"reader": "Virtual PCD", "usb": ":".join(READER_USB)}}
        )
        await manager.start()
        await until(lambda: state(manager, Role.SMART_CARD) == (DeviceState.READY, ""))

        read = asyncio.create_task(manager.read_card(timeout=WAIT_S))
        await asyncio.sleep(0.3)
        assert not read.done()
        testbed.uevent("/sys" + sysfs, "remove")
        with pytest.raises(DeviceError) as err:
            await asyncio.wait_for(read, 2.0)
        assert err.value.code == "unplugged"
        assert err.value.reason == (
            "lecture de la carte impossible : lecteur de cartes à puce débranché"
        )
        assert state(manager, Role.SMART_CARD) == (
            DeviceState.UNAVAILABLE,
            "lecteur de cartes à puce débranché",
        )

        testbed.uevent("/sys" + sysfs, "add")
        await until(lambda: state(manager, Role.SMART_CARD) == (DeviceState.READY, ""))
        card = VirtualCard(pcscd.port)
        await card.insert("mifare_classic_1k", uid=bytes.fromhex("04A1B2C3"))
        try:
            await card.wait_connected(5.0)
            result = await manager.read_card(timeout=WAIT_S)
            assert (result.uid, result.card_type) == ("04A1B2C3", "mifare_classic_1k")
        finally:
            await card.remove()

"""USB hotplug under umockdev: fake udev devices, uevents and a fake serial port.

umockdev works by preloading a library into the process, so these tests must run
under ``umockdev-wrapper``. A plain ``pytest`` run collects only
:func:`test_hotplug_suite_under_umockdev`, which runs this very module again
under the wrapper in a subprocess and fails (never skips) if umockdev is missing.
"""

from __future__ import annotations

import os

import pytest
from umockdev_support import UNDER_UMOCKDEV, new_testbed, run_module_under_umockdev

from kiosk.devices.config import DevicesConfig, Role
from kiosk.devices.hotplug import HotplugRule, match_role, rules_from_config


def test_hotplug_rules_and_matching_are_pure() -> None:
    config = DevicesConfig.model_validate(
        {"barcode_reader": {"usb": "0C2E:0B61"}, "card_reader": {"path": "/dev/ttyS0"}}
    )
    rules = rules_from_config(config)
    assert rules == [HotplugRule(Role.BARCODE_READER, "0c2e", "0b61", "tty")]
    props = {"ID_VENDOR_ID": "0C2E", "ID_MODEL_ID": "0B61"}
    assert match_role(rules, "tty", props) is Role.BARCODE_READER
    assert match_role(rules, "usbmisc", props) is None
    assert match_role(rules, "tty", {}, [("0c2e", "0b61")]) is Role.BARCODE_READER
    assert match_role(rules, "tty", {"ID_VENDOR_ID": "0403", "ID_MODEL_ID": "6001"}) is None


if not UNDER_UMOCKDEV:

    def test_hotplug_suite_under_umockdev() -> None:
        """Run this module's umockdev tests under umockdev-wrapper."""
        run_module_under_umockdev(__file__)

else:
    import asyncio
    from collections.abc import AsyncIterator, Callable, Iterator
    from typing import Any

    from kiosk.devices import barcode_reader, reopen, serial_card_reader
    from kiosk.devices.base import DeviceError, DeviceState
    from kiosk.devices.card_line_protocol import (
        CardIn,
        CardUid,
        Command,
        CommandParser,
        Ok,
        ReaderStatus,
        encode_message,
    )
    from kiosk.devices.hotplug import HotplugEvent, HotplugWatcher
    from kiosk.devices.manager import DeviceManager

    WAIT_S = 5.0
    SCANNER_SYSFS = "/devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.0/tty/ttyACM0"
    CARD_SYSFS = "/devices/pci0000:00/0000:00:14.0/usb1/1-3/1-3:1.0/ttyUSB0/tty/ttyUSB0"

    def tty_description(sysfs: str, name: str, vendor: str, product: str) -> str:
        """A umockdev device description of a USB serial port with its udev IDs."""
        return (
            f"P: {sysfs}\nN: {name}\nE: DEVNAME=/dev/{name}\nE: SUBSYSTEM=tty\n"
            f"E: ID_VENDOR_ID={vendor}\nE: ID_MODEL_ID={product}\nA: dev=166:0\n"
        )

    class CardReaderSide:
        """The card reader's end of umockdev's fake tty, speaking docs/devices.md's protocol.

        (The pty simulator owns its own pty; umockdev gives us the other end of
        /dev/ttyUSB0 as a file descriptor instead, so the few answers needed live here.)
        """

        def __init__(self, fd: int) -> None:
            self.fd = fd
            self.card: CardUid | None = None
            self.parser = CommandParser()
            os.set_blocking(fd, False)
            asyncio.get_running_loop().add_reader(fd, self._readable)

        def close(self) -> None:
            asyncio.get_running_loop().remove_reader(self.fd)

        def insert(self, uid: str) -> None:
            self.card = CardUid(uid, "ISO14443A")
            os.write(self.fd, encode_message(CardIn(uid, "ISO14443A")))

        def _readable(self) -> None:
            try:
                data = os.read(self.fd, 1024)
            except OSError:
                return
            for command in self.parser.feed(data):
                if command is Command.PING:
                    os.write(self.fd, encode_message(Ok()))
                elif command is Command.STATUS:
                    card = self.card
                    answer = ReaderStatus(card.uid, card.card_type) if card else ReaderStatus()
                    os.write(self.fd, encode_message(answer))
                elif command is Command.READ and self.card is not None:
                    os.write(self.fd, encode_message(self.card))

    async def until(condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(WAIT_S):
            while not condition():
                await asyncio.sleep(0.01)

    @pytest.fixture(autouse=True)
    def fast_timers(monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(barcode_reader, "READ_POLL_S", 0.02)
        monkeypatch.setattr(serial_card_reader, "READ_POLL_S", 0.02)
        monkeypatch.setattr(reopen, "REOPEN_FIRST_DELAY_S", 0.02)
        monkeypatch.setattr(reopen, "REOPEN_MAX_DELAY_S", 0.05)

    @pytest.fixture
    def testbed() -> Iterator[Any]:
        tb = new_testbed()
        yield tb
        tb.clear()

    @pytest.fixture
    async def manager() -> AsyncIterator[DeviceManager]:
        config = DevicesConfig.model_validate(
            {"barcode_reader": {"usb": "0c2e:0b61"}, "card_reader": {"usb": "0403:6001"}}
        )
        mgr = DeviceManager(config)
        yield mgr
        await mgr.stop()

    async def test_hotplug_watcher_reports_present_added_and_removed_devices(
        testbed: Any,
    ) -> None:
        assert testbed.add_from_string(tty_description(SCANNER_SYSFS, "ttyACM0", "0c2e", "0b61"))
        events: list[HotplugEvent] = []
        rules = [HotplugRule(Role.BARCODE_READER, "0c2e", "0b61")]
        watcher = HotplugWatcher(rules, events.append)
        watcher.start()
        try:
            assert [(e.action, e.devnode) for e in events] == [("add", "/dev/ttyACM0")]
            # A device of another vendor is not ours.
            testbed.add_from_string(tty_description(CARD_SYSFS, "ttyUSB0", "1a86", "7523"))
            testbed.uevent("/sys" + SCANNER_SYSFS, "remove")
            await until(lambda: len(events) == 2)
            assert (events[1].action, events[1].role) == ("remove", Role.BARCODE_READER)
        finally:
            watcher.stop()

    async def test_hotplug_barcode_reader_plugged_in_after_boot_delivers_codes(
        testbed: Any, manager: DeviceManager
    ) -> None:
        await manager.start()
        await until(lambda: manager.statuses[Role.BARCODE_READER].state is DeviceState.UNAVAILABLE)
        assert "en attente du branchement" in manager.statuses[Role.BARCODE_READER].reason

        testbed.add_from_string(tty_description(SCANNER_SYSFS, "ttyACM0", "0c2e", "0b61"))
        await until(lambda: manager.statuses[Role.BARCODE_READER].state is DeviceState.READY)
        scanner_side = testbed.get_dev_fd("/dev/ttyACM0")
        pending = asyncio.create_task(manager.next_code(timeout=WAIT_S))
        await until(lambda: bool(manager._code_waiters))
        # The barcode simulator's protocol: one code, CR LF.
        os.write(scanner_side, b"RDV-HOTPLUG-7\r\n")
        assert await pending == "RDV-HOTPLUG-7"

    async def test_hotplug_unplugged_card_reader_fails_its_job_and_booth_stays_up(
        testbed: Any, manager: DeviceManager
    ) -> None:
        testbed.add_from_string(tty_description(SCANNER_SYSFS, "ttyACM0", "0c2e", "0b61"))
        testbed.add_from_string(tty_description(CARD_SYSFS, "ttyUSB0", "0403", "6001"))
        await manager.start()
        await until(lambda: manager.statuses[Role.BARCODE_READER].state is DeviceState.READY)
        reader = CardReaderSide(testbed.get_dev_fd("/dev/ttyUSB0"))
        try:
            await until(lambda: manager.statuses[Role.CARD_READER].state is DeviceState.READY)

            read = asyncio.create_task(manager.read_card(timeout=WAIT_S))
            await asyncio.sleep(0.2)
            testbed.uevent("/sys" + CARD_SYSFS, "remove")
            with pytest.raises(DeviceError) as err:
                await read
            assert err.value.code == "unplugged"
            assert "lecteur de cartes débranché" in err.value.reason
            status = manager.statuses[Role.CARD_READER]
            assert (status.state, status.reason) == (
                DeviceState.UNAVAILABLE,
                "lecteur de cartes débranché",
            )
            assert manager.statuses[Role.BARCODE_READER].state is DeviceState.READY

            # Plugged in again: opened at the DEVNAME udev gives, and reads a card.
            testbed.uevent("/sys" + CARD_SYSFS, "add")
            await until(lambda: manager.statuses[Role.CARD_READER].state is DeviceState.READY)
            reader.insert("04A1B2C3")
            card = await manager.read_card(timeout=WAIT_S)
            assert card.uid == "04A1B2C3"
        finally:
            reader.close()

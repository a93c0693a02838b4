"""Serial card reader driver against the pty card reader simulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from kiosk.devices import reopen, serial_card_reader
from kiosk.devices.base import DeviceError, DeviceState, DeviceStatus
from kiosk.devices.card_line_protocol import Command
from kiosk.devices.serial_card_reader import CardPresence, CardRead, SerialCardReader
from kiosk.devices.sim.card_reader import CardReaderSimulator
from kiosk.devices.transport import SerialTransport, TransportClosed

WAIT_S = 3.0
UID = "04A1B2C3D4E5F6"


@pytest.fixture(autouse=True)
def fast_timers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serial_card_reader, "READ_POLL_S", 0.02)
    monkeypatch.setattr(serial_card_reader, "COMMAND_TIMEOUT_S", 0.3)
    monkeypatch.setattr(reopen, "REOPEN_FIRST_DELAY_S", 0.02)
    monkeypatch.setattr(reopen, "REOPEN_MAX_DELAY_S", 0.05)


async def until(condition: Callable[[], bool]) -> None:
    """Wait until ``condition`` holds, failing after WAIT_S."""
    async with asyncio.timeout(WAIT_S):
        while not condition():
            await asyncio.sleep(0.01)


@pytest.fixture
async def sim() -> AsyncIterator[CardReaderSimulator]:
    simulator = CardReaderSimulator(read_delay_s=0.05)
    await simulator.start()
    yield simulator
    await simulator.stop()


class Seen:
    def __init__(self) -> None:
        self.statuses: list[DeviceStatus] = []
        self.presence: list[CardPresence] = []


@pytest.fixture
async def reader(
    sim: CardReaderSimulator,
) -> AsyncIterator[tuple[SerialCardReader, Seen]]:
    seen = Seen()
    driver = SerialCardReader(
        SerialTransport(sim.device_path),
        on_status=seen.statuses.append,
        on_presence=seen.presence.append,
    )
    await driver.start()
    await until(lambda: driver.status.state is DeviceState.READY)
    yield driver, seen
    await driver.stop()


async def test_inserted_card_is_read_with_uid_and_type(
    sim: CardReaderSimulator, reader: tuple[SerialCardReader, Seen]
) -> None:
    driver, seen = reader
    sim.insert(UID, "MIFARE_DESFIRE")
    await until(lambda: driver.presence.present)
    assert await driver.read_card(timeout=2.0) == CardRead(UID, "MIFARE_DESFIRE")
    assert seen.presence == [CardPresence(True, UID, "MIFARE_DESFIRE")]
    assert driver.status.state is DeviceState.READY
    assert DeviceState.BUSY in [s.state for s in seen.statuses]


async def test_read_waits_for_the_card_to_be_presented(
    sim: CardReaderSimulator, reader: tuple[SerialCardReader, Seen]
) -> None:
    driver, _ = reader
    read = asyncio.create_task(driver.read_card(timeout=2.0))
    await until(lambda: sim.received.count(Command.READ) == 1)
    sim.insert("DEADBEEF", "CONTACT")
    assert await read == CardRead("DEADBEEF", "CONTACT")


async def test_no_card_in_time_is_a_timeout(reader: tuple[SerialCardReader, Seen]) -> None:
    driver, _ = reader
    with pytest.raises(DeviceError) as caught:
        await driver.read_card(timeout=0.2)
    assert caught.value.code == "timeout"
    assert caught.value.reason == "aucune carte présentée à temps"
    assert driver.status.state is DeviceState.READY


async def test_card_removed_mid_read_is_a_clear_error(
    sim: CardReaderSimulator, reader: tuple[SerialCardReader, Seen]
) -> None:
    driver, seen = reader
    sim.read_delay_s = 1.0
    sim.insert(UID)
    await until(lambda: driver.presence.present)
    read = asyncio.create_task(driver.read_card(timeout=2.0))
    await until(lambda: Command.READ in sim.received)
    sim.remove()
    with pytest.raises(DeviceError) as caught:
        await read
    assert caught.value.code == "card_removed"
    assert caught.value.reason == "carte retirée pendant la lecture"
    assert seen.presence[-1] == CardPresence(False)
    # The reader is fine afterwards.
    sim.read_delay_s = 0.01
    sim.insert(UID)
    assert (await driver.read_card(timeout=2.0)).uid == UID


async def test_garbled_frames_are_counted_and_the_command_is_retried(
    sim: CardReaderSimulator, reader: tuple[SerialCardReader, Seen]
) -> None:
    driver, _ = reader
    sim.send_raw(b"\x00\xff noise without end" * 50)
    sim.send_raw(b"\r\nCARD OUT*00\r\n")
    sim.insert(UID)
    await until(lambda: driver.presence.present)
    sim.corrupt_next(1)  # the READ answer is garbled: the driver asks again
    assert await driver.read_card(timeout=3.0) == CardRead(UID, "ISO14443A")
    assert driver.parser.errors["bad_checksum"] == 2
    assert driver.parser.errors["too_long"] == 1
    assert driver.parser.buffered < 100


async def test_mute_reader_is_unavailable_and_recovers(
    sim: CardReaderSimulator, reader: tuple[SerialCardReader, Seen]
) -> None:
    driver, _ = reader
    sim.mute = True
    with pytest.raises(DeviceError) as caught:
        await driver.ping()
    assert caught.value.code == "no_answer"
    assert driver.status.state is DeviceState.UNAVAILABLE
    assert driver.status.reason == "le lecteur de cartes ne répond pas"
    sim.mute = False
    await driver.ping()
    await until(lambda: driver.status.state is DeviceState.READY)


async def test_unplugged_mid_read_is_device_error_and_unavailable(
    sim: CardReaderSimulator, reader: tuple[SerialCardReader, Seen]
) -> None:
    driver, seen = reader
    sim.read_delay_s = 5.0
    sim.insert(UID)
    await until(lambda: driver.presence.present)
    read = asyncio.create_task(driver.read_card(timeout=3.0))
    await until(lambda: Command.READ in sim.received)
    await sim.stop()
    with pytest.raises(DeviceError) as caught:
        await read
    assert caught.value.code == "unplugged"
    assert caught.value.reason == "lecteur de cartes débranché"
    await until(lambda: driver.status.state is DeviceState.UNAVAILABLE)
    assert driver.status.reason == "lecteur de cartes débranché"
    assert seen.presence[-1] == CardPresence(False)
    with pytest.raises(DeviceError, match="unplugged"):
        await driver.read_card(timeout=0.5)


async def test_unplugged_reader_is_reopened_when_it_comes_back() -> None:
    first, second = CardReaderSimulator(), CardReaderSimulator()
    await first.start()
    statuses: list[DeviceStatus] = []

    def opener() -> SerialTransport:
        if not second.device_path:
            raise TransportClosed("absent")
        return SerialTransport(second.device_path)

    driver = SerialCardReader(
        SerialTransport(first.device_path), on_status=statuses.append, opener=opener
    )
    await driver.start()
    try:
        await until(lambda: driver.status.state is DeviceState.READY)
        await first.stop()
        await until(lambda: driver.status.state is DeviceState.UNAVAILABLE)
        await second.start()
        second.insert("DEADBEEF", "CONTACT")
        await until(lambda: driver.status.state is DeviceState.READY)
        assert await driver.read_card(timeout=2.0) == CardRead("DEADBEEF", "CONTACT")
    finally:
        await driver.stop()
        await second.stop()
        await first.stop()

"""Barcode reader driver against the pty scanner simulator: real serial ports."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import pytest

from kiosk.devices import barcode_reader, reopen
from kiosk.devices.barcode_protocol import FramerConfig
from kiosk.devices.barcode_reader import BarcodeReader
from kiosk.devices.base import DeviceState, DeviceStatus
from kiosk.devices.sim.barcode_reader import BarcodeScannerSimulator
from kiosk.devices.transport import SerialTransport, TransportClosed

WAIT_S = 3.0


@pytest.fixture(autouse=True)
def fast_timers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(barcode_reader, "READ_POLL_S", 0.02)
    monkeypatch.setattr(reopen, "REOPEN_FIRST_DELAY_S", 0.02)
    monkeypatch.setattr(reopen, "REOPEN_MAX_DELAY_S", 0.05)


@pytest.fixture
async def scanner() -> AsyncIterator[BarcodeScannerSimulator]:
    sim = BarcodeScannerSimulator()
    await sim.start()
    yield sim
    await sim.stop()


async def until(condition: Callable[[], bool]) -> None:
    """Wait until ``condition`` holds, failing after WAIT_S."""
    async with asyncio.timeout(WAIT_S):
        while not condition():
            await asyncio.sleep(0.01)


class Recorder:
    def __init__(self) -> None:
        self.scans: list[str] = []
        self.statuses: list[DeviceStatus] = []


@pytest.fixture
def seen() -> Recorder:
    return Recorder()


def make_reader(path: str, seen: Recorder, **kwargs: object) -> BarcodeReader:
    return BarcodeReader(
        SerialTransport(path),
        on_scan=seen.scans.append,
        on_status=seen.statuses.append,
        **kwargs,  # type: ignore[arg-type]
    )


async def test_scans_arrive_whole_even_when_split_in_chunks(
    scanner: BarcodeScannerSimulator, seen: Recorder
) -> None:
    reader = make_reader(scanner.device_path, seen)
    await reader.start()
    try:
        await until(lambda: reader.status.state is DeviceState.READY)
        await scanner.scan("CONV-2026-000417")
        await scanner.scan("RDV:CAF:8F3K2Q", chunk_size=3)
        await scanner.scan("Préfecture-0042", chunk_size=1)
        await until(lambda: len(seen.scans) == 3)
        assert seen.scans == ["CONV-2026-000417", "RDV:CAF:8F3K2Q", "Préfecture-0042"]
    finally:
        await reader.stop()


async def test_garbage_and_oversized_lines_are_counted_not_crashing(
    scanner: BarcodeScannerSimulator, seen: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    reader = make_reader(scanner.device_path, seen, config=FramerConfig(max_length=32))
    await reader.start()
    try:
        with caplog.at_level(logging.WARNING):
            await scanner.send_garbage(b"\x00\xff\x1b[2J\r\n")
            await scanner.send_garbage(b"X" * 5000)  # flood without terminator
            await scanner.scan("Y" * 40)
            await scanner.scan("CONV-OK")
            await until(lambda: seen.scans == ["CONV-OK"])
        assert reader.framer.rejected == {"not_text": 1, "too_long": 1}
        assert reader.framer.buffered <= reader.framer.max_buffer
        assert reader.status.state is DeviceState.READY
        assert "line rejected (too_long" in caplog.text
    finally:
        await reader.stop()


async def test_failing_listener_does_not_stop_the_reader(
    scanner: BarcodeScannerSimulator,
) -> None:
    got: list[str] = []

    def listener(code: str) -> None:
        got.append(code)
        raise RuntimeError("screen bug")

    reader = BarcodeReader(
        SerialTransport(scanner.device_path), on_scan=listener, on_status=lambda s: None
    )
    await reader.start()
    try:
        await scanner.scan("A1")
        await scanner.scan("B2")
        await until(lambda: got == ["A1", "B2"])
    finally:
        await reader.stop()


async def test_unplugged_scanner_goes_unavailable_then_comes_back(
    scanner: BarcodeScannerSimulator, seen: Recorder
) -> None:
    replacement = BarcodeScannerSimulator()
    attempts: list[int] = []

    def opener() -> SerialTransport:
        attempts.append(1)
        if not replacement.device_path:
            raise TransportClosed("not plugged yet")
        return SerialTransport(replacement.device_path)

    reader = make_reader(scanner.device_path, seen, opener=opener)
    await reader.start()
    try:
        await until(lambda: reader.status.state is DeviceState.READY)
        await scanner.stop()
        await until(lambda: reader.status.state is DeviceState.UNAVAILABLE)
        assert reader.status.reason == "lecteur débranché"
        await until(lambda: len(attempts) >= 2)  # keeps trying while absent
        await replacement.start()
        await until(lambda: reader.status.state is DeviceState.READY)
        await replacement.scan("AFTER-REPLUG", chunk_size=4)
        await until(lambda: seen.scans == ["AFTER-REPLUG"])
        states = [s.state for s in seen.statuses]
        assert states == [DeviceState.READY, DeviceState.UNAVAILABLE, DeviceState.READY]
    finally:
        await reader.stop()
        await replacement.stop()


async def test_absent_at_boot_without_opener_is_unavailable_and_stops_cleanly(
    seen: Recorder,
) -> None:
    reader = BarcodeReader(None, on_scan=seen.scans.append, on_status=seen.statuses.append)
    await reader.start()
    await until(lambda: reader.status.state is DeviceState.UNAVAILABLE)
    assert reader.status.reason == "lecteur absent"
    await reader.stop()
    await reader.stop()

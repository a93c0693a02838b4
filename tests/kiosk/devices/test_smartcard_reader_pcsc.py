"""PC/SC reader driver against a real pcscd with vsmartcard's vpcd and a tiny card emulator.

pcscd serves only the system socket (see ``pcsc_server.py``), so these tests need
root and no other pcscd running; they skip otherwise.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pcsc_server import MIFARE_1K_ATR, VPCD_DRIVER, Pcscd, VirtualCard

from kiosk.devices import smartcard_reader
from kiosk.devices.base import DeviceError, DeviceState, DeviceStatus
from kiosk.devices.smartcard_reader import SmartCardReader

pytest.importorskip("smartcard")


@pytest.fixture
def pcscd(tmp_path: Path) -> Iterator[Pcscd]:
    if os.geteuid() != 0 or not VPCD_DRIVER.exists():
        pytest.skip("needs root, pcscd and vsmartcard-vpcd")
    if subprocess.run(["pgrep", "-x", "pcscd"], capture_output=True).returncode == 0:
        pytest.skip("another pcscd is running on the system socket")
    daemon = Pcscd(tmp_path)
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture(autouse=True)
def fast_timers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smartcard_reader, "POLL_INTERVAL_S", 0.05)
    monkeypatch.setattr(smartcard_reader, "BACKOFF_START_S", 0.05)
    monkeypatch.setattr(smartcard_reader, "BACKOFF_MAX_S", 0.2)


async def test_inserted_card_gives_atr_type_and_uid(pcscd: Pcscd) -> None:
    card = VirtualCard(pcscd.port)
    card.insert()
    try:
        reader = SmartCardReader("Virtual PCD", on_status=lambda _s: None)
        info = await reader.read_card(timeout=3)
        assert info.atr_hex == " ".join(f"{b:02X}" for b in MIFARE_1K_ATR)
        assert info.card_type == "mifare_classic_1k"
        assert info.uid_hex == "04A1B2C3"
    finally:
        card.remove()


async def test_no_card_in_time_is_a_clear_error(pcscd: Pcscd) -> None:
    reader = SmartCardReader("Virtual PCD", on_status=lambda _s: None)
    with pytest.raises(DeviceError) as caught:
        await reader.read_card(timeout=0.3)
    assert caught.value.code == "no_card"


async def test_card_pulled_out_mid_read_is_a_clear_error(pcscd: Pcscd) -> None:
    card = VirtualCard(pcscd.port)
    card.drop_on_apdu = True
    card.insert()
    reader = SmartCardReader("Virtual PCD", on_status=lambda _s: None)
    with pytest.raises(DeviceError) as caught:
        await reader.read_card(timeout=3)
    assert caught.value.code in ("card_removed", "card_error")
    assert "carte" in caught.value.reason


async def test_monitor_survives_pcscd_restart(pcscd: Pcscd) -> None:
    import asyncio

    statuses: list[DeviceStatus] = []
    reader = SmartCardReader("Virtual PCD", on_status=statuses.append)
    reader.start_monitoring()
    try:
        await _until(lambda: reader.status.state is DeviceState.READY)
        await asyncio.to_thread(pcscd.stop)
        await _until(lambda: reader.status.state is DeviceState.UNAVAILABLE)
        assert "pcscd" in reader.status.reason or "lecteur" in reader.status.reason.lower()
        await asyncio.to_thread(pcscd.start)
        await _until(lambda: reader.status.state is DeviceState.READY)
    finally:
        await reader.stop()


async def _until(condition: object, timeout: float = 5.0) -> None:
    import asyncio

    assert callable(condition)
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition never became true"
        await asyncio.sleep(0.02)

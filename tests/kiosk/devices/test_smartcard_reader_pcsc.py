"""PC/SC reader driver against a real pcscd with vsmartcard's vpcd and the product's virtual card.

pcscd 1.9.9 ignores PCSCLITE_CSOCK_NAME and always serves /run/pcscd/pcscd.comm,
so these tests need root and no other pcscd running; they skip otherwise (and
fail in CI, which runs as root). The reader list comes from a private ``-c``
folder whose vpcd entry listens on a free port (vpcd binds 0.0.0.0, which the
test cannot change).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from kiosk.devices import smartcard_reader
from kiosk.devices.base import DeviceError, DeviceState, DeviceStatus
from kiosk.devices.sim import virtual_card
from kiosk.devices.sim.pcscd import (
    READER_NAME,
    PcscdError,
    PrivatePcscd,
    why_not_private_pcscd,
)
from kiosk.devices.sim.virtual_card import CARD_TYPES, VirtualCard
from kiosk.devices.smartcard_reader import SmartCardReader

pytest.importorskip("smartcard")
UID = bytes.fromhex("04A1B2C3")
CONNECT_S = 5.0


@pytest.fixture
def pcscd(tmp_path: Path) -> Iterator[PrivatePcscd]:
    reason = why_not_private_pcscd()
    if reason is not None:
        pytest.skip(reason)
    daemon = PrivatePcscd(tmp_path)
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture
async def card(pcscd: PrivatePcscd) -> AsyncIterator[VirtualCard]:
    virtual = VirtualCard(pcscd.port)
    try:
        yield virtual
    finally:
        await virtual.remove()


@pytest.fixture(autouse=True)
def fast_timers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smartcard_reader, "POLL_INTERVAL_S", 0.05)
    monkeypatch.setattr(smartcard_reader, "BACKOFF_START_S", 0.05)
    monkeypatch.setattr(smartcard_reader, "BACKOFF_MAX_S", 0.2)


async def test_inserted_card_gives_atr_type_and_uid(card: VirtualCard) -> None:
    await card.insert("mifare_classic_1k", UID)
    await card.wait_connected(CONNECT_S)
    reader = SmartCardReader(READER_NAME, on_status=lambda _s: None)
    info = await reader.read_card(timeout=3)
    assert info.atr_hex == " ".join(f"{b:02X}" for b in CARD_TYPES["mifare_classic_1k"].atr)
    assert info.card_type == "mifare_classic_1k"
    assert info.uid_hex == "04A1B2C3"
    assert card.counters.frames > 0 and card.counters.oversized_frames == 0


async def test_contact_card_type_is_recognised_and_has_no_uid(card: VirtualCard) -> None:
    await card.insert("carte_vitale_2")
    await card.wait_connected(CONNECT_S)
    info = await SmartCardReader(READER_NAME, on_status=lambda _s: None).read_card(timeout=3)
    assert info.card_type == "carte_vitale_2"
    assert info.uid_hex == ""


async def test_removed_card_is_no_longer_seen(card: VirtualCard) -> None:
    await card.insert("mifare_desfire", bytes.fromhex("04112233445566"))
    await card.wait_connected(CONNECT_S)
    reader = SmartCardReader(READER_NAME, on_status=lambda _s: None)
    assert (await reader.read_card(timeout=3)).uid_hex == "04112233445566"
    await card.remove()
    # pcscd notices the removal at its next poll of the reader.
    for _ in range(50):
        if (await reader.probe()).details.get("card") == "absent":
            break
        await asyncio.sleep(0.05)
    assert reader.status.details["card"] == "absent"
    with pytest.raises(DeviceError) as caught:
        await reader.read_card(timeout=0.5)
    assert caught.value.code == "no_card"


async def test_reads_while_the_monitor_polls_are_never_reset(card: VirtualCard) -> None:
    await card.insert()
    await card.wait_connected(CONNECT_S)
    reader = SmartCardReader(READER_NAME, on_status=lambda _s: None)
    reader.start_monitoring()
    try:
        await _until(lambda: reader.status.details.get("card") == "present")
        for _ in range(15):
            assert (await reader.read_card(timeout=3)).uid_hex == "04A1B2C3"
    finally:
        await reader.stop()


async def test_no_card_in_time_is_a_clear_error(pcscd: PrivatePcscd) -> None:
    reader = SmartCardReader(READER_NAME, on_status=lambda _s: None)
    with pytest.raises(DeviceError) as caught:
        await reader.read_card(timeout=0.3)
    assert caught.value.code == "no_card"


async def test_card_pulled_out_mid_read_is_a_clear_error(card: VirtualCard) -> None:
    card.pull_out_on_next_apdu = True
    await card.insert()
    await card.wait_connected(CONNECT_S)
    reader = SmartCardReader(READER_NAME, on_status=lambda _s: None)
    with pytest.raises(DeviceError) as caught:
        await reader.read_card(timeout=3)
    assert caught.value.code in ("card_removed", "card_error")
    assert "carte" in caught.value.reason


async def test_monitor_and_card_survive_pcscd_restart(
    pcscd: PrivatePcscd, card: VirtualCard, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(virtual_card, "RECONNECT_S", 0.05)
    said: list[str] = []
    card.on_change = said.append
    await card.insert()
    await card.wait_connected(CONNECT_S)
    statuses: list[DeviceStatus] = []
    reader = SmartCardReader(READER_NAME, on_status=statuses.append)
    reader.start_monitoring()
    try:
        await _until(lambda: reader.status.state is DeviceState.READY)
        await asyncio.to_thread(pcscd.stop)
        await _until(lambda: reader.status.state is DeviceState.UNAVAILABLE)
        assert "pcscd" in reader.status.reason or "lecteur" in reader.status.reason.lower()
        await _until(lambda: not card.connected)
        await asyncio.to_thread(pcscd.start)
        await _until(lambda: reader.status.state is DeviceState.READY)
        await card.wait_connected(CONNECT_S)
        # pcscd powers the card up at its next poll; read once it says so.
        await _until(lambda: reader.status.details.get("card") == "present")
        info = await reader.read_card(timeout=3)
        assert info.uid_hex == "04A1B2C3"
        assert any("reconnecting" in line for line in said), said
    finally:
        await reader.stop()


async def test_card_waits_quietly_for_vpcd_and_goes_in_when_it_listens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reason = why_not_private_pcscd()
    if reason is not None:
        pytest.skip(reason)
    monkeypatch.setattr(virtual_card, "RECONNECT_S", 0.05)
    daemon = PrivatePcscd(tmp_path)
    said: list[str] = []
    card = VirtualCard(daemon.port, on_change=said.append)
    await card.insert()
    try:
        await asyncio.sleep(0.3)  # several attempts while nothing listens
        assert not card.connected
        assert sum("nothing listens" in line for line in said) == 1
        await asyncio.to_thread(daemon.start)
        await card.wait_connected(CONNECT_S)
        reader = SmartCardReader(READER_NAME, on_status=lambda _s: None)
        assert (await reader.read_card(timeout=3)).uid_hex == "04A1B2C3"
    finally:
        await card.remove()
        await asyncio.to_thread(daemon.stop)


async def _until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition never became true"
        await asyncio.sleep(0.02)


def test_a_second_pcscd_is_refused_at_once_with_the_reason(
    pcscd: PrivatePcscd, tmp_path: Path
) -> None:
    second = PrivatePcscd(tmp_path / "second")
    with pytest.raises(PcscdError, match=r"another pcscd already runs \(pid \d+\)"):
        second.start()
    assert second.process is None
    assert pcscd.process is not None and pcscd.process.poll() is None

"""BoothDeviceHandler: results mapped for the router, activity lines, consent."""

from __future__ import annotations

from typing import Any

import pytest

from guichet.wire import DeviceKind
from kiosk.call import booth_devices as bd
from kiosk.call.device_channel import CardInfo
from kiosk.devices.base import DeviceError
from kiosk.devices.config import Role
from kiosk.devices.manager import CardResult


class FakeManager:
    def __init__(self) -> None:
        self.receipts: list[Any] = []

    async def read_card(self, timeout: float) -> CardResult:
        return CardResult("04AABB", "ISO14443A", Role.CARD_READER)

    async def print_receipt(self, receipt: Any) -> None:
        raise DeviceError("not_configured", "pas d'imprimante de reçus sur cette borne")


async def test_card_read_maps_result_and_reports_activity() -> None:
    lines: list[str] = []

    async def yes(kind: DeviceKind) -> bool:
        return True

    handler = bd.BoothDeviceHandler(FakeManager(), yes, on_activity=lines.append)  # type: ignore[arg-type]
    assert await handler.ask_consent(DeviceKind.READ_CARD) is True
    assert await handler.read_card() == CardInfo(card_type="ISO14443A", uid="04AABB", atr=None)
    assert lines == [bd.MSG_PRESENT_CARD, bd.MSG_CARD_READ]


async def test_missing_device_is_not_supported_and_refusal_is_shown() -> None:
    lines: list[str] = []

    async def broken(kind: DeviceKind) -> bool:
        raise RuntimeError("screen gone")

    handler = bd.BoothDeviceHandler(FakeManager(), broken, on_activity=lines.append)  # type: ignore[arg-type]
    assert await handler.ask_consent(DeviceKind.SCAN) is False
    with pytest.raises(DeviceError) as info:
        await handler.print_receipt("Reçu", ["ligne"], None)
    assert info.value.code == "not_supported"
    assert lines == [bd.MSG_REFUSED, bd.MSG_PRINTING, "pas d'imprimante de reçus sur cette borne"]
    no_devices = bd.BoothDeviceHandler(None, broken)
    with pytest.raises(DeviceError):
        await no_devices.read_code()

"""The virtual card against a vpcd stand-in on 127.0.0.1 (no root): what vpcd sees on the wire."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from kiosk.devices.sim import virtual_card
from kiosk.devices.sim.virtual_card import CARD_TYPES, VirtualCard
from kiosk.devices.sim.vpcd_protocol import Control, encode_control, encode_frame

WAIT_S = 5.0


class FakeVpcd:
    """Plays vpcd's side: accepts the card, sends frames, reads answers."""

    def __init__(self, hang_up_at_once: bool = False) -> None:
        self.hang_up_at_once = hang_up_at_once
        self.connections = 0
        self.clients: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.Queue()
        )
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.hang_up_at_once:
            writer.close()
            return
        await self.clients.put((reader, writer))

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()


async def ask(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, frame: bytes) -> bytes:
    writer.write(frame)
    await writer.drain()
    async with asyncio.timeout(WAIT_S):
        length = int.from_bytes(await reader.readexactly(2), "big")
        return await reader.readexactly(length)


@pytest.fixture
async def vpcd() -> AsyncIterator[FakeVpcd]:
    fake = FakeVpcd()
    await fake.start()
    yield fake
    await fake.close()


async def test_card_answers_atr_and_uid_and_survives_garbage(vpcd: FakeVpcd) -> None:
    card = VirtualCard(vpcd.port)
    await card.insert("mifare_classic_4k", bytes.fromhex("04112233445566"))
    try:
        async with asyncio.timeout(WAIT_S):
            reader, writer = await vpcd.clients.get()
        writer.write(encode_control(Control.ON) + encode_frame(b"\x09") + encode_frame(b""))
        assert await ask(reader, writer, encode_control(Control.ATR)) == (
            CARD_TYPES["mifare_classic_4k"].atr
        )
        # An oversized frame is skipped; the card still answers what follows.
        writer.write(encode_frame(bytes(5000)))
        answer = await ask(reader, writer, encode_frame(bytes.fromhex("FFCA000000")))
        assert answer == bytes.fromhex("04112233445566 9000")
        assert card.connected
        counters = card.counters
        assert (counters.unknown_controls, counters.empty_frames) == (1, 1)
        assert counters.oversized_frames == 1

        await card.remove()
        async with asyncio.timeout(WAIT_S):
            assert await reader.read() == b""  # vpcd sees the card go
        assert not card.connected and not card.inserted
    finally:
        await card.remove()


async def test_a_listener_that_keeps_hanging_up_is_retried_quietly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(virtual_card, "RECONNECT_S", 0.01)
    flapping = FakeVpcd(hang_up_at_once=True)
    await flapping.start()
    said: list[str] = []
    card = VirtualCard(flapping.port, on_change=said.append)
    await card.insert()
    try:
        async with asyncio.timeout(WAIT_S):
            while flapping.connections < 10:
                await asyncio.sleep(0.01)
        assert sum("closed the connection" in line for line in said) == 1, said
        assert not any("on the vpcd reader" in line for line in said), said
    finally:
        await card.remove()
        await flapping.close()


async def test_a_failing_listener_does_not_stop_the_card(vpcd: FakeVpcd) -> None:
    def broken(_text: str) -> None:
        raise RuntimeError("listener bug")

    card = VirtualCard(vpcd.port, on_change=broken)
    await card.insert()
    try:
        await card.wait_connected(WAIT_S)
        reader, writer = await vpcd.clients.get()
        assert await ask(reader, writer, encode_control(Control.ATR)) == (
            CARD_TYPES["mifare_classic_1k"].atr
        )
    finally:
        await card.remove()


async def test_unknown_card_type_is_refused_with_the_known_ones() -> None:
    card = VirtualCard(1)
    with pytest.raises(ValueError, match="unknown card type 'visa'; known: mifare_classic_1k"):
        await card.insert("visa")
    assert not card.inserted

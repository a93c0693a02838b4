"""A virtual smart card for vsmartcard's vpcd reader: insert = connect, remove = disconnect.

vpcd (a pcscd driver) listens on TCP; this card connects to it on
127.0.0.1:``port`` and answers its frames (:mod:`kiosk.devices.sim.vpcd_protocol`):
the ATR of the chosen card type, and the UID to ``GET DATA``. To pcscd, and so
to the booth's :class:`~kiosk.devices.smartcard_reader.SmartCardReader`, the card
is on the reader while the connection is open.

While inserted, the card keeps its connection: if pcscd stops (vpcd closes the
socket) or is not there yet, it retries every :data:`RECONNECT_S` and reports
the change once through ``on_change`` (plain words), never on every attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.devices.sim.vpcd_protocol import (
    Apdu,
    CardState,
    DecoderCounters,
    FrameDecoder,
    encode_frame,
)

log = logging.getLogger(__name__)

DEFAULT_VPCD_PORT = 35963
"""vsmartcard's default (``/etc/reader.conf.d/vpcd``: CHANNELID 0x8C7B)."""
VPCD_HOST = "127.0.0.1"
RECONNECT_S = 0.5
CONNECT_TIMEOUT_S = 2.0
READ_CHUNK = 4096
UID_LENGTHS = (4, 7, 10)
"""ISO/IEC 14443-3 single, double and triple size UIDs."""
DEFAULT_UID = bytes.fromhex("04A1B2C3")


@dataclass(frozen=True)
class CardType:
    """A kind of card: the ATR a reader reports for it, and whether it has a UID."""

    name: str
    atr: bytes
    contactless: bool


def _pcsc_memory_card(name_code: int) -> bytes:
    # PC/SC part 3 ATR of a contactless memory card (standard 03: ISO 14443 A-3).
    body = bytes.fromhex("8F8001804F0CA000000306") + bytes([0x03]) + name_code.to_bytes(2, "big")
    body += bytes(4)
    tck = 0
    for byte in body:
        tck ^= byte
    return bytes([0x3B]) + body + bytes([tck])


CARD_TYPES: dict[str, CardType] = {
    card.name: card
    for card in (
        CardType("mifare_classic_1k", _pcsc_memory_card(0x0001), contactless=True),
        CardType("mifare_classic_4k", _pcsc_memory_card(0x0002), contactless=True),
        CardType("mifare_ultralight", _pcsc_memory_card(0x0003), contactless=True),
        CardType("mifare_desfire", bytes.fromhex("3B8180018080"), contactless=True),
        # French health insurance cards: contact chips, no UID to read.
        CardType("carte_vitale_1", bytes.fromhex("3F6525002C09699000"), contactless=False),
        CardType("carte_vitale_2", bytes.fromhex("3B751300004409EA9000"), contactless=False),
    )
}
DEFAULT_CARD_TYPE = "mifare_classic_1k"


def parse_uid(text: str) -> bytes:
    """A UID typed in hex (spaces or colons allowed); ValueError with the reason."""
    cleaned = text.replace(":", "").replace(" ", "")
    try:
        uid = bytes.fromhex(cleaned)
    except ValueError:
        raise ValueError(f"UID {text!r} is not hexadecimal") from None
    if len(uid) not in UID_LENGTHS:
        raise ValueError(f"UID {text!r} has {len(uid)} bytes; a card UID has 4, 7 or 10")
    return uid


def card_type(name: str) -> CardType:
    """The card type called ``name``; ValueError listing the known ones."""
    try:
        return CARD_TYPES[name.lower()]
    except KeyError:
        raise ValueError(f"unknown card type {name!r}; known: {', '.join(CARD_TYPES)}") from None


class VirtualCard:
    """One card for one vpcd reader; :meth:`insert` and :meth:`remove` move it."""

    def __init__(
        self,
        port: int = DEFAULT_VPCD_PORT,
        host: str = VPCD_HOST,
        *,
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        self.port = port
        self.host = host
        self.on_change = on_change
        self.card: CardState | None = None
        self.type_name = ""
        self.pull_out_on_next_apdu = False
        """Simulate a card pulled out mid-read: the next APDU drops the connection."""
        self.counters = DecoderCounters()
        """Decoder counters of the last connection."""
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()

    @property
    def inserted(self) -> bool:
        """The card is on the reader (from the user's side; see :attr:`connected`)."""
        return self._task is not None and not self._task.done()

    @property
    def connected(self) -> bool:
        """vpcd has the card right now."""
        return self._connected.is_set()

    async def insert(
        self, type_name: str = DEFAULT_CARD_TYPE, uid: bytes | None = None, atr: bytes | None = None
    ) -> None:
        """Put a card on the reader (replacing any); connects now or as soon as vpcd listens."""
        kind = card_type(type_name)
        if uid is None:
            uid = DEFAULT_UID if kind.contactless else b""
        await self.remove()
        self.type_name = kind.name
        self.card = CardState(atr=atr if atr is not None else kind.atr, uid=uid)
        self._task = asyncio.get_running_loop().create_task(self._run(self.card))

    async def remove(self) -> None:
        """Take the card away (closes the connection); idempotent."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._connected.clear()

    async def wait_connected(self, timeout: float) -> None:
        """Wait until vpcd has the card; TimeoutError otherwise."""
        async with asyncio.timeout(timeout):
            await self._connected.wait()

    def _tell(self, text: str) -> None:
        log.info("virtual card: %s", text)
        if self.on_change is not None:
            try:
                self.on_change(text)
            except Exception:
                log.exception("virtual card listener failed")

    async def _run(self, card: CardState) -> None:
        where = f"{self.host}:{self.port}"
        # Each change is said once; flapping (a listener that hangs up before
        # saying anything, again and again) is retried quietly.
        told_missing = told_in = told_lost = False
        while True:
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT_S):
                    reader, writer = await asyncio.open_connection(self.host, self.port)
            except (OSError, TimeoutError):
                if not told_missing:
                    told_missing = True
                    self._tell(
                        f"nothing listens on {where} (vpcd): is pcscd running with the "
                        "vsmartcard vpcd driver? The card goes in as soon as it listens."
                    )
                await asyncio.sleep(RECONNECT_S)
                continue
            self._connected.set()

            def talked() -> None:
                # Said when vpcd first talks to the card, not at connect: a
                # listener that accepts and hangs up has not seen any card.
                nonlocal told_in
                if not told_in:
                    told_in = True
                    self._tell(f"card {self.type_name} on the vpcd reader ({where})")

            try:
                pulled_out, frames = await self._serve(card, reader, writer, talked)
            finally:
                self._connected.clear()
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
            if pulled_out:
                self._tell("card pulled out during a read")
                return
            if frames:
                told_missing = told_lost = False
            if not told_lost:
                told_lost = True
                told_in = False
                self._tell(f"vpcd closed the connection ({where}; pcscd stopped?): reconnecting")
            await asyncio.sleep(RECONNECT_S)

    async def _serve(
        self,
        card: CardState,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        talked: Callable[[], None],
    ) -> tuple[bool, int]:
        """Answer vpcd until it hangs up: (pulled out mid-read?, frames received)."""
        decoder = FrameDecoder()
        self.counters = decoder.counters
        try:
            while data := await reader.read(READ_CHUNK):
                messages = decoder.feed(data)
                if decoder.counters.frames:
                    talked()
                for message in messages:
                    answer = card.answer(message)
                    if answer is None:
                        continue
                    if self.pull_out_on_next_apdu and isinstance(message, Apdu):
                        self.pull_out_on_next_apdu = False
                        return True, decoder.counters.frames
                    writer.write(encode_frame(answer))
                await writer.drain()
        except OSError as exc:
            log.info("virtual card: connection error: %s", exc)
        decoder.close()
        return False, decoder.counters.frames

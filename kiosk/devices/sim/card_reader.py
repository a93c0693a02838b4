"""A simulated serial card reader on a pty, speaking docs/devices.md's protocol.

The driver opens :attr:`CardReaderSimulator.device_path` like a real
``/dev/ttyUSB0``. Tests and the demo call :meth:`insert` and :meth:`remove`;
the simulator answers PING, STATUS and READ, and can garble its frames or stay
mute to exercise the driver's error paths.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pty
import tty

from kiosk.devices.card_line_protocol import (
    CardIn,
    CardOut,
    CardUid,
    Command,
    CommandParser,
    Err,
    ErrorCode,
    FrameError,
    FrameErrorKind,
    Ok,
    ReaderMessage,
    ReaderStatus,
    encode_message,
)

logger = logging.getLogger(__name__)

READ_DELAY_S = 0.05
"""How long a READ takes, as a contact chip answering a few APDUs would."""


class CardReaderSimulator:
    """A card reader behind a pty; its ``device_path`` is the booth's side."""

    def __init__(self, read_delay_s: float = READ_DELAY_S) -> None:
        self.read_delay_s = read_delay_s
        self.mute = False
        """When True, commands are swallowed without answer (a hung reader)."""
        self.received: list[Command] = []
        """Commands received, for tests."""
        self.parser = CommandParser()
        self.device_path = ""
        self._card: CardUid | None = None
        self._corrupt = 0
        self._master: int | None = None
        self._slave: int | None = None
        self._pending_read: asyncio.Task[None] | None = None

    async def start(self) -> str:
        """Create the pty and start answering; returns the device path."""
        self._master, self._slave = pty.openpty()
        tty.setraw(self._master)
        tty.setraw(self._slave)
        self.device_path = os.ttyname(self._slave)
        asyncio.get_running_loop().add_reader(self._master, self._on_readable)
        logger.info("card reader simulator on %s", self.device_path)
        return self.device_path

    async def stop(self) -> None:
        """Close the pty: to the driver, the reader was unplugged."""
        if self._pending_read is not None:
            self._pending_read.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pending_read
            self._pending_read = None
        if self._master is not None:
            asyncio.get_running_loop().remove_reader(self._master)
            os.close(self._master)
            self._master = None
        if self._slave is not None:
            os.close(self._slave)
            self._slave = None

    def insert(self, uid: str, card_type: str = "ISO14443A") -> None:
        """Present a card (uid in upper-case hex)."""
        self._card = CardUid(uid, card_type)
        self._send(CardIn(uid, card_type))

    def remove(self) -> None:
        """Take the card away; a READ in progress fails with CARD REMOVED."""
        self._card = None
        self._send(CardOut())
        if self._pending_read is not None and not self._pending_read.done():
            self._pending_read.cancel()
            self._send(Err(ErrorCode.CARD_REMOVED, "CARD REMOVED"))

    def corrupt_next(self, frames: int = 1) -> None:
        """Garble the checksum of the next ``frames`` frames sent."""
        self._corrupt += frames

    def send_raw(self, data: bytes) -> None:
        """Write arbitrary bytes to the driver (line noise)."""
        if self._master is not None:
            os.write(self._master, data)

    def _on_readable(self) -> None:
        if self._master is None:
            return
        try:
            data = os.read(self._master, 1024)
        except OSError:
            return  # nobody has the port open: nothing to answer
        for command in self.parser.feed(data):
            if isinstance(command, FrameError):
                if self.mute:
                    continue
                if command.kind is FrameErrorKind.BAD_CHECKSUM:
                    self._send(Err(ErrorCode.BAD_CHECKSUM, "BAD CHECKSUM"))
                else:
                    self._send(Err(ErrorCode.UNKNOWN_COMMAND, "UNKNOWN COMMAND"))
                continue
            self.received.append(command)
            if not self.mute:
                self._answer(command)

    def _answer(self, command: Command) -> None:
        match command:
            case Command.PING:
                self._send(Ok())
            case Command.STATUS:
                card = self._card
                self._send(ReaderStatus(card.uid, card.card_type) if card else ReaderStatus())
            case Command.READ:
                if self._card is None:
                    self._send(Err(ErrorCode.NO_CARD, "NO CARD"))
                elif self._pending_read is not None and not self._pending_read.done():
                    self._send(Err(ErrorCode.BUSY, "BUSY"))
                else:
                    self._pending_read = asyncio.get_running_loop().create_task(
                        self._finish_read(self._card)
                    )

    async def _finish_read(self, card: CardUid) -> None:
        await asyncio.sleep(self.read_delay_s)
        if self._card == card:
            self._send(card)

    def _send(self, message: ReaderMessage) -> None:
        frame = encode_message(message)
        if self._corrupt > 0:
            self._corrupt -= 1
            # Flip one checksum digit: same length, wrong value.
            index = len(frame) - 3
            frame = (
                frame[:index]
                + (b"0" if frame[index : index + 1] != b"0" else b"1")
                + frame[index + 1 :]
            )
        self.send_raw(frame)

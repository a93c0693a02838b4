"""Serial card reader driver speaking the line protocol of docs/devices.md.

One background task reads the port: answers go to the command waiting for
them, ``CARD IN``/``CARD OUT`` events go to ``on_presence``. ``read_card``
waits for a card (if none is there yet), asks for its identifier and fails
with a :class:`DeviceError` whose reason a citizen can read. A port that
vanishes makes the reader UNAVAILABLE ("lecteur de cartes débranché") and the
driver keeps trying to re-open it through the opener.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.devices import reopen
from kiosk.devices.base import DeviceError, DeviceState, DeviceStatus, StatusListener, notify
from kiosk.devices.card_line_protocol import (
    Answer,
    CardIn,
    CardLineParser,
    CardOut,
    CardUid,
    Command,
    Err,
    ErrorCode,
    FrameError,
    Ok,
    ReaderStatus,
    encode_command,
)
from kiosk.devices.transport import Transport, TransportClosed

logger = logging.getLogger(__name__)

READ_CHUNK = 256
READ_POLL_S = 0.2
"""How long one read waits for bytes; bounds how fast stop() is honoured."""
COMMAND_TIMEOUT_S = 1.0
"""Wait for one answer; the protocol's readers answer within 100 ms."""
COMMAND_ATTEMPTS = 3
"""Sends of one command before declaring the reader mute (covers garbled frames)."""

UNPLUGGED_REASON = "lecteur de cartes débranché"
MUTE_REASON = "le lecteur de cartes ne répond pas"
ABSENT_REASON = "lecteur de cartes absent"


@dataclass(frozen=True)
class CardRead:
    """A card's identifier as read."""

    uid: str
    card_type: str


@dataclass(frozen=True)
class CardPresence:
    """Whether a card is in the reader, and which."""

    present: bool
    uid: str | None = None
    card_type: str | None = None


PresenceListener = Callable[[CardPresence], None]


def _unplugged() -> DeviceError:
    return DeviceError("unplugged", UNPLUGGED_REASON)


class SerialCardReader:
    """Driver for one serial card reader."""

    kind = "serial_card"

    def __init__(
        self,
        transport: Transport | None,
        *,
        on_status: StatusListener,
        on_presence: PresenceListener | None = None,
        role: str = "card_reader",
        opener: reopen.Opener | None = None,
    ) -> None:
        """``transport`` may be None if the reader is absent at boot (needs ``opener``)."""
        self._transport = transport
        self._on_status = on_status
        self._on_presence = on_presence
        self.role = role
        self._opener = opener
        self.parser = CardLineParser()
        self.presence = CardPresence(False)
        self._status = DeviceStatus(role, self.kind, DeviceState.UNKNOWN)
        self._task: asyncio.Task[None] | None = None
        self._probe_task: asyncio.Task[None] | None = None
        self._command_lock = asyncio.Lock()
        self._read_lock = asyncio.Lock()
        self._pending: asyncio.Future[Answer] | None = None
        self._pending_command: Command | None = None
        self._stale_removed = False
        """A READ was failed on CARD OUT: the reader's own ERR CARD REMOVED for it is
        still on its way and must not be taken as the answer to the next command."""
        self._card_waiter: asyncio.Future[None] | None = None

    @property
    def status(self) -> DeviceStatus:
        """Last status reported."""
        return self._status

    async def start(self) -> None:
        """Start listening to the reader in the background; idempotent."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"{self.role}-reader")

    async def stop(self) -> None:
        """Stop listening and release the port; idempotent."""
        for task in (self._probe_task, self._task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._probe_task = None
        self._fail_waiters(DeviceError("stopped", "lecteur de cartes arrêté"))
        transport, self._transport = self._transport, None
        if transport is not None:
            await transport.close()

    async def ping(self) -> None:
        """Check the reader answers; raises DeviceError if not."""
        answer = await self._transact(Command.PING)
        if not isinstance(answer, Ok):
            raise DeviceError("protocol", f"réponse inattendue du lecteur: {answer}")

    async def query_presence(self) -> CardPresence:
        """Ask the reader whether a card is in it."""
        answer = await self._transact(Command.STATUS)
        if not isinstance(answer, ReaderStatus):
            raise DeviceError("protocol", f"réponse inattendue du lecteur: {answer}")
        self._set_presence(CardPresence(answer.present, answer.uid, answer.card_type))
        return self.presence

    async def read_card(self, timeout: float) -> CardRead:
        """Wait up to ``timeout`` s for a card and read its identifier.

        Raises DeviceError ``timeout``, ``card_removed``, ``unplugged``,
        ``no_answer`` or ``read_failed``.
        """
        async with self._read_lock:
            if self._transport is None:
                raise _unplugged()
            self._report(DeviceState.BUSY)
            try:
                return await asyncio.wait_for(self._read_card(), timeout)
            except TimeoutError:
                raise DeviceError("timeout", "aucune carte présentée à temps") from None
            finally:
                if self._status.state is DeviceState.BUSY:
                    self._report(DeviceState.READY)

    async def _read_card(self) -> CardRead:
        while True:
            # Armed before READ is sent so a CARD IN racing the NO_CARD answer is kept.
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._card_waiter = waiter
            try:
                answer = await self._transact(Command.READ)
                if isinstance(answer, Err) and answer.code == ErrorCode.NO_CARD:
                    # Wait for the citizen to present a card, then ask again.
                    await waiter
                    continue
            finally:
                self._card_waiter = None
                if waiter.done() and not waiter.cancelled():
                    waiter.exception()  # mark an unplug error as seen: it is raised elsewhere
                else:
                    waiter.cancel()
            match answer:
                case CardUid(uid, card_type):
                    return CardRead(uid, card_type)
                case Err(code=ErrorCode.CARD_REMOVED):
                    raise DeviceError("card_removed", "carte retirée pendant la lecture")
                case Err(text=text):
                    raise DeviceError("read_failed", f"lecture de la carte impossible ({text})")
                case _:
                    raise DeviceError("protocol", f"réponse inattendue du lecteur: {answer}")

    async def _transact(self, command: Command) -> Answer:
        async with self._command_lock:
            loop = asyncio.get_running_loop()
            for attempt in range(1, COMMAND_ATTEMPTS + 1):
                transport = self._transport
                if transport is None:
                    raise _unplugged()
                future: asyncio.Future[Answer] = loop.create_future()
                self._pending, self._pending_command = future, command
                try:
                    await transport.write(encode_command(command))
                    answer = await asyncio.wait_for(future, COMMAND_TIMEOUT_S)
                except TransportClosed as exc:
                    # The reading task notices too and reports the unplug.
                    logger.warning("%s: write failed: %s", self.role, exc)
                    raise _unplugged() from exc
                except TimeoutError:
                    logger.warning("%s: no answer to %s (attempt %d)", self.role, command, attempt)
                    continue
                finally:
                    self._pending = self._pending_command = None
                if isinstance(answer, Err) and answer.code == ErrorCode.BAD_CHECKSUM:
                    logger.warning("%s: reader got a garbled %s, sending again", self.role, command)
                    continue
                if self._status.reason == MUTE_REASON:
                    self._report(DeviceState.READY)
                return answer
            self._report(DeviceState.UNAVAILABLE, MUTE_REASON)
            raise DeviceError("no_answer", MUTE_REASON)

    async def _run(self) -> None:
        if self._transport is None:
            self._report(DeviceState.UNAVAILABLE, ABSENT_REASON)
        while True:
            if self._transport is None:
                if self._opener is None:
                    return
                self._transport = await reopen.reopen_with_backoff(self._opener, self.role)
                self.parser.reset()
            transport = self._transport
            self._probe_task = asyncio.create_task(self._probe(), name=f"{self.role}-probe")
            try:
                await self._pump(transport)
            except TransportClosed as exc:
                logger.warning("%s: device gone: %s", self.role, exc)
                self._transport = None
                self._fail_waiters(_unplugged())
                await transport.close()
                self._set_presence(CardPresence(False))
                self._report(DeviceState.UNAVAILABLE, UNPLUGGED_REASON)

    async def _probe(self) -> None:
        """Learn whether a card is in and whether the reader answers at all."""
        try:
            await self.query_presence()
        except DeviceError as exc:
            logger.warning("%s: probe failed: %s", self.role, exc)
            return
        if self._status.state is not DeviceState.BUSY:
            self._report(DeviceState.READY)

    async def _pump(self, transport: Transport) -> None:
        while True:
            data = await transport.read(READ_CHUNK, READ_POLL_S)
            if data:
                for message in self.parser.feed(data):
                    self._dispatch(message)

    def _dispatch(self, message: Answer | CardIn | CardOut | FrameError) -> None:
        match message:
            case FrameError(kind, size):
                logger.warning(
                    "%s: frame refused (%s, %d bytes); %d refused so far",
                    self.role,
                    kind.value,
                    size,
                    sum(self.parser.errors.values()),
                )
            case CardIn(uid, card_type):
                self._set_presence(CardPresence(True, uid, card_type))
                if self._card_waiter is not None and not self._card_waiter.done():
                    self._card_waiter.set_result(None)
            case CardOut():
                self._set_presence(CardPresence(False))
                pending = self._pending
                if (
                    self._pending_command is Command.READ
                    and pending is not None
                    and not pending.done()
                ):
                    pending.set_exception(
                        DeviceError("card_removed", "carte retirée pendant la lecture")
                    )
                    self._stale_removed = True
            case Err(code=ErrorCode.CARD_REMOVED) if self._stale_removed:
                self._stale_removed = False
                logger.info("%s: late CARD REMOVED of an already failed read, dropped", self.role)
            case _:
                # Any other answer: the reader keeps order, so no late one is coming.
                self._stale_removed = False
                if self._pending is not None and not self._pending.done():
                    self._pending.set_result(message)
                else:
                    logger.info("%s: answer nobody waited for: %s", self.role, message)

    def _fail_waiters(self, error: DeviceError) -> None:
        for future in (self._pending, self._card_waiter):
            if future is not None and not future.done():
                future.set_exception(error)

    def _set_presence(self, presence: CardPresence) -> None:
        if presence == self.presence:
            return
        self.presence = presence
        logger.info("%s: card %s", self.role, "present" if presence.present else "absent")
        if self._on_presence is not None:
            try:
                self._on_presence(presence)
            except Exception:
                logger.exception("%s: on_presence listener failed", self.role)

    def _report(self, state: DeviceState, reason: str = "") -> None:
        details = {f"refused_{k}": str(v) for k, v in sorted(self.parser.errors.items())}
        if self._transport is not None:
            details["port"] = self._transport.description
        status = DeviceStatus(self.role, self.kind, state, reason, details)
        changed = (status.state, status.reason) != (self._status.state, self._status.reason)
        self._status = status
        if changed:
            notify(self._on_status, status)

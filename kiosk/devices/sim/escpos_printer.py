"""A simulated ESC/POS receipt printer on a pty (like a USB-serial printer) or TCP.

The booth side opens :meth:`SimulatedEscPosPrinter.start`'s device path with a
real serial transport (or connects to :meth:`start_tcp`'s port, like a network
printer on 9100). The simulator parses what arrives with the pure
:class:`~kiosk.devices.sim.escpos_stream.EscPosStreamParser`, records what a
real printer would have printed, and answers ``DLE EOT n`` according to
:attr:`state`. Runs on the caller's asyncio loop, no threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pty
import tty
from dataclasses import dataclass, field
from enum import StrEnum

from kiosk.devices.sim.escpos_stream import (
    Cut,
    EscPosStreamParser,
    Event,
    QrCode,
    RasterImage,
    StatusRequest,
    StreamCounters,
    TextLine,
)

log = logging.getLogger(__name__)

READ_CHUNK_BYTES = 4096


class PrinterState(StrEnum):
    """What the simulated printer is going through."""

    OK = "ok"
    NEAR_END = "near_end"
    PAPER_OUT = "paper_out"
    COVER_OPEN = "cover_open"
    OFFLINE = "offline"
    ERROR = "error"
    SILENT = "silent"
    """Prints, but never answers status queries (a one-way cable, a dumb clone)."""


# Answers to DLE EOT 1..4 in each state; 0x12 is "nothing to report".
_ANSWERS: dict[PrinterState, dict[int, int]] = {
    PrinterState.OK: {1: 0x12, 2: 0x12, 3: 0x12, 4: 0x12},
    PrinterState.NEAR_END: {1: 0x12, 2: 0x12, 3: 0x12, 4: 0x1E},
    PrinterState.PAPER_OUT: {1: 0x1A, 2: 0x32, 3: 0x12, 4: 0x7E},
    PrinterState.COVER_OPEN: {1: 0x1A, 2: 0x16, 3: 0x12, 4: 0x12},
    PrinterState.OFFLINE: {1: 0x1A, 2: 0x12, 3: 0x12, 4: 0x12},
    PrinterState.ERROR: {1: 0x1A, 2: 0x52, 3: 0x32, 4: 0x12},
}
_PRINTING_STATES = (PrinterState.OK, PrinterState.NEAR_END, PrinterState.SILENT)


def status_answer(state: PrinterState, n: int) -> bytes:
    """The byte a printer in ``state`` answers to ``DLE EOT n`` (none when silent)."""
    if state is PrinterState.SILENT:
        return b""
    # Unknown n: real printers ignore it; answering nothing is the closest.
    answer = _ANSWERS[state].get(n)
    return b"" if answer is None else bytes([answer])


@dataclass
class PrintedRecord:
    """Everything that came out of the simulated printer."""

    lines: list[str] = field(default_factory=list)
    qr_payloads: list[str] = field(default_factory=list)
    images: list[tuple[int, int]] = field(default_factory=list)
    cuts: int = 0
    status_queries: int = 0
    dropped_events: int = 0
    """Printable events that arrived while the printer could not print."""


class SimulatedEscPosPrinter:
    """A receipt printer simulator: ``await start()`` gives a device path to open."""

    def __init__(
        self, state: PrinterState = PrinterState.OK, *, paper_lines_left: int | None = None
    ) -> None:
        self._state = state
        self.paper_lines_left = paper_lines_left
        """If set, the paper runs out (state becomes PAPER_OUT) after that many lines."""
        self.printed = PrintedRecord()
        self.counters = StreamCounters()
        self._master_fd: int | None = None
        self._slave_fd: int | None = None
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._parser = EscPosStreamParser(counters=self.counters)

    @property
    def state(self) -> PrinterState:
        """The condition the printer reports and acts on."""
        return self._state

    @state.setter
    def state(self, value: PrinterState | str) -> None:
        self._state = PrinterState(value)
        log.info("simulated printer: %s", self._state.value)

    async def start(self) -> str:
        """Open a pty pair; return the path the booth opens as a serial port."""
        master, slave = pty.openpty()
        tty.setraw(master)
        tty.setraw(slave)
        # The simulator keeps the slave open too: with no slave open, the master
        # reports EIO on every read and the reader callback would spin.
        self._master_fd, self._slave_fd = master, slave
        os.set_blocking(master, False)
        asyncio.get_running_loop().add_reader(master, self._on_pty_readable)
        path = os.ttyname(slave)
        log.info("simulated printer on %s", path)
        return path

    async def attach(self, fd: int) -> None:
        """Answer on the device side ``fd`` of a node made elsewhere (umockdev's
        emulated ``/dev/usb/lp0``); :meth:`stop` closes it, like an unplug."""
        os.set_blocking(fd, False)
        self._master_fd, self._slave_fd = fd, None
        asyncio.get_running_loop().add_reader(fd, self._on_pty_readable)

    async def start_tcp(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        """Listen like a network printer (raw port 9100 style); return (host, port)."""
        self._server = await asyncio.start_server(self._serve_client, host, port)
        bound_host, bound_port = self._server.sockets[0].getsockname()[:2]
        log.info("simulated printer on tcp %s:%s", bound_host, bound_port)
        return str(bound_host), int(bound_port)

    async def stop(self) -> None:
        """Vanish like an unplugged printer: close the pty and every connection."""
        if self._master_fd is not None:
            with contextlib.suppress(ValueError, OSError):
                asyncio.get_running_loop().remove_reader(self._master_fd)
            for fd in (self._master_fd, self._slave_fd):
                if fd is not None:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            self._master_fd = self._slave_fd = None
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _on_pty_readable(self) -> None:
        fd = self._master_fd
        if fd is None:
            return
        try:
            data = os.read(fd, READ_CHUNK_BYTES)
        except BlockingIOError:
            return
        except OSError as exc:
            log.warning("simulated printer pty: %s", exc)
            return
        for answer in self._consume(data):
            with contextlib.suppress(OSError):
                os.write(fd, answer)

    async def _serve_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._writers.add(writer)
        try:
            while data := await reader.read(READ_CHUNK_BYTES):
                for answer in self._consume(data):
                    writer.write(answer)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError) as exc:
            log.info("simulated printer tcp client gone: %s", exc)
        finally:
            self._writers.discard(writer)
            writer.close()
            if task is not None:
                self._tasks.discard(task)

    def _consume(self, data: bytes) -> list[bytes]:
        """Parse a chunk, record it, and return the status answers to send."""
        answers: list[bytes] = []
        for event in self._parser.feed(data):
            if isinstance(event, StatusRequest):
                self.printed.status_queries += 1
                answer = status_answer(self._state, event.n)
                if answer:
                    answers.append(answer)
            else:
                self._record(event)
        return answers

    def _record(self, event: Event) -> None:
        if self._state not in _PRINTING_STATES:
            if isinstance(event, TextLine | QrCode | RasterImage | Cut):
                self.printed.dropped_events += 1
            return
        if isinstance(event, TextLine):
            self.printed.lines.append(event.text)
            if self.paper_lines_left is not None:
                self.paper_lines_left -= 1
                if self.paper_lines_left <= 0:
                    self.state = PrinterState.PAPER_OUT
        elif isinstance(event, QrCode):
            self.printed.qr_payloads.append(event.payload)
        elif isinstance(event, RasterImage):
            self.printed.images.append((event.width, event.height))
        elif isinstance(event, Cut):
            self.printed.cuts += 1

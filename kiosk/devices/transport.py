"""Thin byte transports under the drivers: a serial port (pyserial), TCP, or a USB
printer-class device node (Linux ``usblp``, ``/dev/usb/lp0``).

Drivers only see :class:`Transport`: ``write`` bytes, ``read`` what arrived within
a timeout, ``close``. Everything device-specific lives in the drivers' pure
protocol modules. A transport whose device vanished raises
:class:`TransportClosed` (the driver turns it into an "unavailable" state).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import select
import termios
from typing import Protocol

import serial

SERIAL_ERRORS = (serial.SerialException, OSError, termios.error, TypeError, AttributeError)
"""What pyserial raises when the port vanished (``termios.error`` is not an OSError:
``flush()``'s tcdrain on an unplugged or closed pty raises it)."""
SERIAL_POLL_S = 0.05
"""How long one blocking serial read may wait, so close() is never stuck behind it."""
USBLP_PREFIX = "/dev/usb/"
"""Device nodes under this folder are USB printer-class nodes (``usblp``), not serial ports."""
USBLP_WRITE_STALL_S = 10.0
"""Longest a usblp write may make no progress (printer gone silent) before it fails."""
USBLP_POLL_S = 0.05
"""Readiness poll period when the node cannot be watched by the event loop (epoll)."""


class TransportClosed(ConnectionError):
    """The device is gone (unplugged, port closed, connection reset)."""


class Transport(Protocol):
    """What a driver needs from a wire."""

    description: str

    async def write(self, data: bytes) -> None:
        """Send all of ``data``; raises TransportClosed if the device is gone."""

    async def read(self, max_bytes: int, timeout: float) -> bytes:
        """Up to ``max_bytes`` that arrive within ``timeout`` s; ``b""`` if none."""

    async def close(self) -> None:
        """Release the port; idempotent."""


class SerialTransport:
    """A serial port by device path or pyserial URL (``/dev/ttyUSB0``, ``loop://``)."""

    def __init__(self, url: str, baudrate: int = 9600) -> None:
        self.description = f"serial {url} @{baudrate}"
        try:
            self._port = serial.serial_for_url(url, baudrate=baudrate, timeout=SERIAL_POLL_S)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise TransportClosed(f"cannot open {url}: {exc}") from exc
        self._lock = asyncio.Lock()

    async def write(self, data: bytes) -> None:
        try:
            await asyncio.to_thread(self._write_all, data)
        except SERIAL_ERRORS as exc:
            raise TransportClosed(f"{self.description}: {exc}") from exc

    def _write_all(self, data: bytes) -> None:
        self._port.write(data)
        self._port.flush()

    async def read(self, max_bytes: int, timeout: float) -> bytes:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with self._lock:
            while True:
                try:
                    chunk = await asyncio.to_thread(self._read_some, max_bytes)
                except SERIAL_ERRORS as exc:
                    raise TransportClosed(f"{self.description}: {exc}") from exc
                if chunk or loop.time() >= deadline:
                    return chunk

    def _read_some(self, max_bytes: int) -> bytes:
        """What has arrived, up to ``max_bytes``: returns as soon as one byte is
        there (a 1-byte status answer must not wait the whole poll period)."""
        first: bytes = self._port.read(1)
        if not first or max_bytes <= 1:
            return first
        try:
            waiting = min(int(self._port.in_waiting), max_bytes - 1)
        except SERIAL_ERRORS:
            # Some ttys (umockdev's emulated ones) don't answer TIOCINQ: the rest
            # comes with the next read; a port really gone fails that read.
            waiting = 0
        rest: bytes = self._port.read(waiting) if waiting > 0 else b""
        return first + rest

    async def close(self) -> None:
        with contextlib.suppress(*SERIAL_ERRORS):
            await asyncio.to_thread(self._port.close)


class TcpTransport:
    """A device on the network, e.g. a receipt printer on port 9100."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, name: str):
        self.description = f"tcp {name}"
        self._reader = reader
        self._writer = writer

    @classmethod
    async def connect(cls, host: str, port: int, timeout: float = 3.0) -> TcpTransport:
        """Open a connection; raises TransportClosed if nobody answers in time."""
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        except (OSError, TimeoutError) as exc:
            raise TransportClosed(f"cannot reach {host}:{port}: {exc}") from exc
        return cls(reader, writer, f"{host}:{port}")

    async def write(self, data: bytes) -> None:
        try:
            self._writer.write(data)
            await self._writer.drain()
        except (OSError, RuntimeError) as exc:
            raise TransportClosed(f"{self.description}: {exc}") from exc

    async def read(self, max_bytes: int, timeout: float) -> bytes:
        try:
            data = await asyncio.wait_for(self._reader.read(max_bytes), timeout)
        except TimeoutError:
            return b""
        except OSError as exc:
            raise TransportClosed(f"{self.description}: {exc}") from exc
        if not data and self._reader.at_eof():
            raise TransportClosed(f"{self.description}: connection closed")
        return data

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError, RuntimeError):
            await self._writer.wait_closed()


def is_usblp_path(path: str) -> bool:
    """True for a USB printer-class node (``/dev/usb/lp0``), opened with UsbLpTransport."""
    return path.startswith(USBLP_PREFIX)


class UsbLpTransport:
    """A USB printer-class device node (Linux ``usblp``): ``/dev/usb/lp0``.

    The node is opened non-blocking and watched by the event loop, so a write to a
    stalled printer or a read that gets no answer never blocks the booth. usblp
    hands back the printer's answers (e.g. to ``DLE EOT n``) on ``read``. A vanished
    printer shows as ``ENODEV``/``EIO`` on read or write, or as a hang-up
    (``POLLHUP``) on the node: :class:`TransportClosed` in every case.
    """

    def __init__(self, path: str) -> None:
        """Open ``path``; raises TransportClosed if it cannot be opened."""
        self.description = f"usblp {path}"
        self.path = path
        try:
            self._fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
        except OSError as exc:
            raise TransportClosed(f"cannot open {path}: {exc.strerror or exc}") from exc
        self._lock = asyncio.Lock()
        self._write_lock = asyncio.Lock()

    def _gone(self, exc: OSError | str) -> TransportClosed:
        text = exc if isinstance(exc, str) else (exc.strerror or str(exc))
        return TransportClosed(f"{self.description}: {text}")

    def _fileno(self) -> int:
        if self._fd < 0:
            raise self._gone("closed")
        return self._fd

    def _hung_up(self) -> bool:
        """POLLHUP/POLLERR on the node: the device went away (usblp on disconnect)."""
        poller = select.poll()
        poller.register(self._fileno(), select.POLLIN | select.POLLOUT)
        return any(ev & (select.POLLHUP | select.POLLERR) for _fd, ev in poller.poll(0))

    async def _wait(self, writable: bool, timeout: float) -> bool:
        """Wait until the node is readable/writable; False on timeout."""
        loop = asyncio.get_running_loop()
        fd = self._fileno()
        ready: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        add, remove = (
            (loop.add_writer, loop.remove_writer)
            if writable
            else (loop.add_reader, loop.remove_reader)
        )
        try:
            add(fd, wake)
        except (OSError, ValueError):
            # A node epoll cannot watch: fall back to a short sleep, then try again.
            await asyncio.sleep(min(USBLP_POLL_S, timeout))
            return True
        try:
            async with asyncio.timeout(timeout):
                await ready
        except TimeoutError:
            return False
        finally:
            remove(fd)
        return True

    async def write(self, data: bytes) -> None:
        async with self._write_lock:
            view = memoryview(data)
            while view:
                try:
                    written = os.write(self._fileno(), view)
                except BlockingIOError:
                    written = 0
                except InterruptedError:
                    continue
                except OSError as exc:
                    raise self._gone(exc) from exc
                view = view[written:]
                if written:
                    # Let the loop breathe between chunks (and see an unplug early).
                    await asyncio.sleep(0)
                elif not await self._wait(writable=True, timeout=USBLP_WRITE_STALL_S):
                    raise self._gone(f"no write progress for {USBLP_WRITE_STALL_S:g} s")

    def _read_now(self, max_bytes: int) -> bytes | None:
        """Bytes available now; None if none yet. Raises TransportClosed if gone."""
        try:
            data = os.read(self._fileno(), max_bytes)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                return None
            raise self._gone(exc) from exc
        if not data and self._hung_up():
            # End of file on a char device with a hang-up: it is gone. A zero-length
            # answer without hang-up (a printer's empty packet) is just "nothing".
            raise self._gone("device hung up")
        return data

    async def read(self, max_bytes: int, timeout: float) -> bytes:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with self._lock:
            while True:
                data = self._read_now(max_bytes)
                if data is not None:
                    return data
                left = deadline - loop.time()
                if left <= 0 or not await self._wait(writable=False, timeout=left):
                    return b""

    async def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)

"""Thin byte transports under the drivers: a serial port (pyserial) or TCP.

Drivers only see :class:`Transport`: ``write`` bytes, ``read`` what arrived within
a timeout, ``close``. Everything device-specific lives in the drivers' pure
protocol modules. A transport whose device vanished raises
:class:`TransportClosed` (the driver turns it into an "unavailable" state).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

import serial

SERIAL_POLL_S = 0.05
"""How long one blocking serial read may wait, so close() is never stuck behind it."""


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
        except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
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
                    chunk: bytes = await asyncio.to_thread(self._port.read, max_bytes)
                except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
                    raise TransportClosed(f"{self.description}: {exc}") from exc
                if chunk or loop.time() >= deadline:
                    return chunk

    async def close(self) -> None:
        with contextlib.suppress(serial.SerialException, OSError):
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

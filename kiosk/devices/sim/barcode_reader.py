"""A simulated serial barcode/QR scanner on a pty.

The driver opens :attr:`BarcodeScannerSimulator.device_path` like a real
``/dev/ttyACM0``; :meth:`scan` sends a code framed as the scanner is
configured (optionally in small chunks, as USB-serial adapters deliver them),
:meth:`send_garbage` sends line noise.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pty
import tty

logger = logging.getLogger(__name__)

CHUNK_GAP_S = 0.01
"""Pause between chunks of a split scan, so they really arrive apart."""


class BarcodeScannerSimulator:
    """A scanner behind a pty; its ``device_path`` is the booth's side."""

    def __init__(self, *, prefix: bytes = b"", suffix: bytes = b"\r\n") -> None:
        self.prefix = prefix
        self.suffix = suffix
        self.device_path = ""
        self._master: int | None = None
        self._slave: int | None = None

    async def start(self) -> str:
        """Create the pty; returns the device path."""
        self._master, self._slave = pty.openpty()
        tty.setraw(self._master)
        tty.setraw(self._slave)
        self.device_path = os.ttyname(self._slave)
        logger.info("barcode scanner simulator on %s", self.device_path)
        return self.device_path

    async def stop(self) -> None:
        """Close the pty: to the driver, the scanner was unplugged."""
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None

    async def scan(self, code: str, *, chunk_size: int | None = None) -> None:
        """Send ``code`` as one scan, whole or in chunks of ``chunk_size`` bytes."""
        frame = self.prefix + code.encode("utf-8") + self.suffix
        size = chunk_size or len(frame)
        for start in range(0, len(frame), size):
            if start:
                await asyncio.sleep(CHUNK_GAP_S)
            self._write(frame[start : start + size])

    async def send_garbage(self, data: bytes) -> None:
        """Send raw bytes as they are (noise, wrong baud rate, no terminator)."""
        self._write(data)

    def _write(self, data: bytes) -> None:
        if self._master is None:
            raise RuntimeError("simulator not started")
        view = memoryview(data)
        while view:
            view = view[os.write(self._master, view) :]

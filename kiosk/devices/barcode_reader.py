"""Serial barcode/QR reader driver: convocation codes scanned at the booth.

The driver reads the scanner's byte stream, hands it to the pure
:class:`~kiosk.devices.barcode_protocol.BarcodeFramer` and calls ``on_scan``
with each whole code. It reports READY while the port is open and UNAVAILABLE
("lecteur débranché") when the device vanishes, then keeps trying to re-open it
through the given opener with a back-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from kiosk.devices import reopen
from kiosk.devices.barcode_protocol import BarcodeFramer, FramerConfig, Rejected, Scan
from kiosk.devices.base import DeviceState, DeviceStatus, StatusListener, notify
from kiosk.devices.transport import Transport, TransportClosed

logger = logging.getLogger(__name__)

READ_CHUNK = 256
"""Bytes asked for per read; a scan is usually one or two chunks."""
READ_POLL_S = 0.2
"""How long one read waits for bytes; bounds how fast stop() is honoured."""

UNPLUGGED_REASON = "lecteur débranché"
NEVER_OPENED_REASON = "lecteur absent"


class BarcodeReader:
    """Reads codes from a serial scanner and reports its state."""

    kind = "serial_barcode"

    def __init__(
        self,
        transport: Transport | None,
        *,
        on_scan: Callable[[str], None],
        on_status: StatusListener,
        role: str = "barcode_reader",
        opener: reopen.Opener | None = None,
        config: FramerConfig | None = None,
    ) -> None:
        """``transport`` may be None if the device is absent at boot (needs ``opener``)."""
        self._transport = transport
        self._on_scan = on_scan
        self._on_status = on_status
        self.role = role
        self._opener = opener
        self.framer = BarcodeFramer(config or FramerConfig())
        self._task: asyncio.Task[None] | None = None
        self._status = DeviceStatus(role, self.kind, DeviceState.UNKNOWN)

    @property
    def status(self) -> DeviceStatus:
        """Last status reported."""
        return self._status

    async def start(self) -> None:
        """Start reading in the background; idempotent."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"{self.role}-reader")

    async def stop(self) -> None:
        """Stop reading and release the port; idempotent."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        transport, self._transport = self._transport, None
        if transport is not None:
            await transport.close()

    async def _run(self) -> None:
        if self._transport is None:
            self._report(DeviceState.UNAVAILABLE, NEVER_OPENED_REASON)
        while True:
            if self._transport is None:
                if self._opener is None:
                    return
                self._transport = await reopen.reopen_with_backoff(self._opener, self.role)
                self.framer.reset()
            transport = self._transport
            self._report(DeviceState.READY)
            try:
                await self._pump(transport)
            except TransportClosed as exc:
                logger.warning("%s: device gone: %s", self.role, exc)
                self._transport = None
                await transport.close()
                self._report(DeviceState.UNAVAILABLE, UNPLUGGED_REASON)

    async def _pump(self, transport: Transport) -> None:
        while True:
            data = await transport.read(READ_CHUNK, READ_POLL_S)
            if not data:
                continue
            for result in self.framer.feed(data):
                if isinstance(result, Scan):
                    self._deliver(result.code)
                else:
                    self._log_rejection(result)

    def _deliver(self, code: str) -> None:
        logger.info("%s: scanned a code of %d characters", self.role, len(code))
        try:
            self._on_scan(code)
        except Exception:
            # A faulty listener must not stop the scanner for the next citizen.
            logger.exception("%s: on_scan listener failed", self.role)

    def _log_rejection(self, rejected: Rejected) -> None:
        logger.warning(
            "%s: line rejected (%s, %d bytes); %d rejected so far",
            self.role,
            rejected.reason.value,
            rejected.size,
            sum(self.framer.rejected.values()),
        )

    def _report(self, state: DeviceState, reason: str = "") -> None:
        details = {"scans": str(self.framer.scans)}
        details.update({f"rejected_{k}": str(v) for k, v in sorted(self.framer.rejected.items())})
        if self._transport is not None:
            details["port"] = self._transport.description
        status = DeviceStatus(self.role, self.kind, state, reason, details)
        if (status.state, status.reason) == (self._status.state, self._status.reason):
            self._status = status
            return
        self._status = status
        notify(self._on_status, status)

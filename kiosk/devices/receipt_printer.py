"""Receipt printer (ESC/POS) over any byte transport: serial, pty, TCP 9100 or usblp.

python-escpos builds the bytes (its printer logic only needs ``_raw``), this
driver writes them through the async :class:`~kiosk.devices.transport.Transport`
and never imports ``serial``. Before each job and every ``poll_interval_s`` it
asks the printer for its real-time status (``DLE EOT 1..4``, parsed by
:mod:`kiosk.devices.escpos_status`). A printer that does not answer is
UNAVAILABLE ("imprimante muette"): python-escpos would report "plenty of paper"
on silence, and a booth must not promise a receipt it cannot print.

A transport that vanishes (:class:`TransportClosed`) makes the printer
UNAVAILABLE for good: polling stops and the device manager is expected to open a
new transport and a new driver when the device comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from escpos.escpos import Escpos  # type: ignore[import-untyped, unused-ignore]
from PIL import Image, UnidentifiedImageError

from kiosk.devices.base import DeviceError, DeviceState, DeviceStatus, StatusListener, notify
from kiosk.devices.escpos_status import (
    ALL_QUERIES,
    REASONS_FR,
    Condition,
    PrinterStatus,
    StatusAnswer,
    parse_answer,
    status_query,
    summarise,
)
from kiosk.devices.transport import Transport, TransportClosed

log = logging.getLogger(__name__)

STATUS_TIMEOUT_S = 0.5
"""How long to wait for the one-byte answer to each DLE EOT query."""
POLL_INTERVAL_S = 10.0
"""Time between two status polls while idle."""
DRAIN_TIMEOUT_S = 0.0
"""Stale input is read with no wait (the transport may still block one poll tick)."""
ANSWER_MAX_BYTES = 16
"""Read more than the expected one byte so an over-long (garbage) answer is seen as such."""
WRITE_CHUNK_BYTES = 4096
"""Jobs are written in chunks so a vanished device is noticed early on big logos."""

KIND = "escpos"
DEFAULT_CODE_PAGE = "CP858"
"""CP858 is CP850 with the euro sign: all French letters and "€" (ESC t 19 on Epson)."""
DEFAULT_PROFILE = "TM-T20II"
"""A python-escpos profile with native QR, full cut, CP858 and a known paper width."""
LOGO_MAX_WIDTH_PX = 384
"""Logos are scaled down to this width so they fit on 58 mm and 80 mm rolls."""

UNPLUGGED_REASON = "imprimante débranchée"

TYPOGRAPHY_FALLBACKS = str.maketrans(
    {
        "\u2014": "-",
        "\u2013": "-",
        "\u2019": "'",
        "\u2018": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2026": "...",
        "\u202f": " ",
        "\u0153": "oe",
        "\u0152": "OE",
    }
)
"""French typography absent from CP858 (dashes, curly quotes, narrow no-break
space, œ): printed as their plain equivalents rather than as "?"."""


@dataclass(frozen=True)
class Receipt:
    """What a citizen takes home: a title, French text lines, a QR code, a logo."""

    title: str
    lines: Sequence[str] = ()
    qr_payload: str | None = None
    logo_png: bytes | Path | None = None
    footer: str | None = None
    extra_feed_lines: int = 0
    details: dict[str, str] = field(default_factory=dict)


class _BufferPrinter(Escpos):  # type: ignore[misc, unused-ignore]
    """python-escpos printer whose output is collected in memory, not sent."""

    def __init__(self, profile: str | None) -> None:
        super().__init__(profile=profile)
        self.buffer = bytearray()

    def _raw(self, msg: bytes) -> None:
        self.buffer += msg


def _load_logo(logo: bytes | Path) -> Image.Image:
    try:
        raw = logo.read_bytes() if isinstance(logo, Path) else logo
        image: Image.Image = Image.open(io.BytesIO(raw))
        # convert() forces the lazy decoder now, so a broken file fails here.
        image = image.convert("RGBA")
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise DeviceError("bad_logo", "logo du reçu illisible") from exc
    if image.width > LOGO_MAX_WIDTH_PX:
        height = max(1, image.height * LOGO_MAX_WIDTH_PX // image.width)
        image = image.resize((LOGO_MAX_WIDTH_PX, height))
    # Transparent PNGs would turn black when flattened: paste them on white.
    background = Image.new("RGBA", image.size, "white")
    return Image.alpha_composite(background, image).convert("RGB")


def build_receipt_bytes(
    receipt: Receipt, *, code_page: str = DEFAULT_CODE_PAGE, profile: str | None = DEFAULT_PROFILE
) -> bytes:
    """The full ESC/POS byte stream of one receipt (pure, no I/O).

    Raises DeviceError("bad_receipt"/"bad_logo") for content the printer cannot
    take, e.g. characters absent from the code page or an unreadable logo.
    """
    printer = _BufferPrinter(profile)
    p: Any = printer
    try:
        p._raw(b"\x1b@")  # ESC @: start from known defaults whatever the last job left
        p.charcode(code_page)  # emits ESC t n now and pins the encoding
        if receipt.logo_png is not None:
            p.set(align="center")
            p.image(_load_logo(receipt.logo_png), center=False)
        p.set(align="center", bold=True, double_height=True, double_width=True)
        p.textln(receipt.title.translate(TYPOGRAPHY_FALLBACKS))
        p.set(align="left", normal_textsize=True)
        for line in receipt.lines:
            p.textln(line.translate(TYPOGRAPHY_FALLBACKS))
        if receipt.qr_payload:
            p.set(align="center")
            p.qr(receipt.qr_payload, native=True, size=6)
            p.textln()
        if receipt.footer:
            p.set(align="center")
            p.textln(receipt.footer.translate(TYPOGRAPHY_FALLBACKS))
        if receipt.extra_feed_lines:
            p.ln(receipt.extra_feed_lines)
        p.cut()
    except DeviceError:
        raise
    except (UnicodeError, ValueError, TypeError) as exc:
        raise DeviceError("bad_receipt", f"reçu impossible à composer : {exc}") from exc
    except Exception as exc:  # python-escpos raises its own error classes
        raise DeviceError("bad_receipt", f"reçu impossible à composer : {exc}") from exc
    return bytes(printer.buffer)


class ReceiptPrinter:
    """Async ESC/POS receipt printer driver; reports DeviceStatus, never crashes."""

    def __init__(
        self,
        transport: Transport,
        *,
        role: str = "receipt_printer",
        on_status: StatusListener,
        status_timeout_s: float = STATUS_TIMEOUT_S,
        poll_interval_s: float = POLL_INTERVAL_S,
        code_page: str = DEFAULT_CODE_PAGE,
        profile: str | None = DEFAULT_PROFILE,
    ) -> None:
        self._transport = transport
        self._role = role
        self._on_status = on_status
        self._status_timeout_s = status_timeout_s
        self._poll_interval_s = poll_interval_s
        self._code_page = code_page
        self._profile = profile
        self._lock = asyncio.Lock()
        self._poll_task: asyncio.Task[None] | None = None
        self._unplugged = False
        self._unreadable_polls = 0
        self._jobs_printed = 0
        self._status = DeviceStatus(role, KIND, DeviceState.UNKNOWN, details=self._details())
        self.last_printer_status: PrinterStatus | None = None
        """The last poll, with every flag, for diagnostics."""

    @property
    def status(self) -> DeviceStatus:
        """The last status reported."""
        return self._status

    async def start(self) -> DeviceStatus:
        """Poll once now, then keep polling in the background."""
        status = await self.poll()
        if self._poll_task is None and not self._unplugged:
            self._poll_task = asyncio.create_task(self._poll_forever(), name=f"{self._role} poll")
        return status

    async def stop(self) -> None:
        """Stop background polling (the transport stays open)."""
        task, self._poll_task = self._poll_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def close(self) -> None:
        """Stop polling and release the transport; idempotent."""
        await self.stop()
        with contextlib.suppress(Exception):
            await self._transport.close()

    async def poll(self) -> DeviceStatus:
        """Ask the printer for its status now and report it; never raises."""
        if self._unplugged:
            return self._status
        async with self._lock:
            try:
                printer_status = await self._query_status()
            except TransportClosed as exc:
                self._mark_unplugged(exc)
                return self._status
            except Exception:  # a poll must never take the booth down
                log.exception("%s: status poll failed", self._role)
                printer_status = summarise((), silent=False)
            self._publish_printer_status(printer_status)
            return self._status

    async def print_receipt(self, receipt: Receipt) -> None:
        """Print one receipt; raises DeviceError with a plain French reason."""
        data = build_receipt_bytes(receipt, code_page=self._code_page, profile=self._profile)
        if self._unplugged:
            raise DeviceError("unplugged", UNPLUGGED_REASON)
        async with self._lock:
            try:
                before = await self._query_status()
                self._publish_printer_status(before)
                if not before.usable:
                    raise DeviceError(
                        before.condition.value,
                        f"impression impossible : {REASONS_FR[before.condition]}",
                    )
                self._publish(DeviceState.BUSY, "impression en cours")
                for start in range(0, len(data), WRITE_CHUNK_BYTES):
                    await self._transport.write(data[start : start + WRITE_CHUNK_BYTES])
                # Asking again after the job both confirms the printer is still
                # there and tells whether the paper ran out during it.
                after = await self._query_status()
                self._publish_printer_status(after)
            except TransportClosed as exc:
                self._mark_unplugged(exc)
                raise DeviceError("unplugged", UNPLUGGED_REASON) from exc
            except DeviceError:
                raise
            except Exception as exc:  # anything else: fail the job, keep the booth up
                log.exception("%s: print job failed", self._role)
                self._publish(DeviceState.UNAVAILABLE, "erreur d'impression")
                raise DeviceError("failed", "erreur d'impression") from exc
        if after.paper_out:
            raise DeviceError("paper_out", "plus de papier pendant l'impression : reçu incomplet")
        if not after.usable:
            raise DeviceError(
                after.condition.value,
                f"impression peut-être incomplète : {REASONS_FR[after.condition]}",
            )
        self._jobs_printed += 1
        log.info("%s: receipt printed (%d bytes)", self._role, len(data))

    async def _poll_forever(self) -> None:
        while not self._unplugged:
            await asyncio.sleep(self._poll_interval_s)
            await self.poll()

    async def _query_status(self) -> PrinterStatus:
        """One DLE EOT round; caller holds the lock. Raises TransportClosed."""
        # Late answers to an earlier poll must not be read as answers to this one.
        stale = await self._transport.read(ANSWER_MAX_BYTES, DRAIN_TIMEOUT_S)
        while stale:
            log.debug("%s: dropped stale bytes %s", self._role, stale.hex())
            stale = await self._transport.read(ANSWER_MAX_BYTES, DRAIN_TIMEOUT_S)
        answers: list[StatusAnswer] = []
        for query in ALL_QUERIES:
            await self._transport.write(status_query(query))
            data = await self._transport.read(ANSWER_MAX_BYTES, self._status_timeout_s)
            if not data and not answers:
                # Silent on the first question: do not wait out the other three.
                return summarise((), silent=True)
            answers.append(parse_answer(query, data))
        return summarise(answers)

    def _publish_printer_status(self, printer_status: PrinterStatus) -> None:
        self.last_printer_status = printer_status
        condition = printer_status.condition
        if condition is Condition.UNREADABLE:
            self._unreadable_polls += 1
        if condition is Condition.OK:
            self._publish(DeviceState.READY, "")
        elif condition is Condition.PAPER_NEAR_END:
            self._publish(DeviceState.DEGRADED, REASONS_FR[condition])
        else:
            self._publish(DeviceState.UNAVAILABLE, REASONS_FR[condition])

    def _mark_unplugged(self, exc: BaseException) -> None:
        log.warning("%s: %s", self._role, exc)
        self._unplugged = True
        self._publish(DeviceState.UNAVAILABLE, UNPLUGGED_REASON)

    def _details(self) -> dict[str, str]:
        details = {
            "transport": self._transport.description,
            "code_page": self._code_page,
            "unreadable_polls": str(self._unreadable_polls),
            "jobs_printed": str(self._jobs_printed),
        }
        last = getattr(self, "last_printer_status", None)
        if last is not None:
            details["condition"] = last.condition.value
            details["answers"] = " ".join(a.raw.hex() or "-" for a in last.answers)
        return details

    def _publish(self, state: DeviceState, reason: str) -> None:
        changed = (state, reason) != (self._status.state, self._status.reason)
        self._status = DeviceStatus(self._role, KIND, state, reason, self._details())
        if not changed:
            return
        log.info("%s: %s %s", self._role, state.value, reason)
        notify(self._on_status, self._status)

"""The booth's side of device work during a call: a router between the data channel
and the booth's peripherals.

The agent sends ``device_request`` / ``cancel_request`` and, for a PDF, a chunked
transfer first; the router checks each request, asks the citizen's consent when the
request reads something of theirs (card, scan, code), calls an injected
:class:`DeviceHandler`, and reports ``device_progress`` then ``device_result`` or
``device_error``.  A scan goes back as a booth -> agent transfer just before its
result.  No Kivy, no driver: the handler (the DeviceManager and the consent screen)
does the real work, so this module is tested with any handler.

Everything received stays in memory and :meth:`DeviceChannel.close` zeroes it
(nothing of the citizen outlives the call).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from guichet import wire
from guichet.transfer import CompletedTransfer, TransferAssembler, TransferFailure
from guichet.transfer import transfer_messages as build_transfer
from guichet.wire import DeviceAuditOutcome, DeviceErrorCode, DeviceKind, DevicePhase
from kiosk.devices.base import DeviceError

logger = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 180.0
"""Longest a request may take, consent included (a citizen looking for a card)."""
MAX_ACTIVE_REQUESTS = 4
SEND_YIELD_EVERY = 8
"""Outgoing chunks sent between two yields to the loop, so a big scan never blocks it."""

CONSENT_KINDS = frozenset({DeviceKind.READ_CARD, DeviceKind.SCAN, DeviceKind.READ_CODE})
"""Requests that take something of the citizen's to the agent: the citizen says yes
first.  Printing hands them paper and takes nothing, so it needs no consent."""

WORKING_TEXT = {
    DeviceKind.PRINT_PDF: "Impression du document en cours.",
    DeviceKind.PRINT_RECEIPT: "Impression du reçu en cours.",
    DeviceKind.READ_CARD: "Le citoyen présente sa carte au lecteur.",
    DeviceKind.SCAN: "Numérisation en cours.",
    DeviceKind.READ_CODE: "Le citoyen présente son code au lecteur.",
}
DONE_TEXT = {
    DeviceKind.PRINT_PDF: "Document imprimé.",
    DeviceKind.PRINT_RECEIPT: "Reçu imprimé.",
    DeviceKind.READ_CARD: "Carte lue.",
    DeviceKind.SCAN: "Document numérisé.",
    DeviceKind.READ_CODE: "Code lu.",
}
ERROR_CODES = {code.value for code in DeviceErrorCode}


@dataclass(frozen=True)
class CardInfo:
    card_type: str
    uid: str | None = None
    """Hex, upper case."""
    atr: str | None = None
    """Hex, upper case."""


@dataclass(frozen=True)
class CodeInfo:
    text: str
    symbology: str | None = None


@dataclass(frozen=True)
class ScanImage:
    data: bytes
    mime: str
    """``image/png`` or ``image/jpeg``."""
    width: int
    height: int
    dpi: int


class DeviceHandler(Protocol):
    """What the booth's devices offer a call.  Failures raise
    :class:`kiosk.devices.base.DeviceError` with a ``code`` (a
    :class:`~guichet.wire.DeviceErrorCode` value when one fits) and a French reason."""

    async def ask_consent(self, kind: DeviceKind) -> bool: ...

    async def print_pdf(self, pdf: bytes, title: str) -> int | None:
        """Print an A4 PDF; returns the page count when known."""
        ...

    async def print_receipt(self, title: str, lines: Sequence[str], qr: str | None) -> None: ...

    async def read_card(self) -> CardInfo: ...

    async def scan(self, dpi: int, colour: bool) -> ScanImage: ...

    async def read_code(self) -> CodeInfo: ...


@dataclass(frozen=True)
class FinishedWork:
    """How one request ended, for the audit trail: metadata only, never what was read."""

    request_id: str
    kind: DeviceKind
    outcome: DeviceAuditOutcome
    error: DeviceErrorCode | None = None
    pages: int | None = None
    size: int | None = None
    """Bytes of the PDF printed or of the image scanned."""

    def to_wire(self, call_id: str) -> wire.DeviceWork:
        """The ``device_work`` message the booth sends the switchboard."""
        return wire.DeviceWork(
            call_id=call_id,
            request_id=self.request_id,
            kind=self.kind,
            outcome=self.outcome,
            error=self.error,
            pages=self.pages,
            size=self.size,
        )


FinishedListener = Callable[[FinishedWork], None]


@dataclass
class RequestState:
    """One request as the router sees it (read by tests and diagnostics)."""

    request_id: str
    kind: DeviceKind
    phase: DevicePhase | None = None
    error: str | None = None
    """``DeviceErrorCode`` value when it failed."""
    task: asyncio.Task[None] | None = None
    transfer_id: str = ""
    """The PDF a ``print_pdf`` prints (released however the request ends)."""
    pages: int | None = None
    size: int | None = None
    """Bytes printed or scanned, once known."""
    told: bool = False
    """Its end went to the ``on_finished`` listener (once per request)."""

    @property
    def finished(self) -> bool:
        return self.phase in (DevicePhase.DONE, DevicePhase.FAILED, DevicePhase.CONSENT_REFUSED)


class _Failed(Exception):
    def __init__(self, code: DeviceErrorCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


Sender = Callable[[wire.AnyPeerMessage], None]


class DeviceChannel:
    """Routes device and transfer messages of one call; one instance per call."""

    def __init__(
        self,
        handler: DeviceHandler,
        send: Sender,
        *,
        assembler: TransferAssembler | None = None,
        request_timeout_s: float = REQUEST_TIMEOUT_S,
        on_finished: FinishedListener | None = None,
    ) -> None:
        """``on_finished`` hears how each request ended (the booth tells the switchboard's
        audit trail); it is called on the loop and must not block."""
        self.handler = handler
        self._on_finished = on_finished
        self._send_raw = send
        self.assembler = assembler or TransferAssembler()
        self.request_timeout_s = request_timeout_s
        self.requests: dict[str, RequestState] = {}
        self.bad_messages = 0
        self._closed = False

    @staticmethod
    def handles(msg: object) -> bool:
        """Whether ``msg`` is a message for this router (device or transfer)."""
        return isinstance(msg, wire.DEVICE_MESSAGE_TYPES)

    # -- incoming ------------------------------------------------------------

    def handle(self, msg: wire.AnyPeerMessage) -> None:
        """Take one parsed data-channel message.  Never raises."""
        if self._closed:
            return
        try:
            self._handle(msg)
        except Exception:
            logger.exception("device channel: unexpected error on %s", msg.type)

    def _handle(self, msg: wire.AnyPeerMessage) -> None:
        if isinstance(msg, wire.TransferStart | wire.TransferChunk | wire.TransferEnd):
            outcome = self.assembler.feed(msg)
            if isinstance(outcome, TransferFailure):
                self._send(outcome.to_abort())
            elif isinstance(outcome, CompletedTransfer):
                logger.info(
                    "transfer %s received (%d bytes)", outcome.transfer_id, len(outcome.data)
                )
        elif isinstance(msg, wire.TransferAbort):
            self.assembler.feed(msg)
        elif isinstance(msg, wire.DeviceRequest):
            self._start_request(msg)
        elif isinstance(msg, wire.CancelRequest):
            self._cancel(msg.request_id)
        else:
            # Reports are booth -> agent only: an agent sending one is confused.
            self.bad_messages += 1
            logger.warning("device channel: ignored %s from the agent", msg.type)

    def _start_request(self, msg: wire.DeviceRequest) -> None:
        kind = DeviceKind(msg.command.kind)
        rid = msg.request_id
        if rid in self.requests:
            self._error(rid, DeviceErrorCode.DUPLICATE_REQUEST, "Cette demande a déjà été reçue.")
            return
        active = [r for r in self.requests.values() if not r.finished]
        if any(r.kind == kind for r in active) or len(active) >= MAX_ACTIVE_REQUESTS:
            self._error(
                rid, DeviceErrorCode.BUSY, "Une demande du même type est déjà en cours à la borne."
            )
            return
        state = RequestState(rid, kind)
        if isinstance(msg.command, wire.PrintPdfCommand):
            state.transfer_id = msg.command.transfer_id
        self.requests[rid] = state
        state.task = asyncio.create_task(self._run(state, msg.command), name=f"device-{rid}")
        state.task.add_done_callback(lambda task: self._on_task_done(state, task))

    def _on_task_done(self, state: RequestState, task: asyncio.Task[None]) -> None:
        # A task cancelled before its first step never ran _run's handlers: report here.
        if task.cancelled() and not self._closed and not state.finished:
            self._finish_failed(state, DeviceErrorCode.CANCELLED, "Demande annulée.")
            if state.transfer_id:
                self.assembler.release(state.transfer_id)

    def _cancel(self, request_id: str) -> None:
        state = self.requests.get(request_id)
        if state is None:
            self._error(request_id, DeviceErrorCode.UNKNOWN_REQUEST, "Demande inconnue à la borne.")
            return
        if state.task is not None and not state.task.done():
            state.task.cancel()

    # -- running a request ---------------------------------------------------

    async def _run(self, state: RequestState, command: wire.DeviceCommand) -> None:
        rid = state.request_id
        try:
            async with asyncio.timeout(self.request_timeout_s):
                if state.kind in CONSENT_KINDS:
                    self._progress(
                        state, DevicePhase.WAITING_CONSENT, "En attente de l'accord du citoyen."
                    )
                    if not await self.handler.ask_consent(state.kind):
                        self._progress(state, DevicePhase.CONSENT_REFUSED, "Le citoyen a refusé.")
                        refused = DeviceErrorCode.CONSENT_REFUSED
                        state.error = refused.value
                        self._tell(state, DeviceAuditOutcome.REFUSED, refused)
                        self._send_report(
                            wire.DeviceErrorReport(
                                request_id=rid,
                                code=DeviceErrorCode.CONSENT_REFUSED,
                                reason="Le citoyen a refusé la demande.",
                            )
                        )
                        return
                self._progress(state, DevicePhase.WORKING, WORKING_TEXT[state.kind], 0)
                outcome = await self._perform(state, command)
            self._progress(state, DevicePhase.DONE, DONE_TEXT[state.kind], 100)
            self._tell(state, DeviceAuditOutcome.DONE)
            self._send_report(wire.DeviceResult(request_id=rid, result=outcome))
        except asyncio.CancelledError:
            if self._closed:
                self._tell(state, DeviceAuditOutcome.CANCELLED, DeviceErrorCode.CANCELLED)
                raise
            self._finish_failed(state, DeviceErrorCode.CANCELLED, "Demande annulée.")
        except TimeoutError:
            self._finish_failed(
                state, DeviceErrorCode.TIMEOUT, "La borne n'a pas obtenu de réponse à temps."
            )
        except _Failed as exc:
            self._finish_failed(state, exc.code, exc.reason)
        except DeviceError as exc:
            code = DeviceErrorCode(exc.code) if exc.code in ERROR_CODES else DeviceErrorCode.FAILED
            self._finish_failed(state, code, exc.reason or "Le périphérique a échoué.")
        except Exception:
            logger.exception("device request %s (%s) failed", rid, state.kind.value)
            self._finish_failed(
                state, DeviceErrorCode.FAILED, "Le périphérique a rencontré une erreur imprévue."
            )
        finally:
            if isinstance(command, wire.PrintPdfCommand):
                self.assembler.release(command.transfer_id)

    async def _perform(
        self, state: RequestState, command: wire.DeviceCommand
    ) -> wire.DeviceOutcome:
        rid = state.request_id
        if isinstance(command, wire.PrintPdfCommand):
            done = self.assembler.completed(command.transfer_id)
            if done is None:
                raise _Failed(
                    DeviceErrorCode.TRANSFER_FAILED,
                    "Le document n'est pas arrivé entier à la borne : renvoyez-le.",
                )
            # A copy for the handler's bytes contract; the assembler's buffer is
            # zeroed in _run's finally.
            state.size = len(done.data)
            pages = await self.handler.print_pdf(bytes(done.data), command.title)
            state.pages = pages
            return wire.PrintOutcome(kind="print_pdf", pages=pages)
        if isinstance(command, wire.PrintReceiptCommand):
            await self.handler.print_receipt(command.title, list(command.lines), command.qr)
            return wire.PrintOutcome(kind="print_receipt")
        if isinstance(command, wire.ReadCardCommand):
            card = await self.handler.read_card()
            return wire.CardOutcome(
                card_type=card.card_type,
                uid=card.uid.upper() if card.uid else None,
                atr=card.atr.upper() if card.atr else None,
            )
        if isinstance(command, wire.ReadCodeCommand):
            code = await self.handler.read_code()
            return wire.CodeOutcome(text=code.text, symbology=code.symbology)
        image = await self.handler.scan(command.dpi, command.colour)
        state.size = len(image.data)
        tid = f"scan-{uuid.uuid4().hex[:16]}"
        await self.send_transfer(tid, image.data, mime=image.mime, name=f"scan-{rid}")
        return wire.ScanOutcome(
            transfer_id=tid,
            mime="image/jpeg" if image.mime == "image/jpeg" else "image/png",
            size=len(image.data),
            width=image.width,
            height=image.height,
            dpi=image.dpi,
        )

    async def send_transfer(self, transfer_id: str, data: bytes, *, mime: str, name: str) -> None:
        """Send ``data`` to the agent as a chunked transfer, yielding to the loop as it goes."""
        if len(data) > wire.MAX_TRANSFER_BYTES:
            raise _Failed(DeviceErrorCode.FAILED, "Le document numérisé est trop volumineux.")
        for n, msg in enumerate(build_transfer(transfer_id, data, mime=mime, name=name)):
            self._send(msg)
            if n % SEND_YIELD_EVERY == 0:
                await asyncio.sleep(0)

    # -- outgoing ------------------------------------------------------------

    def _progress(
        self, state: RequestState, phase: DevicePhase, message: str, percent: int | None = None
    ) -> None:
        state.phase = phase
        self._send_report(
            wire.DeviceProgress(
                request_id=state.request_id, phase=phase, message=message, percent=percent
            )
        )

    def _tell(
        self, state: RequestState, outcome: DeviceAuditOutcome, error: DeviceErrorCode | None = None
    ) -> None:
        """Tell ``on_finished`` how the request ended (once; never raises)."""
        if state.told or self._on_finished is None:
            return
        state.told = True
        work = FinishedWork(state.request_id, state.kind, outcome, error, state.pages, state.size)
        try:
            self._on_finished(work)
        except Exception:
            logger.exception("device channel: on_finished listener failed")

    def _finish_failed(self, state: RequestState, code: DeviceErrorCode, reason: str) -> None:
        state.error = code.value
        cancelled = code is DeviceErrorCode.CANCELLED
        self._tell(
            state, DeviceAuditOutcome.CANCELLED if cancelled else DeviceAuditOutcome.FAILED, code
        )
        self._progress(state, DevicePhase.FAILED, reason)
        self._send_report(
            wire.DeviceErrorReport(request_id=state.request_id, code=code, reason=reason[:300])
        )

    def _error(self, request_id: str, code: DeviceErrorCode, reason: str) -> None:
        self._send_report(wire.DeviceErrorReport(request_id=request_id, code=code, reason=reason))

    def _send_report(self, msg: wire.AnyPeerMessage) -> None:
        if not self._closed:
            self._send(msg)

    def _send(self, msg: wire.AnyPeerMessage) -> None:
        try:
            self._send_raw(msg)
        except Exception as exc:  # the channel closed under us: the call is ending
            logger.warning("device channel: could not send %s: %s", msg.type, exc)

    # -- end of call -----------------------------------------------------------

    async def close(self) -> None:
        """Cancel every request and zero every buffer.  Idempotent."""
        if self._closed:
            return
        self._closed = True
        tasks = [r.task for r in self.requests.values() if r.task is not None and not r.task.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for state in self.requests.values():
            if not state.finished:  # cancelled before it ever ran
                self._tell(state, DeviceAuditOutcome.CANCELLED, DeviceErrorCode.CANCELLED)
        self.assembler.wipe()
        self.requests.clear()

"""The booth's device router: requests in, progress/result/error out.

The handler is :class:`fixtures.device_handler.SimDeviceHandler`: real drivers
(card reader, barcode scanner, ESC/POS receipt printer) on pty simulators; PDFs
are recorded and scans drawn in memory (its docstring says why).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fixtures.device_handler import SimDeviceHandler

from guichet import wire
from guichet.transfer import TransferAssembler, transfer_messages
from guichet.wire import DeviceAuditOutcome, DeviceErrorCode, DeviceKind
from kiosk.call.device_channel import DeviceChannel, FinishedWork
from kiosk.call.media import MediaSources
from kiosk.call.peer import BoothPeer
from kiosk.devices.base import DeviceError
from kiosk.devices.sim.escpos_printer import PrinterState

PDF = b"%PDF-1.4\n1 0 obj << /Type /Page >> endobj\n" + bytes(range(256)) * 200 + b"\n%%EOF\n"


class Wire:
    """The agent's end: every message the router sends, re-parsed as the agent would."""

    def __init__(self) -> None:
        self.sent: list[wire.AnyPeerMessage] = []
        self.event = asyncio.Event()

    def __call__(self, msg: wire.AnyPeerMessage) -> None:
        self.sent.append(wire.parse_peer(wire.dump(msg)))
        self.event.set()

    def of(self, rid: str) -> list[Any]:
        return [m for m in self.sent if getattr(m, "request_id", None) == rid]

    async def final(self, rid: str, timeout: float = 8.0) -> Any:
        async with asyncio.timeout(timeout):
            while True:
                for m in self.of(rid):
                    if isinstance(m, wire.DeviceResult | wire.DeviceErrorReport):
                        return m
                self.event.clear()
                await self.event.wait()


@pytest.fixture
async def handler() -> AsyncIterator[SimDeviceHandler]:
    h = await SimDeviceHandler().start()
    try:
        yield h
    finally:
        await h.stop()


@pytest.fixture
async def channel(handler: SimDeviceHandler) -> AsyncIterator[tuple[DeviceChannel, Wire]]:
    out = Wire()
    router = DeviceChannel(handler, out, request_timeout_s=5)
    try:
        yield router, out
    finally:
        await router.close()


def request(rid: str, **command: Any) -> wire.DeviceRequest:
    return wire.DeviceRequest.model_validate({"request_id": rid, "command": command})


async def test_pdf_arrives_intact_and_is_printed(
    channel: tuple[DeviceChannel, Wire], handler: SimDeviceHandler
) -> None:
    router, out = channel
    for msg in transfer_messages("pdf-1", PDF, mime="application/pdf", name="attestation.pdf"):
        router.handle(msg)
    router.handle(request("r1", kind="print_pdf", transfer_id="pdf-1", title="Attestation"))
    result = await out.final("r1")
    assert isinstance(result, wire.DeviceResult) and result.result.kind == "print_pdf"
    assert [(t, hashlib.sha256(b).hexdigest()) for t, b in handler.printed_pdfs] == [
        ("Attestation", hashlib.sha256(PDF).hexdigest())
    ]
    phases = [m.phase for m in out.of("r1") if isinstance(m, wire.DeviceProgress)]
    assert phases == ["working", "done"]  # printing asks no consent
    assert router.assembler.held == 0  # the PDF buffer is zeroed once printed


async def test_card_and_code_go_through_consent_and_real_drivers(
    channel: tuple[DeviceChannel, Wire], handler: SimDeviceHandler
) -> None:
    router, out = channel
    router.handle(request("c1", kind="read_card"))
    router.handle(request("q1", kind="read_code"))
    card = await out.final("c1")
    code = await out.final("q1")
    assert isinstance(card, wire.DeviceResult)
    assert card.result == wire.CardOutcome(card_type="ISO14443A", uid="04A1B2C3D4E5F6")
    assert isinstance(code, wire.DeviceResult)
    assert code.result == wire.CodeOutcome(text="CONVOC-2026-000123")
    assert sorted(handler.consents) == [DeviceKind.READ_CARD, DeviceKind.READ_CODE]
    phases = [m.phase for m in out.of("c1") if isinstance(m, wire.DeviceProgress)]
    assert phases == ["waiting_consent", "working", "done"]


async def test_scan_comes_back_as_a_verified_transfer(channel: tuple[DeviceChannel, Wire]) -> None:
    router, out = channel
    router.handle(request("s1", kind="scan", dpi=75, colour=True))
    result = await out.final("s1")
    assert isinstance(result, wire.DeviceResult) and isinstance(result.result, wire.ScanOutcome)
    agent = TransferAssembler()
    done = None
    for msg in out.sent:
        if isinstance(msg, wire.TransferStart | wire.TransferChunk | wire.TransferEnd):
            done = agent.feed(msg) or done
    assert done is not None and not hasattr(done, "code")
    assert bytes(done.data[:8]) == b"\x89PNG\r\n\x1a\n"  # type: ignore[union-attr]
    assert result.result.size == len(done.data)  # type: ignore[union-attr]
    assert result.result.dpi == 75 and result.result.width == 620


async def test_receipt_prints_on_the_escpos_simulator_and_paper_out_is_plain_french(
    channel: tuple[DeviceChannel, Wire], handler: SimDeviceHandler
) -> None:
    router, out = channel
    router.handle(
        request(
            "p1",
            kind="print_receipt",
            title="Rendez-vous",
            lines=["Mardi 3 mars, 10 h"],
            qr="https://rdv.example/42",
        )
    )
    assert isinstance(await out.final("p1"), wire.DeviceResult)
    assert "Mardi 3 mars, 10 h" in "\n".join(handler.printer_sim.printed.lines)
    assert handler.printer_sim.printed.qr_payloads == ["https://rdv.example/42"]
    handler.printer_sim.state = PrinterState.PAPER_OUT
    router.handle(request("p2", kind="print_receipt", title="Reçu"))
    error = await out.final("p2")
    assert isinstance(error, wire.DeviceErrorReport) and error.code is DeviceErrorCode.FAILED
    assert "papier" in error.reason


async def test_refusals_busy_duplicates_cancel_and_bad_transfers(
    channel: tuple[DeviceChannel, Wire], handler: SimDeviceHandler
) -> None:
    router, out = channel
    handler.consent = False
    router.handle(request("c1", kind="read_card"))
    refused = await out.final("c1")
    assert isinstance(refused, wire.DeviceErrorReport)
    assert refused.code is DeviceErrorCode.CONSENT_REFUSED
    router.handle(request("c1", kind="read_card"))
    dup = await out.final("c1")
    assert dup is refused  # the first report for c1 is still the final one
    assert any(
        isinstance(m, wire.DeviceErrorReport) and m.code is DeviceErrorCode.DUPLICATE_REQUEST
        for m in out.of("c1")
    )
    # A PDF that never arrived: a clear error, not a crash.
    router.handle(request("r9", kind="print_pdf", transfer_id="missing"))
    err = await out.final("r9")
    assert err.code is DeviceErrorCode.TRANSFER_FAILED and "renvoyez" in err.reason
    # A corrupted transfer is aborted back to the agent with the reason.
    msgs = list(transfer_messages("bad", PDF, mime="application/pdf"))
    start = msgs[0]
    assert isinstance(start, wire.TransferStart)
    msgs[0] = start.model_copy(update={"sha256": "0" * 64})
    for msg in msgs:
        router.handle(msg)
    aborts = [m for m in out.sent if isinstance(m, wire.TransferAbort)]
    assert [a.code for a in aborts] == [wire.TransferErrorCode.CHECKSUM]
    # Cancel a slow request; a second one of the same kind meanwhile is "busy".
    handler.consent = True
    handler.failures.clear()
    handler.code = "X"
    router.handle(request("q1", kind="read_code"))
    router.handle(request("q2", kind="read_code"))
    busy = await out.final("q2")
    assert busy.code is DeviceErrorCode.BUSY
    router.handle(wire.CancelRequest(request_id="q1"))
    cancelled = await out.final("q1")
    assert cancelled.code in (DeviceErrorCode.CANCELLED,) or isinstance(
        cancelled, wire.DeviceResult
    )
    router.handle(wire.CancelRequest(request_id="nobody"))
    assert (await out.final("nobody")).code is DeviceErrorCode.UNKNOWN_REQUEST


async def test_device_errors_keep_their_code_and_reason(
    channel: tuple[DeviceChannel, Wire], handler: SimDeviceHandler
) -> None:
    router, out = channel
    handler.failures[DeviceKind.SCAN] = DeviceError("unavailable", "Le scanner est débranché.")
    router.handle(request("s1", kind="scan"))
    err = await out.final("s1")
    assert err.code is DeviceErrorCode.UNAVAILABLE and err.reason == "Le scanner est débranché."
    handler.failures[DeviceKind.READ_CARD] = DeviceError("jam", "Carte coincée.")
    router.handle(request("c1", kind="read_card"))
    err = await out.final("c1")
    assert err.code is DeviceErrorCode.FAILED and err.reason == "Carte coincée."


async def test_close_cancels_requests_and_wipes_buffers(handler: SimDeviceHandler) -> None:
    out = Wire()
    router = DeviceChannel(handler, out)
    msgs = list(transfer_messages("pdf", PDF, mime="application/pdf"))
    for msg in msgs[:-1]:
        router.handle(msg)  # in progress, never finished
    handler.consent = True
    router.handle(request("q1", kind="read_code"))
    await asyncio.sleep(0.01)
    buffer = router.assembler._incoming["pdf"].buffer
    await router.close()
    assert buffer == bytearray(len(PDF))
    assert router.assembler.held == 0 and router.requests == {}
    count = len(out.sent)
    router.handle(request("late", kind="read_card"))
    assert len(out.sent) == count  # a closed router stays silent


async def test_every_request_end_is_told_for_the_audit_without_what_was_read(
    handler: SimDeviceHandler,
) -> None:
    out = Wire()
    told: list[FinishedWork] = []
    router = DeviceChannel(handler, out, request_timeout_s=5, on_finished=told.append)
    for msg in transfer_messages("pdf-1", PDF, mime="application/pdf"):
        router.handle(msg)
    router.handle(request("p1", kind="print_pdf", transfer_id="pdf-1", title="Attestation"))
    router.handle(request("s1", kind="scan", dpi=75, colour=False))
    scan = await out.final("s1")
    await out.final("p1")
    router.handle(request("c1", kind="read_card"))
    card = await out.final("c1")
    handler.consent = False
    router.handle(request("c2", kind="read_card"))
    await out.final("c2")
    handler.consent = True
    handler.failures[DeviceKind.READ_CODE] = DeviceError("unavailable", "Pas de lecteur.")
    router.handle(request("q1", kind="read_code"))
    await out.final("q1")
    handler.failures.clear()
    router.handle(request("q2", kind="read_code"))
    await router.close()  # the call ends before the citizen shows their code

    by_id = {w.request_id: w for w in told}
    assert len(told) == len(by_id) == 6  # each request told once
    assert by_id["p1"].kind is DeviceKind.PRINT_PDF
    assert (by_id["p1"].outcome, by_id["p1"].size) == (DeviceAuditOutcome.DONE, len(PDF))
    assert isinstance(scan, wire.DeviceResult) and isinstance(scan.result, wire.ScanOutcome)
    assert by_id["s1"].outcome is DeviceAuditOutcome.DONE
    assert by_id["s1"].size == scan.result.size
    assert by_id["c1"].outcome is DeviceAuditOutcome.DONE
    assert (by_id["c2"].outcome, by_id["c2"].error) == (
        DeviceAuditOutcome.REFUSED,
        DeviceErrorCode.CONSENT_REFUSED,
    )
    assert (by_id["q1"].outcome, by_id["q1"].error) == (
        DeviceAuditOutcome.FAILED,
        DeviceErrorCode.UNAVAILABLE,
    )
    assert (by_id["q2"].outcome, by_id["q2"].error) == (
        DeviceAuditOutcome.CANCELLED,
        DeviceErrorCode.CANCELLED,
    )
    # What goes to the switchboard never holds what was read.
    assert isinstance(card, wire.DeviceResult) and isinstance(card.result, wire.CardOutcome)
    sent = "".join(wire.dump(w.to_wire("c-1")) for w in told)
    assert card.result.uid and card.result.uid not in sent and "Attestation" not in sent


async def test_booth_peer_routes_device_messages(media: MediaSources) -> None:
    peer = BoothPeer(
        [],
        media,
        on_remote_video_frame=lambda f: None,
        on_chat=lambda i, t: None,
        on_state=lambda s: None,
    )
    seen: list[str] = []

    class Spy(DeviceChannel):
        def handle(self, msg: wire.AnyPeerMessage) -> None:
            seen.append(msg.type)

    try:
        raw = wire.dump(request("r1", kind="read_card"))
        peer._on_channel_message(raw)
        spy = Spy(handler=None, send=lambda m: None)  # type: ignore[arg-type]
        peer.attach_devices(spy)
        peer._on_channel_message(raw)
        peer._on_channel_message('{"type":"device_request","request_id":"x"}')
        assert seen == ["device_request"]
        assert peer.bad_messages == 1
    finally:
        await peer.close()

"""A4Printer against a real private cupsd: CUPS-PDF prints, a paper-out backend fails."""

from __future__ import annotations

import asyncio
import io
import shutil
import subprocess
from collections.abc import Iterator

import pytest
from PIL import Image, ImageDraw

from kiosk.devices.a4_printer import A4Printer
from kiosk.devices.base import DeviceError, DeviceState, DeviceStatus
from kiosk.devices.cups_status import JobInfo, JobState, PrinterInfo, PrinterState
from kiosk.devices.sim.cups_pdf import (
    PAPER_OUT_QUEUE,
    PDF_QUEUE,
    CupsServer,
    make_cups_server,
    start_cups_server,
    stop_cups_server,
)

pytestmark = pytest.mark.skipif(
    shutil.which("cupsd") is None or shutil.which("ipptool") is None,
    reason="needs cups, cups-ipp-utils (ipptool), cups-pdf and poppler-utils",
)

FAST_POLL_S = 0.1
A4_POINTS = (595, 842)


@pytest.fixture(scope="module")
def cups() -> Iterator[CupsServer]:
    """One private cupsd for the module: starting one takes about a second."""
    server = start_cups_server()
    try:
        yield server
    finally:
        stop_cups_server(server)


class Statuses(list[DeviceStatus]):
    """A status listener that keeps what it heard."""

    def __call__(self, status: DeviceStatus) -> None:
        self.append(status)


def a4_pdf() -> bytes:
    """A one-page A4 PDF (595 x 842 pt) with a few words on it."""
    page = Image.new("RGB", A4_POINTS, "white")
    ImageDraw.Draw(page).text((60, 60), "Cerfa 12345*01 - formulaire de test", fill="black")
    out = io.BytesIO()
    page.save(out, "PDF", resolution=72.0)
    return out.getvalue()


def printer(cups: CupsServer, queue: str, statuses: Statuses) -> A4Printer:
    return A4Printer(queue, server=cups.server, on_status=statuses, poll_s=FAST_POLL_S)


def spooled_documents(cups: CupsServer) -> list[str]:
    """Job data files (``d<job>-<doc>``) still in the spool: a citizen's document would be one."""
    return sorted(p.name for p in (cups.root / "spool").glob("d*"))


def pdfinfo(path: str) -> dict[str, str]:
    out = subprocess.run(["pdfinfo", path], capture_output=True, text=True, check=True).stdout
    return {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in out.splitlines())}


async def test_pdf_prints_one_a4_page_through_cups_pdf(cups: CupsServer) -> None:
    statuses = Statuses()
    progress: list[JobInfo] = []
    before = set(cups.pdf_out.glob("*.pdf"))
    a4 = printer(cups, PDF_QUEUE, statuses)

    result = await a4.print_pdf(a4_pdf(), title="Formulaire", on_progress=progress.append)

    assert result.job_id > 0
    assert progress[-1].state is JobState.COMPLETED
    assert [s.state for s in statuses] == [DeviceState.BUSY, DeviceState.READY]
    cups.wait_idle(PDF_QUEUE)
    printed = set(cups.pdf_out.glob("*.pdf")) - before
    assert len(printed) == 1
    info = pdfinfo(str(printed.pop()))
    assert info["Pages"] == "1"
    assert info["Page size"].startswith("595 x 842 pts")
    assert "A4" in info["Page size"]
    assert spooled_documents(cups) == []


async def test_probe_reports_ready_queue(cups: CupsServer) -> None:
    statuses = Statuses()
    status = await printer(cups, PDF_QUEUE, statuses).probe()
    assert status.state is DeviceState.READY
    assert status.details["queue"] == PDF_QUEUE
    assert statuses == [status]


async def test_paper_out_fails_job_and_booth_stays_up(cups: CupsServer) -> None:
    statuses = Statuses()
    a4 = printer(cups, PAPER_OUT_QUEUE, statuses)

    with pytest.raises(DeviceError) as failure:
        await a4.print_pdf(a4_pdf(), title="Formulaire")

    assert failure.value.code == "paper_out"
    assert failure.value.reason == "plus de papier"
    assert a4.status.state is DeviceState.UNAVAILABLE
    assert a4.status.reason == "plus de papier"
    # The citizen's document was cancelled, not left waiting in the spool.
    cups.wait_idle(PAPER_OUT_QUEUE, timeout=5)
    assert spooled_documents(cups) == []
    # Asking again gives the same clear answer, before anything is submitted.
    with pytest.raises(DeviceError, match="plus de papier"):
        await a4.print_pdf(a4_pdf(), title="Formulaire")
    assert (await a4.probe()).reason == "plus de papier"
    # The booth's loop is still alive and well.
    await asyncio.sleep(0)


async def test_stopped_queue_refuses_with_clear_reason(cups: CupsServer) -> None:
    statuses = Statuses()
    a4 = printer(cups, PDF_QUEUE, statuses)
    cups.run("cupsdisable", "-r", "Maintenance", PDF_QUEUE)
    try:
        with pytest.raises(DeviceError) as failure:
            await a4.print_pdf(a4_pdf(), title="Formulaire")
        assert failure.value.code == "printer_stopped"
        assert failure.value.reason == "imprimante arrêtée"
        assert a4.status.state is DeviceState.UNAVAILABLE
        assert a4.status.details["message"] == "Maintenance"
        assert not cups.run("lpstat", "-o", PDF_QUEUE, check=False).stdout.strip()
    finally:
        cups.run("cupsenable", PDF_QUEUE)
    assert (await a4.probe()).state is DeviceState.READY


async def test_queue_stopped_after_submission_cancels_the_job(
    cups: CupsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    statuses = Statuses()
    a4 = printer(cups, PDF_QUEUE, statuses)
    submit = a4._submit

    async def stop_queue_then_submit(pdf: bytes, *, title: str, copies: int) -> int:
        # The queue stops between the driver's check and the job: the job stays
        # pending with no reason of its own, only the printer says why.
        cups.run("cupsdisable", PDF_QUEUE)
        return await submit(pdf, title=title, copies=copies)

    monkeypatch.setattr(a4, "_submit", stop_queue_then_submit)
    try:
        with pytest.raises(DeviceError) as failure:
            await a4.print_pdf(a4_pdf(), title="Formulaire")
        assert failure.value.reason == "imprimante arrêtée"
        assert a4.status.state is DeviceState.UNAVAILABLE
        # Cancelled, so the document does not wait in the spool for a technician.
        cups.wait_idle(PDF_QUEUE, timeout=5)
    finally:
        cups.run("cupsenable", PDF_QUEUE)


async def test_session_ending_mid_job_cancels_and_purges_it(cups: CupsServer) -> None:
    a4 = printer(cups, PDF_QUEUE, Statuses())
    submit = a4._submit
    submitted = asyncio.Event()

    async def submit_and_signal(pdf: bytes, *, title: str, copies: int) -> int:
        job_id = await submit(pdf, title=title, copies=copies)
        submitted.set()
        return job_id

    async def looks_ready() -> PrinterInfo:
        # The queue is stopped so the job waits; the driver is told all is well so
        # it keeps waiting too, until the session ends.
        return PrinterInfo(PrinterState.IDLE)

    a4._submit = submit_and_signal  # type: ignore[method-assign]
    a4._printer_info = looks_ready  # type: ignore[method-assign]
    a4.poll_s = 5.0
    cups.run("cupsdisable", PDF_QUEUE)
    try:
        task = asyncio.create_task(a4.print_pdf(a4_pdf(), title="Formulaire"))
        await asyncio.wait_for(submitted.wait(), timeout=10)
        assert len(cups.run("lpstat", "-o", PDF_QUEUE).stdout.splitlines()) == 1
        assert spooled_documents(cups) != []
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        cups.wait_idle(PDF_QUEUE, timeout=5)
        assert spooled_documents(cups) == []
    finally:
        cups.run("cupsenable", PDF_QUEUE)


@pytest.mark.parametrize(
    ("document", "code"),
    [
        (b"", "empty_document"),
        (b"PK\x03\x04 this is a zip file", "not_a_pdf"),
        (b"<html>Formulaire</html>", "not_a_pdf"),
        (b"%PDF-1.4\n" + b"0" * 2048, "document_too_large"),
    ],
)
async def test_bad_documents_are_refused_before_cups(document: bytes, code: str) -> None:
    statuses = Statuses()
    # No server at all: refusal must come before any CUPS command runs.
    a4 = A4Printer("PDF", server="127.0.0.1:1", on_status=statuses, max_pdf_bytes=1024)
    with pytest.raises(DeviceError) as failure:
        await a4.print_pdf(document, title="x")
    assert failure.value.code == code
    assert statuses == []


async def test_bad_copies_refused() -> None:
    a4 = A4Printer("PDF", server="127.0.0.1:1", on_status=Statuses())
    with pytest.raises(DeviceError, match="exemplaires"):
        await a4.print_pdf(a4_pdf(), title="x", copies=0)


async def test_stopped_cupsd_makes_probe_unavailable() -> None:
    server = make_cups_server()
    try:
        server.start()
        statuses = Statuses()
        a4 = printer(server, "ANY", statuses)
        assert (await a4.probe()).reason == "file d'impression ANY introuvable"
        server.stop()
        status = await a4.probe()
        assert status.state is DeviceState.UNAVAILABLE
        assert status.reason == "service d'impression injoignable"
        with pytest.raises(DeviceError, match="injoignable"):
            await a4.print_pdf(a4_pdf(), title="Formulaire")
    finally:
        stop_cups_server(server)


async def test_missing_cups_tools_make_probe_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    statuses = Statuses()
    a4 = A4Printer("PDF", server="127.0.0.1:1", on_status=statuses)
    status = await a4.probe()
    assert status.state is DeviceState.UNAVAILABLE
    assert status.reason == "outil d'impression absent (ipptool)"
    with pytest.raises(DeviceError) as failure:
        await a4.print_pdf(a4_pdf(), title="Formulaire")
    assert failure.value.code == "cups_missing"


async def test_failing_status_listener_does_not_break_printing(cups: CupsServer) -> None:
    def broken(status: DeviceStatus) -> None:
        raise RuntimeError("listener bug")

    a4 = A4Printer(PDF_QUEUE, server=cups.server, on_status=broken, poll_s=FAST_POLL_S)
    result = await a4.print_pdf(a4_pdf(), title="Formulaire")
    assert result.job_id > 0

"""The booth's A4 printer, driven through CUPS command-line tools.

The agent sends the form a citizen needs; :meth:`A4Printer.print_pdf` checks it is a
PDF of sane size, pipes it to ``lp`` on stdin (never written to disk by us: a
citizen's document must not outlive the session) and follows the job with
``ipptool`` until CUPS completes it or something stops it. A job that cannot go on
(paper out, cover open, queue stopped) is cancelled with ``cancel -x`` so its data
leaves the spool too, and raises :class:`DeviceError` with a reason in plain French.

All CUPS calls are subprocesses on the asyncio loop (no blocking library on the
Kivy loop). A missing tool, an unreachable cupsd or a timeout never escapes as a
crash: it becomes a :class:`DeviceError` and an ``UNAVAILABLE`` status.

The booth's cupsd should set ``PreserveJobFiles No`` (CUPS keeps job files for a
day by default) — see ``kiosk/devices/sim/cups_pdf.py`` for a configuration.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.devices.base import DeviceError, DeviceState, DeviceStatus, StatusListener, notify
from kiosk.devices.cups_status import (
    JobInfo,
    JobState,
    PrinterInfo,
    french_job_failure,
    french_reason,
    parse_job_attributes,
    parse_printer_attributes,
    parse_request_id,
)

log = logging.getLogger(__name__)

KIND = "cups"
DEFAULT_SERVER = "localhost:631"
"""CUPS' own default when neither ``server`` nor ``$CUPS_SERVER`` is given."""

POLL_S = 0.5
"""How often a job's state is asked while it prints."""
JOB_TIMEOUT_S = 120.0
"""Longest a job may take from submission to completion before it is cancelled."""
COMMAND_TIMEOUT_S = 15.0
"""Longest one CUPS command (lp, ipptool, cancel) may run before it is killed."""
IPP_TIMEOUT_S = 5
"""ipptool's own connection/answer timeout (``-T``), below COMMAND_TIMEOUT_S."""

MAX_PDF_BYTES = 20 * 1024 * 1024
"""A form is a few hundred kB; anything this big is a mistake, not a form."""
MAX_COPIES = 10
MEDIA = "A4"
PDF_MAGIC = b"%PDF-"

PRINTER_ATTRIBUTES_TEST = "get-printer-attributes.test"
JOB_ATTRIBUTES_TEST = "get-job-attributes.test"
"""Standard ipptool test files (package cups-ipp-utils, /usr/share/cups/ipptool)."""

ProgressListener = Callable[[JobInfo], None]


@dataclass(frozen=True)
class JobResult:
    """A job CUPS finished successfully."""

    job_id: int
    pages: int
    """``job-impressions-completed`` (0 if the backend does not count)."""
    seconds: float


def check_pdf(pdf: bytes, *, max_bytes: int = MAX_PDF_BYTES) -> None:
    """Refuse what is not a PDF of sane size, before anything reaches CUPS."""
    if not pdf:
        raise DeviceError("empty_document", "document vide")
    if len(pdf) > max_bytes:
        raise DeviceError(
            "document_too_large",
            f"document trop volumineux ({len(pdf) // 1024} ko, maximum {max_bytes // 1024} ko)",
        )
    if not pdf.startswith(PDF_MAGIC):
        raise DeviceError("not_a_pdf", "le document n'est pas un PDF")


class A4Printer:
    """One CUPS queue, as the device manager and the print service see it."""

    def __init__(
        self,
        queue: str,
        *,
        server: str | None = None,
        on_status: StatusListener,
        role: str = "a4_printer",
        poll_s: float = POLL_S,
        job_timeout_s: float = JOB_TIMEOUT_S,
        command_timeout_s: float = COMMAND_TIMEOUT_S,
        max_pdf_bytes: int = MAX_PDF_BYTES,
    ) -> None:
        self.queue = queue
        self.server = server or os.environ.get("CUPS_SERVER") or DEFAULT_SERVER
        self.role = role
        self.poll_s = poll_s
        self.job_timeout_s = job_timeout_s
        self.command_timeout_s = command_timeout_s
        self.max_pdf_bytes = max_pdf_bytes
        self._on_status = on_status
        self._status = DeviceStatus(role, KIND, DeviceState.UNKNOWN)
        # One job at a time: a booth prints one citizen's forms in order.
        self._lock = asyncio.Lock()

    @property
    def status(self) -> DeviceStatus:
        """The last status reported."""
        return self._status

    # ------------------------------------------------------------------ status

    def _report(self, state: DeviceState, reason: str = "", **details: str) -> None:
        status = DeviceStatus(
            self.role,
            KIND,
            state,
            reason,
            {"queue": self.queue, "server": self.server, **details},
        )
        if status == self._status:
            return
        self._status = status
        if state is DeviceState.UNAVAILABLE:
            log.warning("printer %s unavailable: %s %s", self.queue, reason, details)
        notify(self._on_status, status)

    def _report_printer(self, printer: PrinterInfo) -> None:
        details = {"printer_state": printer.state.value, "reasons": ",".join(printer.reasons)}
        if printer.message:
            details["message"] = printer.message
        if not printer.accepting:
            self._report(DeviceState.UNAVAILABLE, "imprimante n'accepte plus de travaux", **details)
        elif not printer.can_print:
            reason = french_reason(printer.reasons) or "imprimante arrêtée"
            self._report(DeviceState.UNAVAILABLE, reason, **details)
        elif printer.warnings:
            self._report(DeviceState.DEGRADED, french_reason(printer.warnings), **details)
        else:
            self._report(DeviceState.READY, **details)

    # ------------------------------------------------------------------ commands

    def _env(self) -> dict[str, str]:
        return {**os.environ, "CUPS_SERVER": self.server}

    async def _run(self, *args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
        """Run one CUPS tool; DeviceError if it is missing or hangs."""
        try:
            process = await asyncio.create_subprocess_exec(
                *args,
                stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=self._env(),
            )
        except OSError as exc:  # FileNotFoundError, PermissionError
            raise DeviceError("cups_missing", f"outil d'impression absent ({args[0]})") from exc
        try:
            out, err = await asyncio.wait_for(
                process.communicate(stdin), timeout=self.command_timeout_s
            )
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise DeviceError(
                "cups_timeout", f"le service d'impression ne répond pas ({args[0]})"
            ) from None
        except BaseException:
            # Cancelled (session ended): do not leave a half-fed lp behind.
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            raise
        code = process.returncode if process.returncode is not None else -1
        return code, out.decode(errors="replace"), err.decode(errors="replace")

    async def _ipp(self, path: str, test: str) -> tuple[int, str, str]:
        uri = f"ipp://{self.server}{path}"
        return await self._run("ipptool", "-T", str(IPP_TIMEOUT_S), "-tv", uri, test)

    async def _printer_info(self) -> PrinterInfo:
        code, out, err = await self._ipp(f"/printers/{self.queue}", PRINTER_ATTRIBUTES_TEST)
        printer = parse_printer_attributes(out)
        if printer is not None:
            return printer
        if "not-found" in out:
            raise DeviceError("queue_not_found", f"file d'impression {self.queue} introuvable")
        log.info("ipptool printer query failed (%s): %s", code, (err or out).strip()[-300:])
        raise DeviceError("cups_unreachable", "service d'impression injoignable")

    async def _job_info(self, job_id: int) -> JobInfo:
        _code, out, err = await self._ipp(f"/jobs/{job_id}", JOB_ATTRIBUTES_TEST)
        job = parse_job_attributes(out)
        if job is None:
            log.info("ipptool job query failed: %s", (err or out).strip()[-300:])
            raise DeviceError("cups_unreachable", "service d'impression injoignable")
        return job

    async def _cancel(self, job_id: int) -> None:
        """Cancel and purge a job, so the citizen's document leaves the spool."""
        try:
            code, _out, err = await self._run("cancel", "-x", str(job_id))
        except DeviceError as exc:
            log.error("could not cancel job %s: %s", job_id, exc)
            return
        if code != 0:
            log.error("could not cancel job %s: %s", job_id, err.strip())

    # ------------------------------------------------------------------ public

    async def probe(self) -> DeviceStatus:
        """Ask CUPS for the queue's state; report and return it (never raises)."""
        try:
            printer = await self._printer_info()
        except DeviceError as exc:
            self._report(DeviceState.UNAVAILABLE, exc.reason, code=exc.code)
            return self._status
        if self._lock.locked() and printer.can_print:
            # Printing: a READY probe must not hide the job in progress.
            self._report(DeviceState.BUSY, "impression en cours")
        else:
            self._report_printer(printer)
        return self._status

    async def print_pdf(
        self,
        pdf: bytes,
        *,
        title: str,
        copies: int = 1,
        on_progress: ProgressListener | None = None,
    ) -> JobResult:
        """Print ``pdf`` and wait until CUPS has finished it; DeviceError if it did not."""
        check_pdf(pdf, max_bytes=self.max_pdf_bytes)
        if not 1 <= copies <= MAX_COPIES:
            raise DeviceError("bad_copies", f"nombre d'exemplaires invalide ({copies})")
        async with self._lock:
            try:
                return await self._print(pdf, title=title, copies=copies, on_progress=on_progress)
            except DeviceError as exc:
                log.warning("print on %s failed: %s", self.queue, exc)
                raise

    async def _print(
        self, pdf: bytes, *, title: str, copies: int, on_progress: ProgressListener | None
    ) -> JobResult:
        started = time.monotonic()
        try:
            printer = await self._printer_info()
        except DeviceError as exc:
            self._report(DeviceState.UNAVAILABLE, exc.reason, code=exc.code)
            raise
        if not printer.can_print:
            # Refuse up front: a job left on a stopped queue would keep the
            # citizen's document in the spool until someone restarts it.
            self._report_printer(printer)
            raise DeviceError(_code_for(printer.reasons), self._status.reason)
        self._report(DeviceState.BUSY, "impression en cours")
        job_id = await self._submit(pdf, title=title, copies=copies)
        deadline = started + self.job_timeout_s
        last: JobInfo | None = None
        try:
            while True:
                job = await self._job_info(job_id)
                if job != last and on_progress is not None:
                    try:
                        on_progress(job)
                    except Exception:
                        log.exception("progress listener failed")
                last = job
                if job.state is JobState.COMPLETED:
                    self._report(DeviceState.READY)
                    return JobResult(job_id, job.pages_completed, time.monotonic() - started)
                if job.finished:
                    self._report(DeviceState.READY)
                    raise DeviceError(f"job_{job.state.value}", french_job_failure(job))
                if not job.blocked and job.state is JobState.PENDING:
                    # A pending job carries no printer reason when the queue was
                    # stopped by hand: ask the printer itself.
                    printer = await self._printer_info()
                    if not printer.can_print:
                        job = JobInfo(
                            job.job_id, job.state, job.reasons, printer.reasons, printer.message
                        )
                if job.blocked:
                    await self._cancel(job_id)
                    reason = french_job_failure(job)
                    self._report(
                        DeviceState.UNAVAILABLE,
                        reason,
                        reasons=",".join(job.printer_reasons),
                        message=job.printer_message,
                    )
                    raise DeviceError(_code_for(job.printer_reasons), reason)
                if time.monotonic() >= deadline:
                    await self._cancel(job_id)
                    self._report(DeviceState.DEGRADED, "impression trop longue, annulée")
                    raise DeviceError("job_timeout", "l'impression prend trop de temps, annulée")
                await asyncio.sleep(self.poll_s)
        except asyncio.CancelledError:
            # The session ended while printing: the document must not stay queued.
            await asyncio.shield(self._cancel(job_id))
            raise
        except DeviceError as exc:
            if exc.code == "cups_unreachable":
                self._report(DeviceState.UNAVAILABLE, exc.reason, code=exc.code)
            raise

    async def _submit(self, pdf: bytes, *, title: str, copies: int) -> int:
        """Pipe the PDF to ``lp`` on stdin; return the job id."""
        args = ["lp", "-d", self.queue, "-t", _safe_title(title), "-n", str(copies)]
        # media=A4 so a queue whose default is Letter still prints the form unscaled.
        args += ["-o", f"media={MEDIA}", "-"]
        try:
            code, out, err = await self._run(*args, stdin=pdf)
        except DeviceError as exc:
            self._report(DeviceState.UNAVAILABLE, exc.reason, code=exc.code)
            raise
        request = parse_request_id(out)
        if code != 0 or request is None:
            log.error("lp failed (%s): %s", code, err.strip()[-300:])
            self._report(DeviceState.UNAVAILABLE, "impression refusée par CUPS", code="lp_failed")
            raise DeviceError("lp_failed", "impression refusée par le service d'impression")
        log.info("job %s-%s submitted (%d bytes, %d copies)", *request, len(pdf), copies)
        return request[1]


def _code_for(reasons: tuple[str, ...]) -> str:
    """A stable code for programs from printer reasons."""
    bases = {r.removesuffix("-error") for r in reasons}
    if "media-empty" in bases or "media-needed" in bases:
        return "paper_out"
    if "media-jam" in bases:
        return "paper_jam"
    if bases & {"cover-open", "door-open", "interlock-open"}:
        return "cover_open"
    if "offline" in bases:
        return "offline"
    return "printer_stopped"


def _safe_title(title: str) -> str:
    """A job name without control characters, short enough for every CUPS field."""
    cleaned = "".join(c if c.isprintable() else " " for c in title).strip()
    return cleaned[:100] or "document"

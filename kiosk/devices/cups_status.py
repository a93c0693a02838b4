"""CUPS printer and job state, parsed from command output — pure, no I/O.

Source of truth: IPP attributes as printed by ``ipptool -tv`` (``get-printer-attributes``
and ``get-job-attributes``). ``lpstat`` is lossy for a driver that must tell success
from failure: ``lpstat -W completed`` lists completed, cancelled and aborted jobs
alike and ``lpstat -p -l`` hides ``printer-state-reasons`` (``media-empty-error``
shows only as the free-text message "Out of paper"). IPP gives ``job-state`` (an
enum), ``job-state-reasons`` and, in the same answer, ``job-printer-state-reasons``,
so one request per poll tells everything. The ``lpstat`` parsers are kept for the
request id printed by ``lp`` and for diagnostics (``lpstat -p``, ``lpstat -o``).

Every parser takes any text and never raises: unknown or garbled output gives
``None`` or an ``UNKNOWN`` state, which the driver turns into "unavailable".

Reason keywords follow RFC 8011 / PWG 5100: a printer reason may end in
``-error`` (cannot print), ``-warning`` (prints, needs attention) or ``-report``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class PrinterState(StrEnum):
    """IPP ``printer-state`` (RFC 8011 §5.4.11)."""

    IDLE = "idle"
    PROCESSING = "processing"
    STOPPED = "stopped"
    UNKNOWN = "unknown"


class JobState(StrEnum):
    """IPP ``job-state`` (RFC 8011 §5.3.7)."""

    PENDING = "pending"
    HELD = "pending-held"
    PROCESSING = "processing"
    STOPPED = "processing-stopped"
    CANCELED = "canceled"
    ABORTED = "aborted"
    COMPLETED = "completed"
    UNKNOWN = "unknown"


_PRINTER_STATE_ENUM = {
    "3": PrinterState.IDLE,
    "4": PrinterState.PROCESSING,
    "5": PrinterState.STOPPED,
}
_JOB_STATE_ENUM = {
    "3": JobState.PENDING,
    "4": JobState.HELD,
    "5": JobState.PROCESSING,
    "6": JobState.STOPPED,
    "7": JobState.CANCELED,
    "8": JobState.ABORTED,
    "9": JobState.COMPLETED,
}
FINISHED_JOB_STATES = frozenset({JobState.CANCELED, JobState.ABORTED, JobState.COMPLETED})

PAUSED = "paused"
"""Printer reason CUPS sets when the queue is stopped (cupsdisable, or a backend exit 4)."""


@dataclass(frozen=True)
class PrinterInfo:
    """One printer queue's state."""

    state: PrinterState
    reasons: tuple[str, ...] = ()
    """``printer-state-reasons`` without ``none``, e.g. ``("media-empty-error", "paused")``."""
    message: str = ""
    """``printer-state-message``: free text from the backend (e.g. "Out of paper")."""
    accepting: bool = True

    @property
    def errors(self) -> tuple[str, ...]:
        """Reasons that stop printing: ``*-error``, plus ``paused`` (queue stopped)."""
        return blocking_reasons(self.reasons)

    @property
    def warnings(self) -> tuple[str, ...]:
        """Reasons that need attention soon (``*-warning``)."""
        return tuple(r for r in self.reasons if r.endswith("-warning"))

    @property
    def can_print(self) -> bool:
        """True if a job submitted now should come out."""
        return (
            self.state is not PrinterState.STOPPED
            and self.state is not PrinterState.UNKNOWN
            and self.accepting
            and not self.errors
        )


@dataclass(frozen=True)
class JobInfo:
    """One job's state, with the state of its printer as CUPS reports it alongside."""

    job_id: int
    state: JobState
    reasons: tuple[str, ...] = ()
    """``job-state-reasons`` without ``none``, e.g. ``("printer-stopped",)``."""
    printer_reasons: tuple[str, ...] = ()
    """``job-printer-state-reasons``: the printer's reasons at the time of the answer."""
    printer_message: str = ""
    pages_completed: int = 0

    @property
    def finished(self) -> bool:
        """CUPS will do nothing more with this job."""
        return self.state in FINISHED_JOB_STATES

    @property
    def blocked(self) -> bool:
        """Not finished, but its printer cannot go on (stopped, paper out, cover open...)."""
        if self.finished:
            return False
        return (
            self.state is JobState.STOPPED
            or "printer-stopped" in self.reasons
            or bool(blocking_reasons(self.printer_reasons))
        )


@dataclass(frozen=True)
class QueuedJob:
    """One line of ``lpstat -o``."""

    queue: str
    job_id: int
    user: str
    size: int


def blocking_reasons(reasons: tuple[str, ...]) -> tuple[str, ...]:
    """The reasons among ``reasons`` that keep a printer from printing."""
    return tuple(r for r in reasons if r.endswith("-error") or r == PAUSED)


# ---------------------------------------------------------------------------- ipptool

_IPP_LINE = re.compile(r"^\s+([a-z][a-z0-9-]*) \(([^)]*)\) = ?(.*)$")
_STATUS_LINE = re.compile(r"^\s+status-code = (\S+)")


def parse_ipp_attributes(text: str) -> dict[str, str] | None:
    """Response attributes from ``ipptool -tv`` output: name -> raw value.

    Lines before ``status-code`` are the *request* (ipptool echoes it) and are
    skipped. Returns None if no successful response is in ``text``.
    """
    attributes: dict[str, str] = {}
    in_response = False
    for line in text.splitlines():
        status = _STATUS_LINE.match(line)
        if status:
            if not status.group(1).startswith("successful-ok"):
                return None
            in_response = True
            continue
        if not in_response:
            continue
        match = _IPP_LINE.match(line)
        # The first value wins: later groups (e.g. a second job) are not ours.
        if match and match.group(1) not in attributes:
            attributes[match.group(1)] = match.group(3).strip()
    return attributes if in_response else None


def _keywords(value: str) -> tuple[str, ...]:
    """A ``1setOf keyword`` value (comma-separated) without ``none``."""
    return tuple(k for k in (p.strip() for p in value.split(",")) if k and k != "none")


def _to_int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return 0


def _printer_state(value: str) -> PrinterState:
    value = value.strip()
    if value in _PRINTER_STATE_ENUM:
        return _PRINTER_STATE_ENUM[value]
    try:
        return PrinterState(value)
    except ValueError:
        return PrinterState.UNKNOWN


def _job_state(value: str) -> JobState:
    value = value.strip()
    if value in _JOB_STATE_ENUM:
        return _JOB_STATE_ENUM[value]
    try:
        return JobState(value)
    except ValueError:
        return JobState.UNKNOWN


def parse_printer_attributes(text: str) -> PrinterInfo | None:
    """A printer's state from ``ipptool -tv URI get-printer-attributes.test``; None if absent."""
    attributes = parse_ipp_attributes(text)
    if not attributes or "printer-state" not in attributes:
        return None
    return PrinterInfo(
        state=_printer_state(attributes["printer-state"]),
        reasons=_keywords(attributes.get("printer-state-reasons", "")),
        message=attributes.get("printer-state-message", ""),
        accepting=attributes.get("printer-is-accepting-jobs", "true") != "false",
    )


def parse_job_attributes(text: str) -> JobInfo | None:
    """A job's state from ``ipptool -tv URI get-job-attributes.test``; None if absent."""
    attributes = parse_ipp_attributes(text)
    if not attributes or "job-state" not in attributes:
        return None
    return JobInfo(
        job_id=_to_int(attributes.get("job-id", "0")),
        state=_job_state(attributes["job-state"]),
        reasons=_keywords(attributes.get("job-state-reasons", "")),
        printer_reasons=_keywords(attributes.get("job-printer-state-reasons", "")),
        printer_message=attributes.get("job-printer-state-message", ""),
        pages_completed=_to_int(attributes.get("job-impressions-completed", "0")),
    )


# ---------------------------------------------------------------------------- lpstat / lp

_REQUEST_ID = re.compile(r"request id is (\S+)-(\d+)\b")
_LPSTAT_PRINTER = re.compile(
    r"^printer (\S+) (?:is (idle)|(now printing) \S+?|(disabled) since)(?:[.\s]|$)"
)
_LPSTAT_JOB = re.compile(r"^(\S+)-(\d+)\s+(\S+)\s+(\d+)\s")


def parse_request_id(text: str) -> tuple[str, int] | None:
    """``(queue, job id)`` from what ``lp`` prints ("request id is PDF-3 (1 file(s))")."""
    match = _REQUEST_ID.search(text)
    if not match:
        return None
    return match.group(1), int(match.group(2))


def parse_lpstat_printer(text: str) -> PrinterInfo | None:
    """A printer's coarse state from ``lpstat -p QUEUE -l``; None if not found.

    ``lpstat`` gives no reason keywords: a stopped queue reports ``paused`` and its
    message (the indented line under ``disabled since``, e.g. "Out of paper").
    """
    lines = text.splitlines()
    for index, line in enumerate(lines):
        match = _LPSTAT_PRINTER.match(line)
        if not match:
            continue
        message = ""
        if index + 1 < len(lines) and lines[index + 1].startswith("\t"):
            message = lines[index + 1].strip()
        if match.group(2):
            return PrinterInfo(PrinterState.IDLE, message=message)
        if match.group(3):
            return PrinterInfo(PrinterState.PROCESSING, message=message)
        return PrinterInfo(PrinterState.STOPPED, reasons=(PAUSED,), message=message)
    return None


def parse_lpstat_jobs(text: str) -> list[QueuedJob]:
    """Jobs still queued, from ``lpstat -o`` (with or without ``-l``)."""
    jobs = []
    for line in text.splitlines():
        match = _LPSTAT_JOB.match(line)
        if match:
            jobs.append(
                QueuedJob(match.group(1), int(match.group(2)), match.group(3), int(match.group(4)))
            )
    return jobs


# ---------------------------------------------------------------------------- plain French

_REASON_FRENCH: tuple[tuple[str, str], ...] = (
    # Ordered by what a technician must fix first.
    ("media-empty", "plus de papier"),
    ("media-needed", "plus de papier"),
    ("media-jam", "bourrage papier"),
    ("cover-open", "capot ouvert"),
    ("door-open", "porte ouverte"),
    ("interlock-open", "capot ouvert"),
    ("input-tray-missing", "bac à papier absent"),
    ("toner-empty", "plus de toner"),
    ("marker-supply-empty", "plus d'encre ou de toner"),
    ("output-area-full", "bac de sortie plein"),
    ("offline", "imprimante hors ligne"),
    ("connecting-to-device", "imprimante injoignable"),
    ("timed-out", "imprimante injoignable"),
    ("shutdown", "imprimante éteinte"),
    ("media-low", "papier bientôt épuisé"),
    ("toner-low", "toner bientôt épuisé"),
    ("marker-supply-low", "encre ou toner bientôt épuisé"),
    (PAUSED, "imprimante arrêtée"),
)
_SUFFIXES = ("-error", "-warning", "-report")


def _base_keyword(reason: str) -> str:
    for suffix in _SUFFIXES:
        if reason.endswith(suffix):
            return reason[: -len(suffix)]
    return reason


def french_reason(reasons: tuple[str, ...]) -> str:
    """The most important of ``reasons`` in plain French ("" if none is worth saying)."""
    bases = {_base_keyword(r) for r in reasons}
    for keyword, french in _REASON_FRENCH:
        if keyword in bases:
            return french
    errors = [r for r in reasons if r.endswith("-error")]
    if errors:
        return f"imprimante en erreur ({errors[0]})"
    return ""


_JOB_REASON_FRENCH: tuple[tuple[str, str], ...] = (
    ("job-canceled-by-user", "impression annulée"),
    ("job-canceled-by-operator", "impression annulée par un opérateur"),
    ("job-canceled-at-device", "impression annulée sur l'imprimante"),
    ("document-format-error", "document illisible par l'imprimante"),
    ("document-unprintable-error", "document illisible par l'imprimante"),
    ("unsupported-document-format", "format de document non pris en charge"),
    ("aborted-by-system", "impression interrompue par le système"),
    ("job-completed-with-errors", "impression terminée avec des erreurs"),
)


def french_job_failure(job: JobInfo) -> str:
    """Why a job did not print, in plain French."""
    printer = french_reason(job.printer_reasons)
    if job.blocked and printer:
        return printer
    if "printer-stopped" in job.reasons:
        return "imprimante arrêtée"
    for keyword, french in _JOB_REASON_FRENCH:
        if keyword in job.reasons:
            return french
    if job.state is JobState.CANCELED:
        return "impression annulée"
    if job.state is JobState.ABORTED:
        return printer or "impression interrompue"
    return printer or "impression impossible"

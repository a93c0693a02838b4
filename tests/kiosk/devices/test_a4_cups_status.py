"""CUPS status parsers on real captures from the private cupsd (tests/data/cups)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.devices.cups_status import (
    JobInfo,
    JobState,
    PrinterInfo,
    PrinterState,
    french_job_failure,
    french_reason,
    parse_ipp_attributes,
    parse_job_attributes,
    parse_lpstat_jobs,
    parse_lpstat_printer,
    parse_printer_attributes,
    parse_request_id,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "cups"


def capture(name: str) -> str:
    return (DATA / name).read_text()


def test_idle_printer_can_print() -> None:
    printer = parse_printer_attributes(capture("printer_idle.ipp.txt"))
    assert printer == PrinterInfo(PrinterState.IDLE, (), "", True)
    assert printer.can_print


def test_paper_out_printer_is_stopped_with_media_empty() -> None:
    printer = parse_printer_attributes(capture("printer_paper_out.ipp.txt"))
    assert printer is not None
    assert printer.state is PrinterState.STOPPED
    assert printer.reasons == ("media-empty-error", "paused")
    assert printer.message == "Out of paper"
    assert not printer.can_print
    assert french_reason(printer.reasons) == "plus de papier"


def test_disabled_queue_is_paused_with_its_message() -> None:
    printer = parse_printer_attributes(capture("printer_disabled.ipp.txt"))
    assert printer is not None
    assert printer.state is PrinterState.STOPPED
    assert printer.reasons == ("paused",)
    assert printer.message == "Maintenance"
    assert french_reason(printer.reasons) == "imprimante arrêtée"


@pytest.mark.parametrize("name", ["printer_not_found.ipp.txt", "job_not_found.ipp.txt"])
def test_not_found_answers_give_none(name: str) -> None:
    assert parse_ipp_attributes(capture(name)) is None
    assert parse_printer_attributes(capture(name)) is None
    assert parse_job_attributes(capture(name)) is None


def test_request_echo_is_not_taken_for_the_answer() -> None:
    # ipptool echoes the request's job-uri before the answer; only the answer counts.
    attributes = parse_ipp_attributes(capture("job_completed.ipp.txt"))
    assert attributes is not None
    assert attributes["job-uri"].startswith("ipp://localhost:")


@pytest.mark.parametrize(
    ("name", "state", "finished", "blocked"),
    [
        ("job_early.ipp.txt", JobState.PROCESSING, False, False),
        ("job_completed.ipp.txt", JobState.COMPLETED, True, False),
        ("job_paper_out.ipp.txt", JobState.PENDING, False, True),
        ("job_paper_out_canceled.ipp.txt", JobState.CANCELED, True, False),
        ("job_queue_disabled.ipp.txt", JobState.PENDING, False, False),
        ("job_canceled.ipp.txt", JobState.CANCELED, True, False),
    ],
)
def test_job_states_from_captures(
    name: str, state: JobState, finished: bool, blocked: bool
) -> None:
    job = parse_job_attributes(capture(name))
    assert job is not None
    assert job.job_id > 0
    assert (job.state, job.finished, job.blocked) == (state, finished, blocked)


def test_completed_job_counts_its_page() -> None:
    job = parse_job_attributes(capture("job_completed.ipp.txt"))
    assert job is not None
    assert job.pages_completed == 1


def test_paper_out_job_says_plus_de_papier() -> None:
    job = parse_job_attributes(capture("job_paper_out.ipp.txt"))
    assert job is not None
    assert job.reasons == ("printer-stopped",)
    assert job.printer_reasons == ("media-empty-error", "paused")
    assert french_job_failure(job) == "plus de papier"


def test_cancelled_job_says_annulee() -> None:
    job = parse_job_attributes(capture("job_canceled.ipp.txt"))
    assert job is not None
    assert french_job_failure(job) == "impression annulée"


def test_lp_request_id() -> None:
    assert parse_request_id(capture("lp_request.txt")) == ("PDF", 1)
    assert parse_request_id("lp: Unsupported document-format") is None


def test_lpstat_printer_states() -> None:
    idle = parse_lpstat_printer(capture("lpstat_p_idle.txt"))
    assert idle is not None and idle.state is PrinterState.IDLE
    paper = parse_lpstat_printer(capture("lpstat_p_paper_out.txt"))
    assert paper == PrinterInfo(PrinterState.STOPPED, ("paused",), "Out of paper")
    disabled = parse_lpstat_printer(capture("lpstat_p_disabled.txt"))
    assert disabled is not None and disabled.message == "Maintenance"
    printing = parse_lpstat_printer("printer PDF now printing PDF-3.  enabled since Wed\n")
    assert printing is not None and printing.state is PrinterState.PROCESSING
    assert parse_lpstat_printer('lpstat: Invalid destination name in list "X".') is None


def test_lpstat_jobs() -> None:
    jobs = parse_lpstat_jobs(capture("lpstat_o_paper_out.txt"))
    assert [(j.queue, j.job_id, j.user, j.size) for j in jobs] == [("PAPEROUT", 2, "root", 10240)]
    assert parse_lpstat_jobs("") == []


@pytest.mark.parametrize(
    ("reasons", "french"),
    [
        (("media-jam-error",), "bourrage papier"),
        (("cover-open-error", "paused"), "capot ouvert"),
        (("offline-report",), "imprimante hors ligne"),
        (("toner-low-warning",), "toner bientôt épuisé"),
        (("fuser-over-temp-error",), "imprimante en erreur (fuser-over-temp-error)"),
        (("other-warning",), ""),
        ((), ""),
    ],
)
def test_reasons_in_plain_french(reasons: tuple[str, ...], french: str) -> None:
    assert french_reason(reasons) == french


def test_warning_keeps_printer_usable() -> None:
    printer = PrinterInfo(PrinterState.IDLE, ("media-low-warning",))
    assert printer.can_print
    assert printer.warnings == ("media-low-warning",)


def test_aborted_job_without_reason() -> None:
    assert french_job_failure(JobInfo(3, JobState.ABORTED)) == "impression interrompue"


@given(st.text())
def test_parsers_never_raise_on_any_text(text: str) -> None:
    parse_ipp_attributes(text)
    parse_printer_attributes(text)
    parse_job_attributes(text)
    parse_request_id(text)
    parse_lpstat_printer(text)
    parse_lpstat_jobs(text)


ipp_line = st.builds(
    "        {} ({}) = {}".format,
    st.sampled_from(
        [
            "printer-state",
            "job-state",
            "job-id",
            "printer-state-reasons",
            "job-printer-state-reasons",
            "job-impressions-completed",
            "printer-is-accepting-jobs",
        ]
    ),
    st.sampled_from(["enum", "integer", "keyword", "1setOf keyword", "boolean"]),
    st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=30),
)


@given(st.lists(ipp_line, max_size=12))
def test_garbled_ipp_answers_never_raise(lines: list[str]) -> None:
    text = "\n".join(["        status-code = successful-ok (successful-ok)", *lines])
    printer = parse_printer_attributes(text)
    job = parse_job_attributes(text)
    if printer is not None:
        french_reason(printer.reasons)
        assert isinstance(printer.can_print, bool)
    if job is not None:
        assert isinstance(french_job_failure(job), str)

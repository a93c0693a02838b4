"""DLE EOT status answers, from captured bytes in tests/data/escpos, and fuzzed."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.devices.escpos_status import (
    Condition,
    PrinterStatus,
    StatusAnswer,
    StatusQuery,
    parse_answer,
    status_query,
    summarise,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "escpos"
Q = StatusQuery


def answer(query: StatusQuery, name: str) -> StatusAnswer:
    return parse_answer(query, (DATA / name).read_bytes())


def poll(p1: str, p2: str, p3: str, p4: str) -> PrinterStatus:
    return summarise(
        [
            answer(Q.PRINTER, p1),
            answer(Q.OFFLINE_CAUSE, p2),
            answer(Q.ERROR_CAUSE, p3),
            answer(Q.PAPER, p4),
        ]
    )


def test_queries_are_dle_eot_n() -> None:
    assert [status_query(q) for q in StatusQuery] == [
        b"\x10\x04\x01",
        b"\x10\x04\x02",
        b"\x10\x04\x03",
        b"\x10\x04\x04",
    ]


def test_paper_sensor_answers_from_the_design_notes() -> None:
    assert answer(Q.PAPER, "dle_eot4_ok.bin").flags == frozenset()
    assert answer(Q.PAPER, "dle_eot4_near_end.bin").flags == {"paper_near_end"}
    assert answer(Q.PAPER, "dle_eot4_paper_out.bin").flags == {"paper_near_end", "paper_end"}
    assert answer(Q.PAPER, "dle_eot4_paper_end_only.bin").flags == {"paper_end"}


def test_each_query_bits() -> None:
    assert answer(Q.PRINTER, "dle_eot1_offline.bin").flags == {"offline"}
    assert answer(Q.OFFLINE_CAUSE, "dle_eot2_cover_open.bin").flags == {"cover_open"}
    assert answer(Q.OFFLINE_CAUSE, "dle_eot2_stopped_paper_end.bin").flags == {"stopped_paper_end"}
    assert answer(Q.OFFLINE_CAUSE, "dle_eot2_error.bin").flags == {"error"}
    assert answer(Q.ERROR_CAUSE, "dle_eot3_autocutter_error.bin").flags == {"autocutter_error"}
    assert answer(Q.ERROR_CAUSE, "dle_eot3_unrecoverable.bin").flags == {"unrecoverable_error"}


@pytest.mark.parametrize(
    ("files", "condition"),
    [
        (("dle_eot1_online.bin", "dle_eot4_ok.bin", "dle_eot4_ok.bin", "dle_eot4_ok.bin"), "ok"),
        (
            ("dle_eot1_online.bin", "dle_eot4_ok.bin", "dle_eot4_ok.bin", "dle_eot4_near_end.bin"),
            "paper_near_end",
        ),
        (
            (
                "dle_eot1_offline.bin",
                "dle_eot2_stopped_paper_end.bin",
                "dle_eot4_ok.bin",
                "dle_eot4_paper_out.bin",
            ),
            "paper_out",
        ),
        (
            (
                "dle_eot1_offline.bin",
                "dle_eot2_cover_open.bin",
                "dle_eot4_ok.bin",
                "dle_eot4_ok.bin",
            ),
            "cover_open",
        ),
        (
            ("dle_eot1_offline.bin", "dle_eot4_ok.bin", "dle_eot4_ok.bin", "dle_eot4_ok.bin"),
            "offline",
        ),
        (
            (
                "dle_eot1_offline.bin",
                "dle_eot2_error.bin",
                "dle_eot3_unrecoverable.bin",
                "dle_eot4_ok.bin",
            ),
            "error",
        ),
        (
            ("dle_eot1_online.bin", "garbage_ff.bin", "dle_eot4_ok.bin", "dle_eot4_ok.bin"),
            "unreadable",
        ),
    ],
)
def test_a_poll_sums_up_to_one_condition(files: tuple[str, str, str, str], condition: str) -> None:
    assert poll(*files).condition == Condition(condition)


@pytest.mark.parametrize(
    "name",
    [
        "garbage_ff.bin",
        "garbage_wrong_fixed_bits.bin",
        "garbage_two_bytes.bin",
        "garbage_empty.bin",
    ],
)
def test_garbage_answers_are_unreadable_not_guessed(name: str) -> None:
    parsed = answer(Q.PAPER, name)
    assert not parsed.readable
    status = summarise([answer(Q.PRINTER, "dle_eot1_online.bin"), parsed])
    assert status.condition is Condition.UNREADABLE
    assert status.unreadable_answers == 1
    assert not status.usable


def test_silence_is_never_fine() -> None:
    status = summarise([], silent=True)
    assert status.condition is Condition.SILENT
    assert not status.usable
    assert summarise([]).condition is Condition.UNREADABLE


@given(st.sampled_from(list(StatusQuery)), st.binary(max_size=64))
def test_any_bytes_parse_without_exception(query: StatusQuery, data: bytes) -> None:
    parsed = parse_answer(query, data)
    valid = len(data) == 1 and data[0] & 0x93 == 0x12
    assert parsed.readable is valid
    status = summarise([parsed])
    assert (status.unreadable_answers == 1) is (not valid)
    if not valid:
        assert status.condition is Condition.UNREADABLE


@given(st.lists(st.tuples(st.sampled_from(list(StatusQuery)), st.binary(max_size=4)), max_size=20))
def test_any_poll_sums_up_without_exception(pairs: list[tuple[StatusQuery, bytes]]) -> None:
    answers = [parse_answer(q, d) for q, d in pairs]
    status = summarise(answers)
    assert status.unreadable_answers == sum(1 for a in answers if not a.readable)

"""ESC/POS real-time status: the ``DLE EOT n`` queries and their one-byte answers.

Pure code, no I/O: the receipt-printer driver writes :func:`status_query`, reads
one byte, and hands it to :func:`parse_answer`; :func:`summarise` turns the
answers of one poll into the one condition the booth cares about.

Every answer byte of ``DLE EOT n`` (n = 1..4) has the same fixed bits: bit 1 and
bit 4 are always 1, bits 0 and 7 always 0 (so "all fine" is ``0x12``). A byte
whose fixed bits are wrong is not a status answer (line noise, a late answer to
another command, an auto-status-back block...) and is reported as unreadable
rather than guessed at. Bit meanings, as the ESC/POS reference and
python-escpos's ``RT_MASK_*`` constants give them:

* n=1 printer status: bit 3 = off line; bit 2 = drawer kick pin 3 high;
  bit 5 = waiting for on-line recovery; bit 6 = paper being fed by FEED button.
* n=2 off-line cause: bit 2 = cover open; bit 3 = paper fed by FEED button;
  bit 5 = printing stopped at paper end; bit 6 = an error occurred.
* n=3 error cause: bit 2 = mechanical error; bit 3 = auto-cutter error;
  bit 5 = unrecoverable error; bit 6 = auto-recoverable error (head too hot...).
* n=4 paper roll sensor: bits 2-3 = paper near end (``0x1E``); bits 5-6 = paper
  end (``0x72``; ``0x7E`` with both).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum, StrEnum

DLE = b"\x10"
EOT = b"\x04"

FIXED_BITS_MASK = 0b1001_0011
"""Bits 0, 1, 4 and 7 of every DLE EOT answer are fixed by the spec..."""
FIXED_BITS_VALUE = 0b0001_0010
"""...to 0, 1, 1 and 0: a status byte is always ``0x12 | flags``."""

# n=1 printer status
BIT_OFFLINE = 0x08
BIT_DRAWER_PIN3 = 0x04
BIT_WAITING_RECOVERY = 0x20
BIT_FEED_BUTTON = 0x40
# n=2 off-line cause
BIT_COVER_OPEN = 0x04
BIT_FEEDING_BY_BUTTON = 0x08
BIT_STOPPED_PAPER_END = 0x20
BIT_ERROR = 0x40
# n=3 error cause
BIT_MECHANICAL_ERROR = 0x04
BIT_AUTOCUTTER_ERROR = 0x08
BIT_UNRECOVERABLE_ERROR = 0x20
BIT_AUTO_RECOVERABLE_ERROR = 0x40
# n=4 paper roll sensor
BITS_NEAR_END = 0x0C
BITS_PAPER_END = 0x60


class StatusQuery(IntEnum):
    """The ``n`` of ``DLE EOT n``."""

    PRINTER = 1
    OFFLINE_CAUSE = 2
    ERROR_CAUSE = 3
    PAPER = 4


ALL_QUERIES: tuple[StatusQuery, ...] = tuple(StatusQuery)


def status_query(query: StatusQuery) -> bytes:
    """The three bytes that ask the printer for one status byte."""
    return DLE + EOT + bytes([int(query)])


@dataclass(frozen=True)
class StatusAnswer:
    """One parsed answer; ``flags`` are names of the bits that were set."""

    query: StatusQuery
    raw: bytes
    readable: bool
    flags: frozenset[str] = frozenset()


_FLAG_BITS: dict[StatusQuery, tuple[tuple[int, str], ...]] = {
    StatusQuery.PRINTER: (
        (BIT_OFFLINE, "offline"),
        (BIT_DRAWER_PIN3, "drawer_pin3_high"),
        (BIT_WAITING_RECOVERY, "waiting_recovery"),
        (BIT_FEED_BUTTON, "feed_button"),
    ),
    StatusQuery.OFFLINE_CAUSE: (
        (BIT_COVER_OPEN, "cover_open"),
        (BIT_FEEDING_BY_BUTTON, "feeding_by_button"),
        (BIT_STOPPED_PAPER_END, "stopped_paper_end"),
        (BIT_ERROR, "error"),
    ),
    StatusQuery.ERROR_CAUSE: (
        (BIT_MECHANICAL_ERROR, "mechanical_error"),
        (BIT_AUTOCUTTER_ERROR, "autocutter_error"),
        (BIT_UNRECOVERABLE_ERROR, "unrecoverable_error"),
        (BIT_AUTO_RECOVERABLE_ERROR, "auto_recoverable_error"),
    ),
    StatusQuery.PAPER: (
        (BITS_NEAR_END, "paper_near_end"),
        (BITS_PAPER_END, "paper_end"),
    ),
}


def parse_answer(query: StatusQuery, data: bytes) -> StatusAnswer:
    """Parse the answer to ``DLE EOT query``; never raises.

    Exactly one byte with the fixed bits right is readable; anything else
    (nothing, several bytes, a byte with wrong fixed bits) is unreadable.
    """
    if len(data) != 1 or data[0] & FIXED_BITS_MASK != FIXED_BITS_VALUE:
        return StatusAnswer(query, bytes(data), readable=False)
    byte = data[0]
    # Paper sensors report each condition on two bits (two sensors or a
    # sensor and its copy); either bit set is enough to trust the condition.
    flags = frozenset(name for bits, name in _FLAG_BITS[query] if byte & bits)
    return StatusAnswer(query, bytes(data), readable=True, flags=flags)


class Condition(StrEnum):
    """What one poll of the printer means for the booth, worst first."""

    SILENT = "silent"
    UNREADABLE = "unreadable"
    COVER_OPEN = "cover_open"
    PAPER_OUT = "paper_out"
    ERROR = "error"
    OFFLINE = "offline"
    PAPER_NEAR_END = "paper_near_end"
    OK = "ok"


@dataclass(frozen=True)
class PrinterStatus:
    """A whole poll: the condition plus every fact the answers gave."""

    condition: Condition
    online: bool | None = None
    cover_open: bool = False
    paper_out: bool = False
    paper_near_end: bool = False
    error: bool = False
    unreadable_answers: int = 0
    answers: tuple[StatusAnswer, ...] = ()

    @property
    def usable(self) -> bool:
        """Whether a job may be sent (fine, or paper only running low)."""
        return self.condition in (Condition.OK, Condition.PAPER_NEAR_END)


def summarise(answers: Iterable[StatusAnswer], *, silent: bool = False) -> PrinterStatus:
    """Fold the answers of one poll into a :class:`PrinterStatus`; never raises.

    ``silent`` means the printer did not answer at all. One unreadable answer
    makes the whole poll unreadable: a printer that talks nonsense is not
    assumed to be fine.
    """
    answers = tuple(answers)
    if silent:
        return PrinterStatus(Condition.SILENT, answers=answers)
    unreadable = sum(1 for a in answers if not a.readable)
    flags: set[str] = set()
    for answer in answers:
        flags |= answer.flags
    online: bool | None = None
    if any(a.query is StatusQuery.PRINTER and a.readable for a in answers):
        online = "offline" not in flags
    cover_open = "cover_open" in flags
    paper_out = "paper_end" in flags or "stopped_paper_end" in flags
    near_end = "paper_near_end" in flags
    error = bool(
        flags
        & {
            "error",
            "mechanical_error",
            "autocutter_error",
            "unrecoverable_error",
            "auto_recoverable_error",
        }
    )
    if unreadable or not answers:
        condition = Condition.UNREADABLE
    elif cover_open:
        condition = Condition.COVER_OPEN
    elif paper_out:
        condition = Condition.PAPER_OUT
    elif error:
        condition = Condition.ERROR
    elif online is False:
        condition = Condition.OFFLINE
    elif near_end:
        condition = Condition.PAPER_NEAR_END
    else:
        condition = Condition.OK
    return PrinterStatus(
        condition,
        online=online,
        cover_open=cover_open,
        paper_out=paper_out,
        paper_near_end=near_end,
        error=error,
        unreadable_answers=unreadable,
        answers=answers,
    )


REASONS_FR: dict[Condition, str] = {
    Condition.SILENT: "imprimante muette",
    Condition.UNREADABLE: "état de l'imprimante illisible",
    Condition.COVER_OPEN: "capot de l'imprimante ouvert",
    Condition.PAPER_OUT: "plus de papier",
    Condition.ERROR: "imprimante en erreur",
    Condition.OFFLINE: "imprimante hors ligne",
    Condition.PAPER_NEAR_END: "papier bientôt épuisé",
    Condition.OK: "",
}
"""Plain French words for technicians, agents and citizens."""

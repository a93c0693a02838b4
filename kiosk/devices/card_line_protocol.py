"""ASCII line protocol of a serial card reader (see docs/devices.md). Pure, no I/O.

Every frame, both ways, is ``BODY*HH\\r\\n``: ``BODY`` is 1 to
:data:`MAX_BODY` printable ASCII characters without ``*``, ``HH`` the XOR of
the body's bytes in two upper-case hex digits (as in NMEA 0183). Anything else
is a :class:`FrameError`, counted by the parser, never an exception.

Host to reader: ``PING``, ``STATUS``, ``READ``.
Reader to host: answers ``OK``, ``ERR <nn> <text>``, ``UID <uid> <type>``,
``STATUS EMPTY`` or ``STATUS PRESENT <uid> <type>``; events ``CARD IN <uid>
<type>`` and ``CARD OUT`` at any time.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

MAX_BODY = 64
"""Longest body; the longest legal message is well under it."""
MAX_FRAME = MAX_BODY + len(b"*HH\r\n")
CHECKSUM_SEP = b"*"
LINE_END = b"\r\n"

UID_RE = re.compile(r"(?:[0-9A-F]{2}){4,16}")
"""4 to 16 bytes in upper-case hex (ISO 14443 UIDs are 4, 7 or 10 bytes)."""
TYPE_RE = re.compile(r"[A-Z][A-Z0-9_]{0,19}")
"""Card technology token, e.g. ``ISO14443A``, ``MIFARE_DESFIRE``, ``CONTACT``."""
ERR_TEXT_RE = re.compile(r"[ -~]{1,40}")


class Command(StrEnum):
    """What the host may ask the reader."""

    PING = "PING"
    STATUS = "STATUS"
    READ = "READ"


class ErrorCode(IntEnum):
    """``ERR`` codes the reader sends; others may exist and are kept as ints."""

    NO_CARD = 1
    READ_FAILED = 2
    CARD_REMOVED = 3
    BAD_CHECKSUM = 4
    """The reader received a garbled command: the host may send it again."""
    UNKNOWN_COMMAND = 5
    BUSY = 6


@dataclass(frozen=True)
class Ok:
    """Answer to PING."""


@dataclass(frozen=True)
class Err:
    """A command failed on the reader's side."""

    code: int
    text: str


@dataclass(frozen=True)
class CardUid:
    """Answer to READ: the card's identifier and technology."""

    uid: str
    card_type: str


@dataclass(frozen=True)
class ReaderStatus:
    """Answer to STATUS: the card in the reader, if any."""

    uid: str | None = None
    card_type: str | None = None

    @property
    def present(self) -> bool:
        """True when a card sits in the reader."""
        return self.uid is not None


@dataclass(frozen=True)
class CardIn:
    """Event: a card was inserted or laid on the reader."""

    uid: str
    card_type: str


@dataclass(frozen=True)
class CardOut:
    """Event: the card was taken away."""


ReaderMessage = Ok | Err | CardUid | ReaderStatus | CardIn | CardOut
Answer = Ok | Err | CardUid | ReaderStatus
"""Messages that answer a command (the others are spontaneous events)."""


class FrameErrorKind(StrEnum):
    """Why a frame was refused."""

    TOO_LONG = "too_long"
    BAD_LINE_END = "bad_line_end"
    """LF without the CR before it."""
    NOT_ASCII = "not_ascii"
    NO_CHECKSUM = "no_checksum"
    BAD_CHECKSUM = "bad_checksum"
    UNKNOWN = "unknown"
    """Well framed, but not a message of this protocol."""
    BAD_FIELDS = "bad_fields"
    """Known message with malformed arguments."""


@dataclass(frozen=True)
class FrameError:
    """One refused frame: its kind and size (content is not kept)."""

    kind: FrameErrorKind
    size: int


def checksum(body: bytes) -> int:
    """XOR of all bytes of ``body``."""
    value = 0
    for byte in body:
        value ^= byte
    return value


def encode_frame(body: str) -> bytes:
    """Frame a body: ``BODY*HH\\r\\n``; raises ValueError on an illegal body."""
    raw = body.encode("ascii")
    if not raw or len(raw) > MAX_BODY or not _is_body(raw):
        raise ValueError(f"illegal frame body {body!r}")
    return raw + CHECKSUM_SEP + b"%02X" % checksum(raw) + LINE_END


def encode_command(command: Command) -> bytes:
    """Bytes the host sends for ``command``."""
    return encode_frame(command.value)


def encode_message(message: ReaderMessage) -> bytes:
    """Bytes a reader sends for ``message`` (used by the simulator and tests)."""
    match message:
        case Ok():
            body = "OK"
        case Err(code, text):
            body = f"ERR {code:02d} {text}"
        case CardUid(uid, card_type):
            body = f"UID {uid} {card_type}"
        case ReaderStatus(uid=None):
            body = "STATUS EMPTY"
        case ReaderStatus(uid, card_type):
            body = f"STATUS PRESENT {uid} {card_type}"
        case CardIn(uid, card_type):
            body = f"CARD IN {uid} {card_type}"
        case CardOut():
            body = "CARD OUT"
    return encode_frame(body)


def _is_body(raw: bytes) -> bool:
    return all(0x20 <= b <= 0x7E and b != 0x2A for b in raw)


def check_frame(line: bytes) -> str | FrameError:
    """Verify one line (its LF already removed); return its body or why not."""
    if not line.endswith(b"\r"):
        return FrameError(FrameErrorKind.BAD_LINE_END, len(line))
    content = line[:-1]
    if len(content) > MAX_BODY + 3:
        return FrameError(FrameErrorKind.TOO_LONG, len(line))
    if any(b < 0x20 or b > 0x7E for b in content):
        return FrameError(FrameErrorKind.NOT_ASCII, len(line))
    body, sep, digits = content.rpartition(CHECKSUM_SEP)
    if not sep or not body or len(digits) != 2 or not _is_body(body):
        return FrameError(FrameErrorKind.NO_CHECKSUM, len(line))
    if digits != b"%02X" % checksum(body):
        return FrameError(FrameErrorKind.BAD_CHECKSUM, len(line))
    return body.decode("ascii")


def parse_message(line: bytes) -> ReaderMessage | FrameError:
    """Parse one reader frame (LF removed) into a typed message or error."""
    body = check_frame(line)
    if isinstance(body, FrameError):
        return body
    bad = FrameError(FrameErrorKind.BAD_FIELDS, len(line))
    words = body.split(" ")
    match words:
        case ["OK"]:
            return Ok()
        case ["ERR", code, *text] if text:
            joined = " ".join(text)
            if len(code) != 2 or not code.isdigit() or not ERR_TEXT_RE.fullmatch(joined):
                return bad
            return Err(int(code), joined)
        case ["UID", uid, card_type]:
            return CardUid(uid, card_type) if _valid_card(uid, card_type) else bad
        case ["STATUS", "EMPTY"]:
            return ReaderStatus()
        case ["STATUS", "PRESENT", uid, card_type]:
            return ReaderStatus(uid, card_type) if _valid_card(uid, card_type) else bad
        case ["CARD", "IN", uid, card_type]:
            return CardIn(uid, card_type) if _valid_card(uid, card_type) else bad
        case ["CARD", "OUT"]:
            return CardOut()
        case ["OK" | "ERR" | "UID" | "STATUS" | "CARD", *_]:
            return bad
    return FrameError(FrameErrorKind.UNKNOWN, len(line))


def parse_command(line: bytes) -> Command | FrameError:
    """Parse one host frame (LF removed); the reader side of the protocol."""
    body = check_frame(line)
    if isinstance(body, FrameError):
        return body
    try:
        return Command(body)
    except ValueError:
        return FrameError(FrameErrorKind.UNKNOWN, len(line))


def _valid_card(uid: str, card_type: str) -> bool:
    return UID_RE.fullmatch(uid) is not None and TYPE_RE.fullmatch(card_type) is not None


@dataclass
class LineSplitter:
    """Cuts a byte stream at LF, with bounded memory.

    A line that grows past :data:`MAX_FRAME` is dropped at once and the rest of
    it skipped up to the next LF, reported as one ``TOO_LONG`` error.
    """

    _buffer: bytearray = field(default_factory=bytearray, repr=False)
    _skipped: int | None = field(default=None, repr=False)
    """Bytes dropped of the current overlong line, or None when not skipping."""

    @property
    def buffered(self) -> int:
        """Bytes held waiting for an LF (never more than MAX_FRAME)."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes | FrameError]:
        """Lines completed by ``data`` (LF removed), or TOO_LONG errors."""
        out: list[bytes | FrameError] = []
        self._buffer += data
        while (end := self._buffer.find(b"\n")) >= 0:
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            if self._skipped is not None:
                out.append(FrameError(FrameErrorKind.TOO_LONG, self._skipped + len(line) + 1))
                self._skipped = None
            elif len(line) + 1 > MAX_FRAME:
                out.append(FrameError(FrameErrorKind.TOO_LONG, len(line) + 1))
            else:
                out.append(line)
        if len(self._buffer) >= MAX_FRAME:
            self._skipped = (self._skipped or 0) + len(self._buffer)
            self._buffer.clear()
        return out

    def reset(self) -> None:
        """Forget any partial line."""
        self._buffer.clear()
        self._skipped = None


@dataclass
class CardLineParser:
    """Reader byte stream to typed messages; counts refused frames by kind."""

    errors: Counter[str] = field(default_factory=Counter)
    _lines: LineSplitter = field(default_factory=LineSplitter, repr=False)

    @property
    def buffered(self) -> int:
        """Bytes held waiting for the end of a frame (bounded)."""
        return self._lines.buffered

    def feed(self, data: bytes) -> list[ReaderMessage | FrameError]:
        """Messages and errors completed by ``data``."""
        results: list[ReaderMessage | FrameError] = []
        for line in self._lines.feed(data):
            result = line if isinstance(line, FrameError) else parse_message(line)
            if isinstance(result, FrameError):
                self.errors[result.kind.value] += 1
            results.append(result)
        return results

    def reset(self) -> None:
        """Forget any partial frame (after a reconnection)."""
        self._lines.reset()


@dataclass
class CommandParser:
    """Host byte stream to commands: what a reader (or the simulator) runs."""

    errors: Counter[str] = field(default_factory=Counter)
    _lines: LineSplitter = field(default_factory=LineSplitter, repr=False)

    def feed(self, data: bytes) -> list[Command | FrameError]:
        """Commands and errors completed by ``data``."""
        results: list[Command | FrameError] = []
        for line in self._lines.feed(data):
            result = line if isinstance(line, FrameError) else parse_command(line)
            if isinstance(result, FrameError):
                self.errors[result.kind.value] += 1
            results.append(result)
        return results

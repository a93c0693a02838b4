"""The printer's side of ESC/POS: a pure, incremental parser of the byte stream.

The simulator feeds it whatever arrives on the wire, in any chunking, and gets
back events (text lines, QR codes, images, cuts, status queries) in stream
order, so it can answer ``DLE EOT n`` exactly where a real printer would. It
knows the length of every command python-escpos and common receipts emit, so
bytes inside image or QR data are never mistaken for commands. Anything it does
not understand is counted and skipped, never raised: a real printer prints
garbage rather than crash, and tests want to see how much garbage went by.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ESC = 0x1B
GS = 0x1D
DLE = 0x10
FS = 0x1C
LF = 0x0A
CR = 0x0D
HT = 0x09
EOT = 0x04
ENQ = 0x05
DC4 = 0x14

MAX_COMMAND_BYTES = 1 << 20
"""A declared command longer than this is garbage, not a reason to buffer forever."""
MAX_LINE_BYTES = 4096
"""A line without LF longer than this is cut, so a flood of text cannot fill memory."""

CODE_PAGES: dict[int, str] = {
    0: "cp437",
    2: "cp850",
    3: "cp860",
    4: "cp863",
    5: "cp865",
    16: "cp1252",
    17: "cp866",
    18: "cp852",
    19: "cp858",
    40: "iso8859_15",
}
"""``ESC t n`` tables the simulator can decode (Epson numbering)."""

# ESC x and GS x commands with a fixed number of argument bytes after the two
# command bytes.
_ESC_FIXED: dict[int, int] = {
    **dict.fromkeys(b"@2<LSimFq", 0),
    **dict.fromkeys(b"!-EGMatdJ3RV{ %r=eTUce", 1),
    **dict.fromkeys(b"$\\", 2),
    ord("p"): 3,
}
_ESC_FIXED[ord("c")] = 2  # ESC c 3 n / ESC c 4 n / ESC c 5 n: one sub-byte + n
_GS_FIXED: dict[int, int] = {
    **dict.fromkeys(b":", 0),
    **dict.fromkeys(b"!BbhwHfarIT", 1),
    **dict.fromkeys(b"LWP$\\^", 2),
}


@dataclass(frozen=True)
class TextLine:
    """A line of printed text, decoded with the code page selected at the time."""

    text: str


@dataclass(frozen=True)
class QrCode:
    """A native QR code was printed (``GS ( k`` fn 81) with this stored payload."""

    payload: str


@dataclass(frozen=True)
class RasterImage:
    """A ``GS v 0`` raster image, size in dots."""

    width: int
    height: int


@dataclass(frozen=True)
class Cut:
    """Paper cut (``GS V``)."""

    partial: bool


@dataclass(frozen=True)
class StatusRequest:
    """A real-time ``DLE EOT n`` status query: the printer must answer one byte."""

    n: int


@dataclass(frozen=True)
class Initialise:
    """``ESC @``: printer reset to defaults."""


Event = TextLine | QrCode | RasterImage | Cut | StatusRequest | Initialise


@dataclass
class StreamCounters:
    """What went by that was not printable: for tests and diagnostics."""

    garbage_bytes: int = 0
    unknown_commands: int = 0
    oversized_commands: int = 0
    commands: int = 0


@dataclass
class EscPosStreamParser:
    """Incremental ESC/POS parser: ``feed(bytes) -> events``; never raises."""

    code_page: int = 0
    counters: StreamCounters = field(default_factory=StreamCounters)
    _buffer: bytearray = field(default_factory=bytearray)
    _line: bytearray = field(default_factory=bytearray)
    _qr_payload: bytes = b""

    def feed(self, data: bytes) -> list[Event]:
        """Consume ``data``; return the events it completed, in stream order."""
        self._buffer += data
        events: list[Event] = []
        pos = 0
        buf = self._buffer
        while pos < len(buf):
            byte = buf[pos]
            if byte in (ESC, GS, DLE, FS):
                length = self._command_length(buf, pos)
                if length is None:
                    break  # wait for the rest of the command
                if length < 0:
                    # Unknown or absurd: skip the prefix byte alone so whatever
                    # follows is re-read (it may be text or a valid command).
                    pos += 1
                    continue
                self.counters.commands += 1
                self._execute(bytes(buf[pos : pos + length]), events)
                pos += length
            elif byte == LF:
                self._end_line(events)
                pos += 1
            elif byte == CR:
                pos += 1
            elif byte < 0x20 and byte != HT:
                self.counters.garbage_bytes += 1
                pos += 1
            else:
                self._line.append(byte)
                if len(self._line) >= MAX_LINE_BYTES:
                    self._end_line(events)
                pos += 1
        del buf[:pos]
        return events

    def flush(self) -> list[Event]:
        """End of stream: a pending partial line is printed, a partial command is garbage."""
        events: list[Event] = []
        self.counters.garbage_bytes += len(self._buffer)
        self._buffer.clear()
        if self._line:
            self._end_line(events)
        return events

    def _end_line(self, events: list[Event]) -> None:
        encoding = CODE_PAGES.get(self.code_page, "cp437")
        events.append(TextLine(bytes(self._line).decode(encoding, errors="replace")))
        self._line.clear()

    def _command_length(self, buf: bytearray, pos: int) -> int | None:
        """Total length of the command at ``pos``; None if incomplete, -1 if unknown."""
        avail = len(buf) - pos
        if avail < 2:
            return None
        prefix, code = buf[pos], buf[pos + 1]
        length: int | None
        if prefix == ESC:
            length = self._esc_length(buf, pos, code, avail)
        elif prefix == GS:
            length = self._gs_length(buf, pos, code, avail)
        elif prefix == DLE:
            length = self._dle_length(buf, pos, code, avail)
        else:
            length = {ord("p"): 4, ord("."): 2, ord("&"): 2, ord("!"): 3, ord("C"): 3}.get(code)
            if length is None:
                length = -1
        if length is None or length < 0:
            if length is not None:
                self.counters.unknown_commands += 1
                self.counters.garbage_bytes += 1
            return length
        if length > MAX_COMMAND_BYTES:
            self.counters.oversized_commands += 1
            self.counters.garbage_bytes += 1
            return -1
        return length if length <= avail else None

    @staticmethod
    def _esc_length(buf: bytearray, pos: int, code: int, avail: int) -> int | None:
        if code in _ESC_FIXED:
            return 2 + _ESC_FIXED[code]
        if code == ord("*"):  # ESC * m nL nH d1..dk: bit image
            if avail < 5:
                return None
            mode, count = buf[pos + 2], buf[pos + 3] + 256 * buf[pos + 4]
            return 5 + count * (3 if mode in (32, 33) else 1)
        return -1

    @staticmethod
    def _gs_length(buf: bytearray, pos: int, code: int, avail: int) -> int | None:
        if code in _GS_FIXED:
            return 2 + _GS_FIXED[code]
        if code == ord("("):  # GS ( X pL pH data
            if avail < 5:
                return None
            return 5 + buf[pos + 3] + 256 * buf[pos + 4]
        if code == ord("v"):  # GS v 0 m xL xH yL yH data
            if avail < 8:
                return None
            width = buf[pos + 4] + 256 * buf[pos + 5]
            height = buf[pos + 6] + 256 * buf[pos + 7]
            return 8 + width * height
        if code == ord("V"):  # GS V m [n]
            if avail < 3:
                return None
            return 3 if buf[pos + 2] in (0, 1, 48, 49) else 4
        if code == ord("k"):  # GS k m: NUL-terminated (m <= 6) or counted
            if avail < 3:
                return None
            if buf[pos + 2] <= 6:
                end = buf.find(0, pos + 3)
                if end < 0:
                    return None if avail < 256 else -1
                return end - pos + 1
            if avail < 4:
                return None
            return 4 + buf[pos + 3]
        if code == ord("8"):  # GS 8 L p1 p2 p3 p4 m fn data (large graphics)
            if avail < 7:
                return None
            return 7 + int.from_bytes(buf[pos + 3 : pos + 7], "little")
        return -1

    @staticmethod
    def _dle_length(buf: bytearray, pos: int, code: int, avail: int) -> int | None:
        if code in (EOT, ENQ):
            return 3
        if code == DC4:
            if avail < 3:
                return None
            return 10 if buf[pos + 2] == 8 else 5
        return -1

    def _execute(self, cmd: bytes, events: list[Event]) -> None:
        prefix, code = cmd[0], cmd[1]
        if prefix == ESC:
            if code == ord("@"):
                self.code_page = 0
                events.append(Initialise())
            elif code == ord("t"):
                self.code_page = cmd[2]
            elif code == ord("d") and self._line:
                # "Print and feed n lines" prints the pending line first.
                self._end_line(events)
        elif prefix == GS:
            if code == ord("V"):
                if self._line:
                    self._end_line(events)
                events.append(Cut(partial=cmd[2] in (1, 49, 66, 98)))
            elif code == ord("v"):
                events.append(
                    RasterImage(width=8 * (cmd[4] + 256 * cmd[5]), height=cmd[6] + 256 * cmd[7])
                )
            elif code == ord("(") and cmd[2] == ord("k"):
                self._qr_function(cmd, events)
        elif prefix == DLE and code == EOT:
            events.append(StatusRequest(cmd[2]))

    def _qr_function(self, cmd: bytes, events: list[Event]) -> None:
        # GS ( k pL pH cn fn [m] data; cn 49 is QR Code.
        if len(cmd) < 7 or cmd[5] != 49:
            return
        fn = cmd[6]
        if fn == 80:  # store data: m = '0' then payload
            self._qr_payload = cmd[8:]
        elif fn == 81 and self._qr_payload:  # print the stored symbol
            events.append(QrCode(self._qr_payload.decode("utf-8", errors="replace")))

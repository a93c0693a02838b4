"""Serial barcode/QR scanners: bytes in, whole scans out. Pure, no I/O.

A serial scanner sends each code it decodes as one line: an optional prefix
(some are configured to send STX or an identifier), the code, then a suffix
(CR, LF or CRLF by default). The bytes may arrive in any number of chunks.
:class:`BarcodeFramer` reassembles lines, checks them and returns
:class:`Scan` or :class:`Rejected` results; rejections are counted per reason
so diagnostics can show them.

Memory stays bounded whatever arrives: a line longer than the limit is dropped
as soon as it overflows, and the rest of it is skipped up to the next
terminator without being kept.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum

MAX_CODE_LENGTH = 512
"""Longest code accepted (characters); a QR convocation code is far shorter."""

ANY_LINE_END: bytes = b""
"""Suffix setting meaning "CR, LF or CRLF": what most scanners ship with."""


class RejectReason(StrEnum):
    """Why a line was not taken as a scan."""

    TOO_LONG = "too_long"
    NOT_TEXT = "not_text"
    """Not UTF-8, or holds control characters: line noise, wrong baud rate."""
    MISSING_PREFIX = "missing_prefix"


@dataclass(frozen=True)
class Scan:
    """One code read by the scanner, prefix and suffix removed."""

    code: str


@dataclass(frozen=True)
class Rejected:
    """One line thrown away, with how many bytes it had (never its content)."""

    reason: RejectReason
    size: int


ScanResult = Scan | Rejected


@dataclass(frozen=True)
class FramerConfig:
    """How the scanner is configured to frame its codes."""

    suffix: bytes = ANY_LINE_END
    """Terminator; ``ANY_LINE_END`` accepts CR, LF and CRLF."""
    prefix: bytes = b""
    """Required start of every line (stripped), e.g. ``b"\\x02"``; empty for none."""
    max_length: int = MAX_CODE_LENGTH

    def __post_init__(self) -> None:
        if self.max_length < 1:
            raise ValueError("max_length must be at least 1")


@dataclass
class BarcodeFramer:
    """Turns a byte stream from a scanner into scans; keep one per connection."""

    config: FramerConfig = field(default_factory=FramerConfig)
    rejected: Counter[str] = field(default_factory=Counter)
    """Rejected lines so far, by :class:`RejectReason` value."""
    scans: int = 0
    """Scans accepted so far."""
    _buffer: bytearray = field(default_factory=bytearray, repr=False)
    _skipping: bool = field(default=False, repr=False)
    """True while dropping the tail of an overlong line, up to its terminator."""
    _skipped: int = field(default=0, repr=False)

    @property
    def buffered(self) -> int:
        """Bytes currently held waiting for a terminator (bounded)."""
        return len(self._buffer)

    @property
    def max_buffer(self) -> int:
        """Upper bound of :attr:`buffered`, whatever is fed."""
        # A line may hold the prefix, the code and a split terminator; UTF-8
        # takes up to 4 bytes a character.
        suffix_len = max(len(self.config.suffix), 2)
        return len(self.config.prefix) + 4 * self.config.max_length + suffix_len

    def feed(self, data: bytes) -> list[ScanResult]:
        """Add received bytes; return the scans and rejections they complete."""
        results: list[ScanResult] = []
        for line, overflowed, size in self._split(data):
            if overflowed:
                results.append(self._reject(RejectReason.TOO_LONG, size))
            else:
                result = self._check(line)
                if result is not None:
                    results.append(result)
        return results

    def reset(self) -> None:
        """Forget any partial line (after a reconnection)."""
        self._buffer.clear()
        self._skipping = False
        self._skipped = 0

    def _split(self, data: bytes) -> list[tuple[bytes, bool, int]]:
        """Complete lines as (content, overflowed, size); keeps the partial tail."""
        out: list[tuple[bytes, bool, int]] = []
        suffix = self.config.suffix
        self._buffer += data
        while True:
            end, term_len = self._find_terminator(suffix)
            if end < 0:
                break
            line = bytes(self._buffer[:end])
            del self._buffer[: end + term_len]
            if self._skipping:
                out.append((b"", True, self._skipped + len(line)))
                self._skipping = False
                self._skipped = 0
            else:
                out.append((line, False, len(line)))
        limit = self.max_buffer
        if len(self._buffer) > limit:
            # Keep the last bytes that could start a split terminator so a
            # suffix cut across chunks is still seen; drop everything else.
            keep = max(len(suffix), 1) - 1
            cut = len(self._buffer) - keep
            if not self._skipping:
                self._skipping = True
                self._skipped = 0
            self._skipped += cut
            del self._buffer[:cut]
        return out

    def _find_terminator(self, suffix: bytes) -> tuple[int, int]:
        """Index and length of the first terminator in the buffer, or (-1, 0)."""
        buf = self._buffer
        if suffix:
            return buf.find(suffix), len(suffix)
        cr, lf = buf.find(b"\r"), buf.find(b"\n")
        if cr < 0 and lf < 0:
            return -1, 0
        if cr >= 0 and (lf < 0 or cr < lf):
            # A CR at the very end may be the first half of a CRLF cut by the
            # chunking: the LF will only make an empty line, which is ignored.
            return cr, 2 if buf[cr + 1 : cr + 2] == b"\n" else 1
        return lf, 1

    def _check(self, line: bytes) -> ScanResult | None:
        if not line and not self.config.suffix:
            return None  # the LF of a CRLF seen in two steps, or a blank line
        prefix = self.config.prefix
        if prefix:
            if not line.startswith(prefix):
                return self._reject(RejectReason.MISSING_PREFIX, len(line))
            line = line[len(prefix) :]
        if not line:
            return self._reject(RejectReason.NOT_TEXT, 0)
        if len(line) > 4 * self.config.max_length:
            return self._reject(RejectReason.TOO_LONG, len(line))
        try:
            code = line.decode("utf-8")
        except UnicodeDecodeError:
            return self._reject(RejectReason.NOT_TEXT, len(line))
        if not code.isprintable():
            return self._reject(RejectReason.NOT_TEXT, len(line))
        if len(code) > self.config.max_length:
            return self._reject(RejectReason.TOO_LONG, len(line))
        self.scans += 1
        return Scan(code)

    def _reject(self, reason: RejectReason, size: int) -> Rejected:
        self.rejected[reason.value] += 1
        return Rejected(reason, size)

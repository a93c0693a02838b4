"""Search what a process wrote for anything of the citizen (the privacy proof's tools).

- :func:`written_paths` reads an ``strace -f -y`` log and lists every file the traced
  process tree opened for writing, created, renamed or linked (and that succeeded);
- :class:`Needles` holds what must never be found: the chat markers, a card UID in
  every spelling, windows of the scan's bytes;
- :func:`sweep` reads files and texts and reports every hit, and how much it read.

Pure file reading, no product code: the test decides where to look.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

CHUNK_BYTES = 4 * 1024 * 1024
WINDOW_BYTES = 64
MEDIA_MAGIC = {
    b"RIFF": "RIFF (WAV/AVI)",
    b"\x1aE\xdf\xa3": "Matroska/WebM",
    b"OggS": "Ogg",
    b"fLaC": "FLAC",
}
MEDIA_SUFFIXES = {".wav", ".webm", ".mkv", ".mp4", ".m4a", ".ogg", ".opus", ".flac", ".avi"}

# pid  syscall(args) = result</resolved path>   (strace -f -y)
_OPEN = re.compile(
    r"^\d+\s+(?P<call>open|openat|openat2|creat)\((?P<args>.*)\)\s+= \d+<(?P<path>[^>]+)>\s*$"
)
_LINK = re.compile(
    r"^\d+\s+(?:rename|renameat|renameat2|link|linkat|symlink|symlinkat)\(.*\)\s+= 0"
)
_MKDIR = re.compile(r"^\d+\s+(?:mkdir|mkdirat)\(.*\)\s+= 0")
_PATH_ARG = re.compile(r'(?:(?:AT_FDCWD|\d+)<(?P<dir>[^>]+)>, )?"(?P<name>[^"]+)"')
WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND")


def _last_path(line: str, cwd: Path) -> Path | None:
    """The last path argument of a syscall line, resolved against its dirfd (or ``cwd``:
    plain ``rename``/``mkdir`` carry no dirfd, and the traced process never changes
    folder)."""
    args = list(_PATH_ARG.finditer(line))
    if not args:
        return None
    last = args[-1]
    name = Path(last["name"])
    if not name.is_absolute():
        name = Path(last["dir"] or cwd) / name
    return name


_UNFINISHED = re.compile(r"^(?P<pid>\d+)\s+(?P<head>.*) <unfinished \.\.\.>$")
_RESUMED = re.compile(r"^(?P<pid>\d+)\s+<\.\.\. \w+ resumed>(?P<tail>.*)$")


def _joined(strace_log: str) -> list[str]:
    """Log lines with each call that another thread interrupted put back together."""
    pending: dict[str, str] = {}
    lines = []
    for line in strace_log.splitlines():
        started = _UNFINISHED.match(line)
        if started:
            pending[started["pid"]] = started["head"]
            continue
        resumed = _RESUMED.match(line)
        if resumed:
            head = pending.pop(resumed["pid"], None)
            if head is not None:
                lines.append(f"{resumed['pid']} {head}{resumed['tail']}")
            continue
        lines.append(line)
    return lines


def written_paths(strace_log: str, cwd: Path) -> tuple[set[Path], set[Path]]:
    """(files, folders) the traced processes wrote or created, from an ``strace -f -y`` log."""
    files: set[Path] = set()
    folders: set[Path] = set()
    for line in _joined(strace_log):
        opened = _OPEN.match(line)
        if opened:
            if opened["call"] == "creat" or any(f in opened["args"] for f in WRITE_FLAGS):
                files.add(Path(opened["path"]))
        elif _LINK.match(line):
            target = _last_path(line, cwd)
            if target is not None:
                files.add(target)
        elif _MKDIR.match(line):
            target = _last_path(line, cwd)
            if target is not None:
                folders.add(target)
    return files, folders


def _hex_spellings(uid: str) -> list[bytes]:
    pairs = [uid[i : i + 2] for i in range(0, len(uid), 2)]
    spellings = [uid.lower()]
    for sep in (":", "-", " ", "."):
        spellings.append(sep.join(pairs).lower())
    return [s.encode() for s in spellings]


@dataclass
class Needles:
    """What must never be found, by name: exact bytes, and hex to find in any case."""

    exact: dict[str, bytes] = field(default_factory=dict)
    any_case: dict[str, bytes] = field(default_factory=dict)
    """Lower-case ASCII, matched against the lower-cased data (hex UIDs)."""

    def add_text(self, name: str, text: str) -> None:
        """``text`` as UTF-8, UTF-16 and UTF-32 (what a toolkit might keep of it)."""
        self.exact[f"{name} (utf-8)"] = text.encode("utf-8")
        self.exact[f"{name} (utf-16)"] = text.encode("utf-16-le")
        self.exact[f"{name} (utf-32)"] = text.encode("utf-32-le")

    def add_uid(self, name: str, uid: str) -> None:
        """A card UID in hex (any case, with or without separators) and as raw bytes."""
        for spelling in _hex_spellings(uid):
            self.any_case[f"{name} {spelling.decode()!r}"] = spelling
        self.exact[f"{name} (binary)"] = bytes.fromhex(uid)

    def add_scan(self, name: str, encoded: bytes, windows: int = 6) -> int:
        """Windows of the encoded image (PNG/JPEG) and whole distinct rows of its pixels.

        A 64-byte window of compressed data is as good as a fingerprint; raw pixels of a
        test chart are too repetitive for short windows, so whole non-uniform rows are
        used instead. Returns how many needles were added."""
        added = 0
        body = encoded[len(encoded) // 10 : -64]
        step = max(1, (len(body) - WINDOW_BYTES) // windows)
        for n in range(windows):
            chunk = body[n * step : n * step + WINDOW_BYTES]
            if len(chunk) == WINDOW_BYTES:
                self.exact[f"{name} encoded window {n}"] = chunk
                added += 1
        with Image.open(io.BytesIO(encoded)) as image:
            raw = image.tobytes()
            row_bytes = len(raw) // image.height
            height = image.height
        rows: list[bytes] = []
        seen: set[bytes] = set()
        for y in range(0, height, max(1, height // 50)):
            row = raw[y * row_bytes : (y + 1) * row_bytes]
            if len(set(row)) > 1 and row not in seen:
                seen.add(row)
                rows.append(row)
        for n, row in enumerate(rows[:windows]):
            self.exact[f"{name} raw pixel row {n}"] = row
            added += 1
        return added

    @property
    def longest(self) -> int:
        return max(len(v) for v in [*self.exact.values(), *self.any_case.values()])


@dataclass
class SweepReport:
    """Where the sweep looked, how much it read, and what it found."""

    files: int = 0
    bytes_read: int = 0
    texts: int = 0
    hits: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    media: list[str] = field(default_factory=list)
    """Files that look like a sound or video recording."""

    def summary(self) -> str:
        return (
            f"{self.files} files and {self.texts} captured outputs, "
            f"{self.bytes_read} bytes searched, {len(self.hits)} hits"
        )


def _search(data: bytes, needles: Needles) -> list[str]:
    found = [name for name, needle in needles.exact.items() if needle in data]
    if needles.any_case:
        lowered = data.lower()
        found += [name for name, needle in needles.any_case.items() if needle in lowered]
    return found


def _search_file(path: Path, needles: Needles, report: SweepReport) -> None:
    overlap = needles.longest - 1
    tail = b""
    try:
        with path.open("rb") as fh:
            head = fh.read(12)
            if path.suffix.lower() in MEDIA_SUFFIXES or any(
                head.startswith(magic) for magic in MEDIA_MAGIC
            ):
                report.media.append(str(path))
            if head[4:8] == b"ftyp":
                report.media.append(f"{path} (MP4)")
            fh.seek(0)
            report.files += 1
            while True:
                chunk = fh.read(CHUNK_BYTES)
                if not chunk:
                    break
                report.bytes_read += len(chunk)
                for name in _search(tail + chunk, needles):
                    hit = f"{name} in {path}"
                    if hit not in report.hits:
                        report.hits.append(hit)
                tail = (tail + chunk)[-overlap:] if overlap > 0 else b""
    except OSError as exc:
        report.unreadable.append(f"{path}: {exc}")


def regular_files(roots: Iterable[Path]) -> list[Path]:
    """Every regular file under ``roots`` (files given directly are kept), no symlinks."""
    found: list[Path] = []
    for root in roots:
        if root.is_symlink():
            continue
        if root.is_file():
            found.append(root)
        elif root.is_dir():
            found += [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()]
    return found


def sweep(files: Iterable[Path], texts: dict[str, str], needles: Needles) -> SweepReport:
    """Search every file in ``files`` and every captured text (by name) for ``needles``."""
    report = SweepReport()
    for path in sorted(set(files)):
        _search_file(path, needles, report)
    for label, text in texts.items():
        data = text.encode("utf-8", "surrogateescape")
        report.texts += 1
        report.bytes_read += len(data)
        report.hits += [f"{name} in {label}" for name in _search(data, needles)]
    return report

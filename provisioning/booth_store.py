"""The booth's applied configuration on disk: atomic apply, last-known-good, rollback.

Files in the state folder (0700; every file 0600):

``bundle.json``            the signed bundle in force (kept signed: re-checked at start)
``bundle.last-good.json``  the one before it, restored when a new one fails
``apply.pending``          present only while a new bundle is being tried
``rejected-version``       the last version that failed its health check (not retried)

Every write goes to a temporary file that is fsynced, renamed over the target,
then the folder is fsynced: after a crash or power cut each file holds either
its old or its new content, never a mix. A crash while a new bundle is being
tried (``apply.pending`` left behind) rolls back to the last good one at the
next start, and that version is not tried again: a config that kills the booth
must not put it in a boot loop.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from provisioning.bundle import BundlePayload

log = logging.getLogger(__name__)

CURRENT = "bundle.json"
LAST_GOOD = "bundle.last-good.json"
PENDING = "apply.pending"
REJECTED = "rejected-version"
_TMP_SUFFIX = ".tmp"

HealthCheck = Callable[[BundlePayload], bool]
"""Called after a bundle is written; False (or an exception) rolls it back."""


def atomic_write(directory: Path, name: str, data: bytes) -> None:
    """Replace ``directory/name`` by ``data`` (0600): old or new content after any crash."""
    tmp = directory / f".{name}.{secrets.token_hex(4)}{_TMP_SUFFIX}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, directory / name)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _sync_dir(directory)


def _sync_dir(directory: Path) -> None:
    # The rename itself is only durable once the folder's entry is on disk.
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ApplyFailed(Exception):
    """A bundle was written, failed its health check and was rolled back."""

    def __init__(self, version: int, reason: str) -> None:
        super().__init__(f"version {version} rolled back: {reason}")
        self.version = version
        self.reason = reason


@dataclass(frozen=True)
class Recovery:
    """What :meth:`BoothStore.recover` found after an interrupted apply."""

    interrupted_version: int | None
    restored: bool


class BoothStore:
    """Applied bundles in one private folder (created 0700)."""

    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)

    # ---------------------------------------------------------------- reading

    def _read(self, name: str) -> bytes | None:
        try:
            return (self.dir / name).read_bytes()
        except FileNotFoundError:
            return None

    def current(self) -> bytes | None:
        """The bundle in force, as signed bytes (None on a fresh booth)."""
        return self._read(CURRENT)

    def last_good(self) -> bytes | None:
        return self._read(LAST_GOOD)

    def rejected_version(self) -> int | None:
        """The last version that failed its health check, if any."""
        raw = self._read(REJECTED)
        try:
            return int(raw) if raw else None
        except ValueError:
            return None

    # ---------------------------------------------------------------- writing

    def _write_atomic(self, name: str, data: bytes) -> None:
        atomic_write(self.dir, name, data)

    def _remove(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.dir / name).unlink()
            self._sync_dir()

    def _sync_dir(self) -> None:
        _sync_dir(self.dir)

    # ---------------------------------------------------------------- life cycle

    def recover(self) -> Recovery:
        """At start: drop stale temporary files, undo an apply that was cut short."""
        for stale in self.dir.glob(f".*{_TMP_SUFFIX}"):
            with contextlib.suppress(OSError):
                stale.unlink()
        pending = self._read(PENDING)
        if pending is None:
            return Recovery(None, restored=False)
        version = int(pending) if pending.strip().isdigit() else None
        previous = self.last_good()
        if previous is not None:
            self._write_atomic(CURRENT, previous)
        else:
            self._remove(CURRENT)
        if version is not None:
            self._write_atomic(REJECTED, str(version).encode())
        self._remove(PENDING)
        log.warning("apply of config version %s was interrupted: rolled back", version)
        return Recovery(version, restored=True)

    def apply(self, data: bytes, payload: BundlePayload, health_check: HealthCheck) -> None:
        """Make ``data`` (already verified as ``payload``) the bundle in force.

        Raises :class:`ApplyFailed` after restoring the previous bundle when
        ``health_check`` says no or raises.
        """
        previous = self.current()
        if previous is not None:
            self._write_atomic(LAST_GOOD, previous)
        self._write_atomic(PENDING, str(payload.version).encode())
        self._write_atomic(CURRENT, data)
        try:
            healthy = health_check(payload)
            reason = "health check failed"
        except Exception as exc:
            healthy, reason = False, f"health check raised {exc!r}"
        if not healthy:
            if previous is not None:
                self._write_atomic(CURRENT, previous)
            else:
                self._remove(CURRENT)
            self._write_atomic(REJECTED, str(payload.version).encode())
            self._remove(PENDING)
            log.warning("config version %d rolled back: %s", payload.version, reason)
            raise ApplyFailed(payload.version, reason)
        self._remove(PENDING)
        log.info("config version %d applied", payload.version)

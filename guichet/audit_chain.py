"""The audit trail's hash chain: canonical form of an entry, its hash, and verification.

Pure code (no database, no I/O): the server uses it to append entries, ``guichet audit
verify`` to check a database or an export. Each entry's hash covers its content and the
previous entry's hash, so editing, removing or reordering an entry breaks the chain at
that entry::

    hash(n) = sha256(prev_hash(n) || canonical(n))     prev_hash(1) = GENESIS

The chain alone cannot see the *last* entries being cut off, nor a chain rewritten from
some entry on by someone who can recompute every later hash: compare the head
(:class:`Head`) with one kept elsewhere (an earlier export, a head written down) for that.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
"""The ``prev_hash`` of the first entry."""

FIELDS = ("seq", "time", "actor", "role", "action", "target", "details", "prev_hash")
"""What the hash covers, in canonical order (the JSON keys are sorted anyway)."""


class ChainFormatError(ValueError):
    """An entry that cannot be read (a missing or mistyped field)."""


@dataclass(frozen=True)
class Entry:
    """One audit entry as it is hashed and exported."""

    seq: int
    time: str
    """UTC, ISO 8601 with microseconds and ``Z`` (see :func:`format_time`)."""
    actor: str
    role: str
    action: str
    target: str
    details: Any
    prev_hash: str
    hash: str

    def content(self) -> dict[str, Any]:
        """The hashed fields (everything but ``hash``)."""
        return {name: getattr(self, name) for name in FIELDS}

    def to_json(self) -> dict[str, Any]:
        """The entry as one export line's object."""
        return {**self.content(), "hash": self.hash}


@dataclass(frozen=True)
class Head:
    """The last entry of a chain: its ``seq`` and ``hash`` (``0`` and GENESIS if empty)."""

    seq: int
    hash: str


@dataclass(frozen=True)
class Broken:
    """Where verification stopped: the first bad entry's ``seq`` and why."""

    seq: int
    kind: str
    """``edited``, ``removed``, ``reordered``, ``bad_genesis``, ``relinked`` or ``truncated``."""
    reason: str

    def __str__(self) -> str:
        return f"entry {self.seq}: {self.reason}"


def format_time(moment: datetime) -> str:
    """The canonical text of a timestamp: UTC, microseconds, ``Z``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(content: Mapping[str, Any]) -> bytes:
    """UTF-8 JSON of the hashed fields: sorted keys, no spaces, no NaN."""
    missing = [name for name in FIELDS if name not in content]
    if missing:
        raise ChainFormatError(f"missing fields: {', '.join(missing)}")
    data = {name: content[name] for name in FIELDS}
    try:
        text = json.dumps(
            data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise ChainFormatError(f"not JSON: {exc}") from exc
    return text.encode("utf-8")


def entry_hash(content: Mapping[str, Any]) -> str:
    """``sha256(prev_hash || canonical(content))`` in hex."""
    prev = content.get("prev_hash")
    if not isinstance(prev, str):
        raise ChainFormatError("prev_hash must be a string")
    return hashlib.sha256(prev.encode("ascii", "replace") + canonical(content)).hexdigest()


def make_entry(
    head: Head,
    moment: datetime,
    actor: str,
    role: str,
    action: str,
    target: str,
    details: Any,
) -> Entry:
    """The entry that follows ``head``, with its hash."""
    content: dict[str, Any] = {
        "seq": head.seq + 1,
        "time": format_time(moment),
        "actor": actor,
        "role": role,
        "action": action,
        "target": target,
        "details": details,
        "prev_hash": head.hash,
    }
    # Round-trip the details through JSON so what is hashed is what a reader gets back
    # (tuples become lists, and so on).
    content["details"] = json.loads(json.dumps(details, allow_nan=False))
    return Entry(**content, hash=entry_hash(content))


def entry_from_json(data: Any) -> Entry:
    """An entry from an export line's object; :class:`ChainFormatError` if malformed."""
    if not isinstance(data, dict):
        raise ChainFormatError("an entry must be a JSON object")
    types: dict[str, type | tuple[type, ...]] = {
        "seq": int,
        "time": str,
        "actor": str,
        "role": str,
        "action": str,
        "target": str,
        "prev_hash": str,
        "hash": str,
    }
    for name, kind in types.items():
        value = data.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ChainFormatError(
                f"field {name!r} missing or not a {getattr(kind, '__name__', kind)}"
            )
    if "details" not in data:
        raise ChainFormatError("field 'details' missing")
    return Entry(**{name: data[name] for name in (*FIELDS, "hash")})


def verify(entries: Iterable[Entry], head: Head | None = None) -> Broken | None:
    """Walk the chain in stored order; the first break, or None if it holds.

    ``head``, when known from elsewhere, also catches entries cut off the end.
    """
    stored = list(entries)
    later_seqs: dict[int, int] = {}
    for position, entry in enumerate(stored):
        later_seqs.setdefault(entry.seq, position)
    previous: Entry | None = None
    for position, entry in enumerate(stored):
        expected_seq = 1 if previous is None else previous.seq + 1
        expected_prev = GENESIS if previous is None else previous.hash
        if entry_hash(entry.content()) != entry.hash:
            return Broken(entry.seq, "edited", "its content does not match its hash (edited)")
        if entry.seq < expected_seq:
            return Broken(
                entry.seq,
                "reordered",
                f"comes where entry {expected_seq} should be (reordered or duplicated)",
            )
        if entry.seq > expected_seq and later_seqs.get(expected_seq, -1) > position:
            return Broken(
                entry.seq,
                "reordered",
                f"comes before entry {expected_seq}, which is stored later (reordered)",
            )
        if entry.seq > expected_seq:
            what = "the first entry" if previous is None else f"entry {previous.seq}"
            missing = (
                f"entry {expected_seq}"
                if entry.seq == expected_seq + 1
                else f"entries {expected_seq} to {entry.seq - 1}"
            )
            return Broken(entry.seq, "removed", f"{missing} missing after {what} (removed)")
        if previous is None and entry.prev_hash != GENESIS:
            return Broken(entry.seq, "bad_genesis", "the first entry does not start the chain")
        if entry.prev_hash != expected_prev:
            return Broken(
                entry.seq,
                "relinked",
                f"does not follow entry {expected_seq - 1}: that entry was changed and re-hashed, "
                "or this one was moved or forged",
            )
        previous = entry
    if head is not None:
        last = Head(0, GENESIS) if previous is None else Head(previous.seq, previous.hash)
        if last != head:
            if last.seq < head.seq:
                missing = (
                    f"entry {head.seq}"
                    if last.seq + 1 == head.seq
                    else f"entries {last.seq + 1} to {head.seq}"
                )
                return Broken(last.seq + 1, "truncated", f"{missing} missing at the end (cut off)")
            return Broken(last.seq, "truncated", f"the chain does not end at entry {head.seq}")
    return None

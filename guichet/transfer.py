"""Chunked binary transfers over the call's data channel: pure code, no I/O.

A PDF for the booth's printer or a scanned page for the agent is too big for one
data-channel message, so it travels as ``transfer_start`` (size, chunk count,
sha256), ``transfer_chunk`` messages of at most ``TRANSFER_CHUNK_BYTES`` raw bytes
(base64), then ``transfer_end``.  :func:`transfer_messages` builds that sequence;
:class:`TransferAssembler` rebuilds the bytes on the other side.

The assembler never raises on bad input: every message gets back ``None`` (fine,
keep going), a :class:`CompletedTransfer` (bytes whose sha256 matched) or a
:class:`TransferFailure` (the transfer is dropped; the caller tells the sender with
``transfer_abort``).  Chunks may come in any index order; ``transfer_end`` means the
sender sent every chunk (the channel is reliable and ordered), so a chunk still
missing then is an error, not a reason to wait.

Privacy: payloads are citizens' documents.  They stay in memory only (never a
file), in one preallocated ``bytearray`` per transfer, and :meth:`release` /
:meth:`wipe` overwrite them with zeros before dropping them.  Memory is bounded
by ``max_bytes × max_concurrent``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

from guichet import wire
from guichet.wire import TransferErrorCode

logger = logging.getLogger(__name__)

CHUNK_BYTES = wire.TRANSFER_CHUNK_BYTES


def sha256_hex(data: bytes | bytearray | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


def chunk_count(size: int, chunk_bytes: int = CHUNK_BYTES) -> int:
    return math.ceil(size / chunk_bytes)


def transfer_messages(
    transfer_id: str,
    data: bytes | bytearray,
    *,
    mime: str,
    name: str = "",
    chunk_bytes: int = CHUNK_BYTES,
) -> Iterator[wire.TransferStart | wire.TransferChunk | wire.TransferEnd]:
    """The messages that carry ``data``: start, every chunk in order, end.

    A generator, so a sender can pace itself between chunks (data-channel buffer).
    Raises ``ValueError`` for an empty payload or a chunk size over the wire limit.
    """
    if not data:
        raise ValueError("nothing to transfer")
    if not 1 <= chunk_bytes <= wire.TRANSFER_CHUNK_BYTES:
        raise ValueError(f"chunk size must be 1..{wire.TRANSFER_CHUNK_BYTES}")
    view = memoryview(data)
    chunks = chunk_count(len(data), chunk_bytes)
    yield wire.TransferStart(
        transfer_id=transfer_id,
        name=name,
        mime=mime,
        size=len(data),
        sha256=sha256_hex(view),
        chunks=chunks,
    )
    for index in range(chunks):
        piece = view[index * chunk_bytes : (index + 1) * chunk_bytes]
        yield wire.TransferChunk(
            transfer_id=transfer_id, index=index, data=base64.b64encode(piece).decode("ascii")
        )
    yield wire.TransferEnd(transfer_id=transfer_id)


@dataclass
class CompletedTransfer:
    """A transfer whose bytes arrived whole and matched their sha256.

    ``data`` is the assembler's own buffer: it stays valid until
    :meth:`TransferAssembler.release` or :meth:`TransferAssembler.wipe` zeroes it.
    """

    transfer_id: str
    name: str
    mime: str
    sha256: str
    data: bytearray = field(repr=False)


@dataclass(frozen=True)
class TransferFailure:
    """A transfer that was dropped, and why (to send back as ``transfer_abort``)."""

    transfer_id: str
    code: TransferErrorCode
    reason: str

    def to_abort(self) -> wire.TransferAbort:
        return wire.TransferAbort(
            transfer_id=self.transfer_id, code=self.code, reason=self.reason[:300] or "refusé"
        )


@dataclass
class _Incoming:
    start: wire.TransferStart
    buffer: bytearray = field(repr=False)
    received: bytearray = field(repr=False)
    """One flag byte per chunk (a bitmap would save little: ≤ 1280 chunks)."""
    count: int = 0


def _zero(buffer: bytearray) -> None:
    buffer[:] = bytes(len(buffer))


class TransferAssembler:
    """Receiver side: rebuilds transfers from wire messages, within limits.

    ``max_bytes`` bounds one transfer, ``max_concurrent`` the transfers held at once
    (being received, or completed and not yet released).
    """

    def __init__(
        self,
        *,
        max_bytes: int = wire.MAX_TRANSFER_BYTES,
        max_concurrent: int = wire.MAX_CONCURRENT_TRANSFERS,
        chunk_bytes: int = CHUNK_BYTES,
    ) -> None:
        self.max_bytes = max_bytes
        self.max_concurrent = max_concurrent
        self.chunk_bytes = chunk_bytes
        self._incoming: dict[str, _Incoming] = {}
        self._completed: dict[str, CompletedTransfer] = {}

    # -- queries -------------------------------------------------------------

    @property
    def held(self) -> int:
        """Transfers held now (in progress + completed unreleased)."""
        return len(self._incoming) + len(self._completed)

    @property
    def held_bytes(self) -> int:
        return sum(len(t.buffer) for t in self._incoming.values()) + sum(
            len(c.data) for c in self._completed.values()
        )

    def completed(self, transfer_id: str) -> CompletedTransfer | None:
        return self._completed.get(transfer_id)

    def in_progress(self, transfer_id: str) -> bool:
        return transfer_id in self._incoming

    # -- feeding -------------------------------------------------------------

    def feed(
        self, msg: wire.TransferStart | wire.TransferChunk | wire.TransferEnd | wire.TransferAbort
    ) -> CompletedTransfer | TransferFailure | None:
        """Take one transfer message; never raises for bad input (see module doc)."""
        try:
            if isinstance(msg, wire.TransferStart):
                return self._start(msg)
            if isinstance(msg, wire.TransferChunk):
                return self._chunk(msg)
            if isinstance(msg, wire.TransferEnd):
                return self._end(msg)
            return self._abort(msg)
        except Exception:  # a bug here must cost one transfer, never the call
            logger.exception("transfer %s: unexpected error", msg.transfer_id)
            self._drop(msg.transfer_id)
            return TransferFailure(msg.transfer_id, TransferErrorCode.ABORTED, "erreur interne")

    def _fail(self, transfer_id: str, code: TransferErrorCode, reason: str) -> TransferFailure:
        self._drop(transfer_id)
        logger.warning("transfer %s refused: %s (%s)", transfer_id, reason, code.value)
        return TransferFailure(transfer_id, code, reason)

    def _start(self, msg: wire.TransferStart) -> TransferFailure | None:
        tid = msg.transfer_id
        if tid in self._incoming or tid in self._completed:
            # Do not drop the existing one: the duplicate start is the bad message.
            logger.warning("transfer %s: started twice", tid)
            return TransferFailure(
                tid, TransferErrorCode.DUPLICATE_TRANSFER, "ce transfert a déjà commencé"
            )
        if msg.size > self.max_bytes:
            return TransferFailure(
                tid,
                TransferErrorCode.TOO_LARGE,
                f"fichier trop volumineux ({_mib(msg.size)} ; maximum {_mib(self.max_bytes)})",
            )
        if msg.chunks != chunk_count(msg.size, self.chunk_bytes):
            return TransferFailure(
                tid,
                TransferErrorCode.BAD_START,
                f"{msg.chunks} morceaux annoncés pour {msg.size} octets",
            )
        if self.held >= self.max_concurrent:
            return TransferFailure(
                tid,
                TransferErrorCode.TOO_MANY,
                f"trop de transferts en même temps (maximum {self.max_concurrent})",
            )
        self._incoming[tid] = _Incoming(
            start=msg, buffer=bytearray(msg.size), received=bytearray(msg.chunks)
        )
        return None

    def _chunk(self, msg: wire.TransferChunk) -> TransferFailure | None:
        tid = msg.transfer_id
        incoming = self._incoming.get(tid)
        if incoming is None:
            return TransferFailure(tid, TransferErrorCode.UNKNOWN_TRANSFER, "transfert inconnu")
        start = incoming.start
        if msg.index >= start.chunks:
            return self._fail(tid, TransferErrorCode.BAD_CHUNK, f"morceau {msg.index} hors limites")
        if incoming.received[msg.index]:
            return self._fail(
                tid, TransferErrorCode.DUPLICATE_CHUNK, f"morceau {msg.index} reçu deux fois"
            )
        try:
            piece = base64.b64decode(msg.data, validate=True)
        except (binascii.Error, ValueError):
            return self._fail(tid, TransferErrorCode.BAD_CHUNK, f"morceau {msg.index} illisible")
        offset = msg.index * self.chunk_bytes
        expected = min(self.chunk_bytes, start.size - offset)
        if len(piece) != expected:
            return self._fail(
                tid,
                TransferErrorCode.BAD_CHUNK,
                f"morceau {msg.index} de {len(piece)} octets au lieu de {expected}",
            )
        incoming.buffer[offset : offset + expected] = piece
        incoming.received[msg.index] = 1
        incoming.count += 1
        return None

    def _end(self, msg: wire.TransferEnd) -> CompletedTransfer | TransferFailure:
        tid = msg.transfer_id
        incoming = self._incoming.get(tid)
        if incoming is None:
            return TransferFailure(tid, TransferErrorCode.UNKNOWN_TRANSFER, "transfert inconnu")
        start = incoming.start
        if incoming.count != start.chunks:
            missing = start.chunks - incoming.count
            return self._fail(
                tid, TransferErrorCode.MISSING_CHUNKS, f"{missing} morceau(x) manquant(s)"
            )
        if sha256_hex(incoming.buffer) != start.sha256:
            return self._fail(
                tid, TransferErrorCode.CHECKSUM, "fichier altéré (empreinte sha256 différente)"
            )
        del self._incoming[tid]
        done = CompletedTransfer(
            transfer_id=tid,
            name=start.name,
            mime=start.mime,
            sha256=start.sha256,
            data=incoming.buffer,
        )
        self._completed[tid] = done
        return done

    def _abort(self, msg: wire.TransferAbort) -> TransferFailure | None:
        tid = msg.transfer_id
        if tid not in self._incoming and tid not in self._completed:
            return None  # nothing to forget: an abort is never worth an error back
        self._drop(tid)
        logger.info("transfer %s aborted by the sender: %s", tid, msg.reason)
        return None

    # -- releasing -----------------------------------------------------------

    def _drop(self, transfer_id: str) -> None:
        incoming = self._incoming.pop(transfer_id, None)
        if incoming is not None:
            _zero(incoming.buffer)
        done = self._completed.pop(transfer_id, None)
        if done is not None:
            _zero(done.data)

    def release(self, transfer_id: str) -> None:
        """Zero and forget one transfer (completed or not); unknown ids are ignored."""
        self._drop(transfer_id)

    def wipe(self) -> None:
        """Zero and forget everything: the end of a citizen's session."""
        for tid in list(self._incoming) + list(self._completed):
            self._drop(tid)


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} Mio".replace(".", ",")

"""The card's side of vsmartcard's vpcd protocol — pure, no I/O.

vpcd is a pcscd reader driver that listens on TCP; a virtual card connects to
it (connecting *is* inserting the card, disconnecting is pulling it out). Every
message in both directions is a frame: a 2-byte big-endian length, then that
many bytes. From vpcd to the card, a 1-byte payload is a control (power off,
power on, reset, "send your ATR"); anything longer is a command APDU. The card
answers the ATR request with its ATR and every APDU with a response APDU;
controls other than ATR get no answer.

:class:`FrameDecoder` turns whatever arrives on the socket, in any chunking,
into messages. It never raises: empty frames, unknown controls, absurdly long
frames and a stream that ends mid-frame are counted and logged, and decoding
goes on with the next frame. :class:`CardState` answers those messages like a
contactless card behind a PC/SC reader does for ``GET DATA`` (UID).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import IntEnum

log = logging.getLogger(__name__)

LENGTH_BYTES = 2
MAX_FRAME_PAYLOAD = 0xFFFF
"""What a 2-byte length can say."""
MAX_APDU_BYTES = 4096
"""Longer commands are skipped unread: no card of ours takes them, and a flood
of maximum-length frames must not be buffered."""

GET_UID_HEADER = bytes.fromhex("FFCA0000")
"""PC/SC part 3 ``GET DATA`` (P1 = 0: the card's UID), then Le."""
SW_OK = bytes.fromhex("9000")
SW_WRONG_LENGTH = bytes.fromhex("6700")
SW_INS_NOT_SUPPORTED = bytes.fromhex("6D00")


class Control(IntEnum):
    """1-byte messages from vpcd."""

    OFF = 0
    ON = 1
    RESET = 2
    ATR = 4


@dataclass(frozen=True)
class ControlMessage:
    """vpcd powers the card off/on, resets it, or asks for its ATR."""

    control: Control


@dataclass(frozen=True)
class Apdu:
    """A command APDU for the card."""

    data: bytes


Message = ControlMessage | Apdu


def encode_frame(payload: bytes) -> bytes:
    """One frame: 2-byte big-endian length + payload; ValueError if too long."""
    if len(payload) > MAX_FRAME_PAYLOAD:
        raise ValueError(f"a vpcd frame holds at most {MAX_FRAME_PAYLOAD} bytes")
    return len(payload).to_bytes(LENGTH_BYTES, "big") + payload


def encode_control(control: Control) -> bytes:
    """The frame vpcd sends for a control (used by tests that play vpcd)."""
    return encode_frame(bytes([control]))


@dataclass
class DecoderCounters:
    """What went by that was not a usable message."""

    frames: int = 0
    empty_frames: int = 0
    unknown_controls: int = 0
    oversized_frames: int = 0
    truncated_frames: int = 0
    skipped_bytes: int = 0


@dataclass
class FrameDecoder:
    """Incremental vpcd frame decoder: ``feed(bytes) -> messages``; never raises."""

    max_apdu_bytes: int = MAX_APDU_BYTES
    counters: DecoderCounters = field(default_factory=DecoderCounters)
    _buffer: bytearray = field(default_factory=bytearray)
    _skip: int = 0

    def feed(self, data: bytes) -> list[Message]:
        """Consume ``data``; return the messages it completed, in order."""
        messages: list[Message] = []
        view = memoryview(data)
        if self._skip:
            skipped = min(self._skip, len(view))
            self._skip -= skipped
            self.counters.skipped_bytes += skipped
            view = view[skipped:]
        self._buffer += view
        buf = self._buffer
        pos = 0
        while len(buf) - pos >= LENGTH_BYTES:
            length = int.from_bytes(buf[pos : pos + LENGTH_BYTES], "big")
            if length > self.max_apdu_bytes:
                # Skip the payload without keeping it: it may still be arriving.
                self.counters.frames += 1
                self.counters.oversized_frames += 1
                log.warning("vpcd: %d-byte frame skipped (over %d)", length, self.max_apdu_bytes)
                available = len(buf) - pos - LENGTH_BYTES
                taken = min(length, available)
                self.counters.skipped_bytes += LENGTH_BYTES + taken
                self._skip = length - taken
                pos += LENGTH_BYTES + taken
                continue
            if len(buf) - pos - LENGTH_BYTES < length:
                break  # wait for the rest of the frame
            payload = bytes(buf[pos + LENGTH_BYTES : pos + LENGTH_BYTES + length])
            pos += LENGTH_BYTES + length
            self.counters.frames += 1
            message = self._message(payload)
            if message is not None:
                messages.append(message)
        del buf[:pos]
        return messages

    @property
    def pending_bytes(self) -> int:
        """Bytes kept while waiting for the rest of a frame."""
        return len(self._buffer)

    def close(self) -> None:
        """End of stream: a frame still incomplete is counted as truncated."""
        if self._buffer or self._skip:
            self.counters.truncated_frames += 1
            self.counters.skipped_bytes += len(self._buffer)
            log.warning("vpcd: stream ended inside a frame (%d bytes kept)", len(self._buffer))
        self._buffer.clear()
        self._skip = 0

    def _message(self, payload: bytes) -> Message | None:
        if not payload:
            self.counters.empty_frames += 1
            log.warning("vpcd: empty frame ignored")
            return None
        if len(payload) == 1:
            try:
                return ControlMessage(Control(payload[0]))
            except ValueError:
                self.counters.unknown_controls += 1
                log.warning("vpcd: unknown control byte 0x%02X ignored", payload[0])
                return None
        return Apdu(payload)


@dataclass
class CardState:
    """A card answering vpcd: its ATR, its UID (empty: a contact card has none)."""

    atr: bytes
    uid: bytes = b""
    powered: bool = False
    apdus: int = 0

    def answer(self, message: Message) -> bytes | None:
        """The payload to send back (to frame with :func:`encode_frame`), or None."""
        if isinstance(message, ControlMessage):
            if message.control is Control.ATR:
                return self.atr
            self.powered = message.control is not Control.OFF
            return None
        self.apdus += 1
        return answer_apdu(message.data, self.uid)


def answer_apdu(apdu: bytes, uid: bytes) -> bytes:
    """Response APDU to a command: ``GET DATA`` UID, else INS not supported."""
    if len(apdu) < 4:
        return SW_WRONG_LENGTH
    if apdu[:4] == GET_UID_HEADER and uid:
        if len(apdu) == 4:
            return uid + SW_OK  # case 1 sent by some tools: no Le, answer all
        if len(apdu) == 5:
            le = apdu[4]
            if le in (0, len(uid)):
                return uid + SW_OK
            return bytes([0x6C, len(uid)])  # wrong Le: here is the right one
        return SW_WRONG_LENGTH
    return SW_INS_NOT_SUPPORTED

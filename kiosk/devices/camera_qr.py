"""QR codes read from the booth camera: convocation codes without a barcode reader.

:func:`decode_qr` is pure: one frame in (grayscale/BGR numpy array or
``av.VideoFrame``), the texts of the QR codes found out, never an exception.

:class:`CameraQrReader` reads a camera relay track (its own
``MediaSources.subscribe_video()`` subscription, so the call and the preview see
every frame too), decodes every ``every_nth_frame``-th frame in a worker thread,
at most one at a time (frames arriving while a decode runs are skipped, so a
slow decode never delays the reader and never the call), and calls ``on_code``
once per distinct code: a code is delivered again only after it has been out of
sight for ``dedupe_s`` seconds. Codes follow the serial reader's rules: printable
UTF-8, at most :data:`~kiosk.devices.barcode_protocol.MAX_CODE_LENGTH` characters.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import av
import numpy as np
import numpy.typing as npt
import zxingcpp
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from kiosk.devices.barcode_protocol import MAX_CODE_LENGTH

log = logging.getLogger(__name__)

_QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
"""Searching only QR codes keeps a 640x480 frame at a few milliseconds."""

_Y_PLANE_FORMATS = frozenset({"yuv420p", "yuvj420p", "nv12", "nv21", "gray", "gray8"})
"""Frame formats whose first plane is already the 8-bit luma we decode."""


def _gray_of_frame(frame: Any) -> npt.NDArray[np.uint8]:
    """The 8-bit luma of an ``av.VideoFrame`` (the Y plane without copy when possible)."""
    width, height = int(frame.width), int(frame.height)
    if frame.format.name in _Y_PLANE_FORMATS:
        plane = frame.planes[0]
        rows = np.frombuffer(memoryview(plane), dtype=np.uint8)
        rows = rows[: plane.line_size * height].reshape(height, plane.line_size)
        return np.ascontiguousarray(rows[:, :width])
    gray = frame.to_ndarray(format="gray")
    return np.ascontiguousarray(gray, dtype=np.uint8)


def _image_of(frame: object) -> npt.NDArray[np.uint8] | None:
    """A grayscale or BGR uint8 image zxing-cpp accepts, or None for garbage."""
    if isinstance(frame, av.VideoFrame):
        return _gray_of_frame(frame)
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
        return None
    image: npt.NDArray[np.uint8] = frame
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 3 and image.shape[2] == 4:
        image = image[:, :, :3]
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        return None
    if image.shape[0] < 21 or image.shape[1] < 21:
        return None  # smaller than the smallest QR code at one pixel a module
    return np.ascontiguousarray(image)


def decode_qr(frame: object) -> list[str]:
    """Texts of the QR codes in ``frame``, in reading order, without duplicates.

    ``frame`` is a numpy ``uint8`` array (grayscale HxW, HxWx1, BGR HxWx3 or
    BGRA HxWx4) or an ``av.VideoFrame``. Anything else, an unreadable image or a
    code that is not a printable text of at most ``MAX_CODE_LENGTH`` characters
    gives no text; this function never raises.
    """
    try:
        image = _image_of(frame)
        if image is None:
            return []
        found = zxingcpp.read_barcodes(image, formats=_QR_ONLY)
    except Exception:  # garbage frames must never break the camera reader
        log.debug("camera_qr: frame not decodable", exc_info=True)
        return []
    texts: list[str] = []
    for barcode in found:
        text = barcode.text
        if (
            barcode.valid
            and text
            and text.isprintable()
            and len(text) <= MAX_CODE_LENGTH
            and text not in texts
        ):
            texts.append(text)
    return texts


CodeCallback = Callable[[str], None]


class CameraQrReader:
    """Reads QR codes from a camera track until stopped or the track ends."""

    kind = "camera_qr"

    def __init__(
        self,
        track: MediaStreamTrack,
        *,
        on_code: CodeCallback,
        every_nth_frame: int = 3,
        dedupe_s: float = 3.0,
        stop_track: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``track`` is a reader's own relay subscription; ``stop()`` stops it
        unless ``stop_track`` is False. ``clock`` is for tests."""
        if every_nth_frame < 1:
            raise ValueError("every_nth_frame must be at least 1")
        if dedupe_s < 0:
            raise ValueError("dedupe_s must not be negative")
        self._track = track
        self._on_code = on_code
        self.every_nth_frame = every_nth_frame
        self.dedupe_s = dedupe_s
        self._stop_track = stop_track
        self._clock = clock
        self._last_seen: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._decoding: asyncio.Task[None] | None = None
        self.frames = 0
        """Frames received from the track."""
        self.decoded = 0
        """Frames handed to the decoder."""
        self.skipped_busy = 0
        """Frames due for decoding but skipped because a decode was still running."""
        self.codes = 0
        """Codes delivered to ``on_code``."""

    @property
    def running(self) -> bool:
        """True while the reader is reading frames."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start reading frames (idempotent)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._read_loop(), name="camera_qr")

    async def wait(self) -> None:
        """Until the track ends or the reader is stopped, and the last decode is done."""
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._task)

    async def stop(self) -> None:
        """Stop reading; a decode still running in its thread is abandoned."""
        for task in (self._task, self._decoding):
            if task is not None and not task.done():
                task.cancel()
        for task in (self._task, self._decoding):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._stop_track:
            self._track.stop()

    async def _read_loop(self) -> None:
        try:
            while True:
                try:
                    frame = await self._track.recv()
                except MediaStreamError:
                    log.info("camera_qr: camera track ended")
                    break
                self.frames += 1
                if self.frames % self.every_nth_frame:
                    continue
                if self._decoding is not None and not self._decoding.done():
                    self.skipped_busy += 1
                    continue
                self.decoded += 1
                self._decoding = asyncio.get_running_loop().create_task(
                    self._decode(frame), name="camera_qr_decode"
                )
            if self._decoding is not None:
                await self._decoding
        finally:
            if self._decoding is not None and not self._decoding.done():
                self._decoding.cancel()

    async def _decode(self, frame: object) -> None:
        texts = await asyncio.to_thread(decode_qr, frame)
        now = self._clock()
        for text in texts:
            last = self._last_seen.get(text)
            self._last_seen[text] = now
            if last is not None and now - last < self.dedupe_s:
                continue
            self.codes += 1
            try:
                self._on_code(text)
            except Exception:
                log.exception("camera_qr: on_code failed")
        self._forget_older_than(now - self.dedupe_s)

    def _forget_older_than(self, limit: float) -> None:
        for text in [t for t, seen in self._last_seen.items() if seen < limit]:
            del self._last_seen[text]

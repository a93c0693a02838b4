"""A document photographed by the booth camera: the scan when the booth has no scanner.

The pure part turns camera frames into a page: :func:`sharpness` scores a frame
(the sharpest of a few is kept, so a hand that moved spoils nothing) and
:func:`frame_to_jpeg` encodes one, in colour or gray, with Pillow.
:func:`capture_still` reads a camera relay track (its own subscription, so the
call's outgoing video is not disturbed) after a countdown and returns the best
frame encoded.

A camera has no real resolution on paper: :func:`estimated_dpi` reports the
resolution the picture would have if the page filled the frame's height. It is
an estimate and documented as such (the wire's ``ScanOutcome.dpi`` must be at
least 1, so 0 cannot be sent).
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from PIL import Image

from kiosk.devices.base import DeviceError
from kiosk.devices.scanner_options import A4_HEIGHT_MM, MM_PER_INCH

log = logging.getLogger(__name__)

JPEG_QUALITY = 88
"""A document photo stays readable; a 640x480 frame is a few tens of kB."""
BEST_OF_FRAMES = 5
"""Frames read after the countdown; the sharpest is kept."""
FRAME_TIMEOUT_S = 5.0
"""Longest wait for one camera frame before the camera counts as broken."""


@dataclass(frozen=True)
class StillImage:
    """One encoded photo of the document, in memory only."""

    data: bytes
    media_type: str
    """Always ``image/jpeg``."""
    width: int
    height: int
    dpi: int
    """An estimate (see :func:`estimated_dpi`), not a measured resolution."""


def estimated_dpi(height_px: int) -> int:
    """Resolution of the picture if an A4 page filled the frame's height (at least 1)."""
    return max(1, round(height_px / (A4_HEIGHT_MM / MM_PER_INCH)))


def _luma(frame: av.VideoFrame) -> np.ndarray:
    return np.asarray(frame.to_ndarray(format="gray"), dtype=np.float32)


def sharpness(frame: av.VideoFrame) -> float:
    """Variance of the Laplacian of the luma: higher is sharper (0.0 for a flat frame)."""
    y = _luma(frame)
    if y.shape[0] < 3 or y.shape[1] < 3:
        return 0.0
    lap = y[1:-1, :-2] + y[1:-1, 2:] + y[:-2, 1:-1] + y[2:, 1:-1] - 4.0 * y[1:-1, 1:-1]
    return float(lap.var())


def frame_to_jpeg(frame: av.VideoFrame, *, colour: bool = True) -> StillImage:
    """Encode one camera frame as a JPEG, in colour or in gray.

    Raises :class:`DeviceError` ("failed") when the frame cannot be converted.
    """
    if not isinstance(frame, av.VideoFrame):
        raise DeviceError("failed", "La caméra a donné une image illisible.")
    try:
        pixels = frame.to_ndarray(format="rgb24" if colour else "gray")
        image = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8))
        dpi = estimated_dpi(image.height)
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=JPEG_QUALITY, dpi=(dpi, dpi))
    except (ValueError, OSError, av.FFmpegError) as exc:
        raise DeviceError(
            "failed", f"L'image de la caméra n'a pas pu être encodée ({exc})."
        ) from exc
    return StillImage(
        data=buffer.getvalue(),
        media_type="image/jpeg",
        width=image.width,
        height=image.height,
        dpi=dpi,
    )


def best_frame(frames: list[av.VideoFrame]) -> av.VideoFrame:
    """The sharpest of ``frames`` (the first among equals); ``frames`` is not empty."""
    return max(frames, key=sharpness)


async def _next_frame(track: MediaStreamTrack, timeout: float) -> av.VideoFrame:
    try:
        async with asyncio.timeout(timeout):
            frame = await track.recv()
    except TimeoutError:
        raise DeviceError("unavailable", "La caméra ne donne plus d'image.") from None
    except MediaStreamError:
        raise DeviceError("unavailable", "La caméra s'est arrêtée.") from None
    if not isinstance(frame, av.VideoFrame):
        raise DeviceError("failed", "La caméra a donné une image illisible.")
    return frame


CountdownStep = Callable[[int], None]


async def capture_still(
    track: MediaStreamTrack,
    *,
    colour: bool = True,
    countdown: int = 3,
    step_s: float = 1.0,
    on_step: CountdownStep | None = None,
    best_of: int = BEST_OF_FRAMES,
    frame_timeout_s: float = FRAME_TIMEOUT_S,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> StillImage:
    """Count down (``on_step(n)`` for n = countdown … 1, ``step_s`` apart, then
    ``on_step(0)`` as the photo is taken), keep the sharpest of ``best_of`` frames
    of ``track`` and encode it.

    ``track`` is the caller's own relay subscription and is stopped here.
    Raises :class:`DeviceError` when the camera stops or gives no frame.
    """
    try:
        # One frame before counting: a dead camera fails now, not after the countdown.
        await _next_frame(track, frame_timeout_s)
        for n in range(countdown, 0, -1):
            if on_step is not None:
                on_step(n)
            await sleep(step_s)
        if on_step is not None:
            on_step(0)
        frames = [await _next_frame(track, frame_timeout_s) for _ in range(max(1, best_of))]
        chosen = await asyncio.to_thread(best_frame, frames)
        return await asyncio.to_thread(frame_to_jpeg, chosen, colour=colour)
    finally:
        track.stop()

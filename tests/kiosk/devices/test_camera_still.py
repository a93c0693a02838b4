"""A document photographed by the booth camera: real av frames, Pillow, a real aiortc track."""

from __future__ import annotations

import asyncio
import io

import av
import numpy as np
import numpy.typing as npt
import pytest
from aiortc import VideoStreamTrack
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError
from PIL import Image

from kiosk.call.media import FakeCamera
from kiosk.devices.base import DeviceError
from kiosk.devices.camera_still import (
    best_frame,
    capture_still,
    estimated_dpi,
    frame_to_jpeg,
    sharpness,
)

WIDTH, HEIGHT = 640, 480


def document(seed: int = 0) -> npt.NDArray[np.uint8]:
    """A page of 'text': dark strokes on white, in RGB."""
    rng = np.random.default_rng(seed)
    page = np.full((HEIGHT, WIDTH, 3), 240, dtype=np.uint8)
    for top in range(40, HEIGHT - 40, 24):
        for left in range(40, WIDTH - 60, 14):
            if rng.random() < 0.8:
                page[top : top + 12, left : left + 8] = (20, 20, 90)
    return page


def blurred(rgb: npt.NDArray[np.uint8], radius: int = 4) -> npt.NDArray[np.uint8]:
    """A box blur, as a moving hand gives."""
    out = rgb.astype(np.float32)
    for axis in (0, 1):
        out = sum(np.roll(out, k, axis=axis) for k in range(-radius, radius + 1)) / (2 * radius + 1)
    return np.clip(out, 0, 255).astype(np.uint8)


def yuv_frame(rgb: npt.NDArray[np.uint8]) -> av.VideoFrame:
    """What a webcam track delivers: yuv420p."""
    return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")


def open_jpeg(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_colour_frame_becomes_a_colour_jpeg_with_an_estimated_dpi() -> None:
    still = frame_to_jpeg(yuv_frame(document()), colour=True)
    image = open_jpeg(still.data)
    assert image.format == "JPEG"
    assert still.media_type == "image/jpeg"
    assert image.mode == "RGB"
    assert image.size == (still.width, still.height) == (WIDTH, HEIGHT)
    # 480 px over the height of an A4 page (11.69 in): about 41 px a inch.
    assert still.dpi == estimated_dpi(HEIGHT) == 41
    assert round(image.info["dpi"][0]) == still.dpi
    # The strokes survive the encoding: the page is not blank.
    pixels = np.asarray(image.convert("L"))
    assert pixels.min() < 80 and pixels.max() > 200


def test_gray_request_gives_a_single_channel_jpeg() -> None:
    still = frame_to_jpeg(yuv_frame(document()), colour=False)
    image = open_jpeg(still.data)
    assert image.mode == "L"
    assert image.size == (WIDTH, HEIGHT)


def test_estimated_dpi_is_never_below_one() -> None:
    assert estimated_dpi(0) == 1
    assert estimated_dpi(3508) == 300


def test_garbage_is_a_clear_error() -> None:
    with pytest.raises(DeviceError) as caught:
        frame_to_jpeg("not a frame", colour=True)  # type: ignore[arg-type]
    assert caught.value.code == "failed"
    assert "illisible" in caught.value.reason


def test_the_sharpest_frame_is_kept() -> None:
    sharp = yuv_frame(document(1))
    soft = yuv_frame(blurred(document(1)))
    flat = yuv_frame(np.full((HEIGHT, WIDTH, 3), 128, dtype=np.uint8))
    assert sharpness(sharp) > sharpness(soft) > sharpness(flat)
    assert sharpness(flat) == pytest.approx(0.0, abs=1e-3)
    assert best_frame([soft, flat, sharp, soft]) is sharp


class HandCamera(VideoStreamTrack):
    """A camera that sees a moving (blurred) page, then the page held still."""

    def __init__(self, blurred_frames: int) -> None:
        super().__init__()
        self._soft = yuv_frame(blurred(document(2)))
        self._sharp = yuv_frame(document(2))
        self._blurred_frames = blurred_frames
        self.sent = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        source = self._soft if self.sent < self._blurred_frames else self._sharp
        frame = av.VideoFrame.from_ndarray(source.to_ndarray(format="yuv420p"), format="yuv420p")
        frame.pts, frame.time_base = pts, time_base
        self.sent += 1
        return frame


async def test_capture_counts_down_then_keeps_the_sharp_frame() -> None:
    camera = HandCamera(blurred_frames=3)
    relay = MediaRelay()
    call_video = relay.subscribe(camera, buffered=False)
    mine = relay.subscribe(camera, buffered=False)
    steps: list[int] = []

    async def call_reader() -> int:
        got = 0
        while True:
            try:
                await call_video.recv()
            except MediaStreamError:
                return got
            got += 1

    reading = asyncio.create_task(call_reader())
    still = await asyncio.wait_for(
        capture_still(
            mine, colour=False, countdown=3, step_s=0.02, on_step=steps.append, best_of=4
        ),
        5.0,
    )
    assert steps == [3, 2, 1, 0]
    image = open_jpeg(still.data)
    assert image.mode == "L"
    # The sharp page was kept, not the blurred one the hand gave first.
    kept = yuv_frame(np.asarray(image.convert("RGB")))
    assert sharpness(kept) > sharpness(yuv_frame(blurred(document(2)))) * 2
    assert mine.readyState == "ended"
    # The call's own reader kept receiving frames all along.
    camera.stop()
    assert await asyncio.wait_for(reading, 2.0) >= 5


async def test_a_stopped_camera_is_a_clear_error_not_a_hang() -> None:
    camera = FakeCamera()
    camera.stop()
    with pytest.raises(DeviceError) as caught:
        await asyncio.wait_for(capture_still(camera, step_s=0.01), 5.0)
    assert caught.value.code == "unavailable"
    assert "caméra" in caught.value.reason


async def test_a_silent_camera_times_out_with_a_reason() -> None:
    class Frozen(VideoStreamTrack):
        async def recv(self) -> av.VideoFrame:
            await asyncio.sleep(3600)
            raise AssertionError("unreachable")

    with pytest.raises(DeviceError) as caught:
        await capture_still(Frozen(), step_s=0.01, frame_timeout_s=0.1)
    assert caught.value.code == "unavailable"

"""QR codes from camera frames: real QR images, real av frames, a real aiortc track."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence

import av
import numpy as np
import numpy.typing as npt
import pytest
import qrcode  # type: ignore[import-untyped]
import zxingcpp
from aiortc import VideoStreamTrack
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError

from kiosk.devices import camera_qr
from kiosk.devices.camera_qr import CameraQrReader, decode_qr

WIDTH, HEIGHT = 640, 480
WAIT_S = 5.0

Gray = npt.NDArray[np.uint8]


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def qr_modules(text: str) -> npt.NDArray[np.bool_]:
    """The code's modules (True = dark), quiet zone of 4 modules included."""
    qr = qrcode.QRCode(border=4, error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(text)
    qr.make(fit=True)
    return np.array(qr.get_matrix(), dtype=np.bool_)


def scene(
    codes: Sequence[tuple[str, int, int, int]] = (), *, seed: int = 0, noise: float = 12.0
) -> Gray:
    """A noisy 640x480 gray picture with each (text, module_px, left, top) code drawn."""
    rng = _rng(seed)
    image = rng.normal(128.0, 30.0, (HEIGHT, WIDTH))
    for text, module_px, left, top in codes:
        modules = qr_modules(text)
        block = np.kron(modules, np.ones((module_px, module_px), dtype=np.bool_))
        height, width = block.shape
        assert top + height <= HEIGHT and left + width <= WIDTH, "code does not fit"
        image[top : top + height, left : left + width] = np.where(block, 30.0, 225.0)
    image += rng.normal(0.0, noise, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def camera_frame(image: Gray) -> av.VideoFrame:
    """What a webcam track delivers: a yuv420p frame."""
    return av.VideoFrame.from_ndarray(image, format="gray").reformat(format="yuv420p")


def noise_frame(seed: int) -> av.VideoFrame:
    pixels = _rng(seed).integers(0, 256, (HEIGHT, WIDTH), dtype=np.uint8)
    return camera_frame(pixels)


class ScriptedCamera(VideoStreamTrack):
    """A camera showing the given frames in turn (then ends, or loops on the last)."""

    def __init__(self, frames: Sequence[av.VideoFrame], *, loop_last: bool = False) -> None:
        super().__init__()
        self._frames = list(frames)
        self._loop_last = loop_last
        self.sent = 0

    async def recv(self) -> av.VideoFrame:
        if self.sent >= len(self._frames) and not self._loop_last:
            self.stop()
            raise MediaStreamError
        pts, time_base = await self.next_timestamp()
        source = self._frames[min(self.sent, len(self._frames) - 1)]
        frame = av.VideoFrame.from_ndarray(source.to_ndarray(format="yuv420p"), format="yuv420p")
        frame.pts = pts
        frame.time_base = time_base
        self.sent += 1
        return frame


# ---------------------------------------------------------------- decode_qr


@pytest.mark.parametrize(
    ("module_px", "left", "top"),
    [
        (2, 0, 0),  # small, in the corner
        (3, 500, 360),  # small, bottom right
        (4, 200, 100),  # medium, middle
        (8, 100, 20),  # large, fills most of the height
    ],
)
def test_decodes_a_code_of_any_size_anywhere(module_px: int, left: int, top: int) -> None:
    text = "CONV-2026-000123"
    image = scene([(text, module_px, left, top)], seed=module_px)

    assert decode_qr(image) == [text]
    assert decode_qr(camera_frame(image)) == [text]


def test_decodes_other_frame_layouts() -> None:
    text = "RDV:4521-AB"
    image = scene([(text, 4, 150, 120)], seed=7)
    bgr = np.repeat(image[:, :, None], 3, axis=2)

    assert decode_qr(image[:, :, None]) == [text]
    assert decode_qr(bgr) == [text]
    assert decode_qr(av.VideoFrame.from_ndarray(bgr, format="bgr24")) == [text]
    assert decode_qr(av.VideoFrame.from_ndarray(bgr, format="rgb24")) == [text]
    assert decode_qr(camera_frame(image).reformat(format="nv12")) == [text]


def test_decodes_two_codes_in_one_frame() -> None:
    image = scene([("first-code", 3, 10, 10), ("second-code", 3, 400, 250)], seed=3)

    assert sorted(decode_qr(camera_frame(image))) == ["first-code", "second-code"]


def test_unicode_text_survives() -> None:
    text = "Préfecture — rendez-vous n°42"
    assert decode_qr(scene([(text, 4, 100, 100)], seed=4)) == [text]


@pytest.mark.parametrize(
    "garbage",
    [
        None,
        b"\x00" * 100,
        "not an image",
        42,
        np.zeros((0, 0), dtype=np.uint8),
        np.zeros((1, 1), dtype=np.uint8),
        np.zeros((HEIGHT, WIDTH), dtype=np.float32),
        np.zeros((2, 2, 2, 2), dtype=np.uint8),
        np.zeros((HEIGHT, WIDTH, 2), dtype=np.uint8),
        np.zeros((HEIGHT, WIDTH), dtype=np.uint8),
        np.full((HEIGHT, WIDTH), 255, dtype=np.uint8),
        _rng(1).integers(0, 256, (HEIGHT, WIDTH), dtype=np.uint8),
        _rng(2).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)[:, ::2],
    ],
    ids=lambda g: type(g).__name__ + str(getattr(g, "shape", "")),
)
def test_garbage_gives_nothing_and_never_raises(garbage: object) -> None:
    assert decode_qr(garbage) == []


def test_garbage_video_frames_give_nothing() -> None:
    assert decode_qr(noise_frame(5)) == []
    assert decode_qr(camera_frame(scene(seed=6))) == []
    assert decode_qr(av.VideoFrame(64, 48, "yuv420p")) == []


def test_decoder_failure_gives_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object, **_kwargs: object) -> list[object]:
        raise RuntimeError("decoder exploded")

    monkeypatch.setattr(zxingcpp, "read_barcodes", broken)
    assert decode_qr(scene([("x", 4, 0, 0)])) == []


# ---------------------------------------------------------------- CameraQrReader


async def test_reader_delivers_each_code_once_through_a_relay() -> None:
    code_a = camera_frame(scene([("CODE-A", 4, 100, 80)], seed=10))
    code_a_moved = camera_frame(scene([("CODE-A", 3, 300, 200)], seed=11))
    code_b = camera_frame(scene([("CODE-B", 5, 200, 60)], seed=12))
    frames = (
        [noise_frame(1)] * 3
        + [code_a] * 6
        + [noise_frame(2)] * 3
        + [code_a_moved] * 6
        + [code_b] * 6
        + [camera_frame(scene(seed=13))] * 3
    )
    camera = ScriptedCamera(frames)
    relay = MediaRelay()
    seen: list[str] = []
    reader = CameraQrReader(relay.subscribe(camera, buffered=False), on_code=seen.append)

    reader.start()
    await asyncio.wait_for(reader.wait(), WAIT_S)
    await reader.stop()

    assert seen == ["CODE-A", "CODE-B"]
    assert reader.codes == 2
    assert not reader.running


async def test_reader_delivers_again_after_the_code_was_away() -> None:
    code = camera_frame(scene([("AGAIN", 4, 100, 100)], seed=20))
    blank = camera_frame(scene(seed=21))
    camera = ScriptedCamera([code] * 3 + [blank] * 12 + [code] * 3)
    seen: list[str] = []
    reader: CameraQrReader

    def one_second_a_frame() -> float:
        return float(reader.frames)

    reader = CameraQrReader(
        camera, on_code=seen.append, every_nth_frame=1, dedupe_s=3.0, clock=one_second_a_frame
    )
    reader.start()
    await asyncio.wait_for(reader.wait(), WAIT_S)
    await reader.stop()

    assert seen == ["AGAIN", "AGAIN"]


async def test_reader_on_garbage_delivers_nothing_and_keeps_reading() -> None:
    frames = [noise_frame(seed) for seed in range(6)] + [av.VideoFrame(64, 48, "yuv420p")] * 3
    camera = ScriptedCamera(frames)
    seen: list[str] = []
    reader = CameraQrReader(camera, on_code=seen.append, every_nth_frame=1)

    reader.start()
    await asyncio.wait_for(reader.wait(), WAIT_S)
    await reader.stop()

    assert seen == []
    assert reader.frames == len(frames)
    assert reader.decoded >= 1


async def test_reader_decodes_one_frame_at_a_time_and_never_lags(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    running = 0
    most = 0
    lock = threading.Lock()

    def slow_decode(frame: object) -> list[str]:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.15)
        with lock:
            running -= 1
        return ["SLOW"]

    monkeypatch.setattr(camera_qr, "decode_qr", slow_decode)
    frames = [noise_frame(0)] * 24  # 0.8 s at 30 fps
    camera = ScriptedCamera(frames)
    seen: list[str] = []
    reader = CameraQrReader(camera, on_code=seen.append, every_nth_frame=1)

    started = time.monotonic()
    reader.start()
    await asyncio.wait_for(reader.wait(), WAIT_S)
    await reader.stop()

    assert most == 1
    assert reader.frames == len(frames)
    assert reader.skipped_busy > 0
    assert reader.decoded + reader.skipped_busy == len(frames)
    assert time.monotonic() - started < 1.5  # paced by the camera, not by the decoder
    assert seen == ["SLOW"]


async def test_reader_decodes_every_nth_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(camera_qr, "decode_qr", lambda frame: [])
    camera = ScriptedCamera([noise_frame(0)] * 9)
    reader = CameraQrReader(camera, on_code=lambda text: None, every_nth_frame=3)

    reader.start()
    await asyncio.wait_for(reader.wait(), WAIT_S)
    await reader.stop()

    assert reader.frames == 9
    assert reader.decoded == 3


async def test_on_code_failure_does_not_stop_the_reader() -> None:
    code_a = camera_frame(scene([("ONE", 4, 10, 10)], seed=30))
    code_b = camera_frame(scene([("TWO", 4, 300, 200)], seed=31))
    camera = ScriptedCamera([code_a] * 3 + [code_b] * 3)
    seen: list[str] = []

    def on_code(text: str) -> None:
        seen.append(text)
        raise RuntimeError("screen gone")

    reader = CameraQrReader(camera, on_code=on_code, every_nth_frame=1)
    reader.start()
    await asyncio.wait_for(reader.wait(), WAIT_S)
    await reader.stop()

    assert seen == ["ONE", "TWO"]


async def test_stop_while_the_camera_runs() -> None:
    code = camera_frame(scene([("LIVE", 4, 100, 100)], seed=40))
    camera = ScriptedCamera([code], loop_last=True)
    relay = MediaRelay()
    subscription = relay.subscribe(camera, buffered=False)
    got = asyncio.Event()
    reader = CameraQrReader(subscription, on_code=lambda text: got.set())

    reader.start()
    await asyncio.wait_for(got.wait(), WAIT_S)
    assert reader.running
    await asyncio.wait_for(reader.stop(), 1.0)

    assert not reader.running
    assert subscription.readyState == "ended"
    await reader.stop()  # twice is harmless
    camera.stop()


def test_rejects_bad_settings() -> None:
    camera = ScriptedCamera([])
    with pytest.raises(ValueError):
        CameraQrReader(camera, on_code=lambda text: None, every_nth_frame=0)
    with pytest.raises(ValueError):
        CameraQrReader(camera, on_code=lambda text: None, dedupe_s=-1)

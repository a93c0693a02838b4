"""Convocation codes from the booth camera and the barcode reader at once, through the
booth's device handler: real aiortc tracks behind a MediaRelay, the pty barcode
simulator behind a real DeviceManager."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import av
import numpy as np
import numpy.typing as npt
import pytest
import qrcode  # type: ignore[import-untyped]
from aiortc import VideoStreamTrack

from guichet.wire import DeviceKind
from kiosk.call import booth_devices as bd
from kiosk.call.media import FakeMicrophone, MediaSources
from kiosk.devices.base import DeviceError, DeviceState
from kiosk.devices.config import DevicesConfig, Role
from kiosk.devices.manager import DeviceManager
from kiosk.devices.sim.barcode_reader import BarcodeScannerSimulator

WIDTH, HEIGHT = 640, 480
WAIT_S = 10.0


def picture(code: str | None, seed: int = 0) -> av.VideoFrame:
    """A noisy camera picture, with a QR code of ``code`` held up in it."""
    rng = np.random.default_rng(seed)
    image: npt.NDArray[np.float64] = rng.normal(128.0, 30.0, (HEIGHT, WIDTH))
    if code is not None:
        qr = qrcode.QRCode(border=4)
        qr.add_data(code)
        qr.make(fit=True)
        block = np.kron(np.array(qr.get_matrix(), dtype=bool), np.ones((6, 6), dtype=bool))
        h, w = block.shape
        image[60 : 60 + h, 120 : 120 + w] = np.where(block, 30.0, 225.0)
    gray = np.clip(image, 0, 255).astype(np.uint8)
    return av.VideoFrame.from_ndarray(gray, format="gray").reformat(format="yuv420p")


class CitizenCamera(VideoStreamTrack):
    """The booth camera: the citizen, then (once ``show`` is called) their code."""

    def __init__(self) -> None:
        super().__init__()
        self._empty = picture(None)
        self._shown: av.VideoFrame | None = None
        self.sent = 0

    def show(self, code: str) -> None:
        self._shown = picture(code, seed=1)

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        source = self._shown if self._shown is not None else self._empty
        frame = av.VideoFrame.from_ndarray(source.to_ndarray(format="yuv420p"), format="yuv420p")
        frame.pts, frame.time_base = pts, time_base
        self.sent += 1
        return frame


async def yes(_kind: DeviceKind) -> bool:
    return True


@pytest.fixture
async def media() -> AsyncIterator[tuple[MediaSources, CitizenCamera]]:
    camera = CitizenCamera()
    sources = MediaSources(video=camera, audio=FakeMicrophone(), description="test camera")
    yield sources, camera
    sources.close()


async def count_frames(track: object, counter: list[int]) -> None:
    while True:
        await track.recv()  # type: ignore[attr-defined]
        counter[0] += 1


async def test_code_shown_to_the_camera_is_read_and_the_call_video_keeps_flowing(
    media: tuple[MediaSources, CitizenCamera],
) -> None:
    sources, camera = media
    lines: list[str] = []
    handler = bd.BoothDeviceHandler(
        None, yes, on_activity=lines.append, camera=sources.subscribe_video
    )
    outgoing = sources.subscribe_video()  # what the call sends to the agent
    sent = [0]
    call_video = asyncio.create_task(count_frames(outgoing, sent))
    reading = asyncio.create_task(handler.read_code())
    await asyncio.sleep(0.3)
    assert not reading.done()
    before = sent[0]
    camera.show("CONV-2026-0042")
    code = await asyncio.wait_for(reading, WAIT_S)
    assert code.text == "CONV-2026-0042"
    assert lines == [bd.MSG_SHOW_CODE_CAMERA_ONLY, bd.MSG_CODE_READ]
    # The reader's own subscription is stopped; the call's is not and kept every frame.
    readers = [t for t in sources._subscriptions if t is not outgoing]
    assert readers and all(t.readyState == "ended" for t in readers)
    await asyncio.sleep(0.2)
    assert outgoing.readyState == "live"
    assert sent[0] > before
    assert sent[0] >= camera.sent - 2
    call_video.cancel()


@pytest.fixture
async def booth_with_reader() -> AsyncIterator[tuple[DeviceManager, BarcodeScannerSimulator]]:
    scanner = BarcodeScannerSimulator()
    config = DevicesConfig.model_validate({"barcode_reader": {"path": await scanner.start()}})
    manager = DeviceManager(config, hotplug=False)
    await manager.start()
    for _ in range(200):
        if manager.statuses[Role.BARCODE_READER].state is DeviceState.READY:
            break
        await asyncio.sleep(0.02)
    yield manager, scanner
    await manager.stop()
    await scanner.stop()


async def test_reader_and_camera_race_and_the_first_code_wins(
    media: tuple[MediaSources, CitizenCamera],
    booth_with_reader: tuple[DeviceManager, BarcodeScannerSimulator],
) -> None:
    sources, camera = media
    manager, scanner = booth_with_reader
    lines: list[str] = []
    handler = bd.BoothDeviceHandler(
        manager, yes, on_activity=lines.append, camera=sources.subscribe_video
    )

    # The serial reader is first.
    reading = asyncio.create_task(handler.read_code())
    await asyncio.sleep(0.3)
    await scanner.scan("SERIAL-001")
    assert (await asyncio.wait_for(reading, WAIT_S)).text == "SERIAL-001"
    assert lines == [bd.MSG_SHOW_CODE_CAMERA, bd.MSG_CODE_READ]
    assert all(t.readyState == "ended" for t in sources._subscriptions)

    # Then the camera is first; the reader's wait is withdrawn with it.
    reading = asyncio.create_task(handler.read_code())
    await asyncio.sleep(0.3)
    camera.show("QR-002")
    assert (await asyncio.wait_for(reading, WAIT_S)).text == "QR-002"
    assert manager._code_waiters == []
    assert all(t.readyState == "ended" for t in sources._subscriptions)


async def test_cancelled_request_stops_the_camera_reader(
    media: tuple[MediaSources, CitizenCamera],
) -> None:
    sources, _camera = media
    handler = bd.BoothDeviceHandler(None, yes, camera=sources.subscribe_video)
    reading = asyncio.create_task(handler.read_code())
    await asyncio.sleep(0.3)
    assert any(t.readyState == "live" for t in sources._subscriptions)
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading
    assert all(t.readyState == "ended" for t in sources._subscriptions)


async def test_call_media_closing_ends_the_read_with_a_reason(
    media: tuple[MediaSources, CitizenCamera],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bd, "CAMERA_WATCH_S", 0.05)
    sources, _camera = media
    lines: list[str] = []
    handler = bd.BoothDeviceHandler(
        None, yes, on_activity=lines.append, camera=sources.subscribe_video
    )
    reading = asyncio.create_task(handler.read_code())
    await asyncio.sleep(0.2)
    sources.close()
    with pytest.raises(DeviceError) as caught:
        await asyncio.wait_for(reading, WAIT_S)
    assert caught.value.code == "unavailable"
    assert "caméra" in caught.value.reason
    assert lines[-1] == caught.value.reason


async def test_neither_reader_nor_camera_is_a_clear_french_error() -> None:
    lines: list[str] = []
    nothing = bd.BoothDeviceHandler(None, yes, on_activity=lines.append)
    with pytest.raises(DeviceError) as caught:
        await nothing.read_code()
    assert caught.value.code == "not_supported"
    assert caught.value.reason == "ni lecteur de codes ni caméra utilisable sur cette borne"

    manager = DeviceManager(DevicesConfig(), hotplug=False)
    await manager.start()
    try:
        no_reader = bd.BoothDeviceHandler(manager, yes, on_activity=lines.append)
        with pytest.raises(DeviceError) as caught:
            await no_reader.read_code()
        assert caught.value.code == "not_supported"
        assert caught.value.reason == "pas de lecteur de codes sur cette borne"

        def camera_gone() -> VideoStreamTrack:
            raise RuntimeError("media sources are closed")

        broken = bd.BoothDeviceHandler(manager, yes, on_activity=lines.append, camera=camera_gone)
        with pytest.raises(DeviceError) as caught:
            await broken.read_code()
        assert caught.value.reason == "ni lecteur de codes ni caméra utilisable sur cette borne"
        assert lines[-1] == caught.value.reason
    finally:
        await manager.stop()


async def test_no_code_in_time_is_a_timeout(
    media: tuple[MediaSources, CitizenCamera],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bd, "CODE_TIMEOUT_S", 0.4)
    sources, _camera = media
    handler = bd.BoothDeviceHandler(None, yes, camera=sources.subscribe_video)
    with pytest.raises(DeviceError) as caught:
        await asyncio.wait_for(handler.read_code(), WAIT_S)
    assert caught.value.code == "timeout"
    assert caught.value.reason == "aucun code présenté à temps"
    assert all(t.readyState == "ended" for t in sources._subscriptions)

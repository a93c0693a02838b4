"""Media sources: the fake camera and microphone pace themselves; missing devices say so."""

from __future__ import annotations

import asyncio
import time
from fractions import Fraction

import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from kiosk.call.media import (
    AUDIO_SAMPLE_RATE,
    AUDIO_SAMPLES_PER_FRAME,
    VIDEO_CLOCK_RATE,
    FakeCamera,
    FakeMicrophone,
    MediaUnavailable,
    make_media,
    open_camera,
    open_microphone,
)

MISSING_CAMERA = "/dev/video-guichet-test-missing"


async def test_fake_camera_gives_640x480_frames_with_pts_at_30fps() -> None:
    camera = FakeCamera()
    frames = [await camera.recv() for _ in range(10)]
    assert {(f.width, f.height) for f in frames} == {(640, 480)}
    assert [f.pts for f in frames] == [i * VIDEO_CLOCK_RATE // 30 for i in range(10)]
    assert frames[0].time_base == Fraction(1, VIDEO_CLOCK_RATE)
    camera.stop()


async def test_fake_camera_is_paced_in_real_time_without_drift() -> None:
    camera = FakeCamera(size=(320, 240), fps=50)
    await camera.recv()
    start = time.monotonic()
    for _ in range(25):
        await camera.recv()
    elapsed = time.monotonic() - start
    assert 0.45 <= elapsed <= 0.6
    camera.stop()


def test_fake_camera_frames_are_cheap_and_move() -> None:
    camera = FakeCamera()
    start = time.perf_counter()
    frames = [camera.render(i, 1_700_000_000.0 + i / 30) for i in range(30)]
    per_frame_ms = (time.perf_counter() - start) * 1000 / 30
    assert per_frame_ms < 5, f"{per_frame_ms:.2f} ms a frame"
    first, later = frames[0].to_ndarray(), frames[15].to_ndarray()
    assert not np.array_equal(first, later)


async def test_fake_microphone_gives_20ms_of_48khz_tone() -> None:
    microphone = FakeMicrophone()
    frames = [await microphone.recv() for _ in range(3)]
    assert [f.samples for f in frames] == [AUDIO_SAMPLES_PER_FRAME] * 3
    assert {f.sample_rate for f in frames} == {AUDIO_SAMPLE_RATE}
    assert [f.pts for f in frames] == [0, 960, 1920]
    samples = np.concatenate([f.to_ndarray().reshape(-1) for f in frames])
    assert samples.max() > 5000
    # 440 Hz: 880 zero crossings a second, so about 52.8 in 60 ms.
    crossings = np.count_nonzero(np.diff(samples >= 0))
    assert 51 <= crossings <= 54
    microphone.stop()


def test_missing_camera_raises_media_unavailable_naming_the_device() -> None:
    with pytest.raises(MediaUnavailable) as caught:
        open_camera(MISSING_CAMERA)
    assert caught.value.kind == "camera"
    assert caught.value.device == MISSING_CAMERA
    assert MISSING_CAMERA in str(caught.value)


def test_a_file_that_is_not_a_camera_raises_media_unavailable() -> None:
    with pytest.raises(MediaUnavailable, match="v4l2"):
        open_camera("/dev/null")


def test_missing_microphone_raises_media_unavailable_with_each_backend() -> None:
    with pytest.raises(MediaUnavailable) as caught:
        open_microphone("guichet-no-such-microphone")
    assert caught.value.kind == "microphone"
    assert "alsa" in caught.value.reason


def test_make_media_with_real_devices_reports_the_missing_camera() -> None:
    with pytest.raises(MediaUnavailable, match="camera"):
        make_media(fake=False, camera=MISSING_CAMERA, microphone="default")


async def test_preview_and_call_both_get_every_camera_frame() -> None:
    media = make_media(fake=True, size=(320, 240), fps=30)
    preview, call = media.subscribe_video(), media.subscribe_video()
    for _ in range(5):
        # Read side by side, as the preview widget and the RTP sender do.
        a, b = await asyncio.gather(preview.recv(), call.recv())
        assert a.pts == b.pts
    media.close()
    media.close()
    assert media.video.readyState == "ended"
    with pytest.raises(MediaUnavailable):
        media.subscribe_video()


async def test_a_reader_waiting_for_a_frame_is_ended_when_the_media_close() -> None:
    # A slow camera: the video reader surely waits inside recv() when the call ends
    # (the booth's self-view task waited forever there and kept the call's media
    # alive: found by bench/soak.py). The microphone's reader is buffered.
    media = make_media(fake=True, size=(320, 240), fps=1)
    video, audio = media.subscribe_video(), media.subscribe_audio()
    await asyncio.gather(video.recv(), audio.recv())

    async def read_to_the_end(track: MediaStreamTrack) -> None:
        while True:
            await track.recv()

    readers = [asyncio.create_task(read_to_the_end(t)) for t in (video, audio)]
    await asyncio.sleep(0.1)
    assert not any(task.done() for task in readers)
    media.close()
    done, pending = await asyncio.wait(readers, timeout=0.5)
    for task in pending:
        task.cancel()
    assert not pending, "a reader still waits for a frame from closed media"
    for task in done:
        assert isinstance(task.exception(), MediaStreamError)


async def test_muting_sends_silence_without_stopping_the_stream() -> None:
    media = make_media(fake=True)
    audio = media.subscribe_audio()
    loud = await audio.recv()
    assert np.abs(loud.to_ndarray()).max() > 5000
    media.set_muted(True)
    quiet = await audio.recv()
    assert quiet.samples == loud.samples
    assert quiet.pts == loud.pts + loud.samples
    assert not quiet.to_ndarray().any()
    media.set_muted(False)
    assert np.abs((await audio.recv()).to_ndarray()).max() > 5000
    media.close()
    assert audio.readyState == "ended"

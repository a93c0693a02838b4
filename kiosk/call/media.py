"""Media sources for the booth: real camera and microphone, or a fake pattern and tone.

The fake sources double as the demo mode and as the media of every test: a moving
pattern with a clock burnt in (so a screenshot tells how late a frame is) and a
440 Hz tone.  Frames are built from precomputed planes so that a fake camera costs
almost nothing next to the VP8 encoder.

:class:`MediaSources` owns the tracks and a :class:`~aiortc.contrib.media.MediaRelay`:
the camera feeds both the call and the local preview through relay subscriptions,
never the raw track twice (two readers of one track would each get half the frames).
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import os
import time
from dataclasses import dataclass, field

import av
import numpy as np
import numpy.typing as npt
from aiortc import AudioStreamTrack, MediaStreamTrack, VideoStreamTrack
from aiortc.contrib.media import MediaPlayer, MediaRelay, RelayStreamTrack
from aiortc.mediastreams import MediaStreamError

logger = logging.getLogger(__name__)

VIDEO_CLOCK_RATE = 90_000
"""RTP clock of video: frame ``pts`` are counted in 1/90000 s."""
VIDEO_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK_RATE)
DEFAULT_SIZE = (640, 480)
DEFAULT_FPS = 30

AUDIO_SAMPLE_RATE = 48_000
AUDIO_PTIME_S = 0.020
"""One audio frame every 20 ms, the Opus packet time aiortc expects."""
AUDIO_SAMPLES_PER_FRAME = int(AUDIO_SAMPLE_RATE * AUDIO_PTIME_S)
AUDIO_TIME_BASE = fractions.Fraction(1, AUDIO_SAMPLE_RATE)
TONE_HZ = 440
TONE_AMPLITUDE = 0.2
"""Fraction of full scale: audible in a demo without being painful."""

DEFAULT_MICROPHONE = "default"
DEFAULT_CAMERA = "/dev/video0"

# The clock is drawn with a 5x7 bitmap font scaled up, so no font file is needed.
_GLYPHS_5X7: dict[str, tuple[str, ...]] = {
    "0": ("01110", "10001", "10011", "10101", "11001", "10001", "01110"),
    "1": ("00100", "01100", "00100", "00100", "00100", "00100", "01110"),
    "2": ("01110", "10001", "00001", "00010", "00100", "01000", "11111"),
    "3": ("11111", "00010", "00100", "00010", "00001", "10001", "01110"),
    "4": ("00010", "00110", "01010", "10010", "11111", "00010", "00010"),
    "5": ("11111", "10000", "11110", "00001", "00001", "10001", "01110"),
    "6": ("00110", "01000", "10000", "11110", "10001", "10001", "01110"),
    "7": ("11111", "00001", "00010", "00100", "01000", "01000", "01000"),
    "8": ("01110", "10001", "10001", "01110", "10001", "10001", "01110"),
    "9": ("01110", "10001", "10001", "01111", "00001", "00010", "01100"),
    ":": ("00000", "01100", "01100", "00000", "01100", "01100", "00000"),
    ".": ("00000", "00000", "00000", "00000", "00000", "01100", "01100"),
}
_GLYPH_SCALE = 4
_GLYPH_GAP = 1
"""Blank glyph columns between characters, before scaling."""
_MARGIN = 16
_BOX = 64
"""Side of the moving square, in pixels."""
_BOX_SPEED_PX_S = 160.0

Plane = npt.NDArray[np.uint8]


class MediaUnavailable(Exception):
    """A camera or microphone cannot be opened; the message is meant for a technician."""

    def __init__(self, kind: str, device: str, reason: str) -> None:
        super().__init__(f"{kind} {device!r} is unavailable: {reason}")
        self.kind = kind
        self.device = device
        self.reason = reason


def _glyph_bitmaps() -> dict[str, npt.NDArray[np.bool_]]:
    scale = np.ones((_GLYPH_SCALE, _GLYPH_SCALE), dtype=np.uint8)
    out: dict[str, npt.NDArray[np.bool_]] = {}
    for char, rows in _GLYPHS_5X7.items():
        bits = np.array([[c == "1" for c in row] + [False] * _GLYPH_GAP for row in rows])
        out[char] = np.kron(bits.astype(np.uint8), scale).astype(bool)
    return out


class FakeCamera(VideoStreamTrack):
    """A synthetic camera: colour bars, a moving square and a wall clock, in yuv420p.

    ``pts`` advance by exactly ``90000 / fps`` per frame and frames are released on
    their deadline (measured from the first frame), so the track paces itself like
    a real camera and never drifts.
    """

    def __init__(self, size: tuple[int, int] = DEFAULT_SIZE, fps: int = DEFAULT_FPS) -> None:
        super().__init__()
        width, height = size
        if width % 2 or height % 2 or width < 2 * _BOX or height < 2 * _BOX:
            raise ValueError(f"fake camera size must be even and at least {2 * _BOX}px: {size}")
        if fps <= 0:
            raise ValueError(f"fps must be positive: {fps}")
        self.width = width
        self.height = height
        self.fps = fps
        self.frames_sent = 0
        self._t0: float | None = None
        self._y, self._u, self._v = self._background(width, height)
        self._glyphs = _glyph_bitmaps()

    @staticmethod
    def _background(width: int, height: int) -> tuple[Plane, Plane, Plane]:
        # Eight vertical bars in the usual test-card colours (Y, U, V of BT.601).
        bars = [
            (235, 128, 128),
            (210, 16, 146),
            (170, 166, 16),
            (145, 54, 34),
            (106, 202, 222),
            (81, 90, 240),
            (41, 240, 110),
            (16, 128, 128),
        ]
        y = np.empty((height, width), dtype=np.uint8)
        u = np.empty((height // 2, width // 2), dtype=np.uint8)
        v = np.empty((height // 2, width // 2), dtype=np.uint8)
        for i, (by, bu, bv) in enumerate(bars):
            x0, x1 = i * width // len(bars), (i + 1) * width // len(bars)
            y[:, x0:x1] = by
            u[:, x0 // 2 : x1 // 2] = bu
            v[:, x0 // 2 : x1 // 2] = bv
        return y, u, v

    async def _next_pts(self) -> int:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._t0 is None:
            self._t0 = now
        index = self.frames_sent
        deadline = self._t0 + index / self.fps
        if deadline > now:
            await asyncio.sleep(deadline - now)
        self.frames_sent += 1
        # Integer arithmetic from the frame index: no accumulated rounding drift.
        return index * VIDEO_CLOCK_RATE // self.fps

    def render(self, index: int, wall_time: float) -> av.VideoFrame:
        """Build frame ``index`` showing ``wall_time``; pure apart from numpy copies."""
        y = self._y.copy()
        u = self._u.copy()
        v = self._v.copy()
        # The square bounces left-right across the middle band.
        span = self.width - _BOX
        travel = int(index * _BOX_SPEED_PX_S / self.fps) % (2 * span)
        x = travel if travel < span else 2 * span - travel
        top = (self.height - _BOX) // 2
        y[top : top + _BOX, x : x + _BOX] = 235
        u[top // 2 : (top + _BOX) // 2, x // 2 : (x + _BOX) // 2] = 128
        v[top // 2 : (top + _BOX) // 2, x // 2 : (x + _BOX) // 2] = 128
        self._draw_text(y, u, v, _clock_text(wall_time), _MARGIN, _MARGIN)
        self._draw_text(y, u, v, str(index), _MARGIN, self.height - _MARGIN - 7 * _GLYPH_SCALE)
        stacked = np.concatenate([y.reshape(-1), u.reshape(-1), v.reshape(-1)])
        frame = av.VideoFrame.from_ndarray(
            stacked.reshape(self.height * 3 // 2, self.width), format="yuv420p"
        )
        return frame

    def _draw_text(self, y: Plane, u: Plane, v: Plane, text: str, left: int, top: int) -> None:
        glyph_h, glyph_w = next(iter(self._glyphs.values())).shape
        width = min(len(text) * glyph_w, self.width - left)
        # A black plate behind the text keeps it readable on any bar.
        plate = (slice(top - 4, top + glyph_h + 4), slice(left - 4, left + width + 4))
        y[plate] = 16
        u[top // 2 - 2 : (top + glyph_h) // 2 + 2, left // 2 - 2 : (left + width) // 2 + 2] = 128
        v[top // 2 - 2 : (top + glyph_h) // 2 + 2, left // 2 - 2 : (left + width) // 2 + 2] = 128
        for i, char in enumerate(text):
            x0 = left + i * glyph_w
            if x0 + glyph_w > self.width:
                break
            region = y[top : top + glyph_h, x0 : x0 + glyph_w]
            region[self._glyphs[char]] = 235

    async def recv(self) -> av.VideoFrame:
        """Return the next frame on its deadline."""
        pts = await self._next_pts()
        frame = self.render(self.frames_sent - 1, time.time())
        frame.pts = pts
        frame.time_base = VIDEO_TIME_BASE
        return frame


def _clock_text(wall_time: float) -> str:
    local = time.localtime(wall_time)
    millis = int((wall_time % 1) * 1000)
    return f"{local.tm_hour:02d}:{local.tm_min:02d}:{local.tm_sec:02d}.{millis:03d}"


class FakeMicrophone(AudioStreamTrack):
    """A synthetic microphone: a continuous 440 Hz tone, 48 kHz mono s16, 20 ms frames."""

    def __init__(self, frequency_hz: int = TONE_HZ) -> None:
        super().__init__()
        # One second holds a whole number of periods of any integer frequency, so
        # slicing it in 20 ms frames and wrapping round gives a seamless tone.
        t = np.arange(AUDIO_SAMPLE_RATE) / AUDIO_SAMPLE_RATE
        wave = np.sin(2 * np.pi * frequency_hz * t) * TONE_AMPLITUDE * 32767
        self._second = wave.astype(np.int16)
        self.frames_sent = 0
        self._t0: float | None = None

    async def recv(self) -> av.AudioFrame:
        """Return the next 20 ms of tone on its deadline."""
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._t0 is None:
            self._t0 = now
        index = self.frames_sent
        deadline = self._t0 + index * AUDIO_PTIME_S
        if deadline > now:
            await asyncio.sleep(deadline - now)
        self.frames_sent += 1
        offset = (index * AUDIO_SAMPLES_PER_FRAME) % AUDIO_SAMPLE_RATE
        samples = self._second[offset : offset + AUDIO_SAMPLES_PER_FRAME]
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = AUDIO_SAMPLE_RATE
        frame.pts = index * AUDIO_SAMPLES_PER_FRAME
        frame.time_base = AUDIO_TIME_BASE
        return frame


class _MutableAudio(MediaStreamTrack):
    """A reader of the microphone that sends silence while its sources are muted.

    Muting replaces samples rather than stopping the track so that the RTP stream
    (and the agent's jitter buffer) keeps running: unmuting is instant.
    """

    kind = "audio"

    def __init__(self, source: MediaStreamTrack, sources: MediaSources) -> None:
        super().__init__()
        self._source = source
        self._sources = sources

    @property
    def source(self) -> MediaStreamTrack:
        """The relay subscription this reader reads."""
        return self._source

    async def recv(self) -> av.AudioFrame:
        """Next microphone frame, or the same length of silence when muted."""
        if self.readyState != "live":
            raise MediaStreamError
        frame = await self._source.recv()
        assert isinstance(frame, av.AudioFrame)  # noqa: S101 - an audio track's contract
        if not self._sources.muted:
            return frame
        silent = av.AudioFrame(
            format=frame.format.name, layout=frame.layout.name, samples=frame.samples
        )
        for plane in silent.planes:
            plane.update(bytes(plane.buffer_size))
        silent.pts = frame.pts
        silent.sample_rate = frame.sample_rate
        silent.time_base = frame.time_base
        return silent

    def stop(self) -> None:
        """Stop this reader (the microphone itself keeps running for others)."""
        super().stop()
        self._source.stop()


@dataclass
class MediaSources:
    """The booth's camera and microphone tracks, shared by the call and the preview.

    Consumers never read :attr:`video` directly: each calls :meth:`subscribe_video`
    and gets its own relay track, so the preview and the call both see every frame.
    """

    video: MediaStreamTrack
    audio: MediaStreamTrack
    description: str = ""
    _relay: MediaRelay = field(default_factory=MediaRelay, repr=False)
    _subscriptions: list[MediaStreamTrack] = field(default_factory=list, repr=False)
    closed: bool = False
    muted: bool = False
    """While True every audio subscription sends silence (the citizen pressed mute)."""

    def subscribe_video(self) -> MediaStreamTrack:
        """A new reader of the camera (unbuffered: a slow reader gets the latest frame)."""
        if self.closed:
            raise MediaUnavailable("camera", self.description, "media sources are closed")
        track = self._relay.subscribe(self.video, buffered=False)
        self._subscriptions.append(track)
        return track

    def subscribe_audio(self) -> MediaStreamTrack:
        """A new reader of the microphone (buffered: audio must not drop 20 ms frames)."""
        if self.closed:
            raise MediaUnavailable("microphone", self.description, "media sources are closed")
        track = _MutableAudio(self._relay.subscribe(self.audio, buffered=True), self)
        self._subscriptions.append(track)
        return track

    def set_muted(self, muted: bool) -> None:
        """Mute or unmute the microphone for every reader at once."""
        self.muted = muted
        logger.info("microphone %s", "muted" if muted else "live")

    def close(self) -> None:
        """Stop every track and release the devices; safe to call twice."""
        if self.closed:
            return
        self.closed = True
        for track in self._subscriptions:
            track.stop()
            _end_subscription(track)
        # Stopping a MediaPlayer's last track also closes its device.
        for track in (self.video, self.audio):
            track.stop()


def _end_subscription(track: MediaStreamTrack) -> None:
    """Wake a reader waiting in ``recv()`` of a stopped relay subscription.

    aiortc 1.16's ``RelayStreamTrack.stop()`` only unregisters the proxy: a reader
    already waiting for its next frame then waits forever (the booth's self-view
    task did, holding the whole call's media: found by ``bench/soak.py``). Give it
    the relay's own end-of-stream marker (``None``), so its ``recv()`` raises
    ``MediaStreamError`` as it does when the source ends.
    """
    if isinstance(track, _MutableAudio):
        track = track.source
    if not isinstance(track, RelayStreamTrack):
        return
    if track._queue is not None:
        track._queue.put_nowait(None)
    elif track._new_frame_event is not None:
        track._frame = None
        track._new_frame_event.set()


def _open_player(kind: str, device: str, fmt: str, options: dict[str, str]) -> MediaPlayer:
    try:
        return MediaPlayer(device, format=fmt, options=options)
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise MediaUnavailable(kind, device, f"{fmt}: {exc}") from exc


def open_camera(
    device: str = DEFAULT_CAMERA,
    size: tuple[int, int] = DEFAULT_SIZE,
    fps: int = DEFAULT_FPS,
) -> tuple[MediaStreamTrack, MediaPlayer]:
    """Open a V4L2 camera; raises :class:`MediaUnavailable` with a readable reason.

    Returns the video track and the player that owns the device (stop the track to
    release it).
    """
    if not os.path.exists(device):
        raise MediaUnavailable("camera", device, "no such device (is the camera plugged in?)")
    options = {"video_size": f"{size[0]}x{size[1]}", "framerate": str(fps)}
    player = _open_player("camera", device, "v4l2", options)
    if player.video is None:
        raise MediaUnavailable("camera", device, "the device has no video stream")
    return player.video, player


def open_microphone(
    device: str = DEFAULT_MICROPHONE, backend: str | None = None
) -> tuple[MediaStreamTrack, MediaPlayer]:
    """Open a microphone through PulseAudio or ALSA (``backend=None`` tries pulse, then alsa).

    Raises :class:`MediaUnavailable` with the reason of every backend tried.
    """
    backends = [backend] if backend else ["pulse", "alsa"]
    reasons: list[str] = []
    for name in backends:
        try:
            player = _open_player("microphone", device, name, {})
        except MediaUnavailable as exc:
            reasons.append(exc.reason)
            continue
        if player.audio is None:
            reasons.append(f"{name}: the device has no audio stream")
            continue
        return player.audio, player
    raise MediaUnavailable("microphone", device, "; ".join(reasons))


def make_media(
    fake: bool,
    camera: str | None = None,
    microphone: str | None = None,
    *,
    size: tuple[int, int] = DEFAULT_SIZE,
    fps: int = DEFAULT_FPS,
) -> MediaSources:
    """Build the booth's media: fake pattern and tone, or the named (or default) devices.

    Raises :class:`MediaUnavailable` if a real device cannot be opened; nothing is
    left open in that case.
    """
    if fake:
        return MediaSources(
            video=FakeCamera(size, fps), audio=FakeMicrophone(), description="fake media"
        )
    cam_device = camera or DEFAULT_CAMERA
    mic_device = microphone or DEFAULT_MICROPHONE
    video, _ = open_camera(cam_device, size, fps)
    try:
        audio, _ = open_microphone(mic_device)
    except MediaUnavailable:
        video.stop()
        raise
    return MediaSources(video=video, audio=audio, description=f"{cam_device} + {mic_device}")

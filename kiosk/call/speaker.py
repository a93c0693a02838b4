"""Plays the agent's voice on the booth's loudspeaker (ALSA, through PulseAudio if any).

aiortc hands decoded Opus frames to :meth:`Speaker.push` on the event loop; a
writer thread resamples them to 48 kHz stereo s16 and writes them to an ALSA
device with av (blocking writes never touch the loop). The queue is short on
purpose: when playback falls behind, old audio is dropped rather than played
late, so the conversation stays live. A speaker that cannot be opened is
reported once (``error``) and the call goes on: chat still works.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

logger = logging.getLogger(__name__)

SAMPLE_RATE = 48_000
QUEUE_FRAMES = 10
"""Frames waiting for the device (10 x 20 ms): beyond that the oldest is dropped."""
POLL_S = 0.2
"""How often the writer thread checks whether it was stopped while idle."""
SYSTEM_ALSA_CONF = Path("/usr/share/alsa/alsa.conf")


def _use_system_alsa_config() -> None:
    # The av wheel bundles its own alsa-lib, built to look for its configuration
    # in a build folder that does not exist: point it at the system's, so that
    # "default" (PulseAudio's ALSA plugin on a desktop), dmix and ~/.asoundrc work.
    if SYSTEM_ALSA_CONF.exists():
        os.environ.setdefault("ALSA_CONFIG_DIR", str(SYSTEM_ALSA_CONF.parent))
        os.environ.setdefault("ALSA_CONFIG_PATH", str(SYSTEM_ALSA_CONF))


def scale_volume(frame: av.AudioFrame, volume: int) -> av.AudioFrame:
    """The same sound at ``volume`` percent (0 silence, 100 unchanged), linear gain.

    Integer samples are scaled in a wider type and clipped back, so no sample
    overflows; float samples are simply multiplied. Pure: ``frame`` is not changed.
    """
    volume = max(0, min(100, volume))
    if volume == 100:
        return frame
    samples: Any = frame.to_ndarray()
    scaled: Any
    if np.issubdtype(samples.dtype, np.integer):
        info = np.iinfo(samples.dtype)
        wide = samples.astype(np.int64) * volume // 100
        scaled = np.clip(wide, info.min, info.max).astype(samples.dtype)
    else:
        scaled = (samples * (volume / 100)).astype(samples.dtype)
    out = av.AudioFrame.from_ndarray(scaled, format=frame.format.name, layout=frame.layout.name)
    out.sample_rate = frame.sample_rate
    out.pts = frame.pts
    if frame.time_base is not None:
        out.time_base = frame.time_base
    return out


class Speaker:
    """Audio output on an ALSA device (``default``, ``hw:0``, ``plughw:1,0``...).

    ``volume`` (0-100, the booth's signed configuration) scales the agent's voice;
    it is fixed for the call, so a new configuration takes effect on the next call.
    """

    def __init__(self, device: str = "default", volume: int = 100) -> None:
        self.device = device
        self.volume = max(0, min(100, volume))
        self.frames_played = 0
        self.frames_dropped = 0
        self.error: str | None = None
        """Why playback stopped or never started (plain words for a technician)."""
        self._queue: queue.Queue[av.AudioFrame | None] = queue.Queue(maxsize=QUEUE_FRAMES)
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self) -> None:
        """Start the writer thread (the device is opened there, off the event loop)."""
        if self._thread is not None:
            return
        _use_system_alsa_config()
        self._thread = threading.Thread(target=self._run, name="speaker", daemon=True)
        self._thread.start()

    def push(self, frame: av.AudioFrame) -> None:
        """Queue one decoded frame; never blocks (drops the oldest when behind)."""
        if self._thread is None or self.error is not None:
            return
        while True:
            try:
                self._queue.put_nowait(frame)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self.frames_dropped += 1
                except queue.Empty:
                    pass

    def stop(self) -> None:
        """Stop playing and close the device; idempotent."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stopping.set()
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
        thread.join(timeout=2)
        # Nothing of the conversation stays in memory after the call.
        while not self._queue.empty():
            self._queue.get_nowait()

    def _run(self) -> None:
        try:
            container = av.open(self.device, format="alsa", mode="w")
        except (OSError, ValueError, av.FFmpegError) as exc:
            self.error = f"haut-parleur {self.device!r} indisponible : {exc}"
            logger.warning("speaker %s cannot be opened: %s", self.device, exc)
            return
        try:
            stream = container.add_stream("pcm_s16le", rate=SAMPLE_RATE)
            stream.layout = "stereo"
            resampler = av.AudioResampler(format="s16", layout="stereo", rate=SAMPLE_RATE)
            pts = 0
            while not self._stopping.is_set():
                try:
                    frame = self._queue.get(timeout=POLL_S)
                except queue.Empty:
                    continue
                if frame is None:
                    break
                for resampled in resampler.resample(frame):
                    out = scale_volume(resampled, self.volume)
                    out.pts = pts
                    out.time_base = Fraction(1, SAMPLE_RATE)
                    pts += out.samples
                    for packet in stream.encode(out):
                        container.mux(packet)
                self.frames_played += 1
        except (OSError, ValueError, av.FFmpegError) as exc:
            self.error = f"haut-parleur {self.device!r} en erreur : {exc}"
            logger.warning("speaker %s stopped: %s", self.device, exc)
        finally:
            try:
                container.close()
            except (OSError, av.FFmpegError) as exc:
                logger.debug("speaker close: %s", exc)

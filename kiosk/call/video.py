"""A Kivy widget that shows av video frames: the agent's picture and the local preview.

Frames arrive on the asyncio loop at the sender's pace; the widget keeps only the
latest one and draws it on the next Kivy frame (a ``Clock`` trigger), so a
30 fps stream is drawn at 30 fps.  ``schedule_interval(1/30)`` would alias with
the 60 Hz clock and reach only ~28.5 fps, and drawing every pushed frame would
waste blits when frames bunch up after a network hiccup.

The picture is letterboxed in the widget, keeping the frame's aspect ratio.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from kivy.clock import Clock
from kivy.graphics import Color, Rectangle
from kivy.graphics.texture import Texture
from kivy.uix.widget import Widget

logger = logging.getLogger(__name__)

BACKGROUND_RGBA = (0.0, 0.0, 0.0, 1.0)
"""Colour of the bars around a letterboxed picture and of an empty view."""


class VideoView(Widget):  # type: ignore[misc]  # kivy has no type information
    """Draws the latest pushed :class:`av.VideoFrame` into a texture, once per Kivy frame.

    Counters: ``frames_pushed``, ``frames_drawn`` (pushed frames that replaced an
    undrawn one are skipped, not queued) and ``frame_size`` (of the last drawn frame).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.frames_pushed = 0
        self.frames_drawn = 0
        self.frame_size: tuple[int, int] | None = None
        self.texture: Texture | None = None
        self._latest: av.VideoFrame | None = None
        self._play_task: asyncio.Task[None] | None = None
        self._track: MediaStreamTrack | None = None
        # Drawn from a per-frame interval, not a trigger per pushed frame: a trigger
        # makes Kivy run an extra loop (and redraw the window) for every frame of
        # every view, ~40 redraws a second for two 30 fps views instead of <= 30.
        self._ticker: Any = None
        with self.canvas:
            Color(*BACKGROUND_RGBA)
            # Letterbox bars only, not a full background under the picture: with
            # software GL every overdrawn pixel costs CPU at 30 frames a second.
            self._bars = (Rectangle(pos=self.pos, size=self.size), Rectangle(size=(0, 0)))
            Color(1, 1, 1, 1)
            self._picture = Rectangle(pos=self.pos, size=(0, 0))
        self.bind(pos=self._layout, size=self._layout)

    def push_frame(self, frame: av.VideoFrame) -> None:
        """Offer a new frame; only the latest is kept until the next draw."""
        self._latest = frame
        self.frames_pushed += 1
        if self._ticker is None:
            self._ticker = Clock.schedule_interval(self._draw, 0)

    def play(self, track: MediaStreamTrack) -> None:
        """Show every frame of ``track`` (e.g. a camera relay for the preview) until :meth:`stop`.

        The view owns the track from now on and stops it in :meth:`stop`.
        """
        self.stop()
        self._track = track
        self._play_task = asyncio.get_running_loop().create_task(
            self._play(track), name="video-view"
        )

    def stop(self) -> None:
        """Stop playing a track (if any) and stop that track; the last picture stays."""
        task, track = self._play_task, self._track
        self._play_task = None
        self._track = None
        if task is not None:
            task.cancel()
        if track is not None:
            track.stop()

    def clear(self) -> None:
        """Forget the picture (after a call: nothing of it may stay on screen)."""
        self._latest = None
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        self.texture = None
        self.frame_size = None
        self._picture.texture = None
        self._picture.size = (0, 0)
        self._layout()

    async def _play(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if isinstance(frame, av.VideoFrame):
                self.push_frame(frame)

    def _draw(self, *_: object) -> None:
        frame = self._latest
        if frame is None:
            return
        self._latest = None
        # rgb24 via swscale, scaled down in the same pass to the pixels the widget
        # really shows (the small preview costs a fraction of a full-size blit);
        # to_ndarray hands back rows without line padding.
        width, height = _display_size(frame.width, frame.height, self.width, self.height)
        rgb = frame.to_ndarray(format="rgb24", width=width, height=height)
        height, width = rgb.shape[:2]
        texture = self.texture
        if texture is None or tuple(texture.size) != (width, height):
            texture = Texture.create(size=(width, height), colorfmt="rgb", bufferfmt="ubyte")
            # Kivy textures are bottom-up and frames top-down: flip the texture
            # coordinates once instead of flipping every frame's pixels.
            texture.flip_vertical()
            self.texture = texture
            self._picture.texture = texture
            self.frame_size = (width, height)
            self._layout()
        texture.blit_buffer(rgb.tobytes(), colorfmt="rgb", bufferfmt="ubyte")
        self.frames_drawn += 1
        self.canvas.ask_update()

    def _layout(self, *_: object) -> None:
        first, second = self._bars
        if self.frame_size is None:
            first.pos, first.size = self.pos, self.size
            second.size = (0, 0)
            return
        fw, fh = self.frame_size
        scale = min(self.width / fw, self.height / fh) if fw and fh else 0
        w, h = fw * scale, fh * scale
        x, y = self.x + (self.width - w) / 2, self.y + (self.height - h) / 2
        self._picture.size = (w, h)
        self._picture.pos = (x, y)
        if w < self.width:  # bars left and right
            first.pos, first.size = self.pos, (x - self.x, self.height)
            second.pos, second.size = (x + w, self.y), (self.right - x - w, self.height)
        else:  # bars above and below
            first.pos, first.size = self.pos, (self.width, y - self.y)
            second.pos, second.size = (self.x, y + h), (self.width, self.top - y - h)


def _display_size(fw: int, fh: int, ww: float, wh: float) -> tuple[int, int]:
    """The frame size to blit: the frame's, or smaller to fit a smaller widget (even sizes)."""
    if fw <= 0 or fh <= 0 or ww < 2 or wh < 2:
        return fw, fh
    scale = min(1.0, ww / fw, wh / fh)
    if scale >= 1.0:
        return fw, fh
    return max(2, int(fw * scale) & ~1), max(2, int(fh * scale) & ~1)

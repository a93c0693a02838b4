"""Runs in its own process (Kivy allows one window per process): checks VideoView pixels.

Prints one JSON object with what it measured; ``test_call_video.py`` asserts on it.
The environment (offscreen SDL, KIVY_HOME) is set by the test before this starts.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import numpy as np
from kivy.config import Config

Config.set("graphics", "multisamples", "0")
Config.set("graphics", "width", "640")
Config.set("graphics", "height", "480")

import av  # noqa: E402
from kivy.base import EventLoop  # noqa: E402
from kivy.core.window import Window  # noqa: E402

from kiosk.call.media import FakeCamera  # noqa: E402
from kiosk.call.video import VideoView  # noqa: E402


def quadrant_frame(width: int, height: int) -> av.VideoFrame:
    """Top half red, bottom half blue; a green column on the left edge."""
    rgb = np.zeros((height, width, 3), dtype=np.uint8)
    rgb[: height // 2] = (255, 0, 0)
    rgb[height // 2 :] = (0, 0, 255)
    rgb[:, :8] = (0, 255, 0)
    return av.VideoFrame.from_ndarray(rgb, format="rgb24")


def pump(n: int = 3) -> None:
    for _ in range(n):
        EventLoop.idle()


def texture_rows(view: VideoView) -> np.ndarray:
    assert view.texture is not None
    w, h = view.texture.size
    return np.frombuffer(view.texture.pixels, dtype=np.uint8).reshape(h, w, 4)


def screen_rgb() -> np.ndarray:
    """What the window shows, top row first."""
    import tempfile
    from pathlib import Path

    from PIL import Image

    path = Path(tempfile.mkdtemp()) / "shot.png"
    Window.screenshot(name=str(path))
    shots = sorted(path.parent.glob("shot*.png"))
    return np.asarray(Image.open(shots[-1]).convert("RGB"))


def main() -> None:
    EventLoop.ensure_window()
    view = VideoView(size=Window.size, pos=(0, 0))
    Window.add_widget(view)
    out: dict[str, object] = {}

    view.push_frame(quadrant_frame(640, 480))
    pump()
    tex = texture_rows(view)
    assert view.texture is not None
    out["texture_size"] = list(view.texture.size)
    out["texture_row0"] = tex[0, 100, :3].tolist()
    out["texture_last_row"] = tex[-1, 100, :3].tolist()
    shot = screen_rgb()
    out["screen_size"] = [shot.shape[1], shot.shape[0]]
    out["screen_top"] = shot[10, shot.shape[1] // 2].tolist()
    out["screen_bottom"] = shot[-10, shot.shape[1] // 2].tolist()
    out["screen_left"] = shot[shot.shape[0] // 2, 2].tolist()

    # Several pushes before one draw: only the last is drawn.
    before = view.frames_drawn
    for _ in range(5):
        view.push_frame(quadrant_frame(640, 480))
    pump()
    out["coalesced_draws"] = view.frames_drawn - before

    # A size change recreates the texture; an odd row length (322*3 bytes) must not shear.
    view.push_frame(quadrant_frame(322, 240))
    pump()
    tex = texture_rows(view)
    assert view.texture is not None
    out["resized_texture_size"] = list(view.texture.size)
    out["resized_row0_left"] = tex[0, 2, :3].tolist()
    out["resized_row0_right"] = tex[0, 300, :3].tolist()
    out["resized_last_row_right"] = tex[-1, 300, :3].tolist()

    # Playing a 30 fps camera for ~2 s with Kivy driven from the asyncio loop
    # by async_idle, as App.async_run does (idle() would block the loop in sleeps).
    async def play() -> tuple[int, int, bool, float]:
        camera = FakeCamera(fps=30)
        view.play(camera)
        await asyncio.sleep(0.3)  # let the first frame through
        start_drawn, start_pushed = view.frames_drawn, view.frames_pushed
        start = time.monotonic()
        while time.monotonic() - start < 2.0:
            await EventLoop.async_idle()
        elapsed = time.monotonic() - start
        drawn = view.frames_drawn - start_drawn
        pushed = view.frames_pushed - start_pushed
        view.stop()
        return drawn, pushed, camera.readyState == "ended", elapsed

    drawn, pushed, stopped, elapsed = asyncio.run(play())
    out["play_fps"] = drawn / elapsed
    out["play_drawn_ratio"] = drawn / max(1, pushed)
    out["play_track_stopped"] = stopped
    out["frames_pushed"] = view.frames_pushed
    out["frames_drawn"] = view.frames_drawn
    print(json.dumps(out))
    sys.stdout.flush()


if __name__ == "__main__":
    main()

"""Run the real booth app in-process on an asyncio loop and drive it like a citizen.

Kivy allows one window per process, so each scenario runs in its own process:
``run_scenario(...)`` starts ``python -m kivy_harness <module>:<function>`` with a
clean ``KIVY_HOME`` and, without a ``DISPLAY``, ``SDL_VIDEODRIVER=offscreen`` (real
llvmpipe drawing, no X). Inside that process a scenario is an async function::

    async def welcome_to_waiting(ctx: dict[str, str]) -> None:
        settings = harness_settings(ctx)            # BoothSettings for the test
        async with BoothHarness(settings) as booth:
            await booth.wait_screen("welcome")
            booth.screenshot("welcome")
            await booth.tap("start_button")
            await booth.wait_screen("choose")
            await booth.tap("service_caf")
            await booth.wait_for(lambda: booth.controller.data.position == 1)

Touches are real ``MotionEvent`` s posted through ``EventLoop.post_dispatch_input``,
so they go through Kivy's input post-processing and the window's dispatch to the
widget under the point, exactly as a finger would. Widgets are found by their kv
``id`` (in any screen or in an open modal) or by a ``gid`` attribute (the service
buttons: ``service_<id>``). Screenshots go to ``$GUICHET_ARTIFACTS/screenshots``
(default ``test-artifacts/screenshots``).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("GUICHET_ARTIFACTS", REPO / "test-artifacts"))
SCREENSHOTS = ARTIFACTS / "screenshots"
DEFAULT_TIMEOUT_S = 10.0
POLL_S = 0.02
SCENARIO_TIMEOUT_S = 240.0

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------
# Parent side: run a scenario in a fresh process
# ---------------------------------------------------------------------------


def kivy_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a Kivy child process: private KIVY_HOME, offscreen if no X."""
    env = dict(os.environ)
    if extra is None or "KIVY_HOME" not in extra:
        env["KIVY_HOME"] = tempfile.mkdtemp(prefix="kivy-home-")
    env["KIVY_NO_ARGS"] = "1"
    env["KIVY_NO_FILELOG"] = "1"
    env.setdefault("KIVY_LOG_MODE", "PYTHON")
    env.setdefault("SDL_AUDIODRIVER", "dummy")
    if not env.get("DISPLAY"):
        env["SDL_VIDEODRIVER"] = "offscreen"
    env["PYTHONPATH"] = os.pathsep.join(
        [
            str(REPO),
            str(REPO / "tests"),
            str(REPO / "tests" / "kiosk"),
            env.get("PYTHONPATH", ""),
        ]
    )
    env.update(extra or {})
    return env


def run_scenario(
    target: str,
    ctx: dict[str, Any] | None = None,
    timeout: float = SCENARIO_TIMEOUT_S,
    *,
    env: dict[str, str] | None = None,
    wrap: list[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``module:function`` (an async scenario taking ``ctx``) in a new process.

    ``env`` overrides the child's environment (a ``KIVY_HOME`` given there is the
    caller's and is kept); ``wrap`` is a command the child runs under (``strace ...``).
    Raises AssertionError with the child's output if the scenario fails.
    """
    own_home = tempfile.mkdtemp(prefix="kivy-home-")
    child_env = kivy_env({"KIVY_HOME": own_home, "GUICHET_SCENARIO_CTX": json.dumps(ctx or {})})
    child_env.update(env or {})
    result = subprocess.run(
        [*(wrap or []), sys.executable, "-m", "kivy_harness", target],
        cwd=REPO,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    shutil.rmtree(own_home, ignore_errors=True)
    if result.returncode != 0:
        raise AssertionError(
            f"scenario {target} failed ({result.returncode}):\n"
            f"--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-12000:]}"
        )
    return result


# ---------------------------------------------------------------------------
# Child side: the harness
# ---------------------------------------------------------------------------


def harness_settings(ctx: dict[str, Any], **overrides: Any) -> Any:
    """BoothSettings for a scenario: windowed 1280x800, fake media, short timers.

    ``ctx`` may hold ``server_url``, ``token`` and any BoothSettings field.
    """
    from kiosk.config import BoothSettings

    values: dict[str, Any] = {
        "fullscreen": False,
        "fake_media": True,
        "demo": True,  # plain http:// to the test server
        "width": 1280,
        "height": 800,
        "screenshot_dir": str(SCREENSHOTS),
        "retry_min_s": 0.2,
        "retry_max_s": 1.0,
    }
    values.update(ctx)
    values.update(overrides)
    return BoothSettings(**values)


class _Touch:
    """Factory for a MotionEvent subclass (Kivy imported lazily, after Config)."""

    cls: Any = None

    @classmethod
    def make(cls, x: float, y: float) -> Any:
        if cls.cls is None:
            from kivy.input.motionevent import MotionEvent

            class HarnessTouch(MotionEvent):  # type: ignore[misc]
                def __init__(self, args: dict[str, float]) -> None:
                    super().__init__("harness", 77, args, is_touch=True, type_id="touch")
                    self.profile = ["pos"]

                def depack(self, args: dict[str, float]) -> None:
                    self.sx = args["x"]
                    self.sy = args["y"]
                    super().depack(args)

            cls.cls = HarnessTouch
        from kivy.core.window import Window

        return cls.cls({"x": x / (Window.width - 1.0), "y": y / (Window.height - 1.0)})


class BoothHarness:
    """The real GuichetBoothApp, running on the current asyncio loop."""

    def __init__(self, settings: Any, *, screenshot_dir: Path | None = None) -> None:
        from kiosk.app import configure_kivy

        self.settings = settings
        self.screenshot_dir = Path(screenshot_dir or settings.screenshot_dir or SCREENSHOTS)
        configure_kivy(settings)
        from kiosk.app import GuichetBoothApp

        self.app = GuichetBoothApp(settings)
        self._task: asyncio.Task[None] | None = None

    # -- life cycle -----------------------------------------------------------

    async def __aenter__(self) -> BoothHarness:
        self._task = asyncio.create_task(self.app.async_run(async_lib="asyncio"))
        await self.wait_for(lambda: self.app.root is not None, what="app built")
        await self.frames(3)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:
            try:
                self.screenshot("failure")
            except Exception:
                logger.exception("no failure screenshot")
        # Controller first: its last state changes still find a running app.
        await self.app.controller.stop()
        await self.frames(1)
        self.app.stop()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 10)
            except Exception:
                logger.exception("app did not stop cleanly")

    # -- what is on screen ----------------------------------------------------

    @property
    def controller(self) -> Any:
        """The app's BoothController."""
        return self.app.controller

    @property
    def screen(self) -> str:
        """Name of the screen shown now."""
        return str(self.app.root.current)

    @property
    def running(self) -> bool:
        """True while the app's loop runs."""
        return self._task is not None and not self._task.done()

    def _roots(self) -> Iterator[Any]:
        from kivy.core.window import Window

        # Modals first (they sit on top of the screens), then the current screen.
        for child in Window.children:
            if child is not self.app.root:
                yield child
        yield self.app.root.current_screen
        for screen in self.app.root.screens:
            if screen is not self.app.root.current_screen:
                yield screen

    def find(self, name: str) -> Any:
        """The widget with kv id or ``gid`` ``name`` (current screen and modals first)."""
        for root in self._roots():
            for widget in root.walk(restrict=True):
                ids = getattr(widget, "ids", {})
                if name in ids:
                    return ids[name]
                if getattr(widget, "gid", None) == name:
                    return widget
        raise LookupError(f"no widget {name!r} on screen {self.screen!r}")

    def text_of(self, name: str) -> str:
        """The ``text`` of the widget ``name``."""
        return str(self.find(name).text)

    def all_text(self) -> str:
        """Every label text on the current screen and open modals (for assertions)."""
        from kivy.core.window import Window

        texts = []
        roots = [c for c in Window.children if c is not self.app.root]
        roots.append(self.app.root.current_screen)
        for root in roots:
            for widget in root.walk(restrict=True):
                text = getattr(widget, "text", None)
                if isinstance(text, str) and text:
                    texts.append(text)
        return "\n".join(texts)

    # -- waiting ----------------------------------------------------------------

    async def frames(self, n: int = 2) -> None:
        """Let Kivy draw ``n`` frames."""
        from kivy.clock import Clock

        start = Clock.frames_displayed
        deadline = time.monotonic() + DEFAULT_TIMEOUT_S
        while Clock.frames_displayed < start + n and time.monotonic() < deadline:
            if not self.running:
                return
            await asyncio.sleep(POLL_S)

    async def wait_for(
        self, predicate: Callable[[], Any], timeout: float = DEFAULT_TIMEOUT_S, what: str = ""
    ) -> Any:
        """Poll ``predicate`` until truthy; returns its value or raises TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = predicate()
            except LookupError:
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"timed out after {timeout} s waiting for {what or predicate!r}"
                    f" (screen {self.screen!r}, state {self.controller.state})"
                )
            if self._task is not None and self._task.done():
                self._task.result()  # re-raises what stopped the app
                raise RuntimeError("the app stopped")
            await asyncio.sleep(POLL_S)

    async def wait_screen(self, name: str, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        """Wait until screen ``name`` is shown and drawn."""
        await self.wait_for(lambda: self.screen == name, timeout, f"screen {name!r}")
        await self.frames(2)

    async def wait_text(self, text: str, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        """Wait until ``text`` appears in a label of the current screen or a modal."""
        await self.wait_for(lambda: text in self.all_text(), timeout, f"text {text!r}")

    # -- acting ------------------------------------------------------------------

    async def tap_at(self, x: float, y: float) -> None:
        """Touch down and up at window coordinates, through Kivy's input pipeline."""
        from kivy.base import EventLoop

        touch = _Touch.make(x, y)
        EventLoop.post_dispatch_input("begin", touch)
        await self.frames(1)
        EventLoop.post_dispatch_input("end", touch)
        await self.frames(2)

    async def tap(self, name: str, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        """Tap the centre of widget ``name`` once it is visible and enabled."""

        def ready() -> Any:
            widget = self.find(name)
            if widget.disabled or widget.opacity == 0 or widget.width <= 1:
                return None
            return widget

        widget = await self.wait_for(ready, timeout, f"widget {name!r} tappable")
        x, y = widget.to_window(*widget.center)
        await self.tap_at(x, y)

    async def type_text(self, name: str, text: str) -> None:
        """Focus text input ``name`` by tapping it, then type ``text`` into it."""
        await self.tap(name)
        widget = self.find(name)
        widget.insert_text(text)
        await self.frames(1)

    async def press_key(self, key: int, scancode: int = 0, codepoint: str = "") -> Any:
        """Send a key through the window as SDL does (key_down, keyboard, key_up)."""
        from kivy.core.window import Window

        Window.dispatch("on_key_down", key, scancode, codepoint, [])
        result = Window.dispatch("on_keyboard", key, scancode, codepoint, [])
        Window.dispatch("on_key_up", key, scancode)
        await self.frames(2)
        return result

    async def request_close(self) -> bool:
        """Ask the window to close as the window manager would; True if refused."""
        from kivy.base import stopTouchApp
        from kivy.core.window import Window

        refused = bool(Window.dispatch("on_request_close"))
        if not refused:
            # What the SDL loop does when nobody refuses a close request.
            stopTouchApp()
        await self.frames(2)
        return refused

    def screenshot(self, name: str) -> Path:
        """Save the window as ``<screenshot_dir>/<name>.png`` and return the path."""
        from kivy.core.window import Window

        self.screenshot_dir.mkdir(parents=True, exist_ok=True)
        target = self.screenshot_dir / f"{name}.png"
        # Window.screenshot numbers its files; save to a temp name, then move.
        tmp = Path(tempfile.mkdtemp(prefix="shot-"))
        made = Window.screenshot(name=str(tmp / "shot.png"))
        if not made:
            raise RuntimeError("Window.screenshot produced nothing")
        shutil.move(made, target)
        shutil.rmtree(tmp, ignore_errors=True)
        logger.info("screenshot %s", target)
        return target


# ---------------------------------------------------------------------------
# Child entry point
# ---------------------------------------------------------------------------


def _main(target: str) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    module_name, func_name = target.split(":")
    ctx = json.loads(os.environ.get("GUICHET_SCENARIO_CTX", "{}"))
    func = getattr(importlib.import_module(module_name), func_name)
    asyncio.run(func(ctx))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1]))

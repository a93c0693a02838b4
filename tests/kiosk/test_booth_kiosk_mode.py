"""The real ``guichet booth`` command in kiosk mode on a bare X server (no window manager).

Real X key events (xdotool) must not get the citizen out of the app, and the window
must cover the whole 1280x800 screen even without a window manager.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures.server import free_port
from kivy_harness import REPO, SCREENSHOTS, kivy_env

pytestmark = [
    pytest.mark.kivy,
    pytest.mark.skipif(
        not (shutil.which("Xvfb") and shutil.which("xdotool")), reason="needs Xvfb and xdotool"
    ),
]

START_TIMEOUT_S = 30.0


@pytest.fixture
def display() -> Iterator[str]:
    """A private Xvfb at 1280x800, no window manager."""
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as fh:
        number = fh.readline().strip()
    try:
        yield f":{number}"
    finally:
        xvfb.terminate()
        xvfb.wait(10)


def xdo(display: str, *args: str) -> str:
    result = subprocess.run(
        ["xdotool", *args],
        env={**os.environ, "DISPLAY": display},
        capture_output=True,
        text=True,
        check=False,
        timeout=10,
    )
    return result.stdout.strip()


def test_kiosk_window_fills_screen_ignores_escape_f1_alt_f4_but_stops_on_sigterm(
    display: str, tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text("a-token-that-is-not-valid\n")
    token.chmod(0o600)
    env = kivy_env({"DISPLAY": display})
    env.pop("SDL_VIDEODRIVER", None)
    booth = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "guichet.cli",
            "booth",
            "--server",
            f"http://127.0.0.1:{free_port()}",
            "--demo",
            "--token-file",
            str(token),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "booth.log").open("wb"),
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        window = ""
        while not window and time.monotonic() < deadline:
            assert booth.poll() is None, (tmp_path / "booth.log").read_text()
            window = xdo(display, "search", "--class", ".").split("\n")[0]
            time.sleep(0.2)
        assert window, "no booth window appeared"
        time.sleep(1.5)  # let it draw
        geometry = xdo(display, "getwindowgeometry", window)
        assert "Position: 0,0" in geometry and "Geometry: 1280x800" in geometry, geometry

        xdo(display, "windowfocus", "--sync", window)
        for key in ("Escape", "F1", "alt+F4", "ctrl+q"):
            xdo(display, "key", "--window", window, key)
            time.sleep(0.5)
            assert booth.poll() is None, f"{key} closed the booth"

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        if shutil.which("import"):
            subprocess.run(
                [
                    "import",
                    "-display",
                    display,
                    "-window",
                    "root",
                    str(SCREENSHOTS / "10_kiosk.png"),
                ],
                check=False,
                timeout=20,
            )
        # The service manager can still stop it: SIGTERM ends the app cleanly.
        booth.terminate()
        assert booth.wait(15) == 0
    finally:
        booth.terminate()
        try:
            booth.wait(10)
        except subprocess.TimeoutExpired:
            booth.kill()
            booth.wait(10)

"""The real ``guichet booth`` as a subprocess, as systemd would run it (tests and bench)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fixtures.server import RunningServer
from kivy_harness import REPO, kivy_env

START_TIMEOUT_S = 60.0
RESTART_SEC = 1.0
"""As ``RestartSec=1`` in provisioning/os/guichet-booth.service."""
WATCHDOG_USEC = 1_000_000
"""A short watchdog for the test (the unit has WatchdogSec=20): a ping every 0.5 s."""


def start_booth(
    server: RunningServer, tmp_path: Path, env: dict[str, str], n: int
) -> subprocess.Popen[bytes]:
    """``guichet booth`` (windowed) against ``server``, as booth-1, logging to booth-N.log."""
    token = tmp_path / "booth.token"
    token.write_text(server.booth_tokens["booth-1"] + "\n")
    token.chmod(0o600)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "guichet.cli",
            "booth",
            "--server",
            server.base_url,
            "--token-file",
            str(token),
            "--fake-media",
            "--windowed",
            "--demo",
        ],
        cwd=REPO,
        env=kivy_env(env),
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / f"booth-{n}.log").open("wb"),
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (what systemd sends), then SIGKILL if it does not stop."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

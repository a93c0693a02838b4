"""``bench/soak.py`` still runs: two full sessions on one booth, both completed.

Not a timed test (figures belong to the bench): it only keeps the script from
rotting. The bench runs as it would by hand, with its real switchboard, real booth
app (Kivy under the test's display or offscreen) and headless Chromium; the test
reads its last line.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.kivy]

REPO = Path(__file__).resolve().parents[2]
LAST_LINE = re.compile(
    r"soak sessions=(\d+) failures=(\d+) rss_growth_mb=(-?\d+\.\d) fd_growth=(-?\d+)"
    r" session_p50_s=(\d+\.\d\d)"
)


def test_soak_bench_runs_two_sessions_without_failure() -> None:
    result = subprocess.run(
        [sys.executable, "bench/soak.py", "--sessions", "2", "--warmup", "0"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    lines = result.stdout.strip().splitlines()
    match = LAST_LINE.fullmatch(lines[-1])
    assert match is not None, output[-6000:]
    sessions, failures, _rss, _fds, p50 = match.groups()
    assert (sessions, failures) == ("2", "0"), output[-6000:]
    assert float(p50) > 0
    # The baseline is measured in the same run, before any session.
    assert any(line.startswith("baseline before any session: rss_mb=") for line in lines)
    assert any(line.startswith("after 2 sessions: rss_mb=") for line in lines)

"""Shared fixtures: a real switchboard server, a private coturn on 127.0.0.1, and the
Hypothesis profiles (tests/fixtures/fuzz.py)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures.fuzz import register_hypothesis_profiles
from fixtures.server import RunningServer, free_port, start_switchboard
from fixtures.turn import TurnServer, start_turnserver, stop_turnserver, turnserver_available

__all__ = ["free_port"]

register_hypothesis_profiles()


@pytest.fixture
def switchboard(tmp_path: Path) -> Iterator[RunningServer]:
    """A switchboard subprocess with agents alice (caf, impots), bob (ants), booths booth-1/2."""
    server = start_switchboard(tmp_path)
    try:
        yield server
    finally:
        server.stop()


# In CI a skip can only hide a missing install step (everything these tests need
# is installed by scripts/install.sh): any skip there fails the run, with its reason.
_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Remember every skipped test with its reason."""
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _skipped.append(f"{report.nodeid}: {reason}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail a CI run that skipped anything."""
    if os.environ.get("CI") and _skipped and exitstatus == 0:
        sys.stderr.write("\nSkipped in CI (a missing install step?):\n")
        sys.stderr.write("".join(f"  {line}\n" for line in _skipped))
        session.exitstatus = 1


@pytest.fixture
def turn_server(tmp_path: Path) -> Iterator[TurnServer]:
    """A private coturn on 127.0.0.1 with a random REST shared secret (stopped after)."""
    if not turnserver_available():
        pytest.skip("needs Debian's coturn (apt-get install coturn)")
    server = start_turnserver(tmp_path / "coturn")
    try:
        yield server
    finally:
        stop_turnserver(server)

"""Shared fixtures: a real switchboard server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures.server import RunningServer, free_port, start_switchboard

__all__ = ["free_port"]


@pytest.fixture
def switchboard(tmp_path: Path) -> Iterator[RunningServer]:
    """A switchboard subprocess with agents alice (caf, impots), bob (ants), booths booth-1/2."""
    server = start_switchboard(tmp_path)
    try:
        yield server
    finally:
        server.stop()

"""The end-to-end tests reuse the booth's Kivy harness from tests/kiosk and the
private cupsd of tests/kiosk/devices."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent.parent
for folder in (TESTS / "kiosk", TESTS / "kiosk" / "devices"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from kiosk.devices.sim.cups_pdf import CupsServer, start_cups_server, stop_cups_server  # noqa: E402


@pytest.fixture
def cups() -> Iterator[CupsServer]:
    """A private cupsd on 127.0.0.1 with a CUPS-PDF queue (cupsd and CUPS-PDF need root)."""
    if shutil.which("cupsd") is None or shutil.which("pdfinfo") is None:
        pytest.skip("needs cups, cups-pdf, cups-ipp-utils and poppler-utils")
    if os.geteuid() != 0:
        pytest.skip("cupsd and CUPS-PDF must run as root (CI does)")
    server = start_cups_server()
    try:
        yield server
    finally:
        stop_cups_server(server)

"""The end-to-end tests reuse the booth's Kivy harness from tests/kiosk and the
private cupsd of tests/kiosk/devices."""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
for folder in (TESTS / "kiosk", TESTS / "kiosk" / "devices"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

"""The end-to-end tests reuse the booth's Kivy harness from tests/kiosk."""

from __future__ import annotations

import sys
from pathlib import Path

KIOSK_TESTS = str(Path(__file__).resolve().parent.parent / "kiosk")
if KIOSK_TESTS not in sys.path:
    sys.path.insert(0, KIOSK_TESTS)

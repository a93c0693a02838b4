"""Goodbye screen: thanks, then back to the welcome screen after ``goodbye_s``."""

from __future__ import annotations

from kiosk.ui.common import BoothScreen, load_kv


class GoodbyeScreen(BoothScreen):
    """Shown after a call; the session machine's timer leaves it."""


load_kv("goodbye")

"""Closed screen: outside the booth's opening hours, instead of welcome."""

from __future__ import annotations

from kiosk.ui.common import BoothScreen, load_kv


class ClosedScreen(BoothScreen):
    """No buttons: the controller re-reads the hours every minute and reopens by itself."""


load_kv("closed")

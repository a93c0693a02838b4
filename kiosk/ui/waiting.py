"""Waiting screen: service, position in the queue, estimated wait, cancel."""

from __future__ import annotations

from kiosk.ui.common import BoothScreen, load_kv


class WaitingScreen(BoothScreen):
    """Shows the citizen's place in the queue; only the cancel button acts."""


load_kv("waiting")

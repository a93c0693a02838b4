"""Out-of-service screen: the switchboard is unreachable; recovers by itself."""

from __future__ import annotations

from kiosk.ui.common import BoothScreen, load_kv


class OutOfServiceScreen(BoothScreen):
    """No buttons: the controller retries and leaves this screen on recovery."""


load_kv("out_of_service")

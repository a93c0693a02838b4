"""Idle warning: a modal asking "are you still there?" over the current screen."""

from __future__ import annotations

from kivy.uix.modalview import ModalView

from kiosk.ui.common import load_kv


class IdleWarning(ModalView):  # type: ignore[misc]  # kivy has no type information
    """Opened and dismissed by the app following ``state.idle_warning``."""


load_kv("idle_warning")

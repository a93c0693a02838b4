"""Goodbye screen: thanks, how did it go (three faces, skippable), then back to
the welcome screen after ``goodbye_s`` without a tap."""

from __future__ import annotations

from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout

from kiosk.ui.common import BoothScreen, load_kv


class FaceButton(ButtonBehavior, BoxLayout):  # type: ignore[misc]  # kivy has no type information
    """A face drawn on the canvas (no emoji font needed) with its word below."""

    mood = NumericProperty(3)
    """1 unhappy, 2 neutral, 3 happy: the mouth's curve."""
    label = StringProperty("")
    chosen = BooleanProperty(False)


class GoodbyeScreen(BoothScreen):
    """Shown after a call; the session machine's timer leaves it."""


load_kv("goodbye")

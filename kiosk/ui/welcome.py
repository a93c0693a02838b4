"""Welcome screen: touch anywhere to start; language buttons."""

from __future__ import annotations

from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout

from kiosk.ui.common import BoothScreen, load_kv


class TouchArea(ButtonBehavior, BoxLayout):  # type: ignore[misc]  # kivy has no types
    """The big area that starts a session when touched."""


class WelcomeScreen(BoothScreen):
    """First screen; shows nothing of any previous citizen."""


load_kv("welcome")

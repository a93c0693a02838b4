"""Shared look of the booth: colours, sizes and the widgets every screen uses.

The palette follows the French state's design system (bleu France #000091 on white,
red only for hanging up); every touch target is at least ``TOUCH_MIN`` high, about
2 cm on a 15" 1280x800 booth screen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kivy.lang import Builder
from kivy.metrics import dp
from kivy.properties import BooleanProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.screenmanager import Screen

from kiosk import guidance

BLUE = (0.0, 0.0, 0.569, 1.0)
BLUE_DARK = (0.0, 0.0, 0.38, 1.0)
BLUE_PALE = (0.925, 0.925, 0.996, 1.0)
WHITE = (1.0, 1.0, 1.0, 1.0)
TEXT = (0.086, 0.086, 0.086, 1.0)
TEXT_MUTED = (0.30, 0.30, 0.30, 1.0)
GREY_BG = (0.93, 0.93, 0.93, 1.0)
GREY_LINE = (0.80, 0.80, 0.80, 1.0)
RED = (0.882, 0.0, 0.059, 1.0)
RED_DARK = (0.65, 0.0, 0.04, 1.0)
GREEN = (0.094, 0.459, 0.235, 1.0)
NOTICE_BG = (1.0, 0.93, 0.85, 1.0)

TOUCH_MIN = dp(96)
"""Smallest touch target height (≥ 2 cm at 1280x800 on a 15" panel)."""
HEADER_H = TOUCH_MIN + dp(16)
"""The header holds the "Listen" button, a full touch target high."""
SPEECH_BUTTON_W = dp(230)
STAFF_SCREENS = ("setup", "technician")
"""Screens for staff only: no spoken guidance, no "Listen" button."""

KV_DIR = Path(__file__).resolve().parent


# The screens and the spoken guidance (kiosk.guidance, no Kivy) share these texts.
RATING_REASONS = guidance.RATING_REASONS
END_MESSAGES = guidance.END_MESSAGES
wait_minutes = guidance.wait_minutes


def load_kv(name: str) -> None:
    """Load ``kiosk/ui/<name>.kv`` once (the screen modules call this at import)."""
    path = str(KV_DIR / f"{name}.kv")
    if path not in Builder.files:
        Builder.load_file(path)


class BoothScreen(Screen):  # type: ignore[misc]  # kivy has no type information
    """Base of every screen (drawn on the window's white clear colour)."""


class ReadingRow(BoxLayout):  # type: ignore[misc]  # kivy has no type information
    """A horizontal row whose children follow the reading order: written left to
    right in kv, shown right to left while the booth reads right to left (Kivy
    2.3's BoxLayout has no right-to-left orientation)."""

    rtl = BooleanProperty(False)

    def __init__(self, **kwargs: Any) -> None:
        self._ready = False
        self._shown_rtl = False
        super().__init__(**kwargs)

    def on_kv_post(self, base_widget: Any) -> None:
        """The kv children exist: put them in reading order."""
        self._ready = True
        self._follow()

    def on_rtl(self, *_: Any) -> None:
        """The reading direction changed."""
        self._follow()

    def _follow(self) -> None:
        if not self._ready or self.rtl == self._shown_rtl:
            return
        children = list(self.children)
        self.clear_widgets()
        for child in children:
            self.add_widget(child)  # each goes first: the order is reversed
        self._shown_rtl = self.rtl


class TechnicianCorner(ButtonBehavior, Label):  # type: ignore[misc]  # kivy has no types
    """The header's booth name: the hidden technician gesture's target."""


class SpeechButton(ButtonBehavior, ReadingRow):  # type: ignore[misc]  # kivy has no types
    """The header's "Listen" toggle: the screens read aloud for this citizen, or not.

    On it is filled and its loudspeaker sends waves; off it is outlined and its
    loudspeaker is crossed out (the state shows by shape, not only by colour).
    Without espeak-ng it stays, greyed, saying the voice is unavailable: a helper
    looking for it learns why, rather than hunting for a button that is not there.
    Its icon comes first in the reading order (on the right in Arabic).
    """

    citizen = BooleanProperty(True)
    """Shown on the citizen screens only (hidden on the staff screens)."""
    speech_on = BooleanProperty(False)


load_kv("common")

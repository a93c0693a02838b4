"""Shared look of the booth: colours, sizes and the widgets every screen uses.

The palette follows the French state's design system (bleu France #000091 on white,
red only for hanging up); every touch target is at least ``TOUCH_MIN`` high, about
2 cm on a 15" 1280x800 booth screen.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from kivy.lang import Builder
from kivy.metrics import dp
from kivy.properties import BooleanProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.screenmanager import Screen

from kiosk.i18n import N_

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
HEADER_H = dp(88)

KV_DIR = Path(__file__).resolve().parent


RATING_REASONS = (
    ("wait", N_("I waited too long")),
    ("technical", N_("Sound, picture or device problem")),
    ("unclear", N_("My question was not solved")),
    ("other", N_("Another reason")),
)
"""What the goodbye screen offers after an unhappy or neutral face: the reason
sent to the server, and its English msgid."""

END_MESSAGES = {
    "media_unavailable": N_("The camera or the microphone is not working."),
    "failed": N_("The call was interrupted."),
    "peer_lost": N_("The call was interrupted."),
    "agent_gone": N_("The call was interrupted."),
    "relay_failed": N_("The video connection could not be made. Please try again later."),
}
"""Extra line on the goodbye screen when the call did not end normally (msgids)."""


def wait_minutes(estimated_wait_s: float) -> int:
    """Whole minutes to show for an estimate, rounded up (0: "less than a minute").

    Rounded up so the booth never promises an agent sooner than the estimate.
    """
    if estimated_wait_s < 60:
        return 0
    return math.ceil(estimated_wait_s / 60)


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


load_kv("common")

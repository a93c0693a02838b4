"""Shared look of the booth: sizes and the widgets every screen uses.

Colours are not here: kv rules read them from ``app.theme`` (:mod:`kiosk.ui.theme`,
palettes in :mod:`kiosk.ui.palette`) so the citizen's high-contrast and larger-text
modes re-render every screen. Every touch target is at least ``TOUCH_MIN`` in both
directions, 2.5 cm on a 15.6" 1280x800 booth screen (the 2 cm rule is checked by
``tests/kiosk/test_booth_a11y_ui.py`` at the configured ``screen_diagonal_in``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kivy.lang import Builder
from kivy.metrics import dp
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.label import Label
from kivy.uix.modalview import ModalView
from kivy.uix.screenmanager import Screen

from kiosk import guidance

TOUCH_MIN = dp(96)
"""Smallest touch target side (2.5 cm at 1280x800 on a 15.6" panel; 2 cm is the rule)."""
HEADER_H = TOUCH_MIN + dp(16)
"""The header holds the accessibility controls, each a full touch target."""
SPEECH_BUTTON_W = dp(190)
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

    def on_orientation(self, *_: Any) -> None:
        """Stacked (larger text): top to bottom whatever the reading direction."""
        self._follow()

    def _follow(self) -> None:
        wanted = self.rtl and self.orientation == "horizontal"
        if not self._ready or wanted == self._shown_rtl:
            return
        children = list(self.children)
        self.clear_widgets()
        for child in children:
            self.add_widget(child)  # each goes first: the order is reversed
        self._shown_rtl = wanted


class TechnicianCorner(ButtonBehavior, Label):  # type: ignore[misc]  # kivy has no types
    """The header's booth name: the hidden technician gesture's target."""


class HeaderButton(ButtonBehavior, ReadingRow):  # type: ignore[misc]  # kivy has no types
    """A control of the header's accessibility bar (drawn inverted while ``active``)."""

    text = StringProperty("")
    active = BooleanProperty(False)


class HeaderToggle(HeaderButton):
    """A mode the citizen turns on and off (larger text, high contrast...)."""


class LanguageMenuButton(HeaderButton):
    """The current language, in its own name: opens the :class:`LanguageChooser`."""


class LanguageChoice(Button):  # type: ignore[misc]  # kivy has no type information
    """One language of the chooser, named in itself."""

    lang = StringProperty("")
    gid = StringProperty("")
    selected = BooleanProperty(False)


class LanguageChooser(ModalView):  # type: ignore[misc]  # kivy has no type information
    """The booth's languages as big buttons; the app closes it once one is chosen."""

    def fill(self, languages: list[str]) -> None:
        """One button per language (``gid`` ``choose_lang_<code>``)."""
        grid = self.ids.language_list
        grid.clear_widgets()
        for lang in languages:
            grid.add_widget(LanguageChoice(lang=lang, gid=f"choose_lang_{lang}"))

    def open(self, *args: Any, **kwargs: Any) -> None:
        """Open, listing the languages the booth offers now (they follow its config)."""
        from kivy.app import App

        self.fill(list(App.get_running_app().state.languages))
        super().open(*args, **kwargs)


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

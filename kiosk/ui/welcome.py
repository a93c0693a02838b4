"""Welcome screen: touch anywhere to start; one button per configured language."""

from __future__ import annotations

from typing import Any

from kivy.metrics import dp
from kivy.properties import StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.widget import Widget

from kiosk.ui.common import BoothScreen, load_kv

BUTTON_MAX_W = dp(280)
"""Width of a language button when the bar has room (two or three languages)."""
BAR_PADDING = dp(24)
BAR_SPACING = dp(24)


def language_button_width(
    bar_width: float,
    count: int,
    *,
    padding: float = BAR_PADDING,
    spacing: float = BAR_SPACING,
    max_width: float = BUTTON_MAX_W,
) -> float:
    """Width of each of ``count`` buttons so they all fit on one bar of ``bar_width``.

    The bar holds a spacer on each side (to centre the buttons), so ``count + 1``
    gaps of ``spacing`` and the padding on both sides are taken off first.
    """
    if count <= 0:
        return max_width
    room = bar_width - 2 * padding - (count + 1) * spacing
    return max(0.0, min(max_width, room / count))


class TouchArea(ButtonBehavior, BoxLayout):  # type: ignore[misc]  # kivy has no types
    """The big area that starts a session when touched."""


class LanguageButton(Button):  # type: ignore[misc]  # kivy has no types
    """One language, named in itself; selected while it is the citizen's language."""

    lang = StringProperty("")
    gid = StringProperty("")
    """Name the test harness finds it by: ``lang_<code>``."""


class WelcomeScreen(BoothScreen):
    """First screen; shows nothing of any previous citizen."""

    def on_kv_post(self, base_widget: Any) -> None:
        """Build the language buttons now and whenever the configured list changes."""
        from kivy.app import App

        App.get_running_app().state.bind(languages=self._build_languages)
        self.ids.language_bar.bind(width=self._fit_languages)
        self._build_languages()

    def _build_languages(self, *_: Any) -> None:
        from kivy.app import App

        bar = self.ids.language_bar
        for child in list(bar.children):
            if getattr(child, "lang", None):
                self.ids.pop(f"lang_{child.lang}", None)
        bar.clear_widgets()
        bar.add_widget(Widget())
        for code in App.get_running_app().state.languages:
            button = LanguageButton(lang=code, gid=f"lang_{code}")
            self.ids[f"lang_{code}"] = button
            bar.add_widget(button)
        bar.add_widget(Widget())
        self._fit_languages()

    def _fit_languages(self, *_: Any) -> None:
        bar = self.ids.language_bar
        buttons = [c for c in bar.children if getattr(c, "lang", None)]
        width = language_button_width(bar.width, len(buttons))
        for button in buttons:
            button.width = width


load_kv("welcome")

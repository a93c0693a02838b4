"""The booth's observable theme: colours and text scale that every kv rule binds to.

``app.theme`` is one :class:`Theme`; kv rules read ``app.theme.PRIMARY``,
``sp(28) * app.theme.scale`` (``sp(52) * app.theme.heading_scale`` for headings of
44 sp and more) and so on, so switching the citizen's modes re-renders
every screen. The palettes themselves are pure data in :mod:`kiosk.ui.palette`.
"""

from __future__ import annotations

from typing import Any

from kivy.event import EventDispatcher
from kivy.metrics import dp
from kivy.properties import BooleanProperty, ColorProperty, NumericProperty

from kiosk.ui.palette import LARGE_HEADING_SCALE, LARGE_TEXT_SCALE, ROLES, hex_rgba, palette

BORDER_DP = {False: 2, True: 4}
"""Outline width of buttons and cards: thicker in high contrast."""


class Theme(EventDispatcher):  # type: ignore[misc]  # kivy has no type information
    """One property per colour role, the text ``scale`` and the outline width."""

    BG = ColorProperty()
    SURFACE = ColorProperty()
    TEXT = ColorProperty()
    TEXT_MUTED = ColorProperty()
    PRIMARY = ColorProperty()
    PRIMARY_DOWN = ColorProperty()
    ON_PRIMARY = ColorProperty()
    PALE = ColorProperty()
    SUBTLE = ColorProperty()
    LINE = ColorProperty()
    DANGER = ColorProperty()
    DANGER_DOWN = ColorProperty()
    ON_DANGER = ColorProperty()
    SUCCESS = ColorProperty()
    ERROR = ColorProperty()
    NOTICE_BG = ColorProperty()
    scale = NumericProperty(1.0)
    """Multiplies every font size (``LARGE_TEXT_SCALE`` in larger-text mode)."""
    heading_scale = NumericProperty(1.0)
    """Multiplies headings' font sizes (``LARGE_HEADING_SCALE`` in larger-text mode)."""
    border = NumericProperty(dp(BORDER_DP[False]))
    high_contrast = BooleanProperty(False)
    large_text = BooleanProperty(False)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._set_palette(False)

    def apply(self, *, high_contrast: bool, large_text: bool) -> None:
        """Switch to the citizen's modes (only changed values fire)."""
        if high_contrast != self.high_contrast:
            self._set_palette(high_contrast)
        self.high_contrast = high_contrast
        self.large_text = large_text
        self.scale = LARGE_TEXT_SCALE if large_text else 1.0
        self.heading_scale = LARGE_HEADING_SCALE if large_text else 1.0
        self.border = dp(BORDER_DP[high_contrast])

    def _set_palette(self, high_contrast: bool) -> None:
        colours = palette(high_contrast)
        for role in ROLES:
            setattr(self, role, hex_rgba(colours[role]))

"""The booth's observable theme: colours and text scale that every kv rule binds to.

``app.theme`` is one :class:`Theme`; kv rules read ``app.theme.PRIMARY``,
``sp(28) * app.theme.scale`` (``sp(52) * app.theme.scale ** 0.5`` for headings of
44 sp and more) and so on, so switching the citizen's modes re-renders every screen.
The palettes themselves are pure data in :mod:`kiosk.ui.palette`.

kv applies every rule that sets a property (base class, derived class, instance) and
re-runs each one when what it reads changes: the last one run wins. Two rules make
that deterministic. Every font size reads the one ``scale`` (the rules bound later,
i.e. the more specific ones, run later). Every colour role is dispatched on each
palette switch, changed or not, in :data:`~kiosk.ui.palette.ROLES` order: a rule
that overrides a base rule's colour uses a role that comes later in ``ROLES`` (a
title's ``PRIMARY`` over a label's ``TEXT``, a danger button's ``ON_DANGER`` over a
button's ``ON_PRIMARY``).
"""

from __future__ import annotations

from typing import Any

from kivy.event import EventDispatcher
from kivy.metrics import dp
from kivy.properties import BooleanProperty, ColorProperty, NumericProperty

from kiosk.ui.palette import LARGE_TEXT_SCALE, ROLES, hex_rgba, palette

BORDER_DP = {False: 2, True: 4}
"""Outline width of buttons and cards: thicker in high contrast."""


class Theme(EventDispatcher):  # type: ignore[misc]  # kivy has no type information
    """One property per colour role, the text ``scale`` and the outline width."""

    BG = ColorProperty(force_dispatch=True)
    SURFACE = ColorProperty(force_dispatch=True)
    TEXT = ColorProperty(force_dispatch=True)
    TEXT_MUTED = ColorProperty(force_dispatch=True)
    PRIMARY = ColorProperty(force_dispatch=True)
    PRIMARY_DOWN = ColorProperty(force_dispatch=True)
    ON_PRIMARY = ColorProperty(force_dispatch=True)
    PALE = ColorProperty(force_dispatch=True)
    SUBTLE = ColorProperty(force_dispatch=True)
    LINE = ColorProperty(force_dispatch=True)
    DANGER = ColorProperty(force_dispatch=True)
    DANGER_DOWN = ColorProperty(force_dispatch=True)
    ON_DANGER = ColorProperty(force_dispatch=True)
    SUCCESS = ColorProperty(force_dispatch=True)
    ERROR = ColorProperty(force_dispatch=True)
    NOTICE_BG = ColorProperty(force_dispatch=True)
    scale = NumericProperty(1.0)
    """Multiplies every font size (``LARGE_TEXT_SCALE`` in larger-text mode)."""
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
        self.border = dp(BORDER_DP[high_contrast])

    def _set_palette(self, high_contrast: bool) -> None:
        colours = palette(high_contrast)
        for role in ROLES:
            setattr(self, role, hex_rgba(colours[role]))

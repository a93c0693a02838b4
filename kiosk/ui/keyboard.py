"""The docked on-screen keyboard, sized so that every key is a 2 cm touch target.

Kivy's own keyboard is 700x200 units scaled to the window's width: on a 15.6"
1280x800 panel its keys come out about 1.5 cm high and 1.8 cm wide. This one is laid
out at the window's width (scale 1) with thin margins and as many pixels per row as
the 2 cm rule needs on the configured panel (``BoothSettings.px_per_cm``).
"""

from __future__ import annotations

import math
from typing import Any

from kivy.uix.vkeyboard import VKeyboard

TOUCH_MIN_CM = 2.0
"""Smallest side of any touch target on the booth (keys included)."""
MARGIN_HINT = (0.02, 0.01, 0.02, 0.01)
"""Keyboard margins (top, right, bottom, left) as fractions of its size."""
KEY_MARGIN_PX = 2
"""Gap on each side of a key, in pixels."""
KEYBOARD_FONT = 30
KEY_ROWS = 5
"""Rows of Kivy's keyboard layouts (azerty, qwerty... all have five); the layout
itself loads later, on the clock, so the height is set from this."""


def docked_keyboard_height(rows: int, px_per_cm: float) -> int:
    """Keyboard height (px) giving each of ``rows`` key rows a key ≥ 2 cm high."""
    key_px = TOUCH_MIN_CM * px_per_cm + 2 * KEY_MARGIN_PX
    usable = 1.0 - MARGIN_HINT[0] - MARGIN_HINT[2]
    # +1 px per row: Kivy truncates key sizes to whole pixels.
    return math.ceil((key_px + 1) * rows / usable)


class BoothKeyboard(VKeyboard):  # type: ignore[misc]  # kivy has no type information
    """VKeyboard at the window's width, tall enough for 2 cm keys."""

    px_per_cm = 38.0
    """Set by the app from the booth's settings before the first keyboard is made."""

    def __init__(self, **kwargs: Any) -> None:
        from kivy.core.window import Window

        kwargs.setdefault("margin_hint", list(MARGIN_HINT))
        kwargs.setdefault("key_margin", [KEY_MARGIN_PX] * 4)
        kwargs.setdefault("font_size", KEYBOARD_FONT)
        kwargs.setdefault("size_hint", (None, None))
        # Docked, Kivy scales the keyboard by window width / its width: 1 here.
        kwargs.setdefault("size", (Window.width, docked_keyboard_height(KEY_ROWS, self.px_per_cm)))
        super().__init__(**kwargs)

    def key_sizes(self) -> list[tuple[float, float]]:
        """Every key's (width, height) in window pixels, as laid out now."""
        geometry = self.layout_geometry
        rows = int(self.available_layouts[self.layout]["rows"])
        return [
            (w * self.scale, h * self.scale)
            for line in range(1, rows + 1)
            for _pos, (w, h) in geometry.get(f"LINE_{line}", [])
        ]

"""The booth's two palettes and the contrast arithmetic that checks them: pure, no Kivy.

Colours are named by role, not by hue, because the high-contrast palette swaps hues:
``PRIMARY`` is bleu France (#000091) on white in the normal theme and yellow on black
in the high-contrast one. :data:`TEXT_PAIRS` lists every text colour the screens draw
over every background it is drawn on; the tests hold each pair to WCAG's ratio
(4.5:1 normal, 7:1 high contrast).
"""

from __future__ import annotations

from typing import Final

ROLES: Final = (
    "BG",
    "SURFACE",
    "TEXT",
    "TEXT_MUTED",
    "PRIMARY",
    "PRIMARY_DOWN",
    "ON_PRIMARY",
    "PALE",
    "SUBTLE",
    "LINE",
    "DANGER",
    "DANGER_DOWN",
    "ON_DANGER",
    "SUCCESS",
    "ERROR",
    "NOTICE_BG",
)
"""Every colour role; the theme has one Kivy property per role, dispatched in this
order on a palette switch: generic roles first, the roles that override them later
(see :mod:`kiosk.ui.theme`)."""

NORMAL: Final[dict[str, str]] = {
    "BG": "#FFFFFF",  # the window's clear colour
    "SURFACE": "#FFFFFF",  # secondary buttons, modal cards
    "TEXT": "#161616",
    "TEXT_MUTED": "#4D4D4D",
    "PRIMARY": "#000091",  # bleu France: primary buttons, titles, secondary text
    "PRIMARY_DOWN": "#000061",
    "ON_PRIMARY": "#FFFFFF",
    "PALE": "#ECECFE",  # the citizen's chat lines, the language row, pressed buttons
    "SUBTLE": "#EDEDED",  # the agent's chat lines, closed services
    "LINE": "#CCCCCC",
    "DANGER": "#E1000F",  # hanging up only
    "DANGER_DOWN": "#A6000A",
    "ON_DANGER": "#FFFFFF",
    "SUCCESS": "#18753C",
    "ERROR": "#A6000A",
    "NOTICE_BG": "#FFEDD9",
}

HIGH_CONTRAST: Final[dict[str, str]] = {
    "BG": "#000000",
    "SURFACE": "#000000",
    "TEXT": "#FFFFFF",
    "TEXT_MUTED": "#E0E0E0",
    "PRIMARY": "#FFFF00",
    "PRIMARY_DOWN": "#CCCC00",
    "ON_PRIMARY": "#000000",
    "PALE": "#00005C",
    "SUBTLE": "#262626",
    "LINE": "#FFFFFF",
    # Dark red under white text (and a white border): still the red button, at 7:1.
    "DANGER": "#B00000",
    "DANGER_DOWN": "#780000",
    "ON_DANGER": "#FFFFFF",
    "SUCCESS": "#66FF99",
    "ERROR": "#FF8080",
    "NOTICE_BG": "#332B00",
}

PALETTES: Final[dict[bool, dict[str, str]]] = {False: NORMAL, True: HIGH_CONTRAST}
"""By ``high_contrast``."""

MIN_CONTRAST: Final[dict[bool, float]] = {False: 4.5, True: 7.0}
"""WCAG 2 ratios every text pair must reach: AA normally, AAA in high contrast."""

TEXT_PAIRS: Final = (
    ("TEXT", "BG"),
    ("TEXT_MUTED", "BG"),
    ("PRIMARY", "BG"),  # titles, secondary buttons' text
    ("PRIMARY", "SURFACE"),
    ("PRIMARY", "PALE"),  # pressed secondary buttons, setup keys, device activity
    ("TEXT", "SURFACE"),  # modal cards
    ("TEXT_MUTED", "SURFACE"),
    ("ON_PRIMARY", "PRIMARY"),
    ("ON_PRIMARY", "PRIMARY_DOWN"),
    ("TEXT", "PALE"),  # the citizen's chat lines, a pressed service, device rows
    ("TEXT_MUTED", "PALE"),  # device rows' job counts
    ("SUCCESS", "PALE"),  # a pressed open service, a ready device
    ("ERROR", "PALE"),  # an unavailable device
    ("TEXT", "SUBTLE"),  # the agent's chat lines, the technician's figures
    ("TEXT_MUTED", "SUBTLE"),  # closed services
    ("ON_DANGER", "DANGER"),
    ("ON_DANGER", "DANGER_DOWN"),
    ("SUCCESS", "BG"),
    ("ERROR", "BG"),
    ("TEXT", "NOTICE_BG"),
)
"""(text role, background role) of every text the screens draw."""

LARGE_TEXT_SCALE: Final = 1.4
"""Text size factor of the larger-text mode for body text, buttons and labels."""
LARGE_HEADING_SCALE: Final = LARGE_TEXT_SCALE**0.5
"""The same for headings (44 sp and more, already large print; kv writes it
``app.theme.scale ** 0.5``): 1.4x of those would push the rest of a screen off it."""


def hex_rgba(colour: str) -> list[float]:
    """``#rrggbb`` as Kivy's rgba floats (opaque); ValueError for anything else."""
    if len(colour) != 7 or colour[0] != "#":
        raise ValueError(f"not a #rrggbb colour: {colour!r}")
    return [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)] + [1.0]


def relative_luminance(colour: str) -> float:
    """WCAG 2 relative luminance of ``#rrggbb`` (0 black … 1 white)."""

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b, _ = hex_rgba(colour)
    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)


def contrast_ratio(fg: str, bg: str) -> float:
    """WCAG 2 contrast ratio between two ``#rrggbb`` colours (1 … 21)."""
    a, b = sorted((relative_luminance(fg), relative_luminance(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def palette(high_contrast: bool) -> dict[str, str]:
    """The palette of a mode."""
    return PALETTES[high_contrast]

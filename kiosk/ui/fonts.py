"""Fonts for scripts the booth's default font has no glyphs for, and shaped language names.

Kivy's default font (Roboto) has no Arabic letters. Debian ``fonts-noto-core``
(``scripts/install.sh``) provides Noto Sans Arabic. No Kivy import: the screens pass
what these return to their labels.
"""

from __future__ import annotations

from pathlib import Path

from kiosk.i18n import LANGUAGE_NAMES, is_rtl

NOTO_DIR = Path("/usr/share/fonts/truetype/noto")
SCRIPT_FONTS = {"ar": NOTO_DIR / "NotoSansArabic-Regular.ttf"}
"""Font file per language whose script the default font cannot draw."""
SCRIPT_FONTS_BOLD = {"ar": NOTO_DIR / "NotoSansArabic-Bold.ttf"}
"""Their bold faces (a font given by path gets no bold from Kivy's ``bold``)."""


def language_font(code: str, *, bold: bool = False) -> str | None:
    """Path of the font to draw text of ``code`` with; None: the default font does.

    Raises :class:`FileNotFoundError` naming the Debian package if the font is missing
    (a booth installed without it would show empty boxes instead of letters).
    """
    path = (SCRIPT_FONTS_BOLD if bold else SCRIPT_FONTS).get(code)
    if path is None:
        return None
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: install the Debian package fonts-noto-core")
    return str(path)


def display_name(code: str) -> str:
    """The language's own name ready to draw: Arabic letters joined and in visual order.

    Kivy's text provider neither joins Arabic letters nor reorders right-to-left
    text, so the name is shaped (``arabic_reshaper``) and reordered (``bidi``) here.
    """
    name = LANGUAGE_NAMES.get(code, code)
    if not is_rtl(code):
        return name
    from arabic_reshaper import reshape
    from bidi.algorithm import get_display

    return str(get_display(reshape(name)))

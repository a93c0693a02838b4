"""Fonts that draw every script the booth shows: one per language, a fallback per text.

Kivy's default font, Roboto, has Latin, Greek and Cyrillic but no Arabic letter.
Measured with fontTools on Debian 12's fonts:

==================  ======  ===============  =================  =====  ==============
font                Arabic  presentation B   presentation A     Latin  ``… ’ « ‹ ·``
==================  ======  ===============  =================  =====  ==============
Roboto (Kivy)       0       0                0                  yes    yes
NotoSansArabic      254     140/141          611                no     only «
NotoNaskhArabic     252     140/141          611                no     only «
DejaVuSans          165     140/141          108                yes    yes
==================  ======  ===============  =================  =====  ==============

``arabic_reshaper`` turns letters into *presentation forms B* (U+FE70–FEFF), which
every Arabic-capable font above has. The Noto Arabic fonts have no Latin letter and
no ASCII digit, and an Arabic booth shows "CAF", agents' names, "12 min": so Arabic
is drawn with **DejaVu Sans** (Arabic, Latin, digits and punctuation in one face: no
tofu box and one look on a screen). A label is drawn in one font, so the choice is:

1. per language (:func:`language_font_name`, :func:`language_font` for its file):
   the booth's default font while that language is shown (``BOOTH_FONT.font_name``,
   bound by a ``<Label>`` kv rule);
2. per text (:func:`covering_font`): a text holding a character its font cannot
   draw (the "العربية" language button while the booth is in French, an Arabic
   chat line in a French call) is drawn with the first face of ``FALLBACK_FACES``
   that draws all of it. The core label hook (``kiosk.ui.rtl_label``) asks this
   at every render; text its font draws keeps its font.

A missing font file is logged once and left out: the booth then draws with Kivy's
default font (tofu for Arabic, never a crash). To add a script: install a Debian
font package that has it, add its face to ``FACES`` (and to ``FALLBACK_FACES``), and
name it in ``LANGUAGE_FONTS`` for the languages written in it (and a right-to-left
language in ``kiosk.i18n.RTL_LANGUAGES``).

Text is handed to labels in logical order (:func:`display_name` too): shaping and
right-to-left order are the core label hook's job (``kiosk.ui.rtl_label``), done
once for every label; text shaped beforehand would be reordered twice.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fontTools.ttLib import TTFont
from kivy.core.text import DEFAULT_FONT, LabelBase
from kivy.event import EventDispatcher
from kivy.properties import BooleanProperty, StringProperty

from kiosk.i18n import LANGUAGE_NAMES, is_rtl

logger = logging.getLogger(__name__)

FONT_DIR = Path("/usr/share/fonts/truetype")


@dataclass(frozen=True)
class FontFace:
    """A font family as Kivy registers it: an alias, a regular and a bold file."""

    name: str
    regular: Path
    bold: Path


DEJAVU_SANS = FontFace(
    "GuichetDejaVuSans",
    FONT_DIR / "dejavu" / "DejaVuSans.ttf",
    FONT_DIR / "dejavu" / "DejaVuSans-Bold.ttf",
)
"""Debian ``fonts-dejavu-core``: Latin and Arabic (with presentation forms) in one face."""
NOTO_SANS_ARABIC = FontFace(
    "GuichetNotoSansArabic",
    FONT_DIR / "noto" / "NotoSansArabic-Regular.ttf",
    FONT_DIR / "noto" / "NotoSansArabic-Bold.ttf",
)
"""Debian ``fonts-noto-core``: every Arabic letter, no Latin (last-resort fallback)."""

FACES = (DEJAVU_SANS, NOTO_SANS_ARABIC)
FALLBACK_FACES = (DEJAVU_SANS, NOTO_SANS_ARABIC)
"""Tried in this order for a text the label's own font cannot draw."""

LANGUAGE_FONTS = {"ar": DEJAVU_SANS.name}
"""Font alias per language; a language not named here uses Kivy's default (Roboto)."""

_registered: set[str] = set()
_missing_logged: set[Path] = set()


def _available(face: FontFace) -> bool:
    missing = [p for p in (face.regular, face.bold) if not p.is_file()]
    for path in missing:
        if path not in _missing_logged:
            _missing_logged.add(path)
            logger.error("font file %s is missing: using Kivy's default font instead", path)
    return not missing


def register_fonts() -> list[str]:
    """Register every available face with Kivy (regular and bold); return their aliases."""
    for face in FACES:
        if face.name not in _registered and _available(face):
            LabelBase.register(face.name, str(face.regular), fn_bold=str(face.bold))
            _registered.add(face.name)
    return sorted(_registered)


def language_font_name(code: str) -> str:
    """The font alias the booth draws language ``code`` with (Kivy's default if unavailable)."""
    name = LANGUAGE_FONTS.get(code)
    if name is None:
        return str(DEFAULT_FONT)
    register_fonts()
    return name if name in _registered else str(DEFAULT_FONT)


def language_font(code: str, *, bold: bool = False) -> str | None:
    """Path of the font file to draw language ``code`` with; None: the default font does.

    A missing file is logged once and gives None (the default font: empty boxes for
    letters it lacks, but the booth keeps running).
    """
    name = LANGUAGE_FONTS.get(code)
    face = next((f for f in FACES if f.name == name), None)
    if face is None or not _available(face):
        return None
    return str(face.bold if bold else face.regular)


def display_name(code: str) -> str:
    """The language named in itself, in logical order (the core label hook shapes it)."""
    return LANGUAGE_NAMES.get(code, code)


@cache
def glyphs(path: str) -> frozenset[int]:
    """The code points the font file at ``path`` maps to a glyph (empty if unreadable)."""
    try:
        with TTFont(path, lazy=True) as font:
            return frozenset(font.getBestCmap())
    except Exception:  # a broken font file must not stop the booth
        logger.exception("cannot read the character map of %s", path)
        return frozenset()


def _needs_glyph(char: str) -> bool:
    # Spaces, newlines and invisible format marks (RLM, ZWJ) are not drawn as glyphs.
    return not char.isspace() and unicodedata.category(char) not in ("Cc", "Cf")


def missing_chars(path: str, text: str) -> set[str]:
    """The characters of ``text`` the font file at ``path`` has no glyph for."""
    if text.isascii() and ord("A") in glyphs(path):
        return set()  # fast path: every booth font draws ASCII
    cmap = glyphs(path)
    return {c for c in set(text) if _needs_glyph(c) and ord(c) not in cmap}


def covering_font(path: str, text: str, bold: bool) -> str | None:
    """A font file to draw ``text`` with instead of ``path``; None if ``path`` draws it all.

    The first face of ``FALLBACK_FACES`` that draws every character wins; if none
    does, the one missing the fewest (fewer tofu boxes than the label's own font).
    """
    missing = missing_chars(path, text)
    if not missing:
        return None
    best: tuple[int, str] | None = None
    for face in FALLBACK_FACES:
        if not _available(face):
            continue
        candidate = str(face.bold if bold else face.regular)
        if candidate == path:
            continue
        left = len(missing_chars(candidate, text))
        if left == 0:
            return candidate
        if left < len(missing) and (best is None or left < best[0]):
            best = (left, candidate)
    return best[1] if best is not None else None


class BoothFont(EventDispatcher):  # type: ignore[misc]  # kivy has no type information
    """The script shown now: the font of every booth label and text field, and its
    direction (kv rules bind to both; the core label hook reads ``rtl``)."""

    font_name = StringProperty(DEFAULT_FONT)
    rtl = BooleanProperty(False)

    def use_language(self, code: str) -> None:
        """Switch to language ``code``'s font and direction; a label re-renders only if
        its font changes."""
        self.font_name = language_font_name(code)
        self.rtl = is_rtl(code)


BOOTH_FONT = BoothFont()
"""The booth's one font switch (``#:import F kiosk.ui.fonts`` then ``F.BOOTH_FONT``)."""

"""Kivy-side checks of the right-to-left hook and the fonts, run by ``kivy_harness``.

Each function runs in its own process (Kivy's text provider, real SDL2_ttf and the
Debian fonts); only the measuring pass of the core label is used, which needs no
window, so no app is started.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import arabic_reshaper

from kiosk.bidi_text import keep_ltr


def _labels() -> tuple[Any, Any]:
    from kiosk.ui.rtl_label import BidiLabel, CoreLabel

    return BidiLabel, CoreLabel


def _layout(label: Any) -> list[tuple[str, float]]:
    return [(line.words[0].text if line.words else "", line.w) for line in label._cached_lines]


async def hook_leaves_latin_to_kivy_and_lays_out_arabic(ctx: dict[str, object]) -> None:
    """Latin: Kivy's own layout. Arabic: wrapped, shaped, mirrored, within the room."""
    from kiosk.ui.fonts import BOOTH_FONT, DEJAVU_SANS, register_fonts

    bidi_label, core_label = _labels()
    register_fonts()
    options: dict[str, Any] = {"font_size": 28, "text_size": (360, None), "halign": "left"}

    latin = "Touchez l'écran pour commencer, puis choisissez un service dans la liste."
    ours, kivys = bidi_label(text=latin, **options), core_label(text=latin, **options)
    assert ours.render() == kivys.render()
    assert _layout(ours) == _layout(kivys) and ours.drawn_text is None

    arabic = "أودع ملفك رقم 12345 لدى CAF قبل يوم 15 مارس، ثم انتظر رسالة التأكيد"
    label = bidi_label(text=arabic, font_name=DEJAVU_SANS.name, **options)
    width, _height = label.render()
    lines = label.drawn_text.split("\n")
    assert len(lines) >= 3
    assert len(label._cached_lines) == len(lines)  # Kivy wrapped none of our lines again
    assert all(w <= 360 - 20 for _text, w in _layout(label)), _layout(label)
    assert width == 360
    # Mirrored for the layout, given back afterwards.
    assert label._cached_lines[0].words[0].options["halign"] == "right"
    assert label.options["halign"] == "left" and label.text == arabic
    # The first words are on the first line (the first word read is at its right end).
    assert lines[0].endswith(arabic_reshaper.reshape("أودع")[::-1]), lines[0]

    # Shortened: the end of the sentence goes, the ellipsis on the reading end (left).
    short = bidi_label(
        text=arabic, font_name=DEJAVU_SANS.name, shorten=True, font_size=28, text_size=(300, None)
    )
    short.render()
    assert short.is_shortened and short.drawn_text.startswith("…")
    assert "\n" not in short.drawn_text and short.get_extents(short.drawn_text)[0] <= 300

    # A booth reading right to left mirrors Latin labels too, without reordering them.
    BOOTH_FONT.use_language("ar")
    try:
        mirrored = bidi_label(text="Visio-guichet", **options)
        mirrored.render()
        assert mirrored.drawn_text is None
        assert mirrored._cached_lines[0].words[0].options["halign"] == "right"
        embedded = bidi_label(text="مفتوح  ·  " + keep_ltr("7 j/7, 24 h/24"), **options)
        embedded.render()
        assert embedded.drawn_text.startswith("7 j/7, 24 h/24")
        assert "\u202a" not in embedded.drawn_text
    finally:
        BOOTH_FONT.use_language("fr")
    assert not BOOTH_FONT.rtl


async def fonts_cover_every_script(ctx: dict[str, object]) -> None:
    """Arabic gets a font that draws it; Latin keeps Roboto; a missing file never crashes."""
    from kivy.core.text import DEFAULT_FONT

    from kiosk.ui import fonts

    bidi_label, _core = _labels()
    fonts.register_fonts()
    assert fonts.language_font_name("ar") == fonts.DEJAVU_SANS.name
    assert fonts.language_font_name("fr") == fonts.language_font_name("pt") == DEFAULT_FONT
    assert fonts.language_font("ar", bold=True) == str(fonts.DEJAVU_SANS.bold)

    # Roboto has no Arabic: the label draws "العربية" with DejaVu Sans (bold: its bold).
    button = bidi_label(text="العربية", bold=True, font_size=30)
    assert button.options["font_name_r"] == str(fonts.DEJAVU_SANS.bold)
    latin = bidi_label(text="Français", bold=True, font_size=30)
    assert "Roboto" in latin.options["font_name_r"]
    roboto = latin.options["font_name_r"]
    assert fonts.missing_chars(roboto, "Français ‹ … « » ’") == set()
    assert fonts.missing_chars(roboto, "مرحبا") == set("مرحبا")
    # Mixed text: DejaVu draws Arabic presentation forms, Latin and digits alike.
    mixed = "ﺃﻧﺖ ﺭﻗﻢ 12 CAF é …"
    assert fonts.missing_chars(str(fonts.DEJAVU_SANS.regular), mixed) == set()
    assert fonts.missing_chars(str(fonts.NOTO_SANS_ARABIC.regular), mixed) >= set("CAFé")

    # A missing font file: logged once, Kivy's default used, nothing raised.
    gone = fonts.FontFace(
        "GuichetGone", Path("/nonexistent/Gone.ttf"), Path("/nonexistent/Gone-Bold.ttf")
    )
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    fonts.logger.addHandler(handler)
    saved = fonts.FACES, fonts.FALLBACK_FACES, dict(fonts.LANGUAGE_FONTS)
    fonts.FACES = fonts.FALLBACK_FACES = (gone,)
    fonts.LANGUAGE_FONTS["xx"] = gone.name
    try:
        fonts.register_fonts()
        assert fonts.language_font_name("xx") == DEFAULT_FONT
        assert fonts.language_font("xx") is None
        assert fonts.covering_font(roboto, "مرحبا", False) is None  # nothing better: keep it
        label = bidi_label(text="مرحبا", font_size=20)
        assert label.render()[0] > 0
    finally:
        fonts.FACES, fonts.FALLBACK_FACES = saved[0], saved[1]
        fonts.LANGUAGE_FONTS.clear()
        fonts.LANGUAGE_FONTS.update(saved[2])
        fonts.logger.removeHandler(handler)
    missing = [r for r in records if "missing" in r.getMessage()]
    assert len(missing) == 2, [r.getMessage() for r in records]  # once per file

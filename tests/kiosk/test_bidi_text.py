"""Right-to-left wrapping, shaping and reordering (kiosk.bidi_text), measured with a real font.

The measuring function reads DejaVu Sans's own advance widths with fontTools (the font
the booth draws Arabic with), so line widths are those of the glyphs drawn.
"""

from __future__ import annotations

from functools import cache

import arabic_reshaper
from fontTools.ttLib import TTFont
from hypothesis import given
from hypothesis import strategies as st

from kiosk.bidi_text import (
    LRE,
    has_bidi_controls,
    has_rtl,
    keep_ltr,
    paragraph_direction,
    shorten_logical,
    visual_line,
    visual_lines,
    wrap_logical,
)

DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
FONT_PX = 28


@cache
def _metrics() -> tuple[dict[int, str], dict[str, tuple[int, int]], int]:
    font = TTFont(DEJAVU)
    return font.getBestCmap(), font["hmtx"].metrics, font["head"].unitsPerEm


def measure(text: str) -> float:
    """Width in px of ``text`` in DejaVu Sans at FONT_PX (no kerning)."""
    cmap, hmtx, upem = _metrics()
    return sum(hmtx[cmap.get(ord(c), ".notdef")][0] for c in text) * FONT_PX / upem


def shaped(word: str) -> str:
    return str(arabic_reshaper.reshape(word))


def drawn(word: str) -> str:
    """An Arabic word as drawn left to right: shaped, last letter first."""
    return shaped(word)[::-1]


SENTENCE = "أودع ملفك رقم 12345 لدى CAF قبل يوم 15 مارس"


def test_mixed_line_reads_right_to_left_with_digits_and_latin_left_to_right() -> None:
    (line,) = visual_lines(SENTENCE, None, measure)
    # The first word read is drawn at the right end, the last at the left end.
    assert line.endswith(drawn("أودع"))
    assert line.startswith(drawn("مارس"))
    # Numbers and the Latin acronym keep their own left-to-right order.
    assert "12345" in line and "CAF" in line and "15" in line
    # Read right to left: 12345 comes before CAF, so it is drawn to its right.
    assert line.index("CAF") < line.index("12345")
    assert line.index("15") < line.index("CAF")
    # Shaped: presentation forms, no isolated base letters left.
    assert not any("\u0621" <= c <= "\u064a" for c in line)


def test_wraps_in_logical_order_and_every_line_fits() -> None:
    width = measure(shaped("أودع ملفك رقم 12345"))
    logical = wrap_logical(SENTENCE, width, measure)
    assert len(logical) >= 3
    assert " ".join(logical) == SENTENCE
    assert logical[0].startswith("أودع")  # the first words are on the first line
    lines = visual_lines(SENTENCE, width, measure)
    assert lines == [visual_line(x, "R") for x in logical]
    assert all(measure(x) <= width for x in lines)


def test_wrapped_line_starting_with_latin_keeps_the_paragraph_direction() -> None:
    first, second_logical = "مرحبا بكم في الخدمة", "CAF 2024 للمساعدة"
    text = f"{first} {second_logical}"
    width = max(measure(visual_line(first)), measure(visual_line(second_logical))) + 1
    assert measure(visual_line(f"{first} CAF")) > width  # "CAF" must start line two
    logical = wrap_logical(text, width, measure, "R")
    assert logical == [first, second_logical]
    second = visual_lines(text, width, measure)[1]
    # Right to left: "CAF 2024" is read first, so it is at the right end.
    assert second.endswith("CAF 2024")
    # Taken alone, the line would start left to right: the paragraph decides.
    assert visual_line(logical[1]).startswith("CAF 2024")


def test_a_word_wider_than_the_line_is_cut_into_pieces_that_fit() -> None:
    word = "https://www.service-public.fr/particuliers/vosdroits/F1234"
    text = f"زوروا {word} اليوم"
    width = measure("https://www.service")
    lines = visual_lines(text, width, measure)
    assert all(measure(x) <= width for x in lines)
    logical = wrap_logical(text, width, measure)
    assert "".join(x for x in logical if x.isascii()) == word
    assert logical[0] == "زوروا" and logical[-1] == "اليوم"


def test_spaces_inside_a_line_are_kept_and_dropped_where_it_breaks() -> None:
    assert visual_lines("‹  رجوع", 1000, measure) == [drawn("رجوع") + "  ›"]
    width = measure(shaped("رجوع")) + 1
    assert wrap_logical("رجوع   رجوع", width, measure) == ["رجوع", "رجوع"]
    assert wrap_logical("  CAF", 1000, measure) == ["  CAF"]


def test_empty_text_is_one_empty_line() -> None:
    assert visual_lines("", 100, measure) == [""]
    assert visual_lines("", None, measure) == [""]


def test_newlines_break_lines_and_latin_lines_come_back_unchanged() -> None:
    text = "السطر الأول\nSecond line, in English.\n\nالسطر 4"
    lines = visual_lines(text, None, measure)
    assert len(lines) == 4
    assert lines[0].startswith(drawn("الأول"))
    assert lines[1] == "Second line, in English."
    assert lines[2] == ""
    assert lines[3].startswith("4")


def test_latin_text_is_untouched() -> None:
    text = "Touchez l'écran pour commencer (1 à 3 min)."
    assert visual_line(text) == text
    assert visual_line(text, "R") == text
    assert not has_rtl(text)
    width = measure("Touchez l'écran pour")
    assert visual_lines(text, width, measure) == wrap_logical(text, width, measure)


def test_direction_of_a_paragraph() -> None:
    assert paragraph_direction("123 مرحبا") == "R"
    assert paragraph_direction("CAF مرحبا") == "L"
    assert paragraph_direction("שלום") == "R"
    assert paragraph_direction("123 !") is None
    assert has_rtl("CAF مرحبا")


def test_brackets_mirror_in_right_to_left_text() -> None:
    line = visual_line("خدمة (CAF)")
    assert line == "(CAF) " + drawn("خدمة")


def test_shorten_keeps_the_start_of_the_sentence() -> None:
    width = measure(shaped("أودع ملفك رقم"))
    short = shorten_logical(SENTENCE, width, measure)
    assert short.endswith("…") and SENTENCE.startswith(short[:-1])
    assert measure(visual_line(short)) <= width
    assert shorten_logical("قصير", width, measure) == "قصير"


WORDS = st.sampled_from(["مرحبا", "بكم", "في", "الخدمة", "CAF", "12", "لا", "Paris", "٣٤"])


@given(st.lists(WORDS, min_size=1, max_size=30), st.integers(min_value=120, max_value=900))
def test_any_sentence_wraps_into_lines_that_fit_and_keep_every_word(
    words: list[str], width: int
) -> None:
    text = " ".join(words)
    logical = wrap_logical(text, width, measure)
    assert " ".join(logical) == text
    assert all(measure(x) <= width for x in visual_lines(text, width, measure))


def test_a_value_keeps_its_own_order_inside_a_right_to_left_sentence() -> None:
    hours = "7 j/7, 24 h/24"
    # Without help, the leading 7 is read with the Arabic around it.
    assert not visual_line(f"مفتوح · {hours}", "R").startswith(hours)
    embedded = keep_ltr(hours)
    assert embedded != hours and keep_ltr("مرحبا") == "مرحبا" and keep_ltr("12") == "12"
    line = visual_line(f"مفتوح · {embedded}", "R")
    assert line.startswith(hours) and line.endswith(drawn("مفتوح"))
    assert not has_bidi_controls(line)  # invisible controls are never handed to the renderer
    assert visual_lines(f"CAF{LRE}", 100, measure) == ["CAF"]


ALPHABET = st.sampled_from(list("مرحبالكمفيخدةأءئؤى لا CAFéàç0123456789 ().,:؟،!\n\u202a\u202c"))


@given(st.text(ALPHABET, max_size=200), st.integers(min_value=40, max_value=600))
def test_any_text_becomes_lines_that_fit_with_no_control_left(text: str, width: int) -> None:
    lines = visual_lines(text, width, measure)
    assert len(lines) >= text.count("\n") + 1
    assert all(measure(x) <= width for x in lines)
    assert not any(has_bidi_controls(x) for x in lines)

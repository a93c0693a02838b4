"""Right-to-left text for a renderer that only draws left to right: wrap, shape, reorder.

Kivy's sdl2 text provider draws the characters of a string one after the other,
left to right, each in its isolated form. Arabic needs three things it does not do:

1. *wrapping in logical order*: the first words of a sentence go on the first line,
   whatever the direction; wrapping an already reordered string would put the end
   of the sentence on top;
2. *shaping*: ``arabic_reshaper.reshape`` replaces each letter by its initial,
   medial, final or isolated presentation form (and the lam-alef ligatures);
3. *reordering*: ``bidi.algorithm.get_display`` applies the Unicode bidirectional
   algorithm to one line, so that Arabic runs read right to left while digits and
   Latin words inside them keep their left-to-right order (and brackets mirror).

:func:`visual_lines` does the three, line by line, with a measuring function the
caller provides (the Kivy label measures with its own font). Pure: no Kivy import.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import arabic_reshaper
from bidi.algorithm import get_display

Measure = Callable[[str], float]
"""Width in pixels of a string as it will be drawn (already shaped and reordered)."""

_TOKENS = re.compile(r"[^ ]+| +")
"""Words and the runs of spaces between them (spaces inside a line are kept)."""
_RTL_CLASSES = frozenset({"R", "AL"})
_STRONG = {"L": "L", "R": "R", "AL": "R"}


BIDI_CONTROLS = frozenset(
    "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
"""Invisible direction marks, embeddings and isolates (a renderer may draw them as boxes)."""
LRE, PDF = "\u202a", "\u202c"


def has_bidi_controls(text: str) -> bool:
    """True if ``text`` holds an invisible bidirectional control character."""
    return not BIDI_CONTROLS.isdisjoint(text)


def keep_ltr(value: str) -> str:
    """``value`` embedded left to right if it starts so, for a right-to-left sentence.

    A value put into a translated sentence ("مفتوح · 7 j/7, 24 h/24") would
    otherwise have its leading number read as part of the Arabic around it
    ("j/7, 24 h/24 7"). Uses LRE...PDF: ``bidi.algorithm`` (the one that mirrors
    brackets) predates isolates.
    """
    return f"{LRE}{value}{PDF}" if paragraph_direction(value) == "L" else value


def is_rtl_char(char: str) -> bool:
    """True for a strong right-to-left character (Arabic, Hebrew, Syriac, Thaana, N'Ko...)."""
    return unicodedata.bidirectional(char) in _RTL_CLASSES


def has_rtl(text: str) -> bool:
    """True if ``text`` holds at least one strong right-to-left character."""
    return any(is_rtl_char(c) for c in text)


def paragraph_direction(text: str) -> str | None:
    """``"R"`` or ``"L"`` from the first strong character (Unicode rule P2), None if none."""
    for char in text:
        strong = _STRONG.get(unicodedata.bidirectional(char))
        if strong is not None:
            return strong
    return None


def visual_line(line: str, base_dir: str | None = None) -> str:
    """One line as it must be drawn left to right: shaped, then reordered.

    ``base_dir`` is the paragraph direction (``"R"``, ``"L"``; None: from the line).
    A line with no right-to-left character is returned unchanged (but for the
    invisible bidi controls, always left out: they have done their work).
    """
    if not has_rtl(line):
        return _drop_controls(line)
    shaped = arabic_reshaper.reshape(line)
    drawn = str(get_display(shaped, base_dir=base_dir or paragraph_direction(line) or "R"))
    return _drop_controls(drawn)


def _drop_controls(text: str) -> str:
    if not has_bidi_controls(text):
        return text
    return "".join(c for c in text if c not in BIDI_CONTROLS)


def _fits(line: str, width: float, measure: Measure, base_dir: str | None) -> bool:
    return measure(visual_line(line, base_dir)) <= width


def _split_long_word(word: str, width: float, measure: Measure, base_dir: str | None) -> list[str]:
    """Cut a word wider than ``width`` into pieces that fit (at least one character each)."""
    pieces: list[str] = []
    rest = word
    while rest:
        # Longest prefix that fits, by bisection (measuring is the costly part).
        lo, hi = 1, len(rest)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if measure(visual_line(rest[:mid], base_dir)) <= width:
                lo = mid
            else:
                hi = mid - 1
        pieces.append(rest[:lo])
        rest = rest[lo:]
    return pieces


def wrap_logical(
    paragraph: str, width: float | None, measure: Measure, base_dir: str | None = None
) -> list[str]:
    """Wrap one paragraph (no newline) on word boundaries, in logical order.

    Each line, once shaped and reordered, measures at most ``width`` (None: no limit);
    a word wider than ``width`` alone is cut where it must be. Spaces inside a line
    are kept as written; the spaces where a line breaks go.
    """
    if width is None:
        return [paragraph]
    lines: list[str] = []
    current: str | None = None
    space = ""
    for token in _TOKENS.findall(paragraph):
        if token[0] == " ":
            space = token
            if current is None and not lines:
                current = ""  # leading spaces stay, as Kivy keeps them
            continue
        candidate = token if current is None else current + space + token
        space = ""
        if _fits(candidate, width, measure, base_dir):
            current = candidate
            continue
        if current:
            lines.append(current)
        if _fits(token, width, measure, base_dir):
            current = token
        else:
            *full, last = _split_long_word(token, width, measure, base_dir)
            lines.extend(full)
            current = last
    if current is not None or not lines:
        lines.append(current or "")
    return lines


def visual_lines(
    text: str, width: float | None, measure: Measure, base_dir: str | None = None
) -> list[str]:
    """The lines to draw, top to bottom, each already in visual (left-to-right) order.

    ``text`` is in logical order and may hold newlines (kept as line breaks);
    ``width`` the room in pixels (None: only the newlines break lines);
    ``measure`` the width of a string as drawn; ``base_dir`` forces the paragraph
    direction (``"R"`` or ``"L"``), otherwise each paragraph takes the direction of
    its first strong character (Unicode rule P2) and keeps it on every line it wraps
    to. Lines with no right-to-left character come back unchanged.
    """
    result: list[str] = []
    for paragraph in text.split("\n"):
        direction = base_dir or paragraph_direction(paragraph)
        if not has_rtl(paragraph):
            # Nothing to reorder: wrapped as Kivy would, returned as is.
            result.extend(_drop_controls(x) for x in wrap_logical(paragraph, width, measure))
            continue
        for line in wrap_logical(paragraph, width, measure, direction):
            result.append(visual_line(line, direction))
    return result


def shorten_logical(text: str, width: float, measure: Measure, ellipsis: str = "…") -> str:
    """The longest start of ``text`` (logical order) that fits ``width`` with ``ellipsis``.

    For one-line labels that cut what does not fit: the end of the sentence goes,
    whatever side it is drawn on. ``text`` is returned whole if it fits.
    """
    direction = paragraph_direction(text)
    if measure(visual_line(text, direction)) <= width:
        return text
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if measure(visual_line(text[:mid].rstrip() + ellipsis, direction)) <= width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + ellipsis

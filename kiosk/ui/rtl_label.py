"""Right-to-left text in every booth label, hooked once into Kivy's core text label.

Where the hook sits, and why there: every ``Label`` widget (hence every ``Button``,
``ChatLine``, the header, the modals) draws through ``kivy.uix.label.CoreLabel``, a
module global that ``Label._create_label`` reads each time it builds its core label;
``TextInput`` draws its text and hint through ``kivy.uix.textinput.Label``. Setting
both to :class:`BidiLabel` (a subclass of the sdl2 provider's class) before the first
widget is built gives every label of every kv rule Arabic shaping and right-to-left
order without touching a rule; a ``Label`` mixin or a ``Factory`` override would have
to be repeated for ``Button``, ``TextInput`` and every class that inherits ``Label``
before our code runs. The booth uses no markup (``CoreMarkupLabel`` is left alone).

What :meth:`BidiLabel.render` does for a text holding right-to-left characters, in
the first (measuring) pass that Kivy's ``LabelBase.render`` makes:

1. wrap it in *logical* order, on words, ``RTL_WRAP_MARGIN_PX`` narrower than the
   room ``text_size`` leaves (Kivy measures word by word when it lays the lines out,
   we measure whole lines: the margin keeps Kivy from wrapping our lines again);
2. shape and reorder each line (``kiosk.bidi_text``), measuring with the core
   label's own ``get_extents`` (same font, size and weight as the texture);
3. hand Kivy the visual lines joined by newlines, ``shorten`` done by us (the end
   of the sentence is what goes, with "…"), and ``halign`` mirrored: for
   right-to-left text ``left`` and ``right`` mean the start and the end of a line
   (as CSS's ``start``/``end``), so a left-aligned Arabic label starts at the right
   edge and a chat line aligned to the citizen's side moves to the other side.

While the booth shows a right-to-left language every label is mirrored so, Latin
text included (its start is on the right, as in any right-to-left interface).
Text with no right-to-left character in a left-to-right booth goes straight to
Kivy's own ``render``: same options, same layout, the same texture as without the
hook. The paragraph direction is the label's ``base_direction`` if set
(``rtl``/``ltr``), otherwise right to left while the booth shows a right-to-left
language, otherwise that of the first strong character. Before any of this,
:meth:`resolve_font_name` swaps the label's font for one that draws every character
of its text when its own cannot (``kiosk.ui.fonts.covering_font``).
"""

from __future__ import annotations

from typing import Any

import kivy.core.text

from kiosk.bidi_text import (
    has_bidi_controls,
    has_rtl,
    paragraph_direction,
    shorten_logical,
    visual_lines,
)
from kiosk.ui.fonts import BOOTH_FONT, covering_font

RTL_WRAP_MARGIN_PX = 20
"""Our lines are this much narrower than the label's room, so that Kivy's own layout
(word by word, with its own space width and kerning) never wraps one of them again.
The RTL scenario checks Kivy lays out our lines as given; measured: with 0 it did on
every screen walked too, the margin is the safety DESIGN.md's Arabic note asked for."""

_MIRROR = {"left": "right", "right": "left", "auto": "right"}

CoreLabel: Any = kivy.core.text.Label


class BidiLabel(CoreLabel):  # type: ignore[misc]  # kivy has no type information
    """Kivy's core text label, drawing right-to-left scripts shaped and in reading order."""

    _text: str
    drawn_text: str | None = None
    """The visual text handed to Kivy at the last render; None: the text went as is."""

    def resolve_font_name(self) -> None:
        """Kivy's font resolution, then a font that draws the whole text if needed."""
        super().resolve_font_name()
        options = self.options
        path = options.get("font_name_r")
        if path:
            other = covering_font(path, self.text or "", bool(options.get("bold")))
            if other is not None:
                options["font_name_r"] = other

    def direction(self, text: str) -> tuple[bool, bool, str | None]:
        """How to draw ``text``: ``(mirror, reorder, paragraphs)``.

        ``mirror``: swap ``left`` and ``right`` (the label reads right to left);
        ``reorder``: wrap, shape and reorder it ourselves; ``paragraphs``: the
        direction forced on every paragraph (None: each its first strong one).
        """
        forced = self.options.get("base_direction")
        reorder = has_rtl(text) or has_bidi_controls(text)
        if forced in ("rtl", "weak_rtl"):
            return True, True, "R"
        if forced in ("ltr", "weak_ltr"):
            return False, reorder, "L"
        if BOOTH_FONT.rtl:
            # The booth reads right to left: every label's start is on the right,
            # Latin text included (as in any right-to-left interface).
            return True, reorder, "R"
        return reorder and paragraph_direction(text) == "R", reorder, None

    def render(self, real: bool = False) -> Any:
        """Kivy's render; in the measuring pass, right-to-left text goes in visual order."""
        if real:
            return super().render(real)
        text = self.text or ""
        mirror, reorder, paragraphs_dir = self.direction(text)
        self.drawn_text = None
        if not mirror and not reorder:
            return super().render(real)  # Latin text in a left-to-right booth: Kivy alone
        options = self.options
        saved = (self._text, options["halign"], options["shorten"])
        if mirror:
            options["halign"] = _MIRROR.get(options["halign"], options["halign"])
        shortened = False
        if reorder:
            if options["strip"] or options["halign"] == "justify":
                text = text.strip()
            uw = self._text_size[0]
            padding = options["padding"]
            room = None if uw is None else uw - padding[0] - padding[2] - RTL_WRAP_MARGIN_PX
            if room is not None and room < 1:
                room = None  # not laid out yet: Kivy wraps whatever we give it

            def measure(line: str) -> float:
                return float(self.get_extents(line)[0])

            if options["shorten"] and room is not None:
                short = shorten_logical(" ".join(text.split("\n")), room, measure)
                shortened = short != text
                text = short
            self.drawn_text = "\n".join(visual_lines(text, room, measure, paragraphs_dir))
            self._text = self.drawn_text
            options["shorten"] = False
        try:
            size = super().render(real)
        finally:
            self._text, options["halign"], options["shorten"] = saved
        if reorder:
            self.is_shortened = shortened
        return size


def install() -> None:
    """Make every Label and TextInput built from now on draw through :class:`BidiLabel`."""
    import kivy.uix.label
    import kivy.uix.textinput

    kivy.uix.label.CoreLabel = BidiLabel
    kivy.uix.textinput.Label = BidiLabel

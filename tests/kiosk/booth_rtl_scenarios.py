"""Arabic at the booth, run by ``kivy_harness`` in its own process (one Kivy window).

A citizen switches the booth to Arabic and walks welcome, service list, queue, a call
with Arabic chat both ways, goodbye; the booth later shows its closed screen in
Arabic. On every screen the Arabic labels are checked as drawn: shaped and
reordered (not the naive left-to-right string), laid out in the lines the hook gave
Kivy, and with no character drawn as the font's missing-glyph box.

Texts are the booth's own Arabic catalogue (``assets/locale/ar``), looked up by msgid.
"""

from __future__ import annotations

import asyncio
import json
import time
import unicodedata
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from booth_a11y_scenarios import words_cut_in_two
from booth_agent import agent_console, answer_next, booth_settings_ctx, server_from_ctx
from kivy_harness import ARTIFACTS, BoothHarness, harness_settings

from kiosk.bidi_text import has_rtl, visual_line
from kiosk.i18n import load_translations
from kiosk.session import SessionData

PARIS = ZoneInfo("Europe/Paris")
TUESDAY_MORNING = datetime(2026, 3, 31, 10, 0, tzinfo=PARIS)
TUESDAY_EVENING = datetime(2026, 3, 31, 20, 0, tzinfo=PARIS)
HOURS = {day: [("08:00", "18:00")] for day in ("mon", "tue", "wed", "thu", "fri")}

AGENT_LINE = "مرحبا، أنا Alice من CAF. ما هو رقم ملفك؟ مثلا 12345"
CITIZEN_LINE = "رقم ملفي 67890، أريد تغيير عنواني"
FIGURES = ARTIFACTS / "rtl_figures.json"
AR = load_translations("ar").gettext
"""The booth's Arabic for an English msgid."""


# -- what is drawn ---------------------------------------------------------------


def _labels(root: Any) -> list[Any]:
    from kivy.uix.label import Label

    return [w for w in root.walk(restrict=True) if isinstance(w, Label) and w.opacity > 0]


def screen_labels(booth: BoothHarness) -> list[Any]:
    """Visible labels of the current screen."""
    return _labels(booth.app.root.current_screen)


def plain_texture(text: str, font_path: str, font_size: float) -> Any:
    """``text`` drawn by Kivy's own core label (no hook) with the font file given."""
    from kiosk.ui.rtl_label import CoreLabel

    label = CoreLabel(text=text, font_name=font_path, font_size=font_size)
    label.refresh()
    return label.texture


def _pixels(texture: Any) -> tuple[tuple[int, int], bytes]:
    return tuple(texture.size), bytes(texture.pixels)


def tofu(font_path: str, font_size: float) -> tuple[tuple[int, int], bytes]:
    """How the font draws a character it has no glyph for (U+0378 is unassigned)."""
    return _pixels(plain_texture("\u0378", font_path, font_size))


def check_no_tofu(labels: list[Any]) -> int:
    """Every character drawn by the labels has a glyph in the font it was drawn with.

    Returns how many (character, font) pairs were checked.
    """
    checked = set()
    for label in labels:
        core = label._label
        drawn = core.drawn_text if core.drawn_text is not None else label.text
        font = core.options["font_name_r"]
        for char in set(drawn):
            if char.isspace() or unicodedata.category(char) in ("Cc", "Cf"):
                continue
            key = (char, font)
            if key in checked:
                continue
            checked.add(key)
            got = _pixels(plain_texture(char, font, 28))
            assert got != tofu(font, 28), f"{char!r} (U+{ord(char):04X}) is tofu in {font}"
    return len(checked)


def check_rtl_label(label: Any) -> None:
    """An Arabic label: drawn shaped and reordered, lines kept, nothing wider than its room."""
    core = label._label
    assert core.drawn_text is not None, f"{label.text!r} went to Kivy unreordered"
    assert core.drawn_text != label.text
    lines = core.drawn_text.split("\n")
    if len(lines) == 1 and "\n" not in label.text and not core.is_shortened:
        # One line: exactly the text shaped and reordered right to left.
        assert core.drawn_text == visual_line(label.text.strip(), "R"), label.text
    # Kivy laid out the lines we gave it and wrapped none of them again.
    assert len(core._cached_lines) <= len(lines), (label.text, len(core._cached_lines))
    room = label.text_size[0]
    if room is not None:
        assert core._internal_size[0] <= room + 1, (label.text, core._internal_size, room)
    # And the texture is not the naive drawing of the logical string.
    naive = plain_texture(label.text, core.options["font_name_r"], label.font_size)
    assert _pixels(naive) != _pixels(label.texture)


GLYPHS_CHECKED: dict[str, int] = {}
"""Screen: (character, font) pairs checked for a real glyph."""


async def check_screen(booth: BoothHarness, name: str, min_rtl: int = 1) -> None:
    """Check the Arabic labels of the screen shown, then photograph it."""
    await booth.frames(3)
    labels = screen_labels(booth)
    rtl = [w for w in labels if w.text and has_rtl(w.text)]
    assert len(rtl) >= min_rtl, (name, [w.text for w in labels])
    for label in rtl:
        check_rtl_label(label)
    GLYPHS_CHECKED[name] = check_no_tofu(labels)
    cut = words_cut_in_two(labels)  # the header's controls included
    assert not cut, f"{name}: words cut in two: {cut}"
    booth.screenshot(f"rtl_{name}_ar")


def label_pixels(booth: BoothHarness) -> dict[str, tuple[tuple[int, int], bytes]]:
    """Pixels of every visible label of the current screen, by text."""
    return {w.text: _pixels(w.texture) for w in screen_labels(booth) if w.texture and w.text}


# -- the scenario ----------------------------------------------------------------


async def arabic_visit(ctx: dict[str, object]) -> None:
    """Welcome to goodbye in Arabic, then French unchanged, then closed in Arabic."""
    from kivy.uix.label import Label

    from kiosk.ui.fonts import BOOTH_FONT, DEJAVU_SANS
    from kiosk.ui.rtl_label import BidiLabel, CoreLabel

    settings = harness_settings(
        booth_settings_ctx(ctx), languages=["fr", "en", "ar"], goodbye_s=2.0, opening_hours=HOURS
    )
    figures: dict[str, Any] = {}
    async with BoothHarness(settings) as booth:
        app, controller = booth.app, booth.controller
        controller.wall_clock = lambda: TUESDAY_MORNING
        controller.update_opening()
        await booth.wait_for(lambda: controller.services, what="catalogue")
        await booth.wait_screen("welcome")
        await booth.wait_text("Touchez l'écran pour commencer")
        await booth.frames(3)
        french_before = label_pixels(booth)

        # The hook is installed, and Latin text draws exactly as Kivy alone draws it.
        title = next(w for w in screen_labels(booth) if w.text == "Touchez l'écran pour commencer")
        assert isinstance(title._label, BidiLabel) and title._label.drawn_text is None
        alone = CoreLabel(
            text=title.text,
            font_size=title.font_size,
            bold=True,
            text_size=title.text_size,
            halign="center",
            font_name=title.font_name,
        )
        alone.refresh()
        assert _pixels(alone.texture) == _pixels(title.texture)
        # The check for missing glyphs can fail: Roboto draws no Arabic letter.
        roboto = title._label.options["font_name_r"]
        assert "Roboto" in roboto
        assert _pixels(plain_texture("ب", roboto, 28)) == tofu(roboto, 28)
        assert _pixels(plain_texture("ﺏ", str(DEJAVU_SANS.regular), 28)) != tofu(
            str(DEJAVU_SANS.regular), 28
        )

        # The Arabic button on the French screen: shaped, in a font that draws it.
        lang_ar = booth.find("lang_ar")
        assert lang_ar._label.drawn_text == visual_line("العربية")
        assert lang_ar._label.options["font_name_r"] == str(DEJAVU_SANS.bold)
        check_no_tofu([lang_ar])

        # Switching to Arabic: how many labels re-render, and how long it takes.
        renders = [0]
        original_render = BidiLabel.render

        def counting_render(self: Any, real: bool = False) -> Any:
            if not real:
                renders[0] += 1
            return original_render(self, real)

        BidiLabel.render = counting_render  # type: ignore[method-assign]
        started = time.perf_counter()
        await booth.tap("lang_ar")
        await booth.wait_text(AR("Touch the screen to start"))
        await booth.frames(2)
        figures["switch_to_ar_s"] = round(time.perf_counter() - started, 3)
        figures["labels_rerendered_on_switch"] = renders[0]
        figures["labels_in_app"] = sum(
            1 for s in app.root.screens for w in s.walk(restrict=True) if isinstance(w, Label)
        )
        BidiLabel.render = original_render  # type: ignore[method-assign]
        assert BOOTH_FONT.rtl and BOOTH_FONT.font_name == DEJAVU_SANS.name
        await check_screen(booth, "welcome", min_rtl=3)

        await booth.tap("start_button")
        await booth.wait_screen("choose")
        await booth.wait_text(AR("Choose a service"))
        await booth.wait_for(lambda: booth.find("service_caf"), what="service buttons")
        await check_screen(booth, "choose", min_rtl=2)
        # Read right to left: "Back" is on the right, the first service top right.
        assert booth.find("back_button").x > booth.app.root.width / 2
        first = booth.find("service_list").children[-1]
        assert first.x > booth.app.root.width / 2, first.x
        # The header reads right to left too: the brand on the right.
        assert booth.find("brand_label").x > booth.find("booth_name_label").x
        # Hours read right to left: "14:00–16:00" starts from the right.
        hours = [w._label.drawn_text for w in screen_labels(booth) if "14:00" in w.text]
        assert hours and all(h and h.index("16:00") < h.index("14:00") for h in hours), hours

        await booth.tap("service_caf")
        await booth.wait_screen("waiting")
        await booth.wait_text(AR("You are next"))
        await check_screen(booth, "waiting", min_rtl=3)

        console = await agent_console(server_from_ctx(ctx))
        call = await answer_next(console)
        try:
            await booth.wait_screen("call")
            await booth.wait_for(lambda: controller.call_status == "connected", what="connected")
            await asyncio.wait_for(call.peer.channel_open.wait(), 10)
            call.peer.send_chat(AGENT_LINE)
            await booth.wait_text(AGENT_LINE)
            await booth.type_text("chat_input", CITIZEN_LINE)
            await booth.frames(3)
            booth.screenshot("rtl_call_typing_ar")
            await booth.tap("send_button")
            await booth.wait_for(lambda: call.peer.chats(), what="chat at the agent")
            assert call.peer.chats()[0].text == CITIZEN_LINE
            await booth.wait_text(CITIZEN_LINE)
            await check_screen(booth, "call", min_rtl=5)
            # Reading order: the field, then "Send" to its left; "Mute" before "Hang up".
            assert booth.find("send_button").x < booth.find("chat_input").x
            assert booth.find("hangup_button").x < booth.find("mute_button").x
            # The agent's lines start at the right edge, the citizen's at the left.
            lines = {w.text: w for w in booth.find("chat_log").children}
            agent_line, own_line = lines[AGENT_LINE], lines[CITIZEN_LINE]
            agent_layout = agent_line._label._cached_lines
            own_layout = own_line._label._cached_lines
            right_edge = agent_line.texture_size[0] - agent_line.padding[2]
            assert all(abs(x.x + x.w - right_edge) <= 2 for x in agent_layout), agent_layout
            assert all(x.x == int(own_line.padding[0]) for x in own_layout), own_layout
            await booth.tap("hangup_button")
            await booth.wait_screen("goodbye")
            await booth.wait_text(AR("How did the call go?"))
            await check_screen(booth, "goodbye", min_rtl=4)
        finally:
            await call.close()

        # The session ends: the next citizen gets French, drawn as before.
        await booth.wait_screen("welcome", timeout=10)
        assert controller.data == SessionData()
        await booth.wait_text("Touchez l'écran pour commencer")
        await booth.frames(3)
        assert not BOOTH_FONT.rtl
        french_after = label_pixels(booth)
        assert french_after == french_before
        booth.screenshot("rtl_back_to_fr")

        controller.wall_clock = lambda: TUESDAY_EVENING
        controller.update_opening()
        await booth.wait_screen("closed")
        controller.choose_language("ar")
        await booth.wait_text(AR("This booth is closed."))
        reopens = AR("It opens again on {day} at {time}.").format(day=AR("Wednesday"), time="8:00")
        await booth.wait_text(reopens)
        await check_screen(booth, "closed", min_rtl=2)
    figures["glyphs_checked_per_screen"] = dict(GLYPHS_CHECKED)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    FIGURES.write_text(json.dumps(figures, indent=2))


async def arabic_first_booth(ctx: dict[str, object]) -> None:
    """A booth whose first language is Arabic is built right to left from the start."""
    from kiosk.ui.fonts import BOOTH_FONT

    settings = harness_settings(
        booth_settings_ctx(ctx), languages=["ar", "fr"], default_language="ar"
    )
    async with BoothHarness(settings) as booth:
        await booth.wait_screen("out_of_service")
        await booth.wait_text(AR("Service temporarily unavailable"))
        assert BOOTH_FONT.rtl
        # Built while reading right to left: the header's rows start on the right.
        assert booth.find("brand_label").x > booth.find("booth_name_label").x
        await check_screen(booth, "out_of_service", min_rtl=2)


async def arabic_idle_warning(ctx: dict[str, object]) -> None:
    """The idle warning (a modal over the service list) in Arabic."""
    settings = harness_settings(
        booth_settings_ctx(ctx), languages=["fr", "ar"], idle_warning_s=1.5, idle_reset_s=30.0
    )
    async with BoothHarness(settings) as booth:
        await booth.wait_for(lambda: booth.controller.services, what="catalogue")
        await booth.wait_screen("welcome")
        await booth.tap("lang_ar")
        await booth.tap("start_button")
        await booth.wait_screen("choose")
        await booth.wait_text(AR("Are you still there?"), timeout=6)
        await booth.frames(3)
        from kivy.core.window import Window  # after the harness configured the window

        modal = next(w for w in Window.children if type(w).__name__ == "IdleWarning")
        labels = _labels(modal)
        rtl = [w for w in labels if w.text and has_rtl(w.text)]
        assert len(rtl) == 3, [w.text for w in labels]
        for label in rtl:
            check_rtl_label(label)
        check_no_tofu(labels)
        booth.screenshot("rtl_idle_warning_ar")
        await booth.tap("still_here_button")
        await booth.wait_for(lambda: not booth.controller.data.idle_warning, what="dismissed")

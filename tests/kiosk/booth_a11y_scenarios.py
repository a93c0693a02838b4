"""Accessibility scenarios run by ``kivy_harness`` (each in its own process).

The header's language, larger-text and high-contrast controls tapped on every screen;
what is drawn checked (font sizes, label colours, the window's clear colour); every
touch target of every screen and modal measured against the 2 cm rule in normal and
larger text; screenshots ``a11y_<screen>_large`` / ``a11y_<screen>_contrast``.
"""

from __future__ import annotations

import asyncio
import tempfile
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from booth_agent import agent_console, answer_next, booth_settings_ctx, server_from_ctx
from kivy_harness import BoothHarness, harness_settings

from guichet import wire
from kiosk import technician as t
from kiosk.devices.base import DeviceState
from kiosk.devices.sim.barcode_reader import BarcodeScannerSimulator
from kiosk.devices.sim.escpos_printer import SimulatedEscPosPrinter
from kiosk.session import SessionData
from kiosk.ui.palette import (
    HIGH_CONTRAST,
    LARGE_HEADING_SCALE,
    LARGE_TEXT_SCALE,
    NORMAL,
    hex_rgba,
)

TOUCH_MIN_CM = 2.0
PARIS = ZoneInfo("Europe/Paris")
MONDAY_EVENING = datetime(2026, 3, 30, 20, 0, tzinfo=PARIS)
TUESDAY_MORNING = datetime(2026, 3, 31, 10, 0, tzinfo=PARIS)
PIN = "2468"


# ---------------------------------------------------------------------------
# What is drawn
# ---------------------------------------------------------------------------


def _shown_roots(booth: BoothHarness) -> list[Any]:
    from kivy.core.window import Window

    roots = [c for c in Window.children if c is not booth.app.root]
    return [*roots, booth.app.root.current_screen]


def _visible(widget: Any) -> bool:
    """Drawn and reachable: not disabled, not see-through, not squashed to nothing."""
    node = widget
    while node is not None and node.parent is not node:
        if getattr(node, "opacity", 1) == 0 or getattr(node, "disabled", False):
            return False
        node = node.parent
    return widget.width > 1 and widget.height > 1


def touch_targets(booth: BoothHarness) -> list[Any]:
    """Every visible widget a finger can act on, on the screen and open modals."""
    from kivy.uix.behaviors import ButtonBehavior
    from kivy.uix.textinput import TextInput

    found = []
    for root in _shown_roots(booth):
        for widget in root.walk(restrict=True):
            if isinstance(widget, ButtonBehavior | TextInput) and _visible(widget):
                found.append(widget)
    return found


def _name(booth: BoothHarness, widget: Any) -> str:
    """The widget's kv id or gid, for the failure message."""
    for root in _shown_roots(booth):
        for node in root.walk(restrict=True):
            for key, value in getattr(node, "ids", {}).items():
                if value is widget or value is widget.proxy_ref:
                    return str(key)
    return getattr(widget, "gid", "") or f"{type(widget).__name__}({widget.text!r})"


def check_targets(booth: BoothHarness, where: str) -> int:
    """Assert every touch target is at least 2 cm each way; returns how many."""
    min_px = TOUCH_MIN_CM * booth.settings.px_per_cm
    targets = touch_targets(booth)
    assert targets, f"{where}: no touch target found"
    small = [
        f"{_name(booth, w)} {w.width:.0f}x{w.height:.0f}px"
        for w in targets
        if w.width < min_px - 0.5 or w.height < min_px - 0.5
    ]
    assert not small, f"{where}: below 2 cm ({min_px:.0f} px): {small}"
    return len(targets)


def _in_header(widget: Any) -> bool:
    node = widget
    while node is not None and node.parent is not node:
        if type(node).__name__ == "Header":
            return True
        node = node.parent
    return False


def words_cut_in_two(labels: list[Any]) -> list[str]:
    """Words wider than the room their label wraps in (Kivy cuts such a word in two:
    "Envoye/r", "استما/ع"): measured as drawn (shaped and reordered when right to
    left) with the label's own font, in the width Kivy wraps to (the core label
    hook wraps right-to-left text a margin narrower)."""
    from kiosk.bidi_text import has_rtl, visual_line
    from kiosk.ui.rtl_label import RTL_WRAP_MARGIN_PX

    cut = []
    for label in labels:
        if not label.text or label.shorten or label.text_size[0] is None:
            continue
        room = label.text_size[0] - label.padding[0] - label.padding[2]
        if has_rtl(label.text):
            room -= RTL_WRAP_MARGIN_PX
        if room <= 0:
            continue
        for word in label.text.split():
            if label._label.get_extents(visual_line(word))[0] > room + 1:
                cut.append(f"{word!r} in {label.text[:40]!r} ({room:.0f} px)")
    return cut


def broken_words(booth: BoothHarness) -> list[str]:
    """Words cut in two on the screen and modals shown (rendered at their size first)."""
    from kivy.uix.label import Label

    labels = [
        w
        for root in _shown_roots(booth)
        for w in root.walk(restrict=True)
        if isinstance(w, Label) and _visible(w)
    ]
    for label in labels:
        label.texture_update()
    return words_cut_in_two(labels)


def font_sizes(booth: BoothHarness) -> dict[int, float]:
    """Font size of every label with text on the shown screen and modals, by id(),
    outside the header (whose controls grow 10 % at most, to stay in the bar)."""
    from kivy.uix.label import Label

    return {
        id(w): float(w.font_size)
        for root in _shown_roots(booth)
        for w in root.walk(restrict=True)
        if isinstance(w, Label) and w.text and not _in_header(w)
    }


def label_colours(booth: BoothHarness) -> list[tuple[float, ...]]:
    """Colour of every shown label with text (rounded rgba)."""
    from kivy.uix.label import Label

    return [
        tuple(round(c, 3) for c in w.color)
        for root in _shown_roots(booth)
        for w in root.walk(restrict=True)
        if isinstance(w, Label) and w.text and w.opacity
    ]


def clear_colour() -> list[float]:
    """The window's clear colour (the screens' background), rounded."""
    from kivy.core.window import Window

    return [round(c, 3) for c in Window.clearcolor]


def _rgba(colour: str) -> list[float]:
    return [round(c, 3) for c in hex_rgba(colour)]


async def set_modes(booth: BoothHarness, *, large: bool, contrast: bool) -> None:
    """Bring the citizen's modes to the wanted values (through the controller)."""
    c = booth.controller
    if c.data.large_text != large:
        c.toggle_large_text()
    if c.data.high_contrast != contrast:
        c.toggle_high_contrast()
    theme = booth.app.theme
    await booth.wait_for(
        lambda: (theme.large_text, theme.high_contrast) == (large, contrast), what="theme"
    )
    await booth.frames(3)


async def photograph(booth: BoothHarness, screen: str) -> None:
    """``a11y_<screen>_large`` and ``a11y_<screen>_contrast``, then back to normal."""
    await set_modes(booth, large=True, contrast=False)
    booth.screenshot(f"a11y_{screen}_large")
    await set_modes(booth, large=False, contrast=True)
    booth.screenshot(f"a11y_{screen}_contrast")
    await set_modes(booth, large=False, contrast=False)


async def targets_both_sizes(booth: BoothHarness, where: str) -> None:
    """The 2 cm rule in normal and in larger text, and no word cut in two by the
    wrapping (then back to normal)."""
    for large in (False, True):
        await set_modes(booth, large=large, contrast=False)
        mode = "large text" if large else "normal"
        check_targets(booth, f"{where} ({mode})")
        broken = broken_words(booth)
        assert not broken, f"{where} ({mode}): words cut in two: {broken}"
    await set_modes(booth, large=False, contrast=False)


async def toggles_change_the_drawing(booth: BoothHarness, screen: str) -> None:
    """Tap the header's toggles on this screen: text grows, colours turn, and back."""
    theme = booth.app.theme
    assert (theme.scale, clear_colour()) == (1.0, _rgba(NORMAL["BG"]))
    before = font_sizes(booth)
    colours_before = label_colours(booth)
    await booth.tap("large_text_button")
    await booth.wait_for(lambda: booth.controller.data.large_text, what="large text on")
    await booth.frames(3)
    assert booth.find("large_text_button").active
    after = font_sizes(booth)
    grown = [round(after[k] / v, 3) for k, v in before.items() if k in after]
    assert grown, f"{screen}: no text"
    expected = {round(LARGE_TEXT_SCALE, 3), round(LARGE_HEADING_SCALE, 3)}
    assert set(grown) <= expected, f"{screen}: text not scaled as it should: {grown}"
    assert round(LARGE_TEXT_SCALE, 3) in grown, f"{screen}: no body text grew"

    await booth.tap("contrast_button")
    await booth.wait_for(lambda: booth.controller.data.high_contrast, what="contrast on")
    await booth.frames(3)
    assert booth.find("contrast_button").active
    assert clear_colour() == _rgba(HIGH_CONTRAST["BG"]), "the background turned black"
    colours_after = label_colours(booth)
    assert set(colours_after).isdisjoint({tuple(_rgba(NORMAL["TEXT"]))}), screen
    assert colours_after != colours_before
    assert tuple(_rgba(HIGH_CONTRAST["TEXT"])) in set(colours_after) | {
        tuple(_rgba(HIGH_CONTRAST["PRIMARY"]))
    }
    booth.screenshot(f"a11y_{screen}_large_contrast")

    await booth.tap("large_text_button")
    await booth.tap("contrast_button")
    await booth.wait_for(
        lambda: not (booth.controller.data.large_text or booth.controller.data.high_contrast),
        what="both off",
    )
    await booth.frames(3)
    assert not booth.find("large_text_button").active
    assert clear_colour() == _rgba(NORMAL["BG"])
    assert font_sizes(booth) == before, f"{screen}: text back to its size"


async def choose_language(booth: BoothHarness, lang: str) -> None:
    """Open the header's language chooser and pick ``lang``."""
    await booth.tap("language_button")
    await booth.wait_for(lambda: booth.app.language_chooser.parent, what="chooser open")
    await booth.frames(2)
    await booth.tap(f"choose_lang_{lang}")
    await booth.wait_for(lambda: booth.app.language_chooser.parent is None, what="closed")
    await booth.wait_for(lambda: booth.controller.data.language == lang, what=lang)
    await booth.frames(2)


# ---------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------


async def citizen_tour(ctx: dict[str, object]) -> None:
    """Closed, welcome, choose, waiting, call (consent, keyboard), goodbye: modes on
    each screen, the language switched from the waiting room and the call, targets
    measured, and the next citizen finds the defaults."""
    hours = {"tue": [("09:00", "12:00")]}
    # Full screen: the docked on-screen keyboard of a real booth comes up in the call.
    settings = harness_settings(
        booth_settings_ctx(ctx), opening_hours=hours, goodbye_s=120.0, fullscreen=True
    )
    async with BoothHarness(settings) as booth:
        c = booth.controller
        now = [MONDAY_EVENING]
        c.wall_clock = lambda: now[0]
        c.update_opening()
        await booth.wait_screen("closed")
        await booth.wait_text("La borne est fermée.")
        await toggles_change_the_drawing(booth, "closed")
        await targets_both_sizes(booth, "closed")
        await photograph(booth, "closed")
        now[0] = TUESDAY_MORNING
        c.update_opening()

        await booth.wait_for(lambda: c.services, what="catalogue")
        await booth.wait_screen("welcome")
        await toggles_change_the_drawing(booth, "welcome")
        await targets_both_sizes(booth, "welcome")
        await photograph(booth, "welcome")

        await booth.tap("start_button")
        await booth.wait_screen("choose")
        await booth.wait_for(lambda: booth.find("service_caf"), what="service buttons")
        await booth.frames(3)
        await toggles_change_the_drawing(booth, "choose")
        await targets_both_sizes(booth, "choose")
        await photograph(booth, "choose")
        chooser = booth.app.language_chooser
        await booth.tap("language_button")
        await booth.wait_for(lambda: chooser.parent, what="chooser open")
        await booth.frames(3)
        names = [w.text for w in chooser.ids.language_list.children[::-1]]
        assert names == ["Français", "English", "Español", "العربية", "Português"], names
        booth.screenshot("a11y_language_chooser")
        await targets_both_sizes(booth, "language chooser")
        await set_modes(booth, large=True, contrast=True)
        booth.screenshot("a11y_language_chooser_large_contrast")
        await set_modes(booth, large=False, contrast=False)
        chooser.dismiss(animation=False)
        await booth.frames(2)

        await booth.tap("service_caf")
        await booth.wait_screen("waiting")
        await booth.wait_text("Vous êtes la prochaine personne")
        await toggles_change_the_drawing(booth, "waiting")
        await targets_both_sizes(booth, "waiting")
        await photograph(booth, "waiting")
        # The language from the waiting room: the screen's texts switch.
        await choose_language(booth, "en")
        await booth.wait_text("You are next")
        assert booth.text_of("cancel_button") == "Cancel"
        caf = next(s for s in c.services if s.id == "caf")
        assert booth.text_of("service_label") == caf.name["en"] != caf.name["fr"]
        assert booth.find("language_button").text == "English"

        console = await agent_console(server_from_ctx(ctx))
        call = await answer_next(console)
        try:
            await booth.wait_screen("call")
            await booth.wait_for(lambda: c.call_status == "connected", what="connected")
            await booth.wait_for(lambda: booth.find("remote_video").frames_drawn > 3)
            assert booth.text_of("hangup_button") == "Hang up"
            call.peer.send_chat("Bonjour, je vous écoute. Que puis-je faire pour vous ?")
            await booth.wait_text("Bonjour, je vous écoute")
            # ... and from the call: back to French.
            await choose_language(booth, "fr")
            await booth.wait_text("Raccrocher")
            assert booth.text_of("hangup_button") == "Raccrocher"
            assert c.state.value == "in_call" and c.data.transcript, "the call goes on"
            await toggles_change_the_drawing(booth, "call")
            # Derived kv rules keep their own colours in both palettes (the hang-up
            # button is a primary button with the danger colours).
            hangup = booth.find("hangup_button")
            for palette, contrast in ((NORMAL, False), (HIGH_CONTRAST, True), (NORMAL, False)):
                await set_modes(booth, large=False, contrast=contrast)
                assert [round(x, 3) for x in hangup.color] == _rgba(palette["ON_DANGER"])
                assert [round(x, 3) for x in hangup.background_color] == _rgba(palette["DANGER"])
                send = booth.find("send_button")
                assert [round(x, 3) for x in send.color] == _rgba(palette["ON_PRIMARY"])
            # Larger text puts Send under the field; back to normal, beside it again.
            await set_modes(booth, large=True, contrast=False)
            field, send = booth.find("chat_input"), booth.find("send_button")
            assert send.top <= field.y and send.width == field.width
            await set_modes(booth, large=False, contrast=False)
            assert send.x >= field.right and send.width < field.width
            await targets_both_sizes(booth, "call")
            await photograph(booth, "call")

            # The docked keyboard (kiosk mode) in larger text: 2 cm keys, field above.
            await set_modes(booth, large=True, contrast=False)
            await booth.tap("chat_input")
            from kivy.core.window import Window

            keyboard = await booth.wait_for(
                lambda: next(
                    (w for w in Window.children if type(w).__name__ == "BoothKeyboard"), None
                ),
                what="on-screen keyboard",
            )
            await booth.wait_for(lambda: keyboard.key_sizes(), what="keys laid out")
            await booth.frames(5)
            min_px = TOUCH_MIN_CM * settings.px_per_cm
            keys = keyboard.key_sizes()
            assert len(keys) > 40, len(keys)
            small = [k for k in keys if k[0] < min_px or k[1] < min_px]
            assert not small, f"keys below 2 cm ({min_px:.0f} px): {sorted(set(small))}"
            field = booth.find("chat_input")
            assert field.to_window(field.x, field.y)[1] >= keyboard.top
            check_targets(booth, "call with keyboard (large text)")
            booth.screenshot("a11y_call_keyboard_large")
            field.insert_text("Merci")
            await booth.tap("send_button")
            await booth.wait_for(lambda: call.peer.chats(), what="chat sent")
            field.focus = False
            await set_modes(booth, large=False, contrast=False)
            await booth.wait_for(
                lambda: not any(type(w).__name__ == "BoothKeyboard" for w in Window.children),
                what="keyboard gone",
            )

            # The consent modal, asked as an agent's scan request asks it.
            answer = asyncio.ensure_future(c.ask_consent(wire.DeviceKind.SCAN))
            await booth.wait_for(lambda: booth.find("consent_yes"), what="consent modal")
            await booth.frames(3)
            await targets_both_sizes(booth, "consent modal")
            await photograph(booth, "consent")
            await booth.tap("consent_no")
            assert await asyncio.wait_for(answer, 5) is False

            # Modes on when the call ends: the goodbye screen keeps them.
            await set_modes(booth, large=True, contrast=True)
            await booth.tap("hangup_button")
            await booth.wait_screen("goodbye")
        finally:
            await call.close()
        assert c.data.large_text and c.data.high_contrast
        assert booth.app.theme.scale == LARGE_TEXT_SCALE
        await booth.wait_for(lambda: booth.find("face_unhappy").opacity == 1, what="faces")
        await booth.frames(3)
        booth.screenshot("a11y_goodbye_large_contrast")
        await set_modes(booth, large=False, contrast=False)
        await toggles_change_the_drawing(booth, "goodbye")
        await targets_both_sizes(booth, "goodbye faces")
        await photograph(booth, "goodbye")
        await booth.tap("face_unhappy")
        await booth.wait_for(lambda: booth.find("reason_wait").opacity == 1, what="reasons")
        await booth.frames(3)
        await targets_both_sizes(booth, "goodbye reasons")
        await photograph(booth, "goodbye_reasons")

        # The citizen leaves with every mode on and English: the next one gets none.
        await choose_language(booth, "en")
        await set_modes(booth, large=True, contrast=True)
        await booth.tap("finish_button")
        await booth.wait_screen("welcome")
        await booth.wait_text("Touchez l'écran pour commencer")
        assert c.data == SessionData()
        assert (booth.app.theme.scale, clear_colour()) == (1.0, _rgba(NORMAL["BG"]))
        assert not booth.find("large_text_button").active
        assert not booth.find("contrast_button").active
        assert booth.find("language_button").text == "Français"
        booth.screenshot("a11y_welcome_after_reset")


async def out_of_service_and_idle(ctx: dict[str, object]) -> None:
    """No switchboard: the out-of-service screen has the controls too; its choices are
    forgotten once nobody touches it."""
    settings = harness_settings(booth_settings_ctx(ctx), idle_warning_s=3.0, idle_reset_s=1.0)
    async with BoothHarness(settings) as booth:
        await booth.wait_screen("out_of_service")
        await booth.wait_text("Service arrêté pour le moment")
        await toggles_change_the_drawing(booth, "out_of_service")
        await targets_both_sizes(booth, "out of service")
        await photograph(booth, "out_of_service")
        await choose_language(booth, "en")
        await booth.wait_text("Service temporarily unavailable")
        await booth.tap("large_text_button")
        await booth.wait_for(lambda: booth.app.theme.large_text, what="large")
        await booth.tap("language_button")  # ... and walks away with the chooser open
        await booth.wait_for(lambda: booth.app.language_chooser.parent, what="chooser")
        # Nobody touches the booth any more: back to the defaults for the next person.
        await booth.wait_text("Service arrêté pour le moment", timeout=15)
        await booth.wait_for(lambda: not booth.app.theme.large_text, what="normal text")
        assert booth.controller.data == SessionData()
        await booth.wait_for(lambda: booth.app.language_chooser.parent is None, what="closed")


async def idle_warning_technician_and_pad(ctx: dict[str, object]) -> None:
    """The idle warning, the technician PIN pad and diagnostics screen (with two
    simulated devices, for their rows and test buttons): 2 cm targets."""
    printer = SimulatedEscPosPrinter()
    barcode = BarcodeScannerSimulator()
    devices = {
        "receipt_printer": {"path": await printer.start(), "poll_interval_s": 0.3},
        "barcode_reader": {"path": await barcode.start()},
    }
    settings = harness_settings(
        booth_settings_ctx(ctx),
        idle_warning_s=2.0,
        idle_reset_s=120.0,
        technician_pin_hash=t.hash_pin(PIN),
        devices=devices,
    )
    try:
        await _idle_warning_technician_and_pad(settings)
    finally:
        await barcode.stop()
        await printer.stop()


async def _idle_warning_technician_and_pad(settings: Any) -> None:
    async with BoothHarness(settings) as booth:
        c = booth.controller
        await booth.wait_for(lambda: c.services, what="catalogue")
        await booth.wait_screen("welcome")
        await booth.wait_for(lambda: c.booth_name, what="booth name")
        await booth.tap("start_button")
        await booth.wait_screen("choose")
        await booth.wait_text("Êtes-vous toujours là ?", timeout=8)
        await booth.frames(3)
        # Modes switched from the controller count as touches: measure quickly, the
        # warning comes back after 2 s.
        for large in (False, True):
            await booth.wait_for(lambda: booth.find("still_here_button").opacity, what="modal")
            check_targets(booth, f"idle warning (large={large})")
            booth.screenshot(f"a11y_idle_warning{'_large' if large else ''}")
            await set_modes(booth, large=not large, contrast=False)
            await booth.wait_text("Êtes-vous toujours là ?", timeout=8)
            await booth.frames(3)
        await set_modes(booth, large=False, contrast=True)
        await booth.wait_text("Êtes-vous toujours là ?", timeout=8)
        await booth.frames(3)
        booth.screenshot("a11y_idle_warning_contrast")
        await booth.tap("still_here_button")
        await booth.tap("back_button")
        await booth.wait_screen("welcome")
        assert c.data == SessionData()

        # Technician: five taps on the booth name, then the PIN pad.
        for _ in range(t.GESTURE_TAPS):
            await booth.tap("booth_name_label")
        await booth.wait_text("Saisissez le code technicien.")
        await targets_both_sizes(booth, "technician PIN pad")
        await set_modes(booth, large=True, contrast=False)
        booth.screenshot("a11y_technician_pin_large")
        await set_modes(booth, large=False, contrast=False)
        for digit in PIN:
            await booth.tap(f"pin_key_{digit}")
        await booth.tap("pin_ok")
        await booth.wait_screen("technician")
        await booth.wait_for(
            lambda: all(s.state is DeviceState.READY for s in c.devices.statuses.values()),
            what="devices ready",
        )
        await booth.wait_for(lambda: booth.find("test_print_receipt_printer"), what="rows")
        await booth.frames(3)
        await targets_both_sizes(booth, "technician screen")
        await photograph(booth, "technician")


async def setup_keypad(ctx: dict[str, object]) -> None:
    """The setup screen of a booth not yet enrolled: keypad and fields, 2 cm."""
    data_dir = tempfile.mkdtemp(prefix="a11y-setup-")
    settings = harness_settings({"data_dir": data_dir})
    async with BoothHarness(settings) as booth:
        await booth.wait_screen("setup")
        await booth.wait_text("Mise en service de la borne")
        await targets_both_sizes(booth, "setup screen")
        await photograph(booth, "setup")

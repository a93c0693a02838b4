"""Closed-booth scenario run by ``kivy_harness`` (its own process, one Kivy window)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from booth_agent import booth_settings_ctx
from kivy_harness import BoothHarness, harness_settings

PARIS = ZoneInfo("Europe/Paris")
MONDAY_EVENING = datetime(2026, 3, 30, 20, 0, tzinfo=PARIS)
TUESDAY_MORNING = datetime(2026, 3, 31, 10, 0, tzinfo=PARIS)
TUESDAY_NOON = datetime(2026, 3, 31, 12, 0, tzinfo=PARIS)


async def closed_then_open_then_session_finishes(ctx: dict[str, object]) -> None:
    """Closed screen in French and English, opening, and a session outlasting the hours."""
    hours = {"tue": [("09:00", "12:00")], "wed": [("09:00", "12:00")]}
    settings = harness_settings(booth_settings_ctx(ctx), opening_hours=hours)
    async with BoothHarness(settings) as booth:
        controller = booth.controller
        now = [MONDAY_EVENING]
        controller.wall_clock = lambda: now[0]
        controller.update_opening()
        await booth.wait_screen("closed")
        await booth.wait_text("La borne est fermée.")
        await booth.wait_text("Elle rouvre mardi à 9 h 00.")
        await booth.frames(3)
        booth.screenshot("30_closed_fr")
        controller.choose_language("en")
        await booth.wait_text("It opens again on Tuesday at 9:00.")
        await booth.frames(3)
        booth.screenshot("31_closed_en")

        now[0] = TUESDAY_MORNING
        controller.update_opening()
        await booth.wait_screen("welcome")
        await booth.tap("start_button")
        await booth.wait_screen("choose")
        # Closing time during a citizen's session: the session goes on.
        now[0] = TUESDAY_NOON
        controller.update_opening()
        await booth.frames(5)
        assert booth.screen == "choose", booth.screen
        await booth.tap("back_button")
        await booth.wait_screen("closed")
        await booth.wait_text("Elle rouvre mercredi à 9 h 00.")


async def logo_in_header(ctx: dict[str, object]) -> None:
    """The configured logo replaces the flag; an invalid one leaves the flag."""
    logo, bad = str(ctx.pop("_logo")), str(ctx.pop("_bad_logo"))
    settings = harness_settings(booth_settings_ctx(ctx), brand_logo_png=logo)
    async with BoothHarness(settings) as booth:
        await booth.wait_screen("welcome")
        await booth.wait_for(lambda: booth.app.state.brand_logo is not None, what="logo")
        await booth.frames(3)
        image = booth.find("brand_logo")
        assert image.width > 0 and image.opacity == 1
        assert booth.find("default_flag").width == 0
        booth.screenshot("32_welcome_logo")
        await booth.controller.apply_settings(settings.model_copy(update={"brand_logo_png": bad}))
        await booth.wait_for(lambda: booth.app.state.brand_logo is None, what="flag back")
        await booth.frames(3)
        assert booth.find("default_flag").width > 0

"""Language scenarios run by ``kivy_harness`` in their own process (one Kivy window each).

The welcome screen with the five language buttons, then the welcome and service
screens in Spanish and in Portuguese, texts read from the widget tree.
"""

from __future__ import annotations

import itertools
from typing import Any

from booth_agent import booth_settings_ctx
from kivy_harness import BoothHarness, harness_settings

LANGUAGES = ("fr", "en", "es", "ar", "pt")


def _check_language_bar(booth: BoothHarness) -> None:
    """Every button is a full touch target, inside the window, apart, its name unclipped."""
    from kivy.core.window import Window

    from kiosk.ui import common as C

    buttons = [booth.find(f"lang_{code}") for code in LANGUAGES]
    for button in buttons:
        assert button.height >= C.TOUCH_MIN, (button.lang, button.height)
        assert button.x >= 0 and button.right <= Window.width, (button.lang, button.pos)
        button.texture_update()
        assert button.texture_size[0] <= button.width - 8, (button.lang, button.texture_size)
        assert button.text and not button.text.endswith("..."), button.text
    for left, right in itertools.pairwise(buttons):
        assert left.right <= right.x, (left.lang, right.lang)
    assert [b.lang for b in sorted(buttons, key=lambda b: b.x)] == list(LANGUAGES)


async def _visit_in(booth: BoothHarness, code: str, texts: dict[str, str]) -> None:
    """Choose ``code`` on the welcome screen, check it, then check the service list."""
    await booth.tap(f"lang_{code}")
    await booth.wait_text(texts["touch"])
    assert booth.find(f"lang_{code}").selected
    await booth.frames(3)
    booth.screenshot(f"lang_welcome_{code}")
    await booth.tap("start_button")
    await booth.wait_screen("choose")
    await booth.wait_text(texts["choose"])
    await booth.wait_for(lambda: booth.find("service_caf"), what="service buttons")
    caf = booth.find("service_caf")
    assert caf.title == texts["caf"], caf.title
    assert caf.description == texts["caf_description"], caf.description
    assert caf.hours == texts["always"], caf.hours
    await booth.wait_text(texts["open"])
    assert texts["back"] in booth.find("back_button").text
    justice = booth.find("service_justice")
    assert justice.hours == texts["justice_hours"], justice.hours
    await booth.frames(3)
    booth.screenshot(f"lang_choose_{code}")
    await booth.tap("back_button")
    await booth.wait_screen("welcome")
    # The next citizen starts in French again.
    await booth.wait_text("Touchez l'écran pour commencer")


async def five_languages(ctx: dict[str, Any]) -> None:
    """Five language buttons on the welcome screen; Spanish and Portuguese visits."""
    settings = harness_settings(booth_settings_ctx(ctx))
    assert settings.languages == list(LANGUAGES)
    async with BoothHarness(settings) as booth:
        await booth.wait_for(lambda: booth.controller.services, what="catalogue")
        await booth.wait_screen("welcome")
        await booth.wait_text("Touchez l'écran pour commencer")
        await booth.frames(3)
        _check_language_bar(booth)
        assert booth.find("lang_fr").selected and not booth.find("lang_en").selected
        booth.screenshot("lang_welcome_all")

        await _visit_in(
            booth,
            "es",
            {
                "touch": "Toque la pantalla para empezar",
                "choose": "Elija un servicio",
                "back": "Volver",
                "caf": "Prestaciones familiares",
                "caf_description": (
                    "Ayudas familiares, ayudas para la vivienda, renta mínima (RSA)."
                ),
                "always": "todos los días, 24 h",
                "open": "Abierto",
                "justice_hours": "mar. 14:00–16:00",
            },
        )
        await _visit_in(
            booth,
            "pt",
            {
                "touch": "Toque no ecrã para começar",
                "choose": "Escolha um serviço",
                "back": "Voltar",
                "caf": "Abonos de família",
                "caf_description": (
                    "Prestações familiares, apoio à habitação, rendimento mínimo (RSA)."
                ),
                "always": "todos os dias, 24 h",
                "open": "Aberto",
                "justice_hours": "ter. 14h00–16h00",
            },
        )


async def two_languages(ctx: dict[str, Any]) -> None:
    """A booth set to two languages shows exactly those two buttons, full width."""
    settings = harness_settings(booth_settings_ctx(ctx), languages=["fr", "ar"])
    async with BoothHarness(settings) as booth:
        await booth.wait_screen("welcome")
        await booth.frames(3)
        bar = booth.find("language_bar")
        langs = [c.lang for c in bar.children if getattr(c, "lang", "")]
        assert sorted(langs) == ["ar", "fr"], langs
        for code in ("fr", "ar"):
            assert booth.find(f"lang_{code}").width >= 279, booth.find(f"lang_{code}").width
        try:
            booth.find("lang_en")
        except LookupError:
            pass
        else:
            raise AssertionError("lang_en shown on a booth without English")
        booth.screenshot("lang_welcome_two")

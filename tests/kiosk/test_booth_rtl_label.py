"""The core label hook and the font choice, on Kivy's real sdl2 text provider (own process)."""

from __future__ import annotations

import pytest
from kivy_harness import run_scenario

pytestmark = pytest.mark.kivy


def test_hook_leaves_latin_to_kivy_and_lays_out_arabic_right_to_left() -> None:
    run_scenario("rtl_label_checks:hook_leaves_latin_to_kivy_and_lays_out_arabic", timeout=60)


def test_every_script_gets_a_font_that_draws_it_and_a_missing_font_never_crashes() -> None:
    run_scenario("rtl_label_checks:fonts_cover_every_script", timeout=60)

"""Arabic at the booth under Kivy: shaped, right to left, every glyph drawn (own process).

Screenshots ``rtl_<screen>_ar.png`` and ``rtl_back_to_fr.png`` land in
``test-artifacts/screenshots/``; the switch figures in ``test-artifacts/rtl_figures.json``.
"""

from __future__ import annotations

import pytest
from booth_agent import server_ctx
from fixtures.server import RunningServer, free_port
from kivy_harness import run_scenario

pytestmark = pytest.mark.kivy


def test_arabic_visit_reads_right_to_left_on_every_screen_and_french_comes_back_unchanged(
    switchboard: RunningServer,
) -> None:
    run_scenario("booth_rtl_scenarios:arabic_visit", server_ctx(switchboard))


def test_a_booth_whose_first_language_is_arabic_starts_right_to_left() -> None:
    run_scenario(
        "booth_rtl_scenarios:arabic_first_booth",
        {"server_url": f"http://127.0.0.1:{free_port()}", "token": "t" * 20},
    )


def test_idle_warning_reads_right_to_left_in_arabic(switchboard: RunningServer) -> None:
    run_scenario("booth_rtl_scenarios:arabic_idle_warning", server_ctx(switchboard))

"""The booth in several languages under Kivy (each scenario in its own process).

Screenshots: ``lang_welcome_all``, ``lang_welcome_es``, ``lang_choose_es``,
``lang_welcome_pt``, ``lang_choose_pt``, ``lang_welcome_two`` in
``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import pytest
from booth_agent import server_ctx
from fixtures.server import RunningServer
from kivy_harness import run_scenario

pytestmark = pytest.mark.kivy


def test_five_language_buttons_and_a_visit_in_spanish_and_in_portuguese(
    switchboard: RunningServer,
) -> None:
    run_scenario("booth_language_scenarios:five_languages", server_ctx(switchboard))


def test_a_booth_shows_only_its_configured_languages(switchboard: RunningServer) -> None:
    run_scenario("booth_language_scenarios:two_languages", server_ctx(switchboard))

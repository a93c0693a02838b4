"""Accessibility at the booth under real Kivy: the header's language, larger-text and
high-contrast controls on every screen, the 2 cm touch-target rule on every screen
and modal, and nothing of a citizen's choices left for the next one.

Scenarios in ``booth_a11y_scenarios``; screenshots ``a11y_*`` in
``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import pytest
from booth_agent import server_ctx
from fixtures.server import RunningServer, free_port
from kivy_harness import run_scenario

pytestmark = pytest.mark.kivy


def test_modes_and_language_on_every_citizen_screen_then_reset_for_the_next(
    switchboard: RunningServer,
) -> None:
    run_scenario("booth_a11y_scenarios:citizen_tour", server_ctx(switchboard), timeout=400)


def test_out_of_service_screen_has_the_controls_and_forgets_them() -> None:
    run_scenario(
        "booth_a11y_scenarios:out_of_service_and_idle",
        {"server_url": f"http://127.0.0.1:{free_port()}", "token": "t" * 20},
    )


def test_idle_warning_and_technician_screens_have_2cm_targets(
    switchboard: RunningServer,
) -> None:
    run_scenario("booth_a11y_scenarios:idle_warning_technician_and_pad", server_ctx(switchboard))


def test_setup_screen_has_2cm_targets() -> None:
    run_scenario("booth_a11y_scenarios:setup_keypad")

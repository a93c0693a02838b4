"""The booth's screens under Kivy, driven by real touches (each scenario in its own process).

Screenshots of every screen land in ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import pytest
from booth_agent import server_ctx
from fixtures.server import RunningServer, free_port
from kivy_harness import run_scenario

pytestmark = pytest.mark.kivy


def test_citizen_visit_from_welcome_to_goodbye(switchboard: RunningServer) -> None:
    run_scenario("booth_scenarios:walkthrough", server_ctx(switchboard))


def test_idle_citizen_is_warned_then_wiped_and_app_is_locked_down(
    switchboard: RunningServer,
) -> None:
    run_scenario("booth_scenarios:idle_and_lockdown", server_ctx(switchboard))


def test_unreachable_switchboard_shows_out_of_service() -> None:
    run_scenario(
        "booth_scenarios:out_of_service",
        {"server_url": f"http://127.0.0.1:{free_port()}", "token": "t" * 20},
    )


def test_kiosk_mode_chat_field_shows_on_screen_keyboard(switchboard: RunningServer) -> None:
    run_scenario("booth_scenarios:kiosk_keyboard", server_ctx(switchboard))

"""What the citizen sees when a call breaks (Kivy, real touches, own process each).

Screenshots land in ``test-artifacts/screenshots/fault_*.png``.
"""

from __future__ import annotations

import pytest
from booth_agent import server_ctx
from fixtures.server import RunningServer
from kivy_harness import run_scenario

pytestmark = pytest.mark.kivy


def test_agent_lost_mid_call_shows_why_and_first_place_again(switchboard: RunningServer) -> None:
    run_scenario("booth_fault_scenarios:agent_lost_back_at_head", server_ctx(switchboard))


def test_agent_silent_mid_call_shows_reconnecting_then_call_comes_back(
    switchboard: RunningServer,
) -> None:
    run_scenario("booth_fault_scenarios:agent_silent_call_comes_back", server_ctx(switchboard))

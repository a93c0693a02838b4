"""The technician diagnostics screen on the real booth UI (pty simulators as devices)."""

from __future__ import annotations

import pytest
from booth_agent import server_ctx
from fixtures.server import RunningServer
from kivy_harness import run_scenario

pytestmark = pytest.mark.kivy


def test_pin_pad_and_live_diagnostics(switchboard: RunningServer) -> None:
    run_scenario("booth_technician_scenarios:pin_then_diagnostics", server_ctx(switchboard))


def test_gesture_does_nothing_without_a_pin(switchboard: RunningServer) -> None:
    run_scenario("booth_technician_scenarios:no_pin_configured", server_ctx(switchboard))

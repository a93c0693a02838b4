"""The agent's device requests on the real booth UI: consent modal, activity line,
pty simulators behind the booth's DeviceManager, a real aiortc agent."""

from __future__ import annotations

import pytest
from booth_agent import server_ctx
from fixtures.server import RunningServer
from kivy_harness import run_scenario

pytestmark = pytest.mark.kivy


def test_card_read_with_consent_receipt_printed_and_refusal_reported(
    switchboard: RunningServer,
) -> None:
    run_scenario("booth_device_scenarios:card_receipt_and_refusal", server_ctx(switchboard))


def test_camera_scan_without_scanner_and_hangup_reachable_under_the_consent_modal(
    switchboard: RunningServer,
) -> None:
    run_scenario(
        "booth_device_scenarios:camera_scan_and_hangup_under_consent", server_ctx(switchboard)
    )

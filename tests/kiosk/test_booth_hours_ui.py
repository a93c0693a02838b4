"""The booth's opening hours on the real UI: closed screen instead of welcome."""

from __future__ import annotations

import pytest
from booth_agent import server_ctx
from fixtures.server import RunningServer
from kivy_harness import run_scenario

pytestmark = pytest.mark.kivy


def test_closed_booth_shows_when_it_reopens_and_never_cuts_a_session(
    switchboard: RunningServer,
) -> None:
    run_scenario(
        "booth_hours_scenarios:closed_then_open_then_session_finishes", server_ctx(switchboard)
    )

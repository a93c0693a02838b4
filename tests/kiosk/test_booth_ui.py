"""The booth's screens under Kivy, driven by real touches (each scenario in its own process).

Screenshots of every screen land in ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from booth_agent import server_ctx
from fixtures.server import RunningServer, free_port
from kivy_harness import run_scenario

from switchboard import stats_store
from switchboard.db import Database

pytestmark = pytest.mark.kivy


def test_citizen_visit_from_welcome_to_goodbye(switchboard: RunningServer) -> None:
    run_scenario("booth_scenarios:walkthrough", server_ctx(switchboard))
    # The face and the reason tapped on the goodbye screen reached the statistics.
    db = Database(f"sqlite:///{switchboard.data_dir / 'guichet.sqlite3'}")
    try:
        deadline = time.monotonic() + 5
        while True:
            today = datetime.now(ZoneInfo("Europe/Paris")).date()
            total = stats_store.report(db, today, today).total
            if total.rating_unhappy or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        db.close()
    assert (total.rating_unhappy, total.reason_wait, total.ratings) == (1, 1, 1)
    assert total.answered >= 1


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

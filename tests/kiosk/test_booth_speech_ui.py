"""Spoken guidance at the booth under Kivy, real touches, real espeak-ng and SoundLoader
(each scenario in its own process; screenshots in ``test-artifacts/screenshots/``)."""

from __future__ import annotations

import pytest
from booth_agent import server_ctx
from fixtures.server import RunningServer, free_port
from kivy_harness import run_scenario

pytestmark = pytest.mark.kivy


def test_citizen_hears_every_screen_in_their_language_and_the_next_one_starts_silent(
    switchboard: RunningServer,
) -> None:
    run_scenario("booth_speech_scenarios:visit_with_speech", server_ctx(switchboard))


def test_without_espeak_the_listen_button_says_unavailable_and_the_booth_works() -> None:
    run_scenario(
        "booth_speech_scenarios:engine_missing",
        {"server_url": f"http://127.0.0.1:{free_port()}", "token": "t" * 20},
    )

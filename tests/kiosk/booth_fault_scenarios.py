"""Kivy scenarios of faults during a call (run by ``kivy_harness`` in their own process).

Each takes the ``ctx`` dict from :func:`booth_agent.server_ctx` and raises on failure.
"""

from __future__ import annotations

from booth_agent import agent_console, answer_next, booth_settings_ctx, server_from_ctx
from kivy_harness import BoothHarness, harness_settings

from kiosk.session import State


async def agent_lost_back_at_head(ctx: dict[str, object]) -> None:
    """The agent's console vanishes mid-call: the citizen reads why, in French, and is
    first in line again."""
    settings = harness_settings(booth_settings_ctx(ctx))
    async with BoothHarness(settings) as booth:
        await booth.wait_for(lambda: booth.controller.services, what="catalogue")
        await booth.tap("start_button")
        await booth.wait_for(lambda: booth.find("service_caf"), what="service buttons")
        await booth.tap("service_caf")
        await booth.wait_text("Vous êtes le prochain")
        console = await agent_console(server_from_ctx(ctx))
        call = await answer_next(console)
        try:
            await booth.wait_screen("call")
            await booth.wait_for(lambda: booth.controller.frames_received >= 5, what="video")
            # The agent's console socket drops and does not come back: after the
            # switchboard's grace (AGENT_GRACE_S, 3 s) the call ends with agent_gone.
            await console.close()
            await booth.wait_screen("waiting", timeout=8)
            assert booth.controller.state is State.WAITING
            await booth.wait_text("La liaison avec l'agent a été perdue")
            await booth.wait_text("Vous êtes le prochain")
            await booth.frames(3)
            booth.screenshot("fault_01_agent_lost_waiting_fr")
        finally:
            await call.close()

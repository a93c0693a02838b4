"""The real booth UI against the real server over HTTPS (run by ``test_booth_tls_ui``)."""

from __future__ import annotations

import asyncio
from typing import Any

from kivy_harness import BoothHarness, harness_settings


async def untrusted_certificate_goes_out_of_service(ctx: dict[str, Any]) -> None:
    """A booth trusting another CA says why it is out of service and keeps retrying."""
    settings = harness_settings(ctx, demo=False)  # a production booth: https and its CA only
    async with BoothHarness(settings) as booth:
        await booth.wait_screen("out_of_service", timeout=20)
        await booth.wait_text("Problème de sécurité : la borne ne peut pas joindre les services")
        assert booth.controller.problem == "certificate"
        states: list[str] = []
        signaling = booth.controller._signaling
        assert signaling is not None
        previous = signaling.on_state

        def record(state: Any, reason: str) -> None:
            states.append(state)
            if previous is not None:
                previous(state, reason)

        signaling.on_state = record
        await booth.wait_for(lambda: states.count("connecting") >= 2, timeout=15)
        assert booth.screen == "out_of_service"
        await booth.frames(2)
        booth.screenshot("70_untrusted_certificate_fr")
        await asyncio.sleep(0)

"""Kivy scenarios of faults during a call (run by ``kivy_harness`` in their own process).

Each takes the ``ctx`` dict from :func:`booth_agent.server_ctx` and raises on failure.
"""

from __future__ import annotations

from booth_agent import agent_console, answer_next, booth_settings_ctx, server_from_ctx
from callkit import AgentPeer
from kivy_harness import BoothHarness, harness_settings

from guichet import wire
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
        await booth.wait_text("Vous êtes la prochaine personne")
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
            await booth.wait_text("L'appel avec l'agent s'est coupé")
            await booth.wait_text("Vous êtes la prochaine personne")
            await booth.frames(3)
            booth.screenshot("fault_01_agent_lost_waiting_fr")
        finally:
            await call.close()


async def agent_silent_call_comes_back(ctx: dict[str, object]) -> None:
    """The agent falls silent mid-call (as on a cut line): the citizen keeps the call
    screen with "Reconnexion…", the booth sends a new offer for the same call through
    the switchboard, the agent answers it with a new peer connection and the call goes
    on, without the citizen going back in line."""
    settings = harness_settings(booth_settings_ctx(ctx))
    async with BoothHarness(settings) as booth:
        await booth.wait_for(lambda: booth.controller.services, what="catalogue")
        await booth.tap("start_button")
        await booth.wait_for(lambda: booth.find("service_caf"), what="service buttons")
        await booth.tap("service_caf")
        await booth.wait_text("Vous êtes la prochaine personne")
        console = await agent_console(server_from_ctx(ctx))
        call = await answer_next(console)
        peers = [call.peer]
        try:
            await booth.wait_screen("call")
            await booth.wait_for(lambda: booth.controller.frames_received >= 5, what="video")
            first = booth.controller.in_call_peer
            call_id = booth.controller.data.call_id
            # A citizen who cannot see the frozen picture has turned spoken guidance on.
            spoken = booth.app.speech_guide.output.spoken
            await booth.tap("speech_button")
            await booth.wait_for(
                lambda: any(u.text.startswith("Vous parlez avec") for u in spoken),
                what="the call's guidance spoken",
            )
            heard_before_cut = len(spoken)
            # The agent's heartbeats stop (its side of a cut line): within 5 s the
            # booth says it is reconnecting and keeps the call screen.
            call.peer.heartbeats_on = False
            await booth.wait_text("L'appel est coupé. Nous essayons de le reprendre…", timeout=6)
            assert booth.controller.state is State.IN_CALL
            await booth.wait_for(
                lambda: any(
                    u.text.startswith("L'appel est coupé") for u in list(spoken)[heard_before_cut:]
                ),
                what="the cut spoken",
            )
            heard_at_cut = len(spoken)
            # A line typed meanwhile is not lost in a dead channel: it stays to send.
            assert booth.controller.send_chat("Allô ?") is False
            assert booth.controller.data.notice is None
            await booth.frames(3)
            booth.screenshot("fault_02_reconnecting_fr")
            # The console's part: a new offer for the same call replaces its peer.
            offer = await console.next("offer", timeout=10)
            assert offer["call_id"] == call_id
            await call.peer.close()
            peer = AgentPeer()
            peers.append(peer)
            answer = await peer.answer(wire.SessionDescription(**offer["description"]))
            await console.send("answer", call_id=call_id, description=answer.model_dump())
            await booth.wait_for(
                lambda: booth.controller.call_status == "connected", timeout=10, what="call back"
            )
            now = booth.controller.in_call_peer
            assert now is not None and now is not first
            assert booth.controller.reconnections == 1
            assert booth.controller.state is State.IN_CALL
            assert booth.controller.data.call_id == call_id
            await booth.wait_for(
                lambda: any(
                    u.text.startswith("Vous parlez avec") for u in list(spoken)[heard_at_cut:]
                ),
                what="the call's return spoken",
            )
            await booth.wait_for(lambda: now.frames_received >= 10, what="video on the new peer")
            peer.send_chat("Vous m'entendez de nouveau ?")
            await booth.wait_text("Vous m'entendez de nouveau ?")
            await booth.frames(3)
            booth.screenshot("fault_03_call_back_fr")
        finally:
            for p in peers:
                await p.close()
            await console.close()

"""UI scenarios run by ``kivy_harness`` in their own process (one Kivy window each).

Each takes the ``ctx`` dict from :func:`booth_agent.server_ctx` and raises on failure.
"""

from __future__ import annotations

import asyncio

from booth_agent import (
    agent_console,
    answer_next,
    booth_settings_ctx,
    other_booth_joins,
    server_from_ctx,
)
from kivy_harness import BoothHarness, harness_settings

from kiosk.session import SessionData, State

KEY_ESCAPE = 27
KEY_F1 = 282


async def walkthrough(ctx: dict[str, object]) -> None:
    """A citizen's whole visit in French, a look at English, every screen photographed."""
    settings = harness_settings(booth_settings_ctx(ctx), goodbye_s=3.0)
    async with BoothHarness(settings) as booth:
        await booth.wait_for(lambda: booth.controller.services, what="catalogue")
        await booth.wait_screen("welcome")
        await booth.wait_text("Touchez l'écran pour commencer")
        booth.screenshot("01_welcome_fr")

        await booth.tap("lang_en")
        await booth.wait_text("Touch the screen to start")
        booth.screenshot("02_welcome_en")
        await booth.tap("start_button")
        await booth.wait_screen("choose")
        await booth.wait_text("Choose a service")
        await booth.frames(3)
        booth.screenshot("03_choose_en")
        await booth.tap("back_button")
        await booth.wait_screen("welcome")
        # Back on the welcome screen the language is the booth's again.
        await booth.wait_text("Touchez l'écran pour commencer")

        await booth.tap("start_button")
        await booth.wait_screen("choose")
        await booth.wait_text("Choisissez un service")
        await booth.wait_for(lambda: booth.find("service_caf"), what="service buttons")
        await booth.frames(3)
        booth.screenshot("04_choose_fr")
        closed = [s for s in booth.controller.services if not s.open_now]
        if closed:
            # A closed service is visibly disabled and a tap on it does nothing.
            assert booth.find(f"service_{closed[0].id}").disabled
            await booth.tap_at(*booth.find(f"service_{closed[0].id}").center)
            assert booth.screen == "choose"

        other = await other_booth_joins(ctx, "caf")
        await booth.tap("service_caf")
        await booth.wait_screen("waiting")
        await booth.wait_text("Vous êtes numéro 2 dans la file d'attente")
        await booth.wait_text("Temps d'attente : environ")
        booth.screenshot("05_waiting_fr")
        # The citizen ahead gives up: the position follows live.
        await other.send("leave_queue")
        await booth.wait_text("Vous êtes la prochaine personne")
        await other.close()

        console = await agent_console(server_from_ctx(ctx))
        call = await answer_next(console)
        try:
            await booth.wait_screen("call")
            await booth.wait_for(lambda: booth.controller.frames_received >= 15, what="video")
            await booth.wait_for(lambda: booth.find("remote_video").frames_drawn > 5)
            await booth.wait_for(lambda: booth.find("local_video").frames_drawn > 5)
            call.peer.send_chat("Bonjour, je suis Alice. Que puis-je pour vous ?")
            await booth.wait_text("Bonjour, je suis Alice")
            await booth.type_text("chat_input", "Je voudrais déclarer un changement d'adresse.")
            await booth.tap("send_button")
            await booth.wait_for(lambda: call.peer.chats(), what="chat at the agent")
            assert call.peer.chats()[0].text == "Je voudrais déclarer un changement d'adresse."
            assert booth.find("chat_input").text == ""
            await booth.tap("mute_button")
            await booth.wait_text("Rétablir le micro")
            await booth.tap("mute_button")
            await booth.wait_text("Couper le micro")
            await booth.frames(3)
            booth.screenshot("06_call_fr")

            await booth.tap("hangup_button")
            await booth.wait_screen("goodbye")
            ended = await console.next("call_ended")
            assert ended["reason"] == "booth_hangup"
            # Nothing of the call is left on the call screen.
            assert len(booth.find("chat_log").children) == 0
            assert booth.find("remote_video").texture is None
            await booth.wait_text("Comment s'est passé cet échange ?")
            await booth.frames(3)
            booth.screenshot("07_goodbye_fr")
            # The citizen was not happy, and says why: one face, one reason.
            await booth.tap("face_unhappy")
            await booth.wait_text("Qu'est-ce qui n'a pas marché ?")
            await booth.frames(3)
            booth.screenshot("07b_goodbye_reason_fr")
            await booth.tap("reason_wait")
            await booth.wait_text("Merci pour votre réponse.")
            await booth.frames(3)
            booth.screenshot("07c_goodbye_thanks_fr")
            await booth.wait_screen("welcome", timeout=10)
            assert booth.controller.data == SessionData()
        finally:
            await call.close()


async def idle_and_lockdown(ctx: dict[str, object]) -> None:
    """Idle warning and reset; Escape, F1 and close requests do not leave the app."""
    settings = harness_settings(
        booth_settings_ctx(ctx), idle_warning_s=2.0, waiting_idle_warning_s=2.0, idle_reset_s=3.0
    )
    async with BoothHarness(settings) as booth:
        await booth.wait_for(lambda: booth.controller.services, what="catalogue")
        await booth.wait_screen("welcome")

        assert await booth.request_close() is True
        assert booth.app.close_requests == 1
        await booth.press_key(KEY_ESCAPE)
        await booth.press_key(KEY_F1)
        await booth.frames(5)
        assert booth.running and booth.screen == "welcome"
        from kivy.core.window import Window

        assert not any(type(w).__name__.startswith("Settings") for w in Window.children)

        await booth.tap("start_button")
        await booth.wait_screen("choose")
        await booth.tap("service_caf")
        await booth.wait_screen("waiting")
        await booth.wait_text("Êtes-vous toujours là ?", timeout=6)
        await booth.frames(3)
        booth.screenshot("08_idle_warning_fr")
        await booth.tap("still_here_button")
        await booth.wait_for(lambda: not booth.controller.data.idle_warning, what="dismissed")
        assert booth.screen == "waiting"
        await booth.wait_for(
            lambda: "Êtes-vous toujours là ?" not in booth.all_text(), what="modal gone"
        )
        # Nobody answers now: warning, then the session is wiped and the queue left.
        await booth.wait_text("Êtes-vous toujours là ?", timeout=6)
        await booth.wait_screen("welcome", timeout=8)
        assert booth.controller.state is State.WELCOME
        assert booth.controller.data == SessionData()
        await booth.wait_for(
            lambda: "Êtes-vous toujours là ?" not in booth.all_text(), what="modal gone"
        )
        await asyncio.sleep(0.3)
        assert booth.running


async def out_of_service(ctx: dict[str, object]) -> None:
    """With no switchboard the booth says so, in plain words."""
    settings = harness_settings(booth_settings_ctx(ctx))
    async with BoothHarness(settings) as booth:
        await booth.wait_screen("out_of_service")
        await booth.wait_text("Service arrêté pour le moment")
        booth.screenshot("09_out_of_service_fr")
        # Touching it does nothing harmful.
        await booth.tap_at(640, 400)
        assert booth.screen == "out_of_service"


async def kiosk_keyboard(ctx: dict[str, object]) -> None:
    """In kiosk mode the chat field brings up Kivy's docked keyboard, field kept visible."""
    settings = harness_settings(booth_settings_ctx(ctx), fullscreen=True)
    async with BoothHarness(settings) as booth:
        await booth.wait_for(lambda: booth.controller.services, what="catalogue")
        await booth.tap("start_button")
        await booth.tap("service_caf")
        await booth.wait_screen("waiting")
        console = await agent_console(server_from_ctx(ctx))
        call = await answer_next(console)
        try:
            await booth.wait_screen("call")
            await booth.wait_for(lambda: booth.controller.call_status == "connected")
            await booth.tap("chat_input")
            from kivy.core.window import Window
            from kivy.uix.vkeyboard import VKeyboard

            # The booth's own VKeyboard (kiosk.ui.keyboard.BoothKeyboard: 2 cm keys).
            await booth.wait_for(
                lambda: any(isinstance(w, VKeyboard) for w in Window.children),
                what="on-screen keyboard",
            )
            await booth.frames(5)
            booth.screenshot("11_call_keyboard_fr")
            field = booth.find("chat_input")
            keyboard = next(w for w in Window.children if isinstance(w, VKeyboard))
            # The field (top of the chat column) stays above the docked keyboard.
            _x, fy = field.to_window(field.x, field.y)
            assert fy >= keyboard.top, (fy, keyboard.top)
            field.insert_text("Merci")
            await booth.tap("send_button")
            await booth.wait_for(lambda: call.peer.chats(), what="chat sent")
        finally:
            await call.close()

"""Spoken guidance at the booth, run by ``kivy_harness`` in its own process: real
espeak-ng, Kivy's SoundLoader on SDL's dummy audio device, a real agent.

What was said is read from the booth's own record (``SpeechOutput.spoken`` and
``.playbacks``: language, text, what SoundLoader did, whether the WAV was deleted).
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from booth_agent import agent_console, answer_next, booth_settings_ctx, server_from_ctx
from booth_device_scenarios import send_request
from kivy_harness import BoothHarness, harness_settings

from guichet import wire
from kiosk import guidance as g
from kiosk.controller import CONSENT_QUESTIONS
from kiosk.i18n import Translator
from kiosk.session import SessionData
from kiosk.speech import Playback
from kiosk.speech_voice import clean_text

FR = Translator("fr").gettext
"""The French catalogue: expected texts come from it, not from this file."""
AR = Translator("ar").gettext
SCAN_QUESTION_FR = FR(CONSENT_QUESTIONS[wire.DeviceKind.SCAN])


async def said(booth: BoothHarness, language: str, fragment: str, after: int = 0) -> Playback:
    """The first utterance (from the ``after``-th on) in ``language`` saying ``fragment``."""
    out = booth.app.speech_guide.output
    fragment = clean_text(fragment)  # as the voice got it ("d'accord ?" is "d'accord?")

    def find() -> Playback | None:
        return next(
            (
                p
                for p in list(out.playbacks)[after:]
                if p.utterance.language == language and fragment in p.utterance.text
            ),
            None,
        )

    try:
        return await booth.wait_for(find, what=f"{language} speech with {fragment!r}")
    except TimeoutError:
        heard = "\n".join(f"{p.utterance.language}: {p.utterance.text}" for p in out.playbacks)
        raise AssertionError(f"{fragment!r} not said in {language}; said:\n{heard}") from None


async def played(booth: BoothHarness, playback: Playback) -> None:
    """Wait until SoundLoader plays ``playback`` (its sound reports "play")."""
    await booth.wait_for(lambda: playback.sound_state == "play", what=f"playing {playback}")


def count(booth: BoothHarness) -> int:
    return len(booth.app.speech_guide.output.playbacks)


def button_state(booth: BoothHarness) -> tuple[bool, bool, str]:
    button = booth.find("speech_button")
    return (button.speech_on, button.disabled, booth.text_of("speech_label"))


async def visit_with_speech(ctx: dict[str, Any]) -> None:
    """A citizen turns speech on, hears every screen in their language, then leaves."""
    settings = harness_settings(booth_settings_ctx(ctx), goodbye_s=60.0)
    async with BoothHarness(settings) as booth:
        out = booth.app.speech_guide.output
        assert out.available
        await booth.wait_for(lambda: booth.controller.services, what="catalogue")
        await booth.wait_screen("welcome")
        await booth.wait_text(FR("Listen"))
        from kiosk.ui import common as C  # here: Kivy's window is configured by now

        button = booth.find("speech_button")
        assert button.width >= C.TOUCH_MIN and button.height >= C.TOUCH_MIN
        assert button_state(booth) == (False, False, FR("Listen"))
        assert list(out.spoken) == [], "the booth says nothing by itself"
        booth.screenshot("speech_button_off")

        # On: the welcome screen is read at once, in French.
        await booth.tap("speech_button")
        welcome = await said(booth, "fr", FR("Welcome") + ".")
        assert FR("Touch the screen to start") in welcome.utterance.text
        await played(booth, welcome)
        assert booth.controller.data.speech_on
        assert button_state(booth) == (True, False, FR("Listen"))
        await booth.frames(3)
        booth.screenshot("speech_button_on")

        # Another language: read again in that language, by its voice.
        await booth.tap("lang_en")
        english = await said(booth, "en", "Welcome.")
        await played(booth, english)
        assert welcome.cancelled or welcome.finished
        # Arabic: said by the Arabic voice; the header is mirrored, the button top left.
        await booth.tap("lang_ar")
        arabic = await said(booth, "ar", AR("Welcome"))
        await played(booth, arabic)
        await booth.frames(3)
        listen = booth.find("speech_button")
        assert listen.to_window(*listen.center)[0] < booth.app.root.width / 2
        booth.screenshot("speech_button_on_ar")
        await booth.tap("lang_fr")
        await said(booth, "fr", FR("Welcome") + ".", after=count(booth) - 1)

        # The service list: each service by name and where its button is.
        await booth.tap("start_button")
        await booth.wait_screen("choose")
        first = booth.controller.service_name(booth.controller.services[0])
        choose = await said(
            booth, "fr", g.render_line(g.Line.of(g.MSG_ROW_LEFT, row=1, name=first), FR)
        )
        assert choose.utterance.text.startswith(FR("Choose a service") + ".")
        await played(booth, choose)
        await booth.frames(3)
        booth.screenshot("speech_choose_on")

        # Waiting: the place in the queue.
        await booth.tap("service_caf")
        await booth.wait_screen("waiting")
        waiting = await said(booth, "fr", FR("You are next") + ".")
        await played(booth, waiting)
        assert clean_text(FR(g.MSG_CANCEL_AT_BOTTOM)) in waiting.utterance.text

        console = await agent_console(server_from_ctx(ctx))
        call = await answer_next(console)
        try:
            await booth.wait_screen("call")
            agent = booth.controller.data.agent_name
            in_call = await said(
                booth, "fr", FR("You are talking with {agent}").format(agent=agent)
            )
            assert FR("Hang up") in in_call.utterance.text
            # Said once, short, and to its end (SoundLoader reports the end).
            await booth.wait_for(lambda: in_call.finished, timeout=20, what="call guidance played")
            assert in_call.deleted and not in_call.wav.exists()
            await booth.wait_for(lambda: booth.controller.call_status == "connected", what="up")
            await booth.wait_for(lambda: call.peer.channel_open.is_set(), what="data channel")

            # A consent question is read when it opens ...
            before = count(booth)
            send_request(call, "s1", kind="scan", dpi=300, colour=False)
            question = await said(booth, "fr", SCAN_QUESTION_FR, after=before)
            assert clean_text(FR(g.MSG_CONSENT_BUTTONS)) in question.utterance.text
            await played(booth, question)
            await booth.tap("consent_no")
            await booth.wait_for(lambda: SCAN_QUESTION_FR not in booth.all_text(), what="closed")
            # ... and closing it does not read the call screen again.
            await booth.frames(10)
            assert count(booth) == before + 1, [p.utterance.text for p in out.playbacks]

            await booth.tap("hangup_button")
            await booth.wait_screen("goodbye")
        finally:
            await call.close()

        goodbye = await said(booth, "fr", FR("How did the call go?"))
        assert clean_text(FR(g.MSG_THREE_FACES).split("{")[0]) in goodbye.utterance.text
        await played(booth, goodbye)
        assert booth.controller.data.speech_on, "the same citizen still hears the booth"
        await booth.tap("finish_button")
        await booth.wait_screen("welcome")

        # The next citizen starts with speech off, and the voice has stopped.
        assert booth.controller.data == SessionData()
        await booth.wait_for(lambda: not out.speaking, what="voice stopped")
        assert button_state(booth) == (False, False, FR("Listen"))
        assert goodbye.cancelled or goodbye.finished
        assert all(p.deleted for p in out.playbacks)
        assert out.directory is not None and list(out.directory.iterdir()) == []
        languages = [p.utterance.language for p in out.playbacks]
        assert set(languages) == {"fr", "en", "ar"}, languages
        assert languages.count("en") == 1 and languages.count("ar") == 1, languages

        # Speech off, the next citizen's first touch gets one quiet invitation.
        before = count(booth)
        await booth.tap("start_button")
        await booth.wait_screen("choose")
        hint = await said(booth, "fr", FR(g.MSG_INVITATION), after=before)
        assert hint.utterance.volume < 0.5 * welcome.utterance.volume
        await booth.frames(10)
        assert count(booth) == before + 1, "and nothing else while speech is off"

        # Tapping the button again stops the voice at once.
        await booth.tap("speech_button")
        again = await said(booth, "fr", FR("Choose a service") + ".", after=before + 1)
        await played(booth, again)
        await booth.tap("speech_button")
        await booth.wait_for(lambda: again.cancelled and again.deleted, what="speech stopped")
        assert not booth.controller.data.speech_on


async def engine_missing(ctx: dict[str, Any]) -> None:
    """Without espeak-ng the button says the voice is unavailable; the booth works."""
    empty = tempfile.mkdtemp(prefix="no-espeak-")
    os.environ["PATH"] = empty  # espeak-ng is not on it: as on a booth without the package
    settings = harness_settings(booth_settings_ctx(ctx))
    async with BoothHarness(settings) as booth:
        await booth.wait_screen("out_of_service")
        await booth.wait_text(FR("Voice unavailable"))
        assert button_state(booth) == (False, True, FR("Voice unavailable"))
        await booth.tap_at(
            *booth.find("speech_button").to_window(*booth.find("speech_button").center)
        )
        assert not booth.controller.data.speech_on, "a disabled button turns nothing on"
        assert list(booth.app.speech_guide.output.spoken) == []
        await booth.frames(3)
        booth.screenshot("speech_button_unavailable")

"""Speech output with Kivy's real SoundLoader (SDL2 audio, dummy device), run by
``kivy_harness`` in its own process: Kivy's clock is pumped on the asyncio loop as
the booth's ``async_run`` does, which is what reports the end of a sound."""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
from collections.abc import AsyncIterator

from kiosk.speech import SpeechOutput

SENTENCES = {
    "fr": "Bienvenue. Touchez l'écran pour commencer.",
    "en": "Welcome. Touch the screen to start.",
    "es": "Bienvenido. Toque la pantalla para empezar.",
    "ar": "مرحبا. المس الشاشة للبدء.",
    "pt": "Bem-vindo. Toque no ecrã para começar.",
}
"""One sentence per booth language, as a citizen would hear it."""


@contextlib.asynccontextmanager
async def kivy_clock() -> AsyncIterator[None]:
    """Run Kivy's clock on this asyncio loop (what ``App.async_run`` does)."""
    from kivy.clock import Clock

    Clock.init_async_lib("asyncio")

    async def pump() -> None:
        while True:
            await Clock.async_tick()

    task = asyncio.create_task(pump())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def plays_each_language_and_deletes_its_wavs(ctx: dict[str, object]) -> None:
    """Each language is made, played to its end by SoundLoader and its WAV deleted."""
    async with kivy_clock():
        out = SpeechOutput()
        assert out.available
        for language, text in SENTENCES.items():
            assert out.say(language, text)
            directory = out.directory
            assert directory is not None
            mode = stat.S_IMODE(os.stat(directory).st_mode)
            assert mode == 0o700, f"speech directory mode {mode:o}"
            await out.wait_idle()
            played = out.playbacks[-1]
            assert played.utterance.language == language and played.utterance.text == text
            assert played.synth_ms > 0 and played.sound_state == "play", played
            assert played.frames_ok and played.finished and not played.cancelled, played
            assert played.deleted and not played.wav.exists(), played
            assert list(directory.iterdir()) == [], "every WAV is deleted after playing"
        await out.aclose()
        assert not directory.exists(), "the private directory goes at close"


async def a_new_utterance_cancels_the_one_in_progress(ctx: dict[str, object]) -> None:
    """The first is stopped mid-sound and its WAV deleted; the second plays to its end."""
    async with kivy_clock():
        out = SpeechOutput()
        out.say("fr", SENTENCES["fr"] * 4)
        first = None
        for _ in range(500):
            await asyncio.sleep(0.01)
            if out.playbacks and out.playbacks[-1].sound_state == "play":
                first = out.playbacks[-1]
                break
        assert first is not None, "the first utterance never started playing"
        out.say("en", SENTENCES["en"])
        await out.wait_idle()
        await asyncio.sleep(0.05)
        second = out.playbacks[-1]
        assert first.cancelled and not first.finished and first.deleted, first
        assert second.finished and second.deleted, second
        assert [u.language for u in out.spoken] == ["fr", "en"]
        await out.aclose()


async def engine_missing_or_failing_keeps_quiet(ctx: dict[str, object]) -> None:
    """No engine: unavailable, nothing said. A failing engine: logged, nothing kept."""
    async with kivy_clock():
        missing = SpeechOutput(engine="espeak-ng-not-installed")
        assert not missing.available
        assert not missing.say("fr", "Bonjour")
        assert list(missing.spoken) == [] and missing.directory is None

        # /bin/false stands for an engine that exits in error (a real process).
        failing = SpeechOutput(engine="false")
        assert failing.available
        assert failing.say("fr", "Bonjour")
        await failing.wait_idle()
        played = failing.playbacks[-1]
        assert played.synth_ms < 0 and played.sound_state == "" and played.deleted, played
        assert failing.directory is not None and list(failing.directory.iterdir()) == []
        assert not failing.say("tlh", "nuqneH"), "no voice for the language: nothing said"
        await failing.aclose()

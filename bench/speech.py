"""Benchmark: spoken guidance, from "say this" to the voice playing, in each language.

For each booth language, the service-list guidance (the longest a screen says, five
services) is said ``--rounds`` times by the booth's own ``SpeechOutput``: real
espeak-ng in a subprocess on the asyncio loop, Kivy's SoundLoader on SDL audio
(``SDL_AUDIODRIVER=dummy`` when unset: no sound device needed). Each round is cut
once the sound plays. The baseline is the cost of starting the trivial program
``true`` from the same loop in the same run: what is left is espeak-ng's own work.

    .venv/bin/python bench/speech.py

Last line: ``speech languages=5 synth_ms_p50=N synth_ms_max=N play_start_ms_p50=N
baseline_echo_ms=N``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("KIVY_HOME", tempfile.mkdtemp(prefix="guichet-bench-kivy-"))
os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
os.environ.setdefault("KIVY_NO_FILELOG", "1")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

from kiosk import guidance as g  # noqa: E402
from kiosk.i18n import Translator  # noqa: E402
from kiosk.speech import SpeechOutput, Utterance  # noqa: E402
from kiosk.speech_voice import VOICES  # noqa: E402

SERVICES = tuple(
    g.ServiceFact(name, True)
    for name in ("CAF", "Impôts", "Titres d'identité", "Assurance maladie", "Tribunal")
)


async def baseline_ms(rounds: int) -> float:
    """Median time to start ``true`` and see it exit, from this asyncio loop."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        proc = await asyncio.create_subprocess_exec("true")
        await proc.wait()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


async def until(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    """Poll ``predicate`` every millisecond until it is true."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the utterance never played")
        await asyncio.sleep(0.001)


def playing(out: SpeechOutput, said: Utterance) -> bool:
    """The utterance ``said`` has reached SoundLoader (its sound was started)."""
    return (
        bool(out.playbacks)
        and out.playbacks[-1].utterance is said
        and bool(out.playbacks[-1].sound_state)
    )


async def run(rounds: int) -> int:
    from kivy.clock import Clock

    # Kivy's clock on this loop, as the booth's App.async_run runs it (SoundLoader
    # reports the end of a sound through it).
    Clock.init_async_lib("asyncio")

    async def pump() -> None:
        while True:
            await Clock.async_tick()

    clock = asyncio.create_task(pump())
    lags: list[float] = []

    async def watch_loop() -> None:
        # How late a 1 ms sleep wakes: what a touch or a video frame would wait.
        while True:
            start = time.perf_counter()
            await asyncio.sleep(0.001)
            lags.append((time.perf_counter() - start) * 1000 - 1)

    watcher = asyncio.create_task(watch_loop())
    out = SpeechOutput()
    if not out.available:
        print("espeak-ng is not installed")
        return 1
    synth: list[float] = []
    start: list[float] = []
    try:
        for language in VOICES:
            text = g.render(
                g.guidance(g.ScreenFacts("choose", language, services=SERVICES)),
                Translator(language).gettext,
            )
            for _ in range(rounds):
                out.say(language, text)
                said = out.spoken[-1]
                await until(partial(playing, out, said))
                playback = out.playbacks[-1]
                assert playback.sound_state == "play", playback
                synth.append(playback.synth_ms)
                start.append(playback.play_start_ms)
                out.stop()
                await out.wait_idle()
            print(
                f"{language} ({VOICES[language]}): {len(text)} characters,"
                f" synth p50 {statistics.median(synth[-rounds:]):.1f} ms"
            )
        base = await baseline_ms(rounds * 2)
    finally:
        await out.aclose()
        for task in (clock, watcher):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    print(f"loop lag while speaking: p50 {statistics.median(lags):.1f} ms, max {max(lags):.1f} ms")
    print(
        f"speech languages={len(VOICES)} synth_ms_p50={statistics.median(synth):.1f}"
        f" synth_ms_max={max(synth):.1f} play_start_ms_p50={statistics.median(start):.1f}"
        f" baseline_echo_ms={base:.1f}"
    )
    return 0


def main() -> int:
    """Run the rounds and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    return asyncio.run(run(parser.parse_args().rounds))


if __name__ == "__main__":
    sys.exit(main())

"""Spoken guidance, the I/O part: espeak-ng makes a WAV, Kivy's SoundLoader plays it.

One utterance at a time: a new one cancels the one in progress (its synthesis is
killed or its sound stopped). espeak-ng runs as an asyncio subprocess on the
booth's one loop, so the UI never waits for it (~15 ms a sentence anyway). The
WAVs go into a private directory (``mkdtemp``: mode 0700), each is deleted once
played or cancelled, and the directory goes at :meth:`SpeechOutput.close` (and at
exit, whatever happens). Nothing the booth said about a citizen stays on disk.

Failures never reach the citizen: no espeak-ng makes the output *unavailable*
(the header's button says so); a failing synthesis or an unplayable file is
logged once per kind and the booth goes on silently.

Every utterance and every playback is kept in :attr:`SpeechOutput.spoken` and
:attr:`SpeechOutput.playbacks` (the last :data:`RECORD_MAX`): tests and the
diagnostics read what was said, in which language, and what became of the WAV.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import shutil
import tempfile
import time
import wave
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.speech_voice import (
    ENGINE,
    MIXER_RATE,
    RATE_WPM,
    clean_text,
    mixer_pcm,
    synth_command,
    voice_for,
)

logger = logging.getLogger(__name__)

SYNTH_TIMEOUT_S = 10.0
"""A synthesis that takes longer is killed (a sentence takes ~15 ms)."""
PLAY_MARGIN_S = 5.0
"""Beyond the sound's own length, how long a playback may take before it is stopped
(a sound driver that never reports the end must not hold the next utterance)."""
RECORD_MAX = 200
"""Utterances and playbacks remembered (a long session must not grow memory)."""

SoundLoader = Callable[[str], Any]
"""Loads a WAV into a Kivy ``Sound`` (or returns None when it cannot)."""


def kivy_sound_loader(path: str) -> Any:
    """Kivy's ``SoundLoader.load`` (imported here: the core of the booth has no Kivy)."""
    from kivy.core.audio import SoundLoader as KivySoundLoader

    return KivySoundLoader.load(path)


@dataclass(frozen=True)
class Utterance:
    """Something the booth was asked to say, as it went to the engine."""

    language: str
    text: str
    volume: float


@dataclass
class Playback:
    """What became of one utterance: synthesis, playback and its WAV file."""

    utterance: Utterance
    wav: Path
    synth_ms: float = -1.0
    """Time espeak-ng took (-1: did not finish)."""
    play_start_ms: float = -1.0
    """From the request to the sound playing (-1: never played)."""
    sound_state: str = ""
    """The Kivy sound's state seen right after ``play()`` ("play" when it played)."""
    frames_ok: bool = False
    """SoundLoader read the file and gave it a length."""
    finished: bool = False
    """The sound reached its end (not stopped by a newer utterance)."""
    cancelled: bool = False
    deleted: bool = False
    """The WAV was removed from disk after playing (or after the cancellation)."""


def to_mixer_format(wav: Path) -> None:
    """Rewrite espeak-ng's WAV in the mixer's own format (see ``MIXER_RATE``)."""
    with wave.open(str(wav), "rb") as src:
        if (src.getnchannels(), src.getsampwidth()) != (1, 2):
            return  # not espeak-ng's usual output: SDL_mixer converts it itself
        rate = src.getframerate()
        pcm = mixer_pcm(src.readframes(src.getnframes()), rate)
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(MIXER_RATE)
        out.writeframes(pcm)


async def _kill(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    await proc.wait()


class SpeechOutput:
    """Says texts in a booth language; one at a time, never blocking, never raising."""

    def __init__(
        self,
        *,
        engine: str = ENGINE,
        rate_wpm: int = RATE_WPM,
        volume: float = 1.0,
        load_sound: SoundLoader = kivy_sound_loader,
    ) -> None:
        self.engine = engine
        self.rate_wpm = rate_wpm
        self.volume = max(0.0, min(1.0, volume))
        """The booth's volume (its configuration's 0–100 as 0–1); each utterance scales it."""
        self._load_sound = load_sound
        self.available = shutil.which(engine) is not None
        """False without espeak-ng: nothing is ever said, the button says why."""
        if not self.available:
            logger.warning("%s not found: spoken guidance unavailable", engine)
        self.spoken: deque[Utterance] = deque(maxlen=RECORD_MAX)
        self.playbacks: deque[Playback] = deque(maxlen=RECORD_MAX)
        self._dir: Path | None = None
        self._count = 0
        self._task: asyncio.Task[None] | None = None
        self._logged: set[str] = set()
        self._closed = False

    # -- public ---------------------------------------------------------------

    @property
    def speaking(self) -> bool:
        """An utterance is being made or played."""
        return self._task is not None and not self._task.done()

    def say(self, language: str, text: str, volume: float = 1.0) -> bool:
        """Say ``text`` in ``language`` at ``volume`` (0–1, of the booth's volume).

        Stops what is being said. Returns False when nothing will be said (no
        engine, no voice for the language, nothing to say, closed).
        """
        self.stop()
        voice = voice_for(language)
        spoken = clean_text(text)
        if not self.available or self._closed or not spoken:
            return False
        if voice is None:
            self._log_once(f"voice:{language}", "no voice for language %r: not spoken", language)
            return False
        utterance = Utterance(language, spoken, max(0.0, min(1.0, volume)) * self.volume)
        self.spoken.append(utterance)
        asked = time.perf_counter()
        self._task = asyncio.get_running_loop().create_task(
            self._speak(utterance, voice, self._wav_path(), asked), name="speech"
        )
        return True

    def stop(self) -> None:
        """Stop what is being said (the synthesis is killed, the sound stopped)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None

    async def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait until the current utterance is over (tests and the bench)."""
        task = self._task
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(task), timeout)

    def close(self) -> None:
        """Stop and remove the private directory with whatever is left in it."""
        self._closed = True
        self.stop()
        self._remove_dir()

    async def aclose(self) -> None:
        """:meth:`close`, and wait for the stopped utterance to let go of its process.

        (Cancelling an espeak-ng start together with asyncio's own pipe task, as a
        loop shutting down does, can leave it waiting forever: stop it first.)
        """
        task = self._task
        self.close()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def directory(self) -> Path | None:
        """The private WAV directory (None until the first utterance)."""
        return self._dir

    # -- the work ---------------------------------------------------------------

    def _log_once(self, key: str, message: str, *args: Any, exc_info: bool = False) -> None:
        if key not in self._logged:
            self._logged.add(key)
            logger.warning(message, *args, exc_info=exc_info)

    def _wav_path(self) -> Path:
        if self._dir is None:
            # mkdtemp makes the directory 0700: only the booth's user reads it.
            self._dir = Path(tempfile.mkdtemp(prefix="guichet-speech-"))
            atexit.register(self._remove_dir)
        self._count += 1
        return self._dir / f"{self._count}.wav"

    def _remove_dir(self) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    async def _speak(self, utterance: Utterance, voice: str, wav: Path, asked: float) -> None:
        playback = Playback(utterance, wav)
        self.playbacks.append(playback)
        try:
            if await self._synthesise(utterance.text, voice, wav):
                playback.synth_ms = (time.perf_counter() - asked) * 1000
                await asyncio.to_thread(to_mixer_format, wav)
                await self._play(playback, asked)
        except asyncio.CancelledError:
            playback.cancelled = True
            raise
        except Exception:
            # Speech is a help, never a reason for the booth to fail.
            self._log_once("speak", "spoken guidance failed; going on silently", exc_info=True)
        finally:
            wav.unlink(missing_ok=True)
            playback.deleted = not wav.exists()

    async def _synthesise(self, text: str, voice: str, wav: Path) -> bool:
        try:
            proc = await asyncio.create_subprocess_exec(
                *synth_command(voice, str(wav), self.rate_wpm, self.engine),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            self.available = False
            self._log_once("exec", "%s cannot run (%s): speech unavailable", self.engine, exc)
            return False
        try:
            _, err = await asyncio.wait_for(proc.communicate(text.encode()), SYNTH_TIMEOUT_S)
        except TimeoutError:
            await _kill(proc)
            self._log_once("timeout", "%s took over %s s: not spoken", self.engine, SYNTH_TIMEOUT_S)
            return False
        except asyncio.CancelledError:
            await _kill(proc)  # a newer utterance: this one's synthesis is worthless
            raise
        if proc.returncode != 0:
            reason = err.decode(errors="replace").strip()[:200]
            self._log_once(f"rc:{voice}", "%s failed for voice %s: %s", self.engine, voice, reason)
            return False
        return True

    async def _play(self, playback: Playback, asked: float) -> None:
        sound = self._load_sound(str(playback.wav))
        if sound is None:
            self._log_once("load", "the sound of %s cannot be played", playback.wav.name)
            return
        playback.frames_ok = float(sound.length or 0) > 0
        ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def on_stop(*_: Any) -> None:
            if not ended.done():
                ended.set_result(None)

        sound.bind(on_stop=on_stop)
        sound.volume = playback.utterance.volume
        try:
            sound.play()
            playback.sound_state = str(sound.state)
            playback.play_start_ms = (time.perf_counter() - asked) * 1000
            await asyncio.wait_for(ended, float(sound.length or 0) + PLAY_MARGIN_S)
            playback.finished = True
        except TimeoutError:
            self._log_once("end", "the sound driver never reported the end of an utterance")
        finally:
            sound.unbind(on_stop=on_stop)
            if sound.state == "play":
                sound.stop()
            sound.unload()

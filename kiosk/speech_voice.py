"""Spoken guidance, the pure part: which espeak-ng voice speaks each booth language,
how fast, and what a screen text becomes before it is spoken. No I/O.

The I/O (running espeak-ng, playing the WAV) is :mod:`kiosk.speech`.
"""

from __future__ import annotations

import re

import numpy as np

ENGINE = "espeak-ng"
VOICES = {"fr": "fr-fr", "en": "en-gb", "es": "es", "ar": "ar", "pt": "pt"}
"""espeak-ng voice per booth language (Debian's espeak-ng-data has all five)."""
RATE_WPM = 150
"""Words a minute: a bit slower than espeak-ng's 175, for plain listening by
people who may be elderly, hard of hearing or not fluent in the language."""
MAX_CHARS = 2000
"""Longest text spoken at once (a screen's guidance is a few hundred characters;
anything longer is a bug or a hostile catalogue entry, and would hold the voice)."""

MIXER_RATE = 44100
"""The sample rate Kivy opens SDL_mixer at (stereo, 16 bit). A WAV in exactly that
format loads in ~1 ms; espeak-ng's 22050 Hz mono takes SDL_mixer 30-45 ms to convert
for a screen's guidance, inside ``SoundLoader.load``, holding the GIL and so the
booth's loop (measured: a thread does not help)."""

_MARKUP = re.compile(r"\[/?[a-z_]+(=[^\]]*)?\]|<[^>]{1,80}>")
"""Kivy markup (``[b]``, ``[color=ff0000]``) and HTML-like tags."""
_ELLIPSIS = re.compile(r"\s*(…|\.{3,})")
_DROPPED = re.compile(r"[‹›«»“”\"*_#|]")
_SPACES = re.compile(r"\s+")


def voice_for(language: str) -> str | None:
    """The espeak-ng voice for a booth language; None when the booth has none."""
    return VOICES.get(language)


def clean_text(text: str) -> str:
    """A screen text as it should be spoken: no markup, no ellipsis, no decoration.

    An ellipsis ("Loading…") becomes a full stop (a pause, not "dot dot dot"),
    a middle dot separator becomes a comma; numbers stay as they are (espeak-ng
    reads them in the voice's language).
    """
    text = _MARKUP.sub(" ", text)
    text = _ELLIPSIS.sub(".", text)
    text = text.replace("·", ",")
    text = _DROPPED.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    text = re.sub(r"\s+([.,:;!?])", r"\1", text)
    text = re.sub(r"\.{2,}", ".", text)
    return text[:MAX_CHARS]


def synth_command(
    voice: str, wav_path: str, rate_wpm: int = RATE_WPM, engine: str = ENGINE
) -> list[str]:
    """espeak-ng's arguments to speak stdin's text into ``wav_path``.

    The text goes on stdin, never on the command line: a text starting with "-"
    cannot be taken for an option, and it does not show in ``ps``.
    """
    return [engine, "-v", voice, "-s", str(rate_wpm), "-w", wav_path, "--stdin"]


def phoneme_command(voice: str) -> list[str]:
    """espeak-ng's arguments to print stdin's text as phoneme mnemonics (no sound)."""
    return [ENGINE, "-q", "-x", "-v", voice, "--stdin"]


def mixer_pcm(mono: bytes, rate: int) -> bytes:
    """espeak-ng's mono 16-bit samples at ``rate`` as 44.1 kHz stereo 16-bit samples.

    Linear interpolation (speech has nothing above espeak-ng's 11 kHz Nyquist that
    a better filter would keep), the same sample on both channels. espeak-ng's own
    22050 Hz, exactly half, takes a fast path (a few ms for a long guidance).
    """
    samples = np.frombuffer(mono, dtype="<i2").astype(np.int32)
    if len(samples) == 0:
        return b""
    if rate * 2 == MIXER_RATE:
        pcm = np.empty(2 * len(samples), dtype=np.int32)
        pcm[0::2] = samples
        pcm[1:-1:2] = (samples[:-1] + samples[1:]) // 2
        pcm[-1] = samples[-1]
    else:
        count = max(1, round(len(samples) * MIXER_RATE / rate))
        positions = np.arange(count, dtype=np.float64) * (rate / MIXER_RATE)
        pcm = np.rint(np.interp(positions, np.arange(len(samples)), samples)).astype(np.int32)
    stereo = np.empty(2 * len(pcm), dtype="<i2")
    stereo[0::2] = pcm
    stereo[1::2] = pcm
    return stereo.tobytes()

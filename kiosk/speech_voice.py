"""Spoken guidance, the pure part: which espeak-ng voice speaks each booth language,
how fast, and what a screen text becomes before it is spoken. No I/O.

The I/O (running espeak-ng, playing the WAV) is :mod:`kiosk.speech`.
"""

from __future__ import annotations

import re

ENGINE = "espeak-ng"
VOICES = {"fr": "fr-fr", "en": "en-gb", "es": "es", "ar": "ar", "pt": "pt"}
"""espeak-ng voice per booth language (Debian's espeak-ng-data has all five)."""
RATE_WPM = 150
"""Words a minute: a bit slower than espeak-ng's 175, for plain listening by
people who may be elderly, hard of hearing or not fluent in the language."""
MAX_CHARS = 2000
"""Longest text spoken at once (a screen's guidance is a few hundred characters;
anything longer is a bug or a hostile catalogue entry, and would hold the voice)."""

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

"""Spoken guidance with the real espeak-ng: valid WAVs per language, distinct voices,
phonemes that follow each language; playback through Kivy's SoundLoader (in a child
process, like the booth scenarios) with every WAV deleted after it played."""

from __future__ import annotations

import hashlib
import subprocess
import wave
from pathlib import Path

import pytest
from kivy_harness import run_scenario
from speech_playback_scenarios import SENTENCES

from kiosk import guidance as g
from kiosk import i18n
from kiosk.speech import to_mixer_format
from kiosk.speech_voice import MIXER_RATE, RATE_WPM, VOICES, phoneme_command, synth_command


def synthesise(voice: str, text: str, wav: Path) -> wave.Wave_read:
    subprocess.run(synth_command(voice, str(wav)), input=text.encode(), check=True, timeout=30)
    return wave.open(str(wav), "rb")


def phonemes(voice: str, text: str) -> str:
    done = subprocess.run(
        phoneme_command(voice), input=text.encode(), check=True, timeout=30, capture_output=True
    )
    return done.stdout.decode().strip()


def french_welcome() -> str:
    fr = i18n.Translator("fr")
    return g.render(g.guidance(g.ScreenFacts("welcome", "fr")), fr.gettext)


def test_espeak_ng_lists_a_voice_for_every_booth_language() -> None:
    listed = subprocess.run(
        ["espeak-ng", "--voices"], check=True, capture_output=True, text=True, timeout=30
    ).stdout
    names = {line.split()[1] for line in listed.splitlines()[1:] if line.strip()}
    assert set(VOICES.values()) <= names


@pytest.mark.parametrize("language", sorted(VOICES))
def test_each_language_makes_a_valid_wav_whose_length_fits_the_text(
    language: str, tmp_path: Path
) -> None:
    text = SENTENCES[language]
    with synthesise(VOICES[language], text, tmp_path / "out.wav") as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2
        assert w.getframerate() == 22050
        assert w.getnframes() > 0
        seconds = w.getnframes() / w.getframerate()
    # At RATE_WPM words a minute (with pauses at the full stops), give or take.
    expected = len(text.split()) / RATE_WPM * 60
    assert 0.4 * expected < seconds < 3 * expected + 1, (seconds, expected)


def test_a_longer_guidance_lasts_longer(tmp_path: Path) -> None:
    short = synthesise("fr-fr", "Bienvenue.", tmp_path / "a.wav")
    long = synthesise("fr-fr", french_welcome(), tmp_path / "b.wav")
    assert long.getnframes() > 4 * short.getnframes()


def test_five_voices_say_the_same_text_differently(tmp_path: Path) -> None:
    text = "Service 12."
    digests = {}
    for language, voice in VOICES.items():
        with synthesise(voice, text, tmp_path / f"{language}.wav") as w:
            digests[language] = hashlib.sha256(w.readframes(w.getnframes())).hexdigest()
    assert len(set(digests.values())) == len(VOICES), digests


def test_phonemes_of_the_same_guidance_follow_each_voice_language() -> None:
    text = french_welcome()
    said = {language: phonemes(voice, text) for language, voice in VOICES.items()}
    assert len(set(said.values())) == len(VOICES)
    # French reads "commencer" with its nasal vowel; English has none.
    assert "kOmA~s'e" in said["fr"]
    assert "~" not in said["en"]
    # Spanish reads "c" before "e" as the Castilian "th" (T).
    assert "T" in said["es"]
    # The Arabic voice hands Latin script over to English ...
    assert "(en)" in said["ar"]
    # ... but reads Arabic script itself.
    assert "(en)" not in phonemes("ar", SENTENCES["ar"])
    # European Portuguese nasalises too, with its own symbols.
    assert "~" in said["pt"] and said["pt"] != said["fr"]


def test_french_guidance_read_by_the_french_voice_says_the_service_name() -> None:
    fr = i18n.Translator("fr")
    facts = g.ScreenFacts(
        "choose", "fr", services=(g.ServiceFact("CAF", True),), services_loaded=True
    )
    assert "k'af" in phonemes("fr-fr", g.render(g.guidance(facts), fr.gettext))


def test_every_language_is_played_by_soundloader_and_its_wav_deleted() -> None:
    run_scenario("speech_playback_scenarios:plays_each_language_and_deletes_its_wavs", {})


def test_a_new_utterance_cuts_the_one_in_progress() -> None:
    run_scenario("speech_playback_scenarios:a_new_utterance_cancels_the_one_in_progress", {})


def test_a_missing_or_failing_engine_leaves_the_booth_silent_not_broken() -> None:
    run_scenario("speech_playback_scenarios:engine_missing_or_failing_keeps_quiet", {})


@pytest.mark.parametrize("language", sorted(VOICES))
def test_each_language_guidance_is_read_by_its_own_voice_without_switching(
    language: str,
) -> None:
    """Translated guidance in its voice: espeak-ng never falls back to another language
    (it marks a switch as "(en)"), and the text is not the English one."""
    text = g.render(
        g.guidance(g.ScreenFacts("welcome", language)), i18n.Translator(language).gettext
    )
    english = g.render(g.guidance(g.ScreenFacts("welcome", "en")), i18n.Translator("en").gettext)
    assert (text == english) == (language == "en")
    said = phonemes(VOICES[language], text)
    assert said and "(" not in said, said


def test_a_real_wav_is_rewritten_in_the_mixer_format_with_the_same_duration(
    tmp_path: Path,
) -> None:
    wav = tmp_path / "out.wav"
    with synthesise("fr-fr", french_welcome(), wav) as w:
        seconds = w.getnframes() / w.getframerate()
    to_mixer_format(wav)
    with wave.open(str(wav), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (2, 2, MIXER_RATE)
        assert abs(w.getnframes() / w.getframerate() - seconds) < 0.001

"""Spoken guidance, the pure parts: what each screen says, in every booth language,
when it is said, and how a text is made ready for the voice."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest

from kiosk import guidance as g
from kiosk import i18n
from kiosk.controller import CONSENT_QUESTIONS
from kiosk.speech_voice import VOICES, clean_text, mixer_pcm, synth_command, voice_for

LANGUAGES = sorted(p.parent.parent.name for p in i18n.LOCALE_DIR.glob("*/LC_MESSAGES/*.po"))
"""Every catalogue of the booth (fr and en today; es, ar, pt once they exist)."""

SERVICES = (
    g.ServiceFact("CAF", True),
    g.ServiceFact("Impôts", True),
    g.ServiceFact("ANTS", False),
)


def strict_gettext(language: str) -> Callable[[str], str]:
    """gettext from the language's .po that fails on a msgid it does not translate."""
    path = i18n.LOCALE_DIR / language / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
    catalog = i18n.parse_po(path.read_text(encoding="utf-8"))

    def gettext(msgid: str) -> str:
        if msgid not in catalog:
            raise AssertionError(f"{language}: untranslated {msgid!r}")
        return catalog[msgid]

    return gettext


def every_screen(language: str) -> list[g.ScreenFacts]:
    """One facts value per thing the booth can show a citizen, in ``language``."""
    base = g.ScreenFacts(screen="welcome", language=language)
    facts = [
        base,
        replace(base, screen="choose"),
        replace(base, screen="choose", services_loaded=True),
        replace(base, screen="choose", services=SERVICES, services_loaded=True),
        replace(
            base,
            screen="choose",
            services=SERVICES,
            services_loaded=True,
            notice="This service has just closed.",
        ),
        replace(base, screen="waiting", service_name="CAF"),
        replace(base, screen="waiting", service_name="CAF", position=1, estimated_wait_s=20),
        replace(
            base,
            screen="waiting",
            service_name="CAF",
            position=4,
            estimated_wait_s=600,
            recording_days=30,
        ),
        replace(base, screen="call", agent_name="Alice"),
        replace(base, screen="call", agent_name="Alice", reconnecting=True),
        replace(base, screen="call", agent_name="Alice", idle_warning=True),
        replace(base, screen="choose", idle_warning=True),
        replace(base, screen="goodbye"),
        replace(base, screen="goodbye", rating_open=True, end_reason="relay_failed"),
        replace(base, screen="goodbye", rating_open=True, rating=1),
        replace(base, screen="goodbye", rating_open=True, rating=3, rating_sent=True),
        replace(base, screen="closed"),
        replace(base, screen="closed", reopens=(1, 9, 0)),
        replace(base, screen="closed", reopens=(4, 13, 30)),
        replace(base, screen="out_of_service"),
    ]
    facts += [
        replace(base, screen="call", agent_name="Alice", consent_question=q)
        for q in CONSENT_QUESTIONS.values()
    ]
    facts += [replace(base, screen="out_of_service", problem=p) for p in ("revoked", "certificate")]
    facts += [replace(base, screen="goodbye", end_reason=r) for r in g.END_MESSAGES]
    return facts


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_screen_is_guided_in_every_booth_language_with_nothing_untranslated(
    language: str,
) -> None:
    gettext = strict_gettext(language)
    for facts in every_screen(language):
        lines = g.guidance(facts)
        assert lines, f"nothing said on {facts}"
        text = g.render(lines, gettext)
        assert "{" not in text and "}" not in text, f"unfilled parameter in {text!r}"
        assert text.endswith((".", "?", "!", "…")), text
    # The header's button and the invitation are in every catalogue too.
    for msgid in (*g.SPEECH_MSGIDS, "Listen", "Voice unavailable"):
        gettext(msgid)


def test_the_translation_check_itself_catches_a_missing_msgid() -> None:
    gettext = strict_gettext("fr")
    with pytest.raises(AssertionError, match="untranslated"):
        g.render([g.Line.of("Not a msgid of the booth")], gettext)


def test_french_choose_screen_names_each_service_and_where_it_is() -> None:
    facts = g.ScreenFacts("choose", "fr", services=SERVICES, services_loaded=True)
    text = g.render(g.guidance(facts), strict_gettext("fr"))
    assert text == (
        "Choisissez un service. Nombre de services : 3."
        " Ligne 1, à gauche : CAF. Ligne 1, à droite : Impôts."
        " Ligne 2, à gauche : ANTS. Fermé."
        " Le bouton Retour est en haut à gauche."
    )


def test_english_waiting_screen_says_position_wait_recording_and_how_to_leave() -> None:
    facts = g.ScreenFacts(
        "waiting", "en", service_name="CAF", position=3, estimated_wait_s=125, recording_days=30
    )
    text = g.render(g.guidance(facts), strict_gettext("en"))
    assert "Service: CAF." in text
    assert "Your place in the queue: 3." in text
    assert "Estimated wait: about 3 minutes." in text
    assert "30 days" in text, "the recording notice"
    assert text.endswith("To leave the queue, touch Cancel at the bottom of the screen.")


def test_closed_screen_says_the_next_opening_for_the_ear() -> None:
    fr = strict_gettext("fr")
    on_the_hour = g.ScreenFacts("closed", "fr", reopens=(1, 9, 0))
    assert g.render(g.guidance(on_the_hour), fr) == (
        "La borne est fermée. Elle rouvre mardi à 9 heures."
    )
    half_past = g.ScreenFacts("closed", "en", reopens=(4, 13, 30))
    assert g.render(g.guidance(half_past), strict_gettext("en")).endswith(
        "It opens again on Friday at 13 hours 30."
    )


def test_goodbye_reads_the_faces_then_the_reasons_in_their_order_on_screen() -> None:
    en = strict_gettext("en")
    asking = g.ScreenFacts("goodbye", "en", rating_open=True)
    assert "Three buttons, from left to right: Good, So-so, Not good." in g.render(
        g.guidance(asking), en
    )
    why = replace(asking, rating=1)
    assert (
        "Possible answers: I waited too long, Sound, picture or device problem, My question"
        " was not solved, Another reason, Skip this question."
    ) in g.render(g.guidance(why), en)
    no_call = g.ScreenFacts("goodbye", "en")
    assert "How did the call go?" not in g.render(g.guidance(no_call), en)


def test_a_modal_is_read_instead_of_the_screen_under_it() -> None:
    question = CONSENT_QUESTIONS[next(iter(CONSENT_QUESTIONS))]
    facts = g.ScreenFacts("call", "fr", agent_name="Alice", consent_question=question)
    said = [line.msgid for line in g.guidance(facts)]
    assert said[1] == question and g.MSG_CONSENT_BUTTONS in said
    assert "You are talking with {agent}" not in said
    idle = g.ScreenFacts("waiting", "fr", idle_warning=True)
    assert g.guidance(idle)[0].msgid == "Are you still there?"


def test_staff_screens_say_nothing() -> None:
    for screen in ("setup", "technician"):
        assert g.guidance(g.ScreenFacts(screen, "fr")) == ()


def test_speech_follows_changes_worth_saying_and_only_those() -> None:
    said, lines = g.next_speech(g.Said(), g.ScreenFacts("welcome", "fr"))
    assert lines[0].msgid == "Welcome", "turned on: the screen is read at once"
    said, lines = g.next_speech(said, g.ScreenFacts("welcome", "fr"))
    assert lines == (), "a redraw says nothing"
    said, lines = g.next_speech(said, g.ScreenFacts("welcome", "en"))
    assert lines[0].msgid == "Welcome", "another language: read again"

    waiting = g.ScreenFacts("waiting", "en", service_name="CAF", position=3, estimated_wait_s=600)
    said, lines = g.next_speech(said, waiting)
    assert lines
    said, lines = g.next_speech(said, replace(waiting, estimated_wait_s=540))
    assert lines == (), "the estimate alone moving is not worth interrupting"
    said, lines = g.next_speech(said, replace(waiting, position=2, estimated_wait_s=300))
    assert g.Line.of(g.MSG_PLACE, position=2) in lines

    call = g.ScreenFacts("call", "en", agent_name="Alice")
    said, lines = g.next_speech(said, call)
    assert [x.msgid for x in lines] == ["You are talking with {agent}", g.MSG_HANG_UP_AT_BOTTOM]
    question = next(iter(CONSENT_QUESTIONS.values()))
    said, lines = g.next_speech(said, replace(call, consent_question=question))
    assert lines[1].msgid == question, "the consent question is read when it opens"
    said, lines = g.next_speech(said, replace(call, consent_question=question))
    assert lines == ()
    said, lines = g.next_speech(said, call)
    assert lines == (), "the call's guidance is said once, not again after the question"
    said, lines = g.next_speech(said, replace(call, consent_question=question))
    assert lines, "a second question is read again"
    said, _ = g.next_speech(said, call)

    # A cut line: the citizen hears it (the picture froze), then hears the call is back.
    said, lines = g.next_speech(said, replace(call, reconnecting=True))
    assert [x.msgid for x in lines] == [g.MSG_RECONNECTING]
    said, lines = g.next_speech(said, replace(call, reconnecting=True))
    assert lines == ()
    said, lines = g.next_speech(said, call)
    assert [x.msgid for x in lines] == ["You are talking with {agent}", g.MSG_HANG_UP_AT_BOTTOM]


def test_screen_changed_under_a_modal_is_read_when_the_modal_closes() -> None:
    waiting = g.ScreenFacts("waiting", "fr", service_name="CAF", position=3)
    said, _ = g.next_speech(g.Said(), waiting)
    said, lines = g.next_speech(said, replace(waiting, idle_warning=True))
    assert lines[0].msgid == "Are you still there?"
    said, lines = g.next_speech(said, replace(waiting, idle_warning=True, position=2))
    assert lines == (), "the modal is not interrupted"
    said, lines = g.next_speech(said, replace(waiting, position=2))
    assert g.Line.of(g.MSG_PLACE, position=2) in lines


@pytest.mark.parametrize(
    ("language", "voice"),
    [("fr", "fr-fr"), ("en", "en-gb"), ("es", "es"), ("ar", "ar"), ("pt", "pt")],
)
def test_each_booth_language_has_its_voice(language: str, voice: str) -> None:
    assert voice_for(language) == voice
    assert VOICES[language] == voice


def test_a_language_without_a_voice_gets_none() -> None:
    assert voice_for("tlh") is None


@pytest.mark.parametrize(
    ("shown", "spoken"),
    [
        ("Loading services…", "Loading services."),
        ("Chargement des services...", "Chargement des services."),
        ("[b]Vous êtes le prochain[/b]", "Vous êtes le prochain"),
        ("[color=ff0000]Fermé[/color]  ·  9 h - 17 h", "Fermé, 9 h - 17 h"),
        ("‹  Retour", "Retour"),
        ("Service « CAF » : 12 personnes", "Service CAF: 12 personnes"),
        ("<i>Reconnexion…</i>", "Reconnexion."),
        ("   \n ", ""),
    ],
)
def test_clean_text_keeps_words_and_numbers_and_drops_decoration(shown: str, spoken: str) -> None:
    assert clean_text(shown) == spoken


def test_clean_text_bounds_a_runaway_text() -> None:
    assert len(clean_text("a " * 5000)) <= 2000


def test_the_text_goes_to_espeak_on_stdin_never_as_an_argument() -> None:
    cmd = synth_command("fr-fr", "/tmp/x.wav")
    assert cmd[:1] == ["espeak-ng"] and cmd[-1] == "--stdin"
    assert cmd[cmd.index("-s") + 1] == "150" and cmd[cmd.index("-w") + 1] == "/tmp/x.wav"


def test_mixer_pcm_doubles_espeak_rate_by_interpolation_on_both_channels() -> None:
    mono = np.array([0, 100, -100, 32767], dtype="<i2").tobytes()
    out = np.frombuffer(mixer_pcm(mono, 22050), dtype="<i2")
    left, right = out[0::2], out[1::2]
    assert list(left) == list(right)
    assert list(left) == [0, 50, 100, 0, -100, 16333, 32767, 32767]


def test_mixer_pcm_resamples_other_rates_and_keeps_the_duration() -> None:
    mono = (np.sin(np.arange(16000) / 10) * 10000).astype("<i2").tobytes()
    out = np.frombuffer(mixer_pcm(mono, 16000), dtype="<i2")
    assert len(out) // 2 == 44100, "one second stays one second"
    assert np.abs(out).max() <= 10000
    assert mixer_pcm(b"", 22050) == b""


def test_in_arabic_left_and_right_follow_the_mirrored_screen() -> None:
    """The header, the service grid and the faces are drawn right to left in Arabic."""
    choose = g.ScreenFacts("choose", "ar", services=SERVICES, services_loaded=True)
    said = g.guidance(choose)
    assert g.Line.of(g.MSG_ROW_RIGHT, row=1, name="CAF") in said, "first service: right"
    assert g.Line.of(g.MSG_ROW_LEFT, row=1, name="Impôts") in said
    assert said[-1] == g.Line.of(g.MSG_BACK_TOP_RIGHT)
    goodbye = g.guidance(g.ScreenFacts("goodbye", "ar", rating_open=True))
    assert g.MSG_THREE_FACES_RTL in [line.msgid for line in goodbye]
    assert g.invitation("ar") == g.Line.of(g.MSG_INVITATION_RTL)
    for language in ("fr", "en", "es", "pt"):
        assert g.invitation(language) == g.Line.of(g.MSG_INVITATION)
        left = g.guidance(replace(choose, language=language))
        assert g.Line.of(g.MSG_ROW_LEFT, row=1, name="CAF") in left
        assert left[-1] == g.Line.of(g.MSG_BACK_TOP_LEFT)

"""Kivy side of the spoken guidance: watches the booth's state and speaks.

When the citizen has turned speech on (``state.speech_on``), the screen or modal on
top is read at once, then again at every change :func:`kiosk.guidance.next_speech`
finds worth saying; turning it off stops the voice. What is said comes from
:mod:`kiosk.guidance` (pure), how it is said from :mod:`kiosk.speech`.

Speech off, a single quiet sentence tells how to turn it on: once a session, when
the citizen touches the welcome screen (the booth never calls out to passers-by).
"""

from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.event import EventDispatcher
from kivy.properties import BooleanProperty

from kiosk.guidance import (
    Said,
    ScreenFacts,
    ServiceFact,
    invitation,
    next_speech,
    render,
)
from kiosk.i18n import Translator
from kiosk.speech import SpeechOutput
from kiosk.ui.state import BoothState

INVITATION_VOLUME = 0.35
"""The invitation's loudness, as a share of the booth's volume: audible for the
person at the screen, not a call across the town hall."""
WATCHED = (
    "screen",
    "call_status",
    "language",
    "speech_on",
    "services",
    "services_loaded",
    "notice",
    "idle_warning",
    "service_name",
    "position",
    "estimated_wait_s",
    "recording_days",
    "agent_name",
    "consent_pending",
    "consent_question",
    "end_reason",
    "rating_open",
    "rating",
    "rating_sent",
    "reopens",
    "problem",
)
"""The state's properties the guidance reads (any change re-checks, once a frame)."""


def facts_of(state: BoothState) -> ScreenFacts:
    """The booth's state as :class:`ScreenFacts` (what the screens show now)."""
    return ScreenFacts(
        screen=state.screen,
        language=state.language,
        services=tuple(ServiceFact(x["name"], bool(x["open"])) for x in state.services),
        services_loaded=state.services_loaded,
        notice=state.notice,
        service_name=state.service_name,
        position=int(state.position),
        estimated_wait_s=int(state.estimated_wait_s),
        recording_days=int(state.recording_days),
        agent_name=state.agent_name,
        consent_question=state.consent_question if state.consent_pending else "",
        idle_warning=state.idle_warning,
        end_reason=state.end_reason,
        rating_open=state.rating_open,
        rating=int(state.rating),
        rating_sent=state.rating_sent,
        reopens=tuple(state.reopens),
        problem=state.problem,
        reconnecting=state.call_status == "reconnecting",
    )


class SpeechGuide(EventDispatcher):  # type: ignore[misc]  # kivy has no type information
    """Speaks the guidance of what is on screen while the citizen wants it."""

    available = BooleanProperty(True)
    """espeak-ng is there: the header's button works (else it says the voice is off)."""

    def __init__(
        self, state: BoothState, translator: Translator, output: SpeechOutput, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.state = state
        self.translator = translator
        self.output = output
        self.available = output.available
        self._said: Said | None = None
        """What was last spoken about; None while speech is off."""
        self._screen = state.screen
        self._trigger = Clock.create_trigger(self.update, 0)
        state.bind(**dict.fromkeys(WATCHED, self._trigger))

    def update(self, *_: Any) -> None:
        """Speak what changed (called once a frame at most, after a state change)."""
        state = self.state
        previous, self._screen = self._screen, state.screen
        self.output.volume = state.controller.settings.volume / 100
        self.available = self.output.available
        if not state.speech_on or not self.available:
            if self._said is not None:
                self._said = None
                self.output.stop()
            elif previous == "welcome" and state.screen == "choose":
                self._invite()
            return
        facts = facts_of(state)
        self._said, lines = next_speech(self._said or Said(), facts)
        if lines:
            self.output.say(facts.language, render(lines, self.translator.gettext))
        self.available = self.output.available

    def _invite(self) -> None:
        text = render([invitation(self.state.language)], self.translator.gettext)
        self.output.say(self.state.language, text, volume=INVITATION_VOLUME)

    def close(self) -> None:
        """Stop speaking and remove the WAV directory (the app stops)."""
        self.output.close()

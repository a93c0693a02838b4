"""The citizen session state machine: pure, no Kivy, no I/O, no asyncio.

The controller feeds it events (touches, server messages, clock ticks) together with
the current monotonic time, and carries out the effects it returns. Everything a
citizen leaves behind (chosen service, queue position, agent name, chat transcript)
lives in :class:`SessionData`, which is reset to a fresh value on every return to
the welcome screen (and at the end of a call), and a :class:`Wipe` effect tells the
controller to wipe its own copies too.

Time is an argument, never read here: tests drive the idle and goodbye timers by
passing ``now`` values, with no sleeping.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from enum import StrEnum

from kiosk.i18n import N_

logger = logging.getLogger(__name__)

IDLE_WARNING_S = 60.0
"""Seconds without a touch (outside a call and the welcome screen) before asking
"are you still there?"."""
WAITING_IDLE_WARNING_S = 300.0
"""The same question in the waiting room, where a citizen rightly touches nothing
for minutes: asking every minute would nag, never asking would let an empty booth
hold a place in the queue (and an agent's time)."""
IDLE_RESET_S = 30.0
"""Seconds after the idle warning without a touch before the session is wiped."""
GOODBYE_S = 15.0
"""Seconds the goodbye screen stays before going back to the welcome screen (each
tap on its rating restarts them: reading and rating take a moment)."""
MAX_TRANSCRIPT_LINES = 200
"""Chat lines kept on screen during one call; older ones scroll away for good."""
DEFAULT_LANGUAGE = "fr"
REQUEUE_REASONS = frozenset({"peer_lost", "agent_gone", "link_lost"})
"""Call ends nobody chose (the agent's browser gone, the link between booth and agent
lost): the citizen goes back to the waiting room at the head of the queue."""
MSG_CALL_LOST = N_(
    "The connection with the agent was lost. You keep your place: you will be the next"
    " person answered."
)


class State(StrEnum):
    """Where the citizen is; each state is one screen."""

    WELCOME = "welcome"
    CHOOSING = "choosing"
    WAITING = "waiting"
    IN_CALL = "in_call"
    GOODBYE = "goodbye"
    OUT_OF_SERVICE = "out_of_service"


IDLE_WATCHED_STATES = frozenset({State.CHOOSING, State.WAITING})
"""States where an absent citizen must not hold the booth (a call has a person on
the other end who decides; the welcome screen has nothing to wipe; goodbye and out
of service have their own exits)."""


PERSONAL_RESET_STATES = frozenset({State.WELCOME, State.OUT_OF_SERVICE})
"""States with no session timer of their own where a citizen can still choose a
language or a display mode: after the idle delays without a touch, those go back to
the defaults (the next person must not find a stranger's choices)."""


@dataclass(frozen=True)
class Timers:
    """The machine's timers, in seconds; tests shrink them."""

    idle_warning_s: float = IDLE_WARNING_S
    waiting_idle_warning_s: float = WAITING_IDLE_WARNING_S
    idle_reset_s: float = IDLE_RESET_S
    goodbye_s: float = GOODBYE_S


# ---------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """Base of every event; ``citizen`` events count as activity for the idle timer."""

    citizen = False


@dataclass(frozen=True)
class StartTapped(Event):
    citizen = True


@dataclass(frozen=True)
class LanguageChosen(Event):
    language: str
    citizen = True


@dataclass(frozen=True)
class SpeechToggled(Event):
    """The header's "Listen" button (any citizen screen): spoken guidance on or off."""

    citizen = True


@dataclass(frozen=True)
class LargeTextToggled(Event):
    """The header's "larger text" button (any citizen screen)."""

    citizen = True


@dataclass(frozen=True)
class HighContrastToggled(Event):
    """The header's "high contrast" button (any citizen screen)."""

    citizen = True


@dataclass(frozen=True)
class BackTapped(Event):
    """From the service list back to the welcome screen."""

    citizen = True


@dataclass(frozen=True)
class ServiceChosen(Event):
    service_id: str
    service_name: str
    citizen = True


@dataclass(frozen=True)
class QueuedUpdate(Event):
    """The server's ``queued``: position and estimated wait for our ticket."""

    service_id: str
    position: int
    estimated_wait_s: int


@dataclass(frozen=True)
class LeftQueue(Event):
    """The server took us out of the queue (``cancelled`` or ``service_closed``)."""

    reason: str


@dataclass(frozen=True)
class CancelTapped(Event):
    citizen = True


@dataclass(frozen=True)
class CallStarted(Event):
    call_id: str
    agent_name: str


@dataclass(frozen=True)
class ChatReceived(Event):
    id: str
    text: str


@dataclass(frozen=True)
class ChatSent(Event):
    id: str
    text: str
    citizen = True


@dataclass(frozen=True)
class HangupTapped(Event):
    citizen = True


@dataclass(frozen=True)
class CallEnded(Event):
    """The call is over without the citizen hanging up.

    ``by_server`` is True when the switchboard told us (``call_ended``); False when
    the booth noticed itself (peer lost or failed), in which case the server must be
    told with a hangup.
    """

    reason: str
    by_server: bool = True


@dataclass(frozen=True)
class RatingChosen(Event):
    """The citizen tapped a face on the goodbye screen: 1 unhappy, 2 neutral, 3 happy."""

    rating: int
    citizen = True


@dataclass(frozen=True)
class ReasonChosen(Event):
    """After an unhappy or neutral face: why (``wait``, ``technical``, ``unclear``,
    ``other``), or ``None`` when they skip the question."""

    reason: str | None
    citizen = True


@dataclass(frozen=True)
class GoodbyeElapsed(Event):
    pass


@dataclass(frozen=True)
class FinishTapped(Event):
    """The citizen taps "finish" on the goodbye screen instead of waiting."""

    citizen = True


@dataclass(frozen=True)
class Tick(Event):
    """Clock tick: checks the idle and goodbye timers."""


@dataclass(frozen=True)
class Touch(Event):
    """Any touch anywhere (including "yes, I am here" on the idle warning)."""

    citizen = True


@dataclass(frozen=True)
class ServerDown(Event):
    pass


@dataclass(frozen=True)
class ServerUp(Event):
    pass


@dataclass(frozen=True)
class ErrorOccurred(Event):
    """Something failed; ``message`` is a plain sentence (already translated msgid)."""

    message: str


# ---------------------------------------------------------------------------
# Effects
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Effect:
    """Base of every side effect the controller carries out."""


@dataclass(frozen=True)
class JoinQueue(Effect):
    service_id: str
    language: str


@dataclass(frozen=True)
class LeaveQueue(Effect):
    pass


@dataclass(frozen=True)
class StartCall(Effect):
    """Accept the call: create the peer and send the offer."""

    call_id: str


@dataclass(frozen=True)
class RefuseCall(Effect):
    """A call arrived when nobody is waiting for it (e.g. after an idle reset)."""

    call_id: str


@dataclass(frozen=True)
class EndCall(Effect):
    """Close the peer; send ``hangup`` first when ``notify_server``."""

    call_id: str
    notify_server: bool


@dataclass(frozen=True)
class SendSurvey(Effect):
    """Tell the server how the citizen rated the call (anonymous: no free text)."""

    call_id: str
    rating: int
    reason: str | None


@dataclass(frozen=True)
class Requeue(Effect):
    """The call broke: close the peer (telling the server with a ``link_lost`` hangup
    when ``notify_server``) and join ``service_id`` again at the head of its queue."""

    call_id: str
    service_id: str
    language: str
    notify_server: bool


@dataclass(frozen=True)
class Wipe(Effect):
    """Forget everything of the citizen (transcript, service, caches)."""


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ChatLine:
    id: str
    mine: bool
    text: str


@dataclass(frozen=True)
class SessionData:
    """Everything the screens show about the current citizen."""

    language: str = DEFAULT_LANGUAGE
    speech_on: bool = False
    """The citizen asked for spoken guidance (header toggle); off for the next citizen."""
    large_text: bool = False
    """The citizen asked for larger text (header toggle); off for the next citizen."""
    high_contrast: bool = False
    """The citizen asked for the high-contrast theme; off for the next citizen."""
    service_id: str | None = None
    service_name: str | None = None
    ticket_language: str | None = None
    """The language the queue was joined in: a switch of the booth's language in the
    waiting room or the call leaves it (and a requeue uses it)."""
    position: int | None = None
    estimated_wait_s: int | None = None
    call_id: str | None = None
    agent_name: str | None = None
    transcript: tuple[ChatLine, ...] = ()
    notice: str | None = None
    idle_warning: bool = False
    end_reason: str | None = None
    rating_call_id: str | None = None
    """The call the goodbye screen asks to rate (None: nothing to rate)."""
    rating: int | None = None
    """The face tapped, waiting for a reason (unhappy or neutral) or sent."""
    rating_sent: bool = False


@dataclass
class SessionMachine:
    """The citizen session. ``handle(event, now)`` returns the effects to carry out."""

    timers: Timers = field(default_factory=Timers)
    default_language: str = DEFAULT_LANGUAGE
    state: State = State.WELCOME
    data: SessionData = field(default_factory=SessionData)
    last_activity: float = 0.0
    entered_at: float = 0.0

    def __post_init__(self) -> None:
        self.data = SessionData(language=self.default_language)

    # -- helpers -----------------------------------------------------------

    def _go(self, state: State, now: float) -> None:
        if state is not self.state:
            logger.info("session %s -> %s", self.state.value, state.value)
        self.state = state
        self.entered_at = now
        # A screen the citizen did not choose (e.g. the server closed the service)
        # still gives them the full idle delay from the moment it appears.
        self.last_activity = now
        self.data = replace(self.data, idle_warning=False)

    def _fresh(self, keep: SessionData | None = None) -> SessionData:
        """Blank session data; ``keep``: the same citizen goes on (their language and
        display modes and spoken guidance stay, everything else goes)."""
        if keep is None:
            return SessionData(language=self.default_language)
        return SessionData(
            language=keep.language,
            large_text=keep.large_text,
            high_contrast=keep.high_contrast,
            speech_on=keep.speech_on,
        )

    def _personalised(self) -> bool:
        """The citizen changed the language or a display mode (compared to a new session)."""
        return self._fresh(self.data) != self._fresh()

    def _reset_to_welcome(self, now: float) -> list[Effect]:
        self.data = self._fresh()
        self._go(State.WELCOME, now)
        return [Wipe()]

    def _end_call(self, now: float, reason: str, notify_server: bool) -> list[Effect]:
        call_id = self.data.call_id or ""
        # The transcript and agent go now: the goodbye screen needs only the language
        # (and the call's id, to send the citizen's rating if they give one).
        self.data = replace(
            self._fresh(self.data), end_reason=reason, rating_call_id=call_id or None
        )
        self._go(State.GOODBYE, now)
        return [EndCall(call_id=call_id, notify_server=notify_server), Wipe()]

    def _requeue(self, now: float, notify_server: bool) -> list[Effect]:
        d = self.data
        assert d.service_id is not None  # noqa: S101 - checked by the caller
        # The transcript and agent go; the service stays, with a plain word of why.
        self.data = replace(
            self._fresh(d),
            service_id=d.service_id,
            service_name=d.service_name,
            ticket_language=d.ticket_language,
            notice=MSG_CALL_LOST,
        )
        self._go(State.WAITING, now)
        requeue = Requeue(
            call_id=d.call_id or "",
            service_id=d.service_id,
            language=d.ticket_language or d.language,
            notify_server=notify_server,
        )
        return [requeue, Wipe()]

    # -- the machine -------------------------------------------------------

    def handle(self, event: Event, now: float) -> list[Effect]:
        """Apply ``event`` at monotonic time ``now``; return the effects to carry out."""
        if event.citizen:
            self.last_activity = now
            if self.data.idle_warning or self.data.notice:
                self.data = replace(self.data, idle_warning=False, notice=None)
        return self._dispatch(event, now)

    def _dispatch(self, event: Event, now: float) -> list[Effect]:
        s = self.state
        d = self.data

        # Events valid in (almost) any state first.
        if isinstance(event, ServerDown):
            if s is State.OUT_OF_SERVICE:
                return []
            if s is State.IN_CALL:
                # The media is peer to peer: the call goes on without the switchboard,
                # and the booth names it in its next hello (wire.BoothHello.call_id).
                return []
            self.data = self._fresh()
            self._go(State.OUT_OF_SERVICE, now)
            return [Wipe()]
        if isinstance(event, ServerUp):
            if s is State.OUT_OF_SERVICE:
                return self._reset_to_welcome(now)
            return []
        if isinstance(event, Tick):
            return self._tick(now)
        if isinstance(event, Touch):
            return []
        if isinstance(event, SpeechToggled):
            self.data = replace(d, speech_on=not d.speech_on)
            return []
        if isinstance(event, LargeTextToggled):
            self.data = replace(d, large_text=not d.large_text)
            return []
        if isinstance(event, HighContrastToggled):
            self.data = replace(d, high_contrast=not d.high_contrast)
            return []
        if isinstance(event, LanguageChosen):
            # Every citizen screen has the language button. In the waiting room and
            # during a call only the booth's texts change: the ticket keeps the
            # language it was taken in (the agent was chosen for it).
            self.data = replace(d, language=event.language)
            return []
        if isinstance(event, CallStarted) and s is not State.WAITING:
            logger.warning("call %s arrived in state %s: refused", event.call_id, s.value)
            return [RefuseCall(call_id=event.call_id)]
        if isinstance(event, ErrorOccurred):
            if s is State.WAITING and d.position is None:
                # The join was refused (closed, unknown service...): back to the list.
                self.data = replace(self._fresh(d), notice=event.message)
                self._go(State.CHOOSING, now)
            elif s is not State.OUT_OF_SERVICE:
                self.data = replace(d, notice=event.message)
            return []

        if s is State.WELCOME:
            if isinstance(event, StartTapped):
                self._go(State.CHOOSING, now)
            return []

        if s is State.CHOOSING:
            if isinstance(event, BackTapped):
                return self._reset_to_welcome(now)
            elif isinstance(event, ServiceChosen):
                self.data = replace(
                    d,
                    service_id=event.service_id,
                    service_name=event.service_name,
                    ticket_language=d.language,
                    position=None,
                    estimated_wait_s=None,
                )
                self._go(State.WAITING, now)
                return [JoinQueue(service_id=event.service_id, language=d.language)]
            return []

        if s is State.WAITING:
            if isinstance(event, QueuedUpdate):
                if event.service_id == d.service_id:
                    self.data = replace(
                        d, position=event.position, estimated_wait_s=event.estimated_wait_s
                    )
            elif isinstance(event, CancelTapped):
                self.data = self._fresh(d)
                self._go(State.CHOOSING, now)
                return [LeaveQueue()]
            elif isinstance(event, LeftQueue):
                notice = (
                    N_("This service has just closed.")
                    if event.reason == "service_closed"
                    else None
                )
                self.data = replace(self._fresh(d), notice=notice)
                self._go(State.CHOOSING, now)
            elif isinstance(event, CallStarted):
                self.data = replace(
                    d, call_id=event.call_id, agent_name=event.agent_name, transcript=()
                )
                self._go(State.IN_CALL, now)
                return [StartCall(call_id=event.call_id)]
            return []

        if s is State.IN_CALL:
            if isinstance(event, ChatReceived | ChatSent):
                line = ChatLine(id=event.id, mine=isinstance(event, ChatSent), text=event.text)
                transcript = (*d.transcript, line)[-MAX_TRANSCRIPT_LINES:]
                self.data = replace(d, transcript=transcript)
            elif isinstance(event, HangupTapped):
                return self._end_call(now, "booth_hangup", notify_server=True)
            elif isinstance(event, CallEnded):
                if event.reason in REQUEUE_REASONS and d.service_id:
                    return self._requeue(now, notify_server=not event.by_server)
                return self._end_call(now, event.reason, notify_server=not event.by_server)
            return []

        if s is State.GOODBYE:
            if isinstance(event, GoodbyeElapsed | FinishTapped):
                return [*self._unsent_rating(), *self._reset_to_welcome(now)]
            if isinstance(event, RatingChosen | ReasonChosen):
                self.entered_at = now  # rating takes a moment: the timer restarts
                return self._rate(event)
            return []

        # OUT_OF_SERVICE: only ServerUp (handled above) leaves it.
        return []

    def _rate(self, event: RatingChosen | ReasonChosen) -> list[Effect]:
        d = self.data
        if d.rating_call_id is None or d.rating_sent:
            return []
        if isinstance(event, RatingChosen):
            if d.rating is not None or event.rating not in (1, 2, 3):
                return []
            if event.rating == 3:  # happy: nothing to ask
                self.data = replace(d, rating=3, rating_sent=True)
                return [SendSurvey(d.rating_call_id, 3, None)]
            self.data = replace(d, rating=event.rating)
            return []
        if d.rating is None:
            return []
        self.data = replace(d, rating_sent=True)
        return [SendSurvey(d.rating_call_id, d.rating, event.reason)]

    def _unsent_rating(self) -> list[Effect]:
        """A face tapped but the reason question left unanswered still counts."""
        d = self.data
        if d.rating_call_id and d.rating is not None and not d.rating_sent:
            return [SendSurvey(d.rating_call_id, d.rating, None)]
        return []

    def _forget_left_choices(self, now: float) -> list[Effect]:
        """A language or display mode chosen on the welcome (or out-of-service) screen
        by someone who then walked away goes back to the defaults for the next one."""
        if not self._personalised():
            return []
        if now - self.last_activity < self.timers.idle_warning_s + self.timers.idle_reset_s:
            return []
        logger.info("choices left on the %s screen: back to the defaults", self.state.value)
        self.data = self._fresh()
        return [Wipe()]

    def _tick(self, now: float) -> list[Effect]:
        s = self.state
        if s is State.GOODBYE and now - self.entered_at >= self.timers.goodbye_s:
            return [*self._unsent_rating(), *self._reset_to_welcome(now)]
        if s in PERSONAL_RESET_STATES:
            return self._forget_left_choices(now)
        if s not in IDLE_WATCHED_STATES:
            return []
        idle = now - self.last_activity
        warn_after = (
            self.timers.waiting_idle_warning_s if s is State.WAITING else self.timers.idle_warning_s
        )
        if idle >= warn_after + self.timers.idle_reset_s:
            logger.info("citizen gone for %.0f s: session wiped", idle)
            effects: list[Effect] = [LeaveQueue()] if s is State.WAITING else []
            return [*effects, *self._reset_to_welcome(now)]
        if idle >= warn_after and not self.data.idle_warning:
            self.data = replace(self.data, idle_warning=True)
        return []

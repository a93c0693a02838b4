"""What the booth says aloud on each screen: pure, no Kivy, no I/O.

``guidance(facts)`` turns what a screen shows (:class:`ScreenFacts`, copied from
the booth's state) into sentences, each an English msgid with its parameters
(:class:`Line`); ``render(lines, gettext)`` translates them into the citizen's
language. ``next_speech(said, facts)`` decides when to speak: only when the
topic changes (a new screen, a modal opening, a new place in the queue, another
language), not on every redraw.

The sentences are short and plain ("facile à lire"): what the screen is, what to
do, and where the buttons are, for someone who cannot see the screen. In Arabic the
header, the service grid and the goodbye faces are mirrored (``ReadingRow``,
``rl-tb``): "left" and "right" follow.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from kiosk.i18n import N_, is_rtl
from kiosk.opening_hours import DAY_NAMES, MSG_CLOSED, MSG_CLOSED_FOR_NOW, MSG_REOPENS

Param: TypeAlias = "str | int | Line | tuple[Line, ...]"


@dataclass(frozen=True)
class Line:
    """One sentence: an English msgid and its parameters.

    A parameter that is itself a :class:`Line` is translated too (a day name, a
    button's word); a tuple of lines is translated and joined with commas.
    """

    msgid: str
    params: tuple[tuple[str, Param], ...] = ()

    @classmethod
    def of(cls, msgid: str, **params: Param) -> Line:
        """``Line.of("You are number {position} in the queue", position=2)``."""
        return cls(msgid, tuple(sorted(params.items())))


@dataclass(frozen=True)
class ServiceFact:
    """One button of the service list, as the citizen sees it."""

    name: str
    open: bool


@dataclass(frozen=True)
class ScreenFacts:
    """What the current screen and its modals show (from the booth's state)."""

    screen: str
    language: str
    services: tuple[ServiceFact, ...] = ()
    services_loaded: bool = False
    notice: str = ""
    """English msgid of the notice band ("" when none)."""
    service_name: str = ""
    position: int = 0
    """0 until the server gave a place in the queue."""
    estimated_wait_s: int = -1
    recording_days: int = 0
    agent_name: str = ""
    consent_question: str = ""
    """English msgid of the consent question when the modal is open, else ""."""
    idle_warning: bool = False
    end_reason: str = ""
    rating_open: bool = False
    rating: int = 0
    rating_sent: bool = False
    reopens: tuple[int, ...] = ()
    problem: str = ""
    reconnecting: bool = False
    """The call's line is cut and the booth is getting it back (the call screen says so)."""


# -- new msgids of the spoken guidance (the screens' own texts are reused too) ----
MSG_LANGUAGES_AT_BOTTOM = N_("The language buttons are at the bottom of the screen.")
MSG_SERVICE_COUNT = N_("Number of services: {count}.")
MSG_ROW_LEFT = N_("Row {row}, on the left: {name}.")
MSG_ROW_RIGHT = N_("Row {row}, on the right: {name}.")
MSG_BACK_TOP_LEFT = N_("The Back button is at the top left.")
MSG_BACK_TOP_RIGHT = N_("The Back button is at the top right.")
MSG_SERVICE_IS = N_("Service: {service}.")
MSG_PLACE = N_("Your place in the queue: {position}.")
MSG_WAIT_MINUTES = N_("Estimated wait: about {minutes} minutes.")
MSG_CANCEL_AT_BOTTOM = N_("To leave the queue, touch Cancel at the bottom of the screen.")
MSG_HANG_UP_AT_BOTTOM = N_("To end the call, touch the red button Hang up, at the bottom.")
MSG_CONSENT_BUTTONS = N_("Touch Yes on the right, or No on the left.")
MSG_TOUCH_TO_STAY = N_("Touch the screen to stay.")
MSG_THREE_FACES = N_("Three buttons, from left to right: {faces}.")
MSG_THREE_FACES_RTL = N_("Three buttons, from right to left: {faces}.")
MSG_POSSIBLE_ANSWERS = N_("Possible answers: {answers}.")
MSG_FINISH_AT_BOTTOM = N_("To finish now, touch Finish at the bottom of the screen.")
MSG_SPOKEN_HOUR = N_("{hours} o'clock")
MSG_SPOKEN_CLOCK = N_("{hours} hours {minutes}")
MSG_INVITATION = N_("To hear the screens read aloud, touch Listen at the top right.")
"""Said quietly once a session, when the citizen starts and speech is off."""
MSG_INVITATION_RTL = N_("To hear the screens read aloud, touch Listen at the top left.")

SPEECH_MSGIDS = (
    MSG_LANGUAGES_AT_BOTTOM,
    MSG_SERVICE_COUNT,
    MSG_ROW_LEFT,
    MSG_ROW_RIGHT,
    MSG_BACK_TOP_LEFT,
    MSG_BACK_TOP_RIGHT,
    MSG_SERVICE_IS,
    MSG_PLACE,
    MSG_WAIT_MINUTES,
    MSG_CANCEL_AT_BOTTOM,
    MSG_HANG_UP_AT_BOTTOM,
    MSG_CONSENT_BUTTONS,
    MSG_TOUCH_TO_STAY,
    MSG_THREE_FACES,
    MSG_THREE_FACES_RTL,
    MSG_POSSIBLE_ANSWERS,
    MSG_FINISH_AT_BOTTOM,
    MSG_SPOKEN_HOUR,
    MSG_SPOKEN_CLOCK,
    MSG_INVITATION,
    MSG_INVITATION_RTL,
)
"""Every msgid this module adds (the catalogue tests check each is translated)."""

END_MESSAGES: dict[str, str] = {
    "media_unavailable": N_("The camera or the microphone is not working."),
    "failed": N_("The call was interrupted."),
    "peer_lost": N_("The call was interrupted."),
    "agent_gone": N_("The call was interrupted."),
    "relay_failed": N_("The video connection could not be made. Please try again later."),
}
"""The goodbye screen's extra line per end reason (the same msgids it shows)."""
FACES = (N_("Good"), N_("So-so"), N_("Not good"))
"""The goodbye faces' words, left to right as drawn."""
RATING_REASONS = (
    ("wait", N_("I waited too long")),
    ("technical", N_("Sound, picture or device problem")),
    ("unclear", N_("My question was not solved")),
    ("other", N_("Another reason")),
)
"""What the goodbye screen offers after an unhappy or neutral face: the reason
sent to the server, and its English msgid (in reading order)."""
MSG_SKIP = N_("Skip this question")


def wait_minutes(estimated_wait_s: float) -> int:
    """Whole minutes to show for an estimate, rounded up (0: "less than a minute").

    Rounded up so the booth never promises an agent sooner than the estimate.
    """
    if estimated_wait_s < 60:
        return 0
    return math.ceil(estimated_wait_s / 60)


def _welcome(_f: ScreenFacts) -> list[Line]:
    return [
        Line.of(N_("Welcome")),
        Line.of(N_("Talk by video with an agent of a public service")),
        Line.of(N_("Touch the screen to start")),
        Line.of(MSG_LANGUAGES_AT_BOTTOM),
    ]


def _choose(f: ScreenFacts) -> list[Line]:
    lines = [Line.of(N_("Choose a service"))]
    if f.notice:
        lines.append(Line.of(f.notice))
    if not f.services:
        loading = (
            N_("No service is available right now.")
            if f.services_loaded
            else N_("Loading services…")
        )
        lines.append(Line.of(loading))
    else:
        lines.append(Line.of(MSG_SERVICE_COUNT, count=len(f.services)))
        # The list is a grid of two columns, read row by row as it is drawn: from
        # the left, or from the right when the booth reads right to left (Arabic).
        first, second = (
            (MSG_ROW_RIGHT, MSG_ROW_LEFT) if is_rtl(f.language) else (MSG_ROW_LEFT, MSG_ROW_RIGHT)
        )
        for i, service in enumerate(f.services):
            where = first if i % 2 == 0 else second
            lines.append(Line.of(where, row=i // 2 + 1, name=service.name))
            if not service.open:
                lines.append(Line.of(N_("Closed")))
    lines.append(Line.of(MSG_BACK_TOP_RIGHT if is_rtl(f.language) else MSG_BACK_TOP_LEFT))
    return lines


def _waiting(f: ScreenFacts) -> list[Line]:
    lines = [Line.of(f.notice)] if f.notice else []
    if f.service_name:
        lines.append(Line.of(MSG_SERVICE_IS, service=f.service_name))
    if f.position == 0:
        lines.append(Line.of(N_("Joining the queue…")))
    elif f.position == 1:
        lines.append(Line.of(N_("You are next")))
    else:
        # Not the screen's "n° {position}": espeak-ng reads "n°" as the letter N.
        lines.append(Line.of(MSG_PLACE, position=f.position))
    if f.estimated_wait_s >= 0:
        minutes = wait_minutes(f.estimated_wait_s)
        if minutes == 0:
            lines.append(Line.of(N_("Estimated wait: less than a minute")))
        else:
            lines.append(Line.of(MSG_WAIT_MINUTES, minutes=minutes))
    lines.append(Line.of(N_("An agent will answer you on this screen.")))
    if f.recording_days:
        lines.append(
            Line.of(
                N_(
                    "This call will be recorded by the service “{service}”. The recording is kept"
                    " {days} days. If you do not want to be recorded, tap Cancel."
                ),
                service=f.service_name,
                days=f.recording_days,
            )
        )
    lines.append(Line.of(MSG_CANCEL_AT_BOTTOM))
    return lines


MSG_RECONNECTING = N_("The connection is interrupted. Reconnecting…")
"""The call screen's own line while the booth gets a cut call back (kiosk/ui/call.kv)."""


def _call(f: ScreenFacts) -> list[Line]:
    if f.reconnecting:
        # The picture froze: the one thing to know (the line is dead, nobody hears it).
        return [Line.of(MSG_RECONNECTING)]
    # Short on purpose: the microphone is open and the agent is talking. Said again
    # when a cut call comes back: that is how a citizen who cannot see learns it.
    return [
        Line.of(N_("You are talking with {agent}"), agent=f.agent_name),
        Line.of(MSG_HANG_UP_AT_BOTTOM),
    ]


def _goodbye(f: ScreenFacts) -> list[Line]:
    lines = [Line.of(N_("Thank you, see you soon")), Line.of(N_("The call has ended."))]
    if f.end_reason in END_MESSAGES:
        lines.append(Line.of(END_MESSAGES[f.end_reason]))
    if f.rating_open:
        if f.rating_sent:
            lines.append(Line.of(N_("Thank you for your answer.")))
        elif f.rating:
            lines.append(Line.of(N_("What went wrong?")))
            answers = (*(Line.of(r) for _key, r in RATING_REASONS), Line.of(MSG_SKIP))
            lines.append(Line.of(MSG_POSSIBLE_ANSWERS, answers=answers))
        else:
            lines.append(Line.of(N_("How did the call go?")))
            faces = tuple(Line.of(x) for x in FACES)  # in reading order, as drawn
            three = MSG_THREE_FACES_RTL if is_rtl(f.language) else MSG_THREE_FACES
            lines.append(Line.of(three, faces=faces))
    lines.append(Line.of(MSG_FINISH_AT_BOTTOM))
    lines.append(Line.of(N_("Nothing of your visit is kept on this booth.")))
    return lines


def invitation(language: str) -> Line:
    """The quiet hint to the "Listen" button, which is top left when the header is
    mirrored for a right-to-left language."""
    return Line.of(MSG_INVITATION_RTL if is_rtl(language) else MSG_INVITATION)


def spoken_reopening(reopens: Sequence[int]) -> Line:
    """The next opening as a sentence for the ear ("9 o'clock", not "9:00")."""
    if len(reopens) != 3:
        return Line.of(MSG_CLOSED_FOR_NOW)
    weekday, hours, minutes = reopens
    clock = (
        Line.of(MSG_SPOKEN_HOUR, hours=hours)
        if minutes == 0
        else Line.of(MSG_SPOKEN_CLOCK, hours=hours, minutes=minutes)
    )
    return Line.of(MSG_REOPENS, day=Line.of(DAY_NAMES[weekday]), time=clock)


def _closed(f: ScreenFacts) -> list[Line]:
    return [Line.of(MSG_CLOSED), spoken_reopening(f.reopens)]


OUT_OF_SERVICE = {
    "revoked": (
        N_("This booth is out of service"),
        N_("This booth has been withdrawn from service. Please tell the staff."),
    ),
    "unauthorized": (
        N_("Service temporarily unavailable"),
        N_("Booth not authorised. Please tell the staff."),
    ),
    "certificate": (
        N_("Service temporarily unavailable"),
        N_("Connection refused: server certificate not recognised. Please tell the staff."),
    ),
}
OUT_OF_SERVICE_DEFAULT = (
    N_("Service temporarily unavailable"),
    N_("The booth will be back by itself in a moment."),
)


def _out_of_service(f: ScreenFacts) -> list[Line]:
    title, detail = OUT_OF_SERVICE.get(f.problem, OUT_OF_SERVICE_DEFAULT)
    return [Line.of(title), Line.of(detail)]


SCREENS: dict[str, Callable[[ScreenFacts], list[Line]]] = {
    "welcome": _welcome,
    "choose": _choose,
    "waiting": _waiting,
    "call": _call,
    "goodbye": _goodbye,
    "closed": _closed,
    "out_of_service": _out_of_service,
}
"""Citizen screens with guidance; the setup and technician screens have none (staff)."""


def modal_guidance(f: ScreenFacts) -> tuple[Line, ...]:
    """The sentences of the modal open over the screen (none: empty)."""
    if f.consent_question and f.screen == "call":
        return (
            Line.of(N_("Your agreement")),
            Line.of(f.consent_question),
            Line.of(N_("Nothing is read without your yes.")),
            Line.of(MSG_CONSENT_BUTTONS),
        )
    if f.idle_warning:
        return (
            Line.of(N_("Are you still there?")),
            Line.of(N_("Without an answer, this session will end in a few seconds.")),
            Line.of(MSG_TOUCH_TO_STAY),
        )
    return ()


def screen_guidance(f: ScreenFacts) -> tuple[Line, ...]:
    """The sentences of the screen itself (a staff screen has none)."""
    compose = SCREENS.get(f.screen)
    return tuple(compose(f)) if compose is not None else ()


def guidance(f: ScreenFacts) -> tuple[Line, ...]:
    """What to say for what is on top now: the open modal, else the screen."""
    return modal_guidance(f) or screen_guidance(f)


def modal_topic(f: ScreenFacts) -> tuple[object, ...] | None:
    """Which modal is open and in which language (None: no modal)."""
    if f.consent_question and f.screen == "call":
        return (f.language, "consent", f.consent_question)
    if f.idle_warning:
        return (f.language, "idle", f.screen)
    return None


def screen_topic(f: ScreenFacts) -> tuple[object, ...]:
    """What the screen says, without what changes while it is said.

    The guide speaks again when this changes. The waiting room's estimate moves
    with every queue update and is left out (the position is in); the call's
    topic is the screen alone: it is said once, not at each change of the line.
    """
    if f.screen == "choose":
        return (f.language, f.screen, f.services, f.services_loaded, f.notice)
    if f.screen == "waiting":
        return (f.language, f.screen, f.service_name, f.position, f.recording_days, f.notice)
    if f.screen == "goodbye":
        return (f.language, f.screen, f.end_reason, f.rating_open, f.rating > 0, f.rating_sent)
    if f.screen == "closed":
        return (f.language, f.screen, f.reopens)
    if f.screen == "out_of_service":
        return (f.language, f.screen, f.problem)
    if f.screen == "call":
        return (f.language, f.screen, f.reconnecting)
    return (f.language, f.screen)


@dataclass(frozen=True)
class Said:
    """What the guide last spoke about: the screen's topic and the open modal's."""

    screen: tuple[object, ...] | None = None
    modal: tuple[object, ...] | None = None


def next_speech(said: Said, f: ScreenFacts) -> tuple[Said, tuple[Line, ...]]:
    """What to say now (often nothing) after ``said``, and what has then been said.

    A modal that opens is read; when it closes the screen is not read again
    unless it changed meanwhile (or the language did). Start from ``Said()``
    when speech is turned on: the current screen (or modal) is read at once.
    """
    modal = modal_topic(f)
    if modal is not None:
        if modal != said.modal:
            return Said(said.screen, modal), modal_guidance(f)
        return said, ()
    screen = screen_topic(f)
    if screen != said.screen:
        return Said(screen, None), screen_guidance(f)
    return Said(screen, None), ()


def _param(value: Param, gettext: Callable[[str], str]) -> str:
    if isinstance(value, Line):
        return render_line(value, gettext)
    if isinstance(value, tuple):
        return ", ".join(render_line(x, gettext) for x in value)
    return str(value)


def render_line(line: Line, gettext: Callable[[str], str]) -> str:
    """One sentence in the current language (nested lines translated too)."""
    text = gettext(line.msgid)
    if line.params:
        text = text.format(**{k: _param(v, gettext) for k, v in line.params})
    return text


def render(lines: Sequence[Line], gettext: Callable[[str], str]) -> str:
    """The sentences as one text to speak, each ending with a stop (a pause)."""
    out = []
    for line in lines:
        text = render_line(line, gettext).strip()
        if text and text[-1] not in ".?!:…":
            text += "."
        if text:
            out.append(text)
    return " ".join(out)

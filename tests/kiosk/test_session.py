"""The citizen session machine, on its own: pure events in, effects out."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.session import (
    MSG_CALL_LOST,
    BackTapped,
    CallEnded,
    CallStarted,
    CancelTapped,
    ChatReceived,
    ChatSent,
    EndCall,
    ErrorOccurred,
    Event,
    FinishTapped,
    GoodbyeElapsed,
    HangupTapped,
    HighContrastToggled,
    JoinQueue,
    LanguageChosen,
    LargeTextToggled,
    LeaveQueue,
    LeftQueue,
    QueuedUpdate,
    RatingChosen,
    ReasonChosen,
    RefuseCall,
    Requeue,
    SendSurvey,
    ServerDown,
    ServerUp,
    ServiceChosen,
    SessionData,
    SessionMachine,
    SpeechToggled,
    StartCall,
    StartTapped,
    State,
    Tick,
    Timers,
    Touch,
    Wipe,
)

TIMERS = Timers(idle_warning_s=10, waiting_idle_warning_s=30, idle_reset_s=5, goodbye_s=3)


def machine() -> SessionMachine:
    return SessionMachine(timers=TIMERS)


def in_call(m: SessionMachine) -> SessionMachine:
    m.handle(StartTapped(), 0)
    m.handle(LanguageChosen("en"), 0)
    m.handle(ServiceChosen("caf", "CAF"), 1)
    m.handle(QueuedUpdate("caf", 2, 300), 1)
    m.handle(CallStarted("call-1", "Agnès"), 2)
    return m


def test_happy_path_from_welcome_to_goodbye_and_back() -> None:
    m = machine()
    assert m.state is State.WELCOME
    assert m.handle(StartTapped(), 0) == []
    assert m.state is State.CHOOSING
    m.handle(LanguageChosen("en"), 0.5)
    assert m.handle(ServiceChosen("caf", "CAF"), 1) == [JoinQueue("caf", "en")]
    assert m.state is State.WAITING
    assert m.data.position is None
    m.handle(QueuedUpdate("caf", 2, 300), 1.1)
    assert (m.data.position, m.data.estimated_wait_s) == (2, 300)
    m.handle(QueuedUpdate("caf", 1, 120), 5)
    assert m.data.position == 1
    assert m.handle(CallStarted("call-1", "Agnès"), 6) == [StartCall("call-1")]
    assert m.state is State.IN_CALL
    assert m.data.agent_name == "Agnès"
    m.handle(ChatReceived("a1", "Bonjour"), 7)
    m.handle(ChatSent("b1", "Hello"), 8)
    assert [(line.mine, line.text) for line in m.data.transcript] == [
        (False, "Bonjour"),
        (True, "Hello"),
    ]
    assert m.handle(HangupTapped(), 9) == [EndCall("call-1", notify_server=True), Wipe()]
    assert m.state is State.GOODBYE
    assert m.data.transcript == ()
    assert m.data.agent_name is None
    assert m.data.language == "en", "goodbye is still said in the citizen's language"
    assert m.handle(GoodbyeElapsed(), 10) == [Wipe()]
    assert m.state is State.WELCOME
    assert m.data == SessionData(language="fr")


def test_agent_hangup_goes_to_goodbye_without_sending_hangup() -> None:
    m = in_call(machine())
    effects = m.handle(CallEnded("agent_hangup"), 3)
    assert effects == [EndCall("call-1", notify_server=False), Wipe()]
    assert m.state is State.GOODBYE
    assert m.data.end_reason == "agent_hangup"


def test_peer_lost_puts_the_citizen_back_in_line_and_tells_the_server() -> None:
    m = in_call(machine())
    m.handle(ChatReceived("m1", "Bonjour"), 2.5)
    effects = m.handle(CallEnded("peer_lost", by_server=False), 3)
    assert effects == [Requeue("call-1", "caf", "en", notify_server=True), Wipe()]
    assert m.state is State.WAITING
    assert m.data.notice == MSG_CALL_LOST
    assert (m.data.service_id, m.data.service_name, m.data.language) == ("caf", "CAF", "en")
    assert m.data.transcript == () and m.data.agent_name is None and m.data.call_id is None
    assert m.data.position is None, "the server's queued says where we are now"
    m.handle(QueuedUpdate("caf", 1, 0), 4)
    assert m.data.position == 1


def test_agent_gone_from_the_server_requeues_without_a_hangup() -> None:
    for reason in ("agent_gone", "link_lost"):
        m = in_call(machine())
        effects = m.handle(CallEnded(reason), 3)
        assert effects == [Requeue("call-1", "caf", "en", notify_server=False), Wipe()]
        assert m.state is State.WAITING


def test_failed_call_setup_still_ends_at_goodbye() -> None:
    m = in_call(machine())
    effects = m.handle(CallEnded("failed", by_server=False), 3)
    assert effects == [EndCall("call-1", notify_server=True), Wipe()]
    assert m.state is State.GOODBYE


def test_goodbye_returns_to_welcome_after_goodbye_timer() -> None:
    m = in_call(machine())
    m.handle(HangupTapped(), 10)
    assert m.handle(Tick(), 12.9) == []
    assert m.state is State.GOODBYE
    assert m.handle(Tick(), 13) == [Wipe()]
    assert m.state is State.WELCOME


def test_finish_tapped_leaves_goodbye_at_once() -> None:
    m = in_call(machine())
    m.handle(HangupTapped(), 10)
    assert m.handle(FinishTapped(), 10.5) == [Wipe()]
    assert m.state is State.WELCOME


def test_a_happy_face_is_sent_at_once_and_only_once() -> None:
    m = in_call(machine())
    m.handle(HangupTapped(), 10)
    assert m.data.rating_call_id == "call-1"
    assert m.handle(RatingChosen(3), 11) == [SendSurvey("call-1", 3, None)]
    assert m.handle(RatingChosen(1), 11.5) == []
    assert m.handle(ReasonChosen("wait"), 11.6) == []
    assert m.handle(FinishTapped(), 12) == [Wipe()]
    assert m.data == SessionData()


def test_an_unhappy_face_asks_why_and_sends_face_and_reason_together() -> None:
    m = in_call(machine())
    m.handle(HangupTapped(), 10)
    assert m.handle(RatingChosen(1), 11) == []
    assert m.data.rating == 1
    assert m.handle(ReasonChosen("technical"), 12) == [SendSurvey("call-1", 1, "technical")]
    assert m.data.rating_sent


def test_a_face_without_a_reason_is_still_sent_when_the_citizen_leaves() -> None:
    m = in_call(machine())
    m.handle(CallEnded("agent_hangup"), 10)
    m.handle(RatingChosen(2), 11)
    # Each tap restarts the goodbye timer (goodbye_s = 3): rating takes a moment.
    assert m.handle(Tick(), 13.5) == []
    assert m.handle(Tick(), 14) == [SendSurvey("call-1", 2, None), Wipe()]
    assert m.state is State.WELCOME
    m2 = in_call(machine())
    m2.handle(HangupTapped(), 10)
    m2.handle(RatingChosen(1), 11)
    assert m2.handle(FinishTapped(), 12) == [SendSurvey("call-1", 1, None), Wipe()]


def test_skipping_the_question_sends_the_face_alone_and_no_face_sends_nothing() -> None:
    m = in_call(machine())
    m.handle(HangupTapped(), 10)
    m.handle(RatingChosen(2), 11)
    assert m.handle(ReasonChosen(None), 12) == [SendSurvey("call-1", 2, None)]
    m2 = in_call(machine())
    m2.handle(HangupTapped(), 10)
    assert m2.handle(ReasonChosen("wait"), 11) == []
    assert m2.handle(RatingChosen(7), 11) == []
    assert m2.handle(Tick(), 20) == [Wipe()]


def test_cancel_while_waiting_leaves_queue_and_forgets_service() -> None:
    m = machine()
    m.handle(StartTapped(), 0)
    m.handle(ServiceChosen("caf", "CAF"), 1)
    m.handle(QueuedUpdate("caf", 3, 600), 1)
    assert m.handle(CancelTapped(), 2) == [LeaveQueue()]
    assert m.state is State.CHOOSING
    assert m.data.service_id is None and m.data.position is None


def test_back_from_choosing_wipes() -> None:
    m = machine()
    m.handle(StartTapped(), 0)
    m.handle(LanguageChosen("en"), 0)
    assert m.handle(BackTapped(), 1) == [Wipe()]
    assert m.data == SessionData()


def test_idle_warning_then_reset_while_choosing() -> None:
    m = machine()
    m.handle(StartTapped(), 0)
    m.handle(LanguageChosen("en"), 1)
    m.handle(Tick(), 10.9)
    assert not m.data.idle_warning
    m.handle(Tick(), 11)
    assert m.data.idle_warning
    assert m.handle(Tick(), 15.9) == []
    assert m.handle(Tick(), 16) == [Wipe()]
    assert m.state is State.WELCOME
    assert m.data == SessionData()


def test_touch_dismisses_idle_warning_and_restarts_timer() -> None:
    m = machine()
    m.handle(StartTapped(), 0)
    m.handle(Tick(), 12)
    assert m.data.idle_warning
    m.handle(Touch(), 13)
    assert not m.data.idle_warning
    m.handle(Tick(), 20)
    assert m.state is State.CHOOSING and not m.data.idle_warning


def test_idle_reset_while_waiting_leaves_the_queue() -> None:
    m = machine()
    m.handle(StartTapped(), 0)
    m.handle(ServiceChosen("caf", "CAF"), 0)
    m.handle(QueuedUpdate("caf", 4, 900), 0)
    # Server updates are not the citizen: they do not keep the session alive.
    m.handle(QueuedUpdate("caf", 3, 600), 9)
    # Waiting quietly is normal: the choosing screen's delay does not apply here.
    m.handle(Tick(), 10)
    assert not m.data.idle_warning
    m.handle(Tick(), 30)
    assert m.data.idle_warning
    assert m.handle(Tick(), 35) == [LeaveQueue(), Wipe()]
    assert m.state is State.WELCOME


def test_no_idle_timeout_during_a_call_nor_on_welcome() -> None:
    m = machine()
    m.handle(Tick(), 1000)
    assert m.state is State.WELCOME and not m.data.idle_warning
    in_call(m)
    m.handle(Tick(), 5000)
    assert m.state is State.IN_CALL and not m.data.idle_warning


def test_call_for_nobody_is_refused() -> None:
    m = machine()
    assert m.handle(CallStarted("c9", "Bob"), 0) == [RefuseCall("c9")]
    assert m.state is State.WELCOME


def test_server_down_during_call_keeps_the_peer_to_peer_call_then_goes_out_of_service() -> None:
    m = in_call(machine())
    assert m.handle(ServerDown(), 3) == []
    assert m.state is State.IN_CALL and m.data.call_id == "call-1"
    m.handle(HangupTapped(), 3.5)
    effects = m.handle(ServerDown(), 3.6)
    assert effects == [Wipe()]
    assert m.state is State.OUT_OF_SERVICE
    assert m.data == SessionData()
    assert m.handle(ServerDown(), 4) == []
    assert m.handle(ServerUp(), 5) == [Wipe()]
    assert m.state is State.WELCOME


def test_server_up_outside_out_of_service_changes_nothing() -> None:
    m = machine()
    m.handle(StartTapped(), 0)
    assert m.handle(ServerUp(), 1) == []
    assert m.state is State.CHOOSING


def test_refused_join_goes_back_to_choosing_with_notice() -> None:
    m = machine()
    m.handle(StartTapped(), 0)
    m.handle(ServiceChosen("tax", "Impôts"), 1)
    m.handle(ErrorOccurred("This service is closed."), 1)
    assert m.state is State.CHOOSING
    assert m.data.notice == "This service is closed."
    assert m.data.service_id is None
    m.handle(Touch(), 2)
    assert m.data.notice is None


def test_service_closed_while_waiting() -> None:
    m = machine()
    m.handle(StartTapped(), 0)
    m.handle(ServiceChosen("tax", "Impôts"), 1)
    m.handle(QueuedUpdate("tax", 1, 60), 1)
    assert m.handle(LeftQueue("service_closed"), 2) == []
    assert m.state is State.CHOOSING
    assert m.data.notice


def test_stale_queued_update_for_other_service_is_ignored() -> None:
    m = machine()
    m.handle(StartTapped(), 0)
    m.handle(ServiceChosen("tax", "Impôts"), 1)
    m.handle(QueuedUpdate("caf", 5, 60), 1)
    assert m.data.position is None


def test_transcript_is_bounded() -> None:
    m = in_call(machine())
    for i in range(500):
        m.handle(ChatReceived(f"m{i}", "x"), 3)
    assert len(m.data.transcript) == 200
    assert m.data.transcript[-1].id == "m499"


def test_speech_toggles_on_any_citizen_screen_and_follows_the_citizen_to_goodbye() -> None:
    m = machine()
    m.handle(SpeechToggled(), 0)
    assert m.data.speech_on and m.state is State.WELCOME
    m.handle(StartTapped(), 1)
    m.handle(ServiceChosen("caf", "CAF"), 2)
    assert m.data.speech_on, "the same citizen keeps it while waiting"
    m.handle(CancelTapped(), 3)
    assert m.state is State.CHOOSING and m.data.speech_on
    m.handle(ServiceChosen("caf", "CAF"), 4)
    m.handle(CallStarted("call-1", "Agnès"), 5)
    m.handle(CallEnded("peer_lost", by_server=True), 6)
    assert m.state is State.WAITING and m.data.speech_on, "requeued: still the same citizen"
    m.handle(CallStarted("call-2", "Agnès"), 7)
    m.handle(SpeechToggled(), 8)
    assert not m.data.speech_on, "turned off during the call"
    m.handle(SpeechToggled(), 8)
    m.handle(HangupTapped(), 9)
    assert m.state is State.GOODBYE and m.data.speech_on
    m.handle(FinishTapped(), 10)
    assert m.state is State.WELCOME and not m.data.speech_on, "off for the next citizen"


def test_speech_is_off_after_an_idle_reset_and_out_of_service() -> None:
    m = machine()
    m.handle(StartTapped(), 0)
    m.handle(SpeechToggled(), 0)
    m.handle(Tick(), 100)
    assert m.state is State.WELCOME and m.data == SessionData()
    m.handle(SpeechToggled(), 101)
    m.handle(ServerDown(), 102)
    assert m.state is State.OUT_OF_SERVICE and not m.data.speech_on


def test_refused_join_and_closed_service_keep_speech_on() -> None:
    m = machine()
    m.handle(StartTapped(), 0)
    m.handle(SpeechToggled(), 0)
    m.handle(ServiceChosen("caf", "CAF"), 1)
    m.handle(ErrorOccurred("This service is closed."), 1)
    assert m.state is State.CHOOSING and m.data.speech_on
    m.handle(ServiceChosen("caf", "CAF"), 2)
    m.handle(QueuedUpdate("caf", 1, 0), 2)
    m.handle(LeftQueue("service_closed"), 3)
    assert m.state is State.CHOOSING and m.data.speech_on


# ---------------------------------------------------------------------------
# Accessibility: language and display modes from every citizen screen
# ---------------------------------------------------------------------------


def test_display_modes_toggle_on_every_citizen_screen_and_keep_the_rest() -> None:
    m = machine()
    m.handle(LargeTextToggled(), 0)
    m.handle(HighContrastToggled(), 0)
    seen = []
    for step in (
        lambda: None,  # welcome
        lambda: m.handle(StartTapped(), 0),  # choosing
        lambda: m.handle(ServiceChosen("caf", "CAF"), 0),  # waiting
        lambda: m.handle(CallStarted("call-1", "Agnès"), 0),  # in call
        lambda: m.handle(HangupTapped(), 0),  # goodbye
    ):
        step()
        seen.append(m.state)
        assert m.data.large_text and m.data.high_contrast, f"modes kept into {m.state}"
        before = m.data
        assert m.handle(LargeTextToggled(), 0) == []
        assert m.handle(HighContrastToggled(), 0) == []
        assert (m.data.large_text, m.data.high_contrast) == (False, False)
        assert m.data.service_id == before.service_id, "nothing else changes"
        m.handle(LargeTextToggled(), 0)  # on again for the next screen
        m.handle(HighContrastToggled(), 0)
    assert seen == [State.WELCOME, State.CHOOSING, State.WAITING, State.IN_CALL, State.GOODBYE]


def test_language_changes_in_waiting_room_and_call_but_the_ticket_keeps_its_own() -> None:
    m = machine()
    m.handle(StartTapped(), 0)
    assert m.handle(ServiceChosen("caf", "CAF"), 0) == [JoinQueue("caf", "fr")]
    assert m.handle(LanguageChosen("en"), 1) == []
    assert (m.state, m.data.language, m.data.service_id) == (State.WAITING, "en", "caf")
    m.handle(CallStarted("call-1", "Agnès"), 2)
    m.handle(ChatReceived("m1", "Bonjour"), 2)
    assert m.handle(LanguageChosen("fr"), 3) == []
    assert (m.state, m.data.language, m.data.call_id) == (State.IN_CALL, "fr", "call-1")
    assert len(m.data.transcript) == 1, "the chat stays"
    m.handle(LanguageChosen("en"), 4)
    (requeue, wipe) = m.handle(CallEnded("peer_lost", by_server=False), 5)
    assert isinstance(requeue, Requeue) and wipe == Wipe()
    assert requeue.language == "fr", "back in the queue in the ticket's language"
    assert (m.state, m.data.language) == (State.WAITING, "en"), "the screen stays English"


def test_modes_and_language_survive_cancel_requeue_and_goodbye_then_reset() -> None:
    m = in_call(machine())  # in English
    m.handle(LargeTextToggled(), 3)
    m.handle(HighContrastToggled(), 3)
    m.handle(CallEnded("peer_lost", by_server=True), 4)  # requeued
    assert (m.state, m.data.large_text, m.data.high_contrast) == (State.WAITING, True, True)
    m.handle(CancelTapped(), 5)
    assert (m.state, m.data.language, m.data.large_text) == (State.CHOOSING, "en", True)
    m.handle(ServiceChosen("caf", "CAF"), 6)
    m.handle(CallStarted("call-2", "Agnès"), 7)
    m.handle(HangupTapped(), 8)
    assert (m.state, m.data.language, m.data.large_text, m.data.high_contrast) == (
        State.GOODBYE,
        "en",
        True,
        True,
    ), "goodbye is shown the way the citizen set the booth"
    assert m.handle(GoodbyeElapsed(), 9) == [Wipe()]
    assert m.data == SessionData(), "the next citizen gets the defaults"


def test_idle_reset_and_server_down_reset_the_modes() -> None:
    m = machine()
    m.handle(StartTapped(), 0)
    m.handle(LargeTextToggled(), 0)
    m.handle(Tick(), 10)
    assert m.handle(Tick(), 15) == [Wipe()]
    assert m.data == SessionData()
    m.handle(StartTapped(), 16)
    m.handle(HighContrastToggled(), 16)
    m.handle(ServerDown(), 17)
    assert (m.state, m.data) == (State.OUT_OF_SERVICE, SessionData())


def test_choices_left_on_welcome_or_out_of_service_go_back_to_defaults() -> None:
    m = machine()
    m.handle(LanguageChosen("en"), 0)
    m.handle(LargeTextToggled(), 1)
    assert m.handle(Tick(), 15.9) == [], "a citizen reading the welcome screen keeps them"
    assert m.data.large_text
    assert m.handle(Tick(), 16) == [Wipe()]
    assert (m.state, m.data) == (State.WELCOME, SessionData())
    assert m.handle(Tick(), 100) == [], "nothing to forget: nothing happens"
    m.handle(ServerDown(), 100)
    m.handle(HighContrastToggled(), 101)
    assert m.state is State.OUT_OF_SERVICE and m.data.high_contrast
    assert m.handle(Tick(), 116) == [Wipe()]
    assert (m.state, m.data) == (State.OUT_OF_SERVICE, SessionData())


# ---------------------------------------------------------------------------
# Random sequences
# ---------------------------------------------------------------------------

texts = st.text(min_size=1, max_size=20)
ids = st.text(alphabet="abc123", min_size=1, max_size=6)
events: st.SearchStrategy[Event] = st.one_of(
    st.just(StartTapped()),
    st.builds(LanguageChosen, st.sampled_from(["fr", "en", "es", "ar", "pt"])),
    st.just(LargeTextToggled()),
    st.just(HighContrastToggled()),
    st.just(BackTapped()),
    st.builds(ServiceChosen, st.sampled_from(["caf", "tax"]), texts),
    st.builds(
        QueuedUpdate,
        st.sampled_from(["caf", "tax"]),
        st.integers(1, 50),
        st.integers(0, 9999),
    ),
    st.builds(LeftQueue, st.sampled_from(["cancelled", "service_closed"])),
    st.just(CancelTapped()),
    st.builds(CallStarted, ids, texts),
    st.builds(ChatReceived, ids, texts),
    st.builds(ChatSent, ids, texts),
    st.just(HangupTapped()),
    st.builds(
        CallEnded, st.sampled_from(["agent_hangup", "agent_gone", "peer_lost"]), st.booleans()
    ),
    st.just(GoodbyeElapsed()),
    st.just(FinishTapped()),
    st.builds(RatingChosen, st.integers(0, 4)),
    st.builds(ReasonChosen, st.sampled_from([None, "wait", "other", "bogus"])),
    st.just(Tick()),
    st.just(Touch()),
    st.just(ServerDown()),
    st.just(ServerUp()),
    st.builds(ErrorOccurred, texts),
    st.just(SpeechToggled()),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(events, st.floats(0, 20)), max_size=60))
def test_random_sequences_never_raise_and_welcome_is_always_wiped(
    steps: list[tuple[Event, float]],
) -> None:
    m = machine()
    now = 0.0
    for event, delay in steps:
        now += delay
        before = m.state
        effects = m.handle(event, now)
        if m.state is State.WELCOME and before is not State.WELCOME:
            assert Wipe() in effects
            assert m.data == SessionData(), "nothing of the citizen survives"
        if m.state is State.OUT_OF_SERVICE:
            if before is not State.OUT_OF_SERVICE:
                assert m.data == SessionData()
            else:
                # The header's controls work there too (to hear or read why it is down).
                assert m.data == SessionData(
                    language=m.data.language,
                    large_text=m.data.large_text,
                    high_contrast=m.data.high_contrast,
                    speech_on=m.data.speech_on,
                )
        if m.state in (State.GOODBYE, State.WELCOME, State.OUT_OF_SERVICE):
            assert m.data.transcript == ()
            assert m.data.agent_name is None
        if m.state is not State.IN_CALL:
            assert m.data.call_id is None
        if any(isinstance(e, EndCall) for e in effects):
            assert before is State.IN_CALL
        if any(isinstance(e, SendSurvey) for e in effects):
            assert before is State.GOODBYE
        if any(isinstance(e, JoinQueue) for e in effects):
            assert m.state is State.WAITING

"""Call screen: the agent's video large, own preview small, mute, hang up, chat."""

from __future__ import annotations

from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.label import Label

from kiosk.call.video import VideoView  # noqa: F401 - used by call.kv
from kiosk.ui.common import BoothScreen, load_kv


class ChatLine(Label):  # type: ignore[misc]  # kivy has no type information
    """One chat line, large; the citizen's own lines are right-aligned."""

    mine = BooleanProperty(False)
    who = StringProperty("")


class CallScreen(BoothScreen):
    """Renders the call; frames go straight from the controller to the video views."""

    def on_kv_post(self, base_widget: Any) -> None:
        """Wire the frame callbacks and the transcript once the kv tree exists."""
        app = App.get_running_app()
        app.controller.on_remote_frame = self.ids.remote_video.push_frame
        app.controller.on_local_frame = self.ids.local_video.push_frame
        app.controller.add_wipe_listener(self.wipe)
        app.state.bind(transcript=self._transcript_changed)
        self._shown: list[tuple[bool, str]] = []

    def _transcript_changed(self, _state: Any, transcript: list[tuple[bool, str]]) -> None:
        log = self.ids.chat_log
        if transcript[: len(self._shown)] != self._shown:
            log.clear_widgets()
            self._shown = []
        for mine, text in transcript[len(self._shown) :]:
            # Newest line on top, right under the text field: Kivy's docked keyboard
            # covers the bottom of the screen while the citizen types.
            log.add_widget(ChatLine(text=text, mine=mine), index=len(log.children))
        self._shown = list(transcript)
        Clock.schedule_once(lambda *_: setattr(self.ids.chat_scroll, "scroll_y", 1), 0)

    def send(self) -> None:
        """Send the typed line; the field empties only if the line went."""
        field = self.ids.chat_input
        if App.get_running_app().controller.send_chat(field.text):
            field.text = ""

    def wipe(self) -> None:
        """Nothing of the call stays on screen: pictures, chat, typed text."""
        self.ids.remote_video.clear()
        self.ids.local_video.clear()
        self.ids.chat_input.text = ""
        self.ids.chat_log.clear_widgets()
        self._shown = []


load_kv("call")

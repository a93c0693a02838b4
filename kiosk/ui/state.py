"""Kivy mirror of the controller's state: the properties screens bind to.

The controller calls its listener on the asyncio loop as often as events come; this
adapter coalesces them with a ``Clock`` trigger so screens redraw at most once a
frame, and keeps the controller free of Kivy.
"""

from __future__ import annotations

import io
from typing import Any

from kivy.clock import Clock
from kivy.event import EventDispatcher
from kivy.properties import (
    BooleanProperty,
    ListProperty,
    NumericProperty,
    ObjectProperty,
    StringProperty,
)

from kiosk.controller import BoothController
from kiosk.ui.palette import hex_rgba


def logo_texture(png: bytes | None) -> Any:
    """A Kivy texture from checked PNG bytes (None: none)."""
    if png is None:
        return None
    from kivy.core.image import Image as CoreImage

    return CoreImage(io.BytesIO(png), ext="png").texture


class BoothState(EventDispatcher):  # type: ignore[misc]  # kivy has no type information
    """What the screens show; refreshed from the controller once per frame at most."""

    screen = StringProperty("welcome")
    language = StringProperty("fr")
    speech_on = BooleanProperty(False)
    """The citizen turned spoken guidance on (the header's "Listen" button)."""
    large_text = BooleanProperty(False)
    """The citizen's larger-text mode (the theme's text scale follows)."""
    high_contrast = BooleanProperty(False)
    """The citizen's high-contrast mode (the theme's palette follows)."""
    languages = ListProperty([])
    booth_name = StringProperty("")
    services = ListProperty([])
    """Dicts: id, name, description, hours, open, waiting (texts in the current language)."""
    services_loaded = BooleanProperty(False)
    reopens = ListProperty([])
    brand_logo = ObjectProperty(None, allownone=True)
    """Texture of the operator's logo, None: the header shows the flag."""
    """Closed booth: ``[weekday, hour, minute]`` of the next opening, [] if none."""
    notice = StringProperty("")
    idle_warning = BooleanProperty(False)
    service_name = StringProperty("")
    recording_days = NumericProperty(0)
    """The chosen service records its calls and keeps them this many days; 0: no recording."""
    position = NumericProperty(0)
    """0 until the server has given a position."""
    estimated_wait_s = NumericProperty(-1)
    agent_name = StringProperty("")
    transcript = ListProperty([])
    """Tuples (mine, text)."""
    call_status = StringProperty("")
    muted = BooleanProperty(False)
    problem = StringProperty("")
    end_reason = StringProperty("")
    rating_open = BooleanProperty(False)
    """The goodbye screen may ask how the call went (there was a call to rate)."""
    rating = NumericProperty(0)
    """0: no face tapped yet; 1–3 the face tapped."""
    rating_sent = BooleanProperty(False)
    consent_pending = BooleanProperty(False)
    """A device request waits for the citizen's yes or no (the consent modal is open)."""
    consent_kind = StringProperty("")
    consent_question = StringProperty("")
    """English msgid of the question asked (translated by the modal)."""
    device_activity = StringProperty("")
    """Line about device work on the call screen (msgid or French reason)."""
    brand_name = StringProperty("Visio-guichet")
    brand_primary = ListProperty([0.0, 0.0, 0.569, 1.0])
    """The config's primary colour as Kivy rgba (the header's name)."""
    setup_code = StringProperty("")
    """The enrolment code typed so far, shown in groups of four."""
    setup_busy = BooleanProperty(False)
    setup_error = StringProperty("")
    """Msgid of the last enrolment failure (translated by the setup screen)."""
    setup_asks_server = BooleanProperty(False)
    setup_asks_site = BooleanProperty(False)
    """Why the last call ended (goodbye screen): "booth_hangup", "agent_hangup", ..."""

    def __init__(self, controller: BoothController, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.controller = controller
        self._logo_bytes: bytes | None = None
        self._gl_ready = False
        """Textures only once the window exists (the first frame): earlier crashes GL."""
        self.languages = list(controller.settings.languages)
        self._trigger = Clock.create_trigger(self.refresh, 0)
        controller.add_listener(self._trigger)
        self.refresh()
        Clock.schedule_once(self._first_frame, 0)

    def _first_frame(self, *_: Any) -> None:
        self._gl_ready = True
        self.refresh()

    def refresh(self, *_: Any) -> None:
        """Copy the controller's state into the properties (only changed values fire)."""
        from kivy.app import App

        if App.get_running_app() is None:
            return  # the app has stopped: kv rules can no longer be evaluated
        c = self.controller
        d = c.data
        self.language = d.language
        self.speech_on = d.speech_on
        self.large_text = d.large_text
        self.high_contrast = d.high_contrast
        self.booth_name = c.booth_name
        services = [
            {
                "id": x.id,
                "name": c.service_name(x),
                "description": c.localized(x.description),
                "hours": c.localized(x.hours),
                "open": x.open_now,
                "waiting": x.waiting,
                "icon": x.icon,
            }
            for x in c.services or []
        ]
        if services != self.services:
            self.services = services
        self.services_loaded = c.services is not None
        self.notice = d.notice or ""
        self.idle_warning = d.idle_warning
        chosen = c.service(d.service_id) if d.service_id else None
        # In the language shown now (the citizen may switch it in the waiting room).
        self.service_name = c.service_name(chosen) if chosen else d.service_name or ""
        recording = chosen.recording if chosen is not None else None
        self.recording_days = recording.retention_days if recording is not None else 0
        self.position = d.position or 0
        self.estimated_wait_s = -1 if d.estimated_wait_s is None else d.estimated_wait_s
        self.agent_name = d.agent_name or ""
        transcript = [(line.mine, line.text) for line in d.transcript]
        if transcript != self.transcript:
            self.transcript = transcript
        self.call_status = c.call_status
        self.muted = c.muted
        self.problem = c.problem
        self.end_reason = d.end_reason or ""
        self.rating_open = d.rating_call_id is not None
        self.rating = d.rating or 0
        self.rating_sent = d.rating_sent
        consent = c.consent_request
        self.consent_kind = consent.kind if consent is not None else ""
        self.consent_question = consent.question if consent is not None else ""
        self.device_activity = c.device_activity
        settings = c.settings
        if list(settings.languages) != list(self.languages):
            self.languages = list(settings.languages)
        self.brand_name = settings.brand_name
        self.brand_primary = hex_rgba(settings.brand_primary)
        if self._gl_ready and c.brand_logo is not self._logo_bytes:
            self._logo_bytes = c.brand_logo
            self.brand_logo = logo_texture(c.brand_logo)
        if list(c.reopens) != list(self.reopens):
            self.reopens = list(c.reopens)
        code = c.setup_code
        self.setup_code = " ".join(code[i : i + 4] for i in range(0, len(code), 4))
        self.setup_busy = c.setup_busy
        self.setup_error = c.setup_error
        self.setup_asks_server = c.setup_asks_server()
        self.setup_asks_site = not settings.site
        # The screen last: its on_enter may read the values above.
        self.screen = c.screen
        # After the screen: the consent modal opens over the call screen only.
        self.consent_pending = consent is not None and self.screen == "call"

"""Technician screens: the PIN pad modal and the diagnostics screen ``technician``.

Five quick taps on the header's booth name (welcome screen only) open the PIN pad;
the right PIN opens the diagnostics screen: switchboard link, version, and each
device of the controller's ``DeviceManager`` with its state and a test button.
"""

from __future__ import annotations

import math
from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.properties import BooleanProperty, ListProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.modalview import ModalView

from kiosk import technician as t
from kiosk.controller import APP_VERSION
from kiosk.ui.common import BoothScreen, load_kv

REFRESH_S = 0.5
"""How often the diagnostics screen re-reads the devices' states."""
ACTIONS = {
    "receipt_printer": "print",
    "a4_printer": "print",
    "card_reader": "read",
    "smart_card": "read",
    "barcode_reader": "read",
    "scanner": "scan",
}
"""The test button each device role offers."""


class PinPad(ModalView):  # type: ignore[misc]  # kivy has no type information
    """Digits, erase, OK, cancel; closes by itself after ``PIN_PAD_IDLE_S``."""

    entered = StringProperty("")
    message = StringProperty("")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._idle = Clock.create_trigger(self._idle_close, t.PIN_PAD_IDLE_S)

    def on_open(self) -> None:
        """Start empty, with the idle timer running."""
        self.entered = ""
        self.message = ""
        self._idle()

    def on_dismiss(self) -> None:
        """Forget what was typed."""
        self.entered = ""
        self._idle.cancel()

    def on_touch_down(self, touch: Any) -> Any:
        """Any touch restarts the idle timer."""
        self._idle.cancel()
        self._idle()
        return super().on_touch_down(touch)

    def _idle_close(self, *_: Any) -> None:
        self.dismiss(animation=False)

    def press(self, digit: str) -> None:
        """A digit key."""
        if len(self.entered) < t.MAX_PIN_LENGTH:
            self.entered += digit

    def erase(self) -> None:
        """The erase key: drops the last digit."""
        self.entered = self.entered[:-1]

    def submit(self) -> None:
        """OK: check the PIN; the right one opens the diagnostics screen."""
        app = App.get_running_app()
        result, locked_s = app.controller.check_technician_pin(self.entered)
        self.entered = ""
        if result is t.PinCheck.OK or result is t.PinCheck.NOT_CONFIGURED:
            self.dismiss(animation=False)
        elif result is t.PinCheck.LOCKED:
            self.message = app.tr._(t.MSG_LOCKED).format(seconds=math.ceil(locked_s))
        else:
            self.message = app.tr._(t.MSG_WRONG_PIN)


class DeviceRow(BoxLayout):  # type: ignore[misc]  # kivy has no type information
    """One device on the diagnostics screen."""

    role = StringProperty("")
    name = StringProperty("")
    state = StringProperty("")
    state_text = StringProperty("")
    reason = StringProperty("")
    last_error = StringProperty("")
    jobs = ListProperty([0, 0])
    result = StringProperty("")
    action = StringProperty("")
    """The test this device offers: "print", "read", "scan" (or none)."""


class TechnicianScreen(BoothScreen):
    """Live diagnostics; leaves by "Back" or after ``TECHNICIAN_IDLE_S`` untouched."""

    link_text = StringProperty("")
    link_ok = BooleanProperty(False)
    version = StringProperty(APP_VERSION)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._rows: dict[str, DeviceRow] = {}
        self._refresh_event: Any = None

    def on_enter(self, *_: Any) -> None:
        """Show the devices now, then keep them live."""
        self.refresh()
        self._refresh_event = Clock.schedule_interval(self.refresh, REFRESH_S)

    def on_leave(self, *_: Any) -> None:
        """Stop refreshing."""
        if self._refresh_event is not None:
            self._refresh_event.cancel()
            self._refresh_event = None

    def refresh(self, *_: Any) -> None:
        """Re-read the link and the devices (rows are kept: no button vanishes mid-tap)."""
        app = App.get_running_app()
        if app is None:
            return
        c = app.controller
        tr = app.tr._
        self.link_ok = c.link_state == "connected"
        self.link_text = tr(t.LINK_MSGIDS.get(c.link_state, c.link_state))
        devices = c.devices.diagnostics() if c.devices is not None else []
        box = self.ids.device_list
        if [d["role"] for d in devices] != list(self._rows):
            box.clear_widgets()
            self._rows = {}
            for d in devices:
                role = d["role"]
                row = DeviceRow(role=role, action=ACTIONS.get(role, ""))
                self._rows[role] = row
                box.add_widget(row)
        for d in devices:
            row = self._rows[d["role"]]
            row.name = tr(t.ROLE_MSGIDS.get(d["role"], d["label"]))
            row.state = d["state"]
            row.state_text = tr(t.STATE_MSGIDS.get(d["state"], d["state"]))
            row.reason = d["reason"]
            row.last_error = d["last_error"]
            row.jobs = [d["jobs_ok"], d["jobs_failed"]]
            row.result = c.technician_results.get(d["role"], "")
        self.ids.no_device.opacity = 0 if devices else 1


load_kv("technician")

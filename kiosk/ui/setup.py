"""Setup screen: a booth with no identity is enrolled here by a field technician.

The code is typed on an on-screen keypad (only the characters a code can hold)
or read by the barcode reader; the controller enrols the booth and goes on to
the welcome screen. Errors are shown in plain words and the code stays typed.
"""

from __future__ import annotations

from typing import Any

from kivy.app import App
from kivy.properties import StringProperty
from kivy.uix.button import Button

from kiosk.ui.common import BoothScreen, load_kv
from provisioning.service import CODE_ALPHABET

ERASE = "erase"


class SetupKey(Button):  # type: ignore[misc]  # kivy has no type information
    """One key of the code keypad (``key``: the character, or ``erase``)."""

    gid = StringProperty("")
    key = StringProperty("")


class SetupEraseKey(SetupKey):
    """Erases the last character."""


class SetupOkKey(Button):  # type: ignore[misc]  # kivy has no type information
    """Enrols with what was typed."""

    gid = StringProperty("")


class SetupScreen(BoothScreen):
    """Keypad, code, optional server address and site; OK enrols."""

    def on_kv_post(self, base_widget: Any) -> None:
        keypad = self.ids.setup_keypad
        for char in CODE_ALPHABET:
            keypad.add_widget(SetupKey(text=char, key=char, gid=f"setup_key_{char}"))
        keypad.add_widget(SetupEraseKey(key=ERASE, gid="setup_erase"))
        ok = SetupOkKey(gid="setup_ok")
        ok.bind(on_release=lambda *_: self.submit())
        keypad.add_widget(ok)

    def submit(self) -> None:
        """OK: enrol with the typed code, address and site."""
        App.get_running_app().controller.submit_enrolment(
            self.ids.setup_server.text, self.ids.setup_site.text
        )


load_kv("setup")

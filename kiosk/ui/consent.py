"""Consent: a modal asking the citizen's yes or no before the agent reads a card,
a code or a document of theirs (opened over the call screen by the app)."""

from __future__ import annotations

from kivy.uix.modalview import ModalView

from kiosk.ui.common import load_kv


class ConsentModal(ModalView):  # type: ignore[misc]  # kivy has no type information
    """Opened and dismissed by the app following ``state.consent_pending``."""


load_kv("consent")

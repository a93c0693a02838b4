"""Kivy side of the translations: ``tr._("msgid")`` in kv re-renders on a language switch.

kv binds a rule to every ``obj.attr`` it reads; a rule that calls ``tr._(...)`` is
therefore bound to the attribute ``_`` of ``tr``. This dispatcher maps that binding
onto its ``lang`` property, so switching language re-evaluates every such rule.
"""

from __future__ import annotations

from typing import Any

from kivy.event import EventDispatcher
from kivy.properties import StringProperty

from kiosk.i18n import Translator


class Tr(EventDispatcher):  # type: ignore[misc]  # kivy has no type information
    """Observable translation function for kv rules."""

    lang = StringProperty("fr")

    def __init__(self, translator: Translator, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.translator = translator
        self.lang = translator.language
        translator.add_listener(self._switched)

    def _(self, message: str) -> str:
        """Translate an English msgid into the current language."""
        return self.translator.gettext(message)

    def _switched(self, language: str) -> None:
        self.lang = language

    def fbind(self, name: str, func: Any, *args: Any, **kwargs: Any) -> Any:
        """Bind ``_`` as ``lang``; everything else as usual."""
        return super().fbind("lang" if name == "_" else name, func, *args, **kwargs)

    def funbind(self, name: str, func: Any, *args: Any, **kwargs: Any) -> Any:
        """Unbind ``_`` as ``lang``; everything else as usual."""
        return super().funbind("lang" if name == "_" else name, func, *args, **kwargs)

    def unbind_uid(self, name: str, uid: int) -> Any:
        """Unbind ``_`` as ``lang``; everything else as usual."""
        return super().unbind_uid("lang" if name == "_" else name, uid)

    def property(self, name: str, quiet: bool = False) -> Any:
        """kv asks for the property behind ``_`` when rebinding: it is ``lang``."""
        return super().property("lang" if name == "_" else name, quiet)

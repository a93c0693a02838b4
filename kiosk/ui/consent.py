"""Consent: a modal asking the citizen's yes or no before the agent reads a card,
a code or a document of theirs (opened over the call screen by the app).

The citizen must always be able to hang up, even with a question on screen: the
modal leaves a strip at the bottom of the window (:attr:`ConsentModal.clear_bottom`,
where the call screen's mute and hang-up buttons are) neither covered nor dimmed,
and touches on the widgets of :attr:`ConsentModal.passthrough` go through to them.
"""

from __future__ import annotations

from typing import Any

from kivy.metrics import dp
from kivy.properties import ListProperty, NumericProperty
from kivy.uix.modalview import ModalView

from kiosk.ui.common import load_kv

MARGIN = dp(12)
"""Space kept between the modal and the strip it leaves free."""


def _window_box(widget: Any) -> tuple[float, float, float, float]:
    """``(x, y, right, top)`` of ``widget`` in window coordinates."""
    x, y = widget.to_window(widget.x, widget.y)
    return x, y, x + widget.width, y + widget.height


class ConsentModal(ModalView):  # type: ignore[misc]  # kivy has no type information
    """Opened and dismissed by the app following ``state.consent_pending``."""

    clear_bottom = NumericProperty(0)
    """Height at the bottom of the window the modal neither covers nor dims."""
    clear_right = NumericProperty(0)
    """Right end of the undimmed strip (the strip beyond it is dimmed as usual)."""
    passthrough = ListProperty([])
    """Widgets under the modal that still take touches (the hang-up button)."""

    def keep_reachable(self, widgets: list[Any]) -> None:
        """Leave ``widgets`` (bottom of the screen) visible and touchable while open."""
        self.passthrough = list(widgets)
        boxes = [_window_box(w) for w in widgets]
        self.clear_bottom = max((box[3] for box in boxes), default=0.0)
        self.clear_right = max((box[2] for box in boxes), default=0.0)
        self._align_center()

    def _align_center(self, *_args: Any) -> None:
        """Centred in the window, but above the strip left free (shrunk if need be)."""
        window = self._window
        if not self._is_open or window is None:
            return
        free_bottom: float = self.clear_bottom + MARGIN if self.clear_bottom else 0.0
        free_height: float = window.height - free_bottom - MARGIN
        height: float = self.size[1]
        if height > free_height > 0:
            height = free_height
            self.height = height
        centre_x, centre_y = window.center
        self.center_x = centre_x
        self.y = max(free_bottom, centre_y - height / 2)

    def _passthrough_at(self, touch: Any) -> Any:
        if self.collide_point(*touch.pos):
            return None
        for widget in self.passthrough:
            x, y, right, top = _window_box(widget)
            if (
                widget.get_root_window() is not None
                and x <= touch.x <= right
                and y <= touch.y <= top
            ):
                return widget
        return None

    def on_touch_down(self, touch: Any) -> bool:
        """Touches inside go to the question; on a passthrough widget, to that widget."""
        if self._passthrough_at(touch) is not None and self._window is not None:
            # The widget tree under the modal handles its own coordinates.
            for child in self._window.children[:]:
                if child is not self and child.dispatch("on_touch_down", touch):
                    break
            return True
        return bool(super().on_touch_down(touch))


load_kv("consent")

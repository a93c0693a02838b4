"""Service list: one big button per service of the switchboard's catalogue."""

from __future__ import annotations

from typing import Any

from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout

from kiosk.ui.common import BoothScreen, load_kv


class ServiceButton(ButtonBehavior, BoxLayout):  # type: ignore[misc]  # kivy has no types
    """One service: name, description, open/closed with hours; closed ones disabled."""

    gid = StringProperty("")
    """Name the test harness finds it by: ``service_<id>``."""
    service_id = StringProperty("")
    title = StringProperty("")
    description = StringProperty("")
    hours = StringProperty("")
    is_open = BooleanProperty(True)
    waiting = NumericProperty(0)


class ChooseServiceScreen(BoothScreen):
    """Lists the catalogue; rebuilt when the services or the language change."""

    def on_kv_post(self, base_widget: Any) -> None:
        """Follow the catalogue and the language once the kv tree exists."""
        from kivy.app import App

        state = App.get_running_app().state
        state.bind(services=self._rebuild, language=self._rebuild)
        self._rebuild()

    def _rebuild(self, *_: Any) -> None:
        from kivy.app import App

        app = App.get_running_app()
        grid = self.ids.service_list
        grid.clear_widgets()
        for svc in app.state.services:
            button = ServiceButton(
                gid=f"service_{svc['id']}",
                service_id=svc["id"],
                title=svc["name"],
                description=svc["description"],
                hours=svc["hours"],
                is_open=svc["open"],
                waiting=svc["waiting"],
                disabled=not svc["open"],
            )
            button.bind(on_release=self._chosen)
            grid.add_widget(button)

    def _chosen(self, button: ServiceButton) -> None:
        from kivy.app import App

        App.get_running_app().controller.choose_service(button.service_id)


load_kv("choose_service")

"""The booth's Kivy application: full screen, locked down, on one asyncio loop.

``run_booth`` configures Kivy *before* anything imports ``kivy.core.window`` (the
window reads its configuration once, when it is created), then runs the app with
``async_run`` so aiortc, websockets and the controller share Kivy's loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import Any

from kiosk.call.garbage import freeze_startup_heap
from kiosk.config import BoothSettings

logger = logging.getLogger(__name__)

MAX_FPS = 30


KEYBOARD_LAYOUTS = {"fr": "azerty", "en": "qwerty", "es": "qwerty", "pt": "qwerty", "ar": "qwerty"}
"""On-screen keyboard per booth language. Kivy's azerty has no accented keys; its
fr_CH has them but is QWERTZ, which a French citizen would not recognise. Kivy has
no Arabic layout: an Arabic-speaking citizen types the chat in Latin letters (the
agent may still write Arabic, which the booth shows)."""


def configure_kivy(settings: BoothSettings) -> None:
    """Set Kivy's configuration for a booth; call before importing ``kivy.core.window``."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    # Kivy's own log mode turns the root logger up to DEBUG (every websocket frame
    # and HTTP request in the journal); plain Python logging keeps our levels.
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
    os.environ.setdefault("KIVY_NO_FILELOG", "1")
    # Only read by Mesa's software renderer (booths without a GPU, tests): one
    # rendering thread draws our scene with a fifth less CPU than one per core,
    # and leaves the other core to the video codecs. Set before the GL context.
    os.environ.setdefault("LP_NUM_THREADS", "1")
    from kivy.config import Config

    # Measured: multisampling costs 3x the CPU of a redraw with software GL.
    Config.set("graphics", "multisamples", "0")
    # Video is 30 fps: drawing the window more often only burns CPU (software GL).
    Config.set("graphics", "maxfps", str(MAX_FPS))
    Config.set("graphics", "width", str(settings.width))
    Config.set("graphics", "height", str(settings.height))
    Config.set("graphics", "resizable", "0")
    if settings.fullscreen:
        # Without a window manager fullscreen alone leaves an 800x600 window:
        # borderless + explicit size + position 0,0 hold on bare X.
        Config.set("graphics", "fullscreen", "auto")
        Config.set("graphics", "borderless", "1")
        Config.set("graphics", "position", "custom")
        Config.set("graphics", "left", "0")
        Config.set("graphics", "top", "0")
        Config.set("graphics", "show_cursor", "0")
        # No physical keyboard on a booth: Kivy's own keyboard docks at the bottom.
        Config.set("kivy", "keyboard_mode", "systemanddock")
        Config.set(
            "kivy", "keyboard_layout", KEYBOARD_LAYOUTS.get(settings.default_language, "qwerty")
        )
    else:
        Config.set("graphics", "fullscreen", "0")
        Config.set("graphics", "borderless", "0")
        Config.set("graphics", "show_cursor", "1")
        Config.set("kivy", "keyboard_mode", "system")
    Config.set("kivy", "exit_on_escape", "0")
    Config.set("kivy", "pause_on_minimize", "0")
    Config.set("input", "mouse", "mouse,disable_multitouch")
    # A booth must not offer Kivy's inspector, screenshot or monitor modules.
    for module in list(Config.options("modules")) if Config.has_section("modules") else []:
        Config.remove_option("modules", module)
    # kivy.clock reads maxfps once, when first imported, and this module imports
    # kivy.app (hence the clock) before the configuration above: apply it now.
    from kivy.clock import Clock

    Clock._max_fps = float(MAX_FPS)


# Kivy reads these when first imported (just below): its own log mode would
# duplicate every line and turn the root logger up to DEBUG, and a booth keeps
# no log files of its own outside the journal.
os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
os.environ.setdefault("KIVY_NO_FILELOG", "1")

from kivy.app import App  # noqa: E402 - kivy.app does not create the window


class GuichetBoothApp(App):  # type: ignore[misc]  # kivy has no type information
    """The booth. Screens render ``self.state``; touches call ``self.controller``."""

    title = "Guichet"
    use_kivy_settings = False

    def __init__(self, settings: BoothSettings, **kwargs: Any) -> None:
        from kiosk.controller import BoothController
        from kiosk.i18n import Translator
        from kiosk.ui.state import BoothState
        from kiosk.ui.theme import Theme
        from kiosk.ui.tr import Tr

        super().__init__(**kwargs)
        fleet = None
        if settings.data_dir is not None:
            from kiosk.fleet import BoothFleet

            fleet = BoothFleet(settings)
            if fleet.enrolled:
                # Runs from its last good signed config; booth.toml only bootstraps.
                settings = fleet.startup_settings()
        self.settings = settings
        self.translator = Translator(settings.default_language)
        self._install_scripts()
        self.controller = BoothController(settings, translator=self.translator, fleet=fleet)
        self.tr = Tr(self.translator)
        self.state = BoothState(self.controller)
        self.theme = Theme()
        """Colours and text scale of the citizen's modes; every kv rule binds to it."""
        self.close_requests = 0
        """Window close requests refused (tests check the lock-down)."""
        self._idle_modal: Any = None
        self._consent_modal: Any = None
        self.language_chooser: Any = None
        """The header's language chooser (``kiosk.ui.common.LanguageChooser``)."""
        self.technician_pad: Any = None
        """The technician PIN pad (``kiosk.ui.technician.PinPad``)."""
        self._start_task: asyncio.Task[None] | None = None
        self.speech_guide: Any = None
        """The spoken guidance (``kiosk.ui.speech_guide.SpeechGuide``), made in build()."""

    def _install_scripts(self) -> None:
        """Arabic and every script: the core label hook and the font of each language.

        Before any widget exists: the hook only reaches labels built after it.
        """
        from kiosk.ui import rtl_label
        from kiosk.ui.fonts import BOOTH_FONT, register_fonts

        rtl_label.install()
        register_fonts()
        BOOTH_FONT.use_language(self.translator.language)
        # Added before the kv side's listener: the font is set when texts re-render.
        self.translator.add_listener(BOOTH_FONT.use_language)

    def build(self) -> Any:
        """Create the screens (importing them here: they need the configured window)."""
        from kivy.core.window import Window
        from kivy.uix.screenmanager import NoTransition, ScreenManager

        from kiosk.speech import SpeechOutput
        from kiosk.ui.call import CallScreen
        from kiosk.ui.choose_service import ChooseServiceScreen
        from kiosk.ui.closed import ClosedScreen
        from kiosk.ui.common import LanguageChooser
        from kiosk.ui.consent import ConsentModal
        from kiosk.ui.goodbye import GoodbyeScreen
        from kiosk.ui.idle_warning import IdleWarning
        from kiosk.ui.out_of_service import OutOfServiceScreen
        from kiosk.ui.setup import SetupScreen
        from kiosk.ui.speech_guide import SpeechGuide
        from kiosk.ui.technician import PinPad, TechnicianScreen
        from kiosk.ui.waiting import WaitingScreen
        from kiosk.ui.welcome import WelcomeScreen

        # Before the screens: their header's "Listen" button reads its availability.
        self.speech_guide = SpeechGuide(
            self.state, self.translator, SpeechOutput(volume=self.settings.volume / 100)
        )
        self._follow_modes()
        self.state.bind(large_text=self._follow_modes, high_contrast=self._follow_modes)
        self.theme.bind(BG=self._clear_colour)
        self._clear_colour(self.theme, self.theme.BG)
        Window.bind(on_request_close=self.on_request_close)
        Window.bind(on_touch_down=self._any_touch)
        # A calm booth: no sliding screens (and no CPU spent animating them).
        manager = ScreenManager(transition=NoTransition())
        for screen in (
            WelcomeScreen(),
            ChooseServiceScreen(),
            WaitingScreen(),
            CallScreen(),
            GoodbyeScreen(),
            OutOfServiceScreen(),
            ClosedScreen(),
            TechnicianScreen(),
            SetupScreen(),
        ):
            manager.add_widget(screen)
        manager.current = self.state.screen
        self._idle_modal = IdleWarning()
        self._consent_modal = ConsentModal()
        self.language_chooser = LanguageChooser()
        # A chooser left open by a citizen who walked away is not the next one's.
        self.controller.add_wipe_listener(lambda: self.language_chooser.dismiss(animation=False))
        from kiosk.ui.keyboard import BoothKeyboard

        BoothKeyboard.px_per_cm = self.settings.px_per_cm
        Window.set_vkeyboard_class(BoothKeyboard)
        self.technician_pad = PinPad()
        self.state.bind(
            screen=self._show_screen,
            idle_warning=self._show_idle,
            consent_pending=self._show_consent,
        )
        return manager

    def on_start(self) -> None:
        """Connect to the switchboard once the loop runs; stop cleanly on SIGTERM/SIGINT."""
        loop = asyncio.get_running_loop()
        # SDL turns SIGTERM into a close request, which the lock-down refuses: the
        # service manager could then never stop the booth. Installed here, after the
        # window (and SDL's handlers) exist, ours replace them.
        for signum in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(signum, self._stop_requested, signum)
            except (NotImplementedError, RuntimeError, ValueError):
                logger.warning("cannot handle signal %s here", signum)
        # Modules and the built UI live as long as the booth: out of every later
        # collection (the one after each call then only walks what the call made).
        freeze_startup_heap()
        self._start_task = loop.create_task(self.controller.start())
        from kiosk.service_watchdog import start_booth_watchdog

        self.service_watchdog = start_booth_watchdog(self)  # systemd READY/WATCHDOG/STOPPING

    def on_stop(self) -> None:
        """The app stops: the voice stops and its WAV directory goes."""
        if self.speech_guide is not None:
            self.speech_guide.close()

    def _stop_requested(self, signum: int) -> None:
        logger.info("signal %s: stopping the booth", signum)
        self.stop()

    def on_request_close(self, *_: Any, **__: Any) -> bool:
        """Refuse to close: a booth only stops through its service manager."""
        self.close_requests += 1
        logger.warning("window close request refused")
        return True

    def open_settings(self, *_: Any) -> bool:
        """No settings panel on a booth (F1 and the menu key do nothing)."""
        return False

    def _any_touch(self, *_: Any) -> bool:
        self.controller.touch()
        return False  # let the touch reach the widgets

    def technician_tap(self) -> None:
        """A tap on the header's booth name: the fifth quick one opens the PIN pad."""
        if self.controller.technician_tap():
            self.technician_pad.open(animation=False)

    def _follow_modes(self, *_: Any) -> None:
        self.theme.apply(high_contrast=self.state.high_contrast, large_text=self.state.large_text)

    def _clear_colour(self, _theme: Any, colour: Any) -> None:
        from kivy.core.window import Window

        # The screens have no background of their own: the window's clear colour is it.
        Window.clearcolor = tuple(colour)

    def open_language_chooser(self) -> None:
        """The header's language button: list the booth's languages over the screen."""
        self.language_chooser.open(animation=False)

    def choose_language(self, language: str) -> None:
        """A language picked in the chooser: switch the booth's texts, close the list."""
        self.controller.choose_language(language)
        self.language_chooser.dismiss(animation=False)

    def _show_screen(self, _state: Any, name: str) -> None:
        self.root.current = name

    def _show_idle(self, _state: Any, warning: bool) -> None:
        if warning:
            self._idle_modal.open(animation=False)
        else:
            self._idle_modal.dismiss(animation=False)

    def _show_consent(self, _state: Any, pending: bool) -> None:
        if pending:
            self._consent_modal.open(animation=False)
            # The citizen can always hang up (or mute), question or not.
            call = self.root.get_screen("call")
            self._consent_modal.keep_reachable([call.ids.hangup_button, call.ids.mute_button])
        else:
            self._consent_modal.dismiss(animation=False)


def run_booth(settings: BoothSettings) -> None:
    """Configure Kivy, then run the booth until its window is stopped."""
    configure_kivy(settings)
    app = GuichetBoothApp(settings)

    async def main() -> None:
        try:
            await app.async_run(async_lib="asyncio")
        finally:
            await app.controller.stop()

    asyncio.run(main())

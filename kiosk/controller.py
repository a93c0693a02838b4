"""The booth's coordinator: session machine + signaling + call + catalogue.

No Kivy here: the controller holds plain attributes the screens read
(``state``, ``data``, ``services``, ``problem``, ``call_status``...) and calls its
listeners after every change; ``kiosk.ui.state.BoothState`` mirrors them into Kivy
properties on the next frame. Touch handlers call the ``tap_*`` methods, which never
block: network work runs in tasks the controller keeps and cancels on ``stop``.

A failure anywhere is logged and turned into a plain message for the citizen (or
into the out-of-service screen); it never escapes to the Kivy loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import Any, cast

import requests
from pydantic import BaseModel, ValidationError

from guichet import wire
from guichet.tls import UNTRUSTED_CERTIFICATE, InsecureServerUrl, is_untrusted_certificate
from kiosk import session as s
from kiosk import technician as t
from kiosk.branding import load_logo
from kiosk.call.booth_devices import BoothDeviceHandler
from kiosk.call.device_channel import DeviceChannel, FinishedWork
from kiosk.call.garbage import collect_call_garbage
from kiosk.call.media import MediaSources, MediaUnavailable, make_media
from kiosk.call.peer import BoothPeer, RelayUnavailable
from kiosk.call.reconnect import reconnect
from kiosk.call.signaling import ServerMessage, SignalingClient, SignalingState
from kiosk.call.speaker import Speaker
from kiosk.config import HTTP_TIMEOUT_S, BoothSettings
from kiosk.devices.base import DeviceError, DeviceStatus
from kiosk.devices.camera_qr import CameraQrReader
from kiosk.devices.manager import DeviceManager
from kiosk.devices.receipt_printer import Receipt
from kiosk.fleet import BoothFleet, peripheral_states
from kiosk.i18n import N_, Translator
from kiosk.opening_hours import BoothHours, reopening
from provisioning import enrol_uri
from provisioning.booth_client import ProvisioningRefused, SyncOutcome
from provisioning.booth_store import ApplyFailed
from provisioning.bundle import BundleRejected
from provisioning.heartbeat import RETRY_AFTER_FAILURE_S, HeartbeatRefused, HeartbeatSender
from provisioning.messages import HeartbeatAck, PeripheralState

logger = logging.getLogger(__name__)

TICK_S = 0.25
HOURS_CHECK_S = 60
"""The opening hours are re-evaluated every minute."""
"""How often the idle and goodbye timers are checked."""
CATALOGUE_PATH = "/api/v1/catalogue"

SCREEN_NAMES: dict[s.State, str] = {
    s.State.WELCOME: "welcome",
    s.State.CHOOSING: "choose",
    s.State.WAITING: "waiting",
    s.State.IN_CALL: "call",
    s.State.GOODBYE: "goodbye",
    s.State.OUT_OF_SERVICE: "out_of_service",
}
"""Screen (Kivy ``Screen.name``) shown for each session state."""

# Plain messages (English msgids, translated by the screens).
MSG_SOMETHING_WRONG = N_("Something went wrong. Please try again.")
MSG_SERVICE_CLOSED = N_("This service is closed right now.")
MSG_MEDIA = N_("The camera or the microphone is not working.")
MSG_INTERRUPTED = N_("The call was interrupted.")
# Setup screen (enrolment) messages: what happened and what to do, in plain words.
SETUP_ERRORS = {
    "unknown_code": N_("This code is not known. Check it and type it again."),
    "code_used": N_("This code has already been used. Ask for a new code."),
    "code_expired": N_("This code has expired. Ask for a new code."),
    "wrong_site": N_("This code is for another site. Check the site or ask for a new code."),
}
MSG_SETUP_UNREACHABLE = N_(
    "The server cannot be reached. Check the network cable and the address, then try again."
)
MSG_SETUP_FAILED = N_("The booth could not be set up. Try again, or call support.")
MSG_SETUP_INCOMPLETE = N_("Type the 16 characters of the code, the server address and the site.")
MSG_SETUP_NOT_A_CODE = N_("This is not a set-up code. Show the set-up code's QR code.")
MSG_SETUP_OTHER_SERVER = N_(
    "This code is for another server than the one this booth is set to use. "
    "Ask for a code from this booth's server."
)
SETUP_CODE_CHARS = 16
CONSENT_QUESTIONS: dict[wire.DeviceKind, str] = {
    wire.DeviceKind.READ_CARD: N_("The agent asks to read your card. Do you agree?"),
    wire.DeviceKind.SCAN: N_("The agent asks to scan your document. Do you agree?"),
    wire.DeviceKind.READ_CODE: N_("The agent asks to read your convocation code. Do you agree?"),
}
"""The question the consent modal asks for each request that reads something of the
citizen's (English msgids, translated by the modal)."""
JOIN_ERRORS = {
    wire.ErrorCode.SERVICE_CLOSED: MSG_SERVICE_CLOSED,
    wire.ErrorCode.UNKNOWN_SERVICE: MSG_SERVICE_CLOSED,
}

try:
    APP_VERSION = metadata.version("guichet")
except metadata.PackageNotFoundError:  # running from a source tree
    APP_VERSION = "0.0.0"

Listener = Callable[[], None]
FrameCallback = Callable[[Any], None]


CLOSE_REASON_WAIT_S = 2.0
PREVIEW_STOP_WAIT_S = 1.0
"""How long the end of a call waits for the self-view task to let go of the media."""
"""After the agent closed the connection, how long the booth waits for the switchboard's
``call_ended`` (hang-up or agent gone) before treating the agent as lost."""
SEND_WAIT_S = 10.0
"""How long a citizen's request (joining a queue) waits for the switchboard link."""
PREVIEW_EVERY_NTH = 2
"""Show one camera frame in two in the self-view (15 fps from a 30 fps camera)."""


@dataclass(frozen=True)
class ConsentRequest:
    """A question waiting for the citizen's yes or no (the consent modal shows it)."""

    kind: str
    """``wire.DeviceKind`` value."""
    question: str
    """English msgid of the question (see :data:`CONSENT_QUESTIONS`)."""


class CatalogueUnauthorized(Exception):
    """The switchboard refused this booth's token."""


def fetch_catalogue(
    server_url: str,
    token: str,
    headers: Callable[[], dict[str, str]] | None = None,
    session: requests.Session | None = None,
) -> wire.Catalogue:
    """GET the service catalogue (blocking: call it through ``asyncio.to_thread``).

    ``headers`` (an enrolled booth's signed headers) replaces the bearer token;
    ``session`` carries the booth's trust (its CA file)."""
    resp = (session or requests.Session()).get(
        server_url + CATALOGUE_PATH,
        headers=headers() if headers is not None else {"Authorization": f"Bearer {token}"},
        timeout=HTTP_TIMEOUT_S,
    )
    if resp.status_code in (401, 403):
        raise CatalogueUnauthorized(f"catalogue refused: HTTP {resp.status_code}")
    resp.raise_for_status()
    return wire.Catalogue.model_validate(resp.json())


class BoothController:
    """Drives one booth: owns the session machine, the signaling client and the call."""

    def __init__(
        self,
        settings: BoothSettings,
        *,
        translator: Translator | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        fleet: BoothFleet | None = None,
    ) -> None:
        self.settings = settings
        self.translator = translator or Translator(settings.default_language)
        self.clock = clock
        self.wall_clock = wall_clock
        self.brand_logo = load_logo(settings.brand_logo_png)
        """The operator's logo (checked PNG bytes) or None: the header shows the flag."""
        """Real time, for the booth's opening hours (tests pass a fixed one)."""
        self.closed = False
        """Outside the booth's opening hours: the welcome screen says closed."""
        self.reopens: list[int] = []
        """``[weekday, hour, minute]`` (local) of the next opening while closed."""
        self.machine = s.SessionMachine(
            timers=settings.timers, default_language=settings.default_language
        )
        self.services: list[wire.ServicePublic] | None = None
        """Last catalogue fetched (None until the first answer)."""
        self.problem: str = ""
        """Why the booth is out of service: "" | "unreachable" | "unauthorized" |
        "certificate" (the server's certificate is not from the booth's CA)."""
        self.call_status: str = ""
        """Peer state during a call: "connecting", "connected", ..."""
        self.muted = False
        self.booth_name = ""
        self.frames_received_total = 0
        """Agent video frames over all calls (the current call's: ``frames_received``)."""
        self.wipes = 0
        """Number of wipes carried out (tests check one happens per session end)."""
        self.devices: DeviceManager | None = None
        """The booth's peripherals (created at :meth:`start`, stopped at :meth:`stop`)."""
        self.consent_request: ConsentRequest | None = None
        """The question the consent modal shows now, None when nothing is asked."""
        self.device_activity = ""
        """Plain line on the call screen about device work (msgid or French reason)."""
        self.technician_open = False
        """The technician diagnostics screen is shown (over the welcome screen)."""
        self.technician_results: dict[str, str] = {}
        """Last test result per device role (translated text), on the diagnostics screen."""
        self._pin_gate = t.PinGate(settings.technician_pin_hash)
        self._taps = t.TapCounter()
        self._technician_touched = 0.0
        self.on_remote_frame: FrameCallback | None = None
        """Set by the call screen: gets each agent video frame (``av.VideoFrame``)."""
        self.on_local_frame: FrameCallback | None = None
        """Set by the call screen: gets each own-camera frame for the small preview."""
        self._listeners: list[Listener] = []
        self._wipe_listeners: list[Listener] = []
        self._signaling: SignalingClient | None = None
        self._signaling_state: SignalingState = "connecting"
        self._catalogue_ok = False
        self._catalogue_failed = False
        self._catalogue_refused = False
        self._http: requests.Session | None = None
        self._untrusted_certificate = False
        """The last catalogue request or socket met a certificate not from ``ca_file``."""
        self._signaling_reason = ""
        self._frames_in_call = 0
        self._pending_ice: list[wire.IceServer] = []
        self._pending_policy: wire.IceTransportPolicy = "all"
        self._catalogue_kick = asyncio.Event()
        self._peer: BoothPeer | None = None
        self._peer_gen = 0
        """Bumped for every new peer: callbacks of an older one are ignored."""
        self._reconnect_task: asyncio.Task[None] | None = None
        self.reconnections = 0
        """Calls brought back on a new peer connection after a cut (tests, diagnostics)."""
        self._media: MediaSources | None = None
        self._preview_task: asyncio.Task[None] | None = None
        self._speaker: Speaker | None = None
        self._call_id: str | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._stopped = False
        self._token = ""
        self._consent_future: asyncio.Future[bool] | None = None
        self._consent_lock = asyncio.Lock()
        if fleet is None and settings.data_dir is not None:
            fleet = BoothFleet(settings)
        self.fleet: BoothFleet | None = fleet
        """The fleet link of an enrolled (or to-be-enrolled) booth; None with a token."""
        self.setup_needed = self.fleet is not None and not self.fleet.enrolled
        """No identity yet: the setup screen is shown until the booth is enrolled."""
        self.setup_code = ""
        """The enrolment code typed or scanned so far (letters and digits only)."""
        self.setup_busy = False
        self.setup_error = ""
        """Msgid of why the last enrolment attempt failed ("" when none)."""
        self.revoked = False
        """The server revoked this booth: out of service for good, no more requests."""
        self.pending_settings: BoothSettings | None = None
        """A newly applied config waiting for the end of the citizen's session."""
        self.config_rejections = 0
        """Bundles refused or rolled back since start (tests and diagnostics)."""
        self._config_kick = asyncio.Event()
        self._reported: tuple[int | None, str] | None = None
        self.setup_media_factory: Callable[[], MediaSources] = self._open_setup_media
        """Opens the camera whose QR codes the setup screen reads (tests replace it)."""
        self.setup_qr: CameraQrReader | None = None
        self._setup_media: MediaSources | None = None
        self.last_call_at: datetime | None = None
        """When the last call started (reported in the heartbeat)."""
        self.heartbeat: HeartbeatSender | None = None
        """The enrolled booth's heartbeat sender (created when the booth goes online)."""
        self.last_heartbeat: HeartbeatAck | None = None
        """The server's answer to the last heartbeat that got through."""
        self._heartbeat_kick = asyncio.Event()
        self._beat_state: tuple[int | None, list[PeripheralState], datetime | None] = (
            None,
            [],
            None,
        )

    # -- observable state ----------------------------------------------------

    @property
    def state(self) -> s.State:
        """The session state."""
        return self.machine.state

    @property
    def data(self) -> s.SessionData:
        """The current citizen's session data."""
        return self.machine.data

    @property
    def screen(self) -> str:
        """Name of the screen to show."""
        if self.setup_needed:
            return "setup"
        if self.technician_open and self.machine.state in (s.State.WELCOME, s.State.OUT_OF_SERVICE):
            return "technician"
        if self.closed and self.machine.state is s.State.WELCOME:
            # Only instead of welcome: a citizen's session in progress finishes.
            return "closed"
        return SCREEN_NAMES[self.machine.state]

    @property
    def link_state(self) -> SignalingState:
        """The switchboard link: connecting, connected, disconnected, unauthorized."""
        return self._signaling_state

    @property
    def frames_received(self) -> int:
        """Agent video frames received in the current (or last) call."""
        return self._frames_in_call

    @property
    def in_call_peer(self) -> BoothPeer | None:
        """The current peer (for tests and diagnostics)."""
        return self._peer

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener()`` after every state change (on the loop thread)."""
        self._listeners.append(listener)

    def add_wipe_listener(self, listener: Listener) -> None:
        """Call ``listener()`` on every wipe (the UI clears its text fields)."""
        self._wipe_listeners.append(listener)

    def _changed(self) -> None:
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:
                logger.exception("state listener failed")

    # -- life cycle ------------------------------------------------------------

    async def start(self) -> None:
        """Read the token (or the booth's identity), connect and start the timers.

        A fleet booth without an identity shows the setup screen instead and goes
        on once the technician has enrolled it (:meth:`submit_enrolment`)."""
        self._stopped = False
        self.update_opening()
        await self._start_devices()
        if self.setup_needed:
            logger.info("this booth is not enrolled: setup screen")
            self._spawn(self._start_setup_camera(), "setup-camera")
            self._changed()
            return
        await self._start_online()

    async def _start_online(self) -> None:
        try:
            self.settings.check_server_url()
        except InsecureServerUrl as exc:
            # A production booth never talks plain HTTP; the technician must fix booth.toml.
            logger.error("refusing to connect: %s", exc)
            self.problem = "unauthorized"
            self.dispatch(s.ServerDown())
            return
        self._http = self.settings.http_session()
        signed: Callable[[], dict[str, str]] | None = None
        if self.fleet is not None:
            fleet = self.fleet
            signed = lambda: fleet.signed_headers("GET", "/ws/booth")  # noqa: E731
            self.booth_name = fleet.identity.booth_id
        else:
            try:
                self._token = self.settings.read_token()
            except Exception as exc:
                logger.error("cannot read the booth token: %s", exc)
                self.problem = "unauthorized"
                self.dispatch(s.ServerDown())
                return
        self._signaling = self._new_signaling(signed)
        await self._signaling.start()
        self._loops = [
            asyncio.create_task(self._catalogue_loop(), name="catalogue"),
            asyncio.create_task(self._tick_loop(), name="session-tick"),
            asyncio.create_task(self._hours_loop(), name="opening-hours"),
        ]
        if self.fleet is not None:
            self._loops.append(asyncio.create_task(self._config_loop(), name="config"))
            self._loops.append(asyncio.create_task(self._heartbeat_loop(), name="heartbeat"))

    def _new_signaling(self, headers: Callable[[], dict[str, str]] | None) -> SignalingClient:
        return SignalingClient(
            self.settings.ws_url,
            self._token or None,
            APP_VERSION,
            reconnect_min_s=self.settings.retry_min_s,
            reconnect_max_s=self.settings.retry_max_s,
            on_message=self._on_message,
            on_state=self._on_signaling_state,
            headers=headers,
            ssl_context=self.settings.ssl_context(),
            current_call=self._current_call_id,
        )

    def _current_call_id(self) -> str | None:
        """The call to name in ``hello`` (the switchboard may have restarted under it)."""
        return self._call_id if self.machine.state is s.State.IN_CALL else None

    async def stop(self) -> None:
        """Hang up, close everything and stop the background tasks; idempotent."""
        self._stopped = True
        for task in [*self._loops, *self._tasks]:
            task.cancel()
        for task in [*self._loops, *self._tasks]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._loops.clear()
        self._tasks.clear()
        await self._close_call()
        await self._stop_setup_camera()
        if self._signaling is not None:
            await self._signaling.stop()
            self._signaling = None
        await self._stop_devices()

    async def _start_devices(self) -> None:
        if self.devices is not None:
            return
        try:
            self.devices = DeviceManager(
                self.settings.devices, on_change=self._device_changed, on_code=self._code_scanned
            )
            await self.devices.start()
        except Exception:
            # Peripherals are a bonus of the call: the booth runs without them.
            logger.exception("the booth's devices could not start")

    async def _stop_devices(self) -> None:
        devices, self.devices = self.devices, None
        if devices is None:
            return
        try:
            await devices.stop()
        except Exception:
            logger.exception("the booth's devices did not stop cleanly")

    def _device_changed(self, status: DeviceStatus) -> None:
        self._changed()

    # -- citizen actions (called from touch handlers; never block) ------------

    def tap_start(self) -> None:
        """The citizen touched the welcome screen."""
        self.dispatch(s.StartTapped())
        self._catalogue_kick.set()

    def choose_language(self, language: str) -> None:
        """A language button was pressed."""
        if language in self.settings.languages:
            self.dispatch(s.LanguageChosen(language))

    def toggle_speech(self) -> None:
        """The header's "Listen" button: spoken guidance on or off for this citizen."""
        self.dispatch(s.SpeechToggled())

    def toggle_large_text(self) -> None:
        """The header's "larger text" button (any citizen screen)."""
        self.dispatch(s.LargeTextToggled())

    def toggle_high_contrast(self) -> None:
        """The header's "high contrast" button (any citizen screen)."""
        self.dispatch(s.HighContrastToggled())

    def back(self) -> None:
        """Back from the service list to the welcome screen."""
        self.dispatch(s.BackTapped())

    def choose_service(self, service_id: str) -> None:
        """A service button was pressed; closed services are ignored."""
        service = self.service(service_id)
        if service is None or not service.open_now:
            self.dispatch(s.ErrorOccurred(MSG_SERVICE_CLOSED))
            return
        self.dispatch(s.ServiceChosen(service.id, self.service_name(service)))

    def cancel(self) -> None:
        """Leave the queue."""
        self.dispatch(s.CancelTapped())

    def hangup(self) -> None:
        """End the call."""
        self.dispatch(s.HangupTapped())

    def finish(self) -> None:
        """Leave the goodbye screen now."""
        self.dispatch(s.FinishTapped())

    def rate(self, rating: int) -> None:
        """A face was tapped on the goodbye screen (1 unhappy … 3 happy)."""
        self.dispatch(s.RatingChosen(rating))

    def rate_reason(self, reason: str | None) -> None:
        """Why the call was not good (or ``None``: the citizen skips the question)."""
        self.dispatch(s.ReasonChosen(reason))

    def touch(self) -> None:
        """Any touch: keeps the session alive and dismisses the idle warning."""
        self._technician_touched = self.clock()
        self.dispatch(s.Touch())

    # -- technician ------------------------------------------------------------

    def technician_tap(self) -> bool:
        """A tap on the header's booth name; True when the PIN pad should open."""
        if self.state is not s.State.WELCOME or self.technician_open:
            return False
        if not self._taps.tap(self.clock()):
            return False
        if not self.settings.technician_pin_hash:
            logger.warning("technician gesture: no technician_pin_hash configured, ignored")
            return False
        logger.info("technician gesture: PIN pad opened")
        return True

    def check_technician_pin(self, pin: str) -> tuple[t.PinCheck, float]:
        """Check a PIN from the pad; OK opens the diagnostics screen.

        Returns the outcome and, when locked, the seconds left."""
        now = self.clock()
        result = self._pin_gate.check(pin, now)
        if result is t.PinCheck.OK:
            self._open_technician()
        elif result is t.PinCheck.WRONG:
            logger.warning("technician PIN refused (%d wrong in a row)", self._pin_gate.failures)
        elif result is t.PinCheck.LOCKED:
            logger.warning("technician PIN pad locked for %.0f s", self._pin_gate.locked_for(now))
        else:
            logger.warning("technician PIN typed but no technician_pin_hash configured")
        return result, self._pin_gate.locked_for(now)

    def _open_technician(self) -> None:
        self.technician_open = True
        self.technician_results = {}
        self._technician_touched = self.clock()
        devices = self.devices.diagnostics() if self.devices is not None else []
        logger.info(
            "technician screen opened: version %s, switchboard %s, devices %s",
            APP_VERSION,
            self.link_state,
            "; ".join(
                f"{d['role']} {d['state']}"
                + (f" ({d['reason']})" if d["reason"] else "")
                + f" ok={d['jobs_ok']} failed={d['jobs_failed']}"
                + (f" last error: {d['last_error']}" if d["last_error"] else "")
                for d in devices
            )
            or "none",
        )
        self._changed()

    def close_technician(self) -> None:
        """Back from the diagnostics screen to the welcome screen."""
        if self.technician_open:
            logger.info("technician screen closed")
        self.technician_open = False
        self.technician_results = {}
        self._changed()

    def technician_test(self, role: str, action: str) -> None:
        """Run a device test from the diagnostics screen: print, read or scan."""
        if not self.technician_open or self.devices is None:
            return
        self._spawn(self._technician_test(self.devices, role, action), f"test-{role}")

    async def _technician_test(self, devices: DeviceManager, role: str, action: str) -> None:
        _ = self.translator.gettext
        timeout = t.TEST_READ_TIMEOUT_S
        seconds = round(timeout)

        def show(text: str) -> None:
            self.technician_results[role] = text
            self._changed()

        try:
            if action == "print" and role == "receipt_printer":
                show(_(t.MSG_WORKING))
                lines = [f"{self.booth_name or 'Guichet'}", f"version {APP_VERSION}"]
                await devices.print_receipt(Receipt(title=t.TEST_TICKET_TITLE, lines=lines))
                show(_(t.MSG_PRINTED))
            elif action == "print" and role == "a4_printer":
                show(_(t.MSG_WORKING))
                pdf = await asyncio.to_thread(t.make_test_pdf)
                await devices.print_pdf(pdf, t.TEST_TICKET_TITLE)
                show(_(t.MSG_PRINTED))
            elif action == "read" and role in ("card_reader", "smart_card"):
                show(_(t.MSG_WAITING_CARD).format(seconds=seconds))
                card = await devices.read_card(timeout)
                show(_(t.MSG_CARD_READ).format(uid=card.uid or "-", card_type=card.card_type))
            elif action == "read" and role == "barcode_reader":
                show(_(t.MSG_WAITING_CODE).format(seconds=seconds))
                code = await devices.next_code(timeout)
                show(_(t.MSG_CODE_READ).format(code=code[:60]))
            elif action == "scan" and role == "scanner":
                show(_(t.MSG_WORKING))
                scan = await devices.scan()
                show(_(t.MSG_SCANNED).format(width=scan.width, height=scan.height))
            else:
                logger.warning("technician test %s on %s: not a test of this device", action, role)
                return
            logger.info("technician test %s on %s: %s", action, role, self.technician_results[role])
        except DeviceError as exc:
            logger.warning("technician test %s on %s failed: %s", action, role, exc)
            show(exc.reason)

    def _technician_tick(self) -> None:
        if self.technician_open and self.clock() - self._technician_touched > t.TECHNICIAN_IDLE_S:
            logger.info("technician screen left untouched: back to the welcome screen")
            self.close_technician()

    def send_chat(self, text: str) -> bool:
        """Send a chat line to the agent; False (with a notice) if it could not go."""
        text = text.strip()
        if not text or self._peer is None or self.state is not s.State.IN_CALL:
            return False
        if self.reconnecting:
            # The screen already says the link is down; the typed line stays in
            # the field to be sent once the call is back.
            return False
        try:
            msg_id = self._peer.send_chat(text[: wire.MAX_CHAT_CHARS])
        except Exception as exc:
            logger.warning("chat not sent: %s", exc)
            self.dispatch(s.ErrorOccurred(MSG_SOMETHING_WRONG))
            return False
        self.dispatch(s.ChatSent(msg_id, text))
        return True

    def answer_consent(self, yes: bool) -> None:
        """The citizen answered the consent modal."""
        future = self._consent_future
        if future is not None and not future.done():
            future.set_result(yes)

    async def ask_consent(self, kind: wire.DeviceKind) -> bool:
        """Show the consent modal and wait for the answer; False when the call ends."""
        async with self._consent_lock:  # one question at a time
            if self.state is not s.State.IN_CALL or self._peer is None:
                return False
            future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            self._consent_future = future
            self.consent_request = ConsentRequest(kind.value, CONSENT_QUESTIONS[kind])
            self._changed()
            try:
                return await future
            finally:
                self._consent_future = None
                self.consent_request = None
                self._changed()

    def _refuse_consent(self) -> None:
        """The call ends: a pending question is answered no and taken off the screen."""
        self.answer_consent(False)
        self.consent_request = None

    def _set_device_activity(self, text: str) -> None:
        if self.state is s.State.IN_CALL:
            self.device_activity = text
            self._changed()

    def toggle_mute(self) -> None:
        """Mute or unmute the microphone."""
        self.muted = not self.muted
        setter = getattr(self._media, "set_muted", None)
        if callable(setter):
            setter(self.muted)
        else:
            logger.warning("microphone mute is not supported by this media source")
        self._changed()

    # -- helpers for the screens ---------------------------------------------

    def service(self, service_id: str) -> wire.ServicePublic | None:
        """The catalogue entry for ``service_id``."""
        return next((x for x in self.services or [] if x.id == service_id), None)

    def localized(self, texts: dict[str, str]) -> str:
        """Pick the text in the citizen's language, else the default one, else any."""
        lang = self.data.language
        return (
            texts.get(lang)
            or texts.get(self.settings.default_language)
            or next(iter(texts.values()), "")
        )

    def service_name(self, service: wire.ServicePublic) -> str:
        """The service's name in the citizen's language."""
        return self.localized(service.name) or service.id

    # -- the machine -----------------------------------------------------------

    def dispatch(self, event: s.Event) -> None:
        """Feed one event to the session machine and carry out its effects."""
        try:
            effects = self.machine.handle(event, self.clock())
        except Exception:
            logger.exception("session machine failed on %r", event)
            return
        if self.translator.language != self.machine.data.language:
            self.translator.set_language(self.machine.data.language)
        for effect in effects:
            try:
                self._apply(effect)
            except Exception:
                logger.exception("effect %r failed", effect)
        self._changed()

    def _apply(self, effect: s.Effect) -> None:
        if isinstance(effect, s.JoinQueue):
            msg = wire.JoinQueue(service_id=effect.service_id, language=effect.language)
            self._spawn(self._send_or_fail(msg), "join-queue")
        elif isinstance(effect, s.LeaveQueue):
            self._spawn(self._send_quietly(wire.LeaveQueue()), "leave-queue")
        elif isinstance(effect, s.StartCall):
            self._spawn(self._start_call(effect.call_id), "start-call")
        elif isinstance(effect, s.RefuseCall):
            hangup = wire.Hangup(call_id=effect.call_id, reason="no_citizen")
            self._spawn(self._send_quietly(hangup), "refuse-call")
        elif isinstance(effect, s.EndCall):
            # The agent's console tells "relay failed" apart from a citizen hanging up.
            relay = self.machine.data.end_reason == wire.CallEndReason.RELAY_FAILED.value
            reason = wire.CallEndReason.RELAY_FAILED.value if relay else "booth_hangup"
            self._spawn(self._end_call(effect.call_id, effect.notify_server, reason), "end-call")
        elif isinstance(effect, s.SendSurvey):
            known = effect.reason in wire.SURVEY_REASONS
            why = cast("wire.SurveyReason | None", effect.reason if known else None)
            survey = wire.Survey(call_id=effect.call_id, rating=effect.rating, reason=why)
            self._spawn(self._send_quietly(survey), "survey")
        elif isinstance(effect, s.Requeue):
            self._spawn(self._requeue(effect), "requeue")
        elif isinstance(effect, s.Wipe):
            self._wipe()

    def _wipe(self) -> None:
        # The session machine already forgot the citizen; forget our copies too.
        self.muted = False
        self.call_status = ""
        self.device_activity = ""
        self._refuse_consent()
        self.wipes += 1
        for listener in list(self._wipe_listeners):
            try:
                listener()
            except Exception:
                logger.exception("wipe listener failed")

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("task %s failed", task.get_name(), exc_info=task.exception())

    async def _send_or_fail(self, msg: BaseModel) -> None:
        try:
            assert self._signaling is not None  # noqa: S101 - started before any tap
            if not self._signaling.connected:
                # A citizen may tap while the link is (re)connecting: wait for it a
                # little rather than show an error for a blip.
                await self._signaling.wait_connected(SEND_WAIT_S)
            await self._signaling.send(msg)
        except Exception as exc:
            logger.warning("could not send %s: %s", type(msg).__name__, exc)
            self.dispatch(s.ErrorOccurred(MSG_SOMETHING_WRONG))

    async def _send_quietly(self, msg: BaseModel) -> None:
        if self._signaling is None:
            return
        try:
            await self._signaling.send(msg)
        except Exception as exc:
            logger.info("could not send %s: %s", type(msg).__name__, exc)

    # -- signaling -------------------------------------------------------------

    def _on_signaling_state(self, state: SignalingState, reason: str) -> None:
        self._signaling_state = state
        self._signaling_reason = reason
        if state == "connected":
            # The catalogue may be in a long back-off: refresh it now.
            self._catalogue_kick.set()
        self._check_health()

    def _check_health(self) -> None:
        sig = self._signaling_state
        if sig == "revoked":
            self._set_revoked()
        if self.revoked:
            self.problem = "revoked"
            if self.state is not s.State.OUT_OF_SERVICE:
                self.dispatch(s.ServerDown())
            else:
                self._changed()
            return
        if self._untrusted_certificate or (
            sig == "disconnected" and self._signaling_reason == UNTRUSTED_CERTIFICATE
        ):
            self.problem = "certificate"
        elif sig == "unauthorized" or self._catalogue_refused:
            self.problem = "unauthorized"
        elif sig == "disconnected" or not self._catalogue_ok:
            self.problem = "unreachable"
        else:
            self.problem = ""
        down = (
            sig in ("disconnected", "unauthorized")
            or self._catalogue_failed
            or self._catalogue_refused
        )
        healthy = sig == "connected" and self._catalogue_ok
        if down and self.state is not s.State.OUT_OF_SERVICE:
            self.dispatch(s.ServerDown())
        elif healthy and self.state is s.State.OUT_OF_SERVICE:
            self.dispatch(s.ServerUp())
        else:
            self._changed()

    async def _on_message(self, msg: ServerMessage) -> None:
        if isinstance(msg, wire.BoothWelcome):
            self.booth_name = msg.booth_name
            self._changed()
        elif isinstance(msg, wire.Queued):
            self.dispatch(s.QueuedUpdate(msg.service_id, msg.position, msg.estimated_wait_s))
        elif isinstance(msg, wire.LeftQueue):
            self.dispatch(s.LeftQueue(msg.reason))
        elif isinstance(msg, wire.CallStarted):
            self._pending_ice = msg.ice_servers
            self._pending_policy = msg.ice_transport_policy
            self.dispatch(s.CallStarted(msg.call_id, msg.agent_name))
        elif isinstance(msg, wire.Answer):
            if self._peer is not None and msg.call_id == self._call_id:
                try:
                    await self._peer.accept_answer(msg.description)
                except Exception as exc:
                    logger.warning("answer refused: %s", exc)
                    if not self.reconnecting:
                        # While reconnecting, a late answer to an earlier attempt
                        # is expected: that attempt simply times out.
                        self.dispatch(s.CallEnded("failed", by_server=False))
        elif isinstance(msg, wire.Ice):
            if self._peer is not None and msg.call_id == self._call_id:
                await self._peer.add_remote_candidate(msg.candidate)
        elif isinstance(msg, wire.CallEnded):
            if msg.call_id == self.data.call_id:
                self.dispatch(s.CallEnded(msg.reason.value, by_server=True))
        elif isinstance(msg, wire.CallResumed):
            logger.info("call %s known to the switchboard again", msg.call_id)
        elif isinstance(msg, wire.ConfigAvailable):
            logger.info("config version %d waits on the server: fetching it", msg.version)
            self._config_kick.set()
        elif isinstance(msg, wire.Error):
            logger.warning("switchboard error %s: %s (%s)", msg.code, msg.message, msg.ref)
            if msg.ref == "join_queue" and msg.code != wire.ErrorCode.ALREADY_QUEUED:
                self.dispatch(s.ErrorOccurred(JOIN_ERRORS.get(msg.code, MSG_SOMETHING_WRONG)))

    # -- the call ----------------------------------------------------------------

    async def _start_call(self, call_id: str) -> None:
        await self._close_call()
        self._call_id = call_id
        self.last_call_at = datetime.now(UTC)
        self._frames_in_call = 0
        self.call_status = "connecting"
        self.device_activity = ""
        self._changed()
        try:
            if self.settings.fake_media:
                media = make_media(True)
            else:
                # Opening devices can take a while (v4l2 probing): off the loop.
                media = await asyncio.to_thread(
                    make_media, False, self.settings.camera, self.settings.microphone
                )
            self._media = media
            if self.muted:
                self.toggle_mute()
            speaker = None
            if self.settings.speaker:
                speaker = Speaker(self.settings.speaker, volume=self.settings.volume)
                speaker.start()
            self._speaker = speaker
            peer = self._new_peer(call_id)
            self._preview_task = self._spawn(self._preview_loop(media), "preview")
            offer = await peer.create_offer()
            if self._call_id != call_id or self._signaling is None:
                return  # the call ended while the offer was being made
            await self._signaling.send(wire.Offer(call_id=call_id, description=offer))
        except MediaUnavailable as exc:
            logger.error("media unavailable: %s", exc)
            self.dispatch(s.ErrorOccurred(MSG_MEDIA))
            self.dispatch(s.CallEnded("media_unavailable", by_server=False))
        except RelayUnavailable as exc:
            # Relay-only and the TURN server refused our credentials or is down: say
            # so at once instead of letting the agent wait for a call setup timeout.
            logger.error("call %s: %s", call_id, exc)
            self.dispatch(s.CallEnded(wire.CallEndReason.RELAY_FAILED.value, by_server=False))
        except Exception:
            logger.exception("call %s could not start", call_id)
            self.dispatch(s.ErrorOccurred(MSG_INTERRUPTED))
            self.dispatch(s.CallEnded("failed", by_server=False))

    def _new_peer(self, call_id: str) -> BoothPeer:
        """A new peer for the call on the call's media, made the current one."""
        media = self._media
        assert media is not None  # noqa: S101 - opened before any peer
        speaker = self._speaker
        self._peer_gen += 1
        gen = self._peer_gen
        peer = BoothPeer(
            list(self._pending_ice),
            media,
            on_remote_audio_frame=speaker.push if speaker is not None else None,
            on_remote_video_frame=self._remote_frame,
            on_chat=self._chat_received,
            on_state=lambda state: self._peer_state(state, gen),
            ice_transport_policy=self._pending_policy,
        )
        # The camera reads codes and photographs documents through its own
        # relay subscription: the outgoing video keeps every frame.
        handler = BoothDeviceHandler(
            self.devices,
            self.ask_consent,
            on_activity=self._set_device_activity,
            camera=media.subscribe_video,
        )
        peer.attach_devices(
            DeviceChannel(
                handler,
                peer.send_peer,
                on_finished=lambda work: self._report_device_work(call_id, work),
            )
        )
        self._peer = peer
        return peer

    def _discard_peer(self, peer: BoothPeer) -> None:
        """Close a dead peer in the background (a TURN release may wait on a cut line)."""
        self._spawn(peer.close(), "discard-peer")

    async def _reconnect(self, call_id: str, lost_at: float) -> None:
        """The agent went silent: bring the call back on a new peer, or requeue."""
        old = self._peer
        # Device requests of the dead connection are cancelled with it: a consent
        # question still on screen is answered no and taken away.
        self._refuse_consent()
        if old is not None:
            self._discard_peer(old)

        async def send_offer(offer: wire.SessionDescription) -> None:
            if self._signaling is None:
                raise ConnectionError("no switchboard link")
            await self._signaling.send(wire.Offer(call_id=call_id, description=offer))

        peer = await reconnect(
            lambda: self._new_peer(call_id), send_offer, self._discard_peer, lost_at=lost_at
        )
        if self._call_id != call_id or self.state is not s.State.IN_CALL:
            if peer is not None:
                self._discard_peer(peer)
            return
        if peer is not None:
            self.reconnections += 1
            self.call_status = "connected"
            self._changed()
            return
        self.call_status = "peer_lost"
        self.dispatch(s.CallEnded("peer_lost", by_server=False))

    @property
    def reconnecting(self) -> bool:
        """The call's link was lost and a new peer connection is being tried."""
        task = self._reconnect_task
        return task is not None and not task.done()

    def _report_device_work(self, call_id: str, work: FinishedWork) -> None:
        """Tell the switchboard's audit trail how the agent's device request ended
        (kind, outcome, pages, size: never what was read)."""
        self._spawn(self._send_quietly(work.to_wire(call_id)), "device-work")

    async def _end_call(
        self, call_id: str, notify_server: bool, reason: str = "booth_hangup"
    ) -> None:
        if notify_server and call_id:
            await self._send_quietly(wire.Hangup(call_id=call_id, reason=reason))
        await self._close_call()

    async def _requeue(self, effect: s.Requeue) -> None:
        """The call broke: free it on the server, take the citizen's place back, close."""
        if effect.notify_server and effect.call_id:
            hangup = wire.Hangup(call_id=effect.call_id, reason=wire.CallEndReason.LINK_LOST.value)
            await self._send_quietly(hangup)
        # Hangup then join on one task: the server must have freed the call first.
        join = wire.JoinQueue(
            service_id=effect.service_id,
            language=effect.language,
            resume_call_id=effect.call_id or None,
        )
        self._spawn(self._send_or_fail(join), "rejoin-queue")
        await self._close_call()

    async def _close_call(self) -> None:
        task, self._reconnect_task = self._reconnect_task, None
        if task is not None and task is not asyncio.current_task() and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        peer, media, speaker = self._peer, self._media, self._speaker
        self._peer, self._media, self._speaker, self._call_id = None, None, None, None
        self._refuse_consent()
        if speaker is not None:
            # Joins the writer thread: off the loop.
            await asyncio.to_thread(speaker.stop)
            if speaker.error:
                logger.warning("call audio: %s", speaker.error)
        if peer is not None:
            try:
                await peer.close()
            except Exception:
                logger.exception("peer close failed")
        if media is not None:
            media.close()
        preview, self._preview_task = self._preview_task, None
        if preview is not None:
            # The self-view task holds the media until it sees the end of its track:
            # let it finish, or the collection below would find the media still held.
            # (asyncio.wait neither raises the task's outcome nor cancels it.)
            if not preview.done():
                await asyncio.wait({preview}, timeout=PREVIEW_STOP_WAIT_S)
            del preview
        if peer is not None:
            # The closed call's objects form reference cycles: free them (and
            # their codec buffers) now, not at some later full collection.
            del peer, media, speaker
            collect_call_garbage()

    def _remote_frame(self, frame: Any) -> None:
        self._frames_in_call += 1
        self.frames_received_total += 1
        # Frames still in flight after the hang-up must not repaint a wiped screen.
        if self.on_remote_frame is not None and self.machine.state is s.State.IN_CALL:
            self.on_remote_frame(frame)

    def _chat_received(self, msg_id: str, text: str) -> None:
        self.dispatch(s.ChatReceived(msg_id, text))

    def _peer_state(self, state: str, gen: int) -> None:
        if gen != self._peer_gen:
            return  # a peer already replaced (closing in the background)
        if self.reconnecting:
            # The reconnection loop judges its own attempts; the citizen keeps
            # seeing "reconnecting" until it succeeds or gives up.
            return
        peer = self._peer
        self.call_status = state
        lost = state == "peer_lost" or (
            state == "failed" and peer is not None and peer.connected_at is not None
        )
        if lost and self.state is s.State.IN_CALL and self._call_id is not None and peer:
            # A cut line: keep the call screen and bring the call back on a new
            # peer connection (no ICE restart in aiortc) before giving up.
            self.call_status = "reconnecting"
            lost_at = peer.last_heard_at or time.monotonic()
            task = asyncio.get_running_loop().create_task(
                self._reconnect(self._call_id, lost_at), name="reconnect"
            )
            self._reconnect_task = task
            self._tasks.add(task)
            task.add_done_callback(self._task_done)
            self._changed()
        elif state in ("peer_lost", "failed") and self.state is s.State.IN_CALL:
            self.dispatch(s.CallEnded(state, by_server=False))
        elif state == "peer_closed" and self.state is s.State.IN_CALL:
            # The agent closed the connection on purpose; the switchboard says why
            # (agent_hangup: goodbye; agent_gone: back in line) within milliseconds.
            # Without a word by then, treat it as the agent lost.
            self._spawn(self._await_close_reason(self._call_id), "close-reason")
            self._changed()
        else:
            self._changed()

    async def _await_close_reason(self, call_id: str | None) -> None:
        await asyncio.sleep(CLOSE_REASON_WAIT_S)
        if call_id is not None and self.state is s.State.IN_CALL and self._call_id == call_id:
            logger.warning("call %s: agent closed without a word from the switchboard", call_id)
            self.dispatch(s.CallEnded("peer_lost", by_server=False))

    async def _preview_loop(self, media: MediaSources) -> None:
        """Feed the small own-camera preview while the call lasts."""
        try:
            track = media.subscribe_video()
        except MediaUnavailable:
            return
        try:
            shown = 0
            while self._media is media:
                frame = await track.recv()
                shown += 1
                # The small self-view needs no more than PREVIEW_EVERY_NTH of the
                # camera's frames; each drawn frame costs CPU with software GL.
                if shown % PREVIEW_EVERY_NTH:
                    continue
                if self.on_local_frame is not None and self.machine.state is s.State.IN_CALL:
                    self.on_local_frame(frame)
        except Exception as exc:  # the track ends when media closes
            logger.debug("preview stopped: %s", exc)
        finally:
            track.stop()

    # -- background loops ----------------------------------------------------------

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            self._technician_tick()
            self.dispatch(s.Tick())
            if self.pending_settings is not None and self._between_sessions():
                await self.apply_settings(self.pending_settings)

    def update_opening(self) -> None:
        """Re-read the opening hours at the current wall-clock time."""
        hours = BoothHours.from_settings(self.settings.opening_hours, self.settings.timezone)
        now = self.wall_clock()
        closed = not hours.is_open(now)
        reopens = reopening(hours.next_opening(now)) if closed else []
        if (closed, reopens) != (self.closed, self.reopens):
            logger.info("booth %s", "closed (opening hours)" if closed else "open")
            self.closed, self.reopens = closed, reopens
            self._changed()

    async def _hours_loop(self) -> None:
        while True:
            self.update_opening()
            # Wake just after the next minute starts (ranges are whole minutes).
            await asyncio.sleep(HOURS_CHECK_S - self.wall_clock().second + 0.5)

    async def _catalogue_loop(self) -> None:
        delay = self.settings.retry_min_s
        fleet = self.fleet
        signed = (
            (lambda: fleet.signed_headers("GET", CATALOGUE_PATH)) if fleet is not None else None
        )
        while not self.revoked:
            self._catalogue_kick.clear()
            try:
                catalogue = await asyncio.to_thread(
                    fetch_catalogue, self.settings.server_url, self._token, signed, self._http
                )
            except CatalogueUnauthorized as exc:
                logger.error("%s", exc)
                self._catalogue_ok = False
                self._catalogue_refused = True
                wait = self.settings.retry_max_s
            except (requests.RequestException, ValidationError, ValueError) as exc:
                self._untrusted_certificate = is_untrusted_certificate(exc)
                if self._untrusted_certificate:
                    logger.error(
                        "%s (%s): %s", UNTRUSTED_CERTIFICATE, self.settings.server_url, exc
                    )
                logger.warning("catalogue unavailable: %s (retry in %.1f s)", exc, delay)
                self._catalogue_ok = False
                self._catalogue_failed = True
                wait = delay
                delay = min(delay * 2, self.settings.retry_max_s)
            else:
                self.services = self._shown_services(list(catalogue.services))
                self._catalogue_ok = True
                self._untrusted_certificate = False
                self._catalogue_failed = self._catalogue_refused = False
                delay = self.settings.retry_min_s
                wait = self.settings.catalogue_refresh_s
            self._check_health()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._catalogue_kick.wait()

    # -- fleet: setup screen, signed configuration, revocation -------------------

    def setup_key(self, key: str) -> None:
        """A key of the setup keypad: a code character, or ``erase``."""
        if self.setup_busy:
            return
        if key == "erase":
            self.setup_code = self.setup_code[:-1]
        elif len(self.setup_code) < SETUP_CODE_CHARS and key.isalnum():
            self.setup_code += key.upper()
        self.setup_error = ""
        self._changed()

    def _code_scanned(self, text: str) -> None:
        """A code read by the barcode reader while nobody waited for one."""
        if not self.setup_needed or self.setup_busy:
            logger.info("barcode read outside the setup screen: ignored")
            return
        ticket = enrol_uri.parse(text)
        if ticket is None:
            logger.warning("setup: the scanned code is not an enrolment code")
            self.setup_error = MSG_SETUP_NOT_A_CODE
            self._changed()
            return
        server = None
        if ticket.server_url is not None:
            if self.setup_asks_server():
                server = ticket.server_url  # none configured: the QR code's is taken
            elif enrol_uri.normalize_server(self.settings.server_url) != ticket.server_url:
                # Never switch a configured booth to a server it was not told to trust.
                logger.warning(
                    "setup: the code is for server %s, this booth is set to use %s: refused",
                    ticket.server_url,
                    self.settings.server_url,
                )
                self.setup_error = MSG_SETUP_OTHER_SERVER
                self._changed()
                return
        self.setup_code = ticket.code
        self.submit_enrolment(server, ticket.site)

    def _open_setup_media(self) -> MediaSources:
        return make_media(self.settings.fake_media, self.settings.camera, self.settings.microphone)

    async def _start_setup_camera(self) -> None:
        """Read enrolment QR codes with the camera while the setup screen is shown."""
        try:
            media = await asyncio.to_thread(self.setup_media_factory)
        except Exception as exc:
            logger.warning("setup: no camera for QR codes (%s); keypad and barcode reader", exc)
            return
        if not self.setup_needed or self._stopped:
            media.close()
            return
        self._setup_media = media
        self.setup_qr = CameraQrReader(media.subscribe_video(), on_code=self._code_scanned)
        self.setup_qr.start()

    async def _stop_setup_camera(self) -> None:
        reader, media = self.setup_qr, self._setup_media
        self.setup_qr, self._setup_media = None, None
        if reader is not None:
            await reader.stop()
        if media is not None:
            media.close()

    def setup_asks_server(self) -> bool:
        """Whether the setup screen must ask for the server address (not in booth.toml)."""
        return "server_url" not in self.settings.model_fields_set

    def submit_enrolment(self, server_url: str | None = None, site: str | None = None) -> None:
        """The technician pressed OK (or scanned a code): enrol with the typed code."""
        if not self.setup_needed or self.setup_busy or self.fleet is None:
            return
        url = (server_url or "").strip().rstrip("/")
        if not url and not self.setup_asks_server():
            url = self.settings.server_url
        site = (site or "").strip().lower() or self.settings.site or ""
        if len(self.setup_code) != SETUP_CODE_CHARS or not site or "://" not in url:
            self.setup_error = MSG_SETUP_INCOMPLETE
            self._changed()
            return
        self.setup_busy = True
        self.setup_error = ""
        self._changed()
        self._spawn(self._enrol(self.fleet, url, site, self.setup_code), "enrol")

    async def _enrol(self, fleet: BoothFleet, url: str, site: str, code: str) -> None:
        try:
            identity = await asyncio.to_thread(fleet.enrol, url, site, code)
        except ProvisioningRefused as exc:
            logger.warning("enrolment refused: %s", exc)
            self.setup_error = SETUP_ERRORS.get(exc.code, MSG_SETUP_FAILED)
        except InsecureServerUrl as exc:
            logger.warning("enrolment refused here: %s", exc)
            self.setup_error = MSG_SETUP_FAILED
        except requests.RequestException as exc:
            if is_untrusted_certificate(exc):
                logger.error("enrolment: %s (%s): %s", UNTRUSTED_CERTIFICATE, url, exc)
            else:
                logger.warning("enrolment: server %s unreachable: %s", url, exc)
            self.setup_error = MSG_SETUP_UNREACHABLE
        except Exception:
            logger.exception("enrolment failed")
            self.setup_error = MSG_SETUP_FAILED
        else:
            logger.info("enrolled as %s: fetching the configuration", identity.booth_id)
            await self._stop_setup_camera()
            await self._sync_config()
            if self.pending_settings is not None:
                await self.apply_settings(self.pending_settings)
            else:
                await self.apply_settings(fleet.settings_for(None))
            self.setup_needed = False
            self.setup_code = ""
            self.setup_busy = False
            self._changed()
            await self._start_online()
            return
        self.setup_busy = False
        self._changed()

    def _between_sessions(self) -> bool:
        return not self.technician_open and self.state in (
            s.State.WELCOME,
            s.State.OUT_OF_SERVICE,
        )

    def _shown_services(self, services: list[wire.ServicePublic]) -> list[wire.ServicePublic]:
        """The catalogue filtered and ordered by the config's ``services`` (empty: all)."""
        wanted = self.settings.services
        if not wanted:
            return services
        by_id = {x.id: x for x in services}
        return [by_id[i] for i in wanted if i in by_id]

    async def _config_loop(self) -> None:
        """Fetch the signed config now, every ``config_poll_s`` and on ``config_available``."""
        while not self.revoked:
            self._config_kick.clear()
            await self._sync_config()
            if self.revoked:
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.config_poll_s):
                    await self._config_kick.wait()

    def _heartbeat_state(self) -> tuple[int | None, list[PeripheralState], datetime | None]:
        """Config version applied, peripherals and last call, read on the loop thread."""
        applied = self.pending_settings or self.settings
        statuses = list(self.devices.statuses.values()) if self.devices is not None else []
        return applied.config_version, peripheral_states(statuses), self.last_call_at

    async def _heartbeat_loop(self) -> None:
        """Report to the fleet server now and every ``heartbeat_interval_s`` of the config;
        a failure is logged and tried again soon; a newer config in the answer is fetched."""
        fleet = self.fleet
        if fleet is None:
            return
        sender = fleet.heartbeat_sender(
            APP_VERSION, lambda: self._beat_state, self.settings.config_poll_s
        )
        self.heartbeat = sender
        asked_for: int | None = None
        while not self.revoked:
            self._heartbeat_kick.clear()
            # Snapshot on the loop: the devices change there, the request runs in a thread.
            self._beat_state = self._heartbeat_state()
            wait = sender.interval_s
            try:
                ack = await asyncio.to_thread(sender.send)
            except HeartbeatRefused as exc:
                if exc.status == 403 and "revoked" in str(exc):
                    self._set_revoked()
                    self._check_health()
                    return
                logger.warning("heartbeat refused: %s", exc)
                wait = min(wait, RETRY_AFTER_FAILURE_S)
            except (requests.RequestException, ValueError) as exc:
                logger.warning("heartbeat not sent: %s", exc)
                wait = min(wait, RETRY_AFTER_FAILURE_S)
            except Exception:
                logger.exception("heartbeat failed")
                wait = min(wait, RETRY_AFTER_FAILURE_S)
            else:
                self.last_heartbeat = ack
                wait = sender.interval_s
                waiting = ack.config_version
                # Once per version: a refused one is not fetched again at every beat
                # (the periodic sync still retries one that could not be fetched).
                if waiting > (self._beat_state[0] or 0) and waiting != asked_for:
                    logger.info("heartbeat: config version %d waits: fetching it", waiting)
                    asked_for = waiting
                    self._config_kick.set()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._heartbeat_kick.wait()

    async def _sync_config(self) -> None:
        """One sync; a newly applied config waits in ``pending_settings``."""
        fleet = self.fleet
        if fleet is None:
            return
        try:
            outcome = await asyncio.to_thread(fleet.sync)
        except BundleRejected as exc:
            logger.error("config refused: %s", exc)
            await self._report(fleet, None, exc.code, exc.reason)
            return
        except ApplyFailed as exc:
            logger.error("config rolled back: %s", exc)
            await self._report(fleet, exc.version, "health_check", exc.reason)
            return
        except ProvisioningRefused as exc:
            if exc.code == "revoked":
                self._set_revoked()
                self._check_health()
            else:
                logger.warning("config fetch refused: %s", exc)
            return
        except requests.RequestException as exc:
            logger.warning("config server unreachable: %s", exc)
            return
        except Exception:
            logger.exception("config sync failed")
            return
        if outcome is SyncOutcome.APPLIED:
            payload = await asyncio.to_thread(fleet.current)
            self.pending_settings = fleet.settings_for(payload)
            logger.info(
                "config version %s applied on disk; in force after the current session",
                payload.version if payload else None,
            )
            self._changed()

    async def _report(self, fleet: BoothFleet, version: int | None, code: str, reason: str) -> None:
        self.config_rejections += 1
        self._changed()
        if self._reported == (version, code):
            return  # the same refusal again at the next poll: reported already
        self._reported = (version, code)
        await asyncio.to_thread(fleet.report, version, code, reason)

    async def apply_settings(self, new: BoothSettings) -> None:
        """Run from ``new`` settings from now on (called between sessions only)."""
        old = self.settings
        self.pending_settings = None
        self.settings = new
        self.machine.timers = new.timers
        self.machine.default_language = new.default_language
        self._pin_gate = t.PinGate(new.technician_pin_hash)
        if new.brand_logo_png != old.brand_logo_png:
            self.brand_logo = load_logo(new.brand_logo_png)
        logging.getLogger().setLevel(new.log_level.upper())
        logger.info("running config version %s", new.config_version)
        if new.devices != old.devices:
            await self._stop_devices()
            await self._start_devices()
        self._http = new.http_session()
        if new.server_url != old.server_url and self._signaling is not None:
            await self._signaling.stop()
            fleet = self.fleet
            headers = (
                (lambda: fleet.signed_headers("GET", "/ws/booth")) if fleet is not None else None
            )
            self._signaling = self._new_signaling(headers)
            await self._signaling.start()
        if self.services is not None:
            self.services = self._shown_services(self.services)
        if new.config_poll_s != old.config_poll_s:
            self._config_kick.set()  # the running wait was for the old interval
            if self.heartbeat is not None:
                self.heartbeat.interval_s = new.config_poll_s
                self._heartbeat_kick.set()
        self._catalogue_kick.set()
        self.update_opening()
        self._changed()

    def _set_revoked(self) -> None:
        if self.revoked:
            return
        logger.error("this booth has been revoked by the server: out of service")
        self.revoked = True
        self._catalogue_kick.set()
        self._config_kick.set()
        self._heartbeat_kick.set()
        signaling = self._signaling
        if signaling is not None and signaling.state not in ("revoked", "stopped"):
            # Learnt over HTTP first: the socket must not keep knocking either.
            self._spawn(signaling.stop(), "signaling-stop")

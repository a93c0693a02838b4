"""The booth's real :class:`~kiosk.call.device_channel.DeviceHandler`: the agent's
device requests run on the booth's :class:`~kiosk.devices.manager.DeviceManager`.

Consent is asked through an awaitable the controller gives (the consent modal
resolves it); what the citizen should know ("Printing…", "Card read.", the reason
of a failure) goes to ``on_activity`` as an English msgid, or as the manager's
French reason when something failed.  No Kivy here.

The booth camera helps when a device is missing: ``camera`` gives a new relay
subscription of the call's camera (``MediaSources.subscribe_video``), so reading
it never disturbs the outgoing video.  A convocation code is read from the
serial barcode reader and from the camera at once (first code wins); a scan
without a usable scanner is a photo taken after a short countdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from aiortc.mediastreams import MediaStreamTrack

from guichet.wire import DeviceKind
from kiosk.call.device_channel import CardInfo, CodeInfo, ScanImage
from kiosk.devices.base import DeviceError
from kiosk.devices.camera_still import capture_still
from kiosk.devices.config import Role
from kiosk.devices.manager import DeviceManager
from kiosk.devices.receipt_printer import Receipt
from kiosk.i18n import N_

logger = logging.getLogger(__name__)

CARD_TIMEOUT_S = 120.0
"""How long the citizen has to present a card (the router's own limit is longer)."""
CODE_TIMEOUT_S = 120.0
"""How long the citizen has to show a convocation code."""
CAMERA_COUNTDOWN = 3
"""Seconds counted down on screen before the camera takes the document's photo."""
CAMERA_COUNTDOWN_STEP_S = 1.0
"""Length of one countdown step (tests shrink it)."""
CAMERA_WATCH_S = 0.5
"""How often a code read from the camera checks that the camera still runs."""
CAMERA_QR_EVERY_NTH = 3
"""Decode one camera frame in three while waiting for a code (10 a second at 30 fps)."""
SCANNER_FALLBACK_CODES = frozenset(
    {"not_configured", "unavailable", "no_device", "io_error", "sane_missing"}
)
"""Scanner failures after which the camera takes the picture instead (the scanner
is absent or gone; a jam or an open cover is told to the agent as it is)."""

# Activity lines shown on the call screen (English msgids, French in guichet.po).
MSG_PRINTING = N_("Printing…")
MSG_PRINTED = N_("Printing done.")
MSG_PRESENT_CARD = N_("Please place your card on the reader.")
MSG_CARD_READ = N_("Card read. You can take it back.")
MSG_SCANNING = N_("Scanning…")
MSG_SCANNED = N_("Scan done.")
MSG_SHOW_CODE = N_("Please show your code to the reader.")
MSG_SHOW_CODE_CAMERA = N_("Please show your code to the reader or to the camera.")
MSG_SHOW_CODE_CAMERA_ONLY = N_("Please show your code to the camera.")
MSG_HOLD_DOCUMENT = {
    3: N_("Hold your document in front of the camera: photo in 3…"),
    2: N_("Hold your document in front of the camera: photo in 2…"),
    1: N_("Hold your document in front of the camera: photo in 1…"),
}
"""Countdown lines (one msgid per second, so each is translated whole; a longer
countdown shows the first line until 3)."""
MSG_HOLD_STILL = N_("Hold still: taking the photo…")
MSG_PHOTO_TAKEN = N_("Photo taken.")
MSG_CODE_READ = N_("Code read.")
MSG_REFUSED = N_("You said no: nothing was read.")
MSG_NO_DEVICE = "pas de périphériques sur cette borne"
MSG_NO_CODE_SOURCE = "ni lecteur de codes ni caméra utilisable sur cette borne"
MSG_NO_SCAN_SOURCE = "ni scanner ni caméra utilisable sur cette borne"
MSG_NO_CODE_IN_TIME = "aucun code présenté à temps"
ACTIVITY_MSGIDS = (
    MSG_PRINTING,
    MSG_PRINTED,
    MSG_PRESENT_CARD,
    MSG_CARD_READ,
    MSG_SCANNING,
    MSG_SCANNED,
    MSG_SHOW_CODE,
    MSG_SHOW_CODE_CAMERA,
    MSG_SHOW_CODE_CAMERA_ONLY,
    *MSG_HOLD_DOCUMENT.values(),
    MSG_HOLD_STILL,
    MSG_PHOTO_TAKEN,
    MSG_CODE_READ,
    MSG_REFUSED,
)

ConsentAsker = Callable[[DeviceKind], Awaitable[bool]]
ActivityListener = Callable[[str], None]
CameraSource = Callable[[], MediaStreamTrack]
"""Gives a new reader of the booth camera (raises when the camera is gone)."""
T = TypeVar("T")


class BoothDeviceHandler:
    """Runs one call's device requests on the booth's DeviceManager."""

    def __init__(
        self,
        manager: DeviceManager | None,
        ask_consent: ConsentAsker,
        on_activity: ActivityListener | None = None,
        camera: CameraSource | None = None,
    ) -> None:
        """``camera`` None: this booth reads codes and scans only with its devices."""
        self.manager = manager
        self._ask_consent = ask_consent
        self._on_activity = on_activity
        self._camera = camera

    def _activity(self, text: str) -> None:
        if self._on_activity is None:
            return
        try:
            self._on_activity(text)
        except Exception:
            logger.exception("device activity listener failed")

    def _manager(self) -> DeviceManager:
        if self.manager is None:
            raise DeviceError("unavailable", MSG_NO_DEVICE)
        return self.manager

    async def _run(self, working: str, done: str, job: Callable[[], Awaitable[T]]) -> T:
        self._activity(working)
        try:
            result = await job()
        except DeviceError as exc:
            self._activity(exc.reason)
            if exc.code == "not_configured":
                # The router knows "not_supported", not the manager's "not_configured".
                raise DeviceError("not_supported", exc.reason) from exc
            raise
        self._activity(done)
        return result

    # -- DeviceHandler ---------------------------------------------------------

    async def ask_consent(self, kind: DeviceKind) -> bool:
        """Ask the citizen on screen; False when they say no or the call ends."""
        try:
            yes = await self._ask_consent(kind)
        except Exception:
            logger.exception("consent for %s could not be asked", kind.value)
            yes = False
        if not yes:
            self._activity(MSG_REFUSED)
        return yes

    async def print_pdf(self, pdf: bytes, title: str) -> int | None:
        manager = self._manager()
        result = await self._run(MSG_PRINTING, MSG_PRINTED, lambda: manager.print_pdf(pdf, title))
        return result.pages or None

    async def print_receipt(self, title: str, lines: Sequence[str], qr: str | None) -> None:
        manager = self._manager()
        receipt = Receipt(title=title, lines=list(lines), qr_payload=qr)
        await self._run(MSG_PRINTING, MSG_PRINTED, lambda: manager.print_receipt(receipt))

    async def read_card(self) -> CardInfo:
        manager = self._manager()
        card = await self._run(
            MSG_PRESENT_CARD, MSG_CARD_READ, lambda: manager.read_card(CARD_TIMEOUT_S)
        )
        return CardInfo(card_type=card.card_type, uid=card.uid or None, atr=card.atr or None)

    async def scan(self, dpi: int, colour: bool) -> ScanImage:
        """Scan with the scanner at the agent's ``dpi`` and colour; without a usable
        scanner, photograph the document with the booth camera."""
        manager = self.manager
        has_scanner = manager is not None and manager.status(Role.SCANNER) is not None
        if self._camera is None or (
            has_scanner and manager is not None and manager.usable(Role.SCANNER)
        ):
            try:
                return await self._scan_with_scanner(dpi, colour)
            except DeviceError as exc:
                if self._camera is None or _fallback_code(exc) not in SCANNER_FALLBACK_CODES:
                    raise
                logger.info("scanner unusable (%s): the camera takes the picture", exc.reason)
        elif has_scanner:
            logger.info("scanner unavailable: the camera takes the picture")
        return await self._scan_with_camera(colour)

    async def _scan_with_scanner(self, dpi: int, colour: bool) -> ScanImage:
        if self.manager is None:
            raise DeviceError("not_supported", MSG_NO_SCAN_SOURCE)
        manager = self.manager
        page = await self._run(
            MSG_SCANNING, MSG_SCANNED, lambda: manager.scan(dpi=dpi, colour=colour)
        )
        return ScanImage(
            data=page.data, mime=page.media_type, width=page.width, height=page.height, dpi=page.dpi
        )

    async def _scan_with_camera(self, colour: bool) -> ScanImage:
        """A photo of the document after a countdown on the call screen."""
        first = MSG_HOLD_DOCUMENT[min(max(MSG_HOLD_DOCUMENT), max(1, CAMERA_COUNTDOWN))]

        def step(n: int) -> None:
            if n <= 0:
                self._activity(MSG_HOLD_STILL)
            else:
                self._activity(MSG_HOLD_DOCUMENT.get(n, first))

        async def take() -> ScanImage:
            track = self._open_camera(MSG_NO_SCAN_SOURCE)
            still = await capture_still(
                track,
                colour=colour,
                countdown=CAMERA_COUNTDOWN,
                step_s=CAMERA_COUNTDOWN_STEP_S,
                on_step=step,
            )
            return ScanImage(
                data=still.data,
                mime=still.media_type,
                width=still.width,
                height=still.height,
                dpi=still.dpi,
            )

        return await self._run(first, MSG_PHOTO_TAKEN, take)

    def _open_camera(self, reason_without: str) -> MediaStreamTrack:
        if self._camera is None:
            raise DeviceError("not_supported", reason_without)
        try:
            return self._camera()
        except Exception as exc:
            logger.warning("booth camera unavailable: %s", exc)
            raise DeviceError("unavailable", reason_without) from exc

    async def read_code(self) -> CodeInfo:
        """The first code shown to the barcode reader or to the camera."""
        manager = self.manager
        serial = manager is not None and manager.status(Role.BARCODE_READER) is not None
        serial_ready = serial and manager is not None and manager.usable(Role.BARCODE_READER)
        camera = self._camera is not None
        if not serial and not camera:
            if manager is None:
                raise DeviceError("not_supported", MSG_NO_CODE_SOURCE)
            # The manager's own reason ("pas de lecteur de codes sur cette borne").
            text = await self._run(
                MSG_SHOW_CODE, MSG_CODE_READ, lambda: manager.next_code(CODE_TIMEOUT_S)
            )
            return CodeInfo(text=text)
        if camera and serial_ready:
            working = MSG_SHOW_CODE_CAMERA
        elif camera:
            working = MSG_SHOW_CODE_CAMERA_ONLY
        else:
            working = MSG_SHOW_CODE
        text = await self._run(working, MSG_CODE_READ, lambda: self._first_code(serial))
        return CodeInfo(text=text)

    async def _first_code(self, serial: bool) -> str:
        """Race the barcode reader and the camera; the first code wins, both stop."""
        jobs: dict[asyncio.Task[str], str] = {}
        if serial and self.manager is not None:
            jobs[asyncio.ensure_future(self.manager.next_code(CODE_TIMEOUT_S))] = "reader"
        if self._camera is not None:
            jobs[asyncio.ensure_future(self._code_from_camera())] = "camera"
        errors: list[DeviceError] = []
        pending = set(jobs)
        try:
            async with asyncio.timeout(CODE_TIMEOUT_S):
                while pending:
                    done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                    for task in done:
                        exc = task.exception()
                        if exc is None:
                            return task.result()
                        if not isinstance(exc, DeviceError):
                            logger.error("code from the %s failed", jobs[task], exc_info=exc)
                            exc = DeviceError("failed", "lecture du code impossible")
                        logger.info("code from the %s: %s", jobs[task], exc.reason)
                        errors.append(exc)
        except TimeoutError:
            raise DeviceError("timeout", MSG_NO_CODE_IN_TIME) from None
        finally:
            for task in jobs:
                task.cancel()
            for task in jobs:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        # Every source failed: a timeout says more than "unavailable".
        timeouts = [e for e in errors if e.code == "timeout"]
        if timeouts:
            raise timeouts[0]
        if len(errors) == 1:
            raise errors[0]
        raise DeviceError("unavailable", MSG_NO_CODE_SOURCE)

    async def _code_from_camera(self) -> str:
        try:
            # zxing-cpp is loaded only when a code is asked for (and a booth
            # installed without it still scans and prints).
            from kiosk.devices.camera_qr import CameraQrReader
        except ImportError as exc:
            logger.error("QR codes from the camera need zxing-cpp: %s", exc)
            raise DeviceError("unavailable", MSG_NO_CODE_SOURCE) from exc
        track = self._open_camera(MSG_NO_CODE_SOURCE)
        found: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        def on_code(text: str) -> None:
            if not found.done():
                found.set_result(text)

        reader = CameraQrReader(track, on_code=on_code, every_nth_frame=CAMERA_QR_EVERY_NTH)
        reader.start()
        ended: asyncio.Task[Any] = asyncio.ensure_future(reader.wait())
        try:
            while not found.done() and not ended.done():
                await asyncio.wait(
                    {found, ended}, timeout=CAMERA_WATCH_S, return_when=asyncio.FIRST_COMPLETED
                )
                # A relay reader stopped from outside (the call's media closed) never
                # wakes its pending recv(): notice the stop here instead.
                if track.readyState != "live" and not found.done():
                    break
            if found.done():
                return found.result()
            raise DeviceError("unavailable", "la caméra s'est arrêtée")
        finally:
            ended.cancel()
            found.cancel()
            await reader.stop()


def _fallback_code(exc: DeviceError) -> str:
    # _run turns the manager's "not_configured" into the router's "not_supported".
    return "not_configured" if exc.code == "not_supported" else exc.code

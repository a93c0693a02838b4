"""The booth's real :class:`~kiosk.call.device_channel.DeviceHandler`: the agent's
device requests run on the booth's :class:`~kiosk.devices.manager.DeviceManager`.

Consent is asked through an awaitable the controller gives (the consent modal
resolves it); what the citizen should know ("Printing…", "Card read.", the reason
of a failure) goes to ``on_activity`` as an English msgid, or as the manager's
French reason when something failed.  No Kivy here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from guichet.wire import DeviceKind
from kiosk.call.device_channel import CardInfo, CodeInfo, ScanImage
from kiosk.devices.base import DeviceError
from kiosk.devices.manager import DeviceManager
from kiosk.devices.receipt_printer import Receipt

logger = logging.getLogger(__name__)

CARD_TIMEOUT_S = 120.0
"""How long the citizen has to present a card (the router's own limit is longer)."""
CODE_TIMEOUT_S = 120.0
"""How long the citizen has to show a convocation code."""

# Activity lines shown on the call screen (English msgids, French in guichet.po).
MSG_PRINTING = "Printing…"
MSG_PRINTED = "Printing done."
MSG_PRESENT_CARD = "Please place your card on the reader."
MSG_CARD_READ = "Card read. You can take it back."
MSG_SCANNING = "Scanning…"
MSG_SCANNED = "Scan done."
MSG_SHOW_CODE = "Please show your code to the reader."
MSG_CODE_READ = "Code read."
MSG_REFUSED = "You said no: nothing was read."
MSG_NO_DEVICE = "pas de périphériques sur cette borne"
ACTIVITY_MSGIDS = (
    MSG_PRINTING,
    MSG_PRINTED,
    MSG_PRESENT_CARD,
    MSG_CARD_READ,
    MSG_SCANNING,
    MSG_SCANNED,
    MSG_SHOW_CODE,
    MSG_CODE_READ,
    MSG_REFUSED,
)

ConsentAsker = Callable[[DeviceKind], Awaitable[bool]]
ActivityListener = Callable[[str], None]
T = TypeVar("T")


class BoothDeviceHandler:
    """Runs one call's device requests on the booth's DeviceManager."""

    def __init__(
        self,
        manager: DeviceManager | None,
        ask_consent: ConsentAsker,
        on_activity: ActivityListener | None = None,
    ) -> None:
        self.manager = manager
        self._ask_consent = ask_consent
        self._on_activity = on_activity

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
        # The scanner's resolution and mode come from the booth's [devices.scanner].
        manager = self._manager()
        page = await self._run(MSG_SCANNING, MSG_SCANNED, manager.scan)
        return ScanImage(
            data=page.data, mime=page.media_type, width=page.width, height=page.height, dpi=page.dpi
        )

    async def read_code(self) -> CodeInfo:
        manager = self._manager()
        text = await self._run(
            MSG_SHOW_CODE, MSG_CODE_READ, lambda: manager.next_code(CODE_TIMEOUT_S)
        )
        return CodeInfo(text=text)

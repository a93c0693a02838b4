"""PC/SC smart-card reader (pyscard), for "insert your card" during a call.

pyscard blocks, so each call runs in ``asyncio.to_thread``. Every poll opens a
fresh PC/SC context: a context made before pcscd restarted is dead for good, so
reusing one would leave the booth blind until it restarts itself.

Presence is checked by connecting in shared mode: a connect that finds no card
fails with ``NoCardException``, which is cheap and works on every reader driver.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from dataclasses import dataclass
from typing import Any

from kiosk.devices.base import DeviceError, DeviceState, DeviceStatus, StatusListener, notify
from kiosk.devices.smartcard_atr import format_hex, identify

log = logging.getLogger(__name__)

KIND = "pcsc"
POLL_INTERVAL_S = 0.5
"""How often the monitor looks at the reader while all is well."""
BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 10.0
"""When pcscd or the reader is gone, wait longer and longer (up to this) between tries."""
READ_POLL_S = 0.1
"""How often read_card looks for a card while waiting for one."""

GET_UID_APDU = [0xFF, 0xCA, 0x00, 0x00, 0x00]
"""PC/SC part 3 GET DATA: the contactless card's UID (or serial), answered by the reader."""
SW_OK = (0x90, 0x00)


@dataclass(frozen=True)
class CardInfo:
    """What the booth learns from a card: no personal data, only identifiers."""

    atr_hex: str
    card_type: str
    uid_hex: str
    """Empty when the reader/card does not answer GET DATA (contact cards)."""


def _pyscard() -> tuple[Any, Any]:
    """``(smartcard.System, smartcard.Exceptions)``; pyscard has no type information."""
    try:
        system = importlib.import_module("smartcard.System")
        exceptions = importlib.import_module("smartcard.Exceptions")
    except ImportError as exc:
        raise DeviceError("pyscard_missing", "Le module pyscard n'est pas installé.") from exc
    return system, exceptions


def _connect(connection: Any) -> None:
    """Connect, leaving the card powered when this handle disconnects.

    pyscard's default disposition unpowers the card at disconnect: a presence
    probe ending while a read is under way would reset the card under that read
    ("Card was reset").
    """
    scard = importlib.import_module("smartcard.scard")
    connection.connect(disposition=scard.SCARD_LEAVE_CARD)


def _close(connection: Any) -> None:
    """Disconnect and free the connection's PC/SC context, whatever state pcscd is in.

    pyscard frees the context in ``__del__`` too, and raises there when pcscd has
    gone away; a context that died with its daemon is forgotten instead.
    """
    try:
        connection.release()
    except Exception:
        log.debug("releasing a PC/SC connection failed", exc_info=True)
        connection.hcontext = None


class SmartCardReader:
    """One PC/SC reader, chosen by a part of its name (``None``: the first one)."""

    def __init__(
        self, reader_name: str | None, *, on_status: StatusListener, role: str = "smart_card"
    ) -> None:
        """``reader_name`` is matched as a substring of PC/SC reader names."""
        self.reader_name = reader_name
        self.role = role
        self._on_status = on_status
        self._status = DeviceStatus(role=role, kind=KIND, state=DeviceState.UNKNOWN)
        self._monitor: asyncio.Task[None] | None = None
        self.card_present = False

    @property
    def status(self) -> DeviceStatus:
        """The last status reported."""
        return self._status

    def _report(self, state: DeviceState, reason: str = "", **details: str) -> None:
        status = DeviceStatus(self.role, KIND, state, reason, dict(details))
        if status == self._status:
            return
        self._status = status
        notify(self._on_status, status)

    # -- blocking helpers ----------------------------------------------------------

    def _find_reader(self) -> Any:
        system, _exceptions = _pyscard()
        try:
            readers = system.readers()
        except Exception as exc:
            # pyscard raises its own EstablishContextException/ListReadersException.
            raise DeviceError(
                "no_service", "Le service des cartes à puce (pcscd) ne répond pas."
            ) from exc
        for reader in readers:
            if self.reader_name is None or self.reader_name in str(reader):
                return reader
        raise DeviceError("no_reader", "Le lecteur de carte est débranché ou introuvable.")

    def _card_atr(self) -> tuple[str, bytes | None]:
        """``(reader name, ATR or None when no card)``."""
        _system, exceptions = _pyscard()
        reader = self._find_reader()
        connection = reader.createConnection()
        try:
            _connect(connection)
            return str(reader), bytes(connection.getATR())
        except exceptions.NoCardException:
            return str(reader), None
        except exceptions.CardConnectionException as exc:
            if "removed" in str(exc).lower() or "no smart card" in str(exc).lower():
                return str(reader), None
            raise DeviceError("card_error", "La carte ne répond pas (mal insérée ?).") from exc
        finally:
            _close(connection)

    def _read_blocking(self) -> CardInfo | None:
        _system, exceptions = _pyscard()
        reader = self._find_reader()
        connection = reader.createConnection()
        try:
            _connect(connection)
        except exceptions.NoCardException:
            _close(connection)
            return None
        except exceptions.CardConnectionException as exc:
            _close(connection)
            raise DeviceError("card_error", "La carte ne répond pas (mal insérée ?).") from exc
        try:
            atr = bytes(connection.getATR())
            try:
                data, sw1, sw2 = connection.transmit(list(GET_UID_APDU))
            except exceptions.CardConnectionException as exc:
                raise DeviceError(
                    "card_removed", "La carte a été retirée pendant la lecture."
                ) from exc
            uid = bytes(data) if (sw1, sw2) == SW_OK else b""
            return CardInfo(
                atr_hex=format_hex(atr),
                card_type=identify(atr).card_type,
                uid_hex=uid.hex().upper(),
            )
        finally:
            _close(connection)

    # -- public API ------------------------------------------------------------------

    async def probe(self) -> DeviceStatus:
        """Look once for the reader and a card; report and return the status."""
        try:
            name, atr = await asyncio.to_thread(self._card_atr)
        except DeviceError as exc:
            self.card_present = False
            self._report(DeviceState.UNAVAILABLE, exc.reason, code=exc.code)
        except Exception as exc:
            log.exception("smart card probe failed")
            self._report(DeviceState.UNAVAILABLE, f"Lecteur de carte en erreur ({exc}).")
        else:
            self.card_present = atr is not None
            self._report(
                DeviceState.READY, reader=name, card="present" if atr is not None else "absent"
            )
        return self._status

    async def _monitor_loop(self) -> None:
        delay = BACKOFF_START_S
        while True:
            status = await self.probe()
            if status.state is DeviceState.READY:
                delay = BACKOFF_START_S
                await asyncio.sleep(POLL_INTERVAL_S)
            else:
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX_S)

    def start_monitoring(self) -> None:
        """Watch reader and card presence until :meth:`stop`; survives pcscd restarts."""
        if self._monitor is None or self._monitor.done():
            self._monitor = asyncio.create_task(self._monitor_loop(), name=f"pcsc-{self.role}")

    async def stop(self) -> None:
        """Stop monitoring."""
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
            self._monitor = None

    async def read_card(self, timeout: float) -> CardInfo:
        """Wait up to ``timeout`` s for a card, then read its ATR, type and UID."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                info = await asyncio.to_thread(self._read_blocking)
            except DeviceError as exc:
                if exc.code in ("no_service", "no_reader"):
                    self._report(DeviceState.UNAVAILABLE, exc.reason, code=exc.code)
                raise
            if info is not None:
                return info
            if loop.time() >= deadline:
                raise DeviceError("no_card", "Aucune carte n'a été insérée à temps.")
            await asyncio.sleep(READ_POLL_S)

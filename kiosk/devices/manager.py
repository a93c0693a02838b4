"""The device manager: one coordinator between the booth's peripherals and the rest.

Drivers report their :class:`~kiosk.devices.base.DeviceStatus` here; screens, the
call layer, the technician screen and the heartbeat read :attr:`DeviceManager.statuses`
and never call a driver. The manager

* opens each configured role with its driver (:mod:`kiosk.devices.config`),
* turns every driver failure, expected or not, into UNAVAILABLE with a reason a
  technician can read, and never lets an exception reach the booth,
* re-opens vanished devices with the back-off of :mod:`kiosk.devices.reopen`,
  and re-probes the CUPS, SANE and PC/SC ones,
* follows USB devices that are unplugged and plugged again
  (:mod:`kiosk.devices.hotplug`): a removed device fails its running job with a
  clear message and becomes UNAVAILABLE "débranché",
* runs the jobs the agent asks for (print, read a card, scan, wait for a
  convocation code), raising :class:`DeviceError` with a plain French reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from kiosk.devices import reopen
from kiosk.devices.a4_printer import A4Printer, JobResult
from kiosk.devices.barcode_reader import BarcodeReader
from kiosk.devices.base import DeviceError, DeviceState, DeviceStatus
from kiosk.devices.config import (
    ROLE_LABELS_FR,
    DevicesConfig,
    ReceiptPrinterConfig,
    Role,
    SerialDeviceConfig,
    pas_de_fr,
)
from kiosk.devices.hotplug import HotplugEvent, HotplugWatcher, rules_from_config
from kiosk.devices.receipt_printer import UNPLUGGED_REASON as RECEIPT_UNPLUGGED_REASON
from kiosk.devices.receipt_printer import Receipt, ReceiptPrinter
from kiosk.devices.scanner import Scanner, ScanResult
from kiosk.devices.scanner_options import ScanMode
from kiosk.devices.serial_card_reader import SerialCardReader
from kiosk.devices.smartcard_reader import SmartCardReader
from kiosk.devices.transport import (
    SerialTransport,
    TcpTransport,
    Transport,
    TransportClosed,
    UsbLpTransport,
    is_usblp_path,
)

log = logging.getLogger(__name__)

PROBE_INTERVAL_S = 30.0
"""How often a working CUPS queue or SANE scanner is probed again (each probe
runs a CUPS command or opens the scanner, so not too often)."""
PROBE_RETRY_FIRST_S = 2.0
"""First wait before probing again a CUPS queue or scanner that failed."""
PROBE_RETRY_MAX_S = 60.0
"""Longest wait between probes of a failed CUPS queue or scanner."""
TCP_CONNECT_TIMEOUT_S = 3.0
"""How long a network receipt printer may take to accept the connection."""

KIND_BY_ROLE: dict[Role, str] = {
    Role.RECEIPT_PRINTER: "escpos",
    Role.A4_PRINTER: "cups",
    Role.CARD_READER: "serial_card",
    Role.BARCODE_READER: "serial_barcode",
    Role.SCANNER: "sane",
    Role.SMART_CARD: "pcsc",
}

REMOVED_REASONS_FR: dict[Role, str] = {
    Role.RECEIPT_PRINTER: "imprimante de reçus débranchée",
    Role.A4_PRINTER: "imprimante A4 débranchée",
    Role.CARD_READER: "lecteur de cartes débranché",
    Role.BARCODE_READER: "lecteur de codes débranché",
    Role.SCANNER: "scanner débranché",
    Role.SMART_CARD: "lecteur de cartes à puce débranché",
}
"""Reason shown when hotplug saw the device go (French adjectives agree)."""

ChangeListener = Callable[[DeviceStatus], None]
CodeListener = Callable[[str], None]
Driver = ReceiptPrinter | A4Printer | BarcodeReader | SerialCardReader | Scanner | SmartCardReader
T = TypeVar("T")


@dataclass(frozen=True)
class CardResult:
    """A card read by either kind of reader; identifiers only, no personal data."""

    uid: str
    """Upper-case hex; empty when the card gives none (some contact cards)."""
    card_type: str
    role: Role
    """Which reader read it."""
    atr: str = ""
    """Answer-to-reset in hex (PC/SC readers only)."""


@dataclass
class _Slot:
    """Everything the manager keeps about one configured role."""

    role: Role
    config: Any
    driver: Driver | None = None
    devnode: str | None = None
    """Device node given by hotplug; overrides the configured path."""
    removed: bool = False
    """Hotplug saw the device go: wait for it to come back, do not re-open."""
    task: asyncio.Task[None] | None = None
    """Re-open or probe loop running for this role."""
    jobs: set[asyncio.Task[Any]] = field(default_factory=set)
    cancel_reason: DeviceError | None = None
    since: float = field(default_factory=time.time)
    jobs_ok: int = 0
    jobs_failed: int = 0
    last_error: str = ""

    @property
    def label(self) -> str:
        return ROLE_LABELS_FR[self.role]


class DeviceManager:
    """Opens, watches and re-opens the booth's peripherals; runs their jobs."""

    def __init__(
        self,
        config: DevicesConfig,
        *,
        on_change: ChangeListener | None = None,
        on_code: CodeListener | None = None,
        hotplug: bool = True,
    ) -> None:
        """``on_change`` gets every status change; ``on_code`` scans nobody awaited."""
        self.config = config
        self._on_change = on_change
        self._on_code = on_code
        self._hotplug_enabled = hotplug
        self.statuses: dict[Role, DeviceStatus] = {}
        """Current status of every configured role (read by screens and the heartbeat)."""
        self._slots: dict[Role, _Slot] = {
            role: _Slot(role, getattr(config, role.value)) for role in config.configured_roles()
        }
        for slot in self._slots.values():
            self.statuses[slot.role] = DeviceStatus(
                slot.role.value, KIND_BY_ROLE[slot.role], DeviceState.UNKNOWN
            )
        self._code_waiters: list[asyncio.Future[str]] = []
        self._watcher: HotplugWatcher | None = None
        self._events: asyncio.Queue[HotplugEvent] = asyncio.Queue()
        self._event_task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._started = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Open every configured device and start following hotplug; never raises."""
        if self._started:
            return
        self._started = True
        for slot in self._slots.values():
            await self._start_role(slot)
        if self._hotplug_enabled:
            self._start_hotplug()

    async def stop(self) -> None:
        """Fail running jobs, stop every driver and background task; idempotent."""
        self._started = False
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None
        tasks = [t for t in (self._event_task, *self._background) if t is not None]
        self._event_task = None
        self._background.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for slot in self._slots.values():
            self._cancel_jobs(slot, DeviceError("stopped", "arrêt des périphériques de la borne"))
            await self._stop_driver(slot)
        for waiter in self._code_waiters:
            if not waiter.done():
                waiter.cancel()
        self._code_waiters.clear()

    def status(self, role: Role | str) -> DeviceStatus | None:
        """The status of ``role``, None when the booth has no such device."""
        return self.statuses.get(Role(role))

    def usable(self, role: Role | str) -> bool:
        """True when ``role`` is configured and its last status is not UNAVAILABLE.

        A hint for choosing between devices (a job still checks again)."""
        status = self.statuses.get(Role(role))
        return status is not None and status.state is not DeviceState.UNAVAILABLE

    # ------------------------------------------------------------------ hotplug

    def _start_hotplug(self) -> None:
        rules = rules_from_config(self.config)
        if not rules:
            return
        try:
            self._watcher = HotplugWatcher(rules, self._events.put_nowait)
            self._watcher.start()
        except Exception as exc:
            # Without pyudev the fixed paths still work; USB-only roles wait forever.
            log.warning("hotplug unavailable: %s", exc)
            self._watcher = None
            for rule in rules:
                slot = self._slots[rule.role]
                serial = isinstance(slot.config, SerialDeviceConfig)
                if serial and slot.devnode is None and slot.config.path is None:
                    self._set(slot, DeviceState.UNAVAILABLE, "détection USB indisponible")
            return
        self._event_task = asyncio.create_task(self._consume_events(), name="devices-hotplug")

    async def _consume_events(self) -> None:
        # One event at a time, in order: a quick unplug/replug must end plugged.
        while True:
            event = await self._events.get()
            try:
                if event.action == "add":
                    await self.device_added(event.role, event.devnode)
                else:
                    await self.device_removed(event.role, event.devnode)
            except Exception:
                log.exception("%s: hotplug %s failed", event.role, event.action)

    async def device_added(self, role: Role | str, devnode: str) -> None:
        """The device of ``role`` appeared at ``devnode``: (re)open or re-probe it now.

        Serial roles open the new node; the A4 printer, scanner and smart-card
        reader get a new driver whose first probe runs at once (not after the
        probe interval), so the role is READY as soon as CUPS, SANE or pcscd see
        the device again.
        """
        slot = self._slots.get(Role(role))
        if slot is None:
            return
        serial = isinstance(slot.config, SerialDeviceConfig)
        if not slot.removed and slot.driver is not None:
            # Seen at start-up enumeration (or a udev "change") while the driver
            # already works: re-opening would break a job in progress for nothing.
            if serial and self._serial_path(slot) == devnode:
                return
            if not serial:
                await self._probe(slot)
                return
        log.info("%s: plugged in at %s", slot.role, devnode)
        await self._stop_driver(slot)
        slot.devnode = devnode
        slot.removed = False
        # Forget "waiting"/"unplugged" until the new driver says how it is.
        if serial:
            self._set(slot, DeviceState.UNKNOWN, f"{slot.label} : ouverture de {devnode}")
        else:
            self._set(slot, DeviceState.UNKNOWN, f"{slot.label} : vérification après branchement")
        await self._start_role(slot)

    async def device_removed(self, role: Role | str, devnode: str = "") -> None:
        """The device of ``role`` went away: fail its job, mark it UNAVAILABLE."""
        slot = self._slots.get(Role(role))
        if slot is None:
            return
        reason = REMOVED_REASONS_FR[slot.role]
        log.info("%s: unplugged (%s)", slot.role, devnode or slot.devnode or "?")
        slot.removed = True
        # State first: whoever sees the job fail must already see the device gone.
        self._set(slot, DeviceState.UNAVAILABLE, reason)
        self._cancel_jobs(slot, DeviceError("unplugged", reason))
        await self._stop_driver(slot)

    # ------------------------------------------------------------------ opening

    async def _start_role(self, slot: _Slot) -> None:
        """Open one role's device; any failure becomes UNAVAILABLE, never an exception."""
        try:
            match slot.role:
                case Role.RECEIPT_PRINTER:
                    await self._start_receipt_printer(slot)
                case Role.BARCODE_READER | Role.CARD_READER:
                    await self._start_serial_reader(slot)
                case Role.A4_PRINTER:
                    cfg = self.config.a4_printer
                    assert cfg is not None  # noqa: S101 - slots exist only for configured roles
                    sink = self._listener(slot)
                    slot.driver = sink.driver = A4Printer(
                        cfg.queue, server=cfg.server, on_status=sink
                    )
                    self._spawn_probe_loop(slot)
                case Role.SCANNER:
                    scfg = self.config.scanner
                    assert scfg is not None  # noqa: S101
                    sink = self._listener(slot)
                    slot.driver = sink.driver = Scanner(
                        scfg.device,
                        resolution_dpi=scfg.dpi,
                        mode=scfg.mode,
                        source=scfg.source,
                        image_format=scfg.image_format,
                        on_status=sink,
                    )
                    self._spawn_probe_loop(slot)
                case Role.SMART_CARD:
                    pcfg = self.config.smart_card
                    assert pcfg is not None  # noqa: S101
                    sink = self._listener(slot)
                    reader = SmartCardReader(pcfg.reader, on_status=sink)
                    slot.driver = sink.driver = reader
                    reader.start_monitoring()
        except Exception as exc:
            log.exception("%s: could not start", slot.role)
            slot.last_error = str(exc)
            self._set(slot, DeviceState.UNAVAILABLE, f"{slot.label} en erreur au démarrage")

    def _serial_path(self, slot: _Slot) -> str | None:
        cfg: SerialDeviceConfig = slot.config
        return slot.devnode or cfg.path

    def _waiting_reason(self, slot: _Slot) -> str:
        cfg: SerialDeviceConfig = slot.config
        return f"{slot.label} : en attente du branchement (USB {cfg.usb})"

    async def _open_transport(self, slot: _Slot) -> Transport:
        """Open the role's wire; raises TransportClosed while the device is absent."""
        cfg: SerialDeviceConfig = slot.config
        path = self._serial_path(slot)
        if path is not None and is_usblp_path(path):
            return await asyncio.to_thread(UsbLpTransport, path)
        if path is not None:
            # pyserial opens and configures the port synchronously: off the loop.
            return await asyncio.to_thread(SerialTransport, path, cfg.baudrate)
        if isinstance(cfg, ReceiptPrinterConfig) and cfg.tcp_address is not None:
            host, port = cfg.tcp_address
            return await TcpTransport.connect(host, port, TCP_CONNECT_TIMEOUT_S)
        raise TransportClosed(self._waiting_reason(slot))

    async def _start_receipt_printer(self, slot: _Slot) -> None:
        try:
            transport = await self._open_transport(slot)
        except TransportClosed as exc:
            slot.last_error = str(exc)
            if self._serial_path(slot) is None and not _has_tcp(slot):
                self._set(slot, DeviceState.UNAVAILABLE, self._waiting_reason(slot))
                return  # only hotplug can bring it
            self._set(slot, DeviceState.UNAVAILABLE, f"{slot.label} injoignable")
            self._spawn_receipt_reopen(slot)
            return
        await self._attach_receipt_printer(slot, transport)

    async def _attach_receipt_printer(self, slot: _Slot, transport: Transport) -> None:
        cfg: ReceiptPrinterConfig = slot.config
        sink = self._listener(slot)
        printer = ReceiptPrinter(
            transport,
            role=slot.role.value,
            on_status=sink,
            poll_interval_s=cfg.poll_interval_s,
        )
        slot.driver = sink.driver = printer
        await printer.start()

    def _spawn_receipt_reopen(self, slot: _Slot) -> None:
        if slot.task is not None and not slot.task.done():
            return
        slot.task = self._spawn(self._reopen_receipt(slot), f"{slot.role}-reopen")

    async def _reopen_receipt(self, slot: _Slot) -> None:
        # The ESC/POS driver gives up on a vanished transport by design: the
        # manager brings a new transport and a new driver when the printer is back.
        old = slot.driver
        slot.driver = None
        if isinstance(old, ReceiptPrinter):
            await old.close()

        async def opener() -> Transport:
            return await self._open_transport(slot)

        transport = await reopen.reopen_with_backoff(opener, slot.role.value)
        if slot.removed or not self._started:
            await transport.close()
            return
        await self._attach_receipt_printer(slot, transport)

    async def _start_serial_reader(self, slot: _Slot) -> None:
        try:
            transport: Transport | None = await self._open_transport(slot)
        except TransportClosed as exc:
            slot.last_error = str(exc)
            transport = None
        has_path = self._serial_path(slot) is not None

        def opener() -> Transport:
            path = self._serial_path(slot)
            if path is None:
                raise TransportClosed(self._waiting_reason(slot))
            cfg: SerialDeviceConfig = slot.config
            return SerialTransport(path, cfg.baudrate)

        # Both reader drivers re-open by themselves with the shared back-off.
        driver: BarcodeReader | SerialCardReader
        sink = self._listener(slot)
        if slot.role is Role.BARCODE_READER:
            driver = BarcodeReader(
                transport,
                on_scan=self._deliver_code,
                on_status=sink,
                role=slot.role.value,
                opener=opener if has_path else None,
            )
        else:
            driver = SerialCardReader(
                transport,
                on_status=sink,
                role=slot.role.value,
                opener=opener if has_path else None,
            )
        slot.driver = sink.driver = driver
        if transport is None and not has_path:
            self._set(slot, DeviceState.UNAVAILABLE, self._waiting_reason(slot))
            return
        await driver.start()

    def _spawn_probe_loop(self, slot: _Slot) -> None:
        slot.task = self._spawn(self._probe_loop(slot), f"{slot.role}-probe")

    async def _probe_loop(self, slot: _Slot) -> None:
        delay = PROBE_RETRY_FIRST_S
        while True:
            status = await self._probe(slot)
            if status is not None and status.state is not DeviceState.UNAVAILABLE:
                delay = PROBE_RETRY_FIRST_S
                await asyncio.sleep(PROBE_INTERVAL_S)
            else:
                await asyncio.sleep(delay)
                delay = min(delay * 2, PROBE_RETRY_MAX_S)

    async def _probe(self, slot: _Slot) -> DeviceStatus | None:
        """Ask a probe-based driver for its state now; never raises."""
        driver = slot.driver
        try:
            if isinstance(driver, A4Printer | Scanner | SmartCardReader):
                return await driver.probe()
            if isinstance(driver, ReceiptPrinter):
                return await driver.poll()
        except Exception as exc:
            log.exception("%s: probe failed", slot.role)
            slot.last_error = str(exc)
            self._set(slot, DeviceState.UNAVAILABLE, f"{slot.label} en erreur")
        return self.statuses.get(slot.role)

    async def _stop_driver(self, slot: _Slot) -> None:
        task, slot.task = slot.task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        driver, slot.driver = slot.driver, None
        if driver is None:
            return
        try:
            if isinstance(driver, ReceiptPrinter):
                await driver.close()
            elif isinstance(driver, BarcodeReader | SerialCardReader | SmartCardReader):
                await driver.stop()
        except Exception:
            log.exception("%s: stopping the driver failed", slot.role)

    def _spawn(self, coro: Awaitable[None], name: str) -> asyncio.Task[None]:
        async def guarded() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("devices: background task %s failed", name)

        task = asyncio.create_task(guarded(), name=name)
        # Keep a reference so the task is not garbage-collected mid-flight.
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    # ------------------------------------------------------------------ statuses

    def _listener(self, slot: _Slot) -> _StatusSink:
        """A status listener for the driver about to be created for ``slot``."""
        return _StatusSink(self, slot)

    def _driver_status(self, sink: _StatusSink, status: DeviceStatus) -> None:
        slot = sink.slot
        # A stopped or replaced driver may still report late: only the current one counts.
        if sink.driver is not None and slot.driver is not sink.driver:
            return
        if slot.removed:
            return
        self._publish(slot, status)
        if (
            slot.role is Role.RECEIPT_PRINTER
            and status.state is DeviceState.UNAVAILABLE
            and status.reason == RECEIPT_UNPLUGGED_REASON
            and self._started
        ):
            self._spawn_receipt_reopen(slot)

    def _set(self, slot: _Slot, state: DeviceState, reason: str = "") -> None:
        previous = self.statuses.get(slot.role)
        details = dict(previous.details) if previous is not None else {}
        self._publish(
            slot, DeviceStatus(slot.role.value, KIND_BY_ROLE[slot.role], state, reason, details)
        )

    def _publish(self, slot: _Slot, status: DeviceStatus) -> None:
        previous = self.statuses.get(slot.role)
        self.statuses[slot.role] = status
        if previous is not None and (previous.state, previous.reason) == (
            status.state,
            status.reason,
        ):
            return
        slot.since = time.time()
        old = previous.state.value if previous is not None else "-"
        where = status.details.get("port") or status.details.get("transport") or ""
        log.info(
            "device %s (%s%s): %s -> %s%s",
            slot.role.value,
            status.kind,
            f" {where}" if where else "",
            old,
            status.state.value,
            f" ({status.reason})" if status.reason else "",
        )
        if self._on_change is None:
            return
        try:
            self._on_change(status)
        except Exception:
            # A faulty screen must not stop the devices.
            log.exception("devices: on_change listener failed")

    # ------------------------------------------------------------------ jobs

    def _slot_for_job(self, role: Role) -> _Slot:
        slot = self._slots.get(role)
        if slot is None:
            raise DeviceError(
                "not_configured", f"{pas_de_fr(ROLE_LABELS_FR[role])} sur cette borne"
            )
        return slot

    async def _ensure_usable(self, slot: _Slot) -> None:
        """Raise DeviceError unless the role can take a job now."""
        status = self.statuses[slot.role]
        if status.state is DeviceState.UNAVAILABLE and not slot.removed:
            # Probe-based statuses may be old: ask once more before refusing.
            status = await self._probe(slot) or status
        if slot.driver is None or status.state is DeviceState.UNAVAILABLE:
            reason = status.reason or "hors service"
            raise DeviceError("unavailable", f"{slot.label} indisponible : {reason}")

    async def _job(self, role: Role, what: str, run: Callable[[Any], Awaitable[T]]) -> T:
        """Run ``run(driver)`` as a job of ``role``; only DeviceError comes out."""
        slot = self._slot_for_job(role)
        await self._ensure_usable(slot)
        driver = slot.driver
        task: asyncio.Task[T] = asyncio.ensure_future(run(driver))
        slot.jobs.add(task)
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:
            # The caller gave up (session ended): the job goes with it.
            task.cancel()
            raise
        finally:
            slot.jobs.discard(task)
        if task.cancelled():
            error = slot.cancel_reason or DeviceError("cancelled", "travail interrompu")
            slot.jobs_failed += 1
            slot.last_error = error.reason
            raise DeviceError(error.code, f"{what} impossible : {error.reason}")
        exc = task.exception()
        if exc is None:
            slot.jobs_ok += 1
            return task.result()
        slot.jobs_failed += 1
        if isinstance(exc, DeviceError):
            slot.last_error = exc.reason
            log.info("%s: %s failed: %s", role.value, what, exc)
            raise exc
        log.error("%s: %s failed unexpectedly", role.value, what, exc_info=exc)
        slot.last_error = str(exc)
        raise DeviceError("failed", f"{what} impossible : erreur du {slot.label}") from exc

    def _cancel_jobs(self, slot: _Slot, reason: DeviceError) -> None:
        slot.cancel_reason = reason
        for task in list(slot.jobs):
            task.cancel()

    async def print_receipt(self, receipt: Receipt) -> None:
        """Print a receipt on the receipt printer."""

        async def run(driver: ReceiptPrinter) -> None:
            await driver.print_receipt(receipt)

        await self._job(Role.RECEIPT_PRINTER, "impression du reçu", run)

    async def print_pdf(self, pdf: bytes, title: str, *, copies: int = 1) -> JobResult:
        """Print a PDF on the A4 printer and wait until CUPS has finished it."""

        async def run(driver: A4Printer) -> JobResult:
            return await driver.print_pdf(pdf, title=title, copies=copies)

        return await self._job(Role.A4_PRINTER, "impression du document", run)

    async def read_card(self, timeout: float) -> CardResult:
        """Read a card on the serial card reader, else on the PC/SC reader."""
        roles = [r for r in (Role.CARD_READER, Role.SMART_CARD) if r in self._slots]
        if not roles:
            raise DeviceError("not_configured", "pas de lecteur de cartes sur cette borne")
        usable = [
            r for r in roles if self.statuses[r].state is not DeviceState.UNAVAILABLE
        ] or roles
        role = usable[0]

        async def run(driver: SerialCardReader | SmartCardReader) -> CardResult:
            if isinstance(driver, SerialCardReader):
                read = await driver.read_card(timeout)
                return CardResult(read.uid, read.card_type, role)
            info = await driver.read_card(timeout)
            return CardResult(info.uid_hex, info.card_type, role, atr=info.atr_hex)

        return await self._job(role, "lecture de la carte", run)

    async def scan(self, *, dpi: int | None = None, colour: bool | None = None) -> ScanResult:
        """Scan one page into memory.

        ``dpi`` and ``colour`` are the agent's choice for this page; None keeps
        the booth's ``[devices.scanner]`` value.
        """
        mode: ScanMode | None = None if colour is None else ("color" if colour else "gray")

        async def run(driver: Scanner) -> ScanResult:
            return await driver.scan(dpi=dpi, mode=mode)

        return await self._job(Role.SCANNER, "numérisation", run)

    async def next_code(self, timeout: float) -> str:
        """The next code scanned on the barcode reader within ``timeout`` s."""

        async def run(_driver: BarcodeReader) -> str:
            waiter: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            self._code_waiters.append(waiter)
            try:
                return await asyncio.wait_for(waiter, timeout)
            except TimeoutError:
                raise DeviceError("timeout", "aucun code présenté à temps") from None
            finally:
                with contextlib.suppress(ValueError):
                    self._code_waiters.remove(waiter)

        return await self._job(Role.BARCODE_READER, "lecture du code", run)

    def _deliver_code(self, code: str) -> None:
        waiters = [w for w in self._code_waiters if not w.done()]
        for waiter in waiters:
            waiter.set_result(code)
        if waiters:
            return
        if self._on_code is not None:
            self._on_code(code)
        else:
            log.info("barcode_reader: code scanned while nobody waits for one: ignored")

    # ------------------------------------------------------------------ diagnostics

    def diagnostics(self) -> list[dict[str, Any]]:
        """One plain dict per configured role, for the technician screen and heartbeat."""
        result: list[dict[str, Any]] = []
        for slot in self._slots.values():
            status = self.statuses[slot.role]
            result.append(
                {
                    "role": slot.role.value,
                    "label": slot.label,
                    "kind": status.kind,
                    "state": status.state.value,
                    "reason": status.reason,
                    "since": datetime.fromtimestamp(slot.since, UTC).isoformat(),
                    "address": self._address(slot),
                    "jobs_ok": slot.jobs_ok,
                    "jobs_failed": slot.jobs_failed,
                    "last_error": slot.last_error,
                    "details": dict(status.details),
                }
            )
        return result

    def _address(self, slot: _Slot) -> str:
        cfg = slot.config
        if isinstance(cfg, SerialDeviceConfig):
            parts = [p for p in (self._serial_path(slot), getattr(cfg, "tcp", None)) if p]
            if cfg.usb:
                parts.append(f"usb {cfg.usb}")
            return ", ".join(parts)
        if slot.role is Role.A4_PRINTER:
            return f"{cfg.queue}@{cfg.server or 'default'}"
        if slot.role is Role.SCANNER:
            return str(cfg.device or "first SANE device")
        return str(getattr(cfg, "reader", None) or "first PC/SC reader")


class _StatusSink:
    """Status listener handed to one driver; knows which driver it belongs to."""

    def __init__(self, manager: DeviceManager, slot: _Slot) -> None:
        self.manager = manager
        self.slot = slot
        self.driver: Driver | None = None

    def __call__(self, status: DeviceStatus) -> None:
        self.manager._driver_status(self, status)


def _has_tcp(slot: _Slot) -> bool:
    return isinstance(slot.config, ReceiptPrinterConfig) and slot.config.tcp is not None

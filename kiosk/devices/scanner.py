"""Document scanner over SANE (python-sane), for the agent's "scan your document".

Every python-sane call blocks, so each runs in ``asyncio.to_thread``. The page
lives only in memory (raw lines → Pillow image → PNG/JPEG bytes): nothing is
written to disk, so a citizen's document never outlives the session that holds
the returned bytes.

The device is opened for each scan and closed after it, rather than kept open:
a scanner unplugged and plugged back between two citizens gets a fresh handle
instead of a stale one.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import io
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from kiosk.devices.base import DeviceError, DeviceState, DeviceStatus, StatusListener, notify
from kiosk.devices.scanner_options import (
    ImageFormat,
    OptionInfo,
    OptionMappingError,
    ScanMode,
    ScanSettings,
    ScanSource,
    reason_for_sane_error,
    sane_options,
)

log = logging.getLogger(__name__)

KIND = "sane"
JPEG_QUALITY = 85
PNG_COMPRESS_LEVEL = 3
"""zlib level 3: a 300 dpi colour A4 page compresses several times faster than at
the default level 6, for a file only slightly larger."""

CANCEL_WAIT_S = 5.0
"""Longest a dropped scan job waits for its thread to stop reading and close the device."""

_INIT_LOCK = threading.Lock()
_sane_module: Any = None


def _sane() -> Any:
    """python-sane, imported and ``sane_init``-ed once per process.

    Imported through importlib because python-sane ships no type information;
    everything it returns is treated as ``Any`` and checked here.
    """
    global _sane_module
    with _INIT_LOCK:
        if _sane_module is None:
            try:
                module = importlib.import_module("sane")
            except ImportError as exc:
                raise DeviceError(
                    "sane_missing",
                    "Le module python-sane n'est pas installé sur cette borne.",
                ) from exc
            module.init()
            _sane_module = module
        return _sane_module


@dataclass(frozen=True)
class ScanResult:
    """One scanned page, encoded, in memory only."""

    data: bytes
    media_type: str
    """``image/png`` or ``image/jpeg``."""
    width: int
    height: int
    dpi: int


ProgressCallback = Callable[[float], None]


def _available_options(dev: Any) -> dict[str, OptionInfo]:
    """Settable options of an open device, as pure :class:`OptionInfo`."""
    sane = _sane()
    result: dict[str, OptionInfo] = {}
    for option in dev.get_options():
        _index, name, _title, _desc, _type, _unit, _size, cap, constraint = option
        if not name or not sane._sane.OPTION_IS_SETTABLE(cap):
            continue
        active = bool(sane._sane.OPTION_IS_ACTIVE(cap))
        if isinstance(constraint, list):
            result[name] = OptionInfo(name=name, choices=tuple(constraint), active=active)
        elif isinstance(constraint, tuple) and len(constraint) == 3:
            low, high, quant = constraint
            result[name] = OptionInfo(
                name=name, value_range=(float(low), float(high), float(quant)), active=active
            )
        else:
            result[name] = OptionInfo(name=name, active=active)
    return result


def _set_option(dev: Any, name: str, value: str | int | float | bool) -> None:
    """Set one option unless it already has that value.

    Re-setting an unchanged option is not free: some backends recalibrate, and
    re-selecting the feeder restarts its page count.
    """
    # python-sane exposes options as attributes, with '-' spelled '_'.
    attribute = name.replace("-", "_")
    try:
        current = getattr(dev, attribute)
    except AttributeError:
        current = None  # inactive until now: just set it
    if current is not None and current == value:
        return
    setattr(dev, attribute, value)


class Scanner:
    """One SANE scanner; reports its state through ``on_status``, never crashes."""

    def __init__(
        self,
        device_name: str | None,
        *,
        resolution_dpi: int = 150,
        mode: ScanMode = "color",
        source: ScanSource = "flatbed",
        on_status: StatusListener,
        role: str = "scanner",
        image_format: ImageFormat = "png",
        backend_options: Mapping[str, str | int | float | bool] | None = None,
    ) -> None:
        """``device_name`` None means the first scanner SANE finds."""
        self.device_name = device_name
        self.settings = ScanSettings(
            resolution_dpi=resolution_dpi,
            mode=mode,
            source=source,
            backend_options=dict(backend_options or {}),
        )
        self.image_format: ImageFormat = image_format
        self.role = role
        self._on_status = on_status
        self._status = DeviceStatus(role=role, kind=KIND, state=DeviceState.UNKNOWN)
        self._busy = asyncio.Lock()
        """Held for a whole scan job: a second job is refused at once."""
        self._device = asyncio.Lock()
        """Held while a thread has the SANE device open (probe or scan). SANE
        backends refuse a second open of the same device with DEVICE_BUSY, so a
        scan waits for a running probe instead of failing on it."""
        self._scanning: Any = None
        """The SANE handle of the scan in progress, so a cancelled job can stop it."""
        self._stop_scan = threading.Event()
        """Set when the job was dropped: the scan thread gives up at its next step."""

    @property
    def status(self) -> DeviceStatus:
        """The last status reported."""
        return self._status

    def _report(
        self, state: DeviceState, reason: str = "", details: dict[str, str] | None = None
    ) -> None:
        status = DeviceStatus(
            role=self.role, kind=KIND, state=state, reason=reason, details=details or {}
        )
        if status == self._status:
            return
        self._status = status
        notify(self._on_status, status)

    def _fail(self, error: DeviceError) -> DeviceError:
        log.warning("scanner %s: %s", self.device_name or "(auto)", error)
        self._report(DeviceState.UNAVAILABLE, error.reason, {"code": error.code})
        return error

    # -- blocking helpers, run in threads ------------------------------------

    def _resolve_name(self) -> tuple[str, dict[str, str]]:
        sane = _sane()
        try:
            devices = sane.get_devices()
        except sane._sane.error as exc:
            code, reason = reason_for_sane_error(str(exc))
            raise DeviceError(code, reason) from exc
        names = {str(d[0]): d for d in devices}
        if self.device_name is None:
            if not names:
                raise DeviceError("no_device", "Aucun scanner n'est branché sur la borne.")
            name = next(iter(names))
        elif self.device_name in names:
            name = self.device_name
        else:
            raise DeviceError(
                "no_device",
                f"Le scanner « {self.device_name} » est introuvable "
                "(débranché, éteint ou mal configuré).",
            )
        _name, vendor, model, kind = names[name]
        return name, {"device": name, "vendor": str(vendor), "model": str(model), "type": str(kind)}

    def _probe_blocking(self) -> dict[str, str]:
        name, details = self._resolve_name()
        dev = self._open(name)
        dev.close()
        return details

    def _open(self, name: str) -> Any:
        sane = _sane()
        try:
            return sane.open(name)
        except sane._sane.error as exc:
            code, reason = reason_for_sane_error(str(exc))
            if code in ("invalid", "scan_failed"):
                code, reason = "no_device", f"Impossible d'ouvrir le scanner « {name} »."
            raise DeviceError(code, reason) from exc

    def _scan_blocking(
        self, progress: Callable[[float], None], settings: ScanSettings
    ) -> ScanResult:
        sane = _sane()
        name, _details = self._resolve_name()
        dev = self._open(name)
        self._scanning = dev
        try:
            try:
                self._check_stopped()
                # Mode first: backends reload their other options when it changes.
                first = sane_options(settings, _available_options(dev))
                if "mode" in first:
                    _set_option(dev, "mode", first["mode"])
                for option, value in sane_options(settings, _available_options(dev)).items():
                    if option != "mode":
                        _set_option(dev, option, value)
                self._check_stopped()
                dev.start()

                def on_lines(done: int, total: int) -> None:
                    # Raising from here crashes python-sane's C loop (segfault,
                    # seen with python-sane 2.9.2): swallow everything.
                    try:
                        if total > 0:
                            progress(min(done / total, 1.0))
                    except Exception:
                        log.exception("scan progress relay failed")

                image = dev.snap(progress=on_lines)
            except OptionMappingError as exc:
                raise DeviceError(exc.code, exc.reason) from exc
            except (sane._sane.error, RuntimeError) as exc:
                code, reason = reason_for_sane_error(str(exc))
                raise DeviceError(code, reason) from exc
            except AttributeError as exc:
                # python-sane reports an unknown or inactive option this way.
                raise DeviceError("invalid", f"Réglage refusé par le scanner : {exc}") from exc
            dpi = round(float(getattr(dev, "resolution", settings.resolution_dpi)))
        finally:
            self._scanning = None
            try:
                dev.close()
            except Exception:
                log.debug("closing scanner %s failed", name, exc_info=True)
        return self._encode(image, dpi)

    def _encode(self, image: Any, dpi: int) -> ScanResult:
        buffer = io.BytesIO()
        if self.image_format == "jpeg":
            image.save(buffer, format="JPEG", quality=JPEG_QUALITY, dpi=(dpi, dpi))
            media_type = "image/jpeg"
        else:
            image.save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL, dpi=(dpi, dpi))
            media_type = "image/png"
        width, height = image.size
        return ScanResult(
            data=buffer.getvalue(),
            media_type=media_type,
            width=int(width),
            height=int(height),
            dpi=dpi,
        )

    def _check_stopped(self) -> None:
        if self._stop_scan.is_set():
            raise DeviceError("cancelled", "Numérisation annulée.")

    def _cancel_scan(self) -> None:
        # Event first, handle second: the thread sets the handle, then checks the
        # event, so one of the two always catches the cancellation.
        self._stop_scan.set()
        dev = self._scanning
        if dev is None:
            return
        try:
            dev.cancel()
        except Exception:
            log.debug("cancelling the scan on %s failed", self.device_name, exc_info=True)

    # -- public API ------------------------------------------------------------

    async def probe(self) -> DeviceStatus:
        """Check the scanner is there and can be opened; report and return the status."""
        if self._busy.locked() or self._device.locked():
            return self._status
        try:
            async with self._device:
                details = await asyncio.to_thread(self._probe_blocking)
        except DeviceError as exc:
            self._fail(exc)
        except Exception as exc:
            log.exception("scanner probe failed")
            self._fail(DeviceError("probe_failed", f"Le scanner ne répond pas ({exc})."))
        else:
            self._report(DeviceState.READY, details=details)
        return self._status

    async def scan(
        self,
        progress: ProgressCallback | None = None,
        *,
        dpi: int | None = None,
        mode: ScanMode | None = None,
    ) -> ScanResult:
        """Scan one page into memory; ``progress`` gets 0.0…1.0 on the event loop.

        ``dpi`` and ``mode`` override the configured ones for this page only (the
        agent's choice); the device then uses the nearest resolution it supports.
        Raises :class:`DeviceError` (the scanner then reports UNAVAILABLE).
        """
        if dpi is not None and dpi <= 0:
            raise DeviceError("bad_request", f"Résolution de numérisation invalide : {dpi} ppp.")
        settings = replace(
            self.settings,
            resolution_dpi=self.settings.resolution_dpi if dpi is None else dpi,
            mode=self.settings.mode if mode is None else mode,
        )
        if self._busy.locked():
            raise DeviceError("busy", "Une numérisation est déjà en cours.")
        async with self._busy:
            loop = asyncio.get_running_loop()

            def tell(fraction: float) -> None:
                # A broken progress bar must not lose the citizen's page.
                if progress is None:
                    return
                try:
                    progress(fraction)
                except Exception:
                    log.exception("scan progress callback failed")

            def from_thread(fraction: float) -> None:
                loop.call_soon_threadsafe(tell, fraction)

            self._report(DeviceState.BUSY, details={"device": self.device_name or "(auto)"})
            self._stop_scan.clear()
            # A probe that opened the device just before this job ends within a
            # probe's time; the scan then opens it.
            await self._device.acquire()

            def scan_then_release() -> ScanResult:
                # Released by the thread itself: a cancelled job's thread may
                # still hold the device for a moment after the job failed.
                try:
                    return self._scan_blocking(from_thread, settings)
                finally:
                    loop.call_soon_threadsafe(self._device.release)

            work = loop.run_in_executor(None, scan_then_release)
            try:
                # If the awaiting task is cancelled, sane_cancel stops the thread's
                # read (see below); whatever it read is dropped.
                result = await asyncio.shield(work)
            except DeviceError as exc:
                raise self._fail(exc) from exc
            except asyncio.CancelledError:
                # The job was dropped (session ended, scanner unplugged): ask SANE to
                # stop reading, so the thread ends and closes the device now rather
                # than after the whole page. sane_cancel may be called from any thread.
                self._cancel_scan()
                # Wait (briefly) for the thread to close the device, so whoever
                # sees the job fail can open the scanner again at once.
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(work, CANCEL_WAIT_S)
                self._report(DeviceState.READY)
                raise
            except Exception as exc:
                log.exception("scan failed")
                raise self._fail(
                    DeviceError("scan_failed", f"La numérisation a échoué ({exc}).")
                ) from exc
            tell(1.0)
            self._report(
                DeviceState.READY,
                details={"device": self.device_name or "(auto)", "last_dpi": str(result.dpi)},
            )
            return result

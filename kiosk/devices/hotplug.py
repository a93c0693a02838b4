"""USB hotplug: which configured role a device that appears or vanishes belongs to.

A :class:`HotplugWatcher` listens to udev through pyudev, on the asyncio loop
(the monitor's file descriptor with ``loop.add_reader``, no thread), and turns
udev events into :class:`HotplugEvent` for the roles whose ``usb = "vvvv:pppp"``
matches the device's vendor and product IDs. Devices already present at start
are reported as ``add`` too, so a USB-only role works when plugged before boot.
Serial roles follow their ``tty`` node (``usbmisc`` for a ``/dev/usb/lpN`` receipt
printer); the A4 printer, scanner and smart-card reader follow the USB device
itself (``usb``), whose events only mean "gone" or "back".

Matching is pure (:func:`match_role`), tested on plain dicts; the IDs come from
the device's udev properties (``ID_VENDOR_ID``/``ID_MODEL_ID``, set by udev's
``usb_id`` builtin on tty nodes) or else from a USB ancestor's sysfs attributes
(``idVendor``/``idProduct``). A removal is matched by the sysfs path recorded at
``add``, since a vanished device can no longer be asked for its IDs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from kiosk.devices.config import DevicesConfig, Role

log = logging.getLogger(__name__)

Action = Literal["add", "remove"]


@dataclass(frozen=True)
class HotplugRule:
    """A role follows the device node with these USB IDs in this udev subsystem."""

    role: Role
    vendor: str
    product: str
    subsystem: str = "tty"


@dataclass(frozen=True)
class HotplugEvent:
    """A configured device appeared (``add``) at ``devnode`` or vanished (``remove``)."""

    action: Action
    role: Role
    devnode: str
    sys_path: str


def rules_from_config(config: DevicesConfig) -> list[HotplugRule]:
    """One rule per role that has ``usb`` IDs.

    Serial roles follow their tty (or usblp) node; the A4 printer, the scanner and
    the smart-card reader follow the USB device itself (subsystem ``usb``), whose
    node is ``/dev/bus/usb/BBB/DDD``: their drivers reach it through CUPS, SANE or
    pcscd, so the event only says "gone" or "back".
    """
    rules: list[HotplugRule] = []
    for role, cfg in config.usb_roles().items():
        ids = cfg.usb_ids
        if ids is not None:
            rules.append(HotplugRule(role, ids[0], ids[1], cfg.hotplug_subsystem))
    return rules


def match_role(
    rules: Iterable[HotplugRule],
    subsystem: str,
    properties: Mapping[str, str],
    ancestor_ids: Iterable[tuple[str, str]] = (),
) -> Role | None:
    """The role whose rule matches this device, or None (pure)."""
    ids: list[tuple[str, str]] = []
    vendor, product = properties.get("ID_VENDOR_ID"), properties.get("ID_MODEL_ID")
    if vendor and product:
        ids.append((vendor.lower(), product.lower()))
    ids.extend((v.lower(), p.lower()) for v, p in ancestor_ids)
    for rule in rules:
        if rule.subsystem == subsystem and (rule.vendor, rule.product) in ids:
            return rule.role
    return None


def _ancestor_ids(device: Any) -> list[tuple[str, str]]:
    """USB vendor/product IDs of the device itself and its ancestors (sysfs attributes)."""
    found: list[tuple[str, str]] = []
    for parent in (device, *device.ancestors):
        try:
            vendor = parent.attributes.asstring("idVendor")
            product = parent.attributes.asstring("idProduct")
        except (KeyError, UnicodeDecodeError, OSError):
            continue
        found.append((vendor.strip(), product.strip()))
    return found


class HotplugWatcher:
    """Reports add/remove of configured USB devices through ``on_event``."""

    def __init__(
        self,
        rules: Iterable[HotplugRule],
        on_event: Callable[[HotplugEvent], None],
        *,
        context: Any = None,
    ) -> None:
        """Raises ImportError (naming the package) when pyudev is missing."""
        try:
            import pyudev  # type: ignore[import-untyped, unused-ignore]
        except ImportError as exc:
            raise ImportError("pyudev is needed for USB hotplug (pip install pyudev)") from exc
        self._pyudev: Any = pyudev
        self.rules = list(rules)
        self._on_event = on_event
        self._context: Any = context or pyudev.Context()
        self._monitor: Any = None
        self._fd: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._present: dict[str, tuple[Role, str]] = {}
        """sys_path -> (role, devnode) of devices seen added and not removed."""

    def start(self) -> None:
        """Report the devices present now, then follow udev on the running loop."""
        self._loop = asyncio.get_running_loop()
        subsystems = sorted({rule.subsystem for rule in self.rules})
        monitor = self._pyudev.Monitor.from_netlink(self._context)
        for subsystem in subsystems:
            monitor.filter_by(subsystem)
        monitor.start()
        self._monitor = monitor
        self._fd = monitor.fileno()
        self._loop.add_reader(self._fd, self._on_readable)
        # Listening starts before the enumeration, so nothing plugged in between is
        # lost; a device seen twice is reported once (the _present map).
        for subsystem in subsystems:
            for device in self._context.list_devices(subsystem=subsystem):
                self._handle("add", device)

    def stop(self) -> None:
        """Stop listening; idempotent."""
        if self._fd is not None and self._loop is not None:
            self._loop.remove_reader(self._fd)
        self._fd = None
        self._monitor = None

    def _on_readable(self) -> None:
        monitor = self._monitor
        if monitor is None:
            return
        while True:
            try:
                device = monitor.poll(timeout=0)
            except Exception:
                # A garbled netlink message must not stop hotplug for good.
                log.exception("hotplug: reading a udev event failed")
                return
            if device is None:
                return
            self._handle(str(device.action or ""), device)

    def _handle(self, action: str, device: Any) -> None:
        try:
            sys_path = str(device.sys_path)
            devnode = str(device.device_node or "")
            if action == "remove":
                known = self._present.pop(sys_path, None)
                if known is not None:
                    self._emit(HotplugEvent("remove", known[0], known[1] or devnode, sys_path))
                return
            if action not in ("add", "change", "bind"):
                return
            if not devnode:
                return  # nothing a driver could open (e.g. the USB interface itself)
            role = match_role(
                self.rules,
                str(device.subsystem or ""),
                {k: str(v) for k, v in dict(device.properties).items()},
                _ancestor_ids(device),
            )
            if role is None:
                return
            if self._present.get(sys_path) == (role, devnode):
                return  # seen already (enumeration racing the monitor, or "change")
            self._present[sys_path] = (role, devnode)
            self._emit(HotplugEvent("add", role, devnode, sys_path))
        except Exception:
            log.exception("hotplug: could not handle a %s event", action)

    def _emit(self, event: HotplugEvent) -> None:
        log.info("hotplug: %s %s at %s", event.role.value, event.action, event.devnode)
        try:
            self._on_event(event)
        except Exception:
            log.exception("hotplug: event listener failed")

"""The booth's peripherals by role: the ``[devices]`` table of the booth TOML.

Every role is optional: a booth without a scanner simply has no ``scanner`` entry,
and the device manager answers a scan request with a plain "no scanner here".
Serial devices are found either by a fixed path (``path``) or, for USB devices
that may be replugged under another name, by ``usb = "vvvv:pppp"`` (vendor and
product IDs): the hotplug watcher then gives the manager the device node when
the device appears. Both may be set: the path is tried at start, the IDs follow
the device afterwards. A receipt printer of the USB printer class is opened at
its ``/dev/usb/lpN`` node (Linux ``usblp``). The A4 printer, the scanner and the
smart-card reader take ``usb`` IDs too: they keep their CUPS queue, SANE name or
PC/SC reader, and hotplug tells the manager when the USB device goes or comes back.

Example::

    [devices.receipt_printer]
    path = "/dev/ttyUSB0"      # or tcp = "192.0.2.10:9100", or usb = "0416:5011",
    baudrate = 19200           # or path = "/dev/usb/lp0" (USB printer class)

    [devices.a4_printer]
    queue = "Guichet_A4"
    server = "127.0.0.1:631"
    usb = "04f9:0042"          # optional: unplug/replug followed by hotplug

    [devices.card_reader]
    usb = "072f:90cc"

    [devices.barcode_reader]
    path = "/dev/ttyACM0"

    [devices.scanner]
    device = "test:0"
    dpi = 150
    mode = "color"
    source = "flatbed"

    [devices.smart_card]
    reader = "ACS ACR122"
    usb = "072f:2200"
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kiosk.devices.scanner_options import ImageFormat, ScanMode, ScanSource

DEFAULT_BAUDRATE = 9600
USB_ID_PATTERN = re.compile(r"^[0-9a-f]{4}:[0-9a-f]{4}$")
USBLP_PREFIX = "/dev/usb/"
"""Nodes of USB printer-class devices (Linux ``usblp``); kept equal to transport.USBLP_PREFIX."""
USBLP_PATTERN = re.compile(r"^/dev/usb/lp\d{1,3}$")
USBLP_SUBSYSTEM = "usbmisc"
"""udev subsystem of ``/dev/usb/lp*`` nodes."""
TCP_PATTERN = re.compile(r"^(?P<host>[^\s:]+|\[[0-9a-fA-F:]+\]):(?P<port>\d{1,5})$")


class Role(StrEnum):
    """What the booth uses a peripheral for (the keys of ``[devices]``)."""

    RECEIPT_PRINTER = "receipt_printer"
    A4_PRINTER = "a4_printer"
    CARD_READER = "card_reader"
    BARCODE_READER = "barcode_reader"
    SCANNER = "scanner"
    SMART_CARD = "smart_card"


ROLE_LABELS_FR: dict[Role, str] = {
    Role.RECEIPT_PRINTER: "imprimante de reçus",
    Role.A4_PRINTER: "imprimante A4",
    Role.CARD_READER: "lecteur de cartes",
    Role.BARCODE_READER: "lecteur de codes",
    Role.SCANNER: "scanner",
    Role.SMART_CARD: "lecteur de cartes à puce",
}
"""Names of the roles in the reasons shown to agents, citizens and technicians."""

_FR_VOWELS = frozenset("aeiouyàâäéèêëîïôöùûü")


def pas_de_fr(noun: str) -> str:
    """French "pas de <noun>", elided before a vowel: "pas d'imprimante A4"."""
    # No role label starts with an "h", so no aspirated-h exception is needed.
    if noun[:1].lower() in _FR_VOWELS:
        return f"pas d'{noun}"
    return f"pas de {noun}"


class _Strict(BaseModel):
    # Unknown keys are refused so that a typo in the booth TOML shows up at start.
    model_config = ConfigDict(extra="forbid", frozen=True)


class UsbIdsConfig(_Strict):
    """A device hotplug can follow by its USB vendor and product IDs."""

    usb: str | None = None
    """``vendor:product`` in hex (``lsusb`` shows it): follow the device when replugged."""

    @field_validator("usb")
    @classmethod
    def _usb(cls, v: str | None) -> str | None:
        if v is None:
            return None
        v = v.strip().lower()
        if not USB_ID_PATTERN.match(v):
            raise ValueError("usb must be 'vvvv:pppp' (hex vendor and product IDs)")
        return v

    @property
    def usb_ids(self) -> tuple[str, str] | None:
        """``(vendor, product)`` or None."""
        if self.usb is None:
            return None
        vendor, product = self.usb.split(":")
        return vendor, product

    @property
    def hotplug_subsystem(self) -> str:
        """udev subsystem of the device hotplug matches: the USB device itself."""
        return "usb"


class SerialDeviceConfig(UsbIdsConfig):
    """A device on a serial port, by fixed path and/or by USB IDs for hotplug."""

    path: str | None = None
    """Device node or pyserial URL (``/dev/ttyUSB0``, ``/dev/serial/by-id/...``)."""
    baudrate: int = Field(default=DEFAULT_BAUDRATE, gt=0)
    subsystem: str = "tty"
    """udev subsystem of the device node the driver opens (``tty`` for serial)."""

    @field_validator("path")
    @classmethod
    def _path(cls, v: str | None) -> str | None:
        if v is not None and v.startswith(USBLP_PREFIX):
            raise ValueError(f"{v} is a USB printer node: only the receipt printer takes one")
        return v

    @property
    def hotplug_subsystem(self) -> str:
        """udev subsystem of the node the driver opens (``tty``, ``usbmisc`` for usblp)."""
        return self.subsystem

    @model_validator(mode="after")
    def _somewhere(self) -> SerialDeviceConfig:
        if not self._has_address():
            raise ValueError("give at least one of: path, usb" + self._extra_choices())
        return self

    def _has_address(self) -> bool:
        return self.path is not None or self.usb is not None

    def _extra_choices(self) -> str:
        return ""


class ReceiptPrinterConfig(SerialDeviceConfig):
    """An ESC/POS receipt printer: serial/USB-serial, USB printer class, or network (9100)."""

    @model_validator(mode="before")
    @classmethod
    def _usblp_subsystem(cls, data: Any) -> Any:
        # A /dev/usb/lp* node belongs to udev's usbmisc subsystem, not tty: follow it there.
        if isinstance(data, dict) and "subsystem" not in data:
            path = data.get("path")
            if isinstance(path, str) and path.startswith(USBLP_PREFIX):
                return {**data, "subsystem": USBLP_SUBSYSTEM}
        return data

    @field_validator("path")
    @classmethod
    def _path(cls, v: str | None) -> str | None:
        if v is not None and v.startswith(USBLP_PREFIX) and not USBLP_PATTERN.match(v):
            raise ValueError("a USB printer node must be /dev/usb/lpN (e.g. /dev/usb/lp0)")
        return v

    @property
    def usblp(self) -> bool:
        """The path is a USB printer-class node (``/dev/usb/lp0``), not a serial port."""
        return self.path is not None and self.path.startswith(USBLP_PREFIX)

    tcp: str | None = None
    """``host:port`` of a network printer."""
    poll_interval_s: float = Field(default=10.0, gt=0)
    """How often the idle printer is asked for its paper state."""

    @field_validator("tcp")
    @classmethod
    def _tcp(cls, v: str | None) -> str | None:
        if v is not None:
            match = TCP_PATTERN.match(v)
            if match is None or not 0 < int(match["port"]) < 65536:
                raise ValueError("tcp must be 'host:port'")
        return v

    @property
    def tcp_address(self) -> tuple[str, int] | None:
        """``(host, port)`` or None."""
        if self.tcp is None:
            return None
        host, _, port = self.tcp.rpartition(":")
        return host.strip("[]"), int(port)

    def _has_address(self) -> bool:
        return super()._has_address() or self.tcp is not None

    def _extra_choices(self) -> str:
        return ", tcp"


class A4PrinterConfig(UsbIdsConfig):
    """A CUPS queue for A4 documents."""

    queue: str = Field(min_length=1)
    server: str | None = None
    """CUPS server ``host:port``; None: ``$CUPS_SERVER`` or localhost:631."""


class ScannerConfig(UsbIdsConfig):
    """A SANE scanner."""

    device: str | None = None
    """SANE device name (``scanimage -L``); None: the first scanner found."""
    dpi: int = Field(default=150, ge=50, le=1200)
    mode: ScanMode = "color"
    source: ScanSource = "flatbed"
    image_format: ImageFormat = "png"


class SmartCardConfig(UsbIdsConfig):
    """A PC/SC smart-card reader."""

    reader: str | None = None
    """Part of the PC/SC reader name; None: the first reader."""


class DevicesConfig(_Strict):
    """The booth's peripherals; every role is optional."""

    receipt_printer: ReceiptPrinterConfig | None = None
    a4_printer: A4PrinterConfig | None = None
    card_reader: SerialDeviceConfig | None = None
    barcode_reader: SerialDeviceConfig | None = None
    scanner: ScannerConfig | None = None
    smart_card: SmartCardConfig | None = None

    def configured_roles(self) -> list[Role]:
        """The roles this booth has, in a stable order."""
        return [role for role in Role if getattr(self, role.value) is not None]

    def serial_roles(self) -> dict[Role, SerialDeviceConfig]:
        """Roles whose device is a serial port (the ones hotplug can follow)."""
        result: dict[Role, SerialDeviceConfig] = {}
        for role in (Role.RECEIPT_PRINTER, Role.CARD_READER, Role.BARCODE_READER):
            cfg = getattr(self, role.value)
            if cfg is not None:
                result[role] = cfg
        return result

    def usb_roles(self) -> dict[Role, UsbIdsConfig]:
        """Roles whose device is followed by its USB IDs (``usb = "vvvv:pppp"``)."""
        result: dict[Role, UsbIdsConfig] = {}
        for role in Role:
            cfg = getattr(self, role.value)
            if cfg is not None and cfg.usb_ids is not None:
                result[role] = cfg
        return result

"""The booth configuration carried by a signed bundle: one typed, strict schema.

Unknown keys are refused, so a typo in an admin's config is an error on the
server rather than a setting silently ignored on a booth months later.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import re
from enum import StrEnum
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SCHEMA_VERSION = 1
LanguageCode = Annotated[
    str, Field(min_length=2, max_length=8, pattern=r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")
]
BOOTH_LANGUAGES = ("fr", "en", "es", "ar", "pt")
"""Languages the booth has catalogues for (``assets/locale``; a test keeps them equal)."""
ServiceId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Colour = Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")]
USB_ID_RE = re.compile(r"^[0-9a-f]{4}:[0-9a-f]{4}$")
CLOCK_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
MAX_RANGES_PER_DAY = 4
LOGO_MAX_BYTES = 64 * 1024
LOGO_B64_MAX = (LOGO_MAX_BYTES + 2) // 3 * 4
PIN_HASH_RE = re.compile(r"^scrypt\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PeripheralRole(StrEnum):
    """What a peripheral is used for; the same names as the booth's ``[devices]`` roles."""

    RECEIPT_PRINTER = "receipt_printer"
    A4_PRINTER = "a4_printer"
    CARD_READER = "card_reader"
    BARCODE_READER = "barcode_reader"
    SCANNER = "scanner"
    SMART_CARD = "smart_card"


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class Branding(_Strict):
    """What the citizen sees of the operator: a name and two colours."""

    name: Annotated[str, Field(min_length=1, max_length=80)] = "France Services"
    primary_colour: Colour = "#000091"
    accent_colour: Colour = "#e1000f"
    logo_png: Annotated[str, Field(max_length=LOGO_B64_MAX)] | None = None
    """The operator's logo, base64 PNG, at most 64 KiB decoded (header, top left)."""

    @field_validator("logo_png")
    @classmethod
    def _logo(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("logo_png must be base64") from exc
        if len(data) > LOGO_MAX_BYTES:
            raise ValueError(f"logo_png is {len(data)} bytes once decoded (max {LOGO_MAX_BYTES})")
        if not data.startswith(b"\x89PNG\r\n\x1a\n"):
            raise ValueError("logo_png is not a PNG")
        return value


class IdleTimeouts(_Strict):
    """Seconds of inactivity before the booth asks, then wipes (see kiosk/session.py)."""

    warning_s: Annotated[float, Field(gt=0, le=3600)] = 60
    waiting_warning_s: Annotated[float, Field(gt=0, le=3600)] = 300
    reset_s: Annotated[float, Field(gt=0, le=600)] = 30
    goodbye_s: Annotated[float, Field(gt=0, le=120)] = 15


class Peripheral(_Strict):
    """One peripheral: found by USB IDs, a fixed device path, a TCP address or a queue name."""

    usb: str | None = None
    path: Annotated[str, Field(pattern=r"^/dev/[A-Za-z0-9_./-]+$")] | None = None
    tcp: Annotated[str, Field(pattern=r"^[A-Za-z0-9.-]+:\d{1,5}$")] | None = None
    queue: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,127}$")] | None = None
    reader: Annotated[str, Field(min_length=1, max_length=128)] | None = None

    @field_validator("usb")
    @classmethod
    def _usb(cls, value: str | None) -> str | None:
        if value is not None and not USB_ID_RE.match(value):
            raise ValueError("usb must be 'vvvv:pppp' in lower-case hex")
        return value

    @model_validator(mode="after")
    def _located(self) -> Peripheral:
        if not any((self.usb, self.path, self.tcp, self.queue, self.reader)):
            raise ValueError("a peripheral needs one of usb, path, tcp, queue or reader")
        return self


ROLE_LOCATORS: dict[PeripheralRole, tuple[str, ...]] = {
    PeripheralRole.RECEIPT_PRINTER: ("path", "tcp", "usb"),
    PeripheralRole.A4_PRINTER: ("queue",),  # its CUPS queue; usb IDs only follow replugs
    PeripheralRole.CARD_READER: ("path", "usb"),
    PeripheralRole.BARCODE_READER: ("path", "usb"),
    PeripheralRole.SCANNER: ("reader", "usb"),
    PeripheralRole.SMART_CARD: ("reader", "usb"),
}
"""Which of a peripheral's fields the booth can find each role by (kiosk/fleet.py)."""


class OpeningRange(_Strict):
    """The booth is open from ``start`` to ``end`` (``HH:MM``, end excluded, ``24:00`` max)."""

    start: str
    end: str

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not CLOCK_RE.match(value):
            raise ValueError("a time must be HH:MM (00:00 to 24:00)")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> OpeningRange:
        if self.start >= self.end:
            raise ValueError(f"start {self.start} must be before end {self.end}")
        return self


DayRanges = Annotated[list[OpeningRange], Field(max_length=MAX_RANGES_PER_DAY)]


def _b64_parts(pin_hash: str) -> bool:
    """Salt and hash decode as base64 (the booth checks the same before it uses them)."""
    try:
        return all(base64.b64decode(p, validate=True) for p in pin_hash.split("$")[1:])
    except (binascii.Error, ValueError):
        return False


def _url(value: str, schemes: tuple[str, ...], what: str) -> str:
    if not value.startswith(schemes) or any(c.isspace() for c in value) or len(value) > 300:
        raise ValueError(f"{what} must start with {' or '.join(schemes)} (no spaces)")
    return value


class BoothConfig(_Strict):
    """Everything central admins decide for one booth."""

    schema_version: int = SCHEMA_VERSION
    switchboard_url: str
    turn_urls: Annotated[list[str], Field(max_length=8)] = Field(default_factory=list)
    services: Annotated[list[ServiceId], Field(max_length=64)] = Field(default_factory=list)
    """Service ids shown on the booth, in order; empty: every service of the catalogue."""
    languages: Annotated[list[LanguageCode], Field(min_length=1, max_length=16)] = Field(
        default_factory=lambda: list(BOOTH_LANGUAGES)
    )
    """Language buttons of the booth, in order; each one of :data:`BOOTH_LANGUAGES`."""
    default_language: LanguageCode = "fr"
    branding: Branding = Field(default_factory=Branding)
    idle: IdleTimeouts = Field(default_factory=IdleTimeouts)
    volume: Annotated[int, Field(ge=0, le=100)] = 80
    peripherals: dict[PeripheralRole, Peripheral] = Field(default_factory=dict)
    technician_pin_hash: str | None = None
    log_level: LogLevel = LogLevel.INFO
    opening_hours: dict[Weekday, DayRanges] | None = None
    """Weekly ranges per weekday (a day left out is closed); None: always open."""
    timezone: Annotated[str, Field(min_length=1, max_length=64)] = "Europe/Paris"
    heartbeat_interval_s: Annotated[float, Field(ge=5, le=3600)] = 60

    @field_validator("switchboard_url")
    @classmethod
    def _switchboard(cls, value: str) -> str:
        return _url(value, ("https://", "http://"), "switchboard_url").rstrip("/")

    @field_validator("turn_urls")
    @classmethod
    def _turn(cls, value: list[str]) -> list[str]:
        # Only TURN servers the operator runs: a public STUN would leak the booth's address.
        return [_url(v, ("turn:", "turns:"), "a TURN URL") for v in value]

    @field_validator("opening_hours")
    @classmethod
    def _hours(
        cls, value: dict[Weekday, list[OpeningRange]] | None
    ) -> dict[Weekday, list[OpeningRange]] | None:
        for day, ranges in (value or {}).items():
            ordered = sorted(ranges, key=lambda r: r.start)
            for before, after in itertools.pairwise(ordered):
                if after.start < before.end:
                    raise ValueError(f"overlapping opening hours on {day}")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value

    @field_validator("technician_pin_hash")
    @classmethod
    def _pin(cls, value: str | None) -> str | None:
        if value is not None and not (PIN_HASH_RE.match(value) and _b64_parts(value)):
            raise ValueError("technician_pin_hash must look like scrypt$<salt-b64>$<hash-b64>")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> BoothConfig:
        if self.schema_version != SCHEMA_VERSION:
            raise ValueError(f"schema_version {self.schema_version} is not {SCHEMA_VERSION}")
        if self.default_language not in self.languages:
            raise ValueError(f"default_language {self.default_language!r} not in languages")
        unknown = [lang for lang in self.languages if lang not in BOOTH_LANGUAGES]
        if unknown:
            # The booth refuses a config naming a language it has no catalogue for.
            raise ValueError(
                f"languages {unknown} have no booth translations"
                f" (known: {', '.join(BOOTH_LANGUAGES)})"
            )
        if len(set(self.languages)) != len(self.languages):
            raise ValueError("a language is listed twice")
        if len(set(self.services)) != len(self.services):
            raise ValueError("a service is listed twice")
        for role, peripheral in self.peripherals.items():
            usable = ROLE_LOCATORS[role]
            if not any(getattr(peripheral, name) for name in usable):
                # The booth would find no way to reach it and refuse the whole bundle.
                raise ValueError(f"peripherals.{role.value}: needs {' or '.join(usable)}")
        return self

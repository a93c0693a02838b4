"""Booth settings: one place, loaded from a TOML file plus command-line overrides."""

from __future__ import annotations

import logging
import math
import os
import ssl
import stat
import tomllib
from pathlib import Path
from typing import Any

import requests
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from guichet import tls
from kiosk import i18n, session
from kiosk.devices.config import DevicesConfig

logger = logging.getLogger(__name__)

DEFAULT_SERVER_URL = "http://127.0.0.1:8700"
DEFAULT_TOKEN_FILE = Path("/etc/guichet/booth-token")
CATALOGUE_RETRY_MIN_S = 1.0
"""First back-off delay when the switchboard is unreachable."""
CATALOGUE_RETRY_MAX_S = 30.0
"""Back-off ceiling: an unattended booth keeps trying forever, at most this far apart."""
CATALOGUE_REFRESH_S = 60.0
"""How often the service list (open/closed, waits) is refreshed while reachable."""
HTTP_TIMEOUT_S = 5.0
DEFAULT_LANGUAGES = ("fr", "en", "es", "ar", "pt")
"""French first, then English, Spanish, Arabic and Portuguese (spoken in France)."""


class InsecureTokenFile(Exception):
    """The token file can be read by other users of the booth."""


class BoothSettings(BaseModel):
    """Everything a booth needs to start; unknown keys are refused (typos show up)."""

    model_config = ConfigDict(extra="forbid")

    server_url: str = DEFAULT_SERVER_URL
    token_file: Path = DEFAULT_TOKEN_FILE
    token: str | None = Field(default=None, exclude=True, repr=False)
    """The booth token itself, for tests and demos; a deployed booth uses token_file."""
    fake_media: bool = False
    camera: str | None = None
    microphone: str | None = None
    speaker: str | None = "default"
    """ALSA device for the agent's voice ("default" goes through PulseAudio where it
    runs); empty or none: no sound (chat only)."""
    languages: list[str] = Field(default_factory=lambda: list(DEFAULT_LANGUAGES))
    """Language buttons of the welcome screen, in order; each needs a catalogue."""
    default_language: str = "fr"
    idle_warning_s: float = Field(default=session.IDLE_WARNING_S, gt=0)
    waiting_idle_warning_s: float = Field(default=session.WAITING_IDLE_WARNING_S, gt=0)
    idle_reset_s: float = Field(default=session.IDLE_RESET_S, gt=0)
    goodbye_s: float = Field(default=session.GOODBYE_S, gt=0)
    retry_min_s: float = Field(default=CATALOGUE_RETRY_MIN_S, gt=0)
    retry_max_s: float = Field(default=CATALOGUE_RETRY_MAX_S, gt=0)
    catalogue_refresh_s: float = Field(default=CATALOGUE_REFRESH_S, gt=0)
    fullscreen: bool = True
    width: int = Field(default=1280, ge=320)
    height: int = Field(default=800, ge=240)
    screen_diagonal_in: float = Field(default=15.6, ge=5, le=100)
    """The touch panel's visible diagonal in inches: with ``width`` and ``height`` it
    gives the pixels per centimetre the 2 cm touch-target rule is checked against (and
    the on-screen keyboard is sized by)."""
    screenshot_dir: Path | None = None
    allow_insecure_token_file: bool = False
    """Demo/test escape hatch: accept a token file readable by others (with a warning)."""
    devices: DevicesConfig = Field(default_factory=DevicesConfig)
    """Peripherals by role (the ``[devices]`` table); none by default."""
    technician_pin_hash: str | None = None
    """``scrypt$<salt-b64>$<hash-b64>`` (``python -m kiosk.technician``); without it
    the technician diagnostics screen cannot be opened."""
    data_dir: Path | None = None
    """The booth's private state folder (key, identity, signed config). Set: the booth
    is a fleet booth (setup screen until enrolled, then runs from its signed config);
    unset: a hand-configured booth with a token (demo, tests)."""
    site: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=40)
    """The site this booth is installed at, for its enrolment (asked on the setup
    screen when not set here)."""
    services: list[str] = Field(default_factory=list)
    """Service ids shown, in order; empty: every service of the catalogue."""
    brand_name: str = "Visio-guichet"
    brand_primary: str = Field(default="#000091", pattern=r"^#[0-9a-fA-F]{6}$")
    brand_accent: str = Field(default="#e1000f", pattern=r"^#[0-9a-fA-F]{6}$")
    brand_logo_png: str | None = None
    """The operator's logo (base64 PNG), checked by ``kiosk/branding.py`` before use."""
    volume: int = Field(default=80, ge=0, le=100)
    opening_hours: dict[str, list[tuple[str, str]]] | None = None
    """The booth's own weekly hours, ``{"mon": [("09:00", "12:00")], ...}`` (a day left
    out is closed); None: always open. Outside them the welcome screen says closed."""
    timezone: str = "Europe/Paris"
    log_level: str = Field(default="info", pattern=r"^(debug|info|warning|error)$")
    config_poll_s: float = Field(default=300.0, gt=0)
    """How often an enrolled booth asks for a newer config (besides ``config_available``)."""
    config_version: int | None = None
    """Version of the signed config these settings come from (None: booth.toml only)."""
    ca_file: Path | None = None
    """PEM file of the CA that signed the server's certificate: the booth's only trust
    anchor for ``https://``/``wss://`` (never the system store)."""
    demo: bool = False
    """Demo or test booth: plain ``http://``/``ws://`` to the server is accepted.
    Never on a real booth: without it the server must be ``https://`` with ``ca_file``."""

    @field_validator("server_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("server_url must start with http:// or https://")
        return v.rstrip("/")

    @field_validator("technician_pin_hash")
    @classmethod
    def _pin_hash(cls, v: str | None) -> str | None:
        from kiosk.technician import is_pin_hash

        if v is not None and not is_pin_hash(v):
            raise ValueError("technician_pin_hash must look like scrypt$<salt-b64>$<hash-b64>")
        return v or None

    @model_validator(mode="after")
    def _language(self) -> BoothSettings:
        if not self.languages:
            raise ValueError("at least one language is needed")
        if len(set(self.languages)) != len(self.languages):
            raise ValueError(f"a language is listed twice in languages {self.languages}")
        known = i18n.catalogue_languages()
        for language in self.languages:
            if language not in known:
                raise ValueError(
                    f"language {language!r} has no catalogue "
                    f"(assets/locale/{language}/LC_MESSAGES/{i18n.DOMAIN}.po); "
                    f"languages with one: {', '.join(known)}"
                )
        if self.default_language not in self.languages:
            raise ValueError(f"default_language {self.default_language!r} not in languages")
        return self

    @property
    def ws_url(self) -> str:
        """The booth signaling WebSocket URL derived from ``server_url``."""
        scheme, rest = self.server_url.split("://", 1)
        return ("wss" if scheme == "https" else "ws") + "://" + rest + "/ws/booth"

    def check_server_url(self, url: str | None = None) -> None:
        """Refuse ``url`` (default ``server_url``) unless HTTPS with ``ca_file``, or demo.

        Raises :class:`guichet.tls.InsecureServerUrl`."""
        tls.check_server_url(url or self.server_url, ca_file=self.ca_file, allow_plain=self.demo)

    def ssl_context(self) -> ssl.SSLContext | None:
        """TLS context for ``wss://`` trusting only ``ca_file``; ``None`` without one."""
        return tls.client_ssl_context(self.ca_file) if self.ca_file is not None else None

    def http_session(self) -> requests.Session:
        """A ``requests`` session trusting only ``ca_file``."""
        return tls.http_session(self.ca_file)

    @property
    def px_per_cm(self) -> float:
        """Screen pixels per centimetre of this booth's panel (square pixels)."""
        return math.hypot(self.width, self.height) / (self.screen_diagonal_in * 2.54)

    @property
    def timers(self) -> session.Timers:
        """The session machine's timers from these settings."""
        return session.Timers(
            idle_warning_s=self.idle_warning_s,
            waiting_idle_warning_s=self.waiting_idle_warning_s,
            idle_reset_s=self.idle_reset_s,
            goodbye_s=self.goodbye_s,
        )

    def read_token(self) -> str:
        """Return the booth token; refuse a token file others can read.

        The token lets anyone impersonate the booth, so like an SSH key it must be
        0600 (or stricter). ``allow_insecure_token_file`` turns the refusal into a
        warning for demos.
        """
        if self.token:
            return self.token
        path = self.token_file
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            message = f"token file {path} has mode {mode:o}; it must be 600"
            if not self.allow_insecure_token_file:
                raise InsecureTokenFile(message)
            logger.warning("%s (accepted: allow_insecure_token_file)", message)
        token = path.read_text(encoding="utf-8").strip()
        if not token:
            raise ValueError(f"token file {path} is empty")
        return token


class ConfigFileError(ValueError):
    """The booth's settings file is not TOML the booth can read (the message says where)."""


def _read_toml(path: Path) -> dict[str, Any]:
    """The file's TOML; :class:`ConfigFileError` for text that is not TOML (OSError as is)."""
    with open(path, "rb") as fh:
        try:
            return tomllib.load(fh)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigFileError(f"{path}: not valid TOML: {exc}") from exc
        except RecursionError as exc:  # arrays nested thousands deep
            raise ConfigFileError(f"{path}: not valid TOML: nested too deeply") from exc


def load_settings(config_path: Path | None = None, **overrides: Any) -> BoothSettings:
    """Load settings from a TOML file (optional), then apply non-None ``overrides``.

    Bad input raises a ``ValueError``: :class:`ConfigFileError` for the file itself,
    pydantic's ``ValidationError`` for a value; an unreadable file raises ``OSError``.

    The file may have its keys at top level or under a ``[booth]`` table; the
    peripherals are the ``[devices]`` table (:class:`~kiosk.devices.config.DevicesConfig`).
    """
    data: dict[str, Any] = {}
    if config_path is not None:
        raw = _read_toml(config_path)
        table = raw.get("booth", raw)
        if not isinstance(table, dict):
            raise ConfigFileError(f"{config_path}: 'booth' must be a table ([booth])")
        data = dict(table)
        # [devices] may sit beside [booth] rather than inside it ([booth.devices]).
        if "booth" in raw and "devices" in raw:
            data.setdefault("devices", raw["devices"])
    data.update({k: v for k, v in overrides.items() if v is not None})
    env_token = os.environ.get("GUICHET_BOOTH_TOKEN_FILE")
    if env_token and "token_file" not in data:
        data["token_file"] = env_token
    return BoothSettings(**data)

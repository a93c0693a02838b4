"""ServerSettings: every knob of the switchboard in one place, refusing insecure set-ups."""

from __future__ import annotations

import ipaddress
import logging
import stat
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from guichet.wire import IceServer
from switchboard.turn import TurnConfig, TurnSecretError, read_secret_file
from switchboard.webhooks import MIN_SECRET_BYTES, ReadyTarget, WebhookTarget

log = logging.getLogger(__name__)

DEFAULT_PORT = 8700
DEFAULT_SESSION_TTL_S = 8 * 3600
"""An agent's working day: sessions expire after it."""
DEFAULT_SESSION_IDLE_S = 2 * 3600
"""A console session nobody used (no click, no request) for this long ends."""
DEFAULT_TURN_TTL_S = 600
"""TURN credentials live this long: enough to set a call up (coturn keeps an
allocation made in time alive after the credential expires)."""


SIGNING_KEY_FILE = "provisioning-signing.key"
"""The bundle-signing key in ``data_dir`` (written by :mod:`provisioning.server`)."""
DEMO_MARKER = "DEMO"
"""File ``guichet demo`` leaves in its data directory: production refuses that folder."""
MIN_RSA_BITS = 2048
MIN_EC_BITS = 256


class SettingsError(ValueError):
    """Settings that cannot be used (unreadable file, bad value, insecure outside demo)."""


class OidcSettings(BaseModel):
    """Sign-in through an administration's OpenID Connect provider (docs/operations.md)."""

    model_config = ConfigDict(extra="forbid")

    issuer: str
    """The provider's issuer URL; its ``/.well-known/openid-configuration`` is read."""
    client_id: str = Field(min_length=1)
    client_secret_file: Path | None = None
    """File (mode 600) with the client secret; none: a public client (PKCE only)."""
    redirect_base_url: str
    """This switchboard as browsers reach it (``https://guichet.example.fr``); the
    provider must allow ``<redirect_base_url>/api/v1/oidc/callback``."""
    display_name: str = "votre fournisseur d'identité"
    """Shown on the button: "Se connecter avec <display_name>"."""
    scopes: list[str] = Field(default_factory=lambda: ["openid", "profile"])
    roles_claim: str = "guichet_roles"
    """Claim listing the person's roles (``agent``, ``supervisor``; others ignored)."""
    services_claim: str = "guichet_services"
    """Claim listing the service ids the person may answer or watch."""
    username_claim: str = "preferred_username"
    """Claim used as the username (falls back to ``sub`` when absent)."""
    name_claim: str = "name"
    role_map: dict[str, str] = Field(default_factory=dict)
    """Provider role values to Guichet roles, e.g. ``{"GUICHET_AGENT" = "agent"}``;
    values not listed are taken as they are."""
    local_login: bool = True
    """Also show the local username/password form (small sites, break-glass accounts)."""
    ca_file: Path | None = None
    """CA bundle to trust for the provider (an administration's private CA)."""

    @field_validator("issuer", "redirect_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"{value!r} must be an http(s) URL")
        return value

    @field_validator("redirect_base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        # The issuer is kept as written: ID tokens must carry it exactly (some end in "/").
        return value.rstrip("/")

    @field_validator("scopes")
    @classmethod
    def _openid_scope(cls, value: list[str]) -> list[str]:
        if "openid" not in value:
            raise ValueError("scopes must include 'openid'")
        return value

    @property
    def redirect_uri(self) -> str:
        return f"{self.redirect_base_url}/api/v1/oidc/callback"


class ServerSettings(BaseModel):
    """How the switchboard runs; loaded from a TOML file and/or command-line flags."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = DEFAULT_PORT
    data_dir: Path = Path("var")
    database_url: str | None = None
    """SQLAlchemy URL; ``None`` means the SQLite file ``guichet.sqlite3`` in ``data_dir``."""
    catalogue: Path | None = None
    """Services TOML file; ``None`` means the demo catalogue shipped in the package."""
    ice_servers: list[IceServer] = Field(default_factory=list)
    """STUN/TURN servers handed to both peers. Empty: host candidates only, never a public STUN."""
    turn_urls: list[str] = Field(default_factory=list)
    """Our own coturn (``turn:host:3478``, ``turns:host:5349?transport=tcp``): each call
    gets fresh credentials from ``turn_secret_file``. Never a third-party server."""
    turn_secret_file: Path | None = None
    """File (mode 600) holding coturn's ``static-auth-secret``; never logged."""
    turn_ttl_s: Annotated[int, Field(ge=30, le=24 * 3600)] = DEFAULT_TURN_TTL_S
    ice_transport_policy: Literal["all", "relay"] = "all"
    """``relay``: both peers use only TURN relay candidates (no host or reflexive
    address leaves either side); needs ``turn_urls``."""
    demo: bool = False
    """Demo mode: plain-HTTP cookies allowed (no ``Secure`` flag). Never in production."""
    session_ttl_s: Annotated[int, Field(gt=0, le=7 * 24 * 3600)] = DEFAULT_SESSION_TTL_S
    """Absolute lifetime of a console session (agent, supervisor, admin)."""
    session_idle_s: Annotated[int, Field(gt=0, le=7 * 24 * 3600)] = DEFAULT_SESSION_IDLE_S
    """A session unused for this long ends (never longer than ``session_ttl_s``)."""
    oidc: OidcSettings | None = None
    """OpenID Connect sign-in for the agent console; ``None``: local accounts only."""
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None
    frame_ancestors: list[str] = Field(default_factory=lambda: ["'self'"])
    """Origins allowed to embed the console in an iframe (CSP ``frame-ancestors``)."""
    embed_origins: list[str] = Field(default_factory=list)
    """Portals that embed the console with the SDK (``https://portail.example.fr``):
    allowed as frame ancestors, and the only origins the embedded console talks to."""
    log_level: str = "info"
    events_retention_days: Annotated[int, Field(ge=1, le=366)] = 30
    """How long call events stay readable by integrators (``/api/v1/integration/events``)."""
    stats_timezone: str = "Europe/Paris"
    """Time zone whose calendar days the statistics are counted in."""
    webhooks: list[WebhookTarget] = Field(default_factory=list)
    """``[[webhooks]]`` tables: the integrator's receivers of call events (signed)."""

    @field_validator("embed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            parts = urlsplit(origin)
            if (
                parts.scheme not in ("http", "https")
                or not parts.hostname
                or parts.path not in ("", "/")
                or parts.query
                or parts.fragment
                or parts.username
            ):
                raise ValueError(
                    f"embed origin {origin!r} must be scheme://host[:port], nothing else"
                )
        return [origin.rstrip("/") for origin in value]

    @field_validator("stats_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (e.g. Europe/Paris)") from exc
        return value

    @field_validator("webhooks")
    @classmethod
    def _webhook_names(cls, value: list[WebhookTarget]) -> list[WebhookTarget]:
        names = [t.name for t in value]
        if len(set(names)) != len(names):
            raise ValueError("two webhooks have the same name")
        return value

    @field_validator("ice_servers")
    @classmethod
    def _ice_schemes(cls, value: list[IceServer]) -> list[IceServer]:
        for server in value:
            for url in server.urls:
                if not url.startswith(("stun:", "turn:", "turns:")):
                    raise ValueError(
                        f"ICE server URL {url!r} must start with stun:, turn: or turns:"
                    )
        return value

    @field_validator("turn_urls")
    @classmethod
    def _turn_schemes(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.startswith(("turn:", "turns:")):
                raise ValueError(f"TURN URL {url!r} must start with turn: or turns:")
        return value

    @model_validator(mode="after")
    def _tls_pair(self) -> ServerSettings:
        if (self.tls_certfile is None) != (self.tls_keyfile is None):
            raise ValueError("tls_certfile and tls_keyfile go together")
        if bool(self.turn_urls) != (self.turn_secret_file is not None):
            raise ValueError("turn_urls and turn_secret_file go together")
        if self.ice_transport_policy == "relay" and not self.turn_urls:
            raise ValueError("ice_transport_policy = 'relay' needs turn_urls")
        self.session_idle_s = min(self.session_idle_s, self.session_ttl_s)
        return self

    def turn_config(self) -> TurnConfig | None:
        """The TURN servers with the shared secret read now; ``None`` without TURN.

        Raises :class:`SettingsError` when the secret file is unusable (readable by
        others included, demo mode or not: the secret mints credentials)."""
        if self.turn_secret_file is None:
            return None
        try:
            secret = read_secret_file(self.turn_secret_file)
        except TurnSecretError as exc:
            raise SettingsError(f"refusing to start: {exc}") from exc
        return TurnConfig(urls=tuple(self.turn_urls), secret=secret, ttl_s=self.turn_ttl_s)

    def webhook_targets(self) -> list[ReadyTarget]:
        """The webhook targets with their secrets read now.

        Raises :class:`SettingsError` when a secret file is unusable, demo mode or
        not: the secret proves to the receiver that events come from us."""
        from guichet.secrets import SecretFileError
        from guichet.secrets import read_secret_file as read_private

        ready: list[ReadyTarget] = []
        for target in self.webhooks:
            try:
                secret = read_private(
                    target.secret_file,
                    min_bytes=MIN_SECRET_BYTES,
                    what=f"webhook {target.name} secret file",
                )
            except SecretFileError as exc:
                raise SettingsError(f"refusing to start: {exc}") from exc
            ready.append(ReadyTarget(target, secret))
        return ready

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.sqlite_path}"

    @property
    def sqlite_path(self) -> Path:
        """Where the default SQLite database lives."""
        return self.data_dir / "guichet.sqlite3"

    @property
    def cookie_secure(self) -> bool:
        """The session cookie carries ``Secure`` except in demo mode (plain HTTP on loopback)."""
        return not self.demo

    @property
    def is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def security_problems(self) -> tuple[list[str], list[str]]:
        """``(refusals, warnings)`` for these settings; refusals stop the server outside demo."""
        refusals: list[str] = []
        warnings: list[str] = []
        if not self.is_loopback and self.tls_certfile is None:
            warnings.append(
                f"listening on {self.host} without TLS: put a TLS reverse proxy in front,"
                " or agents' session cookies and booth tokens travel in clear"
            )
        if self.data_dir.exists():
            mode = self.data_dir.stat().st_mode
            if mode & (stat.S_IWGRP | stat.S_IWOTH | stat.S_IROTH):
                # The database holds password hashes and booth-token hashes.
                refusals.append(
                    f"data directory {self.data_dir} is readable or writable by others"
                    f" (mode {stat.S_IMODE(mode):o}); chmod 700 it"
                )
        for server in self.ice_servers:
            if any(u.startswith("turn:") for u in server.urls) and server.credential:
                warnings.append(
                    "a static TURN credential is configured; prefer time-limited credentials"
                )
        return refusals, warnings

    def production_problems(self) -> list[str]:
        """What keeps these settings from running in production (TLS, secret files)."""
        from guichet.secrets import SecretFileError, check_private_file

        problems: list[str] = []
        if self.tls_certfile is None or self.tls_keyfile is None:
            problems.append(
                "production needs TLS: set tls_certfile and tls_keyfile"
                " (or use --demo on 127.0.0.1 to try it out)"
            )
        else:
            if not self.tls_certfile.is_file():
                problems.append(f"TLS certificate {self.tls_certfile} does not exist")
            try:
                check_private_file(self.tls_keyfile, "TLS key file")
                problems.extend(_weak_tls_key(self.tls_keyfile))
            except SecretFileError as exc:
                problems.append(str(exc))
        if self.turn_secret_file is not None:
            try:
                self.turn_config()
            except SettingsError as exc:
                problems.append(str(exc).removeprefix("refusing to start: "))
        if self.oidc is not None:
            problems.extend(_oidc_problems(self.oidc))
        for origin in self.embed_origins:
            if not origin.startswith("https://"):
                problems.append(f"embed origin {origin}: production embeds in https portals only")
        for target in self.webhooks:
            if not target.url.startswith("https://"):
                problems.append(
                    f"webhook {target.name}: production sends events over https only,"
                    f" not {target.url}"
                )
        signing_key = self.data_dir / SIGNING_KEY_FILE
        if signing_key.exists():
            try:
                check_private_file(signing_key, "provisioning signing key")
            except SecretFileError as exc:
                problems.append(str(exc))
        if (self.data_dir / DEMO_MARKER).exists():
            # Its agent password was printed on a screen and its keys were made for a trial.
            problems.append(
                f"data directory {self.data_dir} was made by `guichet demo`;"
                " production needs its own data directory"
            )
        return problems

    def check_secure(self) -> None:
        """Log warnings; raise :class:`SettingsError` on refusals unless in demo mode.

        Demo mode is refused on any address but loopback; outside demo mode
        :meth:`production_problems` are refusals too."""
        if self.demo and not self.is_loopback:
            raise SettingsError(
                "refusing to start: demo mode (plain HTTP) listens on 127.0.0.1 only,"
                f" not {self.host}"
            )
        refusals, warnings = self.security_problems()
        if not self.demo:
            refusals += self.production_problems()
        for text in warnings:
            log.warning("insecure setting: %s", text)
        if refusals and not self.demo:
            raise SettingsError("refusing to start: " + "; ".join(refusals))
        for text in refusals:
            log.warning("insecure setting accepted in demo mode: %s", text)


def load_settings(path: Path | None = None, **overrides: Any) -> ServerSettings:
    """Settings from a TOML file (top level or a ``[server]`` table), then ``overrides``."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise SettingsError(f"{path}: cannot read settings: {exc.strerror or exc}") from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(f"{path}: not valid TOML: {exc}") from exc
        except RecursionError as exc:  # arrays nested thousands deep
            raise SettingsError(f"{path}: not valid TOML: nested too deeply") from exc
        table = raw.get("server", raw)
        if not isinstance(table, dict):
            raise SettingsError(f"{path}: 'server' must be a table ([server])")
        data.update(table)
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return ServerSettings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise SettingsError(f"{path or 'settings'}: {where}: {first['msg']}") from exc


def _weak_tls_key(path: Path) -> list[str]:
    """A refusal if the TLS private key is too short (its content is never logged)."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError, OSError):
        return [f"TLS key file {path} is not an unencrypted PEM private key"]
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size < MIN_RSA_BITS:
        return [f"TLS key {path} is RSA {key.key_size} bits; at least {MIN_RSA_BITS} needed"]
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size < MIN_EC_BITS:
        return [f"TLS key {path} is EC {key.curve.key_size} bits; at least {MIN_EC_BITS} needed"]
    return []


def _oidc_problems(oidc: OidcSettings) -> list[str]:
    """What keeps an OpenID Connect set-up from production: plain HTTP, a bad secret file."""
    from guichet.secrets import SecretFileError, read_secret_file

    problems: list[str] = []
    if not oidc.issuer.startswith("https://"):
        problems.append(f"production needs an https OpenID Connect issuer, not {oidc.issuer}")
    if not oidc.redirect_base_url.startswith("https://"):
        problems.append(
            f"production needs an https oidc.redirect_base_url, not {oidc.redirect_base_url}"
        )
    if oidc.client_secret_file is not None:
        try:
            read_secret_file(oidc.client_secret_file, min_bytes=16, what="OIDC client secret file")
        except SecretFileError as exc:
            problems.append(str(exc))
    return problems

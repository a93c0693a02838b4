"""The booth's fleet client: its identity, its signed configuration, its settings.

No Kivy and no asyncio here: everything is blocking (``requests``, files) and the
controller runs it through ``asyncio.to_thread``. The booth's state folder
(``data_dir`` in ``booth.toml``) holds its key, its identity and the applied
bundle (:mod:`provisioning.booth_client`, :mod:`provisioning.booth_store`).

``booth.toml`` only bootstraps the booth (data folder, server and site for the
enrolment, display options, local peripherals for the setup screen); once
enrolled, everything an admin decides comes from the signed bundle and
:func:`settings_from_config` turns it into the booth's :class:`BoothSettings`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import requests

from guichet.tls import InsecureServerUrl
from kiosk.config import HTTP_TIMEOUT_S, BoothSettings
from kiosk.devices.base import DeviceState, DeviceStatus
from kiosk.devices.config import DevicesConfig
from provisioning.booth_client import (
    IDENTITY_FILE,
    KEY_FILE,
    BoothIdentity,
    ProvisioningClient,
    SyncOutcome,
    enrol,
)
from provisioning.bundle import BundlePayload
from provisioning.heartbeat import HeartbeatSender, StateProvider
from provisioning.messages import PeripheralState, PeripheralStatus
from provisioning.schema import BoothConfig, Peripheral, PeripheralRole

logger = logging.getLogger(__name__)

HEALTH_PATH = "/api/v1/health"
UNKNOWN_REASON = "pas encore vérifié"
"""Reason sent for a peripheral not probed yet (the admin console is in French)."""
_PERIPHERAL_STATUS = {
    DeviceState.READY: PeripheralStatus.OK,
    DeviceState.BUSY: PeripheralStatus.OK,
    DeviceState.DEGRADED: PeripheralStatus.DEGRADED,
    DeviceState.UNAVAILABLE: PeripheralStatus.UNAVAILABLE,
    DeviceState.UNKNOWN: PeripheralStatus.UNAVAILABLE,
}


def is_enrolled(data_dir: Path) -> bool:
    """Whether the booth has an identity (key and ``identity.json``) in ``data_dir``."""
    return (data_dir / IDENTITY_FILE).is_file() and (data_dir / KEY_FILE).is_file()


def peripheral_states(statuses: Iterable[DeviceStatus]) -> list[PeripheralState]:
    """The device manager's statuses as the heartbeat reports them (pure)."""
    states = []
    for status in statuses:
        reason = status.reason
        if status.state is DeviceState.UNKNOWN and not reason:
            reason = UNKNOWN_REASON
        states.append(
            PeripheralState(
                role=status.role[:40], state=_PERIPHERAL_STATUS[status.state], reason=reason[:300]
            )
        )
    return states


def _peripheral(role: PeripheralRole, p: Peripheral) -> dict[str, Any]:
    """One bundle peripheral as the booth's ``[devices]`` entry for its role."""
    if role is PeripheralRole.A4_PRINTER:
        return {"queue": p.queue, "usb": p.usb}
    if role is PeripheralRole.SCANNER:
        return {"device": p.reader, "usb": p.usb}
    if role is PeripheralRole.SMART_CARD:
        return {"reader": p.reader, "usb": p.usb}
    if role is PeripheralRole.RECEIPT_PRINTER:
        return {"path": p.path, "tcp": p.tcp, "usb": p.usb}
    return {"path": p.path, "usb": p.usb}


def devices_from_config(config: BoothConfig, local: DevicesConfig) -> DevicesConfig:
    """The bundle's peripherals; the local ``[devices]`` when the bundle names none."""
    if not config.peripherals:
        return local
    table = {
        role.value: {k: v for k, v in _peripheral(role, p).items() if v is not None}
        for role, p in config.peripherals.items()
    }
    return DevicesConfig.model_validate(table)


def settings_from_config(local: BoothSettings, config: BoothConfig) -> BoothSettings:
    """The booth's runtime settings: local bootstrap values + what the bundle decides."""
    values = local.model_dump(exclude={"token"})
    values.update(
        server_url=config.switchboard_url,
        services=list(config.services),
        languages=list(config.languages),
        default_language=config.default_language,
        brand_name=config.branding.name,
        brand_primary=config.branding.primary_colour,
        brand_accent=config.branding.accent_colour,
        brand_logo_png=config.branding.logo_png,
        idle_warning_s=config.idle.warning_s,
        waiting_idle_warning_s=config.idle.waiting_warning_s,
        idle_reset_s=config.idle.reset_s,
        goodbye_s=config.idle.goodbye_s,
        volume=config.volume,
        opening_hours=(
            None
            if config.opening_hours is None
            else {
                day: [(r.start, r.end) for r in ranges]
                for day, ranges in config.opening_hours.items()
            }
        ),
        timezone=config.timezone,
        devices=devices_from_config(config, local.devices).model_dump(),
        technician_pin_hash=config.technician_pin_hash,
        log_level=config.log_level.value,
        config_poll_s=config.heartbeat_interval_s,
        config_version=None,
    )
    return BoothSettings.model_validate(values)


def switchboard_reachable(url: str, session: requests.Session | None = None) -> bool:
    """Whether ``url`` answers its health probe (blocking)."""
    http = session or requests.Session()
    try:
        return http.get(url + HEALTH_PATH, timeout=HTTP_TIMEOUT_S).status_code == 200
    except requests.RequestException as exc:
        logger.warning("switchboard %s unreachable: %s", url, exc)
        return False


class BoothFleet:
    """An enrolled (or about to be enrolled) booth's link to its fleet server."""

    def __init__(self, local: BoothSettings) -> None:
        if local.data_dir is None:
            raise ValueError("a fleet booth needs data_dir")
        self.local = local
        self.data_dir = local.data_dir
        self._client: ProvisioningClient | None = None

    @property
    def enrolled(self) -> bool:
        """Whether this booth has an identity."""
        return is_enrolled(self.data_dir)

    @property
    def client(self) -> ProvisioningClient:
        """The signed-request client (the booth must be enrolled)."""
        if self._client is None:
            self._client = ProvisioningClient(self.data_dir, ca_file=self.local.ca_file)
        return self._client

    @property
    def identity(self) -> BoothIdentity:
        return self.client.identity

    def enrol(self, server_url: str, site: str, code: str) -> BoothIdentity:
        """Spend the code: creates the key (0600) and pins the server's key."""
        self.local.check_server_url(server_url)
        identity = enrol(server_url, site, code, self.data_dir, ca_file=self.local.ca_file)
        self._client = None
        return identity

    def current(self) -> BundlePayload | None:
        """The bundle in force, re-verified against the pinned key (expiry not checked)."""
        return self.client.current_payload()

    def startup_settings(self) -> BoothSettings:
        """At start: finish an interrupted apply, then the settings of the last good bundle."""
        recovery = self.client.store.recover()
        if recovery.restored:
            logger.warning(
                "config version %s was being applied when the booth stopped: rolled back",
                recovery.interrupted_version,
            )
        try:
            payload = self.current()
        except Exception as exc:
            logger.error("the applied config cannot be read (%s): running without it", exc)
            payload = None
        return self.settings_for(payload)

    def settings_for(self, payload: BundlePayload | None) -> BoothSettings:
        """Settings for a bundle (the enrolment server's defaults when there is none yet)."""
        if payload is None:
            values = self.local.model_dump(exclude={"token"})
            values["server_url"] = self.client.identity.server_url
            return BoothSettings.model_validate(values)
        settings = settings_from_config(self.local, payload.config)
        return settings.model_copy(update={"config_version": payload.version})

    def health_check(self, payload: BundlePayload) -> bool:
        """A new bundle is good when it makes settings, devices and a reachable switchboard."""
        settings = settings_from_config(self.local, payload.config)
        DevicesConfig.model_validate(settings.devices.model_dump())
        try:
            settings.check_server_url()
        except InsecureServerUrl as exc:
            logger.warning("config refused: %s", exc)
            return False
        return switchboard_reachable(settings.server_url, settings.http_session())

    def sync(self) -> SyncOutcome:
        """Fetch, verify and apply the server's bundle (raises on refusal, see booth_client)."""
        return self.client.sync(self.health_check)

    def report(self, version: int | None, code: str, reason: str) -> None:
        """Report a refused bundle to the server (errors are logged, not raised)."""
        try:
            self.client.report_rejection(version, code, reason)
        except Exception as exc:
            logger.warning("could not report the refused config: %s", exc)

    def heartbeat_sender(
        self, app_version: str, state: StateProvider, interval_s: float
    ) -> HeartbeatSender:
        """The sender of this booth's heartbeats (blocking: run it off the Kivy loop)."""
        return self.client.heartbeat_sender(app_version, state, interval_s)

    def signed_headers(self, method: str, path: str) -> dict[str, str]:
        """Headers that authenticate one request of this booth (fresh nonce)."""
        return self.client.signed_headers(method, path)

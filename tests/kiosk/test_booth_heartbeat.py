"""An enrolled booth's heartbeats against the real server (controller, no UI): the fleet
view shows the booth online with its peripherals, degraded once its barcode reader is
unplugged; a config the answer says is waiting is fetched; a server gone is only logged."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from fixtures.server import RunningServer

from kiosk.config import BoothSettings
from kiosk.controller import BoothController
from kiosk.devices import reopen
from kiosk.devices.sim.barcode_reader import BarcodeScannerSimulator
from kiosk.fleet import BoothFleet
from provisioning import fleet, service
from provisioning.booth_client import SyncOutcome, enrol
from provisioning.keys import read_private_key
from provisioning.layers import Scope
from provisioning.schema import BoothConfig
from provisioning.server import SIGNING_KEY_FILE
from switchboard.db import Database

SITE = "florac"
WAIT_S = 20.0


class CountingFleet(BoothFleet):
    """The real fleet client, counting the syncs it has finished."""

    syncs = 0
    busy = False

    def sync(self) -> SyncOutcome:
        self.busy = True
        try:
            return super().sync()
        finally:
            self.busy = False
            self.syncs += 1


async def until(what: str, condition: Callable[[], bool]) -> None:
    """Wait until ``condition`` holds, failing after WAIT_S."""
    try:
        async with asyncio.timeout(WAIT_S):
            while not condition():
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def test_heartbeats_show_the_booth_online_then_degraded_and_bring_a_waiting_config(
    switchboard: RunningServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The unplugged reader is not reopened in the test's time: it stays unavailable.
    monkeypatch.setattr(reopen, "REOPEN_FIRST_DELAY_S", 3600.0)
    caplog.set_level(logging.INFO, logger="kiosk.controller")
    db = Database(f"sqlite:///{switchboard.data_dir / 'guichet.sqlite3'}")
    state = tmp_path / "booth-state"
    key = read_private_key(switchboard.data_dir / SIGNING_KEY_FILE)
    try:
        booth_id = enrol(switchboard.base_url, SITE, service.create_code(db, SITE).code, state)
        booth = booth_id.booth_id
        # The shortest interval a config allows, so that the test takes seconds.
        admin = fleet.Actor("ada", "admin")
        fleet.change_config(db, key, admin, Scope.BOOTH, booth, {"heartbeat_interval_s": 5})

        def status() -> tuple[str, list[str]]:
            row = next(b for b in fleet.fleet_summary(db) if b.booth_id == booth)
            return row.status, row.reasons

        def peripherals() -> list[tuple[str, str]]:
            latest = fleet.booth_detail(db, booth).latest or {}
            return [(p["role"], p["state"]) for p in latest.get("peripherals", [])]

        async def scenario() -> None:
            scanner = BarcodeScannerSimulator()
            path = await scanner.start()
            local = BoothSettings(
                data_dir=state,
                site=SITE,
                fullscreen=False,
                fake_media=True,
                demo=True,  # plain http:// to the test server
                devices={"barcode_reader": {"path": path}},
            )
            booth_fleet = CountingFleet(local)
            controller = BoothController(booth_fleet.startup_settings(), fleet=booth_fleet)
            await controller.start()
            try:

                def reported_version() -> int | None:
                    latest = fleet.booth_detail(db, booth).latest or {}
                    return latest.get("config_version")

                await until(
                    "online with the reader ok and config 1",
                    lambda: (
                        status()[0] == "online"
                        and peripherals() == [("barcode_reader", "ok")]
                        and reported_version() == 1
                    ),
                )
                detail = fleet.booth_detail(db, booth)
                assert detail.latest is not None
                assert detail.latest["uptime_s"] > 0
                assert detail.latest["memory_total_mb"] > 0
                assert detail.latest["disk_free_mb"] > 0
                await until(
                    "a measured round trip",
                    lambda: (
                        controller.heartbeat is not None
                        and controller.heartbeat.last_rtt_ms is not None
                    ),
                )

                await scanner.stop()  # the reader unplugged
                await until("degraded", lambda: status()[0] == "degraded")
                assert peripherals() == [("barcode_reader", "unavailable")]
                assert status()[1][0].startswith("barcode_reader: unavailable (")

                # From here only a heartbeat's answer may bring a config: the periodic
                # pull is put an hour away, once the pull running now (if any) is over.
                controller.settings = controller.settings.model_copy(
                    update={"config_poll_s": 3600.0}
                )
                before = booth_fleet.syncs
                controller._config_kick.set()
                await until(
                    "the pull waiting an hour",
                    lambda: (
                        booth_fleet.syncs > before
                        and not booth_fleet.busy
                        and not controller._config_kick.is_set()
                    ),
                )
                # A config given without a push: the heartbeat's answer says it waits.
                config = BoothConfig.model_validate(fleet.resolved_config(db, booth)[0]).model_copy(
                    update={"volume": 35}
                )
                await asyncio.to_thread(service.set_config, db, booth, config)
                await until(
                    "config 2 fetched",
                    lambda: (
                        (controller.pending_settings or controller.settings).config_version == 2
                    ),
                )
                await until(
                    "config 2 announced by a heartbeat's answer",
                    lambda: any(
                        "heartbeat: config version 2 waits" in r.getMessage()
                        for r in caplog.records
                    ),
                )

                switchboard.stop()
                await until(
                    "a failed heartbeat logged",
                    lambda: any("heartbeat not sent" in r.getMessage() for r in caplog.records),
                )
                loop = next(t for t in controller._loops if t.get_name() == "heartbeat")
                await asyncio.sleep(0.5)
                assert not loop.done()  # it tries again at the next tick
            finally:
                await controller.stop()

        asyncio.run(scenario())
    finally:
        db.close()

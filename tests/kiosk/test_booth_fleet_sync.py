"""The booth controller syncing its signed config with the real server (no UI): a config
whose switchboard cannot be reached fails its health check, is rolled back and reported."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fixtures.server import RunningServer, free_port

from kiosk.config import BoothSettings
from kiosk.controller import BoothController
from provisioning import service
from provisioning.booth_client import enrol
from provisioning.schema import BoothConfig
from switchboard.db import Database

SITE = "florac"


def test_config_failing_its_health_check_is_rolled_back_and_reported(
    switchboard: RunningServer, tmp_path: Path
) -> None:
    db = Database(f"sqlite:///{switchboard.data_dir / 'guichet.sqlite3'}")
    state = tmp_path / "booth-state"
    try:
        code = service.create_code(db, SITE).code
        booth_id = enrol(switchboard.base_url, SITE, code, state).booth_id

        async def scenario() -> None:
            settings = BoothSettings(data_dir=state, site=SITE, fullscreen=False, demo=True)
            controller = BoothController(settings)
            await controller._sync_config()
            assert controller.pending_settings is not None
            assert controller.pending_settings.config_version == 1
            await controller.apply_settings(controller.pending_settings)
            assert controller.settings.server_url == switchboard.base_url

            dead = f"http://127.0.0.1:{free_port()}"
            await asyncio.to_thread(
                service.set_config, db, booth_id, BoothConfig(switchboard_url=dead)
            )
            await controller._sync_config()
            assert controller.pending_settings is None
            assert controller.config_rejections == 1
            assert controller.settings.server_url == switchboard.base_url
            assert controller.fleet is not None
            payload = controller.fleet.current()
            assert payload is not None and payload.version == 1  # last good kept
            assert controller.fleet.client.store.rejected_version() == 2
            # The same version again is skipped, not re-reported.
            await controller._sync_config()
            assert controller.config_rejections == 1
            await controller.stop()

        asyncio.run(scenario())
        rejection = service.last_rejection(db, booth_id)
        assert rejection is not None
        assert (rejection.version, rejection.code) == (2, "health_check")
    finally:
        db.close()

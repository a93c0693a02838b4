"""A fleet booth on the real UI against the real server: setup screen, pushed and
tampered configs, revocation (scenarios in ``booth_fleet_scenarios``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fixtures.server import RunningServer, free_port
from kivy_harness import run_scenario

from provisioning import service
from provisioning.booth_client import enrol
from switchboard.db import Database

pytestmark = pytest.mark.kivy
SITE = "florac"


def _ctx(server: RunningServer, tmp_path: Path, *, with_server_url: bool = True) -> dict[str, Any]:
    db = Database(f"sqlite:///{server.data_dir / 'guichet.sqlite3'}")
    try:
        code = service.create_code(db, SITE).code
        used = service.create_code(db, SITE).code
    finally:
        db.close()
    # Another booth spends ``used`` first.
    enrol(server.base_url, SITE, used, tmp_path / "other-booth")
    ctx: dict[str, Any] = {
        "data_dir": str(tmp_path / "booth-state"),
        "site": SITE,
        "_code": code,
        "_used_code": used,
        "_server_url": server.base_url,
        "_dead_url": f"http://127.0.0.1:{free_port()}",
        "_db_path": str(server.data_dir / "guichet.sqlite3"),
        "_server_data_dir": str(server.data_dir),
    }
    if with_server_url:
        ctx["server_url"] = server.base_url
    else:  # a booth.toml with only data_dir: the setup screen asks for both
        del ctx["site"]
    return ctx


def test_setup_screen_keypad_errors_then_enrolled(
    switchboard: RunningServer, tmp_path: Path
) -> None:
    ctx = _ctx(switchboard, tmp_path, with_server_url=False)
    run_scenario("booth_fleet_scenarios:setup_by_keypad", ctx)


def test_setup_screen_code_from_barcode_reader(switchboard: RunningServer, tmp_path: Path) -> None:
    run_scenario("booth_fleet_scenarios:setup_by_barcode", _ctx(switchboard, tmp_path))


def test_setup_screen_code_from_camera_qr(switchboard: RunningServer, tmp_path: Path) -> None:
    ctx = _ctx(switchboard, tmp_path, with_server_url=False)
    run_scenario("booth_fleet_scenarios:setup_by_camera_qr", ctx)


def test_pushed_config_applied_and_tampered_bundle_reported(
    switchboard: RunningServer, tmp_path: Path
) -> None:
    run_scenario("booth_fleet_scenarios:pushed_config_then_tampered", _ctx(switchboard, tmp_path))


def test_revoked_booth_goes_out_of_service(switchboard: RunningServer, tmp_path: Path) -> None:
    run_scenario("booth_fleet_scenarios:revoked_goes_out_of_service", _ctx(switchboard, tmp_path))

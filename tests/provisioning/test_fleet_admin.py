"""Fleet administration against the real server on 127.0.0.1: heartbeats and status,
config layers and their sources, pushed bundles, staged rollouts, audit, roles."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from fixtures.clients import ProtocolClient, login_cookie
from fixtures.server import RunningServer, start_switchboard
from sqlalchemy import text, update
from sqlalchemy.exc import DatabaseError

from provisioning import enrol_uri, fleet, service
from provisioning.booth_client import KEY_FILE, ProvisioningClient, SyncOutcome, enrol
from provisioning.bundle import BundlePayload
from provisioning.heartbeat import HeartbeatSender
from provisioning.keys import read_private_key
from provisioning.messages import Heartbeat, PeripheralState, PeripheralStatus
from provisioning.models import BoothLiveState
from switchboard import auth
from switchboard.auth import StaffRole
from switchboard.db import Database

ADMIN = "/api/v1/admin"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_switchboard(tmp_path_factory.mktemp("fleet"), booths=())
    db = Database(f"sqlite:///{running.data_dir / 'guichet.sqlite3'}")
    auth.add_staff(db, "ada", "ada-pw", StaffRole.ADMIN, "Ada Admin")
    auth.add_staff(db, "tom", "tom-pw", StaffRole.TECHNICIAN, "Tom Technicien")
    db.close()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def db(server: RunningServer) -> Iterator[Database]:
    database = Database(f"sqlite:///{server.data_dir / 'guichet.sqlite3'}")
    try:
        yield database
    finally:
        database.close()


def staff(server: RunningServer, username: str) -> httpx.Client:
    client = httpx.Client(base_url=server.base_url, timeout=10)
    response = client.post(
        f"{ADMIN}/login", json={"username": username, "password": f"{username}-pw"}
    )
    assert response.status_code == 200, response.text
    return client


@pytest.fixture(scope="module")
def ada(server: RunningServer) -> Iterator[httpx.Client]:
    client = staff(server, "ada")
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="module")
def tom(server: RunningServer) -> Iterator[httpx.Client]:
    client = staff(server, "tom")
    try:
        yield client
    finally:
        client.close()


def new_booth(server: RunningServer, db: Database, state: Path, site: str) -> ProvisioningClient:
    code = service.create_code(db, site).code
    enrol(server.base_url, site, code, state)
    return ProvisioningClient(state)


def sender(booth: ProvisioningClient, peripherals: list[PeripheralState]) -> HeartbeatSender:
    def state() -> tuple[int | None, list[PeripheralState], datetime | None]:
        return booth.current_version(), peripherals, None

    return HeartbeatSender(
        booth.identity.server_url,
        booth.identity.booth_id,
        read_private_key(booth.store.dir / KEY_FILE),
        booth.store.dir,
        "0.1.0-test",
        state,
    )


def healthy(_: BundlePayload) -> bool:
    return True


def row_of(client: httpx.Client, booth_id: str) -> dict[str, Any]:
    booths = client.get(f"{ADMIN}/fleet").json()["booths"]
    return next(b for b in booths if b["booth_id"] == booth_id)


def test_heartbeats_make_a_booth_online_then_degraded_then_offline(
    server: RunningServer, db: Database, tmp_path: Path, tom: httpx.Client
) -> None:
    booth = new_booth(server, db, tmp_path / "b", "hb-site")
    booth_id = booth.identity.booth_id
    assert row_of(tom, booth_id)["status"] == "offline"  # never heard from

    printer = PeripheralState(role="receipt_printer", state=PeripheralStatus.OK)
    beats = sender(booth, [printer])
    ack = beats.send()
    assert ack.interval_s == 60
    beats.send()  # the second one carries the first one's round trip
    row = row_of(tom, booth_id)
    assert row["status"] == "online"
    assert row["app_version"] == "0.1.0-test"
    assert row["rtt_ms"] is not None and row["rtt_ms"] > 0

    out = PeripheralState(
        role="receipt_printer", state=PeripheralStatus.DEGRADED, reason="papier bientôt épuisé"
    )
    sender(booth, [out]).send()
    row = row_of(tom, booth_id)
    assert row["status"] == "degraded"
    assert row["reasons"] == ["receipt_printer: degraded (papier bientôt épuisé)"]

    detail = tom.get(f"{ADMIN}/booths/{booth_id}").json()
    assert len(detail["history"]) == 3
    assert detail["latest"]["peripherals"][0]["reason"] == "papier bientôt épuisé"
    assert detail["history"][-1]["memory_total_mb"] > 0
    assert detail["config"] is None  # technicians do not read config

    # Three missed heartbeats (60 s each): offline. Move the last one back in time.
    with db.session() as session, session.begin():
        session.execute(
            update(BoothLiveState)
            .where(BoothLiveState.booth_id == booth_id)
            .values(received_at=datetime.now(UTC) - timedelta(seconds=181))
        )
    assert row_of(tom, booth_id)["status"] == "offline"
    counts = tom.get(f"{ADMIN}/fleet").json()["counts"]
    assert counts["offline"] >= 1

    # An unsigned or forged heartbeat is refused.
    forged = httpx.post(
        f"{server.base_url}/api/v1/provisioning/heartbeat",
        content=Heartbeat(app_version="x", config_version=None, uptime_s=1).model_dump_json(),
        headers={"Content-Type": "application/json"},
    )
    assert forged.status_code in (401, 422)


def test_heartbeat_history_is_bounded(
    server: RunningServer, db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    booth_id = new_booth(server, db, tmp_path / "b", "hist").identity.booth_id
    monkeypatch.setattr(fleet, "HISTORY_LIMIT", 5)
    beat = Heartbeat(app_version="1", config_version=1, uptime_s=3)
    for _ in range(8):
        fleet.record_heartbeat(db, booth_id, beat)
    assert len(fleet.booth_detail(db, booth_id).history) == 5


def test_values_inherit_booth_over_site_over_group_over_fleet_and_say_their_source(
    server: RunningServer, db: Database, tmp_path: Path, ada: httpx.Client
) -> None:
    one = new_booth(server, db, tmp_path / "1", "inherit-a").identity.booth_id
    two = new_booth(server, db, tmp_path / "2", "inherit-a").identity.booth_id
    three = new_booth(server, db, tmp_path / "3", "inherit-b").identity.booth_id
    for booth_id in (one, three):
        assert ada.put(
            f"{ADMIN}/booths/{booth_id}/groups", json={"groups": ["ecrans-neufs"]}
        ).is_success

    def apply(scope: str, target: str, values: dict[str, Any]) -> dict[str, Any]:
        response = ada.post(
            f"{ADMIN}/config/apply", json={"scope": scope, "target": target, "set": values}
        )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    apply("fleet", "", {"log_level": "warning"})
    apply("group", "ecrans-neufs", {"volume": 60, "branding.name": "Espace numérique"})
    apply("site", "inherit-a", {"volume": 70})
    apply("booth", two, {"volume": 90})

    def resolved(booth_id: str) -> tuple[dict[str, Any], dict[str, str]]:
        body = ada.get(f"{ADMIN}/config/resolved", params={"booth": booth_id}).json()
        return body["config"], body["sources"]

    config, sources = resolved(one)
    assert (config["volume"], sources["volume"]) == (70, "site:inherit-a")
    assert (config["branding"]["name"], sources["branding.name"]) == (
        "Espace numérique",
        "group:ecrans-neufs",
    )
    assert sources["log_level"] == "fleet"
    assert sources["branding.primary_colour"] == "default"
    config, sources = resolved(two)
    assert (config["volume"], sources["volume"]) == (90, f"booth:{two}")
    assert sources["branding.name"] == "default"
    config, sources = resolved(three)
    assert (config["volume"], sources["volume"]) == (60, "group:ecrans-neufs")

    # Removing the site value lets the group's show through again.
    response = ada.post(
        f"{ADMIN}/config/apply", json={"scope": "site", "target": "inherit-a", "unset": ["volume"]}
    )
    assert response.status_code == 200
    assert resolved(one)[0]["volume"] == 60
    assert resolved(two)[0]["volume"] == 90


def test_invalid_values_are_refused_with_located_errors_and_a_preview_shows_the_diff(
    server: RunningServer, db: Database, tmp_path: Path, ada: httpx.Client
) -> None:
    booth_id = new_booth(server, db, tmp_path / "b", "valid").identity.booth_id
    bad = {"scope": "site", "target": "valid", "set": {"volume": 140, "colour": "red"}}
    preview = ada.post(f"{ADMIN}/config/preview", json=bad).json()
    keys = {e["key"] for e in preview["errors"]}
    assert {"volume", "colour"} <= keys
    refused = ada.post(f"{ADMIN}/config/apply", json=bad)
    assert refused.status_code == 422
    assert refused.json()["detail"]["code"] == "invalid_config"

    good = {"scope": "site", "target": "valid", "set": {"volume": 40}}
    preview = ada.post(f"{ADMIN}/config/preview", json=good).json()
    assert preview["errors"] == []
    assert preview["changes"] == [{"key": "volume", "before": None, "after": 40}]
    assert preview["affected"] == [booth_id]
    # A preview changes nothing.
    assert (
        ada.get(f"{ADMIN}/config/resolved", params={"booth": booth_id}).json()["config"]["volume"]
        == 80
    )


async def test_a_change_signs_a_new_bundle_and_pushes_config_available_to_the_connected_booth(
    server: RunningServer, db: Database, tmp_path: Path, ada: httpx.Client
) -> None:
    booth = new_booth(server, db, tmp_path / "b", "push")
    booth_id = booth.identity.booth_id
    assert booth.sync(healthy) == SyncOutcome.APPLIED
    first = booth.current_version()
    assert first == 1
    # Until the booth side authenticates /ws/booth with its key, a token named after the
    # enrolled booth gives the same hub id.
    _, token = auth.create_booth_token(db, booth_id)
    socket = ProtocolClient(await websockets.connect(f"{server.ws_url}/ws/booth"))
    try:
        await socket.send("hello", token=token, app_version="test")
        assert (await socket.next("welcome"))["booth_id"] == booth_id
        response = ada.post(
            f"{ADMIN}/config/apply", json={"scope": "site", "target": "push", "set": {"volume": 33}}
        )
        assert response.status_code == 200, response.text
        assert response.json()["issued"] == {booth_id: 2}
        assert response.json()["pushed"] == [booth_id]
        message = await socket.next("config_available")
        assert message["version"] == 2
    finally:
        await socket.close()
    assert booth.sync(healthy) == SyncOutcome.APPLIED
    current = booth.store.current()
    assert current is not None
    assert booth.current_version() == 2
    assert json.loads(booth.store.dir.joinpath("bundle.json").read_text())["format"]

    # Same values again: nothing new to sign.
    again = ada.post(
        f"{ADMIN}/config/apply", json={"scope": "site", "target": "push", "set": {"volume": 33}}
    )
    assert again.json()["issued"] == {}


def test_rollout_goes_to_the_canary_group_first_then_the_rest_on_approval_or_after_a_delay(
    server: RunningServer, db: Database, tmp_path: Path, ada: httpx.Client, tom: httpx.Client
) -> None:
    canary = new_booth(server, db, tmp_path / "c", "roll").identity.booth_id
    rest = new_booth(server, db, tmp_path / "r", "roll").identity.booth_id
    assert ada.put(f"{ADMIN}/booths/{canary}/groups", json={"groups": ["pilote"]}).is_success

    def volume(booth_id: str) -> int:
        config = ada.get(f"{ADMIN}/config/resolved", params={"booth": booth_id}).json()["config"]
        return int(config["volume"])

    change = {"scope": "site", "target": "roll", "set": {"volume": 55}, "canary_group": "pilote"}
    started = ada.post(f"{ADMIN}/config/apply", json=change).json()
    rollout_id = started["rollout_id"]
    assert list(started["issued"]) == [canary]
    assert (volume(canary), volume(rest)) == (55, 80)
    rollouts = {r["id"]: r for r in ada.get(f"{ADMIN}/rollouts").json()}
    assert rollouts[rollout_id]["state"] == "canary"
    assert rollouts[rollout_id]["canary_booths"] == [canary]

    assert tom.post(f"{ADMIN}/rollouts/{rollout_id}/approve").status_code == 403
    approved = ada.post(f"{ADMIN}/rollouts/{rollout_id}/approve").json()
    assert list(approved["issued"]) == [rest]
    assert (volume(canary), volume(rest)) == (55, 55)
    assert ada.post(f"{ADMIN}/rollouts/{rollout_id}/approve").status_code == 409

    # With a delay, the rest follows by itself.
    change = {**change, "set": {"volume": 65}, "rest_after_s": 1}
    rollout_id = ada.post(f"{ADMIN}/config/apply", json=change).json()["rollout_id"]
    assert (volume(canary), volume(rest)) == (65, 55)
    time.sleep(1.2)
    rollouts = {r["id"]: r for r in ada.get(f"{ADMIN}/rollouts").json()}
    assert rollouts[rollout_id]["state"] == "complete"
    assert rollouts[rollout_id]["completed_by"] == "system"
    assert volume(rest) == 65


def test_every_staff_action_is_audited_with_before_and_after_and_the_log_is_append_only(
    server: RunningServer, db: Database, tmp_path: Path, ada: httpx.Client, tom: httpx.Client
) -> None:
    booth_id = new_booth(server, db, tmp_path / "b", "audit").identity.booth_id
    assert tom.post(f"{ADMIN}/codes", json={"site": "audit"}).status_code == 200
    ada.post(
        f"{ADMIN}/config/apply", json={"scope": "booth", "target": booth_id, "set": {"volume": 10}}
    )
    ada.post(
        f"{ADMIN}/config/apply", json={"scope": "booth", "target": booth_id, "set": {"volume": 20}}
    )
    assert ada.post(f"{ADMIN}/booths/{booth_id}/revoke").status_code == 204

    entries = ada.get(f"{ADMIN}/audit").json()
    revoke, second, first = entries[0], entries[1], entries[2]
    assert (revoke["actor"], revoke["action"], revoke["target"]) == (
        "ada",
        "booth.revoke",
        booth_id,
    )
    assert (revoke["before"], revoke["after"]) == ({"revoked": False}, {"revoked": True})
    assert (second["before"], second["after"]) == ({"volume": 10}, {"volume": 20})
    assert (first["before"], first["after"]) == ({}, {"volume": 10})
    assert any(e["action"] == "code.create" and e["actor"] == "tom" for e in entries)
    assert any(e["action"] == "login" and e["actor"] == "tom" for e in entries)
    assert datetime.fromisoformat(revoke["at"]) > datetime.now(UTC) - timedelta(minutes=1)

    with db.engine.connect() as conn, pytest.raises(DatabaseError, match="append-only"):
        conn.execute(text("UPDATE audit_log SET actor = 'mallory'"))
    with db.engine.connect() as conn, pytest.raises(DatabaseError, match="append-only"):
        conn.execute(text("DELETE FROM audit_log"))


def test_roles_technician_cannot_change_config_and_agents_cannot_reach_admin_apis(
    server: RunningServer, tom: httpx.Client
) -> None:
    change = {"scope": "fleet", "set": {"volume": 5}}
    assert tom.post(f"{ADMIN}/config/apply", json=change).status_code == 403
    assert tom.get(f"{ADMIN}/audit").status_code == 403
    assert tom.get(f"{ADMIN}/config/layers").status_code == 403
    assert tom.post(f"{ADMIN}/booths/whatever/revoke").status_code == 403
    assert tom.get(f"{ADMIN}/fleet").status_code == 200
    code = tom.post(f"{ADMIN}/codes", json={"site": "roles"}).json()
    assert code["qr_svg"].startswith("<svg")
    assert enrol_uri.parse(code["qr_text"]) == enrol_uri.EnrolTicket(
        code["code"].replace("-", ""), "roles", server.base_url
    )
    assert tom.get(f"{ADMIN}/me").json()["role"] == "technician"

    cookie = login_cookie(server, "alice")  # a real agent session
    with httpx.Client(base_url=server.base_url, cookies={"guichet_session": cookie}) as agent:
        assert agent.get("/api/v1/agent/me").status_code == 200
        assert agent.get(f"{ADMIN}/fleet").status_code == 401
        assert agent.post(f"{ADMIN}/codes", json={"site": "roles"}).status_code == 401
    # Agents' passwords open nothing here either.
    wrong = httpx.post(
        f"{server.base_url}{ADMIN}/login",
        json={"username": "alice", "password": server.agent_passwords["alice"]},
    )
    assert wrong.status_code == 401
    assert httpx.get(f"{server.base_url}{ADMIN}/fleet").status_code == 401

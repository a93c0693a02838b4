"""Enrolment, signed requests and bundles against the real server on 127.0.0.1."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fixtures.server import RunningServer, start_switchboard

from provisioning import service
from provisioning.booth_client import (
    KEY_FILE,
    AlreadyEnrolled,
    ProvisioningClient,
    ProvisioningRefused,
    SyncOutcome,
    enrol,
)
from provisioning.booth_store import ApplyFailed
from provisioning.bundle import BundlePayload, verify_bundle
from provisioning.keys import public_b64, read_private_key
from provisioning.schema import BoothConfig
from provisioning.server import SIGNING_KEY_FILE
from provisioning.signing import HEADER_SIGNATURE, HEADER_TIMESTAMP, sign_request
from switchboard.db import Database

BUNDLE = "/api/v1/provisioning/bundle"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_switchboard(tmp_path_factory.mktemp("prov"), booths=())
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


def healthy(_: BundlePayload) -> bool:
    return True


def enrolled(server: RunningServer, db: Database, state: Path, site: str = "florac") -> str:
    code = service.create_code(db, site).code
    return enrol(server.base_url, site, code, state).booth_id


def test_booth_enrols_with_a_code_and_applies_its_signed_bundle(
    server: RunningServer, db: Database, tmp_path: Path
) -> None:
    code = service.create_code(db, "florac").code
    identity = enrol(server.base_url, "florac", code.lower(), tmp_path / "booth")
    assert identity.booth_id.startswith("florac-")
    assert (tmp_path / "booth" / KEY_FILE).stat().st_mode & 0o777 == 0o600
    server_key = read_private_key(server.data_dir / SIGNING_KEY_FILE)
    assert (server.data_dir / SIGNING_KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert identity.server_public_key == public_b64(server_key.public_key())

    client = ProvisioningClient(tmp_path / "booth")
    assert client.sync(healthy) == SyncOutcome.APPLIED
    assert client.current_version() == 1
    current = client.store.current()
    assert current is not None
    payload = verify_bundle(current, server_key.public_key(), identity.booth_id)
    assert payload.config.switchboard_url == server.base_url
    assert client.sync(healthy) == SyncOutcome.UNCHANGED

    # Only the public key reached the server.
    booth_key = read_private_key(tmp_path / "booth" / KEY_FILE)
    row = service.booth_key(db, identity.booth_id)
    assert row is not None and row.public_key == public_b64(booth_key.public_key())
    pem = (tmp_path / "booth" / KEY_FILE).read_text()
    assert pem.splitlines()[1] not in server.log()
    server_pem = (server.data_dir / SIGNING_KEY_FILE).read_text().splitlines()[1]
    assert server_pem not in server.log()


def test_code_works_once(server: RunningServer, db: Database, tmp_path: Path) -> None:
    code = service.create_code(db, "florac").code
    enrol(server.base_url, "florac", code, tmp_path / "first")
    with pytest.raises(ProvisioningRefused) as info:
        enrol(server.base_url, "florac", code, tmp_path / "second")
    assert (info.value.status, info.value.code) == (403, "code_used")


def test_booths_racing_with_one_code_only_one_wins(server: RunningServer, db: Database) -> None:
    code = service.create_code(db, "florac").code
    url = server.base_url + "/api/v1/provisioning/enrol"

    def attempt(_: int) -> tuple[int, str]:
        key = public_b64(Ed25519PrivateKey.generate().public_key())
        body = {"site": "florac", "code": code, "public_key": key}
        response = requests.post(url, json=body, timeout=30)
        detail = response.json().get("detail")
        return response.status_code, detail["code"] if isinstance(detail, dict) else ""

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(attempt, range(8)))
    assert sorted(results) == [(200, "")] + [(403, "code_used")] * 7


def test_expired_code_is_refused(server: RunningServer, db: Database, tmp_path: Path) -> None:
    day_ago = datetime.now(UTC) - timedelta(hours=25)
    code = service.create_code(db, "florac", now=day_ago).code
    with pytest.raises(ProvisioningRefused) as info:
        enrol(server.base_url, "florac", code, tmp_path / "booth")
    assert (info.value.status, info.value.code) == (403, "code_expired")


def test_code_for_another_site_is_refused_and_stays_usable(
    server: RunningServer, db: Database, tmp_path: Path
) -> None:
    code = service.create_code(db, "florac").code
    with pytest.raises(ProvisioningRefused) as info:
        enrol(server.base_url, "mende", code, tmp_path / "wrong")
    assert (info.value.status, info.value.code) == (403, "wrong_site")
    assert enrol(server.base_url, "florac", code, tmp_path / "right").site == "florac"


def test_unknown_code_and_bad_key_are_refused(server: RunningServer, tmp_path: Path) -> None:
    with pytest.raises(ProvisioningRefused) as info:
        enrol(server.base_url, "florac", "AAAA-BBBB-CCCC-DDDD", tmp_path / "booth")
    assert (info.value.status, info.value.code) == (403, "unknown_code")
    bad = {"site": "florac", "code": "x", "public_key": base64.b64encode(b"k" * 33).decode()}
    response = requests.post(server.base_url + "/api/v1/provisioning/enrol", json=bad, timeout=5)
    assert response.status_code == 400  # 44 base64 characters, but 33 bytes: not a key
    assert response.json()["detail"]["code"] == "bad_key"
    short = {**bad, "public_key": "abc"}
    response = requests.post(server.base_url + "/api/v1/provisioning/enrol", json=short, timeout=5)
    assert response.status_code == 422


def test_revoked_booth_is_refused_at_once(
    server: RunningServer, db: Database, tmp_path: Path
) -> None:
    booth_id = enrolled(server, db, tmp_path / "booth")
    client = ProvisioningClient(tmp_path / "booth")
    assert client.sync(healthy) == SyncOutcome.APPLIED
    service.revoke(db, booth_id)
    with pytest.raises(ProvisioningRefused) as info:
        client.fetch_bundle()
    assert (info.value.status, info.value.code) == (403, "revoked")


def test_wiped_booth_enrols_again_with_a_new_code(
    server: RunningServer, db: Database, tmp_path: Path
) -> None:
    state = tmp_path / "booth"
    old_id = enrolled(server, db, state)
    with pytest.raises(AlreadyEnrolled):
        enrol(server.base_url, "florac", service.create_code(db, "florac").code, state)
    service.revoke(db, old_id)
    for path in state.iterdir():
        path.unlink()  # the technician wipes the booth
    new_id = enrolled(server, db, state)
    assert new_id != old_id
    assert ProvisioningClient(state).sync(healthy) == SyncOutcome.APPLIED


def test_signed_requests_cannot_be_replayed_forged_or_moved(
    server: RunningServer, db: Database, tmp_path: Path
) -> None:
    booth_id = enrolled(server, db, tmp_path / "booth")
    key = read_private_key(tmp_path / "booth" / KEY_FILE)
    url = server.base_url + BUNDLE

    def get(headers: dict[str, str]) -> tuple[int, str]:
        response = requests.get(url, headers=headers, timeout=5)
        detail = response.json().get("detail", {}) if response.status_code != 200 else {}
        return response.status_code, detail.get("code", "") if isinstance(detail, dict) else ""

    headers = sign_request(key, booth_id, "GET", BUNDLE)
    assert get(headers)[0] == 200
    assert get(headers) == (401, "replayed")
    assert get({}) == (401, "unsigned")
    other = Ed25519PrivateKey.generate()
    assert get(sign_request(other, booth_id, "GET", BUNDLE)) == (401, "bad_signature")
    moved = sign_request(key, booth_id, "GET", "/api/v1/provisioning/other")
    assert get(moved) == (401, "bad_signature")
    with_body = sign_request(key, booth_id, "GET", BUNDLE, b"{}")
    assert get(with_body) == (401, "bad_signature")
    stale = sign_request(key, booth_id, "GET", BUNDLE, timestamp=1_000_000_000)
    assert get(stale) == (401, "clock_skew")
    changed_time = sign_request(key, booth_id, "GET", BUNDLE)
    changed_time[HEADER_TIMESTAMP] = str(int(changed_time[HEADER_TIMESTAMP]) - 1)
    assert get(changed_time) == (401, "bad_signature")
    garbled = sign_request(key, booth_id, "GET", BUNDLE)
    garbled[HEADER_SIGNATURE] = "not base64!"
    assert get(garbled) == (401, "unsigned")
    assert get(sign_request(key, "nobody-000000", "GET", BUNDLE)) == (401, "unknown_booth")


def test_new_config_arrives_as_a_new_version_and_a_bad_one_rolls_back(
    server: RunningServer, db: Database, tmp_path: Path
) -> None:
    booth_id = enrolled(server, db, tmp_path / "booth")
    client = ProvisioningClient(tmp_path / "booth")
    assert client.sync(healthy) == SyncOutcome.APPLIED
    first = client.store.current()
    new = BoothConfig(switchboard_url=server.base_url, volume=30, services=["caf"])
    service.set_config(db, booth_id, new)
    with pytest.raises(ApplyFailed):
        client.sync(lambda payload: payload.config.volume > 50)
    assert client.store.current() == first
    assert client.sync(healthy) == SyncOutcome.SKIPPED_REJECTED
    service.set_config(db, booth_id, new.model_copy(update={"volume": 60}))
    assert client.sync(healthy) == SyncOutcome.APPLIED
    assert client.current_version() == 3

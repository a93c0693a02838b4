"""The booth's key on the real server: signed WebSocket upgrade, signed catalogue,
rejection reports, revocation closing a connected socket with 4403."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
import websockets
from fixtures.server import RunningServer

from provisioning import service
from provisioning.booth_client import ProvisioningClient, enrol
from switchboard.db import Database

SITE = "florac"


def _enrolled(server: RunningServer, tmp_path: Path) -> tuple[ProvisioningClient, Database]:
    db = Database(f"sqlite:///{server.data_dir / 'guichet.sqlite3'}")
    code = service.create_code(db, SITE).code
    enrol(server.base_url, SITE, code, tmp_path / "booth")
    return ProvisioningClient(tmp_path / "booth"), db


async def _hello(ws: websockets.ClientConnection) -> dict[str, object]:
    await ws.send(json.dumps({"v": 1, "type": "hello", "app_version": "test"}))
    return dict(json.loads(await asyncio.wait_for(ws.recv(), 5)))


def test_signed_upgrade_is_welcomed_and_revocation_closes_it_4403(
    switchboard: RunningServer, tmp_path: Path
) -> None:
    client, db = _enrolled(switchboard, tmp_path)
    booth_id = client.identity.booth_id
    url = switchboard.ws_url + "/ws/booth"

    async def scenario() -> None:
        headers = client.signed_headers("GET", "/ws/booth")
        async with websockets.connect(url, additional_headers=headers) as ws:
            welcome = await _hello(ws)
            assert welcome["type"] == "welcome"
            assert welcome["booth_id"] == booth_id
            await asyncio.to_thread(service.revoke, db, booth_id)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(ws.recv(), 10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
        # Connecting again is refused at once, with the same code.
        headers = client.signed_headers("GET", "/ws/booth")
        async with websockets.connect(url, additional_headers=headers) as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(ws.recv(), 5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403

    try:
        asyncio.run(scenario())
    finally:
        db.close()


def test_replayed_or_foreign_signature_is_refused_4401(
    switchboard: RunningServer, tmp_path: Path
) -> None:
    client, db = _enrolled(switchboard, tmp_path)
    url = switchboard.ws_url + "/ws/booth"

    async def refused(headers: dict[str, str]) -> int:
        async with websockets.connect(url, additional_headers=headers) as ws:
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), 5)
            except websockets.ConnectionClosed as exc:
                assert exc.rcvd is not None
                return exc.rcvd.code

    async def scenario() -> None:
        headers = client.signed_headers("GET", "/ws/booth")
        async with websockets.connect(url, additional_headers=headers) as ws:
            assert (await _hello(ws))["type"] == "welcome"
        assert await refused(headers) == 4401  # the same nonce again: a replay
        other_path = client.signed_headers("GET", "/api/v1/catalogue")
        assert await refused(other_path) == 4401  # signed for another path

    try:
        asyncio.run(scenario())
    finally:
        db.close()


def test_signed_catalogue_and_rejection_report(switchboard: RunningServer, tmp_path: Path) -> None:
    client, db = _enrolled(switchboard, tmp_path)
    try:
        headers = client.signed_headers("GET", "/api/v1/catalogue")
        response = httpx.get(switchboard.base_url + "/api/v1/catalogue", headers=headers)
        assert response.status_code == 200
        assert response.json()["services"]
        unsigned = httpx.get(switchboard.base_url + "/api/v1/catalogue")
        assert unsigned.status_code == 401

        client.report_rejection(4, "bad_signature", "signature does not match")
        rejection = service.last_rejection(db, client.identity.booth_id)
        assert rejection is not None
        assert (rejection.version, rejection.code) == (4, "bad_signature")
        row = next(b for b in service.fleet(db) if b.booth_id == client.identity.booth_id)
        assert row.last_rejection == rejection
    finally:
        db.close()

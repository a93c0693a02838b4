"""The integrators' REST API on the real switchboard: keys, scopes, queues, events, stats."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fixtures.clients import agent, booth
from fixtures.server import REPO, RunningServer, start_switchboard

from switchboard import integration
from switchboard.db import Database
from switchboard.integration import Scope

pytestmark = pytest.mark.timeout(90)


def _key(server: RunningServer, name: str, scopes: list[Scope]) -> str:
    db = Database(f"sqlite:///{server.data_dir / 'guichet.sqlite3'}")
    try:
        return integration.create_key(db, name, scopes)[1]
    finally:
        db.close()


def _get(server: RunningServer, path: str, token: str | None, **params: object) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(
        f"{server.base_url}/api/v1/integration{path}", headers=headers, params=params, timeout=10
    )


async def test_a_portal_reads_queues_and_events_with_a_key_scoped_to_them(tmp_path: Path) -> None:
    server = start_switchboard(tmp_path)
    try:
        portal = _key(server, "portail-caf", [Scope.QUEUES, Scope.EVENTS])
        stats_only = _key(server, "tableau-de-bord", [Scope.STATS])

        alice = await agent(server, "alice")
        citizen = await booth(server, "booth-1")
        await citizen.send("join_queue", service_id="caf")
        await citizen.next("queued")
        await asyncio.sleep(0.2)
        queues = (await asyncio.to_thread(_get, server, "/queues", portal)).json()
        caf = next(s for s in queues["services"] if s["service_id"] == "caf")
        assert (caf["waiting"], caf["agents_available"]) == (1, 1)
        assert caf["estimated_wait_s"] > 0 and caf["name"]

        await alice.send("answer_next")
        call_id = str((await alice.next("call_assigned"))["call_id"])
        await citizen.next("call_started")
        await citizen.send("hangup", call_id=call_id)
        await alice.next("call_ended")
        await citizen.send("survey", call_id=call_id, rating=2, reason="unclear")
        for client in (citizen, alice):
            await client.close()

        deadline = time.monotonic() + 10
        while True:
            page = (await asyncio.to_thread(_get, server, "/events", portal)).json()
            if len(page["events"]) >= 3 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        ended_only = (
            await asyncio.to_thread(_get, server, "/events", portal, type="call.ended")
        ).json()
        later = (
            await asyncio.to_thread(_get, server, "/events", portal, after=page["next_after"])
        ).json()
        paged = (await asyncio.to_thread(_get, server, "/events", portal, limit=1)).json()
        stats = await asyncio.to_thread(_get, server, "/stats", stats_only)

        # Least privilege: each key reaches its scopes only; no key, a wrong or revoked key: 401.
        forbidden_stats = await asyncio.to_thread(_get, server, "/stats", portal)
        forbidden_queues = await asyncio.to_thread(_get, server, "/queues", stats_only)
        no_key = await asyncio.to_thread(_get, server, "/queues", None)
        wrong = await asyncio.to_thread(_get, server, "/queues", "gik_" + "x" * 43)
        revoked = subprocess.run(
            [
                sys.executable,
                "-m",
                "guichet.cli",
                "integration-key",
                "revoke",
                "portail-caf",
                "--data-dir",
                str(server.data_dir),
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        after_revoke = await asyncio.to_thread(_get, server, "/queues", portal)
        bad_type = await asyncio.to_thread(_get, server, "/events", stats_only, type="nope")
    finally:
        server.stop()

    assert [e["type"] for e in page["events"]] == ["call.started", "call.ended", "survey.submitted"]
    seqs = [e["seq"] for e in page["events"]]
    assert seqs == sorted(seqs) and page["next_after"] == seqs[-1]
    assert all(e["data"]["call_id"] == call_id for e in page["events"])
    assert page["events"][2]["data"]["rating"] == 2
    assert page["events"][2]["data"]["reason"] == "unclear"
    assert [e["type"] for e in ended_only["events"]] == ["call.ended"]
    assert later["events"] == [] and later["next_after"] == page["next_after"]
    assert len(paged["events"]) == 1 and paged["next_after"] == seqs[0]
    assert stats.status_code == 200 and "by_day" in stats.json()

    assert forbidden_stats.status_code == 403 and "'stats' scope" in forbidden_stats.text
    assert forbidden_queues.status_code == 403
    assert no_key.status_code == 401 and no_key.headers["www-authenticate"] == "Bearer"
    assert wrong.status_code == 401
    assert revoked.returncode == 0, revoked.stderr
    assert after_revoke.status_code == 401
    assert bad_type.status_code == 403  # scope is checked before the query


def test_the_cli_prints_a_token_once_and_refuses_bad_scopes(tmp_path: Path) -> None:
    data = tmp_path / "data"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "guichet.cli",
                "integration-key",
                *args,
                "--data-dir",
                str(data),
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )

    made = cli("create", "portail", "--scopes", "queues,events")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("gik_") and len(token) > 40
    assert "shown once" in made.stderr
    listed = cli("list")
    assert "portail\tevents,queues\tactive" in listed.stdout
    assert token not in listed.stdout
    again = cli("create", "portail", "--scopes", "queues")
    assert again.returncode == 2 and "revoke it first" in again.stderr
    bad = cli("create", "autre", "--scopes", "queues,everything")
    assert bad.returncode == 2 and "scopes are among" in bad.stderr
    db = Database(f"sqlite:///{data / 'guichet.sqlite3'}")
    try:
        assert integration.key_for_token(db, token) is not None
        assert integration.key_for_token(db, "not-a-key") is None
    finally:
        db.close()

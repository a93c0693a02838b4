"""Statistics through the real switchboard: calls and ratings counted, read by an admin."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from fixtures.clients import agent, booth
from fixtures.server import RunningServer, add_staff_accounts, start_switchboard

pytestmark = pytest.mark.timeout(90)


@contextlib.contextmanager
def _signed_in(server: RunningServer, username: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url) as client:
        answer = client.post(
            "/api/v1/admin/login", json={"username": username, "password": f"{username}-pw"}
        )
        assert answer.status_code == 200
        yield client


async def test_calls_abandons_and_ratings_reach_the_admins_statistics(tmp_path: Path) -> None:
    server = start_switchboard(tmp_path)
    try:
        alice = await agent(server, "alice")
        citizen = await booth(server, "booth-1")
        # One citizen gives up while waiting…
        await citizen.send("join_queue", service_id="caf")
        await citizen.next("queued")
        await citizen.send("leave_queue")
        await citizen.next("left_queue")
        # …the next is answered, the call ends, and they rate it.
        await citizen.send("join_queue", service_id="caf")
        await citizen.next("queued")
        await alice.send("answer_next")
        call_id = str((await alice.next("call_assigned"))["call_id"])
        await citizen.next("call_started")
        await alice.send("hangup", call_id=call_id)
        await citizen.next("call_ended")
        await citizen.send("survey", call_id=call_id, rating=3, reason="other")
        # A second rating of the same call, or of a call that is not this booth's, is refused.
        await citizen.send("survey", call_id=call_id, rating=1)
        assert (await citizen.next("error"))["code"] == "no_call"
        other = await booth(server, "booth-2")
        await other.send("survey", call_id=call_id, rating=1)
        assert (await other.next("error"))["code"] == "no_call"
        await citizen.send("survey", call_id=call_id, rating=7)
        assert (await citizen.next("error"))["code"] == "malformed"
        for client in (citizen, other, alice):
            await client.close()
        await asyncio.sleep(1.5)  # the recorder writes once a second

        add_staff_accounts(server)
        with _signed_in(server, "tom") as tom:
            assert tom.get("/api/v1/admin/stats").status_code == 403
            assert tom.get("/api/v1/admin/stats.csv").status_code == 403
        with _signed_in(server, "ada") as ada:
            view = ada.get("/api/v1/admin/stats").json()
            csv_answer = ada.get("/api/v1/admin/stats.csv")
            too_long = ada.get("/api/v1/admin/stats", params={"start": "2020-01-01"})
            backwards = ada.get(
                "/api/v1/admin/stats", params={"start": "2026-02-01", "end": "2026-01-01"}
            )
            other_service = ada.get("/api/v1/admin/stats", params={"service": "impots"}).json()
    finally:
        server.stop()

    total = view["total"]
    assert (total["offered"], total["answered"], total["abandoned"], total["ended"]) == (2, 1, 1, 1)
    assert (total["rating_happy"], total["rating_unhappy"], total["reason_other"]) == (1, 0, 1)
    assert total["abandonment_rate"] == 0.5
    assert total["satisfaction"] == 1.0
    assert [s["name"] for s in view["by_service"]] == ["caf"]
    assert [s["name"] for s in view["by_site"]] == ["-"]  # token booths have no site
    assert len(view["by_day"]) == 30
    assert sum(d["offered"] for d in view["by_day"]) == 2
    assert view["services"] == ["caf"]
    assert view["service_names"]["caf"] == "Allocations familiales"
    assert other_service["total"]["offered"] == 0

    assert csv_answer.status_code == 200
    assert csv_answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv_answer.headers["content-disposition"]
    text = csv_answer.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0][:4] == ["jour", "service", "site", "appels_proposes"]
    assert len(rows) == 2 and rows[1][1:5] == ["caf", "-", "2", "1"]
    assert date.fromisoformat(rows[1][0]) >= date.today() - timedelta(days=1)

    assert too_long.status_code == 422 and "400 days" in too_long.text
    assert backwards.status_code == 422 and "after its end" in backwards.text

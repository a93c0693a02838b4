"""The audit trail end to end: a real server on 127.0.0.1 and its SQLite file, an agent
answering and ending a call, device work reported over HTTP, an admin export, then
``guichet audit verify`` passing, and failing on an edited, removed or swapped entry."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fixtures.clients import agent, booth, login_cookie
from fixtures.server import REPO, RunningServer, start_switchboard
from sqlalchemy import create_engine

from provisioning import audit_trail
from switchboard import auth
from switchboard.auth import StaffRole
from switchboard.db import Database

CARD_UID = "04A1B2C3D4E5F6"
CODE_TEXT = "CONVOC-2026-000123"
WAIT_S = 10.0


def guichet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "guichet.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )


def actions(db_file: Path) -> list[tuple[str, str, str]]:
    engine = create_engine(f"sqlite:///{db_file}")
    try:
        return [(e.actor, e.action, e.target) for e in audit_trail.read_entries(engine)]
    finally:
        engine.dispose()


def wait_for_action(db_file: Path, action: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if any(a == action for _, a, _ in actions(db_file)):
            return
        time.sleep(0.05)
    raise AssertionError(f"{action} never reached the audit trail: {actions(db_file)}")


def report(client: httpx.Client, **fields: Any) -> httpx.Response:
    return client.post("/api/v1/agent/audit", json=fields)


def agent_client(server: RunningServer, username: str) -> httpx.Client:
    cookie = login_cookie(server, username)
    return httpx.Client(base_url=server.base_url, cookies={"guichet_session": cookie}, timeout=10)


def tampered_copy(db_file: Path, dest: Path, statement: str, params: tuple[int, ...] = ()) -> Path:
    """A copy of the database changed the way someone with the file would: triggers first."""
    with sqlite3.connect(db_file) as src, sqlite3.connect(dest) as out:
        src.backup(out)
    with sqlite3.connect(dest) as conn:
        conn.execute("DROP TRIGGER audit_log_no_UPDATE")
        conn.execute("DROP TRIGGER audit_log_no_DELETE")
        conn.execute(statement, params)
    conn.close()
    return dest


def swap_entries(db_file: Path, a: int, b: int) -> None:
    """Exchange the contents of two rows (the unique columns go through scratch values)."""
    with sqlite3.connect(db_file) as conn:
        rows = conn.execute(
            "SELECT id, seq, at, actor, role, action, target, before, after, prev_hash, hash"
            " FROM audit_log WHERE seq IN (?, ?) ORDER BY id",
            (a, b),
        ).fetchall()
        (id_a, *row_a), (id_b, *row_b) = rows
        conn.execute(
            "UPDATE audit_log SET seq = -seq, prev_hash = 'x' || seq, hash = 'y' || seq"
            " WHERE seq IN (?, ?)",
            (a, b),
        )
        update = (
            "UPDATE audit_log SET seq = ?, at = ?, actor = ?, role = ?, action = ?, target = ?,"
            " before = ?, after = ?, prev_hash = ?, hash = ? WHERE id = ?"
        )
        conn.execute(update, (*row_b, id_a))
        conn.execute(update, (*row_a, id_b))
    conn.close()


@pytest.fixture
def server(tmp_path: Path) -> Any:
    running = start_switchboard(tmp_path)
    db = Database(f"sqlite:///{running.data_dir / 'guichet.sqlite3'}")
    auth.add_staff(db, "ada", "ada-pw", StaffRole.ADMIN, "Ada Admin")
    db.close()
    try:
        yield running
    finally:
        running.stop()


async def test_a_call_and_its_device_work_are_chained_and_tampering_is_named(
    server: RunningServer, tmp_path: Path
) -> None:
    db_file = server.data_dir / "guichet.sqlite3"
    alice_ws = await agent(server, "alice")
    citizen = await booth(server, "booth-1")
    await citizen.send("join_queue", service_id="caf", language="fr")
    await citizen.next("queued")
    await alice_ws.send("answer_next")
    call_id = (await alice_ws.next("call_assigned"))["call_id"]
    await citizen.next("call_started")
    await asyncio.to_thread(wait_for_action, db_file, "call.answered")

    alice = agent_client(server, "alice")
    bob = agent_client(server, "bob")
    try:
        base = {"call_id": call_id, "request_id": "r-1"}
        done = report(alice, **base, kind="print_pdf", outcome="done", pages=2)
        assert done.status_code == 201, done.text
        assert done.json()["seq"] > 1
        assert report(alice, **base, kind="read_card", outcome="done").status_code == 201
        failed = report(alice, **base, kind="read_code", outcome="failed", error="timeout")
        assert failed.status_code == 201

        # What the server refuses: the citizen's data, another agent, an unknown call,
        # no session, a foreign page riding on the cookie.
        leaking = report(alice, **base, kind="read_card", outcome="done", uid=CARD_UID)
        assert leaking.status_code == 422
        leaking = report(alice, **base, kind="read_code", outcome="done", text=CODE_TEXT)
        assert leaking.status_code == 422
        assert report(bob, **base, kind="scan", outcome="done").status_code == 403
        unknown = {"call_id": "c-0000000000000000", "request_id": "r"}
        assert report(alice, **unknown, kind="scan", outcome="done").status_code == 404
        anonymous = httpx.post(
            f"{server.base_url}/api/v1/agent/audit",
            json={**base, "kind": "scan", "outcome": "done"},
            timeout=10,
        )
        assert anonymous.status_code == 401
        foreign = alice.post(
            "/api/v1/agent/audit",
            json={**base, "kind": "scan", "outcome": "done"},
            headers={"Origin": "https://evil.example"},
        )
        assert foreign.status_code == 403

        # The agent hangs up; a report sent as the call ended is still taken.
        await alice_ws.send("hangup", call_id=call_id)
        await citizen.next("call_ended")
        await asyncio.to_thread(wait_for_action, db_file, "call.ended")
        late = report(alice, **base, kind="scan", outcome="cancelled", error="cancelled")
        assert late.status_code == 201
    finally:
        alice.close()
        bob.close()
        await alice_ws.close()
        await citizen.close()

    trail = actions(db_file)
    assert [(a, act) for a, act, t in trail if t == call_id] == [
        ("alice", "call.answered"),
        ("alice", "device.print_pdf"),
        ("alice", "device.read_card"),
        ("alice", "device.read_code"),
        ("alice", "call.ended"),
        ("alice", "device.scan"),
    ]

    # An admin exports it over HTTP; the export verifies and ends with its own entry.
    with httpx.Client(base_url=server.base_url, timeout=10) as ada:
        login = ada.post("/api/v1/admin/login", json={"username": "ada", "password": "ada-pw"})
        assert login.is_success
        exported = ada.get("/api/v1/admin/audit/export")
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("application/x-ndjson")
        listed = ada.get("/api/v1/admin/audit").json()
        assert listed[0]["action"] == "audit.export" and listed[0]["seq"] == len(listed)
    assert httpx.get(f"{server.base_url}/api/v1/admin/audit/export").status_code == 401
    lines = [json.loads(line) for line in exported.text.splitlines()]
    assert [line["seq"] for line in lines] == list(range(1, len(lines) + 1))
    assert lines[-1]["action"] == "audit.export"
    pdf = next(line for line in lines if line["action"] == "device.print_pdf")
    assert pdf["details"]["after"] == {
        "request": "r-1",
        "outcome": "done",
        "pages": 2,
        "reported_by": "console",
    }
    http_export = tmp_path / "http-export.jsonl"
    http_export.write_text(exported.text, encoding="utf-8")

    server.stop()
    # No citizen data anywhere: not in the export, not in the database file.
    raw = db_file.read_bytes() + b"".join(
        p.read_bytes() for p in db_file.parent.glob("guichet.sqlite3-*")
    )
    for secret in (CARD_UID, CODE_TEXT):
        assert secret not in exported.text
        assert secret.encode() not in raw

    ok = guichet("audit", "verify", "--db", str(db_file))
    assert ok.returncode == 0, ok.stderr
    assert f"audit trail intact: {len(lines)} entries" in ok.stdout
    out = tmp_path / "export.jsonl"
    exported_cli = guichet("audit", "export", "--db", str(db_file), "--out", str(out))
    assert exported_cli.returncode == 0, exported_cli.stderr
    assert out.stat().st_mode & 0o777 == 0o600
    assert out.read_text(encoding="utf-8") == exported.text
    assert guichet("audit", "verify", str(out)).returncode == 0
    against = guichet("audit", "verify", "--db", str(db_file), "--against", str(http_export))
    assert against.returncode == 0, against.stderr

    # Someone with the file drops the triggers and edits, removes or swaps entries.
    edited = tampered_copy(
        db_file,
        tmp_path / "edited.sqlite3",
        "UPDATE audit_log SET after = json_set(after, '$.pages', 1) "
        "WHERE action = 'device.print_pdf'",
    )
    pdf_seq = pdf["seq"]
    result = guichet("audit", "verify", "--db", str(edited))
    assert result.returncode == 1
    assert f"at entry {pdf_seq}: its content does not match its hash (edited)" in result.stderr

    removed = tampered_copy(
        db_file, tmp_path / "removed.sqlite3", "DELETE FROM audit_log WHERE seq = ?", (pdf_seq,)
    )
    result = guichet("audit", "verify", "--db", str(removed))
    assert result.returncode == 1
    assert f"at entry {pdf_seq + 1}: entry {pdf_seq} missing" in result.stderr

    a, b = pdf_seq, pdf_seq + 1
    swapped = tampered_copy(db_file, tmp_path / "swapped.sqlite3", "SELECT 1")
    swap_entries(swapped, a, b)
    assert [s for _, s in _seqs(swapped)][a - 1 : b] == [b, a]
    result = guichet("audit", "verify", "--db", str(swapped))
    assert result.returncode == 1
    assert f"at entry {b}: comes before entry {a}" in result.stderr

    truncated = tampered_copy(
        db_file, tmp_path / "cut.sqlite3", "DELETE FROM audit_log WHERE seq = ?", (len(lines),)
    )
    result = guichet("audit", "verify", "--db", str(truncated))
    assert result.returncode == 1
    assert f"at entry {len(lines)}: entry {len(lines)} missing at the end" in result.stderr

    # An edited export line is found too, and so is an export cut short against the db.
    tampered_lines = exported.text.splitlines()
    tampered_lines[pdf_seq - 1] = tampered_lines[pdf_seq - 1].replace('"pages":2', '"pages":9')
    bad_file = tmp_path / "bad.jsonl"
    bad_file.write_text("\n".join(tampered_lines) + "\n", encoding="utf-8")
    result = guichet("audit", "verify", str(bad_file))
    assert result.returncode == 1
    assert f"entry {pdf_seq}: its content does not match its hash" in result.stderr
    result = guichet("audit", "verify", "--db", str(removed), "--against", str(http_export))
    assert result.returncode == 1
    missing = guichet("audit", "verify", "--db", str(tmp_path / "nope.sqlite3"))
    assert missing.returncode == 2
    assert "no database at" in missing.stderr


def _seqs(db_file: Path) -> list[tuple[int, int]]:
    with sqlite3.connect(db_file) as conn:
        rows = conn.execute("SELECT id, seq FROM audit_log ORDER BY id").fetchall()
    conn.close()
    return [(int(i), int(s)) for i, s in rows]

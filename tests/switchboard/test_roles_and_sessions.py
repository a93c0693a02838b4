"""Least privilege between the four roles, session lifetimes, and the OpenID Connect
settings that production refuses (plain-HTTP issuer, readable secret file)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest
import websockets
from fixtures.clients import ProtocolClient
from fixtures.server import RunningServer

from switchboard import auth
from switchboard.app import create_app
from switchboard.auth import StaffRole
from switchboard.db import Database
from switchboard.settings import ServerSettings, SettingsError, load_settings


def test_sessions_end_when_idle_or_too_old() -> None:
    now = [1000.0]
    store = auth.SessionStore(ttl_s=100, clock=lambda: now[0], idle_s=30)
    token = store.create("alice")
    for _ in range(3):  # used every 20 s: alive past the idle time...
        now[0] += 20
        assert store.username(token) == "alice"
    now[0] += 25
    assert store.get(token, touch=False) is not None  # looking does not count as use
    now[0] += 10
    assert store.username(token) is None  # ...idle 35 s: gone
    token = store.create("alice")
    for _ in range(5):
        now[0] += 20
        store.touch(token)
    assert store.username(token) is None  # used all along, but 100 s old: gone


def test_oidc_settings_refused_in_production(tmp_path: Path) -> None:
    secret = tmp_path / "client.secret"
    secret.write_text("s" * 40, encoding="utf-8")
    secret.chmod(0o644)
    path = tmp_path / "guichet.toml"
    path.write_text(
        "[oidc]\n"
        'issuer = "http://idp.example.fr/realms/agents"\n'
        'client_id = "guichet"\n'
        f'client_secret_file = "{secret}"\n'
        'redirect_base_url = "http://guichet.example.fr"\n',
        encoding="utf-8",
    )
    settings = load_settings(path, data_dir=tmp_path / "var")
    problems = " | ".join(settings.production_problems())
    assert "https OpenID Connect issuer" in problems
    assert "https oidc.redirect_base_url" in problems
    assert "readable or writable by others" in problems
    assert "s" * 40 not in problems
    # Even in demo mode, a secret file others can read stops the start.
    demo = settings.model_copy(update={"demo": True})
    with pytest.raises(SettingsError, match="OIDC client secret file"):
        create_app(demo)
    with pytest.raises(SettingsError, match="openid"):
        load_settings(None, oidc={**settings.oidc.model_dump(), "scopes": ["profile"]})  # type: ignore[union-attr]


def test_idle_lifetime_never_exceeds_the_absolute_one() -> None:
    settings = ServerSettings(session_ttl_s=600, session_idle_s=7200)
    assert settings.session_idle_s == 600


def test_database_from_before_roles_gets_the_role_column(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE agent (username VARCHAR(64) PRIMARY KEY, display_name VARCHAR(120),"
            " password_hash VARCHAR(300), services JSON)"
        )
        conn.execute("INSERT INTO agent VALUES ('old', 'Old', 'x', '[\"caf\"]')")
    db = Database(f"sqlite:///{path}")
    try:
        old = auth.get_agent(db, "old")
        assert old is not None and old.roles == ["agent"]
        sue = auth.add_agent(db, "sue", "pw", ["caf"], None, role="supervisor")
        assert sue.roles == ["supervisor"]
    finally:
        db.close()


def _sign_in(client: httpx.Client, login_path: str, username: str, pw: str) -> httpx.Client:
    answer = client.post(login_path, json={"username": username, "password": pw})
    assert answer.status_code == 200, answer.text
    return client


async def test_each_role_is_refused_what_it_may_not_do(switchboard: RunningServer) -> None:
    db = Database(f"sqlite:///{switchboard.data_dir / 'guichet.sqlite3'}")
    try:
        auth.add_agent(db, "sue", "sue-pw", ["caf"], None, role="supervisor")
        auth.add_staff(db, "ada", "ada-pw", StaffRole.ADMIN)
        auth.add_staff(db, "tom", "tom-pw", StaffRole.TECHNICIAN)
    finally:
        db.close()
    console, admin = "/api/v1/agent/login", "/api/v1/admin/login"
    report = {"call_id": "c-1", "request_id": "r-1", "kind": "print", "outcome": "done"}

    with httpx.Client(base_url=switchboard.base_url) as agent:
        _sign_in(agent, console, "alice", "alice-pw")
        assert agent.get("/api/v1/supervisor/overview").status_code == 403
        assert agent.get("/api/v1/admin/fleet").status_code == 401  # not signed in there

    with httpx.Client(base_url=switchboard.base_url) as supervisor:
        _sign_in(supervisor, console, "sue", "sue-pw")
        assert supervisor.get("/api/v1/supervisor/overview").status_code == 200
        assert supervisor.post("/api/v1/agent/audit", json=report).status_code == 403
        assert supervisor.get("/api/v1/admin/fleet").status_code == 401
        cookie = supervisor.cookies["guichet_session"]
        ws = ProtocolClient(
            await websockets.connect(
                f"{switchboard.ws_url}/ws/agent",
                additional_headers={"Cookie": f"guichet_session={cookie}"},
            )
        )
        assert await ws.closed_with() == 4403

    with httpx.Client(base_url=switchboard.base_url) as technician:
        _sign_in(technician, admin, "tom", "tom-pw")
        assert technician.get("/api/v1/admin/fleet").status_code == 200
        assert technician.get("/api/v1/admin/audit").status_code == 403
        assert technician.post("/api/v1/admin/config/apply", json={}).status_code == 403
        assert technician.get("/api/v1/agent/me").status_code == 401

    with httpx.Client(base_url=switchboard.base_url) as admin_client:
        _sign_in(admin_client, admin, "ada", "ada-pw")
        assert admin_client.get("/api/v1/admin/audit").status_code == 200
        # An admin is not an agent: the agent console and the supervisor view stay shut.
        assert admin_client.get("/api/v1/agent/me").status_code == 401
        assert admin_client.get("/api/v1/supervisor/overview").status_code == 401

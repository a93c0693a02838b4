"""HTTP side of the real switchboard: health, catalogue, agent login, docs, headers."""

from __future__ import annotations

import re

import httpx
import pytest
from fixtures.server import RunningServer

pytestmark = pytest.mark.timeout(60)


def test_catalogue_needs_a_booth_token(switchboard: RunningServer) -> None:
    url = f"{switchboard.base_url}/api/v1/catalogue"
    assert httpx.get(url).status_code == 401
    refused = httpx.get(url, headers={"Authorization": "Bearer wrong-token"})
    assert refused.status_code == 401
    assert refused.json()["detail"]
    ok = httpx.get(url, headers={"Authorization": f"Bearer {switchboard.booth_tokens['booth-1']}"})
    assert ok.status_code == 200
    services = {s["id"]: s for s in ok.json()["services"]}
    assert services["caf"]["open_now"] is True
    assert services["caf"]["hours"] == {
        "fr": "7 j/7, 24 h/24",
        "en": "24/7",
        "es": "todos los días, 24 h",
        "ar": "كل يوم، 24 ساعة",
        "pt": "todos os dias, 24 h",
    }
    assert services["caf"]["waiting"] == 0
    assert services["justice"]["hours"]["en"] == "Tue 14:00–16:00"


def test_agent_login_me_logout(switchboard: RunningServer) -> None:
    with httpx.Client(base_url=switchboard.base_url) as client:
        assert client.get("/api/v1/agent/me").status_code == 401
        response = client.post(
            "/api/v1/agent/login", json={"username": "alice", "password": "alice-pw"}
        )
        assert response.status_code == 200
        assert response.json() == {
            "username": "alice",
            "display_name": "alice",
            "services": ["caf", "impots"],
            "roles": ["agent"],
        }
        cookie = response.headers["set-cookie"]
        assert "guichet_session=" in cookie
        assert "HttpOnly" in cookie
        assert re.search("SameSite=strict", cookie, re.IGNORECASE)
        assert "Secure" not in cookie  # the fixture runs in demo mode (plain HTTP)
        assert client.get("/api/v1/agent/me").json()["username"] == "alice"
        assert client.post("/api/v1/agent/logout").status_code == 204
        token = response.cookies["guichet_session"]
        again = httpx.get(
            f"{switchboard.base_url}/api/v1/agent/me", cookies={"guichet_session": token}
        )
        assert again.status_code == 401


def test_wrong_password_and_unknown_user_look_the_same(switchboard: RunningServer) -> None:
    url = f"{switchboard.base_url}/api/v1/agent/login"
    wrong = httpx.post(url, json={"username": "alice", "password": "nope"})
    unknown = httpx.post(url, json={"username": "mallory", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert "set-cookie" not in wrong.headers


def test_docs_are_self_hosted(switchboard: RunningServer) -> None:
    page = httpx.get(f"{switchboard.base_url}/docs")
    assert page.status_code == 200
    assert "/api/v1/catalogue" in page.text
    assert "http" not in page.text.replace('href="/openapi.json"', "")
    spec = httpx.get(f"{switchboard.base_url}/openapi.json").json()
    assert "/api/v1/agent/login" in spec["paths"]


def test_security_headers_and_console_redirect(switchboard: RunningServer) -> None:
    response = httpx.get(f"{switchboard.base_url}/")
    assert response.status_code == 307
    assert response.headers["location"] == "/console/"
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "media-src 'self' blob:" in csp
    assert "connect-src 'self'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"

"""The switchboard fixture starts a real server that answers its health check."""

from __future__ import annotations

import httpx
from fixtures.server import RunningServer


def test_switchboard_fixture_serves_health(switchboard: RunningServer) -> None:
    response = httpx.get(f"{switchboard.base_url}/api/v1/health", timeout=5)
    assert response.json() == {"status": "ok"}
    assert set(switchboard.booth_tokens) == {"booth-1", "booth-2"}

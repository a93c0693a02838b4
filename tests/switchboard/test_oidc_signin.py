"""Signing in through a real OpenID Connect provider over plain HTTP: the good path,
every refusal (state, replayed code, denial, provider down, no role) and what each role
may reach afterwards. The provider is npm ``oidc-provider`` on 127.0.0.1, never a mock."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import websockets
from fixtures.clients import ProtocolClient, booth
from fixtures.oidc_provider import (
    CLIENT_ID,
    PROVIDER_NAME,
    OidcSite,
    callback_params,
    provider_installed,
    provider_login,
    start_oidc_site,
    write_oidc_settings,
)
from fixtures.server import free_port, start_switchboard

pytestmark = pytest.mark.skipif(
    not provider_installed(), reason="needs npm oidc-provider: run scripts/install.sh"
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcSite]:
    running = start_oidc_site(tmp_path_factory.mktemp("oidc"))
    try:
        yield running
    finally:
        running.stop()


def start_login(client: httpx.Client, to: str = "console") -> str:
    """Ask the switchboard to start a sign-in; returns the provider URL it redirects to."""
    response = client.get("/api/v1/oidc/login", params={"to": to})
    assert response.status_code == 303, response.text
    return response.headers["location"]


def sign_in(
    site: OidcSite, client: httpx.Client, login: str, to: str = "console"
) -> httpx.Response:
    """The whole flow for ``login``; returns the switchboard's answer to the callback."""
    back = provider_login(client, start_login(client, to), login)
    return client.get(back.headers["location"])


def test_agent_signs_in_with_pkce_state_and_nonce_and_gets_her_claims(site: OidcSite) -> None:
    with httpx.Client(base_url=site.server.base_url) as client:
        options = client.get("/api/v1/auth/options").json()
        assert options == {
            "local": True,
            "oidc_name": PROVIDER_NAME,
            "oidc_login_url": "/api/v1/oidc/login",
        }
        authorize = start_login(client)
        query = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
        assert authorize.startswith(site.provider.issuer + "/")
        assert query["code_challenge_method"] == "S256"
        assert len(query["code_challenge"]) == 43
        assert query["client_id"] == CLIENT_ID
        assert len(query["state"]) >= 32 and len(query["nonce"]) >= 32
        assert client.cookies.get("guichet_oidc_state") == query["state"]

        back = provider_login(client, authorize, "amelie")
        assert callback_params(back)["state"] == query["state"]
        done = client.get(back.headers["location"])
        assert done.status_code == 303, done.text
        assert done.headers["location"] == "../../../console/"
        me = client.get("/api/v1/agent/me")
        assert me.json() == {
            "username": "amelie",
            "display_name": "Amélie Durand",
            "services": ["caf"],
            "roles": ["agent"],
        }
        # An agent is not a supervisor.
        assert client.get("/api/v1/supervisor/overview").status_code == 403
        assert client.post("/api/v1/agent/logout").status_code == 204
        assert client.get("/api/v1/agent/me").status_code == 401
    log = site.server.log()
    assert "amelie signed in through OpenID Connect as agent for caf" in log
    assert site.provider.client_secret not in log


def test_replayed_callback_and_replayed_code_are_refused_in_french(site: OidcSite) -> None:
    with httpx.Client(base_url=site.server.base_url) as client:
        back = provider_login(client, start_login(client), "amelie")
        callback = back.headers["location"]
        assert client.get(callback).status_code == 303
        # The same answer a second time: its state was used.
        client.cookies.set(
            "guichet_oidc_state", callback_params(back)["state"], "127.0.0.1", "/api/v1/oidc"
        )
        again = client.get(callback)
        assert again.status_code == 400
        assert "Cette tentative de connexion a expiré" in again.text
        # The used code under a fresh, valid state: the provider refuses it.
        start_login(client)
        state = client.cookies.get("guichet_oidc_state", domain="127.0.0.1", path="/api/v1/oidc")
        code = callback_params(back)["code"]
        replay = client.get("/api/v1/oidc/callback", params={"code": code, "state": state})
        assert replay.status_code == 400
        assert "a refusé de confirmer la connexion" in replay.text
        assert PROVIDER_NAME in replay.text
    assert "code_rejected: token endpoint refused: invalid_grant" in site.server.log()


def test_wrong_state_or_another_browser_is_refused(site: OidcSite) -> None:
    with httpx.Client(base_url=site.server.base_url) as client:
        back = provider_login(client, start_login(client), "amelie")
        params = callback_params(back)
        wrong = client.get(
            "/api/v1/oidc/callback", params={**params, "state": "forged-" + params["state"]}
        )
        assert wrong.status_code == 400
        assert 'data-code="bad_state"' in wrong.text
        assert "Recommencez la connexion" in wrong.text
    # Someone else's browser (no state cookie) cannot use this answer: login CSRF.
    with httpx.Client(base_url=site.server.base_url) as other:
        stolen = other.get("/api/v1/oidc/callback", params=params)
        assert stolen.status_code == 400
        assert "guichet_session" not in stolen.cookies


def test_denied_at_the_provider_is_said_in_french(site: OidcSite) -> None:
    with httpx.Client(base_url=site.server.base_url) as client:
        page = client.get(start_login(client), follow_redirects=True)
        # devInteractions' "Cancel" link: the person refuses to sign in.
        abort = httpx.URL(str(page.url)).join(str(page.url.path).rstrip("/") + "/abort")
        back = client.get(abort)
        while back.is_redirect and urlsplit(back.headers["location"]).port != site.server.port:
            back = client.get(httpx.URL(str(back.url)).join(back.headers["location"]))
        assert callback_params(back)["error"] == "access_denied"
        denied = client.get(back.headers["location"])
        assert denied.status_code == 403
        assert f"La connexion a été refusée ou annulée chez {PROVIDER_NAME}" in denied.text
        assert client.get("/api/v1/agent/me").status_code == 401


def test_account_without_a_guichet_role_is_refused(site: OidcSite) -> None:
    with httpx.Client(base_url=site.server.base_url) as client:
        answer = sign_in(site, client, "norole")
        assert answer.status_code == 403
        assert "n'a aucun rôle dans Guichet qui ouvre cette console" in answer.text
        assert client.get("/api/v1/agent/me").status_code == 401


async def test_supervisor_sees_queues_and_calls_of_her_services_but_cannot_answer(
    site: OidcSite,
) -> None:
    server = site.server
    with httpx.Client(base_url=server.base_url) as client:
        assert sign_in(site, client, "sam").status_code == 303
        cookie = client.cookies["guichet_session"]
        assert client.get("/api/v1/agent/me").json()["roles"] == ["supervisor"]
        citizen = await booth(server, "booth-1")
        await citizen.send("join_queue", service_id="caf")
        await citizen.next("queued")
        view = client.get("/api/v1/supervisor/overview").json()
        by_service = {s["service_id"]: s for s in view["services"]}
        assert set(by_service) == {"caf", "impots"}
        assert len(by_service["caf"]["waiting"]) == 1
        assert view["calls"] == []
        # Agent-only endpoints are forbidden to her...
        report = {"call_id": "c-1", "request_id": "r-1", "kind": "print", "outcome": "done"}
        assert client.post("/api/v1/agent/audit", json=report).status_code == 403
        # ...and so is the agent socket: she cannot answer or join media.
        ws = await websockets.connect(
            f"{server.ws_url}/ws/agent", additional_headers={"Cookie": f"guichet_session={cookie}"}
        )
        watcher = ProtocolClient(ws)
        error = await watcher.next("error")
        assert error["code"] == "unauthorized" and "forbidden" in error["message"]
        assert await watcher.closed_with() == 4403
        # A real agent answers; the supervisor sees the call, with no citizen data.
        with httpx.Client(base_url=server.base_url) as agent_http:
            assert sign_in(site, agent_http, "amelie").status_code == 303
            agent_cookie = agent_http.cookies["guichet_session"]
        agent_ws = ProtocolClient(
            await websockets.connect(
                f"{server.ws_url}/ws/agent",
                additional_headers={"Cookie": f"guichet_session={agent_cookie}"},
            )
        )
        await agent_ws.next("queues")
        await agent_ws.send("answer_next")
        await agent_ws.next("call_assigned")
        calls = client.get("/api/v1/supervisor/overview").json()["calls"]
        assert [(c["service_id"], c["agent_name"]) for c in calls] == [("caf", "Amélie Durand")]
        assert set(calls[0]) == {
            "service_id",
            "service_name",
            "agent_name",
            "booth_name",
            "started_at",
        }
        await agent_ws.close()
        await citizen.close()


async def test_agent_from_claims_cannot_reach_a_citizen_of_another_service(
    site: OidcSite,
) -> None:
    server = site.server
    citizen = await booth(server, "booth-2")
    await citizen.send("join_queue", service_id="impots")
    await citizen.next("queued")
    with httpx.Client(base_url=server.base_url) as client:
        assert sign_in(site, client, "amelie").status_code == 303  # caf only
        cookie = client.cookies["guichet_session"]
    amelie = ProtocolClient(
        await websockets.connect(
            f"{server.ws_url}/ws/agent", additional_headers={"Cookie": f"guichet_session={cookie}"}
        )
    )
    queues = await amelie.next("queues")
    assert [s["service_id"] for s in queues["services"]] == ["caf"]
    await amelie.send("answer_next", service_id="impots")
    assert (await amelie.next("error"))["code"] == "service_forbidden"
    await amelie.send("answer_next")
    assert (await amelie.next("error"))["code"] == "queue_empty"
    await amelie.send("ice", call_id="c-0123456789abcdef", candidate=None)
    assert (await amelie.next("error"))["code"] == "no_call"
    await amelie.close()
    await citizen.close()


def test_provider_down_is_a_french_page_not_a_500(tmp_path: Path) -> None:
    port = free_port()
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    config = write_oidc_settings(
        tmp_path,
        issuer=dead,
        client_secret="x" * 32,
        redirect_base_url=f"http://127.0.0.1:{port}",
    )
    server = start_switchboard(tmp_path, port=port, extra_args=["--config", str(config)])
    try:
        with httpx.Client(base_url=server.base_url) as client:
            down = client.get("/api/v1/oidc/login")
            assert down.status_code == 502
            assert f"{PROVIDER_NAME} ne répond pas pour le moment" in down.text
            # Local accounts still work while the provider is down.
            login = {"username": "alice", "password": server.agent_passwords["alice"]}
            assert client.post("/api/v1/agent/login", json=login).status_code == 200
    finally:
        server.stop()
    assert "provider_down: discovery" in server.log()


def test_hmac_signed_token_is_refused_and_provider_gone_mid_sign_in(tmp_path: Path) -> None:
    # A real provider set to sign our ID tokens with HS256 (keyed with the client
    # secret): Guichet accepts only public-key signatures, so the sign-in is refused.
    running = start_oidc_site(
        tmp_path, local_login=False, client_extra={"id_token_signed_response_alg": "HS256"}
    )
    try:
        with httpx.Client(base_url=running.server.base_url) as client:
            assert client.get("/api/v1/auth/options").json()["local"] is False
            login = {"username": "alice", "password": running.server.agent_passwords["alice"]}
            assert client.post("/api/v1/agent/login", json=login).status_code == 403
            refused = sign_in(running, client, "amelie")
            assert refused.status_code == 400
            assert "n'a pas pu être vérifiée" in refused.text
            assert client.get("/api/v1/agent/me").status_code == 401
        with httpx.Client(base_url=running.server.base_url) as client:
            back = provider_login(client, start_login(client), "sam")
            running.provider.stop()  # gone between its login form and our code exchange
            answer = client.get(back.headers["location"])
            assert answer.status_code == 502
            assert "ne répond pas pour le moment" in answer.text
    finally:
        running.stop()
    assert "token_invalid: ID token algorithm 'HS256' is not accepted" in running.server.log()


async def test_local_agent_socket_is_closed_when_her_idle_session_expires(
    tmp_path: Path,
) -> None:
    config = tmp_path / "short.toml"
    config.write_text("session_idle_s = 2\nsession_ttl_s = 60\n", encoding="utf-8")
    server = start_switchboard(tmp_path, extra_args=["--config", str(config)])
    try:
        with httpx.Client(base_url=server.base_url) as client:
            login = {"username": "alice", "password": server.agent_passwords["alice"]}
            assert client.post("/api/v1/agent/login", json=login).status_code == 200
            cookie = client.cookies["guichet_session"]
            ws = ProtocolClient(
                await websockets.connect(
                    f"{server.ws_url}/ws/agent",
                    additional_headers={"Cookie": f"guichet_session={cookie}"},
                )
            )
            await ws.next("agent_welcome")
            await asyncio.sleep(1.0)
            await ws.send("set_presence", status="paused")  # activity keeps it alive
            await asyncio.sleep(1.5)
            await ws.ping()
            error = await ws.next("error", timeout=5)
            assert error["code"] == "unauthorized" and "session expired" in error["message"]
            assert await ws.closed_with() == 4401
            assert client.get("/api/v1/agent/me").status_code == 401
    finally:
        server.stop()


async def test_logout_closes_the_agent_socket(site: OidcSite) -> None:
    with httpx.Client(base_url=site.server.base_url) as client:
        assert sign_in(site, client, "amelie").status_code == 303
        cookie = client.cookies["guichet_session"]
        ws = ProtocolClient(
            await websockets.connect(
                f"{site.server.ws_url}/ws/agent",
                additional_headers={"Cookie": f"guichet_session={cookie}"},
            )
        )
        await ws.next("agent_welcome")
        assert client.post("/api/v1/agent/logout").status_code == 204
        assert (await ws.next("error"))["code"] == "unauthorized"
        assert await ws.closed_with() == 4401


def test_admin_and_technician_sign_in_to_the_admin_console_through_the_provider(
    site: OidcSite,
) -> None:
    with httpx.Client(base_url=site.server.base_url) as client:
        answer = sign_in(site, client, "adeline", to="admin")
        assert answer.status_code == 303 and answer.headers["location"] == "../../../admin/"
        assert client.get("/api/v1/admin/me").json()["role"] == "admin"
        audit = client.get("/api/v1/admin/audit")
        assert audit.status_code == 200 and "adeline" in audit.text
        assert client.get("/api/v1/agent/me").status_code == 401  # not an agent session
    with httpx.Client(base_url=site.server.base_url) as client:
        assert sign_in(site, client, "theo", to="admin").status_code == 303
        assert client.get("/api/v1/admin/fleet").status_code == 200
        assert client.get("/api/v1/admin/audit").status_code == 403
    with httpx.Client(base_url=site.server.base_url) as client:
        # An agent has no staff role: refused, with a way back to the admin sign-in.
        refused = sign_in(site, client, "amelie", to="admin")
        assert refused.status_code == 403
        assert 'href="../../../admin/"' in refused.text
        assert client.get("/api/v1/admin/me").status_code == 401


async def test_agent_who_also_supervises_may_answer_and_watch(site: OidcSite) -> None:
    with httpx.Client(base_url=site.server.base_url) as client:
        assert sign_in(site, client, "lea").status_code == 303
        assert client.get("/api/v1/agent/me").json()["roles"] == ["agent", "supervisor"]
        view = client.get("/api/v1/supervisor/overview").json()
        assert [s["service_id"] for s in view["services"]] == ["impots"]
        cookie = client.cookies["guichet_session"]
    lea = ProtocolClient(
        await websockets.connect(
            f"{site.server.ws_url}/ws/agent",
            additional_headers={"Cookie": f"guichet_session={cookie}"},
        )
    )
    assert (await lea.next("agent_welcome"))["agent"]["roles"] == ["agent", "supervisor"]
    await lea.ping()
    await lea.close()

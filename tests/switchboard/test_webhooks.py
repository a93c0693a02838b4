"""Webhooks: signed call events reach a real HTTP receiver, retried until it answers.

The switchboard runs as a subprocess (tests/fixtures/server.py); the receiver is
a real HTTP server on 127.0.0.1 that checks each signature with the function an
integrator is told to use (docs/integration.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from fixtures.clients import agent, booth
from fixtures.server import RunningServer, add_staff_accounts, free_port, start_switchboard
from hypothesis import given
from hypothesis import strategies as st

from switchboard.settings import SettingsError, load_settings
from switchboard.webhook_signing import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    MAX_ATTEMPTS,
    RETRY_BASE_S,
    RETRY_MAX_S,
    SIGNATURE_HEADER,
    WebhookSignatureError,
    gives_up,
    retry_delay_s,
    signature_header,
    verify,
)

pytestmark = pytest.mark.timeout(90)

SECRET = b"5f0c1b7e9a2d4c6e8f0a1b3c5d7e9f1a3b5c7d9e"
BODY = b'{"type":"call.ended"}'


# ------------------------------------------------------------------ signatures


def test_a_signed_body_verifies_and_gives_its_timestamp() -> None:
    header = signature_header(SECRET, 1_800_000_000, BODY)
    assert verify(SECRET, header, BODY, now=1_800_000_010) == 1_800_000_000


@pytest.mark.parametrize(
    ("secret", "body", "now", "problem"),
    [
        (b"another-secret-of-the-right-length-000000", BODY, 1_800_000_000, "does not match"),
        (SECRET, BODY + b" ", 1_800_000_000, "does not match"),
        (SECRET, BODY, 1_800_000_000 + 301, "replayed"),
        (SECRET, BODY, 1_800_000_000 - 301, "replayed"),
    ],
)
def test_a_wrong_secret_an_edited_body_or_an_old_signature_is_refused(
    secret: bytes, body: bytes, now: int, problem: str
) -> None:
    header = signature_header(SECRET, 1_800_000_000, BODY)
    with pytest.raises(WebhookSignatureError, match=problem):
        verify(secret, header, body, now=now)


@pytest.mark.parametrize(
    "header", [None, "", "t=1", "v1=abc", "t=x,v1=ab", "t=1,,v1=ab", "t=1,t=2,v1=ab", "garbage"]
)
def test_malformed_signature_headers_are_refused_clearly(header: str | None) -> None:
    with pytest.raises(WebhookSignatureError):
        verify(SECRET, header, BODY, now=1)


@given(st.text(max_size=200), st.binary(max_size=200))
def test_verify_raises_only_its_own_error_on_any_header(header: str, body: bytes) -> None:
    with contextlib.suppress(WebhookSignatureError):
        verify(SECRET, header, body, now=1_800_000_000)


def test_retries_back_off_exponentially_up_to_an_hour_then_give_up() -> None:
    rng = random.Random(7)  # noqa: S311 (jitter, not a secret)
    delays = [retry_delay_s(n, rng) for n in range(1, MAX_ATTEMPTS + 1)]
    assert RETRY_BASE_S * 0.8 <= delays[0] <= RETRY_BASE_S * 1.2
    assert delays[3] > delays[0] * 4  # doubling, jitter included
    assert max(delays) <= RETRY_MAX_S
    assert not gives_up(MAX_ATTEMPTS - 1)
    assert gives_up(MAX_ATTEMPTS)


# ------------------------------------------------------------------ settings


def _secret_file(tmp_path: Path, mode: int = 0o600) -> Path:
    path = tmp_path / "webhook.secret"
    path.write_bytes(SECRET)
    path.chmod(mode)
    return path


def _settings_toml(tmp_path: Path, url: str, secret_file: Path, name: str = "portail") -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(
        f'[[webhooks]]\nname = "{name}"\nurl = "{url}"\nsecret_file = "{secret_file}"\n',
        encoding="utf-8",
    )
    return path


def test_a_secret_file_others_can_read_stops_the_server(tmp_path: Path) -> None:
    settings = load_settings(
        _settings_toml(tmp_path, "https://portail.example/hook", _secret_file(tmp_path, 0o644))
    )
    with pytest.raises(SettingsError, match="readable or writable by others"):
        settings.webhook_targets()


def test_production_refuses_a_plain_http_webhook(tmp_path: Path) -> None:
    settings = load_settings(
        _settings_toml(tmp_path, "http://portail.example/hook", _secret_file(tmp_path))
    )
    assert any("https only" in p for p in settings.production_problems())


@pytest.mark.parametrize(
    ("url", "name", "problem"),
    [
        ("ftp://portail.example/hook", "portail", "must be http"),
        ("https://user:pw@portail.example/hook", "portail", "user or password"),
        ("https://portail.example/hook", "Portail CAF", "lowercase"),
    ],
)
def test_bad_webhook_settings_are_refused_with_the_reason(
    tmp_path: Path, url: str, name: str, problem: str
) -> None:
    with pytest.raises(SettingsError, match=problem):
        load_settings(_settings_toml(tmp_path, url, _secret_file(tmp_path), name))


# ------------------------------------------------------------------ delivery


@dataclass
class Received:
    event: str
    delivery: str
    body: dict[str, object]
    signed_at: int


@dataclass
class Receiver:
    """An integrator's endpoint: answers the scripted statuses, then 204."""

    port: int
    statuses: list[int] = field(default_factory=list)
    accepted: list[Received] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    tries: list[str] = field(default_factory=list)
    """Delivery ids in the order they were tried."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, count: int, timeout: float) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.accepted) >= count:
                    return list(self.accepted)
            time.sleep(0.05)
        raise AssertionError(f"{len(self.accepted)} of {count} webhooks after {timeout} s")


@contextlib.contextmanager
def serving(state: Receiver) -> Iterator[Receiver]:
    """Run ``state``'s HTTP endpoint on 127.0.0.1 for a ``with`` block."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with state.lock:
                state.tries.append(self.headers.get(DELIVERY_HEADER, ""))
                status = state.statuses.pop(0) if state.statuses else 204
                if status == 204:
                    signature = self.headers.get(SIGNATURE_HEADER)
                    try:
                        signed_at = verify(SECRET, signature, body, time.time())
                    except WebhookSignatureError as exc:
                        state.refused.append(str(exc))
                        status = 401
                    else:
                        state.accepted.append(
                            Received(
                                self.headers[EVENT_HEADER],
                                self.headers[DELIVERY_HEADER],
                                json.loads(body),
                                signed_at,
                            )
                        )
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", state.port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serving(Receiver(port=free_port())) as state:
        yield state


async def _one_call(server: RunningServer) -> str:
    alice = await agent(server, "alice")
    citizen = await booth(server, "booth-1")
    try:
        await citizen.send("join_queue", service_id="caf")
        await citizen.next("queued")
        await alice.send("answer_next")
        call_id = str((await alice.next("call_assigned"))["call_id"])
        await citizen.next("call_started")
        await citizen.send("hangup", call_id=call_id)
        await alice.next("call_ended")
        return call_id
    finally:
        await citizen.close()
        await alice.close()


def _start_with_webhook(tmp_path: Path, receiver: Receiver) -> RunningServer:
    settings = _settings_toml(
        tmp_path, f"http://127.0.0.1:{receiver.port}/guichet-hook", _secret_file(tmp_path)
    )
    return start_switchboard(tmp_path, extra_args=["--config", str(settings)])


async def test_call_started_and_ended_reach_the_integrator_signed(
    tmp_path: Path, receiver: Receiver
) -> None:
    server = _start_with_webhook(tmp_path, receiver)
    try:
        call_id = await _one_call(server)
        got = await asyncio.to_thread(receiver.wait_for, 2, 15)
    finally:
        server.stop()
    assert receiver.refused == []
    by_type = {r.event: r for r in got}
    assert set(by_type) == {"call.started", "call.ended"}
    started, ended = by_type["call.started"].body, by_type["call.ended"].body
    assert started["type"] == "call.started"
    assert started["data"] == {
        "call_id": call_id,
        "service": "caf",
        "booth": server.booth_ids["booth-1"],
        "agent": "alice",
        "waited_s": started["data"]["waited_s"],  # type: ignore[index]
    }
    assert isinstance(started["data"]["waited_s"], int)  # type: ignore[index]
    assert ended["data"]["reason"] == "booth_hangup"  # type: ignore[index]
    assert isinstance(ended["data"]["duration_s"], int)  # type: ignore[index]
    assert started["id"] != ended["id"]
    assert str(started["occurred_at"]).endswith("+00:00")


def _admin_deliveries(server: RunningServer, tmp_path: Path) -> list[dict[str, object]]:
    add_staff_accounts(server)
    with httpx.Client(base_url=server.base_url) as tech:
        tech.post("/api/v1/admin/login", json={"username": "tom", "password": "tom-pw"})
        assert tech.get("/api/v1/admin/webhooks").status_code == 403
    with httpx.Client(base_url=server.base_url) as admin:
        admin.post("/api/v1/admin/login", json={"username": "ada", "password": "ada-pw"})
        answer = admin.get("/api/v1/admin/webhooks")
        assert answer.status_code == 200
        rows: list[dict[str, object]] = answer.json()
        return rows


async def test_a_failing_receiver_gets_the_same_delivery_again_and_the_admin_sees_it(
    tmp_path: Path, receiver: Receiver
) -> None:
    receiver.statuses = [503, 503]
    server = _start_with_webhook(tmp_path, receiver)
    try:
        await _one_call(server)
        deadline = time.monotonic() + 10
        while len(receiver.tries) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # the failure is recorded after the answer
        pending = await asyncio.to_thread(_admin_deliveries, server, tmp_path)
        await asyncio.to_thread(receiver.wait_for, 2, 3 * RETRY_BASE_S * 1.2 + 10)
        await asyncio.sleep(0.3)
        done = await asyncio.to_thread(_admin_deliveries, server, tmp_path)
        log = server.log()
    finally:
        server.stop()
    # Each event was delivered once, under the id its failed try carried.
    assert len(receiver.tries) == 4
    assert set(receiver.tries) == {r.delivery for r in receiver.accepted}
    assert len(receiver.accepted) == 2
    assert "HTTP 503" in log and "next in" in log
    assert SECRET.decode() not in log
    assert {(r["event"], r["status"], r["attempts"], r["last_error"]) for r in pending} == {
        ("call.started", "pending", 1, "HTTP 503"),
        ("call.ended", "pending", 1, "HTTP 503"),
    }
    assert all(float(r["next_attempt_at"]) > float(r["created_at"]) for r in pending)  # type: ignore[arg-type]
    assert {(r["status"], r["attempts"], r["last_error"]) for r in done} == {("delivered", 2, "")}
    assert all("body" not in r for r in done)


async def test_an_event_survives_a_switchboard_restart_while_the_receiver_is_down(
    tmp_path: Path,
) -> None:
    port = free_port()  # nobody listens there yet
    settings = _settings_toml(tmp_path, f"http://127.0.0.1:{port}/hook", _secret_file(tmp_path))
    server = start_switchboard(tmp_path, extra_args=["--config", str(settings)])
    try:
        await _one_call(server)
        deadline = time.monotonic() + 10
        while "ConnectError" not in server.log() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert "ConnectError" in server.log()
    finally:
        server.stop()
    # The receiver comes back and so does the switchboard, with the same data folder.
    with serving(Receiver(port=port)) as back:
        restarted = start_switchboard(
            tmp_path, agents=(), booths=(), extra_args=["--config", str(settings)]
        )
        try:
            got = await asyncio.to_thread(back.wait_for, 2, 3 * RETRY_BASE_S * 1.2 + 10)
        finally:
            restarted.stop()
    assert sorted(r.event for r in got) == ["call.ended", "call.started"]
    assert len(set(back.tries)) == 2  # each stored delivery once, under its first id

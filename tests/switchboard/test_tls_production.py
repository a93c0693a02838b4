"""Production mode: the real server over HTTPS on 127.0.0.1 with a private CA made here.

A booth (the real signaling client, enrolment client and controller) trusting that CA
connects; one trusting another CA is refused with a clear state and keeps retrying.
The server refuses to start without TLS, with a key others can read, with a too
weak key, on a demo's data folder, and in demo mode on a public address. No secret
ever shows in the server's output or the booth's log.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fixtures.server import REPO, free_port
from fixtures.tls import (
    HttpsServer,
    Pki,
    make_pki,
    pem_key,
    running_https_server,
    secret_lines,
    server_toml,
    write_private,
)

from guichet import tls, wire
from guichet.secrets import SecretFileError, read_secret_file
from kiosk.call.signaling import SignalingClient
from kiosk.config import BoothSettings
from kiosk.controller import BoothController
from kiosk.session import State
from provisioning import service
from provisioning.booth_client import enrol
from switchboard.db import Database

SITE = "florac"


def _guichet_server(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "guichet.cli", "server", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def https_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpsServer]:
    """The real ``guichet server`` in production mode (no --demo) on 127.0.0.1."""
    with running_https_server(tmp_path_factory.mktemp("tls")) as server:
        yield server


def test_production_server_speaks_https_only_with_hsts_and_secure_cookies(
    https_server: HttpsServer,
) -> None:
    ca = str(https_server.pki.ca_file)
    health = requests.get(f"{https_server.url}/api/v1/health", verify=ca, timeout=5)
    assert health.json() == {"status": "ok"}
    assert health.headers["Strict-Transport-Security"].startswith("max-age=")
    login = requests.post(
        f"{https_server.url}/api/v1/agent/login",
        json={"username": "agent1", "password": https_server.agent_password},
        verify=ca,
        timeout=5,
    )
    assert login.status_code == 200
    assert "secure" in login.headers["set-cookie"].lower()
    with pytest.raises(requests.ConnectionError):
        # Plain HTTP on the same port is not served.
        requests.get(f"http://127.0.0.1:{https_server.port}/api/v1/health", timeout=5)
    with pytest.raises(requests.exceptions.SSLError) as refused:
        requests.get(f"{https_server.url}/api/v1/health", timeout=5)  # system CAs only
    assert tls.is_untrusted_certificate(refused.value)


def test_booth_trusting_the_ca_connects_over_wss_and_enrols_over_https(
    https_server: HttpsServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = BoothSettings(
        server_url=https_server.url, ca_file=https_server.pki.ca_file, token=https_server.token
    )
    settings.check_server_url()
    assert settings.ws_url.startswith("wss://")

    async def scenario() -> None:
        client = SignalingClient(
            settings.ws_url, https_server.token, "test", ssl_context=settings.ssl_context()
        )
        await client.start()
        try:
            await client.wait_connected(15)
            assert isinstance(client.welcome, wire.BoothWelcome)
        finally:
            await client.stop()

    asyncio.run(scenario())

    db = Database(f"sqlite:///{https_server.data_dir / 'guichet.sqlite3'}")
    try:
        code = service.create_code(db, SITE).code
    finally:
        db.close()
    identity = enrol(https_server.url, SITE, code, tmp_path / "state", ca_file=settings.ca_file)
    assert identity.site == SITE
    booth_log = caplog.text
    assert https_server.token not in booth_log
    assert code not in booth_log


def test_booth_trusting_another_ca_is_refused_with_a_clear_state_and_retries(
    https_server: HttpsServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    other = https_server.pki.other_ca_file

    async def signaling() -> list[tuple[str, str]]:
        states: list[tuple[str, str]] = []
        client = SignalingClient(
            https_server.url.replace("https", "wss") + "/ws/booth",
            https_server.token,
            "test",
            reconnect_min_s=0.05,
            reconnect_max_s=0.2,
            on_state=lambda state, reason: states.append((state, reason)),
            ssl_context=tls.client_ssl_context(other),
        )
        await client.start()
        try:
            async with asyncio.timeout(15):
                while sum(1 for s in states if s[0] == "connecting") < 3:
                    await asyncio.sleep(0.02)
        finally:
            await client.stop()
        return states

    states = asyncio.run(signaling())
    assert ("disconnected", tls.UNTRUSTED_CERTIFICATE) in states
    assert sum(1 for s in states if s[0] == "connecting") >= 3, "it keeps retrying"

    with pytest.raises(requests.exceptions.SSLError) as refused:
        enrol(https_server.url, SITE, "ABCDEFGHJKMNPQRS", tmp_path / "state", ca_file=other)
    assert tls.is_untrusted_certificate(refused.value)

    async def booth() -> None:
        controller = BoothController(
            BoothSettings(
                server_url=https_server.url,
                ca_file=other,
                token=https_server.token,
                fake_media=True,
                retry_min_s=0.1,
                retry_max_s=0.5,
            )
        )
        await controller.start()
        try:
            async with asyncio.timeout(15):
                while controller.problem != "certificate":
                    await asyncio.sleep(0.02)
            assert controller.state is State.OUT_OF_SERVICE
        finally:
            await controller.stop()

    asyncio.run(booth())
    assert tls.UNTRUSTED_CERTIFICATE in caplog.text
    assert https_server.token not in caplog.text


def test_server_output_holds_no_secret(https_server: HttpsServer) -> None:
    text = https_server.log()
    assert "switchboard ready" in text
    assert "DEMO" not in text
    for line in secret_lines(https_server.pki.key_pem):
        assert line not in text
    signing = (https_server.data_dir / "provisioning-signing.key").read_bytes()
    for line in secret_lines(signing):
        assert line not in text
    assert https_server.token not in text
    assert https_server.agent_password not in text


def test_booth_refuses_plain_http_unless_demo_and_https_without_its_ca() -> None:
    with pytest.raises(tls.InsecureServerUrl, match="demo only"):
        BoothSettings(server_url="http://192.0.2.1:8700").check_server_url()
    BoothSettings(server_url="http://127.0.0.1:8700", demo=True).check_server_url()
    with pytest.raises(tls.InsecureServerUrl, match="ca_file"):
        BoothSettings(server_url="https://guichet.example").check_server_url()


# ---------------------------------------------------------------- refusals to start


def _refusal(
    tmp_path: Path, pki: Pki | None, *extra: str, host: str = "127.0.0.1", toml: str = ""
) -> str:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700, exist_ok=True)
    config = server_toml(tmp_path, data_dir, free_port(), pki, host=host)
    config.write_text(config.read_text(encoding="utf-8") + toml, encoding="utf-8")
    result = _guichet_server("--config", str(config), *extra)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    if pki is not None:
        for line in secret_lines(pki.key_pem):
            assert line not in result.stdout + result.stderr
    return lines[0]


def test_server_refuses_production_without_a_certificate(tmp_path: Path) -> None:
    assert "production needs TLS" in _refusal(tmp_path, None)


def test_server_refuses_a_missing_key_file(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    pki.key_file.unlink()
    assert "TLS key file" in _refusal(tmp_path, pki)
    assert "does not exist" in _refusal(tmp_path, pki)


def test_server_refuses_a_key_file_others_can_read(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    pki.key_file.chmod(0o644)
    reason = _refusal(tmp_path, pki)
    assert "TLS key file" in reason
    assert "chmod 600" in reason


def test_server_refuses_a_weak_tls_key(tmp_path: Path) -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the weak key refused
    pki = make_pki(tmp_path / "pki", server_key=weak)
    assert "RSA 1024 bits" in _refusal(tmp_path, pki)


def test_server_refuses_a_signing_key_others_can_read(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    key = data_dir / "provisioning-signing.key"
    key.write_bytes(pem_key(ec.generate_private_key(ec.SECP256R1())))
    key.chmod(0o644)
    reason = _refusal(tmp_path, pki)
    assert "provisioning signing key" in reason
    for line in secret_lines(key.read_bytes()):
        assert line not in reason


def test_server_refuses_a_demo_data_dir_in_production(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    (data_dir / "DEMO").write_text("made by guichet demo\n", encoding="utf-8")
    assert "made by `guichet demo`" in _refusal(tmp_path, pki)


def test_server_refuses_a_turn_secret_others_can_read_without_printing_it(
    tmp_path: Path,
) -> None:
    pki = make_pki(tmp_path / "pki")
    secret = "turn-secret-never-printed-0123456789"
    path = write_private(tmp_path / "turn-secret", secret.encode())
    path.chmod(0o644)
    toml = f"turn_urls = ['turn:127.0.0.1:3478']\nturn_secret_file = '{path}'\n"
    reason = _refusal(tmp_path, pki, toml=toml)
    assert "TURN secret file" in reason
    assert "chmod 600" in reason
    assert secret not in reason


def test_demo_mode_refuses_a_public_address(tmp_path: Path) -> None:
    reason = _refusal(tmp_path, None, "--demo", host="0.0.0.0")  # noqa: S104 - refused
    assert "127.0.0.1 only" in reason


def test_secret_files_are_owner_only_long_and_not_demo_values(tmp_path: Path) -> None:
    path = write_private(tmp_path / "turn-secret", b"changeme\n")
    with pytest.raises(SecretFileError, match="known demo value") as demo:
        read_secret_file(path, min_bytes=16)
    assert "changeme" not in str(demo.value)
    write_private(path, b"0123456789abcdef0123456789abcdef\n")
    assert read_secret_file(path, min_bytes=16) == b"0123456789abcdef0123456789abcdef"
    with pytest.raises(SecretFileError, match="fewer than 64 bytes"):
        read_secret_file(path, min_bytes=64)
    path.chmod(0o640)
    with pytest.raises(SecretFileError, match="chmod 600"):
        read_secret_file(path, min_bytes=16)
    with pytest.raises(SecretFileError, match="does not exist"):
        read_secret_file(tmp_path / "absent", min_bytes=16)


def test_enrol_command_trusts_only_the_ca_file_it_is_given(
    https_server: HttpsServer, tmp_path: Path
) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "guichet.cli",
            "enrol",
            "--server",
            https_server.url,
            "--site",
            SITE,
            "--code",
            "ABCDEFGHJKMNPQRS",
            "--state-dir",
            str(tmp_path / "state"),
            "--ca-file",
            str(https_server.pki.other_ca_file),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert tls.UNTRUSTED_CERTIFICATE in result.stderr

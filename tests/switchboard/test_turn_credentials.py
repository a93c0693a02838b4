"""TURN REST credentials (coturn ``use-auth-secret``), the secret file, and what calls carry."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from pathlib import Path

import pytest
from test_guichet_cli import guichet
from test_hub import CATALOGUE, RecordingOutbox, msg

from guichet.wire import AgentInfo, IceServer
from switchboard.app import create_app
from switchboard.hub import Hub
from switchboard.settings import ServerSettings, SettingsError, load_settings
from switchboard.turn import TurnConfig, TurnSecretError, read_secret_file, rest_credentials

SECRET = b"guichet-test-secret-0123456789"


def _hmac_sha1_by_hand(key: bytes, message: bytes) -> bytes:
    """RFC 2104 written out with plain SHA-1, independent of the ``hmac`` module."""
    block = 64
    if len(key) > block:
        key = hashlib.sha1(key, usedforsecurity=False).digest()
    key = key.ljust(block, b"\0")
    inner = hashlib.sha1(bytes(b ^ 0x36 for b in key) + message, usedforsecurity=False).digest()
    return hashlib.sha1(bytes(b ^ 0x5C for b in key) + inner, usedforsecurity=False).digest()


def test_credentials_follow_the_coturn_rest_scheme() -> None:
    username, password = rest_credentials(SECRET, "c-0123456789abcdef.booth", 1764115200)
    assert username == "1764115200:c-0123456789abcdef.booth"
    # Computed with: printf %s "$username" | openssl dgst -sha1 -hmac "$secret" -binary | base64
    assert password == "TQTzgNe9RAVOweBqrFqJCq7WGBw="
    assert password == base64.b64encode(_hmac_sha1_by_hand(SECRET, username.encode())).decode()


@pytest.mark.parametrize("name", ["booth-1", "agent.alice", "c-ffff.agent", "é"])
def test_credentials_match_an_independent_hmac_for_any_name(name: str) -> None:
    long_secret = b"k" * 100  # longer than SHA-1's block: the key is hashed first
    for secret in (SECRET, long_secret):
        _, password = rest_credentials(secret, name, 2_000_000_000)
        expected = _hmac_sha1_by_hand(secret, f"2000000000:{name}".encode())
        assert base64.b64decode(password) == expected


def test_a_colon_in_the_name_is_refused() -> None:
    # coturn reads the expiry up to the first colon: "a:b" would be ambiguous.
    with pytest.raises(ValueError, match="':'"):
        rest_credentials(SECRET, "a:b", 1)


def test_turn_config_gives_fresh_credentials_valid_for_the_ttl() -> None:
    turn = TurnConfig(urls=("turn:turn.mairie.fr:3478",), secret=SECRET, ttl_s=600)
    server = turn.ice_server("c-1.booth", now=1000.9)
    assert server.urls == ["turn:turn.mairie.fr:3478"]
    assert server.username == "1600:c-1.booth"
    assert SECRET.decode() not in repr(turn)


def _secret_file(tmp_path: Path, mode: int, text: str = "s" * 32) -> Path:
    path = tmp_path / "turn-secret"
    path.write_text(text + "\n")
    path.chmod(mode)
    return path


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o620])
def test_secret_file_readable_or_writable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = _secret_file(tmp_path, mode)
    with pytest.raises(TurnSecretError, match="chmod 600"):
        read_secret_file(path)


def test_secret_file_must_exist_and_hold_a_real_secret(tmp_path: Path) -> None:
    with pytest.raises(TurnSecretError, match="cannot read"):
        read_secret_file(tmp_path / "missing")
    with pytest.raises(TurnSecretError, match="openssl rand"):
        read_secret_file(_secret_file(tmp_path, 0o600, "short"))
    assert read_secret_file(_secret_file(tmp_path, 0o600)) == b"s" * 32


def test_settings_pair_turn_urls_with_the_secret_and_relay_with_turn(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="go together"):
        load_settings(None, turn_urls=["turn:127.0.0.1:3478"])
    with pytest.raises(SettingsError, match="needs turn_urls"):
        load_settings(None, ice_transport_policy="relay")
    with pytest.raises(SettingsError, match="turn: or turns:"):
        load_settings(None, turn_urls=["stun:x:1"], turn_secret_file=tmp_path / "s")
    with pytest.raises(SettingsError, match="ice_transport_policy"):
        load_settings(None, ice_transport_policy="relayed")


def test_server_refuses_to_start_with_a_group_readable_secret_even_in_demo(
    tmp_path: Path,
) -> None:
    data = tmp_path / "var"
    data.mkdir(mode=0o700)
    settings = ServerSettings(
        data_dir=data,
        demo=True,
        turn_urls=["turn:127.0.0.1:3478"],
        turn_secret_file=_secret_file(tmp_path, 0o640),
    )
    with pytest.raises(SettingsError, match=r"refusing to start.*chmod 600"):
        create_app(settings)
    assert not (data / "guichet.sqlite3").exists()  # refused before opening anything


def test_the_secret_is_never_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    secret = "never-in-the-logs-" + "x" * 20
    path = tmp_path / "server.toml"
    path.write_text(
        "[server]\nturn_urls = ['turn:127.0.0.1:3478']\n"
        f"turn_secret_file = '{_secret_file(tmp_path, 0o600, secret)}'\n"
        "ice_transport_policy = 'relay'\n"
    )
    data = tmp_path / "var"
    data.mkdir(mode=0o700)
    caplog.set_level(logging.DEBUG)
    settings = load_settings(path, data_dir=data, demo=True)  # production would need TLS too
    settings.check_secure()
    create_app(settings)
    hub = Hub(CATALOGUE, [], turn=settings.turn_config(), ice_transport_policy="relay")
    _answer_one_call(hub)
    assert secret not in caplog.text
    assert secret not in repr(settings) and secret not in repr(settings.turn_config())


def _answer_one_call(hub: Hub) -> tuple[RecordingOutbox, RecordingOutbox]:
    agent_box, booth_box = RecordingOutbox(), RecordingOutbox()
    agent = hub.agent_connected(
        AgentInfo(username="a", display_name="A", services=["caf"]), agent_box
    )
    booth = hub.booth_connected("b1", "Booth 1", booth_box)
    hub.booth_message(booth, msg("join_queue", service_id="caf"))
    hub.agent_message(agent, msg("answer_next"))
    return agent_box, booth_box


def test_each_side_of_each_call_gets_its_own_short_lived_credentials() -> None:
    static = IceServer(urls=["stun:stun.mairie.fr:3478"])
    turn = TurnConfig(urls=("turn:turn.mairie.fr:3478",), secret=SECRET, ttl_s=600)
    hub = Hub(CATALOGUE, [static], clock=lambda: 5000.0, turn=turn, ice_transport_policy="relay")
    agent_box, booth_box = _answer_one_call(hub)
    assigned, started = agent_box.last("call_assigned"), booth_box.last("call_started")
    call_id = assigned["call_id"]
    assert assigned["ice_transport_policy"] == started["ice_transport_policy"] == "relay"
    booth_servers = started["ice_servers"]
    agent_servers = assigned["ice_servers"]
    assert isinstance(booth_servers, list) and isinstance(agent_servers, list)
    # Exactly the configured servers: the static one, then our TURN with credentials.
    assert (
        [s["urls"] for s in booth_servers]
        == [s["urls"] for s in agent_servers]
        == [
            ["stun:stun.mairie.fr:3478"],
            ["turn:turn.mairie.fr:3478"],
        ]
    )
    assert booth_servers[1]["username"] == f"5600:{call_id}.booth"
    assert agent_servers[1]["username"] == f"5600:{call_id}.agent"
    for server in (booth_servers[1], agent_servers[1]):
        expected = _hmac_sha1_by_hand(SECRET, str(server["username"]).encode())
        assert base64.b64decode(str(server["credential"])) == expected
    assert json.dumps(started).count(SECRET.decode()) == 0


def test_without_turn_calls_carry_only_the_configured_servers() -> None:
    hub = Hub(CATALOGUE, [])
    agent_box, booth_box = _answer_one_call(hub)
    assert booth_box.last("call_started")["ice_servers"] == []
    assert agent_box.last("call_assigned")["ice_servers"] == []
    assert booth_box.last("call_started")["ice_transport_policy"] == "all"


def test_a_relay_failure_on_either_side_reaches_both_with_its_reason() -> None:
    hub = Hub(CATALOGUE, [])
    agent_box, booth_box = _answer_one_call(hub)
    call_id = agent_box.last("call_assigned")["call_id"]
    booth = hub.booths["b1"]
    hub.booth_message(booth, msg("hangup", call_id=call_id, reason="relay_failed"))
    assert agent_box.last("call_ended")["reason"] == "relay_failed"
    assert booth_box.last("call_ended")["reason"] == "relay_failed"
    assert hub.calls == {}


def test_guichet_server_exits_with_a_clear_error_on_a_readable_secret(tmp_path: Path) -> None:
    secret = "s3cret-that-must-not-be-printed-0123"
    secret_file = _secret_file(tmp_path, 0o644, secret)
    config = tmp_path / "server.toml"
    config.write_text(
        f"turn_urls = ['turn:127.0.0.1:3478']\nturn_secret_file = '{secret_file}'\n",
        encoding="utf-8",
    )
    result = guichet(
        "server", "--config", str(config), "--data-dir", str(tmp_path / "var"), "--port", "0"
    )
    assert result.returncode == 2
    assert "refusing to start" in result.stderr and "chmod 600" in result.stderr
    assert secret not in result.stderr + result.stdout

"""Server settings: TOML + flags, safe defaults, refusal of insecure set-ups."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchboard.settings import ServerSettings, SettingsError, load_settings


def test_defaults_are_local_and_use_no_public_stun() -> None:
    settings = ServerSettings()
    assert settings.host == "127.0.0.1"
    assert settings.port == 8700
    assert settings.ice_servers == []
    assert settings.cookie_secure
    assert settings.resolved_database_url == "sqlite:///var/guichet.sqlite3"


def test_toml_file_then_flags(tmp_path: Path) -> None:
    path = tmp_path / "server.toml"
    path.write_text(
        "[server]\nport = 9000\ndemo = true\n"
        '[[server.ice_servers]]\nurls = ["turn:turn.example.fr:3478"]\n',
        encoding="utf-8",
    )
    settings = load_settings(path, port=9100, host=None)
    assert settings.port == 9100
    assert settings.demo
    assert not settings.cookie_secure
    assert settings.ice_servers[0].urls == ["turn:turn.example.fr:3478"]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("port = 'high'", "port"),
        ("colour = 1", "colour"),
        ("ice_servers = [{urls = ['https://x']}]", "stun:, turn:"),
        ("tls_certfile = '/c.pem'", "go together"),
        ("port = ", "not valid TOML"),
    ],
)
def test_bad_settings_name_the_field(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "server.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError, match=needle):
        load_settings(path)


def test_world_readable_data_dir_is_refused_outside_demo(tmp_path: Path) -> None:
    data = tmp_path / "var"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    with pytest.raises(SettingsError, match="chmod 700"):
        ServerSettings(data_dir=data).check_secure()
    ServerSettings(data_dir=data, demo=True).check_secure()  # warns only
    data.chmod(0o700)
    assert ServerSettings(data_dir=data).security_problems()[0] == []


def test_public_address_without_tls_is_warned() -> None:
    settings = ServerSettings(host="192.0.2.10", data_dir=Path("/nonexistent"))
    refusals, warnings = settings.security_problems()
    assert refusals == []
    assert any("without TLS" in w for w in warnings)

"""The ``guichet`` command run as a real subprocess: agents and booth tokens."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fixtures.server import REPO

from switchboard import auth
from switchboard.db import Database


def guichet(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "guichet.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )


def test_agent_add_and_list(tmp_path: Path) -> None:
    data = str(tmp_path / "var")
    added = guichet(
        "agent", "add", "alice", "--services", "caf,impots", "--display-name", "Alice M.",
        "--password-stdin", "--data-dir", data, stdin="s3cret\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    listed = guichet("agent", "list", "--data-dir", data)
    assert listed.stdout.strip() == "alice\tAlice M.\tcaf,impots\tagent"
    db = Database(f"sqlite:///{data}/guichet.sqlite3")
    assert auth.authenticate(db, "alice", "s3cret") is not None
    db.close()
    assert (tmp_path / "var" / "guichet.sqlite3").stat().st_mode & 0o777 == 0o600


def test_booth_token_is_printed_once_and_stored_hashed(tmp_path: Path) -> None:
    data = str(tmp_path / "var")
    created = guichet("booth-token", "create", "Mairie de Cluny", "--data-dir", data)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert len(token) >= 40
    listed = guichet("booth-token", "list", "--data-dir", data)
    assert "Mairie-de-Cluny\tMairie de Cluny\tactive" in listed.stdout
    assert token not in listed.stdout
    assert token.encode() not in (tmp_path / "var" / "guichet.sqlite3").read_bytes()
    revoked = guichet("booth-token", "revoke", "Mairie-de-Cluny", "--data-dir", data)
    assert revoked.returncode == 0
    assert "revoked" in guichet("booth-token", "list", "--data-dir", data).stdout


def test_bad_username_is_a_clear_error(tmp_path: Path) -> None:
    result = guichet(
        "agent", "add", "Bad Name", "--services", "caf", "--password", "x",
        "--data-dir", str(tmp_path / "var"),
    )  # fmt: skip
    assert result.returncode == 2
    assert "username" in result.stderr


def test_server_refuses_a_broken_catalogue(tmp_path: Path) -> None:
    bad = tmp_path / "services.toml"
    bad.write_text("[[service]]\nid = 'caf'\n", encoding="utf-8")
    result = guichet(
        "server",
        "--demo",
        "--catalogue",
        str(bad),
        "--data-dir",
        str(tmp_path / "var"),
        "--port",
        "0",
    )
    assert result.returncode == 2
    assert "service[0] (caf).name" in result.stderr

"""``guichet staff``, ``guichet config show|set`` as real subprocesses beside a running server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import websockets
from fixtures.clients import ProtocolClient
from fixtures.server import REPO, start_switchboard

from provisioning import service
from provisioning.booth_client import enrol
from switchboard import auth
from switchboard.db import Database


def guichet(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "guichet.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
        input=stdin,
    )


async def test_config_set_from_the_cli_reaches_a_connected_booth_and_show_gives_sources(
    tmp_path: Path,
) -> None:
    server = start_switchboard(tmp_path, booths=())
    db = Database(f"sqlite:///{server.data_dir / 'guichet.sqlite3'}")
    socket = None
    try:
        data = str(server.data_dir)
        added = guichet(
            "staff", "add", "ada", "--role", "admin", "--password-stdin", "--data-dir", data,
            stdin="ada-pw\n",
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        assert guichet("staff", "list", "--data-dir", data).stdout.split("\t")[:2] == [
            "ada",
            "admin",
        ]
        login = httpx.post(
            f"{server.base_url}/api/v1/admin/login", json={"username": "ada", "password": "ada-pw"}
        )
        assert login.status_code == 200

        booth_id = enrol(
            server.base_url, "ganges", service.create_code(db, "ganges").code, tmp_path / "b"
        ).booth_id
        _, token = auth.create_booth_token(db, booth_id)
        socket = ProtocolClient(await websockets.connect(f"{server.ws_url}/ws/booth"))
        await socket.send("hello", token=token, app_version="test")
        await socket.next("welcome")

        changed = guichet("config", "set", "volume", "42", "--site", "ganges", "--data-dir", data)
        assert changed.returncode == 0, changed.stderr
        assert changed.stdout.strip() == f"{booth_id}\tv1"
        # Signed by another process: the server notices on its next tick and pushes.
        message = await socket.next("config_available", timeout=10)
        assert message["version"] == 1

        named = guichet(
            "config", "set", "branding.name", "Maison France Services", "--booth", booth_id,
            "--data-dir", data,
        )  # fmt: skip
        assert named.returncode == 0, named.stderr
        shown = guichet("config", "show", "--booth", booth_id, "--data-dir", data)
        assert shown.returncode == 0, shown.stderr
        lines = shown.stdout.splitlines()
        assert "volume = 42\t[site:ganges]" in lines
        assert f'branding.name = "Maison France Services"\t[booth:{booth_id}]' in lines
        assert 'default_language = "fr"\t[default]' in lines

        refused = guichet("config", "set", "volume", "400", "--fleet", "--data-dir", data)
        assert refused.returncode == 2
        assert "guichet config set: volume: " in refused.stderr
        audit = guichet("config", "show", "--booth", "nope", "--data-dir", data)
        assert audit.returncode == 1
    finally:
        if socket is not None:
            await socket.close()
        db.close()
        server.stop()

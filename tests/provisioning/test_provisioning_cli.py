"""``guichet enrol-code``, ``guichet enrol`` and ``guichet fleet`` as real subprocesses."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures.server import REPO, start_switchboard

from provisioning.booth_client import ProvisioningClient, ProvisioningRefused


def guichet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "guichet.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )


def test_technician_enrols_a_booth_and_admin_revokes_it(tmp_path: Path) -> None:
    server = start_switchboard(tmp_path, booths=())
    try:
        data = str(server.data_dir)
        created = guichet("enrol-code", "create", "--site", "florac", "--data-dir", data)
        assert created.returncode == 0, created.stderr
        code = created.stdout.strip()
        assert re.fullmatch(r"([A-Z2-9]{4}-){3}[A-Z2-9]{4}", code), code
        assert "single use" in created.stderr

        state = str(tmp_path / "booth")
        enrolled = guichet(
            "enrol", "--server", server.base_url, "--site", "florac", "--code", code,
            "--state-dir", state,
        )  # fmt: skip
        assert enrolled.returncode == 0, enrolled.stderr
        booth_id = enrolled.stdout.strip()
        again = guichet(
            "enrol", "--server", server.base_url, "--site", "florac", "--code", code,
            "--state-dir", str(tmp_path / "other"),
        )  # fmt: skip
        assert again.returncode == 1 and "code_used" in again.stderr

        ProvisioningClient(Path(state)).fetch_bundle()
        listed = guichet("fleet", "list", "--data-dir", data)
        assert listed.returncode == 0, listed.stderr
        fields = listed.stdout.strip().split("\t")
        assert fields[:4] == [booth_id, "florac", "active", "v1"]
        assert fields[4] != "never"

        assert guichet("fleet", "revoke", booth_id, "--data-dir", data).returncode == 0
        assert "\trevoked\t" in guichet("fleet", "list", "--data-dir", data).stdout
        with pytest.raises(ProvisioningRefused) as info:
            ProvisioningClient(Path(state)).fetch_bundle()
        assert info.value.status == 403
    finally:
        server.stop()


def test_cli_refuses_bad_input_clearly(tmp_path: Path) -> None:
    data = str(tmp_path / "var")
    bad_site = guichet("enrol-code", "create", "--site", "Mairie de Florac", "--data-dir", data)
    assert bad_site.returncode == 2 and "site" in bad_site.stderr
    bad_ttl = guichet("enrol-code", "create", "--site", "florac", "--ttl-hours", "0",
                      "--data-dir", data)  # fmt: skip
    assert bad_ttl.returncode == 2 and "30 days" in bad_ttl.stderr
    unknown = guichet("fleet", "revoke", "florac-000000", "--data-dir", data)
    assert unknown.returncode == 1 and "no enrolled booth" in unknown.stderr
    assert guichet("fleet", "list", "--data-dir", data).stdout == ""
    unreachable = guichet(
        "enrol", "--server", "http://127.0.0.1:9", "--site", "florac", "--code", "X",
        "--state-dir", str(tmp_path / "booth"),
    )  # fmt: skip
    assert unreachable.returncode == 1 and "cannot reach" in unreachable.stderr

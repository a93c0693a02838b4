"""The real booth UI against the real server in production mode (HTTPS, private CA)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures.tls import running_https_server
from kivy_harness import run_scenario

pytestmark = pytest.mark.kivy


def test_booth_trusting_another_ca_shows_why_it_is_out_of_service(tmp_path: Path) -> None:
    with running_https_server(tmp_path / "server") as server:
        run_scenario(
            "booth_tls_scenarios:untrusted_certificate_goes_out_of_service",
            {
                "server_url": server.url,
                "ca_file": str(server.pki.other_ca_file),
                "token": server.token,
            },
        )
        assert server.token not in server.log()

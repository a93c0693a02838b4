"""``config_available`` has one sender (``FleetAdmin.push``): a booth is told of a
version once, whichever way the server learns of it (a change made here, a bundle
signed by another process, a rollout), and never of a version it already fetched."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from provisioning import fleet, service
from provisioning.admin_api import FleetAdmin
from provisioning.keys import public_b64
from provisioning.layers import Scope
from provisioning.schema import BoothConfig
from switchboard.auth import SessionStore
from switchboard.db import Database

SITE = "lodeve"


def test_each_version_is_announced_once_and_never_after_the_booth_fetched_it(
    tmp_path: Path,
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'guichet.sqlite3'}")
    key = Ed25519PrivateKey.generate()
    try:
        booth_key = public_b64(Ed25519PrivateKey.generate().public_key())
        default = BoothConfig(switchboard_url="http://127.0.0.1:9")
        booth = service.enrol(db, service.create_code(db, SITE).code, SITE, booth_key, default)
        told: list[dict[str, int]] = []

        def send(issued: dict[str, int]) -> list[str]:  # what the hub would deliver
            told.append(dict(issued))
            return list(issued)

        admin = FleetAdmin(db, key, SessionStore(60), send, False, 60, connected=lambda: [booth])
        cli = fleet.Actor("cli:root", "admin")

        async def scenario() -> None:
            # Changed here (the console): pushed at once, then the elsewhere-tick is quiet.
            done = fleet.change_config(db, key, cli, Scope.SITE, SITE, {"volume": 41})
            assert admin.push(done.issued) == [booth]
            assert await admin.push_changed_elsewhere() == []
            assert admin.push(done.issued) == []  # the same version again: not re-told
            # Changed by another process (guichet config set): the tick tells it once.
            fleet.change_config(db, key, cli, Scope.SITE, SITE, {"volume": 42})
            assert await admin.push_changed_elsewhere() == [booth]
            assert await admin.push_changed_elsewhere() == []
            # Fetched by the booth before anyone told it: never announced.
            third = fleet.change_config(db, key, cli, Scope.SITE, SITE, {"volume": 43})
            admin.served(booth, third.issued[booth])
            assert await admin.push_changed_elsewhere() == []
            assert admin.push(third.issued) == []

        asyncio.run(scenario())
        assert [t[booth] for t in told] == [1, 2]
    finally:
        db.close()

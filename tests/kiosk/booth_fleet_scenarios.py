"""UI scenarios of a fleet booth (run by ``kivy_harness`` in its own process).

The booth has a ``data_dir`` and no token: it enrols on its setup screen, runs
from its signed config, follows ``config_available``, refuses a tampered bundle
and goes out of service when revoked. ``ctx`` holds the real server's URL and
the path of its SQLite file: the scenarios play the central admin by calling
``provisioning.service`` on that database, as ``guichet fleet`` does.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import av
import numpy as np
import qrcode  # type: ignore[import-untyped]
from aiortc import VideoStreamTrack
from kivy_harness import BoothHarness, harness_settings

from kiosk.call.media import FakeMicrophone, MediaSources
from kiosk.devices.sim.barcode_reader import BarcodeScannerSimulator
from provisioning import enrol_uri, fleet, service
from provisioning.booth_client import IDENTITY_FILE, KEY_FILE, enrol
from provisioning.bundle import sign_bundle
from provisioning.keys import read_private_key
from provisioning.layers import Scope
from provisioning.models import ProvisionedBooth
from provisioning.schema import BoothConfig
from provisioning.server import SIGNING_KEY_FILE
from switchboard.db import Database

SITE = "florac"
SETUP_TIMEOUT_S = 30.0


def _db(ctx: dict[str, Any]) -> Database:
    return Database(f"sqlite:///{ctx['_db_path']}")


def _settings(ctx: dict[str, Any], **overrides: Any) -> Any:
    values = {k: v for k, v in ctx.items() if not k.startswith("_")}
    values.update(overrides)
    return harness_settings(values)


async def type_code(booth: BoothHarness, code: str) -> None:
    """Type a code on the setup keypad (dashes are not typed)."""
    for char in code.replace("-", ""):
        await booth.tap(f"setup_key_{char}")


async def setup_by_keypad(ctx: dict[str, Any]) -> None:
    """Unreachable server, used code, then the right code: each error plain, then welcome."""
    data_dir = Path(ctx["data_dir"])
    # Neither server_url nor site in booth.toml: the setup screen asks for both.
    async with BoothHarness(_settings(ctx)) as booth:
        await booth.wait_screen("setup")
        await booth.wait_text("Mise en service de la borne")
        assert booth.find("setup_server").opacity == 1
        assert booth.find("setup_site").opacity == 1
        await booth.type_text("setup_server", ctx["_dead_url"])
        await booth.type_text("setup_site", SITE)
        await type_code(booth, ctx["_code"])
        assert booth.text_of("setup_code_display") == " ".join(
            ctx["_code"].replace("-", "")[i : i + 4] for i in range(0, 16, 4)
        )
        booth.screenshot("30_setup_fr")
        await booth.tap("setup_ok")
        await booth.wait_text("Le serveur est injoignable", timeout=SETUP_TIMEOUT_S)
        assert not (data_dir / IDENTITY_FILE).exists()
        await booth.frames(2)
        booth.screenshot("31_setup_unreachable_fr")

        # The right address, but a code already spent: a plain error, nothing lost.
        booth.find("setup_server").text = ""
        await booth.type_text("setup_server", ctx["_server_url"])
        for _ in range(16):
            await booth.tap("setup_erase")
        assert booth.controller.setup_code == ""
        await type_code(booth, ctx["_used_code"])
        await booth.tap("setup_ok")
        await booth.wait_text("Ce code a déjà été utilisé", timeout=SETUP_TIMEOUT_S)
        await booth.frames(2)
        booth.screenshot("32_setup_code_used_fr")
        assert booth.screen == "setup"
        assert not (data_dir / IDENTITY_FILE).exists()

        # The right code: enrolled, configured, welcome.
        for _ in range(16):
            await booth.tap("setup_erase")
        await type_code(booth, ctx["_code"])
        await booth.tap("setup_ok")
        await booth.wait_screen("welcome", timeout=SETUP_TIMEOUT_S)
        identity = json.loads((data_dir / IDENTITY_FILE).read_text())
        assert identity["site"] == SITE
        assert stat.S_IMODE(os.stat(data_dir / KEY_FILE).st_mode) == 0o600
        await booth.wait_for(lambda: booth.controller.link_state == "connected", timeout=15)
        await booth.wait_for(lambda: booth.controller.services, what="catalogue (signed)")
        assert booth.text_of("brand_label") == "France Services"
        assert booth.controller.settings.config_version == 1
        await booth.frames(3)
        booth.screenshot("33_setup_done_welcome_fr")


async def setup_by_barcode(ctx: dict[str, Any]) -> None:
    """The technician shows the code's QR to the barcode reader (pty simulator)."""
    scanner = BarcodeScannerSimulator()
    path = await scanner.start()
    try:
        # An English-speaking technician: the booth's first language is English.
        settings = _settings(ctx, devices={"barcode_reader": {"path": path}}, default_language="en")
        async with BoothHarness(settings) as booth:
            await booth.wait_screen("setup")
            await booth.wait_text("Setting up this booth")
            await booth.wait_for(
                lambda: booth.controller.devices.usable("barcode_reader"), what="reader ready"
            )
            await scanner.scan("3700123456789")  # a product barcode, not a set-up code
            await booth.wait_text("This is not a set-up code. Show the set-up code's QR code.")
            await booth.frames(2)
            booth.screenshot("36_setup_bad_scan_en")
            # The QR code of another server's admin console: this booth keeps its own.
            await scanner.scan(enrol_uri.build("https://autre.example.fr", SITE, ctx["_code"]))
            await booth.wait_text("This code is for another server than the one this booth")
            assert not (Path(ctx["data_dir"]) / IDENTITY_FILE).exists()
            await booth.frames(2)
            booth.screenshot("37_setup_other_server_en")
            # Its own server's QR code, as the admin console draws it.
            await scanner.scan(enrol_uri.build(ctx["_server_url"], SITE, ctx["_code"]))
            await booth.wait_screen("welcome", timeout=SETUP_TIMEOUT_S)
            await booth.wait_for(lambda: booth.controller.link_state == "connected", timeout=15)
            assert (Path(ctx["data_dir"]) / IDENTITY_FILE).exists()
    finally:
        await scanner.stop()


class QrCamera(VideoStreamTrack):  # type: ignore[misc]
    """A camera that films a QR code on white (no webcam on a test machine: the one
    stand-in of these scenarios; decoding and the booth's reader are real)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        qr = qrcode.QRCode(border=4)
        qr.add_data(text)
        qr.make(fit=True)
        modules = np.array(qr.get_matrix(), dtype=np.bool_)
        block = np.kron(modules, np.ones((6, 6), dtype=np.bool_))
        image = np.full((480, 640), 235, dtype=np.uint8)
        image[40 : 40 + block.shape[0], 160 : 160 + block.shape[1]] = np.where(block, 25, 235)
        self._pixels = av.VideoFrame.from_ndarray(image, format="gray").reformat(format="yuv420p")

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame.from_ndarray(self._pixels.to_ndarray(), format="yuv420p")
        frame.pts, frame.time_base = pts, time_base
        return frame


async def setup_by_camera_qr(ctx: dict[str, Any]) -> None:
    """The technician shows the code's QR to the camera of a booth whose booth.toml names
    no server nor site: both come from the QR code."""
    text = enrol_uri.build(ctx["_server_url"], SITE, ctx["_code"])
    booth = BoothHarness(_settings(ctx))
    booth.app.controller.setup_media_factory = lambda: MediaSources(
        QrCamera(text), FakeMicrophone(), "QR test camera"
    )
    async with booth:
        await booth.wait_screen("welcome", timeout=SETUP_TIMEOUT_S)
        await booth.wait_for(lambda: booth.controller.link_state == "connected", timeout=15)
        identity = json.loads((Path(ctx["data_dir"]) / IDENTITY_FILE).read_text())
        assert (identity["server_url"], identity["site"]) == (ctx["_server_url"], SITE)
        assert booth.controller.setup_qr is None  # the camera is released once enrolled


def _enrol_now(ctx: dict[str, Any]) -> str:
    identity = enrol(ctx["server_url"], SITE, ctx["_code"], Path(ctx["data_dir"]))
    return identity.booth_id


def _config_of(db: Database, booth_id: str) -> BoothConfig:
    with db.session() as session:
        row = session.get(ProvisionedBooth, booth_id)
        assert row is not None
        return BoothConfig.model_validate(row.config)


def _store_tampered_bundle(ctx: dict[str, Any], db: Database, booth_id: str) -> int:
    """A genuine next bundle with its payload altered after signing, as the server sends it."""
    key = read_private_key(Path(ctx["_server_data_dir"]) / SIGNING_KEY_FILE)
    config = _config_of(db, booth_id)
    with db.session() as session, session.begin():
        row = session.get(ProvisionedBooth, booth_id)
        assert row is not None
        version = row.bundle_version + 1
        envelope = json.loads(sign_bundle(key, booth_id, version, config))
        payload = base64.b64decode(envelope["payload"]).replace(b"Mairie de Florac", b"Pirate")
        envelope["payload"] = base64.b64encode(payload).decode()
        row.bundle = json.dumps(envelope)
        row.bundle_version = version
        row.bundle_expires_at = datetime.now(UTC) + timedelta(days=7)
    return version


async def pushed_config_then_tampered(ctx: dict[str, Any]) -> None:
    """The admin renames the booth: pushed at once; then a tampered bundle is refused."""
    booth_id = await asyncio.to_thread(_enrol_now, ctx)
    db = _db(ctx)
    try:
        async with BoothHarness(_settings(ctx)) as booth:
            await booth.wait_screen("welcome")
            await booth.wait_for(lambda: booth.controller.link_state == "connected", timeout=15)
            await booth.wait_for(lambda: booth.text_of("brand_label") == "France Services")
            assert booth.controller.settings.config_version == 1
            # Polls every 60 s by default: only config_available can bring it this fast.
            assert booth.controller.settings.config_poll_s == 60
            # As the admin console does it: a booth layer, signed at once and pushed by
            # the server (it picks up changes made by another process on its next tick).
            key = read_private_key(Path(ctx["_server_data_dir"]) / SIGNING_KEY_FILE)
            values = {
                "branding.name": "Mairie de Florac",
                "branding.primary_colour": "#18753c",
                "heartbeat_interval_s": 5,
            }
            admin = fleet.Actor("ada", "admin")
            await asyncio.to_thread(
                fleet.change_config, db, key, admin, Scope.BOOTH, booth_id, values
            )
            await booth.wait_for(
                lambda: booth.text_of("brand_label") == "Mairie de Florac",
                timeout=15,
                what="pushed branding",
            )
            assert booth.controller.settings.config_version == 2
            assert booth.find("brand_label").color[1] > 0.4  # green now
            await booth.frames(3)
            booth.screenshot("34_config_pushed_fr")

            # A bundle altered after signing: refused, reported, last good kept.
            version = await asyncio.to_thread(_store_tampered_bundle, ctx, db, booth_id)
            await booth.wait_for(
                lambda: service.last_rejection(db, booth_id) is not None,
                timeout=20,
                what="rejection reported",
            )
            rejection = service.last_rejection(db, booth_id)
            assert rejection is not None and rejection.code == "bad_signature", rejection
            assert booth.controller.config_rejections >= 1
            assert booth.controller.settings.config_version == 2
            assert booth.controller.fleet.current().version == 2
            assert booth.text_of("brand_label") == "Mairie de Florac"
            assert version == 3
            fleet_row = next(b for b in service.fleet(db) if b.booth_id == booth_id)
            assert fleet_row.last_rejection is not None
    finally:
        db.close()


async def revoked_goes_out_of_service(ctx: dict[str, Any]) -> None:
    """Revoked while connected: closed at once, out of service, no reconnection."""
    booth_id = await asyncio.to_thread(_enrol_now, ctx)
    db = _db(ctx)
    try:
        async with BoothHarness(_settings(ctx)) as booth:
            await booth.wait_screen("welcome")
            await booth.wait_for(lambda: booth.controller.link_state == "connected", timeout=15)
            await asyncio.to_thread(service.revoke, db, booth_id)
            await booth.wait_screen("out_of_service", timeout=15)
            await booth.wait_text("Cette borne n'est plus en service")
            # Learnt from the socket's 4403 close or from a signed request's 403,
            # whichever comes first; either way the socket stops for good.
            await booth.wait_for(lambda: booth.controller.link_state in ("revoked", "stopped"))
            connections = booth.controller._signaling.connections
            await asyncio.sleep(3)  # several back-off periods of a reconnecting booth
            assert booth.controller._signaling.connections == connections
            assert booth.controller.revoked
            assert booth.screen == "out_of_service"
            await booth.frames(2)
            booth.screenshot("35_revoked_fr")
    finally:
        db.close()

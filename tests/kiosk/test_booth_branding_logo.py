"""The operator's logo: schema limits, booth-side checks with Pillow, and the header."""

from __future__ import annotations

import base64
import io
import logging
from pathlib import Path

import pytest
from booth_agent import server_ctx
from fixtures.server import RunningServer
from kivy_harness import run_scenario
from PIL import Image
from pydantic import ValidationError

from kiosk.branding import MAX_LOGO_BYTES, load_logo
from kiosk.config import BoothSettings
from kiosk.fleet import settings_from_config
from provisioning.schema import BoothConfig, Branding

URL = "https://guichet.example.fr"


def png(width: int = 96, height: int = 48, colour: str = "#18753c") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_a_valid_logo_is_kept() -> None:
    data = png()
    assert load_logo(b64(data)) == data
    assert load_logo(None) is None


@pytest.mark.parametrize(
    "encoded",
    [
        "not base64 !",
        b64(b"GIF89a" + b"\0" * 20),
        b64(png()[:60]),  # signature right, file truncated
        b64(png(2000, 10)),  # too wide
        b64(b"\x89PNG\r\n\x1a\n" + b"\0" * (MAX_LOGO_BYTES + 1)),
    ],
    ids=["base64", "gif", "truncated", "too-wide", "too-big"],
)
def test_an_invalid_logo_is_ignored_with_a_log_line(
    encoded: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="kiosk.branding"):
        assert load_logo(encoded) is None
    assert "branding logo ignored" in caplog.text


def test_schema_limits_the_logo_and_it_reaches_the_settings(tmp_path: Path) -> None:
    logo = b64(png())
    config = BoothConfig(switchboard_url=URL, branding=Branding(logo_png=logo))
    settings = settings_from_config(BoothSettings(data_dir=tmp_path), config)
    assert settings.brand_logo_png == logo
    for bad in ("###", b64(b"GIF89a"), b64(b"\x89PNG\r\n\x1a\n" + b"\0" * MAX_LOGO_BYTES)):
        with pytest.raises(ValidationError):
            Branding(logo_png=bad)


@pytest.mark.kivy
def test_the_logo_shows_in_the_welcome_header(switchboard: RunningServer) -> None:
    ctx = {**server_ctx(switchboard), "_logo": b64(png()), "_bad_logo": b64(b"GIF89a")}
    run_scenario("booth_hours_scenarios:logo_in_header", ctx)

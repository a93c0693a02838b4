"""``guichet sim`` as a subprocess: paths, TOML snippet, and stdin commands reaching a driver."""

from __future__ import annotations

import asyncio
import re
import sys
import tomllib
from pathlib import Path

import pytest

from kiosk.devices import barcode_reader
from kiosk.devices.barcode_reader import BarcodeReader
from kiosk.devices.base import DeviceState, DeviceStatus
from kiosk.devices.config import DevicesConfig
from kiosk.devices.transport import SerialTransport

START_TIMEOUT_S = 20.0
WAIT_S = 5.0


async def read_until(stream: asyncio.StreamReader, marker: str) -> str:
    """Everything the process prints up to and including the line holding ``marker``."""
    text = ""
    async with asyncio.timeout(START_TIMEOUT_S):
        while marker not in text:
            line = await stream.readline()
            assert line, f"guichet sim ended early; printed so far:\n{text}"
            text += line.decode()
    return text


async def test_sim_cli_prints_paths_and_a_scan_command_reaches_a_barcode_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(barcode_reader, "READ_POLL_S", 0.02)
    written = tmp_path / "devices.toml"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "guichet.cli",
        "sim",
        "--write-config",
        str(written),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    reader: BarcodeReader | None = None
    try:
        banner = await read_until(proc.stdout, "ready")
        paths = dict(
            re.findall(r"^(receipt printer|barcode reader|card reader)\s*: (\S+)$", banner, re.M)
        )
        assert set(paths) == {"receipt printer", "barcode reader", "card reader"}
        snippet = banner.split("# booth TOML:", 1)[1].split("ready", 1)[0]
        config = DevicesConfig.model_validate(tomllib.loads(snippet)["devices"])
        assert config.barcode_reader is not None
        assert config.barcode_reader.path == paths["barcode reader"]
        assert tomllib.loads(written.read_text()) == tomllib.loads(snippet)

        codes: list[str] = []
        statuses: list[DeviceStatus] = []
        reader = BarcodeReader(
            SerialTransport(paths["barcode reader"]),
            on_scan=codes.append,
            on_status=statuses.append,
        )
        await reader.start()
        async with asyncio.timeout(WAIT_S):
            while not statuses or statuses[-1].state is not DeviceState.READY:
                await asyncio.sleep(0.01)

        proc.stdin.write(b"scan CONVOC-2026-ABC\n")
        await proc.stdin.drain()
        assert "scanned CONVOC-2026-ABC" in await read_until(proc.stdout, "scanned")
        async with asyncio.timeout(WAIT_S):
            while not codes:
                await asyncio.sleep(0.01)
        assert codes == ["CONVOC-2026-ABC"]

        proc.stdin.write(b"paper out\nfrobnicate\nquit\n")
        await proc.stdin.drain()
        rest = await read_until(proc.stdout, "bye")
        assert "printer: paper_out" in rest
        assert "unknown command 'frobnicate'" in rest
        async with asyncio.timeout(WAIT_S):
            assert await proc.wait() == 0
    finally:
        if reader is not None:
            await reader.stop()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_sim_cli_demo_points_the_booth_at_the_simulators(tmp_path: Path) -> None:
    from guichet.demo import _start_sim
    from kiosk.config import load_settings

    booth_toml, proc = _start_sim(tmp_path)
    try:
        devices = load_settings(booth_toml).devices
        assert [role.value for role in devices.configured_roles()] == [
            "receipt_printer",
            "card_reader",
            "barcode_reader",
        ]
        assert devices.card_reader is not None and devices.card_reader.path is not None
        assert Path(devices.card_reader.path).exists()
    finally:
        proc.terminate()
        assert proc.wait(timeout=WAIT_S) == 0

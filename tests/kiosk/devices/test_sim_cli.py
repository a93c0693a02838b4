"""``guichet sim`` as a subprocess: paths, TOML snippet, and stdin commands reaching a driver."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.devices import barcode_reader
from kiosk.devices.barcode_reader import BarcodeReader
from kiosk.devices.base import DeviceState, DeviceStatus
from kiosk.devices.config import DevicesConfig
from kiosk.devices.sim.pcscd import PrivatePcscd, free_port, why_not_private_pcscd
from kiosk.devices.smartcard_reader import SmartCardReader
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


async def start_sim(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "guichet.cli",
        "sim",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )


async def say(proc: asyncio.subprocess.Process, line: str, marker: str) -> str:
    """Type ``line`` on the simulator's stdin; what it prints up to ``marker``."""
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(line.encode() + b"\n")
    await proc.stdin.drain()
    return await read_until(proc.stdout, marker)


async def quit_sim(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        await say(proc, "quit", "bye")
        async with asyncio.timeout(WAIT_S):
            assert await proc.wait() == 0


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
    from guichet.demo import start_devices
    from kiosk.config import load_settings
    from kiosk.devices.sim.cups_pdf import why_not_cups_pdf

    root = os.geteuid() == 0
    # Asked before the demo starts its own: once it runs, "another pcscd" is the demo's.
    smart_card_possible = why_not_private_pcscd() is None
    devices = start_devices(tmp_path)
    try:
        settings = load_settings(devices.booth_toml).devices
        roles = [role.value for role in settings.configured_roles()]
        assert roles[:1] == ["receipt_printer"]
        assert {"card_reader", "barcode_reader", "scanner"} <= set(roles)
        assert settings.card_reader is not None and settings.card_reader.path is not None
        assert Path(settings.card_reader.path).exists()
        assert settings.scanner is not None and settings.scanner.device == "test:0"
        sane_dir = Path(devices.env["SANE_CONFIG_DIR"])
        assert (sane_dir / "dll.conf").read_text().split() == ["test"]
        summary = "\n".join(devices.summary)
        if root:
            assert why_not_cups_pdf() is None, "root but no CUPS-PDF: install it"
            assert "a4_printer" in roles and "smart_card" in roles, summary
        if root and smart_card_possible:
            assert settings.smart_card is not None
            assert devices.pcscd is not None and f"port {devices.pcscd.port}" in summary
        elif "smart_card" not in roles:
            assert "smart card      : skipped: " in summary
        if settings.a4_printer is not None:
            assert devices.cups is not None
            assert settings.a4_printer.server == devices.cups.server
            assert str(devices.cups.pdf_out) in summary
            lpstat = devices.cups.run("lpstat", "-p", settings.a4_printer.queue)
            assert "enabled" in lpstat.stdout
        processes = devices.processes()
        assert len(processes) == 1 + (devices.cups is not None) + (devices.pcscd is not None)
        assert all(p.poll() is None for p in processes)
        cups_pdf_conf = devices.cups.cups_pdf_conf if devices.cups is not None else None
    finally:
        devices.stop()
    assert all(p.poll() is not None for p in processes)
    if cups_pdf_conf is not None:
        assert not cups_pdf_conf.exists()
    devices.stop()  # idempotent


async def test_sim_cli_without_vpcd_says_so_plainly_and_keeps_the_card_waiting(
    tmp_path: Path,
) -> None:
    port = free_port()
    proc = await start_sim("--vpcd", str(port))
    assert proc.stdout is not None
    try:
        banner = await read_until(proc.stdout, "ready")
        assert f"nothing listens on port {port}" in banner
        snippet = banner.split("# booth TOML:", 1)[1].split("ready", 1)[0]
        config = DevicesConfig.model_validate(tomllib.loads(snippet)["devices"])
        assert config.smart_card is not None and config.smart_card.reader == "Virtual PCD"

        assert "has 2 bytes" in await say(proc, "smartcard insert 04A1", "error")
        typo = await say(proc, "smartcard insert mifare_clasic_1k", "error")
        assert "'mifare_clasic_1k' is neither a UID in hex nor a card type" in typo
        assert "carte_vitale_2" in typo
        assert "one UID and one TYPE" in await say(proc, "smartcard insert 04A1B2C3 AA", "error")
        assert "usage: smartcard" in await say(proc, "smartcard shake", "usage")
        answer = await say(
            proc, "smartcard insert 04112233445566 mifare_desfire", "nothing listens"
        )
        assert "smart card mifare_desfire 04112233445566 inserted" in answer
        assert f"127.0.0.1:{port}" in answer
        # Retrying goes on quietly: the next thing printed is the next answer.
        await asyncio.sleep(1.5)
        later = await say(proc, "smartcard remove", "smart card removed")
        assert "nothing listens" not in later
        await quit_sim(proc)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_sim_cli_no_vpcd_has_no_smart_card() -> None:
    proc = await start_sim("--no-vpcd")
    assert proc.stdout is not None
    try:
        banner = await read_until(proc.stdout, "ready")
        snippet = banner.split("# booth TOML:", 1)[1].split("ready", 1)[0]
        assert "smart_card" not in snippet and "vpcd" not in banner.split("ready")[0]
        assert "--no-vpcd" in await say(proc, "smartcard insert", "error")
        await quit_sim(proc)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_sim_cli_refuses_a_bad_port_clearly() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "guichet.cli", "sim", "--vpcd", "70000"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "port 70000 is not between 1 and 65535" in result.stderr


@pytest.fixture
def private_pcscd(tmp_path: Path) -> Iterator[PrivatePcscd]:
    reason = why_not_private_pcscd()
    if reason is not None:
        pytest.skip(reason)
    daemon = PrivatePcscd(tmp_path / "pcscd")
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()


async def test_sim_cli_smartcard_commands_reach_a_pcsc_reader(
    private_pcscd: PrivatePcscd,
) -> None:
    pytest.importorskip("smartcard")
    proc = await start_sim("--vpcd", str(private_pcscd.port))
    assert proc.stdout is not None
    try:
        banner = await read_until(proc.stdout, "ready")
        assert "nothing listens" not in banner
        snippet = banner.split("# booth TOML:", 1)[1].split("ready", 1)[0]
        config = DevicesConfig.model_validate(tomllib.loads(snippet)["devices"])
        assert config.smart_card is not None
        reader = SmartCardReader(config.smart_card.reader, on_status=lambda _s: None)

        await say(proc, "smartcard insert 04112233445566 mifare_desfire", "on the vpcd reader")
        info = await reader.read_card(timeout=3)
        assert (info.card_type, info.uid_hex) == ("mifare_desfire", "04112233445566")

        await say(proc, "smartcard remove", "smart card removed")
        async with asyncio.timeout(WAIT_S):
            while (await reader.probe()).details.get("card") != "absent":
                await asyncio.sleep(0.05)

        await say(proc, "smartcard insert carte_vitale_2", "on the vpcd reader")
        info = await reader.read_card(timeout=3)
        assert (info.card_type, info.uid_hex) == ("carte_vitale_2", "")
        await quit_sim(proc)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_demo_skips_the_smart_card_plainly_when_another_pcscd_runs(
    private_pcscd: PrivatePcscd, tmp_path: Path
) -> None:
    from guichet.demo import start_devices
    from kiosk.config import load_settings

    devices = start_devices(tmp_path / "demo")
    try:
        summary = "\n".join(devices.summary)
        assert "smart card      : skipped: another pcscd already runs (pid" in summary
        settings = load_settings(devices.booth_toml).devices
        assert settings.smart_card is None
        assert settings.a4_printer is not None and settings.scanner is not None
        assert devices.pcscd is None
    finally:
        devices.stop()
    assert private_pcscd.process is not None and private_pcscd.process.poll() is None


def demo_command(data_dir: Path) -> list[str]:
    port = str(free_port())
    return [
        sys.executable,
        "-m",
        "guichet.cli",
        "demo",
        "--data-dir",
        str(data_dir),
        "--port",
        port,
    ]


@pytest.mark.e2e
async def test_demo_prints_reads_a_card_and_stops_everything_on_sigterm(tmp_path: Path) -> None:
    """The whole demo as users start it: a PDF lands, a typed card is read, SIGTERM cleans up."""
    import signal
    import threading

    import psutil
    from PIL import Image

    from kiosk.config import load_settings

    if os.geteuid() != 0:
        pytest.skip("the demo's A4 printer and smart card need root")
    reason = why_not_private_pcscd()
    if reason is not None:
        pytest.skip(reason)
    pytest.importorskip("smartcard")
    proc = subprocess.Popen(
        demo_command(tmp_path / "demo"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # Its own process group: if the test fails, every child goes with it (an
        # orphaned demo booth, server and pcscd would disturb the tests after).
        start_new_session=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    lines: list[str] = []
    # Drained all along: a full pipe would block the demo and its booth.
    drain = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")))
    drain.start()
    try:
        async with asyncio.timeout(60):
            while not any("Ctrl-C stops everything" in line for line in lines):
                assert proc.poll() is None, "".join(lines)
                await asyncio.sleep(0.2)
        banner = "".join(lines)
        assert "DEMO MODE" in banner
        # A production server refuses this folder (its password was just printed).
        assert (tmp_path / "demo" / "DEMO").exists()
        children = psutil.Process(proc.pid).children(recursive=True)
        names = {child.name() for child in children}
        assert {"cupsd", "pcscd"} <= names, (names, banner)

        devices = load_settings(tmp_path / "demo" / "booth.toml").devices
        assert {"scanner", "a4_printer", "smart_card"} <= {
            r.value for r in devices.configured_roles()
        }
        assert devices.a4_printer is not None
        pdf_dir = Path(re.search(r"PDFs land in (\S+)/", banner)[1])  # type: ignore[index]
        page = tmp_path / "page.pdf"
        Image.new("RGB", (595, 842), "white").save(page)
        subprocess.run(
            ["lp", "-h", str(devices.a4_printer.server), "-d", devices.a4_printer.queue, str(page)],
            check=True,
            capture_output=True,
            timeout=30,
        )
        async with asyncio.timeout(30):
            while not list(pdf_dir.glob("*.pdf")):
                await asyncio.sleep(0.2)

        proc.stdin.write("smartcard insert 04A1B2C3D4E5F6 mifare_ultralight\n")
        proc.stdin.flush()
        assert devices.smart_card is not None
        info = await SmartCardReader(
            devices.smart_card.reader, on_status=lambda _s: None
        ).read_card(timeout=10)
        assert (info.card_type, info.uid_hex) == ("mifare_ultralight", "04A1B2C3D4E5F6")

        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 30) == 0
        _gone, alive = psutil.wait_procs(children, timeout=10)
        assert not alive, [p.name() for p in alive]
        assert not pdf_dir.exists()
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        drain.join(timeout=10)

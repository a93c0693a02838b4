"""``guichet demo``: the whole system on embedded defaults, in one command.

Starts the switchboard (SQLite in the data folder, demo mode), creates a demo agent
with a fresh random password (no default secret, even in a demo), a booth
credential kept in a 0600 file, and one booth with simulated camera and
microphone and peripherals without hardware, all written into the booth's
``[devices]`` table:

- ``guichet sim``: receipt printer, barcode and card readers on ptys;
- a scanner: SANE's ``test`` backend (private ``SANE_CONFIG_DIR`` in the
  booth's environment);
- as root: an A4 printer, a private cupsd on 127.0.0.1 with a CUPS-PDF queue
  (the PDFs' folder is printed), and a smart-card reader, a private pcscd
  whose vpcd reader takes ``guichet sim``'s virtual card (only when no other
  pcscd runs; vpcd listens on 0.0.0.0, its driver cannot bind loopback only).

Prints the agent console URL, the login, each device and the commands to type.
Without a display the booth draws on a private Xvfb screen. Ctrl-C or SIGTERM
stops everything it started.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from kiosk.devices.sim.cups_pdf import (
    PDF_QUEUE,
    CupsPdfError,
    CupsServer,
    start_cups_server,
    stop_cups_server,
    why_not_cups_pdf,
)
from kiosk.devices.sim.pcscd import PcscdError, PrivatePcscd, why_not_private_pcscd
from kiosk.devices.sim.sane_test import TEST_DEVICE, sane_env, write_sane_config
from switchboard.settings import DEMO_MARKER

log = logging.getLogger(__name__)

DEMO_AGENT = "agent"
DEMO_BOOTH_NAME = "Borne de démonstration"
SERVER_START_TIMEOUT_S = 30.0
SIM_START_TIMEOUT_S = 15.0
"""How long ``guichet sim`` may take to create its ptys and write the [devices] file."""
CHILD_STOP_TIMEOUT_S = 10.0
SIM_COMMANDS = (
    "scan CODE · card UID [TYPE] · remove · smartcard insert [UID] [TYPE] · "
    "smartcard remove · paper out|ok|near · printed · help"
)


def add_parser(subparsers: Any) -> None:
    """Register the ``demo`` subcommand."""
    parser = subparsers.add_parser("demo", help="server + one simulated booth, login printed")
    parser.add_argument("--data-dir", type=Path, default=Path("var/demo"))
    parser.add_argument("--port", type=int, default=8700)
    parser.add_argument("--no-booth", action="store_true", help="start only the server")
    parser.add_argument(
        "--no-sim", action="store_true", help="booth without simulated printer and readers"
    )
    parser.set_defaults(func=run)


def _guichet(*args: str, stdin: str | None = None) -> str:
    result = subprocess.run(  # noqa: S603 - our own command, fixed arguments
        [sys.executable, "-m", "guichet.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"guichet {args[0]} failed: {result.stderr.strip()}")
    return result.stdout


def _wait_healthy(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the switchboard stopped at start; see its messages above")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{url}/api/v1/health", timeout=1) as resp,  # noqa: S310
        ):
            if resp.status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"the switchboard did not answer on {url} within {SERVER_START_TIMEOUT_S}s")


def _start_xvfb() -> tuple[str, subprocess.Popen[bytes]] | None:
    if shutil.which("Xvfb") is None:
        return None
    for n in range(90, 110):
        # X's own well-known lock files say which display numbers are taken.
        taken = Path(f"/tmp/.X11-unix/X{n}"), Path(f"/tmp/.X{n}-lock")  # noqa: S108
        if any(p.exists() for p in taken):
            continue
        proc = subprocess.Popen(  # noqa: S603 - fixed arguments
            ["Xvfb", f":{n}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],  # noqa: S607
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)
        if proc.poll() is None:
            return f":{n}", proc
    return None


def _booth_token(data_dir: Path) -> Path:
    token_file = data_dir / "booth.token"
    if not token_file.exists():
        token = _guichet(
            "booth-token", "create", "--data-dir", str(data_dir), DEMO_BOOTH_NAME
        ).strip()
        fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(token + "\n")
    os.chmod(token_file, 0o600)
    return token_file


def _start_sim(
    data_dir: Path, vpcd_port: int | None = None
) -> tuple[Path, subprocess.Popen[bytes]]:
    """Start ``guichet sim``; returns the booth TOML pointing at its ptys."""
    devices_file = data_dir / "devices.toml"
    devices_file.unlink(missing_ok=True)
    # stdin and stdout are inherited: "scan CODE", "card UID"... typed in the
    # demo's terminal reach the simulators, and their answers show there.
    proc = subprocess.Popen(  # noqa: S603 - our own command, fixed arguments
        [
            sys.executable,
            "-m",
            "guichet.cli",
            "sim",
            "--write-config",
            str(devices_file),
            "--quiet",
            *(["--no-vpcd"] if vpcd_port is None else ["--vpcd", str(vpcd_port)]),
        ],
    )
    deadline = time.monotonic() + SIM_START_TIMEOUT_S
    while not devices_file.exists():
        if proc.poll() is not None:
            raise RuntimeError("the device simulators stopped at start; see their messages")
        if time.monotonic() > deadline:
            proc.terminate()
            raise RuntimeError("the device simulators did not start in time")
        time.sleep(0.1)
    booth_toml = data_dir / "booth.toml"
    booth_toml.write_text(
        "# Written by `guichet demo`: the booth's peripherals, all simulated (see its banner).\n"
        + devices_file.read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    return booth_toml, proc


@dataclass
class DemoDevices:
    """The booth's peripherals without hardware, and how to stop them."""

    booth_toml: Path
    env: dict[str, str] = field(default_factory=dict)
    """Entries for the booth process's environment."""
    summary: list[str] = field(default_factory=list)
    """One line per device, for the banner."""
    sim: subprocess.Popen[bytes] | None = None
    cups: CupsServer | None = None
    pcscd: PrivatePcscd | None = None

    def processes(self) -> list[subprocess.Popen[bytes]]:
        """The child processes that must stay up."""
        found = [self.sim]
        if self.cups is not None:
            found.append(self.cups.process)
        if self.pcscd is not None:
            found.append(self.pcscd.process)
        return [p for p in found if p is not None]

    def stop(self) -> None:
        """Stop everything started, last first; idempotent."""
        if self.sim is not None:
            _stop_child(self.sim)
            self.sim = None
        if self.pcscd is not None:
            self.pcscd.stop()
            self.pcscd = None
        if self.cups is not None:
            stop_cups_server(self.cups)
            self.cups = None


def _stop_child(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
    try:
        child.wait(timeout=CHILD_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def start_devices(data_dir: Path) -> DemoDevices:
    """Start the simulated peripherals; the booth TOML lists every one that runs."""
    data_dir = data_dir.resolve()
    devices = DemoDevices(booth_toml=data_dir / "booth.toml")
    try:
        _start_all(devices, data_dir)
    except BaseException:
        devices.stop()
        raise
    return devices


def _start_all(devices: DemoDevices, data_dir: Path) -> None:
    extra = ""
    sane_dir = write_sane_config(data_dir / "sane")
    devices.env.update(sane_env(sane_dir))
    extra += f'\n[devices.scanner]\ndevice = "{TEST_DEVICE}"\n'
    scanner = f"SANE test backend ({TEST_DEVICE}, SANE_CONFIG_DIR={sane_dir})"

    reason = why_not_cups_pdf()
    if reason is None:
        try:
            devices.cups = start_cups_server(paper_out_queue=False)
        except (CupsPdfError, subprocess.SubprocessError, OSError) as exc:
            # The demo goes on without an A4 printer and says why.
            reason = str(exc)
    if devices.cups is not None:
        cups = devices.cups
        extra += f'\n[devices.a4_printer]\nqueue = "{PDF_QUEUE}"\nserver = "{cups.server}"\n'
        a4 = (
            f"CUPS-PDF queue {PDF_QUEUE} on {cups.server}; PDFs land in {cups.pdf_out}/ "
            "(removed when the demo stops)"
        )
    else:
        a4 = f"skipped: {reason}"

    reason = why_not_private_pcscd()
    if reason is None:
        pcscd = PrivatePcscd(data_dir / "pcscd")
        try:
            pcscd.start()
            devices.pcscd = pcscd
        except (PcscdError, OSError) as exc:
            reason = str(exc)
    if devices.pcscd is not None:
        port = devices.pcscd.port
        smart_card = (
            f"virtual card, private pcscd + vpcd on port {port} (vpcd listens on 0.0.0.0: "
            "its driver cannot bind 127.0.0.1 only)"
        )
    else:
        smart_card = f"skipped: {reason}"

    sim_toml, devices.sim = _start_sim(
        data_dir, devices.pcscd.port if devices.pcscd is not None else None
    )
    sim_text = sim_toml.read_text(encoding="utf-8")
    devices.booth_toml.write_text(sim_text + extra, encoding="utf-8")
    sim_devices = tomllib.loads(sim_text)["devices"]
    devices.summary = [
        f"receipt printer : guichet sim, {sim_devices['receipt_printer']['path']}",
        f"barcode reader  : guichet sim, {sim_devices['barcode_reader']['path']}",
        f"card reader     : guichet sim, {sim_devices['card_reader']['path']}",
        f"scanner         : {scanner}",
        f"A4 printer      : {a4}",
        f"smart card      : {smart_card}",
    ]


def _raise_interrupt(_signum: int, _frame: FrameType | None) -> None:
    # SIGTERM takes the same way out as Ctrl-C, so everything started is stopped.
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    """Start everything, print how to reach it, and wait for Ctrl-C."""
    from switchboard.catalogue import load_catalogue

    data_dir: Path = args.data_dir
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    # A production server refuses this folder: its password is printed, its keys are a trial's.
    (data_dir / DEMO_MARKER).write_text("made by guichet demo\n", encoding="utf-8")
    services = ",".join(load_catalogue().ids)
    password = secrets.token_urlsafe(9)
    _guichet(
        "agent",
        "add",
        "--data-dir",
        str(data_dir),
        DEMO_AGENT,
        "--services",
        services,
        "--display-name",
        "Agent de démonstration",
        "--password-stdin",
        stdin=password + "\n",
    )
    token_file = _booth_token(data_dir)
    url = f"http://127.0.0.1:{args.port}"

    children: list[subprocess.Popen[bytes]] = []
    devices: DemoDevices | None = None
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        server = subprocess.Popen(  # noqa: S603 - our own command
            [
                sys.executable,
                "-m",
                "guichet.cli",
                "server",
                "--demo",
                "--data-dir",
                str(data_dir),
                "--port",
                str(args.port),
                "--log-level",
                "warning",
            ]
        )
        children.append(server)
        _wait_healthy(url, server)

        where = "this screen"
        device_lines = ["none"]
        if not args.no_booth:
            env = dict(os.environ)
            if not env.get("DISPLAY"):
                xvfb = _start_xvfb()
                if xvfb is None:
                    raise RuntimeError("no display and no Xvfb: cannot show the booth")
                env["DISPLAY"], xproc = xvfb
                children.append(xproc)
                where = f"virtual screen {env['DISPLAY']} (no display here)"
            booth_args = [
                sys.executable,
                "-m",
                "guichet.cli",
                "booth",
                "--server",
                url,
                "--token-file",
                str(token_file),
                "--fake-media",
                "--windowed",
                "--demo",
            ]
            if not args.no_sim:
                devices = start_devices(data_dir)
                env.update(devices.env)
                booth_args += ["--config", str(devices.booth_toml)]
                device_lines = [
                    *devices.summary,
                    f"booth TOML      : {devices.booth_toml}",
                    f"type here       : {SIM_COMMANDS}",
                ]
            booth = subprocess.Popen(booth_args, env=env)  # noqa: S603 - our own command
            children.append(booth)

        banner = [
            "",
            "  Guichet — DEMO MODE (plain HTTP, for trying it out only)",
            f"  Agent console : {url}/console/",
            f"  Login         : {DEMO_AGENT}",
            f"  Password      : {password}   (new at every start)",
            f"  Booth         : {'not started' if args.no_booth else where}",
            "  Devices       : " + "\n                  ".join(device_lines),
            f"  Data          : {data_dir}/ (SQLite)",
            "  Ctrl-C stops everything.",
            "",
        ]
        sys.stdout.write("\n".join(banner) + "\n")
        sys.stdout.flush()
        watched = children + (devices.processes() if devices is not None else [])
        while all(c.poll() is None for c in watched):
            time.sleep(0.5)
        stopped = next(c for c in watched if c.poll() is not None)
        log.error("a demo process stopped (exit %s); stopping the rest", stopped.returncode)
        return 1
    except KeyboardInterrupt:
        return 0
    except RuntimeError as exc:
        sys.stderr.write(f"guichet demo: {exc}\n")
        return 1
    finally:
        # A second Ctrl-C while stopping must not leave cupsd or pcscd behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=CHILD_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                child.kill()
        if devices is not None:
            devices.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

"""``guichet demo``: the whole system on embedded defaults, in one command.

Starts the switchboard (SQLite in the data folder, demo mode), creates a demo agent
with a fresh random password (no default secret, even in a demo), a booth
credential kept in a 0600 file, and one booth with simulated camera and
microphone, and simulated serial peripherals (``guichet sim``: receipt printer,
barcode and card readers on ptys, written into the booth's ``[devices]`` table);
prints the agent console URL and the login. Without a display the
booth draws on a private Xvfb screen. Ctrl-C stops everything.
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
import urllib.request
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DEMO_AGENT = "agent"
DEMO_BOOTH_NAME = "Borne de démonstration"
SERVER_START_TIMEOUT_S = 30.0
SIM_START_TIMEOUT_S = 15.0
"""How long ``guichet sim`` may take to create its ptys and write the [devices] file."""


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
    # stdin is inherited: "scan CODE", "card UID"... typed in the demo's terminal
    # reach the simulators.
    proc = subprocess.Popen(  # noqa: S603 - our own command, fixed arguments
        [
            sys.executable,
            "-m",
            "guichet.cli",
            "sim",
            "--write-config",
            str(devices_file),
            *(["--no-vpcd"] if vpcd_port is None else ["--vpcd", str(vpcd_port)]),
        ],
        stdout=subprocess.DEVNULL,
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
        "# Written by `guichet demo`: the booth's peripherals are `guichet sim`'s ptys.\n"
        + devices_file.read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    return booth_toml, proc


def run(args: argparse.Namespace) -> int:
    """Start everything, print how to reach it, and wait for Ctrl-C."""
    from switchboard.catalogue import load_catalogue

    data_dir: Path = args.data_dir
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
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
        devices = "none"
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
            ]
            if not args.no_sim:
                booth_toml, sim = _start_sim(data_dir)
                children.append(sim)
                booth_args += ["--config", str(booth_toml)]
                devices = f"simulated ({booth_toml}); type scan CODE, card UID, paper out"
            booth = subprocess.Popen(booth_args, env=env)  # noqa: S603 - our own command
            children.append(booth)

        banner = [
            "",
            "  Guichet — DEMO MODE (plain HTTP, for trying it out only)",
            f"  Agent console : {url}/console/",
            f"  Login         : {DEMO_AGENT}",
            f"  Password      : {password}   (new at every start)",
            f"  Booth         : {'not started' if args.no_booth else where}",
            f"  Devices       : {devices}",
            f"  Data          : {data_dir}/ (SQLite)",
            "  Ctrl-C stops everything.",
            "",
        ]
        sys.stdout.write("\n".join(banner) + "\n")
        sys.stdout.flush()
        while all(c.poll() is None for c in children):
            time.sleep(0.5)
        stopped = next(c for c in children if c.poll() is not None)
        log.error("a demo process stopped (exit %s); stopping the rest", stopped.returncode)
        return 1
    except KeyboardInterrupt:
        return 0
    except RuntimeError as exc:
        sys.stderr.write(f"guichet demo: {exc}\n")
        return 1
    finally:
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()

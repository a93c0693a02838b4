"""A private pcscd whose only reader is vsmartcard's vpcd, for tests and the demo.

pcscd 1.9.9 ignores ``PCSCLITE_CSOCK_NAME`` and always serves
``/run/pcscd/pcscd.comm``: only one pcscd can run on the machine, and it needs
root. :meth:`PrivatePcscd.start` therefore refuses, with a plain reason and at
once, when another pcscd is running, instead of waiting on a socket that belongs
to someone else. The reader list comes from a private ``-c`` folder with one
vpcd entry on the chosen port. vpcd binds 0.0.0.0 (its driver cannot be told
otherwise); the virtual card connects to 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

PCSCD_SOCKET = Path("/run/pcscd/pcscd.comm")
VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
READER_NAME = "Virtual PCD"
"""FRIENDLYNAME of the vpcd reader; pcscd appends slot numbers ("Virtual PCD 00 00")."""
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
POLL_S = 0.05
_TCP_LISTEN = "0A"


class PcscdError(RuntimeError):
    """pcscd cannot be started here; the message says why in plain words."""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def running_pcscd_pids() -> list[int]:
    """Process ids of every pcscd on the machine (read from /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == "pcscd":
                    pids.append(int(entry.name))
    return sorted(pids)


def pcscd_answers() -> bool:
    """True when something accepts connections on pcscd's socket."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        try:
            sock.connect(str(PCSCD_SOCKET))
        except OSError:
            return False
        return True


def tcp_port_listening(port: int) -> bool:
    """True when a local TCP socket listens on ``port`` (any address).

    Read from /proc/net rather than by connecting: a connection to vpcd *is*
    a card insertion.
    """
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                listening = len(fields) > 3 and fields[3] == _TCP_LISTEN
                if listening and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    return True
    return False


def why_not_private_pcscd() -> str | None:
    """The reason a private pcscd cannot start here, or None if it can."""
    if os.geteuid() != 0:
        return "pcscd needs root (it always serves /run/pcscd/pcscd.comm)"
    if shutil.which("pcscd") is None:
        return "pcscd is not installed (apt install pcscd)"
    if not VPCD_DRIVER.exists():
        return f"the vpcd driver is not installed ({VPCD_DRIVER}; apt install vsmartcard-vpcd)"
    pids = running_pcscd_pids()
    if pids:
        listed = ", ".join(map(str, pids))
        return f"another pcscd already runs (pid {listed}); only one can serve {PCSCD_SOCKET}"
    if pcscd_answers():
        return f"something already answers on {PCSCD_SOCKET}"
    return None


class PrivatePcscd:
    """A foreground pcscd child with a single vpcd reader listening on ``port``."""

    def __init__(
        self, folder: Path, port: int | None = None, *, env: dict[str, str] | None = None
    ) -> None:
        """``env``: pcscd's environment (default: this process's)."""
        self.folder = folder
        self.port = port if port is not None else free_port()
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        """pcscd's own messages."""
        return self.folder / "pcscd.log"

    @property
    def config_dir(self) -> Path:
        """The ``reader.conf.d`` folder given to ``pcscd -c``."""
        return self.folder / "reader.conf.d"

    def write_config(self) -> None:
        """The vpcd reader entry; the channel id is the TCP port vpcd listens on."""
        self.config_dir.mkdir(parents=True, exist_ok=True)
        (self.config_dir / "vpcd").write_text(
            f'FRIENDLYNAME "{READER_NAME}"\n'
            f"DEVICENAME /dev/null:0x{self.port:04X}\n"
            f"LIBPATH {VPCD_DRIVER}\n"
            f"CHANNELID 0x{self.port:04X}\n"
        )

    def start(self) -> None:
        """Start pcscd and wait until it and vpcd listen; PcscdError says why not."""
        reason = why_not_private_pcscd()
        if reason is not None:
            raise PcscdError(reason)
        self.write_config()
        # A file, not a pipe: a pipe nobody reads would fill up and block pcscd.
        with self.log_path.open("wb") as log_file:
            self.process = subprocess.Popen(  # noqa: S603 - fixed arguments
                ["pcscd", "--foreground", "-c", str(self.config_dir)],  # noqa: S607
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=self.env,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (pcscd_answers() and tcp_port_listening(self.port)):
            if self.process.poll() is not None:
                self.process = None
                log_text = self.log_path.read_text(errors="replace").strip()
                raise PcscdError(f"pcscd stopped at start: {log_text[-500:]}")
            if time.monotonic() > deadline:
                self.stop()
                raise PcscdError(f"pcscd did not listen within {START_TIMEOUT_S}s")
            time.sleep(POLL_S)

    def stop(self) -> None:
        """Stop pcscd (the vpcd port closes, a connected card sees its socket end)."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_TIMEOUT_S)

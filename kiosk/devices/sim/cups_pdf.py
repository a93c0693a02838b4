"""A private cupsd on 127.0.0.1 with a CUPS-PDF queue: an A4 printer without hardware.

Used by the A4 printer tests (like aioice's turnserver.py) and by ``guichet
demo``, so both run the same setup.

Everything lives in one temporary directory: its own ``cupsd.conf`` and
``cups-files.conf``, spool, cache, state, logs, and a private ServerBin whose
``backend/`` holds symlinks to the real backends plus a ``paperout`` backend
that reports ``media-empty-error`` and exits 4 (CUPS_BACKEND_STOP), the way a
real printer without paper stops its queue. CUPS-PDF reads its configuration
only from ``/etc/cups`` (compiled in), but a device URI ``cups-pdf:/NAME`` makes it
read ``/etc/cups/cups-pdf-NAME.conf``: each server writes its own such file (named
after its port, removed at stop) so its PDFs land in this directory, never in
``/root/PDF``.

cupsd must run as root (CUPS-PDF refuses otherwise, and cupsd drops filters to
user ``lp``); the directory is traversable by ``lp`` for that reason.
:func:`why_not_cups_pdf` says in plain words what is missing on this machine.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REAL_SERVERBIN = Path("/usr/lib/cups")
CUPS_PDF_PPD = Path("/usr/share/ppd/cups-pdf/CUPS-PDF_opt.ppd")
CUPS_PDF_CONF_DIR = Path("/etc/cups")
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0

PDF_QUEUE = "PDF"
PAPER_OUT_QUEUE = "PAPEROUT"

PAPER_OUT_BACKEND = """#!/bin/sh
# Test backend: a printer whose paper tray is empty.
if [ $# -eq 0 ]; then
    echo 'direct paperout "Unknown" "Paper-out simulator"'
    exit 0
fi
echo "STATE: +media-empty-error" >&2
echo "ERROR: Out of paper" >&2
exit 4
"""

CUPSD_CONF = """\
LogLevel debug
Listen 127.0.0.1:{port}
Browsing No
WebInterface No
DefaultAuthType None
DefaultPolicy open
JobRetryLimit 0
PreserveJobFiles No
PreserveJobHistory Yes
MaxJobs 200
<Location />
  Order deny,allow
  Deny from all
  Allow from 127.0.0.1
</Location>
<Policy open>
  <Limit All>
    Order deny,allow
  </Limit>
</Policy>
"""

CUPS_FILES_CONF = """\
ServerRoot {root}/etc
RequestRoot {root}/spool
CacheDir {root}/cache
StateDir {root}/state
TempDir {root}/tmp
ServerBin {root}/serverbin
DataDir /usr/share/cups
DocumentRoot /usr/share/cups/doc-root
AccessLog {root}/log/access_log
ErrorLog {root}/log/error_log
PageLog {root}/log/page_log
User lp
Group lp
SystemGroup root
FileDevice No
"""

CUPS_PDF_CONF = """\
Out {out}
AnonDirName {out}
Label 0
UserUMask 0077
Grp root
"""


class CupsPdfError(RuntimeError):
    """The private cupsd could not be set up; the message says why."""


def why_not_cups_pdf() -> str | None:
    """The reason a private CUPS-PDF server cannot run here, or None if it can."""
    if os.geteuid() != 0:
        return "a private cupsd with CUPS-PDF needs root (CUPS-PDF refuses otherwise)"
    if shutil.which("cupsd") is None or shutil.which("lpadmin") is None:
        return "CUPS is not installed (apt install cups cups-client)"
    if not CUPS_PDF_PPD.exists():
        return f"CUPS-PDF is not installed ({CUPS_PDF_PPD}; apt install printer-driver-cups-pdf)"
    return None


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class CupsServer:
    """A running private cupsd; ``server`` is what CUPS_SERVER / ``lp -h`` take."""

    root: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def server(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def instance(self) -> str:
        """CUPS-PDF instance name: selects /etc/cups/cups-pdf-<instance>.conf."""
        return f"guichet{self.port}"

    @property
    def cups_pdf_conf(self) -> Path:
        return CUPS_PDF_CONF_DIR / f"cups-pdf-{self.instance}.conf"

    @property
    def pdf_out(self) -> Path:
        """Where CUPS-PDF writes the printed PDFs."""
        return self.root / "pdf-out"

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A CUPS command-line tool pointed at this server."""
        return subprocess.run(  # noqa: S603 - CUPS tools, arguments from this module
            list(args), env=self.env, capture_output=True, text=True, check=check, timeout=30
        )

    def add_queue(self, name: str, uri: str, ppd: Path | None = None) -> None:
        """Create an enabled, accepting queue."""
        args = ["lpadmin", "-p", name, "-E", "-v", uri]
        if ppd is not None:
            args += ["-P", str(ppd)]
        self.run(*args)

    def start(self) -> None:
        """Start cupsd in the foreground (as a child) and wait until it answers."""
        self.process = subprocess.Popen(  # noqa: S603 - fixed arguments
            [  # noqa: S607 - cupsd from PATH, like the CUPS tools
                "cupsd",
                "-f",
                "-c",
                str(self.root / "etc" / "cupsd.conf"),
                "-s",
                str(self.root / "etc" / "cups-files.conf"),
            ],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise CupsPdfError(f"cupsd exited: {self.error_log()[-2000:]}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                if self.run("lpstat", "-r", check=False).returncode == 0:
                    return
            time.sleep(0.05)
        raise CupsPdfError(f"cupsd did not start: {self.error_log()[-2000:]}")

    def stop(self) -> None:
        """Stop cupsd; idempotent."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_TIMEOUT_S)

    def error_log(self) -> str:
        """cupsd's error log so far (empty if none)."""
        path = self.root / "log" / "error_log"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_idle(self, queue: str, timeout: float = 20.0) -> None:
        """Wait until no job of ``queue`` is left in ``lpstat -o``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.run("lpstat", "-o", queue, check=False).stdout.strip():
                return
            time.sleep(0.1)
        raise TimeoutError(f"jobs still queued on {queue}")


def _make_serverbin(serverbin: Path) -> None:
    """ServerBin = the real one, except backend/ which also holds our paperout backend."""
    serverbin.mkdir(mode=0o755)
    for entry in REAL_SERVERBIN.iterdir():
        if entry.name != "backend":
            (serverbin / entry.name).symlink_to(entry)
    backends = serverbin / "backend"
    backends.mkdir(mode=0o755)
    for backend in (REAL_SERVERBIN / "backend").iterdir():
        (backends / backend.name).symlink_to(backend)
    paperout = backends / "paperout"
    paperout.write_text(PAPER_OUT_BACKEND)
    paperout.chmod(0o755)


def make_cups_server() -> CupsServer:
    """Write the private configuration (cupsd not started yet)."""
    root = Path(tempfile.mkdtemp(prefix="guichet-cups-"))
    # cupsd drops filters to user lp: it must be able to traverse to the spool.
    root.chmod(0o755)
    port = free_port()
    for sub in ("etc", "spool", "cache", "state", "tmp", "log"):
        (root / sub).mkdir(mode=0o755)
    # Filters run as lp and write their scratch files into TempDir, like /tmp.
    (root / "tmp").chmod(0o1777)
    (root / "etc" / "ppd").mkdir(mode=0o755)
    (root / "pdf-out").mkdir(mode=0o755)
    _make_serverbin(root / "serverbin")
    (root / "etc" / "cupsd.conf").write_text(CUPSD_CONF.format(port=port))
    (root / "etc" / "cups-files.conf").write_text(CUPS_FILES_CONF.format(root=root))
    env = dict(os.environ)
    env["CUPS_SERVER"] = f"127.0.0.1:{port}"
    env.pop("CUPS_USER", None)
    return CupsServer(root=root, port=port, env=env)


def start_cups_server(*, paper_out_queue: bool = True) -> CupsServer:
    """A running private cupsd with queues ``PDF`` (CUPS-PDF) and ``PAPEROUT``.

    CupsPdfError (with :func:`why_not_cups_pdf`'s reason) if it cannot run here.
    """
    reason = why_not_cups_pdf()
    if reason is not None:
        raise CupsPdfError(reason)
    cups = make_cups_server()
    try:
        cups.cups_pdf_conf.write_text(CUPS_PDF_CONF.format(out=cups.pdf_out))
        cups.start()
        cups.add_queue(PDF_QUEUE, f"cups-pdf:/{cups.instance}", CUPS_PDF_PPD)
        if paper_out_queue:
            cups.add_queue(PAPER_OUT_QUEUE, "paperout:/", CUPS_PDF_PPD)
    except BaseException:
        stop_cups_server(cups)
        raise
    return cups


def stop_cups_server(cups: CupsServer) -> None:
    """Stop cupsd and remove its directory (printed PDFs included)."""
    cups.stop()
    cups.cups_pdf_conf.unlink(missing_ok=True)
    shutil.rmtree(cups.root, ignore_errors=True)

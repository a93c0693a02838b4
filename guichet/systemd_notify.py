"""Tell systemd how the process is doing: ``READY=1``, ``WATCHDOG=1``, ``STOPPING=1``.

Pure standard library (the booth and the server both use it, and neither should
need libsystemd or a binding for four datagrams). The protocol is systemd's
``sd_notify(3)``: newline-separated ``KEY=value`` assignments sent as one datagram
to the ``AF_UNIX`` socket named by ``$NOTIFY_SOCKET``; a name starting with ``@``
is in the abstract namespace (the ``@`` becomes a NUL byte).

Outside systemd (no ``$NOTIFY_SOCKET``: a developer's terminal, the tests, the
demo) every call does nothing and returns False, so callers never need to ask.

Watchdog: with ``WatchdogSec=`` systemd sets ``$WATCHDOG_USEC`` (and
``$WATCHDOG_PID``); a service that sends no ``WATCHDOG=1`` within that time is
killed and, with ``Restart=on-failure``, started again. Pinging at half the
period is what ``sd_watchdog_enabled(3)`` recommends.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping, MutableMapping

logger = logging.getLogger(__name__)

ENV_SOCKET = "NOTIFY_SOCKET"
ENV_WATCHDOG_USEC = "WATCHDOG_USEC"
ENV_WATCHDOG_PID = "WATCHDOG_PID"
MAX_STATUS_CHARS = 200
"""``STATUS=`` text shown by ``systemctl status``: one short line."""


def socket_address(name: str) -> str | bytes | None:
    """The ``connect``/``sendto`` address for a ``$NOTIFY_SOCKET`` value, or None.

    ``/run/systemd/notify`` is a path; ``@name`` is the abstract name ``\\0name``.
    Anything else (empty, relative, ``vsock:``) is not supported here: None.
    """
    if name.startswith("@") and len(name) > 1:
        return b"\0" + name[1:].encode()
    if name.startswith("/"):
        return name
    return None


def watchdog_interval_s(env: Mapping[str, str], pid: int | None = None) -> float | None:
    """How often to send ``WATCHDOG=1`` (half of ``$WATCHDOG_USEC``), or None.

    None when no watchdog is asked for, when the value is not a positive integer,
    or when ``$WATCHDOG_PID`` names another process (a child that inherited the
    environment must not ping for its parent).
    """
    raw = env.get(ENV_WATCHDOG_USEC, "")
    if not raw.isdigit() or int(raw) <= 0:
        return None
    wanted_pid = env.get(ENV_WATCHDOG_PID, "")
    if wanted_pid and wanted_pid != str(os.getpid() if pid is None else pid):
        return None
    return int(raw) / 1_000_000 / 2


class Notifier:
    """Sends state changes to systemd; does nothing when ``address`` is None."""

    def __init__(self, address: str | bytes | None, watchdog_s: float | None = None) -> None:
        """``address`` as from :func:`socket_address`; ``watchdog_s``: ping period."""
        self.address = address
        self.watchdog_s = watchdog_s
        """Seconds between ``WATCHDOG=1`` pings, or None when no watchdog is set."""
        self.sent: list[str] = []
        """Messages sent successfully (diagnostics and tests; the last 20 only)."""
        self._failed_once = False

    @classmethod
    def from_environ(
        cls, env: MutableMapping[str, str] | None = None, *, unset: bool = True
    ) -> Notifier:
        """A notifier for this process's systemd service (inert outside one).

        With ``unset`` (the default) the variables are removed from ``env`` (by
        default ``os.environ``) so that the printing, scanning and media helpers the
        process starts do not inherit them, as ``sd_notify(unset_environment=1)``.
        """
        env = os.environ if env is None else env
        address = socket_address(env.get(ENV_SOCKET, ""))
        watchdog = watchdog_interval_s(env) if address is not None else None
        if unset:
            for key in (ENV_SOCKET, ENV_WATCHDOG_USEC, ENV_WATCHDOG_PID):
                env.pop(key, None)
        return cls(address, watchdog)

    @property
    def enabled(self) -> bool:
        """True when running under a service manager that listens."""
        return self.address is not None

    def notify(self, *assignments: str) -> bool:
        """Send ``KEY=value`` lines as one datagram; True if it was sent.

        Never raises and never blocks: a service manager that went away or lags
        must not take the booth with it. The first failure is logged, later ones
        only at debug level.
        """
        if self.address is None:
            return False
        message = "\n".join(assignments)
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                # Never wait: a full queue on a unix datagram socket (10 messages
                # by default) would otherwise block the booth's UI loop. A lost
                # ping is made up by the next one, half a watchdog period later.
                sock.setblocking(False)
                sock.sendto(message.encode(), self.address)
        except OSError as exc:
            log = logger.debug if self._failed_once else logger.warning
            log("cannot notify the service manager (%s): %s", message.split("\n")[0], exc)
            self._failed_once = True
            return False
        self.sent = [*self.sent[-19:], message]
        return True

    def ready(self, status: str | None = None) -> bool:
        """Startup finished: systemd marks a ``Type=notify`` service started."""
        return self.notify("READY=1", *self._status(status))

    def watchdog(self) -> bool:
        """The process is alive: resets systemd's ``WatchdogSec=`` timer."""
        return self.notify("WATCHDOG=1")

    def stopping(self, status: str | None = None) -> bool:
        """Shutdown has begun (so a slow stop is not taken for a hang)."""
        return self.notify("STOPPING=1", *self._status(status))

    def status(self, text: str) -> bool:
        """A one-line status for ``systemctl status``."""
        return self.notify(*self._status(text))

    @staticmethod
    def _status(text: str | None) -> list[str]:
        if not text:
            return []
        line = " ".join(text.split())[:MAX_STATUS_CHARS]
        return [f"STATUS={line}"]

"""sd_notify from the booth and the server, against a real notification socket.

systemd is not PID 1 here, so it cannot supervise anything: a real AF_UNIX datagram
socket stands in for its notification socket (the protocol is one datagram of
``KEY=value`` lines), and the real ``guichet server`` runs as a subprocess.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fixtures.notify_socket import NotifyListener
from fixtures.server import start_switchboard

from guichet.serving import STARTUP_FAILURE
from guichet.systemd_notify import Notifier, socket_address, watchdog_interval_s


def test_no_notify_socket_means_every_call_does_nothing() -> None:
    notifier = Notifier.from_environ({})
    assert not notifier.enabled
    assert notifier.watchdog_s is None
    assert not notifier.ready()
    assert not notifier.watchdog()
    assert not notifier.stopping()


def test_socket_names_paths_and_abstract_and_refuses_the_rest() -> None:
    assert socket_address("/run/systemd/notify") == "/run/systemd/notify"
    assert socket_address("@guichet") == b"\0guichet"
    assert socket_address("") is None
    assert socket_address("@") is None
    assert socket_address("relative/path") is None


def test_watchdog_period_is_half_of_watchdog_usec_and_only_for_our_pid() -> None:
    assert watchdog_interval_s({"WATCHDOG_USEC": "10000000"}) == 5.0
    assert watchdog_interval_s({"WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "42"}, pid=42) == 2.0
    # A child process that inherited its parent's variables must not ping for it.
    assert watchdog_interval_s({"WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "42"}, pid=43) is None
    assert watchdog_interval_s({}) is None
    assert watchdog_interval_s({"WATCHDOG_USEC": "0"}) is None
    assert watchdog_interval_s({"WATCHDOG_USEC": "-5"}) is None
    assert watchdog_interval_s({"WATCHDOG_USEC": "soon"}) is None


def test_from_environ_takes_the_variables_away_from_child_processes() -> None:
    env = {"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "2000000", "PATH": "/bin"}
    notifier = Notifier.from_environ(env)
    assert notifier.enabled and notifier.watchdog_s == 1.0
    assert env == {"PATH": "/bin"}


@pytest.mark.parametrize("kind", ["abstract", "path"])
def test_messages_reach_a_real_socket(kind: str, tmp_path: Path) -> None:
    with NotifyListener(tmp_path / "notify" if kind == "path" else None) as listener:
        notifier = Notifier.from_environ(dict(listener.env()))
        assert notifier.ready("all good\nreally")
        assert listener.wait_for("READY", 2).fields["STATUS"] == "all good really"
        assert notifier.watchdog()
        listener.wait_for("WATCHDOG", 2)
        assert notifier.stopping()
        listener.wait_for("STOPPING", 2)


def test_a_vanished_service_manager_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier(b"\0guichet-nobody-listens-here")
    assert not notifier.ready()
    assert not notifier.watchdog()
    assert "cannot notify the service manager" in caplog.text


def test_a_manager_that_does_not_read_never_blocks_the_sender() -> None:
    with NotifyListener() as listener:  # bound, never read
        notifier = Notifier.from_environ(dict(listener.env()))
        started = time.monotonic()
        results = [notifier.watchdog() for _ in range(200)]
        assert time.monotonic() - started < 2
        assert results[0] and not results[-1]  # the queue filled up; the rest is dropped


def test_real_server_says_ready_once_listening_pings_the_watchdog_and_says_stopping(
    tmp_path: Path,
) -> None:
    with NotifyListener() as listener:
        # WatchdogSec=1 -> a ping every 0.5 s.
        os.environ.update(listener.env(watchdog_usec=1_000_000))
        try:
            server = start_switchboard(tmp_path)  # returns once /api/v1/health answers
        finally:
            for key in ("NOTIFY_SOCKET", "WATCHDOG_USEC"):
                os.environ.pop(key, None)
        try:
            ready = listener.wait_for("READY", 10)
            assert "listening" in ready.fields.get("STATUS", "")
            listener.collect(1.6)
            assert listener.count("WATCHDOG", since=ready.at) >= 2, listener.received
            server.process.send_signal(signal.SIGTERM)
            listener.wait_for("STOPPING", 10)
            # uvicorn re-raises the SIGTERM it caught once shut down; systemd counts
            # death by SIGTERM as a clean stop (and does not restart it).
            assert server.process.wait(10) in (0, -signal.SIGTERM)
        finally:
            server.stop()


def test_server_that_cannot_listen_says_no_ready_and_exits_with_a_failure(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        data_dir = tmp_path / "data"
        data_dir.mkdir(mode=0o700)
        with NotifyListener() as listener:
            result = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "guichet.cli",
                    "server",
                    "--demo",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--data-dir",
                    str(data_dir),
                ],
                env={**os.environ, **listener.env(watchdog_usec=1_000_000)},
                cwd=Path(__file__).resolve().parents[1],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            listener.collect(0.2)
    assert result.returncode == STARTUP_FAILURE, result.stderr
    assert listener.count("READY") == 0, listener.received


def test_server_outside_systemd_sends_nothing_and_runs(tmp_path: Path) -> None:
    assert "NOTIFY_SOCKET" not in os.environ, "the test runner itself runs under systemd?"
    server = start_switchboard(tmp_path)
    try:
        assert server.process.poll() is None
    finally:
        server.stop()
    assert sys.executable  # the server ran with the same interpreter as the tests

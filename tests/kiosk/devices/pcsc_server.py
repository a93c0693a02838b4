"""A private pcscd with a vsmartcard vpcd reader, and a tiny card emulator for it.

pcscd 1.9.9 ignores PCSCLITE_CSOCK_NAME and always serves /run/pcscd/pcscd.comm,
so only one can run at a time and it needs root. The reader list comes from a
private ``-c`` folder whose vpcd entry listens on a free port (vpcd binds 0.0.0.0,
which the test cannot change).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
MIFARE_1K_ATR = bytes.fromhex("3B8F8001804F0CA000000306030001000000006A")
UID = bytes.fromhex("04A1B2C3")
# vpcd control bytes (1-byte messages from vpcd to the card).
CTRL_OFF, CTRL_ON, CTRL_RESET, CTRL_ATR = 0, 1, 2, 4


class VirtualCard:
    """A card emulator speaking vpcd's framing: 2-byte big-endian length + payload."""

    def __init__(self, port: int, atr: bytes = MIFARE_1K_ATR) -> None:
        self.port = port
        self.atr = atr
        self.drop_on_apdu = False
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def insert(self) -> None:
        deadline = time.monotonic() + 5
        while True:
            try:
                self._sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def remove(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
            self._sock.close()
            self._sock = None

    def _recv(self, sock: socket.socket, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = sock.recv(size - len(data))
            if not chunk:
                raise ConnectionError
            data += chunk
        return data

    def _serve(self) -> None:
        sock = self._sock
        assert sock is not None
        try:
            while True:
                (length,) = struct.unpack(">H", self._recv(sock, 2))
                payload = self._recv(sock, length)
                if length == 1 and payload[0] in (CTRL_OFF, CTRL_ON, CTRL_RESET):
                    continue
                if length == 1 and payload[0] == CTRL_ATR:
                    answer = self.atr
                elif payload == bytes([0xFF, 0xCA, 0, 0, 0]):
                    if self.drop_on_apdu:
                        self.remove()
                        return
                    answer = UID + b"\x90\x00"
                else:
                    answer = b"\x6d\x00"
                sock.sendall(struct.pack(">H", len(answer)) + answer)
        except (ConnectionError, OSError):
            return


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Pcscd:
    """A foreground pcscd with only a vpcd reader on a private port."""

    def __init__(self, folder: Path, env: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.env = env
        """Environment of the daemon (None: this process's)."""
        self.port = _free_port()
        conf = folder / "reader.conf.d"
        conf.mkdir(exist_ok=True)
        (conf / "vpcd").write_text(
            'FRIENDLYNAME "Virtual PCD"\n'
            f"DEVICENAME /dev/null:0x{self.port:04X}\n"
            f"LIBPATH {VPCD_DRIVER}\n"
            f"CHANNELID 0x{self.port:04X}\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["pcscd", "--foreground", "-c", str(self.folder / "reader.conf.d")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=self.env,
        )
        deadline = time.monotonic() + 5
        while not Path("/run/pcscd/pcscd.comm").exists():
            assert time.monotonic() < deadline, "pcscd did not start"
            time.sleep(0.05)
        time.sleep(0.3)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=5)
            self.process = None

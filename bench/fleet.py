"""Fleet at scale: one server process on SQLite, N simulated booths.

Each booth is enrolled (its own Ed25519 key), holds a ``/ws/booth`` socket and
sends a signed heartbeat every ``--interval`` seconds (spread over the interval).
After ``--warmup`` seconds an admin changes one fleet-wide value; every booth
that gets ``config_available`` fetches its bundle (signed GET) and verifies it
against the server key: the push time of a booth is from the admin's request to
that verified bundle. Server CPU and RSS are read from /proc through psutil.

    .venv/bin/python bench/fleet.py [--booths 2000] [--interval 30] [--warmup 45]

Last line, exactly:
``fleet booths=<N> push_p50_ms=<> push_p99_ms=<> heartbeat_p99_ms=<> server_cpu_pct=<>
server_rss_mb=<>``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil
import websockets
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from provisioning import service  # noqa: E402
from provisioning.bundle import BundleRejected, verify_bundle  # noqa: E402
from provisioning.heartbeat import build_heartbeat, system_figures  # noqa: E402
from provisioning.keys import public_b64, read_private_key  # noqa: E402
from provisioning.messages import PeripheralState, PeripheralStatus  # noqa: E402
from provisioning.schema import BoothConfig  # noqa: E402
from provisioning.server import SIGNING_KEY_FILE  # noqa: E402
from provisioning.signing import sign_request  # noqa: E402
from switchboard import auth  # noqa: E402
from switchboard.db import Database  # noqa: E402

HEARTBEAT = "/api/v1/provisioning/heartbeat"
BUNDLE = "/api/v1/provisioning/bundle"
SHARD = 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Booth:
    def __init__(self, booth_id: str, key: Ed25519PrivateKey, token: str) -> None:
        self.booth_id = booth_id
        self.key = key
        self.token = token
        self.version = 0
        self.applied_at: float | None = None
        self.want: int | None = None
        self.last = b""
        self.notified_at: float | None = None


async def booth_life(
    booth: Booth,
    base: str,
    ws_url: str,
    http: httpx.AsyncClient,
    server_key: object,
    interval: float,
    beats: list[float],
    errors: list[str],
    stop: asyncio.Event,
    ready: list[int],
) -> None:
    figures = system_figures(Path(tempfile.gettempdir()))
    periph = [PeripheralState(role="receipt_printer", state=PeripheralStatus.OK)]

    async def signed(method: str, path: str, body: bytes = b"") -> httpx.Response:
        headers = sign_request(booth.key, booth.booth_id, method, path, body)
        if body:
            headers["Content-Type"] = "application/json"
        return await http.request(method, base + path, content=body or None, headers=headers)

    async def fetch() -> None:
        response = await signed("GET", BUNDLE)
        if response.status_code != 200:
            errors.append(f"bundle {response.status_code}")
            return
        if response.content == booth.last:
            return  # what a real booth does first: same bytes, nothing to apply
        try:
            payload = verify_bundle(response.content, server_key, booth.booth_id, booth.version)  # type: ignore[arg-type]
        except BundleRejected as exc:
            errors.append(f"bundle {exc.code}")
            return
        booth.version, booth.last = payload.version, response.content
        if booth.want is not None and payload.version >= booth.want and booth.applied_at is None:
            booth.applied_at = time.perf_counter()

    async def heartbeats() -> None:
        await asyncio.sleep(random.uniform(0, interval))  # noqa: S311 - spread, not security
        rtt = None
        while not stop.is_set():
            beat = build_heartbeat(
                app_version="bench",
                config_version=booth.version or None,
                figures=figures,
                peripherals=periph,
                rtt_ms=rtt,
            )
            started = time.perf_counter()
            try:
                response = await signed("POST", HEARTBEAT, beat.model_dump_json().encode())
                rtt = (time.perf_counter() - started) * 1000
                if response.status_code == 200:
                    beats.append(rtt)
                else:
                    errors.append(f"heartbeat {response.status_code}")
            except httpx.HTTPError as exc:
                errors.append(f"heartbeat {type(exc).__name__}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

    # A booth that cannot connect tries again, as a real one does (a burst of 2000
    # handshakes outlasts the default 10 s opening timeout).
    for attempt in range(5):
        try:
            ws = await websockets.connect(ws_url + "/ws/booth", max_size=2**20, open_timeout=60)
            break
        except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
            errors.append(f"connect {type(exc).__name__}")
            await asyncio.sleep(1 + attempt)
    else:
        return
    async with ws:
        await ws.send(
            json.dumps({"v": 1, "type": "hello", "token": booth.token, "app_version": "bench"})
        )
        await ws.recv()  # welcome
        ready[0] += 1
        await fetch()

        async def receive() -> None:
            try:
                async for raw in ws:
                    if json.loads(raw).get("type") == "config_available":
                        if booth.want is not None and booth.notified_at is None:
                            booth.notified_at = time.perf_counter()
                        await fetch()
            except websockets.ConnectionClosed:
                errors.append("socket closed")

        tasks = [asyncio.create_task(heartbeats()), asyncio.create_task(receive())]
        await stop.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def seed(data_dir: Path, n: int, url: str) -> list[Booth]:
    db = Database(f"sqlite:///{data_dir / 'guichet.sqlite3'}")
    auth.add_staff(db, "bench", "bench-pw", auth.StaffRole.ADMIN)
    default = BoothConfig(switchboard_url=url)
    booths = []
    for i in range(n):
        site = f"site-{i % 50}"
        key = Ed25519PrivateKey.generate()
        code = service.create_code(db, site).code
        booth_id = service.enrol(db, code, site, public_b64(key.public_key()), default)
        booths.append(Booth(booth_id, key, ""))
    # One token per booth named after it: its hub id is its booth id.
    from sqlalchemy import insert

    from switchboard.db import BoothCredential

    rows = []
    for booth in booths:
        booth.token = auth.new_token()
        rows.append(
            {
                "booth_id": booth.booth_id,
                "name": booth.booth_id,
                "token_hash": auth.token_hash(booth.token),
            }
        )
    with db.session() as session, session.begin():
        session.execute(insert(BoothCredential), rows)
    db.close()
    return booths


async def main_async(args: argparse.Namespace) -> str:
    data = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    data.chmod(0o700)
    port = free_port()
    base, ws_url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
    t0 = time.perf_counter()
    booths = seed(data, args.booths, base)
    print(f"seeded {len(booths)} booths in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    log = (data / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "guichet.cli", "server", "--host", "127.0.0.1", "--port", str(port),
         "--data-dir", str(data), "--demo", "--log-level", "warning"],
        stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
    )  # fmt: skip
    proc = psutil.Process(server.pid)
    try:
        async with httpx.AsyncClient(timeout=60) as probe:
            for _ in range(200):
                try:
                    if (await probe.get(base + "/api/v1/health")).status_code == 200:
                        break
                except httpx.HTTPError:
                    await asyncio.sleep(0.1)
        server_key = read_private_key(data / SIGNING_KEY_FILE).public_key()
        # One small client per 20 booths: httpx's pool scans its waiters, so 2000 booths
        # queued on one pool cost the benchmark's own CPU more than the server's.
        limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
        stop = asyncio.Event()
        beats: list[float] = []
        errors: list[str] = []
        ready = [0]
        async with contextlib.AsyncExitStack() as stack:
            clients = [
                await stack.enter_async_context(httpx.AsyncClient(timeout=60, limits=limits))
                for _ in range(0, len(booths), SHARD)
            ]
            tasks = []
            for n, booth in enumerate(booths):
                http = clients[n // SHARD]
                tasks.append(
                    asyncio.create_task(
                        booth_life(
                            booth,
                            base,
                            ws_url,
                            http,
                            server_key,
                            args.interval,
                            beats,
                            errors,
                            stop,
                            ready,
                        )
                    )
                )
                if len(tasks) % 50 == 0:
                    await asyncio.sleep(0.25)
            connect_deadline = time.perf_counter() + 600
            while ready[0] < len(booths) and time.perf_counter() < connect_deadline:
                await asyncio.sleep(0.2)
            print(f"{ready[0]} booths connected", file=sys.stderr)
            proc.cpu_percent(None)
            cpu_started = time.perf_counter()
            await asyncio.sleep(args.warmup)

            admin = httpx.AsyncClient(base_url=base, timeout=300)
            await admin.post(
                "/api/v1/admin/login", json={"username": "bench", "password": "bench-pw"}
            )
            for booth in booths:
                booth.want = booth.version + 1
            started = time.perf_counter()
            response = await admin.post(
                "/api/v1/admin/config/apply", json={"scope": "fleet", "set": {"volume": 42}}
            )
            answered = time.perf_counter()
            print(
                f"apply: HTTP {response.status_code} in {(answered - started) * 1000:.0f} ms,"
                f" {len(response.json().get('issued', {}))} bundles signed",
                file=sys.stderr,
            )
            await admin.aclose()
            deadline = time.perf_counter() + 120
            while time.perf_counter() < deadline and any(b.applied_at is None for b in booths):
                await asyncio.sleep(0.1)
            await asyncio.sleep(max(0.0, args.after))
            cpu = proc.cpu_percent(None)
            window = time.perf_counter() - cpu_started
            rss = proc.memory_info().rss / 2**20
            stop.set()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            failed = [r for r in results if isinstance(r, BaseException)]
            if failed:
                print(f"{len(failed)} booth tasks failed, e.g. {failed[0]!r}", file=sys.stderr)
        pushes = [(b.applied_at - started) * 1000 for b in booths if b.applied_at is not None]
        missing = len(booths) - len(pushes)
        told = [(b.notified_at - started) * 1000 for b in booths if b.notified_at is not None]
        print(
            f"config_available received: p50 {pct(told, 0.5):.0f} ms, p99 {pct(told, 0.99):.0f} ms",
            file=sys.stderr,
        )
        print(
            f"{len(beats)} heartbeats in {window:.0f} s, {len(errors)} errors"
            f" ({', '.join(sorted(set(errors))[:5])}), {missing} booths without the new config,"
            f" client maxrss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB",
            file=sys.stderr,
        )
        return (
            f"fleet booths={len(booths)} push_p50_ms={pct(pushes, 0.5):.0f}"
            f" push_p99_ms={pct(pushes, 0.99):.0f} heartbeat_p99_ms={pct(beats, 0.99):.0f}"
            f" server_cpu_pct={cpu:.0f} server_rss_mb={rss:.0f}"
        )
    finally:
        server.terminate()
        server.wait(10)
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--booths", type=int, default=2000)
    parser.add_argument("--interval", type=float, default=30.0, help="heartbeat period (s)")
    parser.add_argument("--warmup", type=float, default=45.0, help="heartbeats before the push (s)")
    parser.add_argument("--after", type=float, default=5.0, help="heartbeats after the push (s)")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * args.booths + 256)), hard))
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    print(asyncio.run(main_async(args)))


if __name__ == "__main__":
    main()

"""Benchmark: call set-up time and CPU, booth (Kivy + aiortc) against a Chromium baseline.

For each of ``--calls`` calls (default 5, after one warm-up call) it measures the
time from the agent's click on "answer" in the console to the first decoded remote
frame on each side,
once with the real booth app (its own process, Kivy under the current display or
offscreen, fake 640x480 camera at 30 fps) and once with a booth written for the
browser (``bench/chromium_booth``, a separate headless Chromium with a fake
640x480 camera), both through the same real switchboard and the same agent
console in headless Chromium. Then, in one call of each kind, it measures the
CPU of the booth's process tree (percent of one core) over ``--cpu-seconds``.

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python bench/call_setup.py

Last line:
call_setup booth_ms=<median> chromium_ms=<median> ratio=<booth/chromium>
booth_cpu_pct=<median> chromium_cpu_pct=<median>
(``*_ms`` is the time until BOTH sides decoded their first frame.)
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import http.server
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tests"), str(REPO / "tests" / "kiosk")]

from fixtures.browser import (  # noqa: E402
    CHROMIUM_ARGS,
    CHROMIUM_PATH,
    agent_login,
    new_agent_page,
    wait_console,
)
from fixtures.server import start_switchboard  # noqa: E402
from kivy_harness import kivy_env  # noqa: E402
from playwright.async_api import BrowserContext, Page, async_playwright  # noqa: E402

STEP_TIMEOUT_S = 60.0
# Chromium's fake camera runs at 20 fps unless told: the call under test is 30 fps
# both ways, for the agent's console and the baseline booth alike.
BENCH_ARGS = [
    "--use-fake-device-for-media-stream=fps=30" if a == "--use-fake-device-for-media-stream" else a
    for a in CHROMIUM_ARGS
]
SAMPLE_S = 0.5

# Registered before the click: resolves with the wall-clock time of the first
# video frame presented in the console after that moment.
FIRST_FRAME_JS = """() => {
  const video = document.getElementById('gc-remote-video');
  window.__benchFirstFrame = null;
  const onFrame = (now) => { window.__benchFirstFrame = performance.timeOrigin + now; };
  video.requestVideoFrameCallback(onFrame);
  return performance.timeOrigin + performance.now();
}"""
CLICK_JS = """() => {
  const t = performance.timeOrigin + performance.now();
  document.getElementById('gc-answer-next').click();
  return t;
}"""


def _steps(progress: Path) -> dict[str, dict[str, Any]]:
    if not progress.exists():
        return {}
    lines = progress.read_text().splitlines()
    return {e["step"]: e for e in (json.loads(x) for x in lines if x.strip())}


async def _wait_step(progress: Path, step: str, proc: subprocess.Popen[str]) -> dict[str, Any]:
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while time.monotonic() < deadline:
        entry = _steps(progress).get(step)
        if entry is not None:
            return entry
        if proc.poll() is not None:
            raise RuntimeError(f"booth stopped before {step}; see {progress.parent}/booth.log")
        await asyncio.sleep(0.02)
    raise RuntimeError(f"booth never reached {step}")


def _tree_cpu_seconds(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


async def _cpu_pct(procs: list[psutil.Process], seconds: float) -> float:
    before, t0 = _tree_cpu_seconds(procs), time.monotonic()
    await asyncio.sleep(seconds)
    return 100.0 * (_tree_cpu_seconds(procs) - before) / (time.monotonic() - t0)


async def _answer_and_time(page: Page) -> tuple[float, float]:
    """Click 'answer'; return (click wall time, console's first frame wall time) in s."""
    await page.evaluate(FIRST_FRAME_JS)
    clicked = await page.evaluate(CLICK_JS)
    await page.wait_for_function("() => window.__benchFirstFrame !== null", timeout=30_000)
    first = await page.evaluate("() => window.__benchFirstFrame")
    return clicked / 1000.0, first / 1000.0


async def _inbound(page: Page) -> str:
    """What the console receives from the booth now (so both runs compare like with like)."""
    stats = await page.evaluate("() => window.guichetConsole.stats()")
    return (
        f"{stats['frameWidth']}x{stats['frameHeight']}"
        f" at {stats['framesPerSecond']} fps to the console"
    )


async def _hang_up(page: Page) -> None:
    await page.locator("#gc-hangup").click()
    await wait_console(page, "c.state === 'idle'", 20_000)


async def bench_booth(
    page: Page, server: Any, calls: int, cpu_s: float, tmp: Path
) -> tuple[list[float], list[float], list[float], float]:
    token_file = tmp / "booth.token"
    token_file.write_text(server.booth_tokens["booth-1"] + "\n")
    os.chmod(token_file, 0o600)
    progress = tmp / "booth-progress.jsonl"
    ctx = {
        "server_url": server.base_url,
        "token_file": str(token_file),
        "progress": str(progress),
        "calls": calls + 1,
    }
    env = kivy_env({"GUICHET_SCENARIO_CTX": json.dumps(ctx)})
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env["PYTHONPATH"]])
    log = (tmp / "booth.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kivy_harness", "bench.booth_driver:drive"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    totals, booth_side, agent_side, cpu = [], [], [], 0.0
    try:
        for n in range(calls + 1):
            await _wait_step(progress, f"queued_{n}", proc)
            await wait_console(page, "c.waiting === 1", 30_000)
            clicked, console_first = await _answer_and_time(page)
            booth_first = (await _wait_step(progress, f"first_frame_{n}", proc))["wall"]
            if n > 0:  # call 0 warms up both ends (first camera open, codecs)
                booth_side.append((booth_first - clicked) * 1000)
                agent_side.append((console_first - clicked) * 1000)
                totals.append((max(booth_first, console_first) - clicked) * 1000)
            if n == calls:
                await asyncio.sleep(2.0)  # let the call settle to its steady state
                cpu = await _cpu_pct([psutil.Process(proc.pid)], cpu_s)
                print(f"booth    sends {await _inbound(page)}")
            await _hang_up(page)
            await _wait_step(progress, f"ended_{n}", proc)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    return totals, booth_side, agent_side, cpu


def _serve_baseline() -> tuple[http.server.ThreadingHTTPServer, int]:
    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    handler = functools.partial(QuietHandler, directory=str(REPO / "bench" / "chromium_booth"))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, int(httpd.server_address[1])


def _chromium_tree(user_data_dir: str) -> list[psutil.Process]:
    procs = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info.get("cmdline") or []
        if any(user_data_dir in part for part in cmd):
            procs.append(p)
    return procs


async def bench_chromium(
    pw: Any, page: Page, server: Any, calls: int, cpu_s: float
) -> tuple[list[float], list[float], list[float], float]:
    httpd, port = _serve_baseline()
    user_data = tempfile.mkdtemp(prefix="bench-chromium-booth-")
    context: BrowserContext = await pw.chromium.launch_persistent_context(
        user_data,
        executable_path=CHROMIUM_PATH,
        headless=True,
        args=BENCH_ARGS,
        permissions=["camera", "microphone"],
    )
    totals, booth_side, agent_side, cpu = [], [], [], 0.0
    try:
        for n in range(calls + 1):
            booth = await context.new_page()
            url = (
                f"http://127.0.0.1:{port}/index.html?ws={server.ws_url}/ws/booth"
                f"&token={server.booth_tokens['booth-2']}&service=caf"
            )
            await booth.goto(url)
            await booth.wait_for_function("() => window.baselineBooth.status === 'queued'")
            await wait_console(page, "c.waiting === 1", 30_000)
            clicked, console_first = await _answer_and_time(page)
            await booth.wait_for_function(
                "() => window.baselineBooth.firstFrameAt !== null", timeout=30_000
            )
            booth_first = await booth.evaluate("() => window.baselineBooth.firstFrameAt") / 1000
            if n > 0:  # call 0 warms up both ends
                booth_side.append((booth_first - clicked) * 1000)
                agent_side.append((console_first - clicked) * 1000)
                totals.append((max(booth_first, console_first) - clicked) * 1000)
            if n == calls:
                await asyncio.sleep(2.0)
                cpu = await _cpu_pct(_chromium_tree(user_data), cpu_s)
                print(f"chromium sends {await _inbound(page)}")
            await _hang_up(page)
            await booth.close()
    finally:
        await context.close()
        httpd.shutdown()
    return totals, booth_side, agent_side, cpu


async def main(calls: int, cpu_s: float) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-call-setup-"))
    server = start_switchboard(tmp)
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=CHROMIUM_PATH, headless=True, args=BENCH_ARGS
            )
            _, page, _ = await new_agent_page(browser, server.base_url)
            await agent_login(page, server.base_url, "alice", "alice-pw")
            b_tot, b_booth, b_agent, b_cpu = await bench_booth(page, server, calls, cpu_s, tmp)
            c_tot, c_booth, c_agent, c_cpu = await bench_chromium(pw, page, server, calls, cpu_s)
            await browser.close()
    finally:
        server.stop()

    def fmt(xs: list[float]) -> str:
        return " ".join(f"{x:.0f}" for x in xs)

    print(f"calls={calls} cpu_window_s={cpu_s} booth_log={tmp / 'booth.log'}")
    print(f"booth    answer->both first frames ms: {fmt(b_tot)}")
    print(f"booth    answer->booth decoded ms:     {fmt(b_booth)}")
    print(f"booth    answer->console decoded ms:   {fmt(b_agent)}")
    print(f"chromium answer->both first frames ms: {fmt(c_tot)}")
    print(f"chromium answer->booth decoded ms:     {fmt(c_booth)}")
    print(f"chromium answer->console decoded ms:   {fmt(c_agent)}")
    booth_ms, chromium_ms = statistics.median(b_tot), statistics.median(c_tot)
    print(
        f"call_setup booth_ms={booth_ms:.0f} chromium_ms={chromium_ms:.0f}"
        f" ratio={booth_ms / chromium_ms:.2f} booth_cpu_pct={b_cpu:.0f}"
        f" chromium_cpu_pct={c_cpu:.0f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--cpu-seconds", type=float, default=10.0)
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.cpu_seconds))

"""Benchmark: N full sessions on ONE booth process; no crash, no growth of memory or fds.

Starts a real switchboard (127.0.0.1, temporary SQLite), the real booth app in one
process of its own (``bench/soak_booth.py``: Kivy under the current display or
offscreen, aiortc, fake 640x480 camera, driven by real touches) and the agent
console in headless Chromium. Each session: the citizen picks a service on the
booth, the agent answers in the console, video both ways for a moment (the booth
counts the agent's frames, the console's ``framesDecoded`` must grow), one chat
line each way, then the citizen (odd sessions) or the agent (even ones) hangs up
and the booth goes back to its welcome screen. A session that does not complete
is a failure; the soak goes on.

The booth process's resident memory (psutil) and open file descriptors
(``/proc/PID/fd``) are measured, once it is idle on its welcome screen, after
``--warmup`` sessions (the baseline) and at the end; the booth also counts its live
peer connections, tracks, tasks, threads and widgets at those two points. Per-session
wall time (start tap to welcome screen again) is printed for the first and the last
ten sessions too.

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python bench/soak.py [--sessions 200]

Last line:
soak sessions=<N> failures=<n> rss_growth_mb=<> fd_growth=<> session_p50_s=<>
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tests"), str(REPO / "tests" / "kiosk"), str(REPO / "bench")]

from fixtures.browser import agent_login, launch_chromium, new_agent_page, wait_console  # noqa: E402
from fixtures.server import start_switchboard  # noqa: E402
from kivy_harness import kivy_env  # noqa: E402
from playwright.async_api import Page, async_playwright  # noqa: E402
from soak_booth import agent_says, citizen_hangs_up, citizen_says  # noqa: E402

STEP_TIMEOUT_S = 60.0
RECOVER_TIMEOUT_S = 180.0
SETTLE_S = 2.0
"""Idle time on the welcome screen before a memory/fd measurement (late closes done)."""
PROGRESS_EVERY = 10


class BoothGone(RuntimeError):
    """The booth process is not running any more: the soak cannot go on."""


class SessionFailed(RuntimeError):
    """The booth marked this session failed."""


class Booth:
    """The booth process and its progress file."""

    def __init__(self, proc: subprocess.Popen[str], progress: Path, commands: Path) -> None:
        self.proc = proc
        self.progress = progress
        self.commands = commands
        self.ps = psutil.Process(proc.pid)
        self._steps: dict[str, dict[str, Any]] = {}
        self._read = 0

    def steps(self) -> dict[str, dict[str, Any]]:
        if self.progress.exists():
            with self.progress.open(encoding="utf-8") as fh:
                fh.seek(self._read)
                chunk = fh.read()
            # Only whole lines: the booth may be writing the next one.
            whole = chunk[: chunk.rfind("\n") + 1]
            self._read += len(whole.encode("utf-8"))
            for line in whole.splitlines():
                if line.strip():
                    entry = json.loads(line)
                    self._steps[entry["step"]] = entry
        return self._steps

    async def wait(self, step: str, n: int | None = None, timeout: float = STEP_TIMEOUT_S) -> Any:
        """The entry of ``step``; raises SessionFailed if session ``n`` failed first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            steps = self.steps()
            if step in steps:
                return steps[step]
            if n is not None and f"failed_{n}" in steps:
                raise SessionFailed(steps[f"failed_{n}"]["reason"])
            if self.proc.poll() is not None:
                raise BoothGone(f"booth process ended ({self.proc.returncode}) before {step}")
            await asyncio.sleep(0.02)
        raise TimeoutError(f"booth never reached {step}")

    def command(self, name: str) -> None:
        (self.commands / name).touch()

    def measure(self) -> tuple[float, int, int]:
        """(RSS in MB, open fds, threads) of the booth process now."""
        rss = self.ps.memory_info().rss / 2**20
        fds = len(os.listdir(f"/proc/{self.proc.pid}/fd"))
        return rss, fds, self.ps.num_threads()


async def _frames_decoded_growing(page: Page) -> None:
    """The console decodes the booth's video: framesDecoded grows by 10+."""
    first = await page.evaluate("() => window.guichetConsole.stats()")
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        now = await page.evaluate("() => window.guichetConsole.stats()")
        if now["framesDecoded"] >= first["framesDecoded"] + 10 and now["frameWidth"]:
            return
    raise AssertionError("the console decoded no video from the booth")


async def agent_session(page: Page, booth: Booth, n: int) -> None:
    """The agent's half of session ``n``."""
    await booth.wait(f"queued_{n}", n)
    await wait_console(page, "c.waiting === 1", STEP_TIMEOUT_S * 1000)
    await page.locator("#gc-answer-next").click()
    await wait_console(page, "c.state === 'in_call' && c.channelOpen", STEP_TIMEOUT_S * 1000)
    await _frames_decoded_growing(page)
    media = await booth.wait(f"media_{n}", n)
    if not media["size"] or not media["size"][0]:
        raise AssertionError(f"booth got no video size: {media}")
    await page.locator("#gc-chat-input").fill(agent_says(n))
    await page.locator("#gc-chat-send").click()
    await booth.wait(f"chatted_{n}", n)
    await (
        page.locator("#gc-chat-log")
        .get_by_text(citizen_says(n))
        .wait_for(timeout=STEP_TIMEOUT_S * 1000)
    )
    if citizen_hangs_up(n):
        booth.command(f"hangup_{n}")
        await wait_console(
            page, "c.state === 'idle' && c.lastCallEnd === 'booth_hangup'", STEP_TIMEOUT_S * 1000
        )
    else:
        await page.locator("#gc-hangup").click()
        await wait_console(page, "c.state === 'idle'", STEP_TIMEOUT_S * 1000)
    await booth.wait(f"done_{n}", n)


async def _recover(page: Page, booth: Booth, n: int) -> None:
    """After a failed session: console idle, booth back on its welcome screen."""
    booth.command(f"hangup_{n}")  # in case the booth waits for it
    try:
        state, ended = await page.evaluate(
            "() => [window.guichetConsole.state, window.guichetConsole.lastCallEnd]"
        )
        print(f"  console: state {state}, last call ended by {ended or '-'}")
        if state != "idle":
            await page.locator("#gc-hangup").click(timeout=5_000)
            await wait_console(page, "c.state === 'idle'", STEP_TIMEOUT_S * 1000)
    except Exception as exc:
        print(f"  console recovery: {type(exc).__name__}: {exc}")
    deadline = time.monotonic() + RECOVER_TIMEOUT_S
    while time.monotonic() < deadline:
        steps = booth.steps()
        if f"done_{n}" in steps or f"recovered_{n}" in steps:
            return
        if booth.proc.poll() is not None:
            raise BoothGone(f"booth process ended ({booth.proc.returncode})")
        await asyncio.sleep(0.05)
    raise BoothGone(f"booth never came back to its welcome screen after session {n}")


def _p50(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def _fmt_live(live: dict[str, int] | None) -> str:
    return " ".join(f"{k}={v}" for k, v in (live or {}).items())


async def soak(sessions: int, warmup: int, tmp: Path) -> tuple[int, float, float, float]:
    server = start_switchboard(tmp)
    token_file = tmp / "booth.token"
    token_file.write_text(server.booth_tokens["booth-1"] + "\n")
    token_file.chmod(0o600)
    commands = tmp / "commands"
    commands.mkdir()
    progress = tmp / "booth-progress.jsonl"
    # Live objects are counted on the welcome screen before the baseline and at the end.
    census_after = sorted({warmup - 1, sessions - 1})
    ctx = {
        "server_url": server.base_url,
        "token_file": str(token_file),
        "progress": str(progress),
        "commands": str(commands),
        "sessions": sessions,
        "census_after": census_after,
    }
    env = kivy_env({"GUICHET_SCENARIO_CTX": json.dumps(ctx)})
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "bench"), env["PYTHONPATH"]])
    log = (tmp / "booth.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kivy_harness", "soak_booth:drive"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    booth = Booth(proc, progress, commands)
    failures = 0
    times: dict[int, float] = {}
    baseline: tuple[float, int, int] | None = None
    try:
        async with async_playwright() as pw:
            browser = await launch_chromium(pw)
            _, page, guard = await new_agent_page(browser, server.base_url)
            await agent_login(page, server.base_url, "alice", "alice-pw")
            ready = await booth.wait("ready")
            print(f"booth pid {proc.pid} ready; log {tmp / 'booth.log'}")
            if warmup == 0:
                await asyncio.sleep(SETTLE_S)
                baseline = booth.measure()
                live = ready.get("live")
                print(
                    f"baseline before any session: rss_mb={baseline[0]:.1f} fds={baseline[1]}"
                    f" threads={baseline[2]} {_fmt_live(live)}"
                )
            for n in range(sessions):
                try:
                    await agent_session(page, booth, n)
                    steps = booth.steps()
                    times[n] = steps[f"done_{n}"]["at"] - steps[f"start_{n}"]["at"]
                except BoothGone:
                    raise
                except Exception as exc:
                    failures += 1
                    print(
                        f"session {n + 1}/{sessions}: FAILED {type(exc).__name__}: {str(exc)[:300]}"
                    )
                    for line in guard.console_errors[-5:]:
                        print(f"  console said: {line[:300]}")
                    guard.console_errors.clear()
                    await _recover(page, booth, n)
                if n == warmup - 1:
                    await asyncio.sleep(SETTLE_S)
                    baseline = booth.measure()
                    live = booth.steps().get(f"done_{n}", {}).get("live")
                    print(
                        f"baseline after {warmup} warm-up sessions: rss_mb={baseline[0]:.1f}"
                        f" fds={baseline[1]} threads={baseline[2]} {_fmt_live(live)}"
                    )
                if (n + 1) % PROGRESS_EVERY == 0 or n == sessions - 1:
                    rss, fds, threads = booth.measure()
                    last = [
                        times[i] for i in range(max(0, n + 1 - PROGRESS_EVERY), n + 1) if i in times
                    ]
                    print(
                        f"session {n + 1}/{sessions}: failures={failures}"
                        f" p50_last_{len(last)}_s={_p50(last):.2f} rss_mb={rss:.1f}"
                        f" fds={fds} threads={threads}",
                        flush=True,
                    )
            await asyncio.sleep(SETTLE_S)
            final = booth.measure()
            live = booth.steps().get(f"done_{sessions - 1}", {}).get("live")
            print(
                f"after {sessions} sessions: rss_mb={final[0]:.1f} fds={final[1]}"
                f" threads={final[2]} {_fmt_live(live)}"
            )
            booth.command("stop")
            if guard.outside:
                print(f"requests that tried to leave 127.0.0.1: {guard.outside}")
            await browser.close()
        proc.wait(timeout=60)
        if proc.returncode != 0:
            raise BoothGone(f"booth process ended with {proc.returncode}")
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
        server.stop()
        shutil.rmtree(env["KIVY_HOME"], ignore_errors=True)
    assert baseline is not None
    ordered = [times[i] for i in sorted(times)]
    first, last = ordered[:PROGRESS_EVERY], ordered[-PROGRESS_EVERY:]
    print(
        f"session wall time p50: first {len(first)} {_p50(first):.2f} s,"
        f" last {len(last)} {_p50(last):.2f} s, all {_p50(ordered):.2f} s"
        f" (max {max(ordered, default=float('nan')):.2f} s)"
    )
    return failures, final[0] - baseline[0], float(final[1] - baseline[1]), _p50(ordered)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    if args.sessions < 1 or not 0 <= args.warmup < args.sessions:
        parser.error("need --sessions >= 1 and 0 <= --warmup < --sessions")
    tmp = Path(tempfile.mkdtemp(prefix="guichet-bench-soak-"))
    failures, rss_growth, fd_growth, p50 = asyncio.run(soak(args.sessions, args.warmup, tmp))
    print(
        f"soak sessions={args.sessions} failures={failures} rss_growth_mb={rss_growth:.1f}"
        f" fd_growth={fd_growth:.0f} session_p50_s={p50:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

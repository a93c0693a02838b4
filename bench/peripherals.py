"""Benchmark: the agent's device jobs through a call, against the same jobs on the drivers.

Starts a real switchboard, a private cupsd with a CUPS-PDF queue (needs root, like
CI), SANE's ``test`` backend behind a private ``SANE_CONFIG_DIR``, the real booth
app in its own process (``bench/peripherals_booth.py``: Kivy, aiortc, its
``[devices]`` on that cupsd, that scanner and the pty simulators of the ESC/POS
printer and the card reader) and the agent console in headless Chromium. In one
call, ``--runs`` rounds (default 5) of four jobs, each timed from the agent's click
in the console (the page's clock) to:

- ``a4_print``: a one-page A4 PDF uploaded and printed, until the PDF that CUPS-PDF
  writes is complete (``pdfinfo`` reads it: 1 page, A4);
- ``receipt``: a receipt with a QR code, until the ESC/POS simulator got the cut;
- ``scan``: a 300 dpi colour A4 scan, until the image is loaded in the console
  (``naturalWidth > 0``);
- ``card``: a card read, until its UID is shown in the console.

Consent (card, scan) is tapped on the booth by the driver as fast as it can, with
real touches through Kivy; the card is laid on the simulated reader as soon as the
booth asks for it. **The scan and card figures include that driver latency**; it is
measured on its own and printed (``consent tap``). Waits poll every few ms (CUPS-PDF
output 10 ms, the console 5 ms, the booth's simulator 2 ms).

Two baselines, measured in the same run: the same jobs on the drivers in this
process (``A4Printer`` on the same queue, ``ReceiptPrinter`` on a new simulator,
``Scanner`` on the same backend at 300 dpi, ``SerialCardReader`` on a new simulator
with the card laid at once), without the call: ``during`` while the call's media
still flow, ``drivers`` once everything else has stopped. Per job, the median time
from the click to each stage the booth logs is printed too (where the time goes).

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python bench/peripherals.py

Last line:
peripherals a4_print_ms=<median> receipt_ms=<median> scan_ms=<median> card_ms=<median>
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# The repository first: tests/kiosk must not shadow the kiosk package.
sys.path[:0] = [
    str(REPO),
    str(REPO / "tests"),
    str(REPO / "tests" / "kiosk"),
    str(REPO / "tests" / "kiosk" / "devices"),
]

from fixtures.browser import agent_login, launch_chromium, new_agent_page, wait_console  # noqa: E402
from fixtures.peripherals import (  # noqa: E402
    A4_PAGE_SIZE,
    SANE_DEVICE,
    a4_pdf,
    wait_new_pdf,
    write_sane_config,
)
from fixtures.server import RunningServer, start_switchboard  # noqa: E402
from kivy_harness import kivy_env  # noqa: E402
from playwright.async_api import Page, async_playwright  # noqa: E402

from kiosk.devices.sim.cups_pdf import PDF_QUEUE, CupsServer, start_cups_server, stop_cups_server  # noqa: E402

STEP_TIMEOUT_S = 60.0
SCAN_DPI = 300
CARD_UID = "04A1B2C3D4E5F6"
CARD_TYPE = "ISO14443A"
RECEIPT_QR = "https://rdv.caf.example/42"
PDF_POLL_S = 0.01
PAGE_POLL_MS = 5

NOW_JS = "performance.timeOrigin + performance.now()"
# Click in the page and return the page's wall-clock time of the click (ms).
CLICK_JS = f"""(selector) => {{
  const t = {NOW_JS};
  const target = document.querySelector(selector);
  if (target instanceof HTMLFormElement) target.requestSubmit(); else target.click();
  return t;
}}"""
SCANS_LOADED_JS = """() => [...document.querySelectorAll('#gc-dev-log img.gc-dev-scan')]
  .filter(i => i.complete && i.naturalWidth > 0).length"""
UIDS_SHOWN_JS = f"""() => [...document.querySelectorAll('#gc-dev-log dd.gc-dev-value')]
  .filter(d => d.textContent === {CARD_UID!r}).length"""


def _steps(progress: Path) -> list[dict[str, Any]]:
    if not progress.exists():
        return []
    return [json.loads(x) for x in progress.read_text().splitlines() if x.strip()]


async def _wait_step(
    progress: Path,
    proc: subprocess.Popen[str],
    step: str,
    where: Callable[[dict[str, Any]], bool] = lambda e: True,
) -> dict[str, Any]:
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while time.monotonic() < deadline:
        for entry in _steps(progress):
            if entry["step"] == step and where(entry):
                return entry
        if proc.poll() is not None:
            raise RuntimeError(f"booth stopped before {step}; see {progress.parent}/booth.log")
        await asyncio.sleep(0.002)
    raise RuntimeError(f"booth never reached {step}")


async def _page_time_when(page: Page, count_js: str, more_than: int) -> float:
    """Wall-clock time (s, the page's clock) when ``count_js`` first exceeds ``more_than``."""
    handle = await page.wait_for_function(
        f"(n) => ({count_js})() > n ? {NOW_JS} : null",
        arg=more_than,
        polling=PAGE_POLL_MS,
        timeout=STEP_TIMEOUT_S * 1000,
    )
    return float(await handle.json_value()) / 1000


async def _click(page: Page, selector: str) -> float:
    return float(await page.evaluate(CLICK_JS, selector)) / 1000


async def call_round(
    page: Page,
    cups: CupsServer,
    progress: Path,
    proc: subprocess.Popen[str],
    n: int,
    pdf: Path,
    clicks: dict[str, float],
) -> dict[str, float]:
    """One round of the four jobs through the call; figures in ms, click times into ``clicks``."""
    figures: dict[str, float] = {}

    # A4: from the click to the complete PDF out of CUPS-PDF.
    await page.locator("#gc-dev-pdf-file").set_input_files(str(pdf))
    before = set(cups.pdf_out.glob("*.pdf"))
    clicked = await _click(page, "#gc-dev-pdf-form")
    clicks["a4_print"] = clicked
    _, info, done = await asyncio.to_thread(wait_new_pdf, cups.pdf_out, before, 60.0, PDF_POLL_S)
    assert info["Pages"] == "1" and info["Page size"].startswith(A4_PAGE_SIZE), info
    figures["a4_print"] = (done - clicked) * 1000
    await wait_console(
        page, f"c.devices.filter(r => r.kind === 'print_pdf' && r.status === 'done').length > {n}"
    )

    # Receipt: from the click to the cut received by the simulator.
    await page.locator("#gc-dev-receipt-title").fill("Rendez-vous CAF")
    await page.locator("#gc-dev-receipt-text").fill(f"Mardi 3 mars à 10 h\nGuichet {n}")
    await page.locator("#gc-dev-receipt-qr").fill(RECEIPT_QR)
    clicked = await _click(page, "#gc-dev-receipt-form")
    clicks["receipt"] = clicked
    cut = await _wait_step(progress, proc, "cut", lambda e: e["cuts"] == n + 1)
    assert cut["qr"] == [RECEIPT_QR], cut
    figures["receipt"] = (cut["at"] - clicked) * 1000
    # The driver asks the printer's state once more after the cut: let it finish.
    await wait_console(
        page,
        f"c.devices.filter(r => r.kind === 'print_receipt' && r.status === 'done').length > {n}",
    )

    # Scan: from the click to the image loaded in the console (consent tap included).
    await page.locator("#gc-dev-scan-dpi").select_option(str(SCAN_DPI))
    await page.locator("#gc-dev-scan-colour").select_option("colour")
    loaded = await page.evaluate(SCANS_LOADED_JS)
    clicked = await _click(page, "#gc-dev-scan")
    clicks["scan"] = clicked
    figures["scan"] = (await _page_time_when(page, SCANS_LOADED_JS, loaded) - clicked) * 1000

    # Card: from the click to the UID in the console (consent tap and card laid included).
    shown = await page.evaluate(UIDS_SHOWN_JS)
    clicked = await _click(page, "#gc-dev-card")
    clicks["card"] = clicked
    figures["card"] = (await _page_time_when(page, UIDS_SHOWN_JS, shown) - clicked) * 1000
    return figures


@dataclass
class CallResult:
    """What the call half measured."""

    rounds: list[dict[str, float]] = field(default_factory=list)
    clicks: list[dict[str, float]] = field(default_factory=list)
    taps: list[float] = field(default_factory=list)
    scan_line: str = ""
    drivers_during_call: list[dict[str, float]] = field(default_factory=list)


async def bench_call(
    page: Page, server: RunningServer, cups: CupsServer, runs: int, tmp: Path
) -> CallResult:
    token_file = tmp / "booth.token"
    token_file.write_text(server.booth_tokens["booth-1"] + "\n")
    os.chmod(token_file, 0o600)
    progress = tmp / "booth-progress.jsonl"
    ctx = {
        "server_url": server.base_url,
        "token_file": str(token_file),
        "progress": str(progress),
        "cups_queue": PDF_QUEUE,
        "cups_server": cups.server,
        "sane_device": SANE_DEVICE,
        # The booth scans at its [devices.scanner] dpi (its handler does not take the
        # agent's choice yet): 300 there too, so the scan really is 300 dpi.
        "scan_dpi": SCAN_DPI,
        "card_uid": CARD_UID,
        "card_type": CARD_TYPE,
    }
    env = kivy_env({"GUICHET_SCENARIO_CTX": json.dumps(ctx)})
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env["PYTHONPATH"]])
    pdf = tmp / "attestation.pdf"
    pdf.write_bytes(a4_pdf())
    result = CallResult()
    with (tmp / "booth.log").open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kivy_harness", "bench.peripherals_booth:drive"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            await _wait_step(progress, proc, "queued")
            await wait_console(page, "c.waiting === 1", 30_000)
            await page.locator("#gc-answer-next").click()
            await wait_console(page, "c.state === 'in_call' && c.channelOpen", 30_000)
            await _wait_step(progress, proc, "in_call")
            # Round 0 warms every path up (first lp, first SANE open, first transfer).
            for n in range(runs + 1):
                clicks: dict[str, float] = {}
                figures = await call_round(page, cups, progress, proc, n, pdf, clicks)
                _print_round("call", n, figures)
                if n > 0:
                    result.rounds.append(figures)
                    result.clicks.append(clicks)
            # The same jobs on the drivers while the call's media still flow: how much
            # of the difference is only the CPU that the call takes.
            result.drivers_during_call = await bench_drivers(cups, runs, "during")
            result.scan_line = await page.evaluate(
                "() => [...document.querySelectorAll('#gc-dev-log .gc-dev-msg')]"
                ".map(p => p.textContent).find(t => t.includes('ppp')) || ''"
            )
            await page.locator("#gc-hangup").click()
            await wait_console(page, "c.state === 'idle'", 20_000)
            await _wait_step(progress, proc, "ended")
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    result.taps = [e["tap_ms"] for e in _steps(progress) if e["step"] == "consent"]
    return result


def _print_round(who: str, n: int, figures: dict[str, float]) -> None:
    label = "warm-up" if n == 0 else f"round {n}"
    print(f"{who:8} {label:8} " + " ".join(f"{k}={v:.0f}" for k, v in figures.items()))


# Booth log lines that mark the stages of each job (kivy_harness logs with asctime).
STAGES: dict[str, list[tuple[str, str]]] = {
    "a4_print": [
        ("pdf received by booth", r"kiosk\.call\.device_channel transfer \S+ received"),
        ("lp submitted", r"kiosk\.devices\.a4_printer job \S+ submitted"),
    ],
    "receipt": [("driver starts writing", r"receipt_printer: busy")],
    "scan": [
        ("SANE scan starts", r"device scanner \(sane\): ready -> busy"),
        ("scan encoded", r"device scanner \(sane\): busy -> ready"),
    ],
    "card": [
        ("card read starts", r"device card_reader .*: ready -> busy"),
        ("card seen", r"card_reader: card present"),
        ("card read", r"device card_reader .*: busy -> ready"),
    ],
}
LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) (.*)$")


def _log_events(path: Path) -> list[tuple[float, str]]:
    events = []
    for line in path.read_text(errors="replace").splitlines():
        match = LOG_LINE.match(line)
        if match:
            when = datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S,%f").timestamp()
            events.append((when, match[2]))
    return events


def breakdown(result: CallResult, log: Path) -> dict[str, list[tuple[str, int]]]:
    """Median ms from the click to each stage the booth logged, per job."""
    events = _log_events(log)
    out: dict[str, list[tuple[str, int]]] = {}
    for job, stages in STAGES.items():
        rows = []
        for name, pattern in stages:
            regex = re.compile(pattern)
            offsets = []
            for clicks in result.clicks:
                after = [t for t, text in events if t >= clicks[job] - 0.001 and regex.search(text)]
                if after:
                    offsets.append((after[0] - clicks[job]) * 1000)
            if offsets:
                rows.append((name, round(statistics.median(offsets))))
        rows.append(("end", round(statistics.median(r[job] for r in result.rounds))))
        out[job] = rows
    return out


async def bench_drivers(cups: CupsServer, runs: int, who: str) -> list[dict[str, float]]:
    """The same jobs straight on the drivers, in this process, through no call."""
    from kiosk.devices.a4_printer import A4Printer
    from kiosk.devices.receipt_printer import Receipt, ReceiptPrinter
    from kiosk.devices.scanner import Scanner
    from kiosk.devices.serial_card_reader import SerialCardReader
    from kiosk.devices.sim.card_reader import CardReaderSimulator
    from kiosk.devices.sim.escpos_printer import SimulatedEscPosPrinter
    from kiosk.devices.transport import SerialTransport

    def ignore(_status: object) -> None:
        pass

    pdf = a4_pdf()
    printer_sim, card_sim = SimulatedEscPosPrinter(), CardReaderSimulator()
    a4 = A4Printer(PDF_QUEUE, server=cups.server, on_status=ignore)
    receipt = ReceiptPrinter(SerialTransport(await printer_sim.start()), on_status=ignore)
    await receipt.start()
    card = SerialCardReader(SerialTransport(await card_sim.start()), on_status=ignore)
    await card.start()
    scanner = Scanner(SANE_DEVICE, resolution_dpi=SCAN_DPI, mode="color", on_status=ignore)
    rounds: list[dict[str, float]] = []
    try:
        for n in range(runs + 1):
            figures: dict[str, float] = {}
            before = set(cups.pdf_out.glob("*.pdf"))
            start = time.time()
            job = asyncio.create_task(a4.print_pdf(pdf, title="attestation"))
            _, _, done = await asyncio.to_thread(
                wait_new_pdf, cups.pdf_out, before, 60.0, PDF_POLL_S
            )
            figures["a4_print"] = (done - start) * 1000
            await job

            # Like the call's figure: until the cut reaches the simulator (the driver
            # then still asks the printer's state once more).
            start = time.time()
            printing = asyncio.create_task(
                receipt.print_receipt(
                    Receipt(title="Rendez-vous CAF", lines=["Guichet 2"], qr_payload=RECEIPT_QR)
                )
            )
            while printer_sim.printed.cuts < n + 1 and not printing.done():
                await asyncio.sleep(0.002)
            figures["receipt"] = (time.time() - start) * 1000
            await printing

            start = time.time()
            page = await scanner.scan()
            figures["scan"] = (time.time() - start) * 1000
            assert page.dpi == SCAN_DPI and page.data

            start = time.time()
            read = asyncio.create_task(card.read_card(10.0))
            card_sim.insert(CARD_UID, CARD_TYPE)
            assert (await read).uid == CARD_UID
            figures["card"] = (time.time() - start) * 1000
            card_sim.remove()

            _print_round(who, n, figures)
            if n > 0:
                rounds.append(figures)
    finally:
        await card.stop()
        await receipt.close()
        await card_sim.stop()
        await printer_sim.stop()
    return rounds


def _medians(rounds: list[dict[str, float]]) -> dict[str, int]:
    return {k: round(statistics.median(r[k] for r in rounds)) for k in rounds[0]}


async def main(runs: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-peripherals-"))
    # libsane reads SANE_CONFIG_DIR once per process: set before any scan, here and
    # (through the environment) in the booth's process.
    os.environ["SANE_CONFIG_DIR"] = str(write_sane_config(tmp / "sane"))
    cups = start_cups_server()
    server = start_switchboard(tmp)
    try:
        async with async_playwright() as pw:
            browser = await launch_chromium(pw)
            _, page, _ = await new_agent_page(browser, server.base_url)
            await agent_login(page, server.base_url, "alice", "alice-pw")
            call = await bench_call(page, server, cups, runs, tmp)
            await browser.close()
        # And once more with nothing else running: the drivers alone.
        idle = await bench_drivers(cups, runs, "drivers")
    finally:
        server.stop()
        stop_cups_server(cups)

    print(f"runs={runs} booth_log={tmp / 'booth.log'} console scan line: {call.scan_line!r}")
    print("consent tap (modal up -> answer on the booth) ms: " + _fmt(call.taps))
    for job, rows in breakdown(call, tmp / "booth.log").items():
        print(f"call {job:8} from click, median ms: " + ", ".join(f"{n} {v}" for n, v in rows))
    medians = _medians(call.rounds)
    for who, rounds in (("drivers", idle), ("during", call.drivers_during_call)):
        print(f"{who:8} medians " + " ".join(f"{k}_ms={v}" for k, v in _medians(rounds).items()))
    print("call     medians " + " ".join(f"{k}_ms={v}" for k, v in medians.items()))
    print(
        f"peripherals a4_print_ms={medians['a4_print']} receipt_ms={medians['receipt']}"
        f" scan_ms={medians['scan']} card_ms={medians['card']}"
    )


def _fmt(xs: list[float]) -> str:
    return " ".join(f"{x:.0f}" for x in xs)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.runs))

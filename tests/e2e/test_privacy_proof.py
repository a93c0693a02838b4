"""The privacy proof: after a full session, nothing of the citizen is anywhere the booth wrote.

A real booth (Kivy under Xvfb, aiortc) serves a citizen whom a real agent (the console
in headless Chromium) answers through the real switchboard: they chat both ways, the
agent prints a PDF on a private CUPS-PDF queue, reads a card on the serial reader's pty
simulator (a UID made up for this run) and scans a page from SANE's ``test`` backend.

The booth process runs the way its systemd unit runs it: its home, Kivy home, caches,
runtime folder and ``TMPDIR`` point into one tree made for the test (the unit's
``StateDirectory``/``CacheDirectory``/``RuntimeDirectory``/``PrivateTmp``). It runs
under ``strace -f``, so every file the booth process and its children (``lp``,
``ipptool``) opened for writing, created, renamed or linked is known, wherever it is.

After the session, the sweep reads all of it (the tree, every file in the strace
list that still exists, the booth's captured log output) for the chat markers, the
card UID in every spelling and windows of the scan's bytes. Nothing may be found.

Left out, and why: the private cupsd's spool and CUPS-PDF's output folder (another
process, the printer: its output is the document the agent chose to print on paper,
and holds none of the needles anyway); the agent's side (Chromium's profile, the scan
the agent downloaded: it is the agent's to keep); the switchboard's database (the
audit trail, checked on its own to hold no UID).
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fixtures.browser import agent_login, launch_chromium, new_agent_page, wait_console
from fixtures.peripherals import SANE_DEVICE, a4_pdf, wait_new_pdf, write_sane_config
from fixtures.server import RunningServer
from kivy_harness import run_scenario
from playwright.async_api import Route, async_playwright, expect
from privacy_sweep import Needles, regular_files, sweep, written_paths
from story_steps import audit_entries, audit_verdict, wait_request, wait_step

from kiosk.devices.sim.cups_pdf import PDF_QUEUE, CupsServer

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.kivy]

REPO = Path(__file__).resolve().parents[2]
GONE_AND_HARMLESS = {
    r".*/mesa_shader_cache/[0-9a-f]{2}/[0-9a-f]+\.tmp": "Mesa writes a shader, then renames it",
    r".*/tmp/[a-z0-9_]{8}": "Python's tempfile probes TMPDIR once with an empty file",
    r".*/tmp/shot-[a-z0-9_]+/shot\d+\.png": "the harness's screenshot, moved to test-artifacts",
    r".*/tmp/guichet-speech-[a-z0-9_]+/\d+\.wav": (
        "spoken guidance (kiosk/speech.py): a sentence of the booth's screens, never a"
        " chat line, a document or a card, in the booth's private 0700 folder, deleted"
        " once played (the first touch on the welcome screen says where Listen is)"
    ),
}
"""Files the booth wrote and deleted: they cannot be read after the fact, so each must
be one of these (and none of them is written with anything of the citizen's)."""
STRACE_CALLS = (
    "open,openat,openat2,creat,rename,renameat,renameat2,link,linkat,symlink,symlinkat,"
    "mkdir,mkdirat"
)


def _booth_tree(root: Path) -> dict[str, str]:
    """The booth's writable folders, as the systemd unit gives them, under ``root``."""
    state, cache, runtime, tmp = (root / n for n in ("state", "cache", "run", "tmp"))
    for folder in (state, cache, runtime, tmp):
        folder.mkdir(parents=True, mode=0o700)
    return {
        "HOME": str(state),
        "KIVY_HOME": str(state / "kivy"),
        "XDG_CACHE_HOME": str(cache),
        "XDG_CONFIG_HOME": str(state / "config"),
        "XDG_DATA_HOME": str(state / "data"),
        "XDG_STATE_HOME": str(state / "state"),
        "XDG_RUNTIME_DIR": str(runtime),
        "TMPDIR": str(tmp),
        # Kivy's own file log off, as configure_kivy sets it: what the booth logs goes
        # to stderr (the journal in production), which the sweep reads too.
        "KIVY_NO_FILELOG": "1",
    }


async def test_nothing_of_the_citizen_is_left_anywhere_the_booth_wrote(
    switchboard: RunningServer,
    cups: CupsServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if shutil.which("strace") is None:
        pytest.skip("needs strace (apt strace)")
    monkeypatch.setenv("SANE_CONFIG_DIR", str(write_sane_config(tmp_path / "sane")))
    token_file = tmp_path / "booth.token"
    token_file.write_text(switchboard.booth_tokens["booth-1"] + "\n")
    os.chmod(token_file, 0o600)
    progress = tmp_path / "progress.jsonl"
    tree = tmp_path / "booth-tree"
    env = _booth_tree(tree)
    strace_log = tmp_path / "booth.strace"

    # Made up for this run: nothing else on the machine can hold them by chance.
    chat_marker = f"zq{secrets.token_hex(8)}"
    card_uid = secrets.token_hex(7).upper()
    agent_says = f"Votre dossier porte la référence {chat_marker}A."
    citizen_says = f"Merci, je note {chat_marker}C."
    ctx: dict[str, Any] = {
        "server_url": switchboard.base_url,
        "token_file": str(token_file),
        "progress": str(progress),
        "cups_queue": PDF_QUEUE,
        "cups_server": cups.server,
        "sane_device": SANE_DEVICE,
        "card_uid": card_uid,
        "chat_marker": chat_marker,
        "agent_says": agent_says,
        "citizen_says": citizen_says,
    }
    wrap = [
        "strace",
        "-f",
        "--seccomp-bpf",
        "-qq",
        "-y",
        "-e",
        "signal=none",
        "-e",
        f"trace={STRACE_CALLS}",
        "-o",
        str(strace_log),
    ]
    booth = asyncio.create_task(
        asyncio.to_thread(
            run_scenario, "e2e.booth_story:privacy_story", ctx, 240.0, env=env, wrap=wrap
        )
    )
    scan_file: Path | None = None
    try:
        async with async_playwright() as pw:
            browser = await launch_chromium(pw)
            context, page, guard = await new_agent_page(browser, switchboard.base_url)
            # This console never reports device work to the audit trail (a console that
            # is old, broken or tampered with): the booth's own reports must be there.
            blocked: list[str] = []

            async def drop_report(route: Route) -> None:
                blocked.append(route.request.url)
                await route.abort()

            await page.route("**/api/v1/agent/audit", drop_report)
            await agent_login(page, switchboard.base_url, "alice", "alice-pw")
            await wait_step(progress, "queued", booth)
            await wait_console(page, "c.waiting === 1", 30_000)
            await page.locator("#gc-answer-next").click()
            await wait_console(page, "c.state === 'in_call' && c.channelOpen", 30_000)
            await wait_step(progress, "in_call", booth)

            await page.locator("#gc-chat-input").fill(agent_says)
            await page.locator("#gc-chat-send").click()
            await wait_step(progress, "chatted", booth)
            await page.locator("#gc-chat-log").get_by_text(citizen_says).wait_for(timeout=20_000)

            before = set(cups.pdf_out.glob("*.pdf"))
            upload = tmp_path / "attestation.pdf"
            upload.write_bytes(a4_pdf())
            await page.get_by_label("Document PDF (A4)").set_input_files(str(upload))
            await page.get_by_role("button", name="Imprimer un PDF").click()
            await wait_request(page, "print_pdf")
            await asyncio.to_thread(wait_new_pdf, cups.pdf_out, before)
            await wait_step(progress, "printed", booth)

            await page.get_by_role("button", name="Demander la carte").click()
            await wait_request(page, "read_card")
            await expect(page.locator("#gc-dev-log")).to_contain_text(card_uid)
            await wait_step(progress, "card_read", booth)

            await page.locator("#gc-dev-scan").click()
            await wait_request(page, "scan")
            async with page.expect_download() as download_info:
                await page.get_by_role("link", name="Télécharger le document numérisé").click()
            download = await download_info.value
            scan_file = tmp_path / "agent" / download.suggested_filename
            await download.save_as(scan_file)
            await wait_step(progress, "scanned", booth)

            await page.locator("#gc-hangup").click()
            await wait_console(page, "c.state === 'idle'", 20_000)
            await wait_step(progress, "done", booth)
            assert guard.outside == [], f"requests left 127.0.0.1: {guard.outside}"
            await context.close()
            await browser.close()
        result = await booth
    finally:
        if not booth.done():
            await asyncio.wait([booth], timeout=5)

    # What must never be found.
    needles = Needles()
    needles.add_text("chat marker", chat_marker)
    needles.add_text("agent's chat line", agent_says)
    needles.add_text("citizen's chat line", citizen_says)
    needles.add_uid("card UID", card_uid)
    assert scan_file is not None
    scan_needles = needles.add_scan("scan", scan_file.read_bytes())
    assert scan_needles >= 8, f"only {scan_needles} distinctive pieces of the scan"

    # The sweep can fail: it finds each kind of needle where it is (the agent's copy
    # of the scan, a UID spelt in lower case with colons, a chat line).
    spelt = ":".join(card_uid[i : i + 2] for i in range(0, len(card_uid), 2)).lower()
    control = sweep([scan_file], {"control": f"carte {spelt}, {agent_says}"}, needles)
    assert len(control.hits) >= scan_needles // 2 + 2, control.hits
    assert any("card UID" in hit for hit in control.hits), control.hits
    assert any("agent's chat line" in hit for hit in control.hits), control.hits

    # Where to look: the tree, every file the booth's processes wrote, its output.
    written, folders = written_paths(strace_log.read_text(errors="replace"), REPO)
    assert written, "strace saw no file written: the trace did not work"
    # Devices (the card reader's pty, /dev/null) and kernel files store nothing.
    devices = {p for p in written if p.parts[1:2] in (("dev",), ("proc",), ("sys",))}
    written -= devices
    existing = [p for p in written if p.is_file() and not p.is_symlink()]
    gone = sorted(str(p) for p in written if not p.exists())
    outside_tree = sorted(str(p) for p in existing if tree not in p.parents)
    files = regular_files([tree, *existing, *folders])
    report = sweep(
        files,
        {"booth stdout": result.stdout, "booth stderr": result.stderr},
        needles,
    )
    print(f"\nprivacy sweep: {report.summary()}")
    print(f"  tree {tree}: {len(regular_files([tree]))} files")
    print(f"  written by the booth's processes (strace): {len(written)} paths,")
    print(f"    besides devices: {sorted(str(d) for d in devices)}")
    print(f"    {len(existing)} still there, {len(gone)} gone: {gone[:20]}")
    print(f"    outside the tree: {outside_tree}")
    print(f"  needles: {len(needles.exact) + len(needles.any_case)} ({scan_needles} of the scan)")
    unexplained = [g for g in gone if not any(re.fullmatch(p, g) for p in GONE_AND_HARMLESS)]
    assert unexplained == [], f"the booth wrote then deleted: {unexplained}"
    assert report.unreadable == [], report.unreadable
    assert report.hits == [], f"the citizen's data was found: {report.hits}"
    assert report.media == [], f"a recording exists: {report.media}"

    # The audit trail framed the session from the booth's reports alone (the console's
    # were dropped), with sizes and pages but without the card, the chat or the scan.
    assert len(blocked) >= 3, blocked
    db_file = switchboard.data_dir / "guichet.sqlite3"
    entries = await asyncio.to_thread(audit_entries, db_file, "call.ended")
    assert [(e.actor, e.action, e.details["after"].get("reported_by")) for e in entries] == [
        ("alice", "call.answered", None),
        ("alice", "device.print_pdf", "booth"),
        ("alice", "device.read_card", "booth"),
        ("alice", "device.scan", "booth"),
        ("alice", "call.ended", None),
    ]
    print_entry, card_entry, scan_entry = (e.details["after"] for e in entries[1:4])
    assert print_entry["outcome"] == "done" and print_entry["pages"] == 1
    assert print_entry["size"] == len(upload.read_bytes())
    assert card_entry["outcome"] == "done" and "size" not in card_entry
    assert scan_entry["outcome"] == "done" and scan_entry["size"] == len(scan_file.read_bytes())
    assert len({e.target for e in entries}) == 1
    trail = repr([e.to_json() for e in entries])
    for secret in (card_uid, card_uid.lower(), chat_marker):
        assert secret not in trail
    assert await asyncio.to_thread(audit_verdict, db_file) is None
    verified = subprocess.run(
        [sys.executable, "-m", "guichet.cli", "audit", "verify", "--db", str(db_file)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert verified.returncode == 0, verified.stderr
    assert "audit trail intact: 5 entries" in verified.stdout

"""The console reports device work to the audit trail: a real console in headless
Chromium, the aiortc ``FakeBooth`` with the booth's real device router and simulators
(see test_console_devices.py), the real server and its SQLite file."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from console_booth import FakeBooth
from fixtures.browser import AgentPage, wait_console
from fixtures.device_handler import SimDeviceHandler
from fixtures.server import RunningServer
from playwright.async_api import expect
from sqlalchemy import create_engine

from guichet.audit_chain import Entry
from provisioning import audit_trail

pytestmark = pytest.mark.browser

CALL_TIMEOUT_MS = 15_000
DEVICE_TIMEOUT_MS = 10_000
AUDIT_WAIT_S = 10.0
CARD_UID = "04A1B2C3D4E5F6"
CODE_TEXT = "CONVOC-2026-000123"


def trail(db_file: Path) -> list[Entry]:
    engine = create_engine(f"sqlite:///{db_file}")
    try:
        return list(audit_trail.read_entries(engine))
    finally:
        engine.dispose()


def wait_trail(db_file: Path, count: int, prefix: str) -> list[Entry]:
    deadline = time.monotonic() + AUDIT_WAIT_S
    while True:
        found = [e for e in trail(db_file) if e.action.startswith(prefix)]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


async def test_device_work_seen_in_the_console_is_audited_without_the_citizens_data(
    alice: AgentPage, switchboard: RunningServer, handler: SimDeviceHandler
) -> None:
    page = alice.page
    db_file = switchboard.data_dir / "guichet.sqlite3"
    booth = FakeBooth(
        switchboard.ws_url, switchboard.booth_tokens["booth-1"], device_handler=handler
    )
    try:
        await booth.connect()
        await booth.join_queue("caf")
        await wait_console(page, "c.waiting >= 1")
        await page.get_by_role("button", name="Répondre au suivant", exact=True).click()
        await booth.take_call()
        await wait_console(page, "c.state === 'in_call' && c.channelOpen", CALL_TIMEOUT_MS)
        call_id = await page.evaluate("window.guichetConsole.callId")

        await page.get_by_role("button", name="Demander la carte").click()
        await page.get_by_role("button", name="Demander un code").click()
        await page.get_by_label("Titre du reçu").fill("Rendez-vous CAF")
        await page.get_by_role("button", name="Imprimer un reçu").click()
        await wait_console(
            page,
            "['read_card', 'read_code', 'print_receipt'].every(k =>"
            " c.devices.some(r => r.kind === k && r.status === 'done'))",
            DEVICE_TIMEOUT_MS,
        )
        # The agent sees the citizen's data...
        log = page.locator("#gc-dev-log")
        await expect(log).to_contain_text(CARD_UID)
        await expect(log).to_contain_text(CODE_TEXT)
        handler.consent = False
        await page.get_by_role("button", name="Demander la carte").click()
        await wait_console(
            page, "c.devices.some(r => r.kind === 'read_card' && r.status === 'refused')"
        )
        await page.get_by_role("button", name="Raccrocher").click()
        await booth.expect("call_ended")
    finally:
        await booth.close()

    devices = wait_trail(db_file, 4, "device.")
    calls = wait_trail(db_file, 2, "call.")
    assert [(e.actor, e.action, e.target) for e in calls] == [
        ("alice", "call.answered", call_id),
        ("alice", "call.ended", call_id),
    ]
    assert sorted((e.action, e.details["after"]["outcome"]) for e in devices) == [
        ("device.print_receipt", "done"),
        ("device.read_card", "done"),
        ("device.read_card", "refused"),
        ("device.read_code", "done"),
    ]
    assert {(e.actor, e.role, e.target) for e in devices} == {("alice", "agent", call_id)}
    refused = next(e for e in devices if e.details["after"]["outcome"] == "refused")
    assert refused.details["after"]["error"] == "consent_refused"
    # ...the audit trail does not: not in any entry, not in the database file.
    everything = repr([e.to_json() for e in trail(db_file)])
    raw = b"".join(p.read_bytes() for p in db_file.parent.glob("guichet.sqlite3*"))
    for secret in (CARD_UID, CODE_TEXT, "Rendez-vous CAF"):
        assert secret not in everything
        assert secret.encode() not in raw
    engine = create_engine(f"sqlite:///{db_file}")
    assert audit_trail.verify_engine(engine).broken is None
    engine.dispose()

"""Steps the test process takes while a booth scenario runs in its own process."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from fixtures.browser import wait_console
from playwright.async_api import Page
from sqlalchemy import create_engine

from guichet.audit_chain import Entry
from provisioning import audit_trail

STEP_TIMEOUT_S = 60.0
DEVICE_TIMEOUT_MS = 60_000


def steps(progress: Path) -> list[dict[str, Any]]:
    if not progress.exists():
        return []
    return [json.loads(line) for line in progress.read_text().splitlines() if line.strip()]


async def wait_step(progress: Path, step: str, booth: asyncio.Task[Any]) -> dict[str, Any]:
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while time.monotonic() < deadline:
        for entry in steps(progress):
            if entry["step"] == step:
                return entry
        if booth.done():
            booth.result()  # the booth's failure, with its output
            raise AssertionError(f"booth finished before step {step!r}")
        await asyncio.sleep(0.05)
    raise AssertionError(f"booth never reached step {step!r}; got {steps(progress)}")


async def wait_request(page: Page, kind: str, status: str = "done") -> None:
    await wait_console(
        page,
        f"c.devices.some(r => r.kind === {kind!r} && r.status === {status!r})",
        DEVICE_TIMEOUT_MS,
    )


def audit_entries(db_file: Path, last_action: str, timeout_s: float = 10.0) -> list[Entry]:
    """The audit trail once ``last_action`` is in it (agents' entries are written async)."""
    deadline = time.monotonic() + timeout_s
    while True:
        engine = create_engine(f"sqlite:///{db_file}")
        try:
            entries = list(audit_trail.read_entries(engine))
        finally:
            engine.dispose()
        if any(e.action == last_action for e in entries) or time.monotonic() > deadline:
            return entries
        time.sleep(0.05)


def audit_verdict(db_file: Path) -> object:
    engine = create_engine(f"sqlite:///{db_file}")
    try:
        return audit_trail.verify_engine(engine).broken
    finally:
        engine.dispose()

"""The switchboard is killed and restarted in the middle of a call.

The media is peer to peer, so the call must go on while the server is down (frames
keep arriving on both sides); the booth and the console reconnect by themselves,
both name their call (``hello.call_id``, ``resume_call``) and the new process
routes it again: a chat line still goes, and the agent's hang-up reaches the booth
through the restarted server. Real parts only: the server process gets SIGKILL (no
clean close, as in a crash), the booth's controller runs its aiortc peer and the
console runs in headless Chromium.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from fault_kit import running_booth, until
from fixtures.browser import AgentPage, console_stats, screenshot, wait_console
from fixtures.server import RunningServer

from kiosk.controller import BoothController
from kiosk.session import State

pytestmark = pytest.mark.browser

DOWN_S = 3.0
"""How long frames are counted while the switchboard is dead (after both sides noticed)."""


@pytest.fixture
async def booth(switchboard: RunningServer) -> AsyncIterator[BoothController]:
    async with running_booth(switchboard) as controller:
        yield controller


async def test_call_survives_a_switchboard_restart_and_hangup_still_goes_through(
    alice: AgentPage, switchboard: RunningServer, booth: BoothController
) -> None:
    page = alice.page
    booth.tap_start()
    booth.choose_service("caf")
    await until(lambda: booth.data.position == 1, "queued")
    await wait_console(page, "c.waiting >= 1")
    await page.get_by_role("button", name="Répondre au suivant", exact=True).click()
    await wait_console(page, "c.state === 'in_call' && c.channelOpen", 15_000)
    await until(lambda: booth.frames_received >= 10, "agent video at the booth")
    call_id = booth.data.call_id

    switchboard.kill()
    killed_at = time.monotonic()
    await until(lambda: booth.link_state != "connected", "booth noticed the server gone", 5)
    await wait_console(page, "c.connection !== 'online'", 5_000)
    booth_frames = booth.frames_received
    agent_frames = (await console_stats(page))["framesDecoded"]
    await asyncio.sleep(DOWN_S)
    # Media went on without the server, both ways, and nobody hung up.
    assert booth.state is State.IN_CALL and booth.data.call_id == call_id
    assert await page.evaluate("() => window.guichetConsole.state") == "in_call"
    booth_during = booth.frames_received - booth_frames
    agent_during = (await console_stats(page))["framesDecoded"] - agent_frames
    print(
        f"frames in {DOWN_S:.0f} s with the switchboard down:"
        f" booth {booth_during}, agent {agent_during}"
    )
    # 30 fps are sent; on a loaded 2-core test machine 5 fps is the floor of "flowing".
    assert booth_during >= 5 * DOWN_S and agent_during >= 5 * DOWN_S
    await screenshot(page, "console-call-switchboard-down")

    await asyncio.to_thread(switchboard.start_again)
    await until(lambda: booth.link_state == "connected", "booth reconnected", 10)
    await wait_console(page, "c.connection === 'online' && c.callResumed", 30_000)
    print(f"call routed again {time.monotonic() - killed_at:.1f} s after the kill")
    assert booth.state is State.IN_CALL and booth.data.call_id == call_id

    # Chat still flows (peer to peer) and the hang-up goes through the new process.
    await page.get_by_label("Message au citoyen").fill("Vous m'entendez toujours ?")
    await page.get_by_role("button", name="Envoyer").click()
    await until(lambda: booth.data.transcript, "chat at the booth after the restart")
    await page.get_by_role("button", name="Raccrocher").click()
    await until(lambda: booth.state is State.GOODBYE, "the agent's hang-up reached the booth")
    assert booth.data.end_reason == "agent_hangup"

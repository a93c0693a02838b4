"""Relay-only calls between the real booth and the console, through a private coturn.

Real parts only: the switchboard subprocess hands out TURN credentials made from the
shared secret in a 0600 file; coturn runs on 127.0.0.1 with that secret (or, in the
failure story, another one); the booth is the real ``BoothController`` (aiortc,
fake camera, no Kivy window); the agent is the console in headless Chromium.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from console_booth import FakeBooth
from fixtures.browser import AgentPage, agent_login, console_stats, new_agent_page, wait_console
from fixtures.server import RunningServer, start_switchboard
from fixtures.turn import TurnServer
from playwright.async_api import Browser, expect

from kiosk.config import BoothSettings
from kiosk.controller import BoothController
from kiosk.session import State

pytestmark = pytest.mark.browser

WAIT_S = 20.0
FAIL_FAST_S = 5.0
"""Both sides must know a refused relay well before any call-setup timeout (20 s)."""
RECORD_PC_CONFIGS = (
    "(() => { const Real = window.RTCPeerConnection; window.__pcConfigs = [];"
    " window.RTCPeerConnection = function (cfg) {"
    " window.__pcConfigs.push(JSON.parse(JSON.stringify(cfg)));"
    " const pc = new Real(cfg); window.__pcs = [...(window.__pcs || []), pc]; return pc; };"
    " window.RTCPeerConnection.prototype = Real.prototype; })();"
)


async def until(predicate: Callable[[], Any], what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def _relay_switchboard(tmp_path: Path, turn: TurnServer, secret_file: Path) -> RunningServer:
    config = tmp_path / "server.toml"
    config.write_text(
        f"turn_urls = ['{turn.url}']\n"
        f"turn_secret_file = '{secret_file}'\n"
        "turn_ttl_s = 120\n"
        "ice_transport_policy = 'relay'\n",
        encoding="utf-8",
    )
    return start_switchboard(tmp_path, extra_args=["--config", str(config)])


async def _booth(server: RunningServer, goodbye_s: float) -> BoothController:
    controller = BoothController(
        BoothSettings(
            server_url=server.base_url,
            token=server.booth_tokens["booth-1"],
            fake_media=True,
            demo=True,  # plain http:// to the test server
            retry_min_s=0.1,
            retry_max_s=0.5,
            goodbye_s=goodbye_s,
        )
    )
    await controller.start()
    await until(lambda: controller.problem == "" and controller.services, "booth online")
    controller.tap_start()
    controller.choose_service("caf")
    await until(lambda: controller.data.position == 1, "citizen queued")
    return controller


@pytest.fixture
async def relay_console(browser: Browser) -> AsyncIterator[list[AgentPage]]:
    pages: list[AgentPage] = []
    yield pages
    for agent in pages:
        await agent.context.close()
        assert agent.guard.outside == [], f"requests left 127.0.0.1: {agent.guard.outside}"


async def _console(browser: Browser, server: RunningServer, pages: list[AgentPage]) -> AgentPage:
    context, page, guard = await new_agent_page(browser, server.base_url)
    agent = AgentPage(page, context, guard)
    pages.append(agent)
    await page.add_init_script(RECORD_PC_CONFIGS)
    await agent_login(page, server.base_url, "alice", server.agent_passwords["alice"])
    await wait_console(page, "c.waiting === 1")
    return agent


async def test_relay_only_call_between_booth_and_console_goes_through_coturn(
    browser: Browser,
    turn_server: TurnServer,
    tmp_path: Path,
    relay_console: list[AgentPage],
) -> None:
    server = _relay_switchboard(tmp_path, turn_server, turn_server.secret_file)
    booth: BoothController | None = None
    try:
        booth = await _booth(server, goodbye_s=0.5)
        page = (await _console(browser, server, relay_console)).page
        await page.get_by_role("button", name="Répondre au suivant", exact=True).click()
        await wait_console(page, "c.state === 'in_call' && c.channelOpen", WAIT_S * 1000)
        await until(lambda: booth is not None and booth.call_status == "connected", "booth up")
        await until(lambda: booth is not None and booth.frames_received >= 10, "video at booth")

        # The browser's selected pair is relay on both ends, and video flows over it.
        stats = await console_stats(page)
        deadline = time.monotonic() + WAIT_S
        while not (stats["localCandidateType"] and stats["framesDecoded"] > 10):
            assert time.monotonic() < deadline, stats
            await asyncio.sleep(0.2)
            stats = await console_stats(page)
        assert stats["localCandidateType"] == "relay"
        assert stats["remoteCandidateType"] == "relay"

        # The booth's nominated pair too (aioice internals, read only).
        peer = booth.in_call_peer
        assert peer is not None
        transport = peer.pc.getTransceivers()[0].sender.transport.transport
        pair = transport.iceGatherer._connection._nominated[1]
        assert (pair.local_candidate.type, pair.remote_candidate.type) == ("relay", "relay")

        # Each side got only our coturn, with its own short-lived username.
        configs = await page.evaluate("() => window.__pcConfigs")
        assert len(configs) == 1
        assert configs[0]["iceTransportPolicy"] == "relay"
        (agent_server,) = configs[0]["iceServers"]
        assert agent_server["urls"] == [turn_server.url]
        assert re.fullmatch(r"\d+:c-[0-9a-f]+\.agent", agent_server["username"])
        assert 100 <= int(agent_server["username"].split(":")[0]) - time.time() <= 120
        (booth_server,) = peer.configuration.iceServers or []
        assert booth_server.urls == [turn_server.url]
        assert str(booth_server.username).endswith(".booth")
        assert peer.configuration.iceTransportPolicy.value == "relay"

        await page.get_by_role("button", name="Raccrocher").click()
        await until(lambda: booth is not None and booth.state is State.WELCOME, "booth reset")
    finally:
        if booth is not None:
            await booth.stop()
        server.stop()


async def test_relay_refusing_the_credentials_fails_fast_on_both_sides(
    browser: Browser,
    turn_server: TurnServer,
    tmp_path: Path,
    relay_console: list[AgentPage],
) -> None:
    # The switchboard's secret is not coturn's: every credential it makes is refused.
    wrong = tmp_path / "wrong-secret"
    wrong.write_text(secrets.token_hex(32) + "\n", encoding="utf-8")
    os.chmod(wrong, 0o600)
    server = _relay_switchboard(tmp_path, turn_server, wrong)
    booth: BoothController | None = None
    try:
        booth = await _booth(server, goodbye_s=2.0)
        page = (await _console(browser, server, relay_console)).page
        started = time.monotonic()
        await page.get_by_role("button", name="Répondre au suivant", exact=True).click()

        await wait_console(
            page, "c.state === 'idle' && c.lastCallEnd === 'relay_failed'", FAIL_FAST_S * 1000
        )
        await expect(page.locator("#gc-notice-text")).to_contain_text(
            "Connexion impossible au relais vidéo"
        )
        await until(
            lambda: booth is not None and booth.data.end_reason == "relay_failed",
            "booth says the relay failed",
            FAIL_FAST_S,
        )
        assert time.monotonic() - started < FAIL_FAST_S
        assert booth.state is State.GOODBYE
        # The citizen is not stuck: the booth goes back to its welcome screen by itself.
        await until(lambda: booth is not None and booth.state is State.WELCOME, "welcome again")
        assert booth.in_call_peer is None
        assert await page.evaluate("() => window.guichetConsole.callId") is None
    finally:
        if booth is not None:
            await booth.stop()
        server.stop()


async def test_console_that_gets_no_relay_candidate_gives_up_at_once(
    browser: Browser,
    turn_server: TurnServer,
    tmp_path: Path,
    relay_console: list[AgentPage],
) -> None:
    # A booth that ignores the relay policy (host candidates, its own offer) and a
    # secret coturn refuses: only the console's own check can notice the relay failed.
    wrong = tmp_path / "wrong-secret"
    wrong.write_text(secrets.token_hex(32) + "\n", encoding="utf-8")
    os.chmod(wrong, 0o600)
    server = _relay_switchboard(tmp_path, turn_server, wrong)
    booth = FakeBooth(server.ws_url, server.booth_tokens["booth-1"])
    try:
        await booth.connect()
        await booth.join_queue("caf")
        page = (await _console(browser, server, relay_console)).page
        started = time.monotonic()
        await page.get_by_role("button", name="Répondre au suivant", exact=True).click()
        # take_call offers, then waits for an answer that never comes (every message
        # still lands in booth.messages).
        call = asyncio.create_task(booth.take_call())
        await until(
            lambda: any(m["type"] == "call_ended" for m in booth.messages),
            "call_ended at the booth",
            FAIL_FAST_S,
        )
        ended = next(m for m in booth.messages if m["type"] == "call_ended")
        assert ended["reason"] == "relay_failed"
        assert any(m["type"] == "call_started" for m in booth.messages)
        assert time.monotonic() - started < FAIL_FAST_S
        await wait_console(page, "c.state === 'idle' && c.lastCallEnd === 'relay_failed'")
        await expect(page.locator("#gc-notice-text")).to_contain_text(
            "Connexion impossible au relais vidéo"
        )
        assert not any(m["type"] == "answer" for m in booth.messages)
        call.cancel()
    finally:
        await booth.close()
        server.stop()

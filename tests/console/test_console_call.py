"""Answering a citizen: video both ways, chat over the data channel, hanging up."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from console_booth import FakeBooth
from fixtures.a11y import assert_accessible
from fixtures.browser import (
    AgentPage,
    agent_login,
    console_state,
    console_stats,
    new_agent_page,
    screenshot,
    wait_console,
)
from fixtures.server import RunningServer, start_switchboard
from playwright.async_api import Browser, Page, expect

pytestmark = pytest.mark.browser

CALL_TIMEOUT_MS = 15_000


async def _answer_booth(
    page: Page, booth: FakeBooth, service_id: str = "caf", *, via_queue: str | None = None
) -> str:
    """The booth queues, the agent clicks "Répondre au suivant" (global or of one queue)."""
    await booth.connect()
    await booth.join_queue(service_id)
    await wait_console(page, "c.waiting >= 1")
    name = f"Répondre au suivant — {via_queue}" if via_queue else "Répondre au suivant"
    await page.get_by_role("button", name=name, exact=True).click()
    call_id = await booth.take_call()
    await wait_console(page, "c.state === 'in_call' && c.channelOpen", CALL_TIMEOUT_MS)
    assert await console_state(page, "callId") == call_id
    return call_id


async def _wait_frames(page: Page, at_least: int) -> dict[str, float]:
    async with asyncio.timeout(CALL_TIMEOUT_MS / 1000):
        while True:
            stats = await console_stats(page)
            if stats["framesDecoded"] >= at_least:
                return stats
            await asyncio.sleep(0.1)


async def test_agent_answers_sees_citizen_chats_and_hangs_up(
    alice: AgentPage, switchboard: RunningServer
) -> None:
    page = alice.page
    booth = FakeBooth(switchboard.ws_url, switchboard.booth_tokens["booth-1"])
    try:
        call_id = await _answer_booth(page, booth)
        await expect(page.locator("#gc-call-booth")).to_have_text("booth-1")
        await expect(page.locator("#gc-call-service")).to_have_text("Allocations familiales")
        await expect(page.locator("#gc-presence")).to_have_text("En appel")
        await expect(page.locator("#gc-answer-next")).to_be_disabled()

        # The citizen's video is decoded at 640x480 and keeps coming.
        first = await _wait_frames(page, 5)
        later = await _wait_frames(page, int(first["framesDecoded"]) + 15)
        assert (later["frameWidth"], later["frameHeight"]) == (640, 480)
        assert later["framesDecoded"] > first["framesDecoded"]
        # The agent's fake camera reaches the booth.
        async with asyncio.timeout(10):
            while booth.video_frames_received < 10:
                await asyncio.sleep(0.1)
        assert booth.video_frame_size is not None and booth.video_frame_size[0] > 0
        # Heartbeats flow from the console every second.
        async with asyncio.timeout(5):
            while booth.heartbeats_received < 2:
                await asyncio.sleep(0.1)

        # Chat, both ways, shown as text (never as HTML).
        await page.get_by_label("Message au citoyen").fill("Bonjour, je vous écoute.")
        await page.get_by_role("button", name="Envoyer").click()
        async with asyncio.timeout(5):
            while "Bonjour, je vous écoute." not in booth.chats:
                await asyncio.sleep(0.05)
        booth.send_chat("Je n'entends pas bien <b>vous</b>", "c-1")
        log = page.locator("#gc-chat-log")
        await expect(log).to_contain_text("Je n'entends pas bien <b>vous</b>")
        await expect(log.locator("b")).to_have_count(0)
        await expect(log).to_have_attribute("aria-live", "polite")
        await expect(page.locator("#gc-call-timer")).not_to_have_text("00:00", timeout=3000)
        await screenshot(page, "console-in-call")
        await assert_accessible(page, "console-in-call")

        # Mute and camera off are toggles that say what they do next.
        mute = page.locator("#gc-mute")
        await mute.click()
        await expect(mute).to_have_text("Réactiver le micro")
        await expect(mute).to_have_attribute("aria-pressed", "true")
        camera = page.locator("#gc-camera")
        await camera.click()
        await expect(camera).to_have_text("Réactiver la caméra")
        await camera.click()
        await mute.click()
        await expect(mute).to_have_attribute("aria-pressed", "false")

        await page.get_by_role("button", name="Raccrocher").click()
        ended = await booth.expect("call_ended")
        assert ended["call_id"] == call_id and ended["reason"] == "agent_hangup"
        await wait_console(page, "c.state === 'idle' && c.callId === null")
        await expect(page.locator("#gc-notice")).to_contain_text("Appel terminé.")
        # Chat transcript is wiped with the call.
        await expect(log.locator("li")).to_have_count(0)
        assert any(url.endswith("/ws/agent") for url in alice.guard.requests)
        # The answer carried every candidate: no empty end-of-candidates reached the booth.
        assert not [m for m in booth.messages if m["type"] == "ice" and not m.get("candidate")]
    finally:
        await booth.close()


async def test_booth_hangup_tells_the_agent_the_citizen_left(
    alice: AgentPage, switchboard: RunningServer
) -> None:
    page = alice.page
    booth = FakeBooth(switchboard.ws_url, switchboard.booth_tokens["booth-1"])
    try:
        await _answer_booth(page, booth, "impots", via_queue="Impôts")
        await _wait_frames(page, 5)
        await booth.hangup()
        await wait_console(page, "c.state === 'idle'")
        await expect(page.locator("#gc-notice")).to_contain_text("Le citoyen a quitté l'appel")
        assert await console_state(page, "lastCallEnd") == "booth_hangup"
        assert await console_state(page, "waiting") == 0
        await expect(page.locator("#gc-answer-next")).to_be_disabled()
        await expect(page.locator("#gc-presence")).to_have_text("Disponible")
        await screenshot(page, "console-citizen-left")
        await assert_accessible(page, "console-citizen-left")
    finally:
        await booth.close()


async def test_booth_that_vanishes_mid_call_is_reported(
    alice: AgentPage, switchboard: RunningServer
) -> None:
    page = alice.page
    booth = FakeBooth(switchboard.ws_url, switchboard.booth_tokens["booth-2"])
    try:
        await _answer_booth(page, booth)
        await booth.close()
        await wait_console(page, "c.state === 'idle'")
        await expect(page.locator("#gc-notice")).to_contain_text("Le citoyen a quitté l'appel")
        assert await console_state(page, "lastCallEnd") in ("booth_gone", "link_lost")
    finally:
        await booth.close()


async def test_silent_booth_reconnects_on_a_new_offer_for_the_same_call(
    alice: AgentPage, switchboard: RunningServer
) -> None:
    """The booth goes silent (a cut line): after 5 s the console says it is reconnecting
    and keeps the call; the booth's new offer for the same call gets a new peer
    connection and the call goes on, chat included."""
    page = alice.page
    booth = FakeBooth(switchboard.ws_url, switchboard.booth_tokens["booth-1"])
    try:
        call_id = await _answer_booth(page, booth)
        await page.get_by_label("Message au citoyen").fill("Avant la coupure.")
        await page.locator("#gc-chat-send").click()
        async with asyncio.timeout(5):
            while "Avant la coupure." not in booth.chats:
                await asyncio.sleep(0.05)
        booth.send_heartbeats = False
        await wait_console(page, "c.reconnecting", 7000)
        assert await console_state(page, "state") == "in_call"
        await expect(page.locator("#gc-call-state")).to_have_text(
            "Liaison perdue avec la borne. Reconnexion…"
        )
        await screenshot(page, "console_reconnecting")
        await booth.reconnect()
        await wait_console(page, "!c.reconnecting && c.reconnections === 1 && c.channelOpen", 10000)
        assert await console_state(page, "callId") == call_id
        await expect(page.locator("#gc-call-state")).to_have_text("En communication")
        # The transcript is kept; chat and video flow on the new connection.
        await expect(page.locator("#gc-chat-log")).to_contain_text("Avant la coupure.")
        booth.send_chat("Me revoilà.")
        await expect(page.locator("#gc-chat-log")).to_contain_text("Me revoilà.")
        await _wait_frames(page, 10)
        await assert_accessible(page, "console-reconnected")
    finally:
        await booth.close()


async def test_silent_booth_counts_as_link_lost_after_the_reconnect_budget(
    alice: AgentPage, switchboard: RunningServer
) -> None:
    page = alice.page
    booth = FakeBooth(switchboard.ws_url, switchboard.booth_tokens["booth-1"])
    try:
        call_id = await _answer_booth(page, booth)
        booth.send_heartbeats = False
        await wait_console(page, "c.reconnecting", 7000)
        # 5 s of silence, then RECONNECT_BUDGET_MS (15 s) without a new offer.
        await wait_console(page, "c.state === 'idle'", 18000)
        assert await console_state(page, "lastCallEnd") == "link_lost"
        await expect(page.locator("#gc-notice")).to_contain_text("Liaison perdue")
        await assert_accessible(page, "console-link-lost")
        ended = await booth.expect("call_ended")
        assert ended["call_id"] == call_id
    finally:
        await booth.close()


async def test_peer_connection_uses_exactly_the_switchboards_ice_servers(
    browser: Browser, tmp_path: Path
) -> None:
    config = tmp_path / "server.toml"
    config.write_text(
        'ice_servers = [{urls = ["turn:127.0.0.1:9"], username = "u1", credential = "c1"}]\n',
        encoding="utf-8",
    )
    server = start_switchboard(tmp_path, extra_args=["--config", str(config)])
    context, page, guard = await new_agent_page(browser, server.base_url)
    # Record every RTCPeerConnection configuration the page asks for.
    await page.add_init_script(
        "(() => { const Real = window.RTCPeerConnection; window.__pcConfigs = [];"
        " window.RTCPeerConnection = function (cfg) { window.__pcConfigs.push(cfg);"
        " return new Real(cfg); }; window.RTCPeerConnection.prototype = Real.prototype; })();"
    )
    booth = FakeBooth(server.ws_url, server.booth_tokens["booth-1"])
    try:
        await agent_login(page, server.base_url, "alice", server.agent_passwords["alice"])
        await booth.connect()
        await booth.join_queue("caf")
        await wait_console(page, "c.waiting === 1")
        await page.get_by_role("button", name="Répondre au suivant", exact=True).click()
        started = await booth.expect("call_started")
        await wait_console(page, "c.state === 'connecting_call'")
        configs = await page.evaluate("() => window.__pcConfigs")
        assert configs == [
            {
                "iceServers": [
                    {"urls": ["turn:127.0.0.1:9"], "username": "u1", "credential": "c1"}
                ],
                "iceTransportPolicy": "all",
                "bundlePolicy": "max-bundle",
            }
        ]
        assert started["ice_servers"] == configs[0]["iceServers"]
        await page.get_by_role("button", name="Raccrocher").click()
        await booth.expect("call_ended")
        assert guard.outside == []
    finally:
        await booth.close()
        await context.close()
        server.stop()


async def test_closing_the_console_page_ends_the_call_for_the_booth(
    alice: AgentPage, switchboard: RunningServer
) -> None:
    page = alice.page
    booth = FakeBooth(switchboard.ws_url, switchboard.booth_tokens["booth-1"])
    try:
        call_id = await _answer_booth(page, booth)
        await page.goto("about:blank")  # pagehide: hangup + pc.close()
        ended = await booth.expect("call_ended", timeout=5)
        assert ended["call_id"] == call_id
        async with asyncio.timeout(5):
            while booth.pc is not None and booth.pc.connectionState not in ("closed", "failed"):
                await asyncio.sleep(0.05)
    finally:
        await booth.close()

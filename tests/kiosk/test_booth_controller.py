"""The booth controller against a real switchboard and a real agent peer (no Kivy)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from booth_agent import agent_console, answer_next
from fixtures.clients import waiting_counts
from fixtures.server import REPO, RunningServer

from kiosk.config import BoothSettings, InsecureTokenFile
from kiosk.controller import BoothController
from kiosk.session import SessionData, State

WAIT_S = 15.0


async def until(predicate: Callable[[], Any], what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def settings_for(server: RunningServer, **kw: Any) -> BoothSettings:
    values: dict[str, Any] = {
        "server_url": server.base_url,
        "token": server.booth_tokens["booth-1"],
        "fake_media": True,
        "demo": True,  # plain http:// to the test server
        "retry_min_s": 0.1,
        "retry_max_s": 0.5,
        "goodbye_s": 0.5,
    }
    values.update(kw)
    return BoothSettings(**values)


@pytest.fixture
async def booth(switchboard: RunningServer) -> AsyncIterator[BoothController]:
    controller = BoothController(settings_for(switchboard))
    await controller.start()
    await until(lambda: controller.services, "catalogue")
    await until(lambda: controller.problem == "", "connected")
    yield controller
    await controller.stop()


async def test_citizen_queues_and_sees_position(
    booth: BoothController, switchboard: RunningServer
) -> None:
    booth.tap_start()
    assert booth.screen == "choose"
    booth.choose_service("caf")
    assert booth.screen == "waiting"
    await until(lambda: booth.data.position == 1, "position 1")
    assert booth.data.estimated_wait_s is not None
    assert waiting_counts(switchboard) == {"caf": 1}


async def test_cancel_leaves_the_queue_on_the_server(
    booth: BoothController, switchboard: RunningServer
) -> None:
    booth.tap_start()
    booth.choose_language("en")
    booth.choose_service("caf")
    await until(lambda: booth.data.position == 1, "queued")
    booth.cancel()
    assert booth.screen == "choose"
    await until(lambda: waiting_counts(switchboard) == {}, "queue empty on server")


async def test_full_call_video_chat_and_agent_hangup_then_wiped(
    booth: BoothController, switchboard: RunningServer
) -> None:
    booth.tap_start()
    booth.choose_service("caf")
    await until(lambda: booth.data.position == 1, "queued")
    console = await agent_console(switchboard)
    call = await answer_next(console)
    try:
        await until(lambda: booth.state is State.IN_CALL, "in call")
        assert booth.data.agent_name
        await until(lambda: booth.call_status == "connected", "peer connected")
        await until(lambda: booth.frames_received >= 10, "agent video at the booth")
        await until(lambda: len(call.peer.frames) > 0, "booth video at the agent")
        call.peer.send_chat("Bonjour, je vous écoute")
        await until(lambda: booth.data.transcript, "chat at the booth")
        assert booth.data.transcript[0].text == "Bonjour, je vous écoute"
        assert booth.send_chat("J'ai une question")
        await until(lambda: call.peer.chats(), "chat at the agent")
        assert call.peer.chats()[0].text == "J'ai une question"
        wipes = booth.wipes
        await call.hang_up()
        await until(lambda: booth.state is State.GOODBYE, "goodbye")
        assert booth.data.transcript == ()
        assert booth.in_call_peer is None
        await until(lambda: booth.state is State.WELCOME, "back to welcome")
        assert booth.data == SessionData()
        assert booth.wipes >= wipes + 2
    finally:
        await call.close()


async def test_citizen_hangup_tells_the_agent(
    booth: BoothController, switchboard: RunningServer
) -> None:
    booth.tap_start()
    booth.choose_service("impots")
    await until(lambda: booth.data.position == 1, "queued")
    console = await agent_console(switchboard)
    call = await answer_next(console)
    try:
        await until(lambda: booth.call_status == "connected", "connected")
        booth.hangup()
        assert booth.state is State.GOODBYE
        ended = await console.next("call_ended")
        assert ended["reason"] == "booth_hangup"
    finally:
        await call.close()


async def test_closed_service_cannot_be_joined(booth: BoothController) -> None:
    booth.tap_start()
    booth.choose_service("no-such-service")
    assert booth.state is State.CHOOSING
    assert booth.data.notice


async def test_unknown_token_shows_out_of_service_unauthorized(
    switchboard: RunningServer,
) -> None:
    controller = BoothController(settings_for(switchboard, token="not-a-real-token-123"))
    await controller.start()
    try:
        await until(lambda: controller.state is State.OUT_OF_SERVICE, "out of service")
        await until(lambda: controller.problem == "unauthorized", "unauthorized")
    finally:
        await controller.stop()


async def test_server_outage_goes_out_of_service_and_recovers(
    switchboard: RunningServer,
) -> None:
    controller = BoothController(settings_for(switchboard))
    await controller.start()
    restarted: subprocess.Popen[bytes] | None = None
    try:
        await until(lambda: controller.problem == "" and controller.services, "online")
        controller.tap_start()
        controller.choose_service("caf")
        await until(lambda: controller.data.position == 1, "queued")
        switchboard.stop()
        await until(lambda: controller.state is State.OUT_OF_SERVICE, "out of service")
        assert controller.data == SessionData(), "the waiting citizen's data is wiped"
        # Same port, same database: the booth's token is still valid.
        restarted = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "guichet.cli",
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(switchboard.port),
                "--data-dir",
                str(switchboard.data_dir),
                "--demo",
            ],
            cwd=REPO,
            env={**os.environ},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        await until(lambda: controller.state is State.WELCOME, "recovered", timeout=30)
        assert controller.problem == ""
    finally:
        await controller.stop()
        if restarted is not None:
            restarted.terminate()
            restarted.wait(10)


def test_token_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("secret-token-value\n")
    token.chmod(0o644)
    with pytest.raises(InsecureTokenFile):
        BoothSettings(token_file=token).read_token()
    assert BoothSettings(token_file=token, allow_insecure_token_file=True).read_token() == (
        "secret-token-value"
    )
    token.chmod(0o600)
    assert BoothSettings(token_file=token).read_token() == "secret-token-value"


async def test_missing_camera_ends_the_call_with_a_plain_reason(
    switchboard: RunningServer,
) -> None:
    controller = BoothController(
        settings_for(switchboard, fake_media=False, camera="/dev/no-such-camera")
    )
    await controller.start()
    try:
        await until(lambda: controller.problem == "" and controller.services, "online")
        controller.tap_start()
        controller.choose_service("caf")
        await until(lambda: controller.data.position == 1, "queued")
        console = await agent_console(switchboard)
        await console.send("answer_next")
        await console.next("call_assigned")
        ended = await console.next("call_ended")
        assert ended["reason"] == "booth_hangup"
        assert controller.state in (State.GOODBYE, State.WELCOME)
        if controller.state is State.GOODBYE:
            assert controller.data.end_reason == "media_unavailable"
        await console.close()
    finally:
        await controller.stop()

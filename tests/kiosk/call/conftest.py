"""Fixtures for the booth call layer: fake media and a booth peer wired to recorders."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import av
import pytest
from call_agent import AgentPeer

from kiosk.call.media import MediaSources, make_media
from kiosk.call.peer import BoothPeer

TEST_HEARTBEAT_S = 0.1
TEST_PEER_TIMEOUT_S = 0.6


@dataclass
class BoothRecorder:
    """What the booth peer's callbacks saw."""

    states: list[str] = field(default_factory=list)
    chats: list[tuple[str, str]] = field(default_factory=list)
    frames: list[av.VideoFrame] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def on_state(self, state: str) -> None:
        self.states.append(state)
        self.changed.set()

    def on_chat(self, msg_id: str, text: str) -> None:
        self.chats.append((msg_id, text))
        self.changed.set()

    def on_frame(self, frame: av.VideoFrame) -> None:
        self.frames = [*self.frames[-4:], frame]


@pytest.fixture
async def media() -> AsyncIterator[MediaSources]:
    sources = make_media(fake=True)
    yield sources
    sources.close()


@pytest.fixture
async def recorder() -> BoothRecorder:
    return BoothRecorder()


@pytest.fixture
async def booth(media: MediaSources, recorder: BoothRecorder) -> AsyncIterator[BoothPeer]:
    peer = BoothPeer(
        [],
        media,
        on_remote_video_frame=recorder.on_frame,
        on_chat=recorder.on_chat,
        on_state=recorder.on_state,
        heartbeat_interval_s=TEST_HEARTBEAT_S,
        peer_timeout_s=TEST_PEER_TIMEOUT_S,
    )
    yield peer
    await peer.close()


@pytest.fixture
async def agent() -> AsyncIterator[AgentPeer]:
    peer = AgentPeer(heartbeat_interval_s=TEST_HEARTBEAT_S)
    yield peer
    await peer.close()


async def wait_for(predicate: object, timeout: float = 5.0, what: str = "condition") -> None:
    """Poll ``predicate()`` on the loop until true; fail the test after ``timeout``."""
    assert callable(predicate)
    try:
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.01)
    except TimeoutError:
        pytest.fail(f"timed out after {timeout} s waiting for {what}")

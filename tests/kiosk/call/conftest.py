"""Fixtures for the booth call layer: fake media, a booth peer wired to a recorder, an agent."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from callkit import TEST_HEARTBEAT_S, TEST_PEER_TIMEOUT_S, AgentPeer, BoothRecorder

from kiosk.call.media import MediaSources, make_media
from kiosk.call.peer import BoothPeer


@pytest.fixture
async def media() -> AsyncIterator[MediaSources]:
    sources = make_media(fake=True)
    yield sources
    sources.close()


@pytest.fixture
def recorder() -> BoothRecorder:
    return BoothRecorder()


@pytest.fixture
def peer_timeout_s() -> float:
    """Silence after which the booth declares the agent lost (modules may override)."""
    return TEST_PEER_TIMEOUT_S


@pytest.fixture
async def booth(
    media: MediaSources, recorder: BoothRecorder, peer_timeout_s: float
) -> AsyncIterator[BoothPeer]:
    peer = BoothPeer(
        [],
        media,
        on_remote_video_frame=recorder.on_frame,
        on_chat=recorder.on_chat,
        on_state=recorder.on_state,
        heartbeat_interval_s=TEST_HEARTBEAT_S,
        peer_timeout_s=peer_timeout_s,
    )
    yield peer
    await peer.close()


@pytest.fixture
async def agent() -> AsyncIterator[AgentPeer]:
    peer = AgentPeer(heartbeat_interval_s=TEST_HEARTBEAT_S)
    yield peer
    await peer.close()

"""Helpers for the call tests: an agent peer, a recorder of booth callbacks, wait_for.

``AgentPeer`` is a plain aiortc peer playing the agent's browser: it answers the
booth's offer as the console does (answer with every candidate gathered, camera and
microphone back, heartbeat on the data channel), with switches to misbehave: stop
heartbeats, send raw bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import av
import pytest
from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCDataChannel,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from guichet import wire
from kiosk.call.media import FakeCamera, FakeMicrophone

TEST_HEARTBEAT_S = 0.1
TEST_PEER_TIMEOUT_S = 0.6


@dataclass
class BoothRecorder:
    """What the booth peer's callbacks saw."""

    states: list[str] = field(default_factory=list)
    chats: list[tuple[str, str]] = field(default_factory=list)
    frames: list[av.VideoFrame] = field(default_factory=list)

    def on_state(self, state: str) -> None:
        self.states.append(state)

    def on_chat(self, msg_id: str, text: str) -> None:
        self.chats.append((msg_id, text))

    def on_frame(self, frame: av.VideoFrame) -> None:
        self.frames = [*self.frames[-4:], frame]


async def wait_for(
    predicate: Callable[[], object], timeout: float = 5.0, what: str = "condition"
) -> None:
    """Poll ``predicate()`` on the loop until true; fail the test after ``timeout``."""
    try:
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.01)
    except TimeoutError:
        pytest.fail(f"timed out after {timeout} s waiting for {what}")


class AgentPeer:
    """The agent's side of a call, in the same process and loop as the booth."""

    def __init__(
        self,
        heartbeat_interval_s: float = TEST_HEARTBEAT_S,
        configuration: RTCConfiguration | None = None,
    ) -> None:
        # Host candidates only by default, as with an empty ice_servers list.
        self.pc = RTCPeerConnection(
            configuration
            or RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self.video_frames = 0
        self.camera = FakeCamera()
        self.microphone = FakeMicrophone()
        self.heartbeat_interval_s = heartbeat_interval_s
        self.heartbeats_on = True
        self.channel: RTCDataChannel | None = None
        self.channel_open = asyncio.Event()
        self.frames: list[av.VideoFrame] = []
        self.first_frame_at: float | None = None
        self.audio_frames = 0
        self.received: list[wire.Chat | wire.Heartbeat] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.pc.on("track", self._on_track)
        self.pc.on("datachannel", self._on_datachannel)

    async def answer(self, offer: wire.SessionDescription) -> wire.SessionDescription:
        """Apply the booth's offer, send camera and microphone back, return the answer."""
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer.sdp, type=offer.type))
        self.pc.addTrack(self.microphone)
        self.pc.addTrack(self.camera)
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return wire.SessionDescription(type="answer", sdp=self.pc.localDescription.sdp)

    def send_raw(self, data: str | bytes) -> None:
        """Put anything on the data channel, valid or not."""
        assert self.channel is not None
        self.channel.send(data)

    def send_chat(self, text: str, msg_id: str = "agent-1") -> None:
        """Send a chat line as the console would."""
        self.send_raw(wire.dump(wire.Chat(id=msg_id, text=text)))

    def chats(self) -> list[wire.Chat]:
        """Chat lines received from the booth."""
        return [m for m in self.received if isinstance(m, wire.Chat)]

    async def close(self) -> None:
        """Close like a console that hangs up (``pc.close()``)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.pc.close()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_track(self, track: MediaStreamTrack) -> None:
        self._spawn(self._consume(track))

    async def _consume(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if isinstance(frame, av.VideoFrame):
                self.video_frames += 1
                if self.first_frame_at is None:
                    self.first_frame_at = time.monotonic()
                # Keep only a few frames: enough to check, not to fill memory.
                self.frames = [*self.frames[-4:], frame]
            else:
                self.audio_frames += 1

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        self.channel = channel
        self.channel_open.set()
        channel.on("message", self._on_message)
        self._spawn(self._heartbeats())

    def _on_message(self, raw: str | bytes) -> None:
        with contextlib.suppress(wire.WireError):
            self.received.append(wire.parse_peer(raw))

    async def _heartbeats(self) -> None:
        for seq in itertools.count():
            if self.heartbeats_on and self.channel is not None:
                if self.channel.readyState != "open":
                    return
                self.channel.send(wire.dump(wire.Heartbeat(seq=seq)))
            await asyncio.sleep(self.heartbeat_interval_s)

"""A real booth for console tests: a `websockets` client speaking the booth protocol
and an aiortc peer that offers video (640x480 test pattern), audio and the
"guichet" data channel. No Kivy: only the network side of a booth.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from fractions import Fraction
from typing import Any

import numpy as np
import websockets
from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.contrib.media import MediaBlackhole
from aiortc.mediastreams import AudioStreamTrack
from aiortc.sdp import candidate_from_sdp
from av import VideoFrame

from guichet import wire
from kiosk.call.device_channel import DeviceChannel, DeviceHandler

HEARTBEAT_INTERVAL_S = 1.0
EXPECT_TIMEOUT_S = 10.0
WIDTH, HEIGHT = 640, 480


class PatternTrack(VideoStreamTrack):
    """640x480 frames of a sliding colour gradient (so the encoder sends real data)."""

    def __init__(self) -> None:
        super().__init__()
        x = np.linspace(0, 255, WIDTH, dtype=np.uint8)
        y = np.linspace(0, 255, HEIGHT, dtype=np.uint8)
        base = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
        base[..., 0] = x[None, :]
        base[..., 1] = y[:, None]
        base[..., 2] = 160
        self._base = base
        self._n = 0

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        self._n += 1
        frame = VideoFrame.from_ndarray(np.roll(self._base, self._n * 8, axis=1), format="rgb24")
        frame.pts = pts
        frame.time_base = time_base if isinstance(time_base, Fraction) else Fraction(time_base)
        return frame


class FakeBooth:
    """One booth connected to ``/ws/booth`` with a bearer token."""

    def __init__(
        self, ws_url: str, token: str, *, device_handler: DeviceHandler | None = None
    ) -> None:
        self.url = ws_url.rstrip("/") + "/ws/booth"
        self.token = token
        self.ws: Any = None
        self.messages: list[dict[str, Any]] = []
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self.pc: RTCPeerConnection | None = None
        self.channel: RTCDataChannel | None = None
        self.call_id: str | None = None
        self._servers: list[RTCIceServer] = []
        self.chats: list[str] = []
        self.heartbeats_received = 0
        self.send_heartbeats = True
        self.video_frames_received = 0
        self.video_frame_size: tuple[int, int] | None = None
        self._blackhole = MediaBlackhole()
        self.device_handler = device_handler
        """When set, device requests go to the booth's real router (DeviceChannel) with it."""
        self.devices: DeviceChannel | None = None
        self.device_messages: list[str] = []
        """Types of the device/transfer messages received, in order."""

    # -- signaling -----------------------------------------------------------------

    async def connect(self) -> dict[str, Any]:
        """Open the socket, say hello, and return the ``welcome``."""
        self.ws = await websockets.connect(self.url, max_size=2**20)
        await self.send({"type": "hello", "token": self.token, "app_version": "test"})
        self._tasks.append(asyncio.create_task(self._read()))
        return await self.expect("welcome")

    async def send(self, msg: dict[str, Any]) -> None:
        await self.ws.send(json.dumps({"v": 1, **msg}))

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.ws:
                msg = json.loads(raw)
                self.messages.append(msg)
                if msg.get("type") == "ice":
                    await self._add_ice(msg)
                await self._inbox.put(msg)

    async def expect(self, msg_type: str, timeout: float = EXPECT_TIMEOUT_S) -> dict[str, Any]:
        """The next message of ``msg_type`` (others are skipped; all stay in ``messages``)."""
        async with asyncio.timeout(timeout):
            while True:
                msg = await self._inbox.get()
                if msg.get("type") == msg_type:
                    return msg

    async def join_queue(self, service_id: str, language: str = "fr") -> dict[str, Any]:
        await self.send({"type": "join_queue", "service_id": service_id, "language": language})
        return await self.expect("queued")

    async def leave_queue(self) -> dict[str, Any]:
        await self.send({"type": "leave_queue"})
        return await self.expect("left_queue")

    # -- the call ------------------------------------------------------------------

    async def take_call(self, timeout: float = EXPECT_TIMEOUT_S) -> str:
        """Wait for ``call_started``, offer (video+audio+data channel), apply the answer."""
        started = await self.expect("call_started", timeout)
        self.call_id = started["call_id"]
        self._servers = [
            RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
            for s in started.get("ice_servers", [])
        ]
        await self.offer(timeout)
        return started["call_id"]  # type: ignore[no-any-return]

    async def reconnect(self, timeout: float = EXPECT_TIMEOUT_S) -> None:
        """What the booth does after a cut: drop its peer, offer again on a new one for
        the same call (kiosk/call/reconnect.py) and apply the answer."""
        await self.close_peer()
        await self.offer(timeout)

    async def offer(self, timeout: float = EXPECT_TIMEOUT_S) -> None:
        """A new peer connection for the call: offer, then apply the answer."""
        servers = self._servers
        pc = RTCPeerConnection(
            RTCConfiguration(iceServers=servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self.pc = pc
        pc.on("track", self._on_track)
        pc.addTrack(PatternTrack())
        pc.addTrack(AudioStreamTrack())
        # Tracks before the channel: with MAX_BUNDLE, aiortc 1.16 stops the shared
        # transport on the answer if the data channel was created first.
        self.channel = pc.createDataChannel("guichet")
        self.channel.on("open", self._on_channel_open)
        self.channel.on("message", self._on_channel_message)
        if self.device_handler is not None:
            channel = self.channel
            self.devices = DeviceChannel(
                self.device_handler, lambda msg: channel.send(wire.dump(msg))
            )
        await pc.setLocalDescription(await pc.createOffer())
        desc = pc.localDescription
        await self.send(
            {
                "type": "offer",
                "call_id": self.call_id,
                "description": {"type": desc.type, "sdp": desc.sdp},
            }
        )
        answer = await self.expect("answer", timeout)
        await pc.setRemoteDescription(
            RTCSessionDescription(
                sdp=answer["description"]["sdp"], type=answer["description"]["type"]
            )
        )

    async def _add_ice(self, msg: dict[str, Any]) -> None:
        cand = msg.get("candidate")
        if self.pc is None or not cand or not cand.get("candidate"):
            return
        text = cand["candidate"].removeprefix("candidate:")
        candidate = candidate_from_sdp(text)
        candidate.sdpMid = cand.get("sdpMid")
        candidate.sdpMLineIndex = cand.get("sdpMLineIndex")
        await self.pc.addIceCandidate(candidate)

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "video":
            self._tasks.append(asyncio.create_task(self._count_video(track)))
        else:
            self._blackhole.addTrack(track)
            self._tasks.append(asyncio.create_task(self._blackhole.start()))

    async def _count_video(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(Exception):
            while True:
                frame = await track.recv()
                if isinstance(frame, VideoFrame):
                    self.video_frames_received += 1
                    self.video_frame_size = (frame.width, frame.height)

    def _on_channel_open(self) -> None:
        self._tasks.append(asyncio.create_task(self._heartbeat()))

    def _on_channel_message(self, raw: str | bytes) -> None:
        msg = json.loads(raw)
        if msg.get("type") == "chat":
            self.chats.append(msg["text"])
        elif msg.get("type") == "heartbeat":
            self.heartbeats_received += 1
        elif self.devices is not None:
            parsed = wire.parse_peer(raw)
            self.device_messages.append(parsed.type)
            self.devices.handle(parsed)

    async def _heartbeat(self) -> None:
        seq = 0
        while self.channel is not None and self.channel.readyState == "open":
            if self.send_heartbeats:
                self.channel.send(json.dumps({"v": 1, "type": "heartbeat", "seq": seq}))
                seq += 1
            await asyncio.sleep(HEARTBEAT_INTERVAL_S)

    def send_chat(self, text: str, msg_id: str = "b1") -> None:
        assert self.channel is not None and self.channel.readyState == "open"
        self.channel.send(json.dumps({"v": 1, "type": "chat", "id": msg_id, "text": text}))

    async def wait_channel_open(self, timeout: float = EXPECT_TIMEOUT_S) -> None:
        async with asyncio.timeout(timeout):
            while self.channel is None or self.channel.readyState != "open":
                await asyncio.sleep(0.05)

    async def hangup(self) -> None:
        """Hang up from the booth side and close the peer connection."""
        if self.call_id:
            await self.send({"type": "hangup", "call_id": self.call_id})
        await self.close_peer()

    async def close_peer(self) -> None:
        if self.devices is not None:
            await self.devices.close()
            self.devices = None
        if self.pc is not None:
            await self.pc.close()
            self.pc = None
        self.channel = None

    async def close(self) -> None:
        """Close the peer and the socket, and stop every task."""
        await self.close_peer()
        await self._blackhole.stop()
        if self.ws is not None:
            await self.ws.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

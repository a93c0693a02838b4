"""The booth's side of a call: one aiortc peer connection, its data channel and counters.

The booth always offers.  aiortc gathers every candidate inside
``setLocalDescription``, so :meth:`BoothPeer.create_offer` returns a complete offer
and trickled remote candidates are only ever needed from the agent's side.

Liveness does not rely on ICE consent (aiortc notices a dead browser only after
~30 s): both peers send a ``heartbeat`` on the data channel every second and a
peer silent for ``peer_timeout_s`` is reported as ``peer_lost``.  There is no ICE
restart in aiortc either, so a broken call is recovered with a new ``BoothPeer``.

Relay-only calls (``ice_transport_policy="relay"``) use aiortc's own
``RTCConfiguration.iceTransportPolicy`` (aiortc >= 1.10, passed to aioice as
``TransportPolicy.RELAY``): no host or server-reflexive candidate is gathered,
offered or paired, and the relay candidate hides its related address.  A relay
that refuses our credentials (or is down) leaves the offer without any candidate:
:meth:`BoothPeer.create_offer` then reports ``relay_failed`` and raises
:class:`RelayUnavailable` instead of sending an offer that can never connect.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Literal

import av
from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCDataChannel,
    RTCIceCandidate,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.sdp import candidate_from_sdp
from pydantic import ValidationError

from guichet import wire
from kiosk.call.media import MediaSources

if TYPE_CHECKING:
    from kiosk.call.device_channel import DeviceChannel

logger = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_S = 1.0
PEER_TIMEOUT_S = 4.0
"""A peer silent this long on the data channel is gone (long before ICE consent's 30 s).
4 s, not 5: with the 1 s heartbeat the booth then knows within 5 s of the agent's last
word, as docs/operations.md promises; SCTP retransmits a heartbeat lost to 5 % packet
loss well inside that."""

LOOP_STALL_TOLERANCE_S = 0.25
"""A watchdog waking up later than this blames the booth's own loop, not the agent."""

PeerState = Literal[
    "connecting", "connected", "peer_closed", "peer_lost", "failed", "relay_failed", "closed"
]
_TERMINAL: frozenset[str] = frozenset(
    {"peer_closed", "peer_lost", "failed", "relay_failed", "closed"}
)


class PeerError(RuntimeError):
    """A call operation that cannot be done now (channel not open, peer closed...)."""


class RelayUnavailable(PeerError):
    """Relay-only call without a relay candidate: the TURN server refused or never answered."""


def rtc_configuration(
    servers: list[wire.IceServer], policy: wire.IceTransportPolicy = "all"
) -> RTCConfiguration:
    """The peer's configuration: exactly the switchboard's servers and policy.

    Never ``RTCPeerConnection()`` bare nor ``iceServers=None``: aiortc then uses
    Google's STUN server.  An empty list means host candidates only."""
    return RTCConfiguration(
        iceServers=ice_servers_to_aiortc(servers),
        iceTransportPolicy=RTCIceTransportPolicy(policy),
        bundlePolicy=RTCBundlePolicy.MAX_BUNDLE,
    )


def candidate_types(sdp: str) -> list[str]:
    """The ``typ`` of every ``a=candidate`` line of an SDP, in order."""
    types = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            fields = line.split()
            if "typ" in fields[:-1]:
                types.append(fields[fields.index("typ") + 1])
    return types


def ice_servers_to_aiortc(servers: list[wire.IceServer]) -> list[RTCIceServer]:
    """Convert the switchboard's ICE servers, one for one (nothing added)."""
    return [
        RTCIceServer(urls=list(s.urls), username=s.username, credential=s.credential)
        for s in servers
    ]


def parse_candidate(candidate: wire.IceCandidate) -> RTCIceCandidate:
    """Turn a browser ``RTCIceCandidateInit`` into aiortc's ``RTCIceCandidate``.

    Raises ``ValueError`` for a candidate line aiortc cannot read.
    """
    line = candidate.candidate.strip()
    line = line.removeprefix("a=").removeprefix("candidate:")
    try:
        parsed = candidate_from_sdp(line)
    except (AssertionError, IndexError, ValueError) as exc:
        raise ValueError(f"unreadable ICE candidate {candidate.candidate[:80]!r}") from exc
    parsed.sdpMid = candidate.sdpMid
    parsed.sdpMLineIndex = candidate.sdpMLineIndex
    return parsed


class BoothPeer:
    """The booth's peer connection for one call.

    Callbacks:

    - ``on_remote_video_frame(frame)``: each decoded agent video frame;
    - ``on_chat(id, text)``: a chat line from the agent;
    - ``on_state(state)``: ``"connecting"`` (offer being made), ``"connected"``
      (ICE + DTLS up), then one of ``"peer_closed"`` (the agent closed its side on
      purpose: the reason follows by signaling), ``"peer_lost"`` (agent silent for
      ``peer_timeout_s``), ``"failed"`` (ICE/DTLS failure),
      ``"relay_failed"`` (relay-only and the TURN server gave no relay candidate)
      and finally ``"closed"`` (after :meth:`close`).  Each state is reported once.

    Counters for the UI and benchmarks: ``frames_received``, ``first_frame_at``
    (``time.monotonic()``), ``remote_frame_size``, ``audio_frames_received``,
    ``bad_messages``, ``heartbeats_received``, ``offer_started_at``,
    ``connected_at``.
    """

    def __init__(
        self,
        ice_servers: list[wire.IceServer],
        media: MediaSources,
        *,
        on_remote_video_frame: Callable[[av.VideoFrame], None],
        on_chat: Callable[[str, str], None],
        on_state: Callable[[str], None],
        on_remote_audio_frame: Callable[[av.AudioFrame], None] | None = None,
        heartbeat_interval_s: float = HEARTBEAT_INTERVAL_S,
        peer_timeout_s: float = PEER_TIMEOUT_S,
        ice_transport_policy: wire.IceTransportPolicy = "all",
    ) -> None:
        self.media = media
        self.on_remote_video_frame = on_remote_video_frame
        self.on_remote_audio_frame = on_remote_audio_frame
        self.on_chat = on_chat
        self.on_state = on_state
        self.heartbeat_interval_s = heartbeat_interval_s
        self.peer_timeout_s = peer_timeout_s
        self.ice_transport_policy = ice_transport_policy
        self.configuration = rtc_configuration(ice_servers, ice_transport_policy)
        self.pc = RTCPeerConnection(self.configuration)
        self.pc.on("connectionstatechange", self._on_connection_state)
        self.pc.on("track", self._on_track)
        self.channel: RTCDataChannel | None = None
        self.state: str = "new"
        self.frames_received = 0
        self.first_frame_at: float | None = None
        self.remote_frame_size: tuple[int, int] | None = None
        self.audio_frames_received = 0
        self.bad_messages = 0
        self.heartbeats_received = 0
        self.chats_received = 0
        self.offer_started_at: float | None = None
        self.connected_at: float | None = None
        self.last_heard_at: float | None = None
        self._local_tracks: list[MediaStreamTrack] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._heartbeat_seq = itertools.count()
        self._closing = False
        self._grace_until = 0.0
        self.ready = asyncio.Event()
        """Set once connected with the data channel open (the call can go on)."""
        self.ended = asyncio.Event()
        """Set when the peer reaches a final state (lost, failed, closed...)."""
        self.devices: DeviceChannel | None = None
        """Router for device requests and transfers (see :meth:`attach_devices`)."""

    # -- public API --------------------------------------------------------

    async def create_offer(self) -> wire.SessionDescription:
        """Add camera, microphone and the data channel; return the complete offer."""
        if self._closing:
            raise PeerError("peer is closed")
        if self.channel is not None:
            raise PeerError("offer already created")
        self.offer_started_at = time.monotonic()
        self._set_state("connecting")
        video = self.media.subscribe_video()
        audio = self.media.subscribe_audio()
        self._local_tracks += [video, audio]
        self.pc.addTrack(video)
        self.pc.addTrack(audio)
        channel = self.pc.createDataChannel(wire.DATA_CHANNEL_LABEL)
        self.channel = channel
        channel.on("open", self._on_channel_open)
        channel.on("message", self._on_channel_message)
        channel.on("close", self._on_channel_close)
        offer = await self.pc.createOffer()
        # Gathers every candidate before returning (no trickle in aiortc).
        await self.pc.setLocalDescription(offer)
        local = self.pc.localDescription
        if self.ice_transport_policy == "relay" and "relay" not in candidate_types(local.sdp):
            logger.warning("relay-only call but the TURN server gave no relay candidate")
            self._set_state("relay_failed")
            raise RelayUnavailable("the TURN relay refused us or did not answer")
        return wire.SessionDescription(type="offer", sdp=local.sdp)

    async def accept_answer(self, desc: wire.SessionDescription) -> None:
        """Apply the agent's answer; a bad answer fails the call and raises PeerError."""
        if self._closing:
            raise PeerError("peer is closed")
        if desc.type != "answer":
            raise PeerError(f"expected an answer, got {desc.type}")
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=desc.sdp, type="answer"))
        except (ValueError, AssertionError, KeyError, IndexError) as exc:
            logger.warning("refused agent answer: %s", exc)
            self._set_state("failed")
            raise PeerError(f"agent answer refused: {exc}") from exc
        # aiortc 1.16 keeps, per bundled transport, the candidates of the answer's
        # *last* m-section only, and Chromium writes them in the first one: add
        # them all ourselves (aioice ignores an address it already has).  Without
        # this the booth learns the browser's addresses only from its checks, as
        # peer-reflexive, which a relay-only call never gets (no TURN permission).
        # mDNS names are left out: resolving them would hold the answer up for
        # seconds, and the browser's checks reveal those addresses anyway.
        for line in desc.sdp.splitlines():
            fields = line.split()  # a=candidate:<foundation> <component> <proto> <prio> <addr>
            if len(fields) > 4 and fields[0].startswith("a=candidate:"):
                if fields[4].endswith(".local"):
                    continue
                await self.add_remote_candidate(
                    wire.IceCandidate(candidate=line, sdpMid=None, sdpMLineIndex=0)
                )

    async def add_remote_candidate(self, candidate: wire.IceCandidate | None) -> None:
        """Add a trickled agent candidate (``None`` or an empty one: end of candidates).

        A candidate that cannot be read is logged and ignored: one bad line must not
        end a call that other candidates can carry.
        """
        if self._closing:
            return
        try:
            if candidate is None or not candidate.candidate.strip():
                # End of candidates is not passed on: aiortc 1.16 then fails ICE at once
                # when it arrives before the answer's own candidates were paired
                # ("no candidate pairs"), which Chromium's answers trigger.
                return
            parsed = parse_candidate(candidate)
            if parsed.sdpMid is None and parsed.sdpMLineIndex is None:
                # Bundled: every m-line shares the first transport.
                parsed.sdpMLineIndex = 0
            await self.pc.addIceCandidate(parsed)
        except (ValueError, AssertionError, KeyError) as exc:
            logger.warning("ignored remote ICE candidate: %s", exc)

    def send_chat(self, text: str) -> str:
        """Send a chat line to the agent; returns its id.

        Raises ``ValueError`` for an empty or too long text and :class:`PeerError` if
        the data channel is not open.
        """
        msg_id = uuid.uuid4().hex[:16]
        try:
            msg = wire.Chat(id=msg_id, text=text)
        except ValidationError as exc:
            raise ValueError(f"chat text refused: {exc.errors()[0]['msg']}") from exc
        self._send(msg)
        return msg_id

    def attach_devices(self, devices: DeviceChannel) -> None:
        """Route the agent's device requests and transfers to ``devices`` for this call.

        Without a router those messages are refused one by one (a ``device_error``
        ``unavailable`` per request), so the agent is never left waiting.  The router
        is closed (requests cancelled, buffers zeroed) by :meth:`close`.
        """
        self.devices = devices

    def send_peer(self, msg: wire.AnyPeerMessage) -> None:
        """Send any data-channel message; raises :class:`PeerError` if the channel is not open."""
        self._send(msg)

    async def close(self) -> None:
        """Hang up: stop tasks, local track subscriptions and the connection. Idempotent."""
        if self._closing:
            return
        self._closing = True
        if self.devices is not None:
            await self.devices.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for track in self._local_tracks:
            track.stop()
        try:
            await self.pc.close()
        except Exception:
            logger.exception("error while closing the peer connection")
        self._set_state("closed")

    # -- internals -----------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _set_state(self, state: str) -> None:
        if state == self.state:
            return
        # Once lost or failed, only "closed" may follow.
        if self.state in _TERMINAL and state != "closed":
            return
        if self.state == "closed":
            return
        logger.info("call state %s -> %s", self.state, state)
        self.state = state
        if state == "connected":
            self.connected_at = time.monotonic()
            self._check_ready()
        if state in _TERMINAL:
            self.ended.set()
        try:
            self.on_state(state)
        except Exception:
            logger.exception("on_state callback failed")

    def _check_ready(self) -> None:
        channel = self.channel
        if self.state == "connected" and channel is not None and channel.readyState == "open":
            self.ready.set()

    def _send(self, msg: wire.AnyPeerMessage) -> None:
        channel = self.channel
        if self._closing or channel is None or channel.readyState != "open":
            raise PeerError("the call's data channel is not open")
        channel.send(wire.dump(msg))

    def _on_connection_state(self) -> None:
        state = self.pc.connectionState
        if state == "connected":
            self._set_state("connected")
        elif state == "failed":
            self._set_state("failed")
        elif state == "closed" and not self._closing:
            # The agent closed its side (DTLS close_notify) on purpose: a hang-up or a
            # page going away, whose reason comes by signaling.
            self._set_state("peer_closed")

    def _on_track(self, track: MediaStreamTrack) -> None:
        logger.info("remote %s track", track.kind)
        if track.kind == "video":
            self._spawn(self._consume_video(track), "remote-video")
        else:
            self._spawn(self._consume_audio(track), "remote-audio")

    async def _consume_video(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            assert isinstance(frame, av.VideoFrame)  # noqa: S101 - a video track's contract
            self.frames_received += 1
            if self.first_frame_at is None:
                self.first_frame_at = time.monotonic()
                logger.info("first remote frame %dx%d", frame.width, frame.height)
            self.remote_frame_size = (frame.width, frame.height)
            try:
                self.on_remote_video_frame(frame)
            except Exception:
                logger.exception("on_remote_video_frame callback failed")

    async def _consume_audio(self, track: MediaStreamTrack) -> None:
        # The jitter buffer only drains when someone reads: always consume, even
        # when no playback is configured.
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            self.audio_frames_received += 1
            if self.on_remote_audio_frame is not None:
                assert isinstance(frame, av.AudioFrame)  # noqa: S101 - an audio track's contract
                try:
                    self.on_remote_audio_frame(frame)
                except Exception:
                    logger.exception("on_remote_audio_frame callback failed")

    def _on_channel_open(self) -> None:
        logger.info("data channel open")
        self.last_heard_at = time.monotonic()
        self._check_ready()
        self._spawn(self._heartbeat_loop(), "heartbeat")
        self._spawn(self._watchdog(), "peer-watchdog")

    def _on_channel_close(self) -> None:
        if not self._closing:
            logger.info("data channel closed by the agent")
            self._set_state("peer_closed")

    def _on_channel_message(self, raw: str | bytes) -> None:
        try:
            msg = wire.parse_peer(raw)
        except wire.WireError as exc:
            self.bad_messages += 1
            logger.warning("dropped malformed data-channel message: %s", exc)
            return
        self.last_heard_at = time.monotonic()
        if isinstance(msg, wire.Heartbeat):
            self.heartbeats_received += 1
            return
        if not isinstance(msg, wire.Chat):
            self._on_device_message(msg)
            return
        self.chats_received += 1
        try:
            self.on_chat(msg.id, msg.text)
        except Exception:
            logger.exception("on_chat callback failed")

    def _on_device_message(self, msg: wire.DeviceMessage) -> None:
        if self.devices is not None:
            self.devices.handle(msg)
            return
        if isinstance(msg, wire.DeviceRequest):
            with contextlib.suppress(PeerError):
                self._send(
                    wire.DeviceErrorReport(
                        request_id=msg.request_id,
                        code=wire.DeviceErrorCode.UNAVAILABLE,
                        reason="Les périphériques de la borne ne sont pas disponibles.",
                    )
                )
        logger.info("no device router: ignored %s", msg.type)

    async def _heartbeat_loop(self) -> None:
        while True:
            try:
                self._send(wire.Heartbeat(seq=next(self._heartbeat_seq)))
            except PeerError:
                return
            await asyncio.sleep(self.heartbeat_interval_s)

    async def _watchdog(self) -> None:
        # Sleep exactly until the current deadline: no polling constant needed and
        # detection lands at peer_timeout_s after the last message, not later.
        while not self._closing:
            heard = max(self.last_heard_at or 0.0, self._grace_until - self.peer_timeout_s)
            remaining = heard + self.peer_timeout_s - time.monotonic()
            if remaining <= 0:
                logger.warning("agent silent for %.1f s: peer lost", self.peer_timeout_s)
                self._set_state("peer_lost")
                return
            planned = time.monotonic() + remaining
            await asyncio.sleep(remaining)
            late = time.monotonic() - planned
            if late > LOOP_STALL_TOLERANCE_S:
                # Our own loop was blocked (a slow UI frame, a GC pause): the
                # agent's heartbeats are probably waiting unread in the socket.
                # Give them a short grace instead of blaming the agent.
                logger.warning("event loop stalled %.2f s; peer watchdog re-armed", late)
                grace = min(self.peer_timeout_s, 2 * self.heartbeat_interval_s)
                self._grace_until = time.monotonic() + grace

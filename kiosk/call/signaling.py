"""The booth's WebSocket to the switchboard (``/ws/booth``), reconnecting by itself.

One :class:`SignalingClient` lives as long as the booth app.  It sends ``hello``
first, reports ``connected`` once the server says ``welcome``, hands every parsed
server message to ``on_message`` and reconnects with exponential back-off whenever
the socket drops.  A refused token (``error{code:"unauthorized"}`` or close code
4401) stops the retries: retrying with the same token would only fill the server's
log.  An enrolled booth signs the upgrade request with its key (``headers``, called
for each connection: every signature has a fresh nonce) instead of sending a
token; a revoked booth is closed with 4403 and goes ``revoked`` for good.  A
malformed server message is logged and dropped; the socket stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import random
import ssl
from collections.abc import Awaitable, Callable
from typing import Literal

from pydantic import BaseModel
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from guichet import wire
from guichet.tls import UNTRUSTED_CERTIFICATE, is_untrusted_certificate

logger = logging.getLogger(__name__)

RECONNECT_MIN_S = 0.5
RECONNECT_MAX_S = 10.0
WELCOME_TIMEOUT_S = 10.0
"""Time the server has to answer ``hello`` before the booth drops and retries."""
OPEN_TIMEOUT_S = 10.0
"""TCP + TLS + WebSocket handshake limit."""
KEEPALIVE_INTERVAL_S = 10.0
KEEPALIVE_TIMEOUT_S = 10.0
"""WebSocket pings: a dead path is noticed within interval + timeout."""
CLOSE_TIMEOUT_S = 2.0
CLOSE_UNAUTHORIZED = 4401
CLOSE_REVOKED = 4403
CLOSE_REPLACED = 4409

SignalingState = Literal[
    "connecting", "connected", "disconnected", "unauthorized", "revoked", "stopped"
]
ServerMessage = (
    wire.BoothWelcome
    | wire.Queued
    | wire.LeftQueue
    | wire.CallStarted
    | wire.Answer
    | wire.Ice
    | wire.CallEnded
    | wire.Error
    | wire.Pong
    | wire.ConfigAvailable
    | wire.CallResumed
)
MessageCallback = Callable[[ServerMessage], Awaitable[None] | None]
StateCallback = Callable[[SignalingState, str], None]
HeadersFactory = Callable[[], dict[str, str]]


class NotConnected(ConnectionError):
    """A message was sent while the switchboard is not connected (or has not welcomed us)."""


class _Unauthorized(Exception):
    pass


class _Revoked(_Unauthorized):
    pass


class SignalingClient:
    """WebSocket client of the switchboard for one booth.

    Callbacks (set in the constructor or as attributes before :meth:`start`):

    - ``on_message(msg)``: every valid server message, ``welcome`` included, in order;
      may be a coroutine function (awaited before the next message is read).
    - ``on_state(state, reason)``: ``"connecting"``, ``"connected"`` (after
      ``welcome``), ``"disconnected"`` (``reason`` says why; a retry follows),
      ``"unauthorized"`` (token refused, no more retries) and ``"stopped"``
      (after :meth:`stop`).
    """

    def __init__(
        self,
        ws_url: str,
        token: str | None,
        app_version: str,
        *,
        reconnect_min_s: float = RECONNECT_MIN_S,
        reconnect_max_s: float = RECONNECT_MAX_S,
        welcome_timeout_s: float = WELCOME_TIMEOUT_S,
        on_message: MessageCallback | None = None,
        on_state: StateCallback | None = None,
        headers: HeadersFactory | None = None,
        ssl_context: ssl.SSLContext | None = None,
        current_call: Callable[[], str | None] | None = None,
    ) -> None:
        self.ws_url = ws_url
        self._ssl = ssl_context
        """For ``wss://``: trusts only the booth's CA (:func:`guichet.tls.client_ssl_context`)."""
        self._headers = headers
        self._hello = wire.BoothHello(token=token, app_version=app_version)
        self._current_call = current_call
        """The call the booth is in now, named in each ``hello`` (see ``wire.BoothHello``)."""
        self.reconnect_min_s = reconnect_min_s
        self.reconnect_max_s = reconnect_max_s
        self.welcome_timeout_s = welcome_timeout_s
        self.on_message = on_message
        self.on_state = on_state
        self.state: SignalingState = "disconnected"
        self.reason = ""
        self.welcome: wire.BoothWelcome | None = None
        self.bad_messages = 0
        """Server messages dropped because they could not be parsed."""
        self.connections = 0
        """Successful welcomes so far (1 + number of reconnections)."""
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._welcomed = False
        self._rng = random.Random()  # noqa: S311 - back-off jitter, not cryptography

    @property
    def connected(self) -> bool:
        """True between ``welcome`` and the next disconnection."""
        return self.state == "connected"

    async def start(self) -> None:
        """Start connecting in the background; returns at once."""
        if self._task is not None:
            return
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="signaling")

    async def stop(self) -> None:
        """Close the socket and stop reconnecting; safe to call twice."""
        self._stopping = True
        ws, task = self._ws, self._task
        self._task = None
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.state not in ("unauthorized", "revoked"):
            self._set_state("stopped", "stopped")

    async def send(self, msg: BaseModel) -> None:
        """Send one wire message; raises :class:`NotConnected` when not welcomed."""
        ws = self._ws
        if ws is None or self.state != "connected":
            raise NotConnected(f"switchboard not connected ({self.state}: {self.reason})")
        try:
            await ws.send(wire.dump(msg))
        except ConnectionClosed as exc:
            raise NotConnected(f"switchboard connection closed: {exc}") from exc

    async def wait_connected(self, timeout: float) -> None:
        """Wait until connected (for tests and start-up); raises TimeoutError."""
        async with asyncio.timeout(timeout):
            while self.state != "connected":
                if self.state in ("unauthorized", "revoked"):
                    raise NotConnected(f"refused: {self.reason}")
                await asyncio.sleep(0.01)

    # -- internals ---------------------------------------------------------

    def _set_state(self, state: SignalingState, reason: str = "") -> None:
        if state == self.state and reason == self.reason:
            return
        self.state = state
        self.reason = reason
        logger.info("signaling %s %s", state, reason)
        if self.on_state is not None:
            try:
                self.on_state(state, reason)
            except Exception:
                logger.exception("on_state callback failed")

    def _backoff(self, attempt: int) -> float:
        # Full jitter keeps a fleet of booths from reconnecting in lock-step after
        # a server restart.
        ceiling = min(self.reconnect_max_s, self.reconnect_min_s * 2**attempt)
        return self._rng.uniform(min(self.reconnect_min_s, ceiling), ceiling)

    async def _run(self) -> None:
        attempt = 0
        while not self._stopping:
            self._set_state("connecting")
            self._welcomed = False
            try:
                await self._session()
                reason = "connection closed by the server"
            except _Revoked as exc:
                self._ws = None
                self._set_state("revoked", str(exc))
                return
            except _Unauthorized as exc:
                self._ws = None
                self._set_state("unauthorized", str(exc))
                return
            except ConnectionClosed as exc:
                reason = _close_reason(exc)
            except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
                reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                if is_untrusted_certificate(exc):
                    logger.error("%s (%s): %s", UNTRUSTED_CERTIFICATE, self.ws_url, exc)
                    reason = UNTRUSTED_CERTIFICATE
            finally:
                self._ws = None
            if self._stopping:
                return
            if self._welcomed:
                attempt = 0
            delay = self._backoff(attempt)
            if reason.startswith("replaced"):
                # Another process holds this booth's identity: do not fight it
                # every half second.
                delay = self.reconnect_max_s
            attempt += 1
            self._set_state("disconnected", reason)
            logger.info("signaling retry in %.2f s", delay)
            await asyncio.sleep(delay)

    async def _session(self) -> None:
        """One connection, from handshake to close."""
        async with connect(
            self.ws_url,
            open_timeout=OPEN_TIMEOUT_S,
            ping_interval=KEEPALIVE_INTERVAL_S,
            ping_timeout=KEEPALIVE_TIMEOUT_S,
            close_timeout=CLOSE_TIMEOUT_S,
            max_size=wire.MAX_MESSAGE_BYTES,
            additional_headers=self._headers() if self._headers is not None else None,
            # ws:// takes no TLS argument; wss:// without a context uses the default one.
            ssl=(self._ssl or True) if self.ws_url.startswith("wss:") else None,
        ) as ws:
            self._ws = ws
            try:
                call_id = self._current_call() if self._current_call is not None else None
                hello = self._hello.model_copy(update={"call_id": call_id})
                await ws.send(wire.dump(hello))
                async with asyncio.timeout(self.welcome_timeout_s):
                    while not self._welcomed:
                        await self._handle(await ws.recv())
                async for raw in ws:
                    await self._handle(raw)
            except ConnectionClosed as exc:
                if exc.rcvd is not None and exc.rcvd.code == CLOSE_REVOKED:
                    raise _Revoked(exc.rcvd.reason or "revoked") from exc
                if exc.rcvd is not None and exc.rcvd.code == CLOSE_UNAUTHORIZED:
                    raise _Unauthorized(exc.rcvd.reason or "token refused") from exc
                raise

    async def _handle(self, raw: str | bytes) -> None:
        """Parse and dispatch one frame; a malformed one is counted and dropped."""
        try:
            msg = wire.parse_to_booth(raw)
        except wire.WireError as exc:
            self.bad_messages += 1
            logger.warning("dropped malformed server message: %s", exc)
            return
        if isinstance(msg, wire.Error):
            if msg.code == wire.ErrorCode.UNAUTHORIZED:
                if msg.message.startswith("revoked"):
                    raise _Revoked(msg.message)
                raise _Unauthorized(msg.message)
            if msg.code == wire.ErrorCode.REPLACED:
                logger.warning("booth connection replaced by another: %s", msg.message)
        elif isinstance(msg, wire.BoothWelcome) and not self._welcomed:
            self.welcome = msg
            self._welcomed = True
            self.connections += 1
            # "connected" is reported before the welcome message is handed over,
            # so that a handler reacting to welcome can already send.
            self._set_state("connected")
        elif not self._welcomed:
            logger.warning("server sent %s before welcome", msg.type)
        await self._dispatch(msg)

    async def _dispatch(self, msg: ServerMessage) -> None:
        if self.on_message is None:
            return
        try:
            result = self.on_message(msg)
            if inspect.isawaitable(result):
                await result
        except Exception:
            logger.exception("on_message callback failed for %s", msg.type)


def _close_reason(exc: ConnectionClosed) -> str:
    frame = exc.rcvd or exc.sent
    if frame is None:
        return "connection lost"
    if frame.code == CLOSE_REPLACED:
        return f"replaced ({frame.reason})" if frame.reason else "replaced"
    return f"closed {frame.code} {frame.reason}".strip()


__all__ = [
    "CLOSE_REPLACED",
    "CLOSE_REVOKED",
    "CLOSE_UNAUTHORIZED",
    "RECONNECT_MAX_S",
    "RECONNECT_MIN_S",
    "MessageCallback",
    "NotConnected",
    "ServerMessage",
    "SignalingClient",
    "SignalingState",
    "StateCallback",
]

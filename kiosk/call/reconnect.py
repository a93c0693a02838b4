"""Bring a call back after a network cut: new peer connections until one connects.

aiortc has no ICE restart (it answers a restart offer with the old credentials), so a
call whose agent went silent is recovered with a NEW :class:`~kiosk.call.peer.BoothPeer`
and a new offer for the same call id; the switchboard forwards it to the agent, whose
console answers it with a new ``RTCPeerConnection``.  Each attempt gets
``attempt_s``; attempts go on until ``budget_s`` after the agent was last heard.
When the budget is spent the caller falls back to the broken-call path (back at the
head of the queue).

No I/O of its own: the caller supplies how to make a peer and how to send its offer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from guichet import wire
from kiosk.call.peer import BoothPeer, PeerError

logger = logging.getLogger(__name__)

RECONNECT_BUDGET_S = 15.0
"""Longest time, from the agent's last word, the booth tries to bring a call back."""
RECONNECT_ATTEMPT_S = 5.0
"""One attempt (offer sent, waiting for the answer and the data channel) lasts this long."""
RETRY_PAUSE_S = 0.5
"""Pause after an attempt that failed at once (no relay, signaling down)."""


async def wait_ready(peer: BoothPeer, timeout_s: float) -> bool:
    """True once ``peer`` is connected with its data channel open; False if it ended or
    ``timeout_s`` passed first."""
    if timeout_s <= 0:
        return peer.ready.is_set()
    ready = asyncio.ensure_future(peer.ready.wait())
    ended = asyncio.ensure_future(peer.ended.wait())
    try:
        await asyncio.wait({ready, ended}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        ready.cancel()
        ended.cancel()
    return peer.ready.is_set() and not peer.ended.is_set()


async def reconnect(
    new_peer: Callable[[], BoothPeer],
    send_offer: Callable[[wire.SessionDescription], Awaitable[None]],
    discard: Callable[[BoothPeer], None],
    *,
    lost_at: float,
    budget_s: float = RECONNECT_BUDGET_S,
    attempt_s: float = RECONNECT_ATTEMPT_S,
    clock: Callable[[], float] = time.monotonic,
) -> BoothPeer | None:
    """Try new peers until one connects; return it, or None when the budget is spent.

    ``new_peer()`` builds a peer and makes it the call's current one (so that the
    agent's answer reaches it); ``send_offer`` sends its offer for the same call id;
    ``discard(peer)`` closes a peer that did not make it (best effort, in the
    background).  ``lost_at`` is the ``clock()`` time the agent was last heard.
    """
    attempt = 0
    while (remaining := lost_at + budget_s - clock()) > 0:
        attempt += 1
        started = clock()
        peer = new_peer()
        try:
            offer = await asyncio.wait_for(peer.create_offer(), remaining)
            await send_offer(offer)
            left = min(attempt_s, lost_at + budget_s - clock())
            if await wait_ready(peer, left):
                logger.info(
                    "call back on a new peer connection (attempt %d, %.1f s after the cut)",
                    attempt,
                    clock() - lost_at,
                )
                return peer
            logger.info("reconnection attempt %d: no answer in time", attempt)
        except (PeerError, OSError, TimeoutError, ConnectionError) as exc:
            logger.info("reconnection attempt %d failed: %s", attempt, exc)
        discard(peer)
        # An attempt that failed at once (relay refused, signaling down) waits a
        # little before the next, instead of spinning.
        if clock() - started < RETRY_PAUSE_S:
            await asyncio.sleep(RETRY_PAUSE_S)
    logger.warning("call not back after %.0f s: giving up", budget_s)
    return None

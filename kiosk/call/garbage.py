"""Free an ended call's memory now, not at some later full garbage collection.

aiortc's objects reference each other (a peer connection, its transceivers, its
transports and the callbacks they hold on one another), so dropping the last
reference to a closed ``RTCPeerConnection`` does not free it: it waits, with its
VP8/Opus codec contexts, decoded frames and buffers, for Python's cyclic garbage
collector. Full collections are rare in a process with a heap as large as the
booth's, so several ended calls piled up between them; ``bench/soak.py`` measured
~2 MB of resident memory more per session. One full collection after each call,
while the citizen reads the goodbye screen, frees it at once. So that this
collection only walks what was made since, the objects that live as long as the
booth (modules, the built UI) are frozen out of collections once it has started.
"""

from __future__ import annotations

import gc
import logging
import time

logger = logging.getLogger(__name__)


def collect_call_garbage() -> int:
    """Run a full collection; return how many unreachable objects it found."""
    started = time.monotonic()
    found = gc.collect()
    logger.info(
        "call memory freed: %d unreachable objects in %.0f ms",
        found,
        (time.monotonic() - started) * 1000,
    )
    return found


def freeze_startup_heap() -> None:
    """Keep every object alive now (imports, the built UI) out of later collections.

    They live as long as the booth; without this each collection after a call walks
    them all (0.1-0.4 s on a busy 2-core booth, measured by ``bench/soak.py``).
    """
    gc.collect()
    gc.freeze()
    logger.info("startup heap frozen: %d objects out of later collections", gc.get_freeze_count())

"""Child process for test_call_speaker: plays a tone through Speaker to an ALSA device.

alsa-lib reads its configuration once per process, so each run that needs its
own ``~/.asoundrc`` (the ALSA ``file`` plugin that captures what is played) gets
a fresh process. Prints frames played/dropped and the error, as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from kiosk.call.media import FakeMicrophone
from kiosk.call.speaker import Speaker


async def main(device: str, frames: int) -> None:
    mic = FakeMicrophone(frequency_hz=int(sys.argv[3]) if len(sys.argv) > 3 else 440)
    speaker = Speaker(device, volume=int(sys.argv[4]) if len(sys.argv) > 4 else 100)
    speaker.start()
    for _ in range(frames):
        speaker.push(await mic.recv())  # type: ignore[arg-type]
    deadline = time.monotonic() + 5
    while speaker.frames_played + speaker.frames_dropped < frames and speaker.error is None:
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.02)
    speaker.stop()
    speaker.stop()
    mic.stop()
    result = {
        "played": speaker.frames_played,
        "dropped": speaker.frames_dropped,
        "error": speaker.error,
    }
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))

"""The volume of the booth's signed configuration reaches the loudspeaker of the next
call: controller → Speaker → scale_volume, with real audio frames (ALSA ``null``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from kiosk.call.media import FakeMicrophone
from kiosk.config import BoothSettings
from kiosk.controller import BoothController


async def _call_speaker_volume(controller: BoothController, call_id: str) -> int:
    await controller._start_call(call_id)
    speaker = controller._speaker
    assert speaker is not None
    mic = FakeMicrophone()
    try:
        for _ in range(5):
            speaker.push(await mic.recv())  # type: ignore[arg-type]
        for _ in range(250):
            if speaker.frames_played + speaker.frames_dropped >= 5 or speaker.error:
                break
            await asyncio.sleep(0.02)
        assert speaker.error is None
        assert speaker.frames_played > 0
        return speaker.volume
    finally:
        mic.stop()
        await controller._close_call()


async def test_a_new_volume_applies_to_the_next_call(tmp_path: Path) -> None:
    settings = BoothSettings(fullscreen=False, fake_media=True, speaker="null", volume=70)
    controller = BoothController(settings)
    try:
        assert await _call_speaker_volume(controller, "c-1") == 70
        await controller.apply_settings(settings.model_copy(update={"volume": 25}))
        assert await _call_speaker_volume(controller, "c-2") == 25
    finally:
        await controller.stop()

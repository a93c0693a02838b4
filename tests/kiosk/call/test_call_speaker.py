"""The agent's voice reaches the loudspeaker: a real ALSA device (the ``file`` plugin
captures what is played), no sound card needed. Each run is its own process
because alsa-lib reads ``~/.asoundrc`` once per process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[3]
FRAME_SAMPLES = 960  # 20 ms at 48 kHz
PLAYER = Path(__file__).with_name("speaker_play.py")


def _play(
    home: Path, device: str, frames: int, hz: int = 440, volume: int = 100
) -> dict[str, object]:
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(REPO)}
    env.pop("ALSA_CONFIG_PATH", None)
    result = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name("speaker_play.py")),
            device,
            str(frames),
            str(hz),
            str(volume),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    out: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return out


def test_speaker_plays_the_remote_tone_to_an_alsa_device(tmp_path: Path) -> None:
    capture = tmp_path / "played.raw"
    (tmp_path / ".asoundrc").write_text(
        'pcm.booth_speaker {\n  type file\n  slave.pcm "null"\n'
        f'  file "{capture}"\n  format "raw"\n}}\n'
    )
    result = _play(tmp_path, "booth_speaker", frames=50, hz=440)
    assert result["error"] is None
    assert result["played"] == 50
    pcm = np.frombuffer(capture.read_bytes(), dtype=np.int16).reshape(-1, 2)
    assert len(pcm) == 50 * FRAME_SAMPLES
    # The loudest frequency in what the speaker got is the tone that was sent.
    spectrum = np.abs(np.fft.rfft(pcm[:, 0].astype(np.float64)))
    peak_hz = np.argmax(spectrum) * 48_000 / len(pcm)
    assert abs(peak_hz - 440) < 5


def test_missing_speaker_is_reported_and_the_call_goes_on(tmp_path: Path) -> None:
    result = _play(tmp_path, "no_such_speaker", frames=10)
    assert result["played"] == 0
    assert isinstance(result["error"], str) and "no_such_speaker" in result["error"]


def _capture(tmp_path: Path, volume: int) -> np.ndarray:
    home = tmp_path / f"v{volume}"
    home.mkdir()
    capture = home / "played.raw"
    (home / ".asoundrc").write_text(
        'pcm.booth_speaker {\n  type file\n  slave.pcm "null"\n'
        f'  file "{capture}"\n  format "raw"\n}}\n'
    )
    result = _play(home, "booth_speaker", frames=20, volume=volume)
    assert result["error"] is None and result["played"] == 20
    return np.frombuffer(capture.read_bytes(), dtype=np.int16).reshape(-1, 2)


def test_the_configured_volume_scales_what_the_loudspeaker_plays(tmp_path: Path) -> None:
    full, half, mute = (_capture(tmp_path, v) for v in (100, 50, 0))
    assert len(full) == len(half) == len(mute) == 20 * FRAME_SAMPLES
    loud = np.abs(full.astype(np.int32)).max()
    assert loud > 1000
    assert abs(np.abs(half.astype(np.int32)).max() / loud - 0.5) < 0.02
    assert not mute.any()

"""scale_volume on real av AudioFrames: the booth's configured volume (0-100)."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from kiosk.call.speaker import scale_volume


def _frame(samples: np.ndarray, fmt: str = "s16", layout: str = "stereo") -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(samples, format=fmt, layout=layout)
    frame.sample_rate = 48_000
    frame.pts = 960
    frame.time_base = Fraction(1, 48_000)
    return frame


def _tone() -> np.ndarray:
    t = np.arange(960) / 48_000
    mono = (np.sin(2 * np.pi * 440 * t) * 20_000).astype(np.int16)
    return np.repeat(mono, 2).reshape(1, -1)  # packed stereo: L R L R...


def test_volume_100_leaves_the_frame_unchanged() -> None:
    frame = _frame(_tone())
    assert scale_volume(frame, 100) is frame


def test_volume_0_is_silence_with_the_same_timing() -> None:
    out = scale_volume(_frame(_tone()), 0)
    assert not out.to_ndarray().any()
    assert (out.samples, out.sample_rate, out.pts) == (960, 48_000, 960)
    assert out.time_base == Fraction(1, 48_000)
    assert (out.format.name, out.layout.name) == ("s16", "stereo")


def test_volume_50_halves_the_amplitude_and_keeps_the_original() -> None:
    tone = _tone()
    frame = _frame(tone)
    half = scale_volume(frame, 50).to_ndarray().astype(np.int32)
    assert np.abs(half - tone.astype(np.int32) // 2).max() <= 1
    assert np.array_equal(frame.to_ndarray(), tone)


@pytest.mark.parametrize("volume", [1, 50, 99, 100])
def test_full_scale_int16_never_overflows(volume: int) -> None:
    extremes = np.array([[-32768, 32767] * 480], dtype=np.int16)
    out = scale_volume(_frame(extremes), volume).to_ndarray()
    assert out.dtype == np.int16
    assert (out[0, ::2] <= 0).all() and (out[0, 1::2] >= 0).all()
    assert abs(int(out[0, 1]) - 32767 * volume // 100) <= 1


def test_planar_float_frames_are_scaled_too() -> None:
    samples = np.full((2, 960), 0.8, dtype=np.float32)
    out = scale_volume(_frame(samples, fmt="fltp"), 25).to_ndarray()
    assert np.allclose(out, 0.2)


def test_out_of_range_volume_is_clamped() -> None:
    tone = _tone()
    assert not scale_volume(_frame(tone), -5).to_ndarray().any()
    assert scale_volume(_frame(tone), 150).to_ndarray().tolist() == tone.tolist()

"""Pure scanner option mapping: the booth's choices in each backend's words."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.devices.scanner_options import (
    OptionInfo,
    OptionMappingError,
    ScanSettings,
    expected_pixels,
    reason_for_sane_error,
    sane_options,
)

EPSON_LIKE = {
    "mode": OptionInfo("mode", choices=("Lineart", "Gray", "Color")),
    "depth": OptionInfo("depth", choices=(8, 16)),
    "source": OptionInfo("source", choices=("Flatbed", "Automatic Document Feeder")),
    "resolution": OptionInfo("resolution", choices=(75, 150, 300, 600, 1200)),
    "tl-x": OptionInfo("tl-x", value_range=(0.0, 215.9, 0.0)),
    "tl-y": OptionInfo("tl-y", value_range=(0.0, 297.2, 0.0)),
    "br-x": OptionInfo("br-x", value_range=(0.0, 215.9, 0.0)),
    "br-y": OptionInfo("br-y", value_range=(0.0, 297.2, 0.0)),
}
SMALL_GLASS = {
    "mode": OptionInfo("mode", choices=("24bit Color", "Gray[Error Diffusion]", "True Gray")),
    "resolution": OptionInfo("resolution", value_range=(100.0, 600.0, 50.0)),
    "br-x": OptionInfo("br-x", value_range=(0.0, 200.0, 1.0)),
    "br-y": OptionInfo("br-y", value_range=(0.0, 250.0, 1.0)),
}


def test_a4_colour_on_an_epson_like_scanner() -> None:
    options = sane_options(ScanSettings(resolution_dpi=300), EPSON_LIKE)
    assert next(iter(options)) == "mode"
    assert options == {
        "mode": "Color",
        "depth": 8,
        "source": "Flatbed",
        "resolution": 300,
        "tl-x": 0.0,
        "tl-y": 0.0,
        "br-x": 210.0,
        "br-y": 297.0,
    }


def test_other_spellings_nearest_resolution_and_a_small_glass() -> None:
    options = sane_options(ScanSettings(resolution_dpi=220, mode="gray"), SMALL_GLASS)
    assert options["mode"] == "True Gray"
    assert options["resolution"] == 200
    assert (options["br-x"], options["br-y"]) == (200.0, 250.0)
    colour = sane_options(ScanSettings(resolution_dpi=50), SMALL_GLASS)
    assert colour["mode"] == "24bit Color"
    assert colour["resolution"] == 100


def test_unknown_mode_and_unknown_backend_option_are_refused() -> None:
    with pytest.raises(OptionMappingError) as caught:
        sane_options(ScanSettings(mode="color"), {"mode": OptionInfo("mode", choices=("Gray",))})
    assert caught.value.code == "unsupported_mode"
    with pytest.raises(OptionMappingError) as caught:
        sane_options(ScanSettings(backend_options={"brightness": 3}), EPSON_LIKE)
    assert caught.value.code == "unknown_option"


def test_feeder_wanted_but_no_source_option_at_all() -> None:
    with pytest.raises(OptionMappingError):
        sane_options(ScanSettings(source="adf"), {})


def test_expected_pixels_truncates_like_sane() -> None:
    assert expected_pixels(210, 150) == 1240
    assert expected_pixels(297, 300) == 3507


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("Document feeder jammed", "jammed"),
        ("Document feeder out of documents", "feeder_empty"),
        ("Error during device I/O", "io_error"),
        ("Something new", "scan_failed"),
        ("", "scan_failed"),
    ],
)
def test_sane_messages_become_codes(message: str, code: str) -> None:
    assert reason_for_sane_error(message)[0] == code


@given(st.text())
def test_reason_for_any_message_never_raises(message: str) -> None:
    code, reason = reason_for_sane_error(message)
    assert code and reason

"""The booth's palettes and text scale, pure: contrast of every text on every
background it is drawn on (WCAG 2), and kv files that only draw through the theme."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kiosk.config import BoothSettings
from kiosk.ui import palette as p

KV_DIR = Path(p.__file__).resolve().parent


def test_contrast_ratio_matches_wcag_reference_values() -> None:
    assert p.contrast_ratio("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert p.contrast_ratio("#FFFFFF", "#000000") == pytest.approx(21.0)
    assert p.contrast_ratio("#777777", "#777777") == pytest.approx(1.0)
    # WebAIM's threshold grey: #767676 is the lightest grey on white passing 4.5:1.
    assert p.contrast_ratio("#767676", "#FFFFFF") == pytest.approx(4.54, abs=0.01)
    assert p.contrast_ratio("#777777", "#FFFFFF") < 4.5


def test_both_palettes_define_every_role_as_a_colour() -> None:
    for colours in (p.NORMAL, p.HIGH_CONTRAST):
        assert set(colours) == set(p.ROLES)
        for value in colours.values():
            assert re.fullmatch(r"#[0-9A-F]{6}", value), value


@pytest.mark.parametrize(("high_contrast", "minimum"), [(False, 4.5), (True, 7.0)])
def test_every_text_pair_reaches_wcag_contrast(high_contrast: bool, minimum: float) -> None:
    colours = p.palette(high_contrast)
    assert p.MIN_CONTRAST[high_contrast] == minimum
    ratios = {
        (fg, bg): round(p.contrast_ratio(colours[fg], colours[bg]), 2) for fg, bg in p.TEXT_PAIRS
    }
    low = {pair: ratio for pair, ratio in ratios.items() if ratio < minimum}
    assert not low, f"below {minimum}:1: {low}"


def test_high_contrast_is_yellow_and_white_on_black_with_a_red_hang_up() -> None:
    hc = p.HIGH_CONTRAST
    assert (hc["BG"], hc["TEXT"], hc["PRIMARY"], hc["ON_PRIMARY"]) == (
        "#000000",
        "#FFFFFF",
        "#FFFF00",
        "#000000",
    )
    r, g, b, _ = p.hex_rgba(hc["DANGER"])
    assert r > 0.6 and g == b == 0, "the hang-up button stays red"
    assert p.contrast_ratio(hc["LINE"], hc["BG"]) == pytest.approx(21.0), "white outlines"
    # Primary buttons stand out from the background, not only their text.
    assert p.contrast_ratio(hc["PRIMARY"], hc["BG"]) >= 7.0


def test_hex_rgba_refuses_what_is_not_a_colour() -> None:
    assert p.hex_rgba("#000091") == [0.0, 0.0, 145 / 255, 1.0]
    for bad in ("000091", "#00009", "#0000911", "blue"):
        with pytest.raises(ValueError, match="colour"):
            p.hex_rgba(bad)


def test_px_per_cm_follows_resolution_and_diagonal() -> None:
    booth = BoothSettings(width=1280, height=800, screen_diagonal_in=15.6)
    assert booth.px_per_cm == pytest.approx(38.09, abs=0.01)
    assert BoothSettings(width=1920, height=1080, screen_diagonal_in=21.5).px_per_cm == (
        pytest.approx(40.34, abs=0.01)
    )
    with pytest.raises(ValueError, match="screen_diagonal_in"):
        BoothSettings(screen_diagonal_in=0)


def _kv_lines() -> list[tuple[str, int, str]]:
    return [
        (path.name, number, line)
        for path in sorted(KV_DIR.glob("*.kv"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
    ]


def test_kv_files_draw_colours_and_text_sizes_through_the_theme() -> None:
    """A colour constant or a fixed ``'28sp'`` would not follow the citizen's modes."""
    sizes = r"TOUCH_MIN|HEADER_H|SPEECH_BUTTON_W|STAFF_SCREENS"
    fixed_colour = re.compile(rf"\bC\.(?!(?:{sizes})\b)[A-Z_]+")
    fixed_size = re.compile(r"font_size:\s*['\"]?\d+(sp|dp|px)?['\"]?\s*$")
    unscaled = re.compile(r"font_size:(?!.*app\.theme\.scale)")
    bad = [
        f"{name}:{number}: {line.strip()}"
        for name, number, line in _kv_lines()
        if fixed_colour.search(line) or fixed_size.search(line) or unscaled.search(line)
    ]
    assert not bad, "\n".join(bad)

"""Pure parts of the fleet: layer resolution with sources, changes to a layer, the
heartbeat payload and the /proc readings it is built from."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from provisioning import layers
from provisioning.heartbeat import SystemFigures, build_heartbeat, parse_meminfo, system_figures
from provisioning.layers import ConfigInvalid, Layer, Scope
from provisioning.messages import PeripheralState, PeripheralStatus
from provisioning.schema import BoothConfig

BASE = BoothConfig(switchboard_url="https://guichet.example.fr").model_dump(mode="json")


def test_the_nearest_level_wins_and_each_leaf_names_its_source() -> None:
    config, sources = layers.resolve(
        BASE,
        [
            Layer(Scope.SITE, "florac", {"volume": 70}),
            Layer(Scope.FLEET, "", {"volume": 50, "branding.name": "Parc"}),
            Layer(Scope.GROUP, "b-group", {"branding": {"name": "B", "accent_colour": "#111111"}}),
            Layer(Scope.GROUP, "a-group", {"branding.name": "A"}),
            Layer(Scope.BOOTH, "florac-1", {"peripherals.scanner": {"usb": "04a9:1234"}}),
        ],
    )
    assert (config["volume"], sources["volume"]) == (70, "site:florac")
    # Groups apply by name: b-group after a-group.
    assert (config["branding"]["name"], sources["branding.name"]) == ("B", "group:b-group")
    assert sources["branding.accent_colour"] == "group:b-group"
    assert sources["branding.primary_colour"] == "default"
    assert config["peripherals"] == {"scanner": {"usb": "04a9:1234"}}
    assert sources["peripherals.scanner.usb"] == "booth:florac-1"
    assert sources["switchboard_url"] == "default"
    layers.validate(config)


def test_a_key_replaces_what_the_same_layer_set_above_or_below_it() -> None:
    values = {"peripherals.scanner.usb": "04a9:1234", "volume": 10}
    after = layers.apply_changes(values, {"peripherals.scanner": {"path": "/dev/sane0"}}, [])
    assert after == {"peripherals.scanner": {"path": "/dev/sane0"}, "volume": 10}
    after = layers.apply_changes(after, {"peripherals.scanner.reader": "x"}, ["volume"])
    assert after == {"peripherals.scanner.reader": "x"}
    with pytest.raises(ConfigInvalid):
        layers.apply_changes({}, {"bad key!": 1}, [])


def test_validation_errors_are_located_by_dotted_key() -> None:
    config, _ = layers.resolve(BASE, [Layer(Scope.FLEET, "", {"idle.reset_s": 0, "colour": 1})])
    with pytest.raises(ConfigInvalid) as caught:
        layers.validate(config)
    assert {e.key for e in caught.value.errors} == {"idle.reset_s", "colour"}


def test_diff_lists_changed_leaves_only() -> None:
    before = {"volume": 80, "branding": {"name": "A", "primary_colour": "#000091"}}
    after = {"volume": 80, "branding": {"name": "B", "primary_colour": "#000091"}, "x": 1}
    assert layers.diff(before, after) == [("branding.name", "A", "B"), ("x", None, 1)]


def test_heartbeat_is_built_from_state_and_proc_readings(tmp_path: Path) -> None:
    meminfo = (
        "MemTotal:        4000000 kB\nMemFree:          500000 kB\nMemAvailable:    3000000 kB\n"
    )
    assert parse_meminfo(meminfo) == (976.6, 3906.2)
    assert parse_meminfo("garbage") is None
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "uptime").write_text("1234.56 99.0\n")
    (proc / "meminfo").write_text(meminfo)
    figures = system_figures(tmp_path, proc)
    assert figures.uptime_s == 1234.56
    assert figures.disk_free_mb is not None and figures.disk_free_mb > 0
    assert figures.memory_total_mb == 3906.2

    called = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
    beat = build_heartbeat(
        app_version="0.1.0",
        config_version=7,
        figures=SystemFigures(12.345, 100.0, 900.0, 3900.0),
        peripherals=[PeripheralState(role="scanner", state=PeripheralStatus.UNAVAILABLE)],
        rtt_ms=12.3456,
        last_call_at=called,
    )
    assert (beat.uptime_s, beat.rtt_ms, beat.config_version) == (12.3, 12.3, 7)
    assert beat.peripherals[0].state is PeripheralStatus.UNAVAILABLE
    assert beat.last_call_at == called

"""Catalogue files: the demo one loads; a broken one says which line or field."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from provisioning.schema import BOOTH_LANGUAGES
from switchboard.catalogue import CatalogueError, load_catalogue, parse_catalogue

GOOD = """
[[service]]
id = "caf"
name = { fr = "Allocations", en = "Benefits" }
icon = "family"
hours = "always"
expected_call_s = 300
"""


def test_demo_catalogue_has_the_five_services() -> None:
    catalogue = load_catalogue()
    assert catalogue.ids == ["caf", "impots", "ants", "cpam", "justice"]
    now = datetime(2024, 3, 4, 10, 0, tzinfo=UTC)  # a Monday
    for service in catalogue.services:
        for language in BOOTH_LANGUAGES:  # every language a booth can be set to
            assert service.name[language], (service.id, language)
            assert service.description[language], (service.id, language)
        assert service.is_open(now) == (service.id != "justice")
    justice = catalogue.get("justice")
    assert justice is not None
    assert justice.hours_text() == {
        "fr": "mar. 14 h–16 h",
        "en": "Tue 14:00–16:00",
        "es": "mar. 14:00–16:00",
        "pt": "ter. 14h00–16h00",
        "ar": "الثلاثاء 14:00–16:00",
    }


def test_minimal_service_gets_defaults() -> None:
    service = parse_catalogue(GOOD).services[0]
    assert service.expected_call_s == 300
    assert service.description == {}
    assert service.name_in("de") == "Allocations"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[[service]]\nid = \n", "not valid TOML.*line 2"),
        (GOOD.replace('icon = "family"\n', ""), r"service\[0\] \(caf\)\.icon"),
        (GOOD.replace("expected_call_s = 300", "expected_call_s = -1"), "expected_call_s"),
        (GOOD.replace('fr = "Allocations", ', ""), r"name.*French"),
        (GOOD.replace('"always"', '["mon 9-10"]'), r"service\[0\] \(caf\)\.hours"),
        (GOOD.replace('id = "caf"', 'id = "bad id!"'), r"service\[0\]"),
        (GOOD + GOOD, "duplicate id"),
        (GOOD.replace('icon = "family"', 'icon = "family"\ncolour = "red"'), r"\(caf\)\.colour"),
        ("", "service"),
    ],
)
def test_broken_catalogue_names_the_problem(text: str, needle: str) -> None:
    with pytest.raises(CatalogueError, match=needle):
        parse_catalogue(text, "test.toml")


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="cannot read"):
        load_catalogue(tmp_path / "nope.toml")


def test_recording_is_off_unless_a_service_declares_it_with_a_retention() -> None:
    assert all(s.recording is None for s in load_catalogue().services)
    assert parse_catalogue(GOOD).services[0].recording is None
    recorded = parse_catalogue(GOOD + "recording = { retention_days = 365 }\n").services[0]
    assert recorded.recording is not None and recorded.recording.retention_days == 365
    for bad, says in (
        ("recording = true", "retention_days"),
        ("recording = {}", "retention_days"),
        ("recording = { retention_days = 0 }", "greater than or equal to 1"),
        ('recording = { retention_days = 30, where = "nas" }', "where"),
    ):
        with pytest.raises(CatalogueError) as caught:
            parse_catalogue(GOOD + bad + "\n")
        message = str(caught.value)
        assert message.startswith("<catalogue>: service[0] (caf).recording"), message
        assert says in message, message

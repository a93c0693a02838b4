"""Hypothesis over the booth configuration a signed bundle carries (provisioning/schema.py).

Two properties:

- whatever an admin sets (random keys and values), the server's check either accepts
  it or names each bad key (``ConfigInvalid``), never another exception;
- whatever config the server accepts and signs, the booth turns into its runtime
  settings and opening hours without an error: a config the server signed must never
  be one the booth cannot run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fixtures.fuzz import examples
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from kiosk.config import load_settings
from kiosk.fleet import settings_from_config
from kiosk.opening_hours import BoothHours
from provisioning.layers import ConfigInvalid, validate
from provisioning.schema import BoothConfig, PeripheralRole

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda kids: (
        st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=10), kids, max_size=3)
    ),
    max_leaves=6,
)
FIELDS = list(BoothConfig.model_fields)


@settings(max_examples=examples(100), deadline=None)
@given(st.dictionaries(st.sampled_from([*FIELDS, "nope"]), json_values, max_size=8))
def test_any_admin_values_are_accepted_or_each_bad_key_named(values: dict[str, Any]) -> None:
    values.setdefault("switchboard_url", "https://guichet.example.fr")
    try:
        validate(values)
    except ConfigInvalid as exc:
        assert exc.errors and all(e.key and e.message for e in exc.errors)


clock = st.one_of(
    st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59)),
    st.just("24:00"),
)
day_ranges = st.lists(
    st.tuples(clock, clock)
    .filter(lambda r: r[0] != r[1])
    .map(lambda r: {"start": min(r), "end": max(r)}),
    max_size=4,
)
# Plain choices rather than from_regex: generation stays fast (a few ms an example).
languages = st.sampled_from(["fr", "en", "ar", "es", "pt", "oc", "fr-FR", "pt-BR", "gcf", "x"])
peripheral = st.fixed_dictionaries(
    {},
    optional={
        "usb": st.sampled_from(["0416:5011", "0403:6001", "04b8:0e28", "0416"]),
        "path": st.sampled_from(["/dev/ttyUSB0", "/dev/guichet/card_reader", "/etc/passwd"]),
        "tcp": st.sampled_from(["10.0.0.5:9100", "printer.local:9100", "host:123456"]),
        "queue": st.sampled_from(["PDF", "A4_accueil", "bad queue"]),
        "reader": st.text(min_size=1, max_size=20),
    },
)


@st.composite
def signed_configs(draw: st.DrawFn) -> dict[str, Any]:
    """Configs shaped like the schema, valid or nearly (the test keeps the valid ones)."""
    langs = draw(st.lists(languages, min_size=1, max_size=4, unique=True))
    config: dict[str, Any] = {
        "switchboard_url": draw(st.sampled_from(["https://g.example.fr", "http://127.0.0.1:8700"])),
        "languages": langs,
        "default_language": draw(st.sampled_from(langs)),
    }
    optional: dict[str, st.SearchStrategy[Any]] = {
        "services": st.lists(
            st.sampled_from(["caf", "impots", "ants", "cpam", "a.b:c-d_e", "bad id"]),
            max_size=5,
            unique=True,
        ),
        "branding": st.fixed_dictionaries(
            {},
            optional={
                "name": st.text(min_size=1, max_size=80),
                "primary_colour": st.sampled_from(["#000091", "#E1000F", "#12345", "red"]),
            },
        ),
        "idle": st.fixed_dictionaries(
            {},
            optional={
                "warning_s": st.floats(0.001, 3600),
                "reset_s": st.floats(0.001, 600),
                "goodbye_s": st.floats(0.001, 120),
            },
        ),
        "volume": st.integers(0, 100),
        "opening_hours": st.none()
        | st.dictionaries(st.sampled_from(["mon", "tue", "sat", "sun"]), day_ranges),
        "timezone": st.sampled_from(["Europe/Paris", "UTC", "America/Cayenne", "Pacific/Noumea"]),
        "heartbeat_interval_s": st.floats(5, 3600),
        "technician_pin_hash": st.builds(
            "scrypt${}${}".format,
            st.text("ABCabc0123+/=", min_size=1, max_size=12),
            st.text("ABCabc0123+/=", min_size=1, max_size=24),
        ),
        "log_level": st.sampled_from(["debug", "info", "warning", "error"]),
        "peripherals": st.dictionaries(
            st.sampled_from([r.value for r in PeripheralRole]), peripheral
        ),
    }
    for key in draw(st.sets(st.sampled_from(list(optional)))):
        config[key] = draw(optional[key])
    return config


@settings(
    max_examples=examples(100),
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
@given(signed_configs(), st.datetimes(timezones=st.just(UTC)))
def test_every_config_the_server_signs_runs_on_the_booth(
    values: dict[str, Any], now: datetime
) -> None:
    try:
        config = validate(values)
    except ConfigInvalid:
        assume(False)
        raise
    local = load_settings(None)
    booth = settings_from_config(local, config)
    hours = BoothHours.from_settings(
        None
        if booth.opening_hours is None
        else {day: [list(r) for r in ranges] for day, ranges in booth.opening_hours.items()},
        booth.timezone,
    )
    opens = hours.next_opening(now)
    if hours.is_open(now):
        assert opens is None or opens >= now
    else:
        assert opens is None or now < opens <= now + timedelta(days=8)
    assert BoothConfig.model_validate(config.model_dump(mode="json")) == config  # round trip


# Regression tests for what the fuzzing found: the server signed these, the booth
# then refused the whole bundle (a booth that cannot take its own config).


def test_a_pin_hash_whose_parts_are_not_base64_is_refused_by_the_server() -> None:
    base = {"switchboard_url": "https://g.example.fr"}
    with pytest.raises(ConfigInvalid, match="technician_pin_hash"):
        validate({**base, "technician_pin_hash": "scrypt$0000$00000"})
    good = validate({**base, "technician_pin_hash": "scrypt$AAAA$AAAAAAAA"})
    assert settings_from_config(load_settings(None), good).technician_pin_hash


@pytest.mark.parametrize(
    ("role", "peripheral"),
    [
        ("receipt_printer", {"queue": "PDF"}),
        ("a4_printer", {"path": "/dev/usb/lp0"}),
        ("a4_printer", {"usb": "04f9:0042"}),  # the booth prints to a CUPS queue
        ("card_reader", {"tcp": "10.0.0.5:9100"}),
        ("scanner", {"path": "/dev/ttyUSB0"}),
        ("smart_card", {"queue": "PDF"}),
    ],
)
def test_a_peripheral_the_booth_cannot_find_by_those_fields_is_refused(
    role: str, peripheral: dict[str, str]
) -> None:
    with pytest.raises(ConfigInvalid, match=f"peripherals.{role}"):
        validate({"switchboard_url": "https://g.example.fr", "peripherals": {role: peripheral}})

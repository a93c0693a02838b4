"""Hypothesis over the TOML files people write: the booth's ``booth.toml``, the server's
settings and the service catalogue (with its opening-hours rules).

Each is fuzzed from the real shipped file, damaged at random (bytes cut, inserted,
replaced; tables turned into values; arrays nested thousands deep), and from TOML
built from random values. Whatever comes in, each loader either returns settings or
raises its documented error with a message: ``ValueError`` (``ConfigFileError`` or a
validation error) for the booth, ``SettingsError`` for the server, ``CatalogueError``
for the catalogue. Never a ``TypeError``, ``KeyError`` or ``RecursionError``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from fixtures.fuzz import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk import cli as booth_cli
from kiosk.config import ConfigFileError, load_settings
from switchboard.catalogue import (
    CatalogueError,
    default_catalogue_path,
    load_catalogue,
    parse_catalogue,
)
from switchboard.hours import HoursError, parse_hours
from switchboard.settings import SettingsError
from switchboard.settings import load_settings as load_server_settings

ROOT = Path(__file__).resolve().parent.parent
BOOTH_EXAMPLE = (ROOT / "provisioning" / "os" / "booth.toml.example").read_text(encoding="utf-8")
CATALOGUE = default_catalogue_path().read_text(encoding="utf-8")
SERVER_EXAMPLE = """\
[server]
host = "127.0.0.1"
port = 8700
demo = true
"""
FUZZ = settings(
    max_examples=examples(150),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@st.composite
def damaged(draw: st.DrawFn, text: str) -> bytes:
    """``text`` with a few random edits: what a bad copy-paste or a bad disk gives."""
    data = bytearray(text.encode("utf-8"))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        edit = draw(st.sampled_from(["cut", "insert", "replace", "nest", "retable"]))
        if edit == "cut":
            del data[at : at + draw(st.integers(1, 40))]
        elif edit == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=20))
        elif edit == "replace" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif edit == "nest":
            depth = draw(st.integers(1, 5_000))
            data[at:at] = b"\nx = " + b"[" * depth + b"]" * depth + b"\n"
        elif edit == "retable":
            table = draw(st.sampled_from([b"booth", b"server", b"devices", b"service"]))
            data[at:at] = b"\n" + table + b" = " + draw(st.sampled_from([b"1", b'"x"', b"[]"]))
            data[at:at] = b"\n"
    return bytes(data)


toml_scalars = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
toml_values = st.recursive(
    toml_scalars,
    lambda kids: (
        st.lists(kids, max_size=3)
        | st.dictionaries(st.from_regex(r"[a-z_]{1,12}", fullmatch=True), kids, max_size=3)
    ),
    max_leaves=10,
)


def _toml_value(value: object) -> str:
    """A TOML literal for ``value`` (inline tables and arrays, JSON-style strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"


def random_table(keys: list[str]) -> st.SearchStrategy[str]:
    """A TOML document whose keys are real setting names with random values."""
    return st.dictionaries(st.sampled_from(keys), toml_values, max_size=6).map(
        lambda table: "".join(f"{k} = {_toml_value(v)}\n" for k, v in table.items())
    )


BOOTH_KEYS = [
    "server_url",
    "data_dir",
    "ca_file",
    "site",
    "camera",
    "languages",
    "default_language",
    "fullscreen",
    "width",
    "height",
    "opening_hours",
    "timezone",
    "devices",
    "booth",
    "token",
    "volume",
]


def _load_booth(path: Path, raw: bytes) -> None:
    path.write_bytes(raw)
    try:
        load_settings(path)
    except ValueError as exc:  # ConfigFileError, TOMLDecodeError, ValidationError
        assert str(exc).strip()


@FUZZ
@given(st.one_of(damaged(BOOTH_EXAMPLE), random_table(BOOTH_KEYS).map(str.encode)))
def test_booth_toml_gives_settings_or_a_value_error(tmp_path: Path, raw: bytes) -> None:
    _load_booth(tmp_path / "booth.toml", raw)


@FUZZ
@given(damaged(SERVER_EXAMPLE))
def test_server_settings_give_settings_or_a_settings_error(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "server.toml"
    path.write_bytes(raw)
    try:
        load_server_settings(path, data_dir=tmp_path / "data")
    except SettingsError as exc:
        assert str(exc).strip()


@FUZZ
@given(damaged(CATALOGUE))
def test_catalogue_gives_services_or_a_catalogue_error(raw: bytes) -> None:
    try:
        catalogue = parse_catalogue(raw.decode("utf-8", errors="replace"))
    except CatalogueError as exc:
        assert str(exc).strip()
    else:
        assert len({s.id for s in catalogue.services}) == len(catalogue.services)


hours_rules = st.one_of(
    st.text(max_size=60),
    st.from_regex(
        r"(mon|tue|wed|thu|fri|sat|sun|xyz)(-(mon|fri|sun))?"
        r" [0-9]{1,2}:[0-9]{2}-[0-9]{1,2}:[0-9]{2}",
        fullmatch=True,
    ),
    st.sampled_from(["always", "never", "", "mon-fri", "24:00-25:00"]),
)


@settings(max_examples=examples(300), deadline=None)
@given(st.one_of(hours_rules, st.lists(hours_rules | toml_values, max_size=4)))
def test_opening_hours_rules_parse_or_say_why(spec: object) -> None:
    try:
        parse_hours(spec)  # type: ignore[arg-type]
    except HoursError as exc:
        assert str(exc).strip()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("x = " + "[" * 5000 + "]" * 5000, "nested too deeply"),
        ("booth = 1\n", "must be a table"),
        ('[booth]\nserver_url = "http://a"\n\x00', "not valid TOML"),
    ],
)
def test_a_booth_toml_the_booth_cannot_use_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, words: str
) -> None:
    """Found by the fuzzing: these raised RecursionError or TypeError (a traceback at
    start). Now ``guichet booth`` says what is wrong in one line and exits 2."""
    path = tmp_path / "booth.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigFileError, match=words):
        load_settings(path)
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    booth_cli.add_parser(sub)
    args = parser.parse_args(["booth", "--config", str(path)])
    assert booth_cli.run(args) == 2
    assert words in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "words"),
    [("x = " + "[" * 5000 + "]" * 5000, "nested too deeply"), ("server = 1\n", "must be a table")],
)
def test_server_settings_nested_or_not_a_table_are_settings_errors(
    tmp_path: Path, text: str, words: str
) -> None:
    path = tmp_path / "server.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError, match=words):
        load_server_settings(path)


def test_catalogue_nested_too_deep_or_not_utf8_is_a_catalogue_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="nested too deeply"):
        parse_catalogue("x = " + "[" * 5000 + "]" * 5000)
    path = tmp_path / "services.toml"
    path.write_bytes(b'[[service]]\nid = "caf"\nname = { fr = "\xe9" }\n')
    with pytest.raises(CatalogueError, match="not UTF-8"):
        load_catalogue(path)

"""The enrolment QR code's text: what the admin console builds is what the booth reads,
and nothing else a reader may hand over is taken for an enrolment."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provisioning.enrol_uri import EnrolTicket, build, normalize_code, parse

CODE = "ABCD-EFGH-JKMN-PQRS"
CODE_CHARS = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def test_the_admin_consoles_qr_text_reads_back_as_server_site_and_code() -> None:
    text = build("https://guichet.example.fr/", "florac", CODE)
    assert text == (
        "guichet-enrol:?server=https%3A%2F%2Fguichet.example.fr&site=florac&code=ABCDEFGHJKMNPQRS"
    )
    assert parse(text) == EnrolTicket("ABCDEFGHJKMNPQRS", "florac", "https://guichet.example.fr")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (CODE, EnrolTicket("ABCDEFGHJKMNPQRS")),
        ("abcd efgh jkmn pqrs\r\n", EnrolTicket("ABCDEFGHJKMNPQRS")),
        (
            "GUICHET-ENROL:?server=http://127.0.0.1:8080/&site=st-jean-2&code=abcd-efgh-jkmn-pqrs",
            EnrolTicket("ABCDEFGHJKMNPQRS", "st-jean-2", "http://127.0.0.1:8080"),
        ),
        ("ABCD-EFGH-JKMN-PQR0", None),  # 0 is not in the alphabet
        ("ABCD-EFGH-JKMN-PQ", None),
        ("3700123456789", None),
        ("https://example.org/?a=1", None),
        ("", None),
        # The old booth-only format is gone: one format, the admin console's.
        ("GUICHET-ENROL:florac:ABCD-EFGH-JKMN-PQRS", None),
        ("guichet-enrol:?site=florac&code=ABCDEFGHJKMNPQRS", None),  # no server
        ("guichet-enrol:?server=ftp://x&site=florac&code=ABCDEFGHJKMNPQRS", None),
        ("guichet-enrol:?server=https://x&site=Florac&code=ABCDEFGHJKMNPQRS", None),
        ("guichet-enrol:?server=https://x&site=florac&code=ABCDEFGHJKMNPQRS&x=1", None),
        (
            "guichet-enrol:?server=https://x&server=https://y&site=florac&code=ABCDEFGHJKMNPQRS",
            None,
        ),
        ("guichet-enrol:?server=https://x:99999&site=florac&code=ABCDEFGHJKMNPQRS", None),
        ("guichet-enrol:?server=https://u:p@x&site=florac&code=ABCDEFGHJKMNPQRS", None),
    ],
)
def test_scanned_text(text: str, expected: EnrolTicket | None) -> None:
    assert parse(text) == expected


def test_build_refuses_what_parse_would_refuse() -> None:
    for server, site, code in [
        ("guichet.example.fr", "florac", CODE),
        ("https://guichet.example.fr", "Florac", CODE),
        ("https://guichet.example.fr", "florac", "ABCD"),
    ]:
        with pytest.raises(ValueError, match="not an enrolment"):
            build(server, site, code)


@given(st.text(max_size=600))
def test_garbage_is_never_an_error(text: str) -> None:
    ticket = parse(text)
    if ticket is not None:
        assert normalize_code(ticket.code) == ticket.code


@given(st.binary(max_size=300))
def test_garbage_bytes_from_a_reader_are_never_an_error(raw: bytes) -> None:
    parse(raw.decode("utf-8", errors="replace"))
    parse("guichet-enrol:?" + raw.decode("latin-1"))


@given(
    host=st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z]{2,6}){0,2}", fullmatch=True),
    port=st.none() | st.integers(1, 65535),
    https=st.booleans(),
    site=st.from_regex(r"[a-z0-9][a-z0-9-]{0,39}", fullmatch=True),
    code=st.text(alphabet=CODE_CHARS, min_size=16, max_size=16),
)
def test_what_is_built_parses_back(
    host: str, port: int | None, https: bool, site: str, code: str
) -> None:
    server = ("https" if https else "http") + "://" + host + (f":{port}" if port else "")
    assert parse(build(server + "/", site, code)) == EnrolTicket(code, site, server)

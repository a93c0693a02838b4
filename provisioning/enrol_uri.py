"""What an enrolment QR code says: one format, built by the server, read by the booth.

::

    guichet-enrol:?server=<server URL>&site=<site>&code=<code>

The admin console draws it (:mod:`provisioning.qr`); the booth's setup screen reads
it with its camera or barcode reader and also takes a bare code (typed, or a barcode
of the code alone). Pure: no I/O, and :func:`parse` never raises on what a reader
hands it, it answers None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

from provisioning.messages import ENROLMENT_CODE_CHARS

SCHEME = "guichet-enrol"
MAX_TEXT = 512
"""Longer text is not an enrolment code (a reader may hand over anything)."""
_CODE_CHARS = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_SEPARATORS = re.compile(r"[\s-]")
_SITE = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")


@dataclass(frozen=True)
class EnrolTicket:
    """An enrolment code with, from a QR code, the server and the site it is for."""

    code: str
    """The 16 code characters, upper case, without separators."""
    site: str | None = None
    server_url: str | None = None
    """``http(s)://host[:port][/path]`` without a trailing slash."""


def normalize_code(text: str) -> str | None:
    """The 16 code characters of ``text`` (case, spaces and dashes ignored), else None."""
    code = _SEPARATORS.sub("", text).upper()
    if len(code) != ENROLMENT_CODE_CHARS or any(c not in _CODE_CHARS for c in code):
        return None
    return code


def normalize_server(url: str) -> str | None:
    """``url`` without its trailing slash if it is an http(s) address with a host, else None."""
    url = url.strip().rstrip("/")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.query or parts.fragment or parts.username or parts.password:
        return None
    if any(c.isspace() or not c.isprintable() for c in url):
        return None
    return url


def build(server_url: str, site: str, code: str) -> str:
    """The text of the enrolment QR code for this server, site and code."""
    server = normalize_server(server_url)
    normalized = normalize_code(code)
    if server is None or normalized is None or not _SITE.fullmatch(site):
        raise ValueError("not an enrolment: server URL, site or code is malformed")
    return f"{SCHEME}:?" + urlencode({"server": server, "site": site, "code": normalized})


def parse(text: str) -> EnrolTicket | None:
    """The enrolment in a QR code or a typed/scanned bare code; None for anything else."""
    text = text.strip()
    if not text or len(text) > MAX_TEXT:
        return None
    scheme, colon, rest = text.partition(":")
    if not colon or scheme.lower() != SCHEME:
        code = normalize_code(text)
        return EnrolTicket(code) if code is not None else None
    if not rest.startswith("?"):
        return None
    try:
        fields = parse_qs(rest[1:], keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return None
    if set(fields) != {"server", "site", "code"} or any(len(v) != 1 for v in fields.values()):
        return None
    code = normalize_code(fields["code"][0])
    server = normalize_server(fields["server"][0])
    site = fields["site"][0]
    if code is None or server is None or not _SITE.fullmatch(site):
        return None
    return EnrolTicket(code, site, server)

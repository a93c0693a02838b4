"""Enrolment codes as QR codes: what the QR says and its SVG, drawn on the server.

The QR carries a URI the booth's setup screen reads with its camera::

    guichet-enrol:?server=<server URL>&site=<site>&code=<code>

so the technician types nothing. The SVG is drawn by segno (pure Python), never
by a browser library or an outside service.
"""

from __future__ import annotations

from urllib.parse import urlencode

import segno

SCHEME = "guichet-enrol"


def enrolment_uri(server_url: str, site: str, code: str) -> str:
    """The text of an enrolment QR code."""
    return f"{SCHEME}:?" + urlencode({"server": server_url.rstrip("/"), "site": site, "code": code})


def qr_svg(text: str, title: str = "") -> str:
    """An inline ``<svg>`` of ``text`` (error correction M, 4 px modules, quiet zone 4)."""
    qr = segno.make(text, error="m", micro=False)
    svg: str = qr.svg_inline(
        scale=4, border=4, dark="#161616", light="#ffffff", title=title or None
    )
    return svg

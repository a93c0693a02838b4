"""Enrolment codes as QR codes, drawn on the server.

The QR carries the text of :func:`provisioning.enrol_uri.build` (server, site and
code), which the booth's setup screen reads with its camera, so the technician types
nothing. The SVG is drawn by segno (pure Python), never by a browser library or an
outside service.
"""

from __future__ import annotations

import segno


def qr_svg(text: str, title: str = "") -> str:
    """An inline ``<svg>`` of ``text`` (error correction M, 4 px modules, quiet zone 4)."""
    qr = segno.make(text, error="m", micro=False)
    svg: str = qr.svg_inline(
        scale=4, border=4, dark="#161616", light="#ffffff", title=title or None
    )
    return svg

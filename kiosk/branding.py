"""The operator's logo from the signed configuration, checked before the booth shows it.

The configuration carries it as base64 PNG. The booth decodes it, checks the size,
the PNG signature and, with Pillow, that it is a whole PNG of sensible dimensions;
anything else is ignored with a log line (the header keeps the default flag).
"""

from __future__ import annotations

import base64
import binascii
import io
import logging

from PIL import Image, UnidentifiedImageError

logger = logging.getLogger(__name__)

MAX_LOGO_BYTES = 64 * 1024
MAX_LOGO_SIDE = 1024
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def load_logo(encoded: str | None) -> bytes | None:
    """The logo's PNG bytes if ``encoded`` is a valid, small PNG; None otherwise."""
    if not encoded:
        return None
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        logger.warning("branding logo ignored: not base64")
        return None
    if len(data) > MAX_LOGO_BYTES:
        logger.warning("branding logo ignored: %d bytes (max %d)", len(data), MAX_LOGO_BYTES)
        return None
    if not data.startswith(PNG_SIGNATURE):
        logger.warning("branding logo ignored: not a PNG")
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            size = image.size
            kind = image.format
            image.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # verify() does not decode the pixels: a truncated file fails here
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        logger.warning("branding logo ignored: unreadable PNG (%s)", exc)
        return None
    width, height = size
    if kind != "PNG" or not (1 <= width <= MAX_LOGO_SIDE and 1 <= height <= MAX_LOGO_SIDE):
        logger.warning(
            "branding logo ignored: %s %dx%d (max %d px a side)", kind, width, height, MAX_LOGO_SIDE
        )
        return None
    return data

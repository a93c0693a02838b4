"""Short-lived TURN credentials: coturn's REST shared-secret scheme (``use-auth-secret``).

coturn and the switchboard share one secret.  For each call and each side the
switchboard makes a username ``<expiry unix time>:<name>`` and a password
``base64(HMAC-SHA1(secret, username))``; coturn recomputes the password from the
username and refuses it once the expiry has passed.  Nothing is stored, nothing
goes over the network but the credentials themselves, and a credential that leaks
is worth ``ttl_s`` seconds.

The credential functions are pure; :func:`read_secret_file` is the only I/O.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from pathlib import Path

from guichet import secrets
from guichet.wire import IceServer

MIN_SECRET_BYTES = 16
"""A shorter shared secret could be guessed from captured credentials."""


class TurnSecretError(ValueError):
    """The shared-secret file cannot be used (missing, empty, short, readable by others)."""


def rest_password(secret: bytes, username: str) -> str:
    """The coturn REST password for ``username``: base64(HMAC-SHA1(secret, username))."""
    digest = hmac.new(secret, username.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def rest_credentials(secret: bytes, name: str, expires_at: int) -> tuple[str, str]:
    """``(username, password)`` valid until unix time ``expires_at`` for ``name``."""
    if ":" in name:
        # coturn takes the part before the first colon as the expiry.
        raise ValueError("a TURN credential name cannot contain ':'")
    username = f"{int(expires_at)}:{name}"
    return username, rest_password(secret, username)


@dataclass(frozen=True)
class TurnConfig:
    """TURN servers sharing one REST secret, and how long credentials live."""

    urls: tuple[str, ...]
    secret: bytes = field(repr=False)
    ttl_s: int

    def ice_server(self, name: str, now: float) -> IceServer:
        """One ``IceServer`` carrying fresh credentials for ``name``, valid ``ttl_s`` from now."""
        username, password = rest_credentials(self.secret, name, int(now) + self.ttl_s)
        return IceServer(urls=list(self.urls), username=username, credential=password)


def read_secret_file(path: Path) -> bytes:
    """The shared secret from ``path`` (surrounding whitespace dropped).

    Refused unless the file is readable by its owner only: anyone who reads the
    secret can mint TURN credentials.
    """
    # One helper for every secret file of the server (0600, length, demo values).
    try:
        return secrets.read_secret_file(path, min_bytes=MIN_SECRET_BYTES, what="TURN secret file")
    except secrets.SecretFileError as exc:
        raise TurnSecretError(str(exc)) from exc

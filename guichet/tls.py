"""The booth's side of TLS: the CA file in its config is its only trust anchor.

``requests`` gets ``verify=<ca_file>`` and ``websockets`` an :class:`ssl.SSLContext`
that loads that file alone (never the system store), so a certificate from any
other authority, public ones included, is refused. Plain ``http://``/``ws://`` is
for the demo and tests, and only when the booth's config says so.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import requests

UNTRUSTED_CERTIFICATE = "connexion refusée : certificat du serveur non reconnu"
"""What the booth shows and logs when the server's certificate is not from its CA."""


class InsecureServerUrl(ValueError):
    """A server URL the booth must not use (plain HTTP outside demo, HTTPS without a CA)."""


def check_server_url(url: str, *, ca_file: Path | None, allow_plain: bool) -> None:
    """Refuse ``url`` unless it is HTTPS/WSS with a CA file, or plain and ``allow_plain``."""
    if url.startswith(("https://", "wss://")):
        if ca_file is None:
            raise InsecureServerUrl(f"{url}: ca_file is needed to trust the server")
        return
    if url.startswith(("http://", "ws://")):
        if not allow_plain:
            raise InsecureServerUrl(
                f"{url}: plain HTTP is for the demo only; use https:// and ca_file"
            )
        return
    raise InsecureServerUrl(f"{url}: not an http(s):// or ws(s):// URL")


def client_ssl_context(ca_file: Path) -> ssl.SSLContext:
    """A TLS client context trusting only the certificates in ``ca_file`` (PEM)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies chain and host name
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_verify_locations(cafile=str(ca_file))
    return context


def http_session(ca_file: Path | None) -> requests.Session:
    """A ``requests`` session that trusts only ``ca_file`` (``None``: plain HTTP use only)."""
    session = requests.Session()
    # Never the environment's REQUESTS_CA_BUNDLE or proxies: the config decides.
    session.trust_env = False
    if ca_file is not None:
        session.verify = str(ca_file)
    return session


def is_untrusted_certificate(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is a refused server certificate."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return True
        if isinstance(current, requests.exceptions.SSLError) and "CERTIFICATE_VERIFY" in str(
            current
        ):
            return True
        current = current.__cause__ or current.__context__
    return False

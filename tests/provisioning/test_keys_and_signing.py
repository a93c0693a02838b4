"""Key files and the signed-request primitives, without a server."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from provisioning.keys import KeyFileError, load_or_create_private_key, public_b64
from provisioning.signing import (
    HEADER_SIGNATURE,
    NonceCache,
    SignatureError,
    parse_headers,
    sign_request,
    verify_request,
)


def test_key_is_created_once_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "server.key"
    first = load_or_create_private_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "keys").stat().st_mode & 0o777 == 0o700
    again = load_or_create_private_key(path)
    assert public_b64(again.public_key()) == public_b64(first.public_key())


def test_key_readable_by_others_or_not_a_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "server.key"
    load_or_create_private_key(path)
    path.chmod(0o644)
    with pytest.raises(KeyFileError, match="600"):
        load_or_create_private_key(path)
    path.write_text("not a key")
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match="PEM"):
        load_or_create_private_key(path)


def test_signed_headers_round_trip_and_bind_every_part() -> None:
    key = Ed25519PrivateKey.generate()
    headers = sign_request(key, "florac-1", "POST", "/a?b=1", b"body", timestamp=1700000000)
    booth, stamp, nonce, sig = parse_headers({k.lower(): v for k, v in headers.items()})
    assert (booth, stamp) == ("florac-1", 1700000000)
    public = key.public_key()
    assert verify_request(public, "post", "/a?b=1", booth, stamp, nonce, b"body", sig)
    assert not verify_request(public, "POST", "/a?b=2", booth, stamp, nonce, b"body", sig)
    assert not verify_request(public, "POST", "/a?b=1", "florac-2", stamp, nonce, b"body", sig)
    assert not verify_request(public, "POST", "/a?b=1", booth, stamp + 1, nonce, b"body", sig)
    assert not verify_request(public, "POST", "/a?b=1", booth, stamp, nonce, b"bodY", sig)


@pytest.mark.parametrize(
    "change",
    [
        {"X-Guichet-Booth": "bad id!"},
        {"X-Guichet-Timestamp": "-5"},
        {"X-Guichet-Nonce": "short"},
        {HEADER_SIGNATURE: "AAAA"},
    ],
)
def test_malformed_headers_are_refused(change: dict[str, str]) -> None:
    headers = sign_request(Ed25519PrivateKey.generate(), "florac-1", "GET", "/")
    with pytest.raises(SignatureError):
        parse_headers({**headers, **change})


def test_nonce_cache_refuses_reuse_and_forgets_after_the_window() -> None:
    now = [1000.0]
    cache = NonceCache(window_s=10, limit=3, clock=lambda: now[0])
    assert cache.first_use("b", "n1")
    assert not cache.first_use("b", "n1")
    assert cache.first_use("other-booth", "n1")
    now[0] += 21
    assert cache.first_use("b", "n1")  # outside twice the window: the timestamp check refuses it
    for i in range(5):
        assert cache.first_use("b", f"x{i}")  # bounded: the oldest go first


_HEADER_NAMES = st.sampled_from(
    ["X-Guichet-Booth", "X-Guichet-Timestamp", "X-Guichet-Nonce", HEADER_SIGNATURE, "Other"]
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_HEADER_NAMES, st.text(max_size=100)))
def test_garbage_headers_raise_only_signature_error(headers: dict[str, str]) -> None:
    try:
        booth, stamp, nonce, sig = parse_headers(headers)
    except SignatureError:
        return
    assert len(sig) == 64 and stamp >= 0 and len(nonce) == 22 and booth


def test_server_refuses_to_start_with_a_signing_key_others_can_read(tmp_path: Path) -> None:
    from fixtures.server import start_switchboard

    from provisioning.server import SIGNING_KEY_FILE

    data = tmp_path / "switchboard-data"
    load_or_create_private_key(data / SIGNING_KEY_FILE)
    (data / SIGNING_KEY_FILE).chmod(0o640)
    with pytest.raises(RuntimeError, match="must be 600"):
        start_switchboard(tmp_path, booths=())

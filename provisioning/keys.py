"""Ed25519 keys: raw-base64 encoding, key ids and private key files kept 0600."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)


class KeyFileError(ValueError):
    """A key that cannot be read or is not stored safely."""


def public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def public_b64(key: Ed25519PublicKey) -> str:
    """The 32 raw public key bytes in standard base64 (how keys travel in JSON)."""
    return base64.b64encode(public_bytes(key)).decode("ascii")


def public_from_b64(text: str) -> Ed25519PublicKey:
    """Parse a base64 raw Ed25519 public key; :class:`KeyFileError` if it is not one."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyFileError("public key is not base64") from exc
    if len(raw) != 32:
        raise KeyFileError("an Ed25519 public key is 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def key_id(key: Ed25519PublicKey) -> str:
    """A short fingerprint of a public key (first 16 hex of its SHA-256)."""
    return hashlib.sha256(public_bytes(key)).hexdigest()[:16]


def write_private_key(path: Path, key: Ed25519PrivateKey) -> None:
    """Write ``key`` as PEM to a new file created 0600 (never overwrites an existing key)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
        fh.flush()
        os.fsync(fh.fileno())


def read_private_key(path: Path) -> Ed25519PrivateKey:
    """Read a PEM Ed25519 key; refuse a file that other users can read."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyFileError(f"private key {path} has mode {mode:o}; it must be 600")
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except ValueError as exc:
        raise KeyFileError(f"{path} is not a PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} is not an Ed25519 key")
    return key


def load_or_create_private_key(path: Path) -> Ed25519PrivateKey:
    """The key in ``path``, generated there (0600) on first use."""
    try:
        return read_private_key(path)
    except FileNotFoundError:
        pass
    key = Ed25519PrivateKey.generate()
    try:
        write_private_key(path, key)
    except FileExistsError:
        # Another process created it between our read and write: use theirs.
        return read_private_key(path)
    return key

"""Secret files on disk: owner-only (0600) or refused, and their content never logged.

Every secret the central server reads from a file goes through :func:`read_secret_file`
(or :func:`check_private_file` for files another library opens itself, such as the
TLS key uvicorn loads): one place decides what "kept safely" means.
"""

from __future__ import annotations

import stat
from pathlib import Path

KNOWN_DEMO_SECRETS = frozenset({b"changeme", b"secret", b"demo", b"guichet", b"password"})
"""Values seen in examples and demos: refused outside the demo whatever their length."""


class SecretFileError(ValueError):
    """A secret file that is missing, unreadable, readable by others, short or a demo value.

    The message names the file and the problem, never the content."""


def check_private_file(path: Path, what: str) -> None:
    """Refuse ``path`` unless it exists and only its owner may read or write it."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as exc:
        raise SecretFileError(f"{what} {path}: cannot read it: it does not exist") from exc
    except OSError as exc:
        raise SecretFileError(f"{what} {path}: cannot read it: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(mode):
        raise SecretFileError(f"{what} {path} is not a regular file")
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretFileError(
            f"{what} {path} is readable or writable by others"
            f" (mode {stat.S_IMODE(mode):o}); chmod 600 it"
        )


def read_secret_file(path: Path, *, min_bytes: int, what: str = "secret file") -> bytes:
    """The secret in ``path`` (surrounding whitespace dropped), checked before use.

    Refused (:class:`SecretFileError`) when the file is missing, group/world
    accessible, shorter than ``min_bytes`` or a known demo value.
    """
    check_private_file(path, what)
    try:
        secret = path.read_bytes().strip()
    except OSError as exc:
        raise SecretFileError(f"{what} {path}: cannot read it: {exc.strerror or exc}") from exc
    if secret.lower() in KNOWN_DEMO_SECRETS:
        raise SecretFileError(f"{what} {path} holds a known demo value; generate a real one")
    if len(secret) < min_bytes:
        raise SecretFileError(
            f"{what} {path} holds fewer than {min_bytes} bytes;"
            " generate one with: openssl rand -hex 32"
        )
    return secret

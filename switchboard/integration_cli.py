"""``guichet integration-key create|list|revoke``: the integrators' API keys."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from switchboard import integration
from switchboard.auth import AuthError


def _scopes(text: str) -> list[integration.Scope]:
    try:
        return [integration.Scope(part.strip()) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        known = ", ".join(s.value for s in integration.Scope)
        raise argparse.ArgumentTypeError(f"scopes are among: {known}") from exc


def cmd_create(args: argparse.Namespace) -> int:
    from guichet.cli import _database

    try:
        key, token = integration.create_key(_database(args), args.name, args.scopes)
    except AuthError as exc:
        print(f"guichet integration-key create: {exc}", file=sys.stderr)
        return 2
    scopes = ",".join(s.value for s in key.scopes)
    print(f"key {key.name} ({scopes}); token (shown once, keep it secret):", file=sys.stderr)
    print(token)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from guichet.cli import _database

    for key in integration.list_keys(_database(args)):
        state = "revoked" if key.revoked else "active"
        scopes = ",".join(s.value for s in key.scopes)
        print(f"{key.name}\t{scopes}\t{state}\t{key.created_at.isoformat()}")
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    from guichet.cli import _database

    if not integration.revoke_key(_database(args), args.name):
        print(f"guichet integration-key revoke: no key {args.name!r}", file=sys.stderr)
        return 1
    return 0


def add_parser(sub: Any) -> None:
    from guichet.cli import _common

    keys = sub.add_parser(
        "integration-key", help="manage the integrators' API keys (docs/integration.md)"
    ).add_subparsers(dest="integration_command", required=True)
    create = keys.add_parser("create", help="create a key (its token is printed once)")
    _common(create)
    create.add_argument("name")
    create.add_argument(
        "--scopes", type=_scopes, required=True, help="comma-separated: queues,stats,events"
    )
    create.set_defaults(func=cmd_create)
    listing = keys.add_parser("list", help="list keys")
    _common(listing)
    listing.set_defaults(func=cmd_list)
    revoke = keys.add_parser("revoke", help="revoke a key at once")
    _common(revoke)
    revoke.add_argument("name")
    revoke.set_defaults(func=cmd_revoke)

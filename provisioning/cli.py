"""``guichet`` subcommands for provisioning: enrolment codes, the fleet, enrolling a booth.

Central side (on the server, against its database): ``guichet enrol-code create``,
``guichet fleet list``, ``guichet fleet revoke``. Booth side: ``guichet enrol``.
(Revocation lives under ``fleet`` because ``guichet booth`` already runs the booth.)
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from guichet.cli import _common, _database

DEFAULT_STATE_DIR = Path("/var/lib/guichet-booth")


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


def cmd_code_create(args: argparse.Namespace) -> int:
    """Print a new one-time enrolment code for a site (only its hash is kept)."""
    from provisioning import service

    try:
        issued = service.create_code(_database(args), args.site, timedelta(hours=args.ttl_hours))
    except ValueError as exc:
        _err(f"guichet enrol-code create: {exc}")
        return 2
    _err(
        f"enrolment code for site {issued.site}, single use, valid until"
        f" {issued.expires_at.isoformat(timespec='minutes')}:"
    )
    _out(issued.code)
    return 0


def cmd_fleet_list(args: argparse.Namespace) -> int:
    """One line per enrolled booth: id, site, state, config version, last seen, key id
    (and the last bundle it refused, if any)."""
    from provisioning import service

    for booth in service.fleet(_database(args)):
        state = "revoked" if booth.revoked else "active"
        seen = booth.last_seen_at.isoformat(timespec="seconds") if booth.last_seen_at else "never"
        refused = booth.last_rejection
        _out(
            f"{booth.booth_id}\t{booth.site}\t{state}\tv{booth.bundle_version}\t{seen}"
            f"\t{booth.key_id}"
            + (f"\trefused v{refused.version or '?'} {refused.code}" if refused else "")
        )
    return 0


def cmd_fleet_revoke(args: argparse.Namespace) -> int:
    """Refuse every later request of a booth, at once."""
    from provisioning import service

    try:
        service.revoke(_database(args), args.booth_id)
    except service.UnknownBooth:
        _err(f"guichet fleet revoke: no enrolled booth {args.booth_id!r}")
        return 1
    _err(f"booth {args.booth_id} revoked")
    return 0


def cmd_enrol(args: argparse.Namespace) -> int:
    """On the booth: create its key and enrol it with the technician's code."""
    from provisioning.booth_client import AlreadyEnrolled, ProvisioningRefused, enrol

    try:
        identity = enrol(args.server, args.site, args.code, args.state_dir)
    except AlreadyEnrolled as exc:
        _err(f"guichet enrol: already enrolled ({exc}); wipe the folder first")
        return 1
    except ProvisioningRefused as exc:
        _err(f"guichet enrol: refused: {exc.reason} ({exc.code})")
        return 1
    except OSError as exc:
        _err(f"guichet enrol: cannot reach {args.server}: {exc}")
        return 1
    except ValueError as exc:  # an answer that is not the enrolment response
        _err(f"guichet enrol: unexpected answer from {args.server}: {exc}")
        return 1
    _out(identity.booth_id)
    return 0


def add_parser(sub: Any) -> None:
    """Register ``enrol-code``, ``fleet`` and ``enrol``."""
    codes = sub.add_parser("enrol-code", help="one-time booth enrolment codes").add_subparsers(
        dest="code_command", required=True
    )
    create = codes.add_parser("create", help="create a code for a site (printed once)")
    _common(create)
    create.add_argument("--site", required=True, help="site id (lower-case, digits, dashes)")
    create.add_argument("--ttl-hours", type=float, default=24.0, help="validity (default 24)")
    create.set_defaults(func=cmd_code_create)

    fleet = sub.add_parser("fleet", help="enrolled booths").add_subparsers(
        dest="fleet_command", required=True
    )
    listing = fleet.add_parser("list", help="list enrolled booths")
    _common(listing)
    listing.set_defaults(func=cmd_fleet_list)
    revoke = fleet.add_parser("revoke", help="revoke a booth at once")
    _common(revoke)
    revoke.add_argument("booth_id")
    revoke.set_defaults(func=cmd_fleet_revoke)

    booth = sub.add_parser("enrol", help="enrol this booth with a one-time code")
    booth.add_argument("--server", required=True, help="central server URL (https://...)")
    booth.add_argument("--site", required=True)
    booth.add_argument("--code", required=True, help="the code the admin gave")
    booth.add_argument(
        "--state-dir", type=Path, default=DEFAULT_STATE_DIR, help="booth key and config folder"
    )
    booth.set_defaults(func=cmd_enrol)

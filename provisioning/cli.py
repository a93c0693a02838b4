"""``guichet`` subcommands for provisioning: enrolment codes, the fleet, enrolling a booth.

Central side (on the server, against its database): ``guichet enrol-code create``,
``guichet fleet list``, ``guichet fleet revoke``, ``guichet staff add|list`` (admins and
technicians of the ``/admin/`` console), ``guichet config show|set``. Booth side:
``guichet enrol``. Changes made here are audited as ``cli:<system user>``.
(Revocation lives under ``fleet`` because ``guichet booth`` already runs the booth.)
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from guichet.cli import _common, _database, _read_password

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


def _cli_actor() -> Any:
    from provisioning.fleet import Actor

    return Actor(f"cli:{getpass.getuser()}", "admin")


def _signing_key(args: argparse.Namespace) -> Any:
    from provisioning.keys import load_or_create_private_key
    from provisioning.server import SIGNING_KEY_FILE
    from switchboard.settings import load_settings

    settings = load_settings(getattr(args, "config", None), data_dir=args.data_dir)
    return load_or_create_private_key(settings.data_dir / SIGNING_KEY_FILE)


def cmd_fleet_revoke(args: argparse.Namespace) -> int:
    """Refuse every later request of a booth, at once."""
    from provisioning import fleet

    try:
        fleet.revoke(_database(args), _cli_actor(), args.booth_id)
    except fleet.UnknownBooth:
        _err(f"guichet fleet revoke: no enrolled booth {args.booth_id!r}")
        return 1
    _err(f"booth {args.booth_id} revoked")
    return 0


def cmd_staff_add(args: argparse.Namespace) -> int:
    """Create or update an admin or technician account."""
    from switchboard import auth

    try:
        info = auth.add_staff(
            _database(args),
            args.username,
            _read_password(args),
            auth.StaffRole(args.role),
            args.display_name,
        )
    except auth.AuthError as exc:
        _err(f"guichet staff add: {exc}")
        return 2
    _out(f"{info.username}\t{info.role.value}\t{info.display_name}")
    return 0


def cmd_staff_list(args: argparse.Namespace) -> int:
    from switchboard import auth

    for info in auth.list_staff(_database(args)):
        _out(f"{info.username}\t{info.role.value}\t{info.display_name}")
    return 0


def cmd_config_show(args: argparse.Namespace) -> int:
    """A booth's resolved config, one ``key = value  [source]`` line per value."""
    from provisioning import fleet
    from provisioning.layers import flatten

    try:
        config, sources = fleet.resolved_config(_database(args), args.booth)
    except fleet.UnknownBooth:
        _err(f"guichet config show: no enrolled booth {args.booth!r}")
        return 1
    for key, value in sorted(flatten(config).items()):
        _out(f"{key} = {json.dumps(value, ensure_ascii=False)}\t[{sources.get(key, '?')}]")
    return 0


def _parse_value(text: str) -> Any:
    """JSON when it parses (``80``, ``true``, ``["fr","en"]``), else the text itself."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or nested thousands deep
        return text


def cmd_config_set(args: argparse.Namespace) -> int:
    """Set (or with ``--unset`` remove) a value at one level; affected booths get a new
    signed bundle, and connected ones are told by the server within a few seconds."""
    from provisioning import fleet
    from provisioning.layers import ConfigInvalid, Scope

    if args.fleet:
        scope, target = Scope.FLEET, ""
    elif args.group:
        scope, target = Scope.GROUP, args.group
    elif args.site:
        scope, target = Scope.SITE, args.site
    else:
        scope, target = Scope.BOOTH, args.booth
    if args.unset:
        set_values: dict[str, Any] = {}
        unset = [args.key]
    else:
        if args.value is None:
            _err("guichet config set: give a VALUE, or --unset")
            return 2
        set_values, unset = {args.key: _parse_value(args.value)}, []
    try:
        result = fleet.change_config(
            _database(args), _signing_key(args), _cli_actor(), scope, target, set_values, unset
        )
    except ConfigInvalid as exc:
        where = f" for booth {exc.booth_id}" if exc.booth_id else ""
        for error in exc.errors:
            _err(f"guichet config set: {error.key}: {error.message}{where}")
        return 2
    for booth_id, version in sorted(result.issued.items()):
        _out(f"{booth_id}\tv{version}")
    _err(f"{len(result.issued)} booth(s) get a new bundle")
    return 0


def cmd_enrol(args: argparse.Namespace) -> int:
    """On the booth: create its key and enrol it with the technician's code."""
    from provisioning.booth_client import AlreadyEnrolled, ProvisioningRefused, enrol

    try:
        identity = enrol(args.server, args.site, args.code, args.state_dir, ca_file=args.ca_file)
    except AlreadyEnrolled as exc:
        _err(f"guichet enrol: already enrolled ({exc}); wipe the folder first")
        return 1
    except ProvisioningRefused as exc:
        _err(f"guichet enrol: refused: {exc.reason} ({exc.code})")
        return 1
    except OSError as exc:
        from guichet.tls import UNTRUSTED_CERTIFICATE, is_untrusted_certificate

        if is_untrusted_certificate(exc):
            _err(f"guichet enrol: {UNTRUSTED_CERTIFICATE} ({args.server}; --ca-file?)")
        else:
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

    staff = sub.add_parser("staff", help="admins and technicians").add_subparsers(
        dest="staff_command", required=True
    )
    add = staff.add_parser("add", help="create or update an admin or technician")
    _common(add)
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=["admin", "technician"])
    add.add_argument("--display-name")
    secret = add.add_mutually_exclusive_group()
    secret.add_argument("--password-stdin", action="store_true", help="read the password line")
    secret.add_argument("--password", help="password (visible in ps: prefer --password-stdin)")
    add.set_defaults(func=cmd_staff_add)
    slist = staff.add_parser("list", help="list admins and technicians")
    _common(slist)
    slist.set_defaults(func=cmd_staff_list)

    config = sub.add_parser("config", help="booth configuration layers").add_subparsers(
        dest="config_command", required=True
    )
    show = config.add_parser("show", help="a booth's resolved config with each value's source")
    _common(show)
    show.add_argument("--booth", required=True)
    show.set_defaults(func=cmd_config_show)
    put = config.add_parser("set", help="set a value for the fleet, a group, a site or a booth")
    _common(put)
    put.add_argument("key", help="dotted key, e.g. volume or branding.name")
    put.add_argument("value", nargs="?", help="JSON value (plain text for a string)")
    put.add_argument("--unset", action="store_true", help="remove the key from that level")
    level = put.add_mutually_exclusive_group(required=True)
    level.add_argument("--fleet", action="store_true")
    level.add_argument("--group")
    level.add_argument("--site")
    level.add_argument("--booth")
    put.set_defaults(func=cmd_config_set)

    booth = sub.add_parser("enrol", help="enrol this booth with a one-time code")
    booth.add_argument("--server", required=True, help="central server URL (https://...)")
    booth.add_argument("--site", required=True)
    booth.add_argument("--code", required=True, help="the code the admin gave")
    booth.add_argument(
        "--ca-file", type=Path, help="PEM of the CA that signed the server's certificate"
    )
    booth.add_argument(
        "--state-dir", type=Path, default=DEFAULT_STATE_DIR, help="booth key and config folder"
    )
    booth.set_defaults(func=cmd_enrol)

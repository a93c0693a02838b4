"""The ``guichet`` command: run the switchboard, manage agents and booth tokens.

Other packages add subcommands through a hook: a module with
``add_parser(subparsers)`` that registers its parser and sets ``func`` (a callable
taking the parsed ``argparse.Namespace`` and returning an exit code) with
``set_defaults(func=...)``. ``kiosk.cli`` (the ``booth`` command) and ``guichet.demo``
are looked for.
"""

from __future__ import annotations

import argparse
import getpass
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PLUGIN_MODULES = (
    "kiosk.cli",
    "guichet.demo",
    "kiosk.devices.sim.cli",
    "provisioning.cli",
    "provisioning.audit_cli",
    "switchboard.integration_cli",
)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="folder of the database (default ./var)"
    )


def _database(args: argparse.Namespace) -> Any:
    from switchboard.db import Database
    from switchboard.settings import load_settings

    settings = load_settings(getattr(args, "config", None), data_dir=args.data_dir)
    return Database(settings.resolved_database_url)


def cmd_server(args: argparse.Namespace) -> int:
    """Run the switchboard until interrupted."""
    from guichet.serving import run_server
    from switchboard.app import create_app
    from switchboard.settings import SettingsError, load_settings

    try:
        settings = load_settings(
            args.config,
            host=args.host,
            port=args.port,
            data_dir=args.data_dir,
            catalogue=args.catalogue,
            demo=True if args.demo else None,
            log_level=args.log_level,
        )
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        settings.check_secure()
        app = create_app(settings)
    except (SettingsError, ValueError) as exc:
        print(f"guichet server: {exc}", file=sys.stderr)
        return 2
    run_server(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        # Bigger than the protocol's 256 KiB so oversized messages get a clear error.
        ws_max_size=1024 * 1024,
        ssl_certfile=str(settings.tls_certfile) if settings.tls_certfile else None,
        ssl_keyfile=str(settings.tls_keyfile) if settings.tls_keyfile else None,
        proxy_headers=False,
    )
    return 0


def _read_password(args: argparse.Namespace) -> str:
    if args.password is not None:
        return str(args.password)
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return getpass.getpass(f"password for {args.username}: ")


def cmd_agent_add(args: argparse.Namespace) -> int:
    """Create or update an agent."""
    from switchboard import auth

    services = [s.strip() for s in args.services.split(",") if s.strip()]
    try:
        info = auth.add_agent(
            _database(args),
            args.username,
            _read_password(args),
            services,
            args.display_name,
            role=args.role,
        )
    except auth.AuthError as exc:
        print(f"guichet agent add: {exc}", file=sys.stderr)
        return 2
    listed = ", ".join(info.services) or "-"
    print(f"{info.roles[0]} {info.username} ({info.display_name}): {listed}")
    return 0


def cmd_agent_list(args: argparse.Namespace) -> int:
    from switchboard import auth

    for info in auth.list_agents(_database(args)):
        services = ",".join(info.services)
        print(f"{info.username}\t{info.display_name}\t{services}\t{info.roles[0]}")
    return 0


def cmd_booth_token_create(args: argparse.Namespace) -> int:
    """Create a booth credential and print its token once."""
    from switchboard import auth

    try:
        booth, token = auth.create_booth_token(_database(args), args.name)
    except auth.AuthError as exc:
        print(f"guichet booth-token create: {exc}", file=sys.stderr)
        return 2
    print(
        f"booth {booth.booth_id} ({booth.name}); token (shown once, keep it secret):",
        file=sys.stderr,
    )
    print(token)
    return 0


def cmd_booth_token_list(args: argparse.Namespace) -> int:
    from switchboard import auth

    for booth in auth.list_booths(_database(args)):
        state = "revoked" if booth.revoked else "active"
        print(f"{booth.booth_id}\t{booth.name}\t{state}\t{booth.created_at.isoformat()}")
    return 0


def cmd_booth_token_revoke(args: argparse.Namespace) -> int:
    from switchboard import auth

    if not auth.revoke_booth(_database(args), args.booth_id):
        print(f"guichet booth-token revoke: no booth {args.booth_id!r}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The full command-line parser, plugins included."""
    parser = argparse.ArgumentParser(prog="guichet", description="Guichet visio-guichet")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    server = sub.add_parser("server", help="run the switchboard")
    _common(server)
    server.add_argument("--config", type=Path, help="settings TOML file")
    server.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    server.add_argument("--port", type=int, help="port (default 8700)")
    server.add_argument("--catalogue", type=Path, help="services TOML file")
    server.add_argument(
        "--demo",
        action="store_true",
        help="demo mode: plain HTTP on 127.0.0.1 only (default: production, TLS required)",
    )
    server.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    server.set_defaults(func=cmd_server)

    agent = sub.add_parser("agent", help="manage agents").add_subparsers(
        dest="agent_command", required=True
    )
    add = agent.add_parser("add", help="create or update an agent or a supervisor")
    _common(add)
    add.add_argument("username")
    add.add_argument("--services", required=True, help="comma-separated service ids")
    add.add_argument("--display-name")
    add.add_argument(
        "--role",
        choices=["agent", "supervisor"],
        default="agent",
        help="agent answers the services; supervisor only watches their queues and calls",
    )
    secret = add.add_mutually_exclusive_group()
    secret.add_argument("--password-stdin", action="store_true", help="read the password line")
    secret.add_argument("--password", help="password (visible in ps: prefer --password-stdin)")
    add.set_defaults(func=cmd_agent_add)
    listing = agent.add_parser("list", help="list agents")
    _common(listing)
    listing.set_defaults(func=cmd_agent_list)

    booth = sub.add_parser("booth-token", help="manage booth credentials").add_subparsers(
        dest="booth_command", required=True
    )
    create = booth.add_parser("create", help="create a booth token (printed once)")
    _common(create)
    create.add_argument("name")
    create.set_defaults(func=cmd_booth_token_create)
    blist = booth.add_parser("list", help="list booth credentials")
    _common(blist)
    blist.set_defaults(func=cmd_booth_token_list)
    revoke = booth.add_parser("revoke", help="revoke a booth credential at once")
    _common(revoke)
    revoke.add_argument("booth_id")
    revoke.set_defaults(func=cmd_booth_token_revoke)

    for name in PLUGIN_MODULES:
        _add_plugin(sub, name)
    return parser


def _add_plugin(sub: Any, module_name: str) -> None:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Absent module or a missing optional dependency (e.g. Kivy on a server).
        log.debug("no %s subcommand: %s", module_name, exc)
        return
    add_parser: Callable[[Any], None] | None = getattr(module, "add_parser", None)
    if add_parser is not None:
        add_parser(sub)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``guichet`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)


if __name__ == "__main__":
    sys.exit(main())

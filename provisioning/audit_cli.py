"""``guichet audit export|verify``: the audit trail out of the server's database, and
the check that no entry was edited, removed or reordered (docs/operations.md)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from guichet.cli import _common

EXIT_BROKEN = 1
EXIT_UNREADABLE = 2


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


def _database_url(args: argparse.Namespace) -> str:
    if args.db:
        return str(args.db) if "://" in str(args.db) else f"sqlite:///{Path(args.db).resolve()}"
    from switchboard.settings import load_settings

    settings = load_settings(getattr(args, "config", None), data_dir=args.data_dir)
    return settings.resolved_database_url


def _existing_engine(url: str) -> Any:
    """An engine on a database that must already exist (a check creates nothing)."""
    from sqlalchemy import create_engine

    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.is_file():
            raise FileNotFoundError(f"no database at {path}")
    return create_engine(url)


def cmd_export(args: argparse.Namespace) -> int:
    """Write every entry, one JSON object a line with its hashes, to ``--out``."""
    from provisioning import audit_trail
    from switchboard.db import Database

    url = _database_url(args)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        _err(f"guichet audit export: no database at {url.removeprefix('sqlite:///')}")
        return EXIT_UNREADABLE
    db = Database(url)
    try:
        if str(args.out) == "-":
            head = audit_trail.export(db, sys.stdout)
        else:
            # The trail names staff and agents: the file is private like the database.
            fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                head = audit_trail.export(db, out)
    finally:
        db.close()
    _err(f"exported {head.seq} entries; head: entry {head.seq} sha256 {head.hash}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Exit 0 if the chain holds, 1 naming the first bad entry, 2 if it cannot be read."""
    from guichet.audit_chain import ChainFormatError, Head, verify
    from provisioning import audit_trail

    try:
        if args.file is not None:
            listed = audit_trail.read_export(args.file)
            last = Head(listed[-1].seq, listed[-1].hash) if listed else None
            broken = verify(listed)
            where = str(args.file)
        else:
            url = _database_url(args)
            engine = _existing_engine(url)
            try:
                verdict = audit_trail.verify_engine(engine)
            finally:
                engine.dispose()
            listed, last, broken = verdict.entries, verdict.head, verdict.broken
            where = url.removeprefix("sqlite:///")
        if broken is None and args.against is not None:
            broken = audit_trail.compare_with_earlier(listed, audit_trail.read_export(args.against))
    except (OSError, ChainFormatError) as exc:
        _err(f"guichet audit verify: cannot read the audit trail: {exc}")
        return EXIT_UNREADABLE
    except Exception as exc:  # a database that is not Guichet's, or corrupt
        _err(f"guichet audit verify: cannot read the audit trail of {where}: {exc}")
        return EXIT_UNREADABLE
    if broken is not None:
        _err(f"audit trail BROKEN in {where} at entry {broken.seq}: {broken.reason}")
        return EXIT_BROKEN
    head = f"entry {last.seq} sha256 {last.hash}" if last is not None and last.seq else "empty"
    _out(f"audit trail intact: {len(listed)} entries in {where}; head: {head}")
    return 0


def add_parser(sub: Any) -> None:
    """Register ``audit export`` and ``audit verify``."""
    audit = sub.add_parser("audit", help="the hash-chained audit trail").add_subparsers(
        dest="audit_command", required=True
    )
    export = audit.add_parser("export", help="write the trail as JSON lines with hashes")
    _common(export)
    export.add_argument("--db", help="SQLite file or database URL (default: the server's)")
    export.add_argument("--out", required=True, type=Path, help="file to write, or - ")
    export.set_defaults(func=cmd_export)

    check = audit.add_parser("verify", help="check that no entry was edited, removed or reordered")
    _common(check)
    check.add_argument("file", nargs="?", type=Path, help="an export to check instead of a db")
    check.add_argument("--db", help="SQLite file or database URL (default: the server's)")
    check.add_argument(
        "--against",
        type=Path,
        help="an earlier export (kept elsewhere): its entries must all still be there, same",
    )
    check.set_defaults(func=cmd_verify)

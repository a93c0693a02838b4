"""``guichet booth``: start the booth (the ``guichet`` command registers this parser)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from kiosk.config import load_settings

logger = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``booth`` subcommand."""
    parser = subparsers.add_parser("booth", help="run the booth (full-screen Kivy app)")
    parser.add_argument("--server", metavar="URL", help="switchboard URL (http://host:8700)")
    parser.add_argument("--token-file", metavar="PATH", type=Path, help="booth token file (0600)")
    parser.add_argument("--config", metavar="PATH", type=Path, help="booth TOML settings")
    parser.add_argument(
        "--data-dir",
        metavar="PATH",
        type=Path,
        help="state folder of a fleet booth (key, identity, signed config): setup screen "
        "until enrolled",
    )
    parser.add_argument(
        "--fake-media", action="store_true", default=None, help="test pattern and tone"
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        default=None,
        help="demo or test booth: plain http:// accepted (a real booth needs https:// and ca_file)",
    )
    parser.add_argument("--windowed", action="store_true", help="a window, not full screen")
    parser.add_argument("--language", metavar="CODE", help="first language shown (fr)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load the settings from the arguments and run the booth."""
    try:
        settings = load_settings(
            args.config,
            server_url=args.server,
            token_file=args.token_file,
            data_dir=args.data_dir,
            fake_media=args.fake_media,
            demo=args.demo,
            fullscreen=False if args.windowed else None,
            default_language=args.language,
        )
    except (OSError, ValueError) as exc:
        # One readable line for the technician (journalctl), not a traceback.
        logger.error("guichet booth: cannot use the settings: %s", exc)
        sys.stderr.write(f"guichet booth: cannot use the settings: {exc}\n")
        return 2
    from kiosk.app import run_booth

    run_booth(settings)
    return 0

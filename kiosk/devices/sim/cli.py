"""``guichet sim``: the peripherals of a booth, simulated.

Starts the receipt printer, barcode scanner and card reader simulators on ptys
and, unless ``--no-vpcd``, a virtual smart card for vsmartcard's vpcd reader
(pcscd's driver listening on ``--vpcd PORT``, 35963 by default); prints their
device paths and a ``[devices]`` snippet to paste into a booth TOML, then runs
until Ctrl-C (or SIGTERM, or ``quit``). Commands read on stdin act on them::

    scan CODE                     the scanner reads CODE
    card UID [TYPE]               a card is laid on the serial reader (TYPE: ISO14443A)
    remove                        the card is taken away from the serial reader
    smartcard insert [UID] [TYPE] a smart card goes on the PC/SC (vpcd) reader
                                  (UID in hex, 4/7/10 bytes; TYPE: mifare_classic_1k,
                                  mifare_classic_4k, mifare_ultralight, mifare_desfire,
                                  carte_vitale_1, carte_vitale_2)
    smartcard remove              the smart card is taken away
    paper out|ok|near             the printer's paper runs out / is refilled / nearly out
    printer STATE                 any printer state: ok near_end paper_out cover_open
                                  offline error silent
    printed                       what the printer has printed so far
    help, quit

This module is a command-line tool: it writes to stdout on purpose.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import string
import sys
from pathlib import Path
from typing import Any

from kiosk.devices.sim.barcode_reader import BarcodeScannerSimulator
from kiosk.devices.sim.card_reader import CardReaderSimulator
from kiosk.devices.sim.escpos_printer import PrinterState, SimulatedEscPosPrinter
from kiosk.devices.sim.pcscd import READER_NAME, tcp_port_listening
from kiosk.devices.sim.virtual_card import (
    CARD_TYPES,
    DEFAULT_CARD_TYPE,
    DEFAULT_VPCD_PORT,
    VPCD_HOST,
    VirtualCard,
    parse_uid,
)

log = logging.getLogger(__name__)

STDIN_CHUNK = 4096
PAPER_WORDS: dict[str, PrinterState] = {
    "out": PrinterState.PAPER_OUT,
    "ok": PrinterState.OK,
    "near": PrinterState.NEAR_END,
}
HELP = __doc__.split("::", 1)[1].split("This module", 1)[0].strip("\n") if __doc__ else ""


def add_parser(subparsers: Any) -> None:
    """Register the ``sim`` subcommand."""
    parser = subparsers.add_parser(
        "sim", help="simulated receipt printer, barcode and card readers on ptys"
    )
    parser.add_argument(
        "--write-config",
        type=Path,
        metavar="PATH",
        help="also write the [devices] TOML to PATH (written once the ptys exist)",
    )
    vpcd = parser.add_mutually_exclusive_group()
    vpcd.add_argument(
        "--vpcd",
        type=_port,
        default=DEFAULT_VPCD_PORT,
        metavar="PORT",
        help=f"TCP port of pcscd's vpcd reader, for the virtual smart card ({DEFAULT_VPCD_PORT})",
    )
    vpcd.add_argument(
        "--no-vpcd", action="store_true", help="no virtual smart card (no [devices.smart_card])"
    )
    parser.add_argument(
        "--quiet", action="store_true", help="print only the answers to commands (for the demo)"
    )
    parser.set_defaults(func=run)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"port {port} is not between 1 and 65535")
    return port


def devices_toml(
    printer: str, barcode: str, card: str, smart_card_reader: str | None = None
) -> str:
    """The ``[devices]`` tables pointing a booth at these device paths."""
    # JSON string quoting is valid TOML basic-string quoting for paths.
    snippet = (
        f"[devices.receipt_printer]\npath = {json.dumps(printer)}\n\n"
        f"[devices.barcode_reader]\npath = {json.dumps(barcode)}\n\n"
        f"[devices.card_reader]\npath = {json.dumps(card)}\n"
    )
    if smart_card_reader is not None:
        snippet += f"\n[devices.smart_card]\nreader = {json.dumps(smart_card_reader)}\n"
    return snippet


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


class SimConsole:
    """The simulators and the stdin commands that drive them."""

    def __init__(self, vpcd_port: int | None = None) -> None:
        self.printer = SimulatedEscPosPrinter()
        self.scanner = BarcodeScannerSimulator()
        self.cards = CardReaderSimulator()
        self.smart_card = None if vpcd_port is None else VirtualCard(vpcd_port, on_change=_out)
        self.stopped = asyncio.Event()
        self._pending = b""

    async def start(self) -> tuple[str, str, str]:
        """Create the ptys; returns (printer, barcode, card) device paths."""
        return (await self.printer.start(), await self.scanner.start(), await self.cards.start())

    async def stop(self) -> None:
        """Close every pty (the booth sees its devices unplugged)."""
        if self.smart_card is not None:
            await self.smart_card.remove()
        for sim in (self.cards, self.scanner, self.printer):
            with contextlib.suppress(Exception):
                await sim.stop()

    async def command(self, line: str) -> str:
        """Run one command line; returns the answer to show."""
        words = line.split()
        if not words:
            return ""
        verb, args = words[0].lower(), words[1:]
        try:
            match verb:
                case "scan" if args:
                    code = line.strip().split(None, 1)[1]
                    await self.scanner.scan(code)
                    return f"scanned {code}"
                case "card" if args:
                    card_type = args[1] if len(args) > 1 else "ISO14443A"
                    self.cards.insert(args[0].upper(), card_type)
                    return f"card {args[0].upper()} {card_type} on the reader"
                case "remove":
                    self.cards.remove()
                    return "card removed"
                case "smartcard":
                    return await self._smartcard(args)
                case "paper" if args and args[0] in PAPER_WORDS:
                    self.printer.state = PAPER_WORDS[args[0]]
                    return f"printer: {self.printer.state.value}"
                case "printer" if args:
                    self.printer.state = PrinterState(args[0])
                    return f"printer: {self.printer.state.value}"
                case "printed":
                    printed = self.printer.printed
                    return "\n".join([*printed.lines, f"({printed.cuts} cut(s))"])
                case "help":
                    return HELP
                case "quit" | "exit":
                    self.stopped.set()
                    return "bye"
        except (ValueError, RuntimeError, OSError) as exc:
            return f"error: {exc}"
        return f"unknown command {line.strip()!r}; type help"

    async def _smartcard(self, args: list[str]) -> str:
        if self.smart_card is None:
            return "error: no virtual smart card (guichet sim was started with --no-vpcd)"
        action = args[0].lower() if args else ""
        if action == "remove" and len(args) == 1:
            await self.smart_card.remove()
            return "smart card removed"
        if action != "insert" or len(args) > 3:
            return "usage: smartcard insert [UID] [TYPE] | smartcard remove"
        uid: bytes | None = None
        type_name = DEFAULT_CARD_TYPE
        types = [word.lower() for word in args[1:] if word.lower() in CARD_TYPES]
        uids = [word for word in args[1:] if word.lower() not in CARD_TYPES]
        # UID and TYPE in either order: a known type name is the type.
        if len(types) > 1 or len(uids) > 1:
            return "error: give at most one UID and one TYPE"
        if types:
            type_name = types[0]
        if uids:
            word = uids[0]
            if not all(c in string.hexdigits + ":" for c in word):
                return (
                    f"error: {word!r} is neither a UID in hex nor a card type "
                    f"({', '.join(CARD_TYPES)})"
                )
            uid = parse_uid(word)
        await self.smart_card.insert(type_name, uid)
        shown = self.smart_card.card.uid.hex().upper() if self.smart_card.card else ""
        return f"smart card {type_name} {shown or '(no UID)'} inserted"

    def feed_stdin(self, data: bytes) -> list[str]:
        """Complete lines from a chunk of stdin."""
        self._pending += data
        *lines, self._pending = self._pending.split(b"\n")
        return [raw.decode("utf-8", errors="replace") for raw in lines]


async def _serve(args: argparse.Namespace) -> int:
    vpcd_port: int | None = None if args.no_vpcd else args.vpcd
    console = SimConsole(vpcd_port)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, console.stopped.set)
    show = (lambda _text: None) if args.quiet else _out
    try:
        printer, barcode, card = await console.start()
        snippet = devices_toml(printer, barcode, card, None if vpcd_port is None else READER_NAME)
        show(f"receipt printer : {printer}")
        show(f"barcode reader  : {barcode}")
        show(f"card reader     : {card}")
        if vpcd_port is not None:
            show(f"smart card      : virtual card for vpcd on {VPCD_HOST}:{vpcd_port}")
            if not tcp_port_listening(vpcd_port):
                # Said once, in plain words; the card itself retries quietly.
                _out(
                    f"note: nothing listens on port {vpcd_port} yet: start pcscd with the "
                    "vsmartcard vpcd driver (apt install pcscd vsmartcard-vpcd) for the smart "
                    "card; the other devices work meanwhile"
                )
        show("\n# booth TOML:\n" + snippet)
        if args.write_config is not None:
            # Written whole then renamed, so a waiting reader never sees half of it.
            tmp = args.write_config.with_suffix(".tmp")
            tmp.write_text(snippet, encoding="utf-8")
            tmp.replace(args.write_config)
        show(
            "ready; commands: scan CODE, card UID [TYPE], remove, smartcard insert [UID] [TYPE], "
            "smartcard remove, paper out|ok, help, quit"
        )
        _watch_stdin(console, loop)
        await console.stopped.wait()
    finally:
        with contextlib.suppress(ValueError, OSError):
            loop.remove_reader(sys.stdin.fileno())
            # The terminal is shared with the shell: give it back blocking.
            os.set_blocking(sys.stdin.fileno(), True)
        await console.stop()
    return 0


def _watch_stdin(console: SimConsole, loop: asyncio.AbstractEventLoop) -> None:
    try:
        fd = sys.stdin.fileno()
        os.set_blocking(fd, False)
    except (ValueError, OSError):
        return  # no usable stdin (e.g. closed): run until signalled

    def readable() -> None:
        try:
            data = os.read(fd, STDIN_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            # stdin closed (a demo, a service): keep simulating until signalled.
            loop.remove_reader(fd)
            return
        for line in console.feed_stdin(data):
            task = loop.create_task(_answer(console, line))
            console_tasks.add(task)
            task.add_done_callback(console_tasks.discard)

    console_tasks: set[asyncio.Task[None]] = set()
    try:
        loop.add_reader(fd, readable)
    except (ValueError, OSError, PermissionError):
        # Regular files cannot be watched by epoll: read them whole once.
        for line in console.feed_stdin(sys.stdin.buffer.read() + b"\n"):
            task = loop.create_task(_answer(console, line))
            console_tasks.add(task)
            task.add_done_callback(console_tasks.discard)


async def _answer(console: SimConsole, line: str) -> None:
    answer = await console.command(line)
    if answer:
        _out(answer)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``guichet sim``."""
    try:
        return asyncio.run(_serve(args))
    except KeyboardInterrupt:
        return 0

"""Answer-To-Reset parsing and card identification (ISO/IEC 7816-3, PC/SC part 3) — pure.

An ATR is what a card says first when powered: the coding convention (TS), a
format byte (T0) announcing interface bytes and K historical bytes, chains of
interface bytes TAi/TBi/TCi/TDi (TDi names a protocol T=0, T=1...), the
historical bytes, and a check byte TCK when any protocol other than T=0 is
offered (the XOR of T0…TCK is then zero).

Contactless readers build an ATR for the card on their field as PC/SC part 3
says: ``3B 8F 80 01 80 4F 0C A0 00 00 03 06 SS NN NN 00 00 00 00 TCK`` for memory
cards (SS the standard, NN NN the card name, from the PC/SC registered list),
and ``3B 8n 80 01 <ATS historical bytes> TCK`` for ISO 14443-4 cards.

:func:`identify` never raises: a malformed ATR is ``unknown`` with a reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

MAX_ATR_LENGTH = 33
"""ISO/IEC 7816-3: TS plus at most 32 bytes."""

TS_DIRECT = 0x3B
TS_INVERSE = 0x3F

PCSC_RID = bytes.fromhex("A000000306")
"""PC/SC workgroup's registered application provider id, in part 3 ATRs."""

PCSC_STANDARDS: dict[int, str] = {
    0x01: "ISO 14443 A, part 1",
    0x02: "ISO 14443 A, part 2",
    0x03: "ISO 14443 A, part 3",
    0x05: "ISO 14443 B, part 1",
    0x06: "ISO 14443 B, part 2",
    0x07: "ISO 14443 B, part 3",
    0x09: "ISO 15693, part 1",
    0x0A: "ISO 15693, part 2",
    0x0B: "ISO 15693, part 3",
    0x0C: "ISO 15693, part 4",
    0x11: "FeliCa",
}

# Card names from the PC/SC part 3 supplement (the ones a booth may meet).
PCSC_CARD_NAMES: dict[int, tuple[str, str]] = {
    0x0001: ("mifare_classic_1k", "MIFARE Classic 1K"),
    0x0002: ("mifare_classic_4k", "MIFARE Classic 4K"),
    0x0003: ("mifare_ultralight", "MIFARE Ultralight"),
    0x0026: ("mifare_mini", "MIFARE Mini"),
    0x003A: ("mifare_ultralight_c", "MIFARE Ultralight C"),
    0x003B: ("felica", "FeliCa"),
}

# Whole-ATR patterns, ``..`` for any byte (checked against the pcsc-tools list).
_KNOWN_PATTERNS: tuple[tuple[str, str, str], ...] = (
    # Carte Vitale 1: inverse convention, T=0, historical bytes ?? 09 ?? 90 00.
    ("3F 65 25 00 .. 09 .. 90 00", "carte_vitale_1", "Carte Vitale 1"),
    # Carte Vitale 2 (with photo): the sixth byte counts the issue.
    ("3B 75 13 00 00 .. 09 EA 90 00", "carte_vitale_2", "Carte Vitale 2"),
    # DESFire (EV1/EV2/EV3): ISO 14443-4 with the single ATS historical byte 0x80.
    ("3B 81 80 01 80 80", "mifare_desfire", "MIFARE DESFire"),
)

Convention = Literal["direct", "inverse"]


class AtrError(ValueError):
    """The bytes are not a well-formed ATR; ``reason`` says why, in French."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class InterfaceBytes:
    """One group TAi, TBi, TCi, TDi (``None`` when absent)."""

    index: int
    ta: int | None = None
    tb: int | None = None
    tc: int | None = None
    td: int | None = None


@dataclass(frozen=True)
class Atr:
    """A parsed ATR."""

    raw: bytes
    convention: Convention
    t0: int
    interface: tuple[InterfaceBytes, ...]
    historical: bytes
    tck: int | None
    protocols: tuple[int, ...]
    """Protocols offered, T=0 when no TDi says otherwise."""

    @property
    def hex(self) -> str:
        """``3B 8F 80 ...``: how ATRs are written in lists and logs."""
        return format_hex(self.raw)


@dataclass(frozen=True)
class Identification:
    """What card this is; ``card_type`` is ``unknown`` when not recognised."""

    card_type: str
    label: str
    reason: str = ""
    """Why it is unknown, or how it was recognised."""
    standard: str = ""
    """For contactless cards: the radio standard, if the reader says."""
    atr: Atr | None = None


def format_hex(data: bytes) -> str:
    """Bytes as upper-case hex pairs separated by spaces."""
    return " ".join(f"{byte:02X}" for byte in data)


def parse_hex(text: str) -> bytes:
    """``"3B 8F 80"``, ``"3b:8f:80"`` or ``"3B8F80"`` → bytes; raises :class:`AtrError`."""
    cleaned = re.sub(r"[\s:]", "", text)
    if len(cleaned) % 2 or not re.fullmatch(r"[0-9A-Fa-f]*", cleaned):
        raise AtrError("ATR illisible : ce n'est pas une suite d'octets en hexadécimal.")
    return bytes.fromhex(cleaned)


def parse_atr(data: bytes) -> Atr:
    """Parse an ATR; raises :class:`AtrError` with a French reason if malformed."""
    if not data:
        raise AtrError("ATR vide : la carte n'a rien répondu.")
    if len(data) > MAX_ATR_LENGTH:
        raise AtrError(f"ATR trop long ({len(data)} octets, {MAX_ATR_LENGTH} au plus).")
    ts = data[0]
    if ts == TS_DIRECT:
        convention: Convention = "direct"
    elif ts == TS_INVERSE:
        convention = "inverse"
    else:
        raise AtrError(f"Premier octet (TS) invalide : {ts:02X} au lieu de 3B ou 3F.")
    if len(data) < 2:
        raise AtrError("ATR tronqué : l'octet de format T0 manque.")
    t0 = data[1]
    historical_count = t0 & 0x0F
    position = 2
    presence = t0 >> 4
    groups: list[InterfaceBytes] = []
    protocols: list[int] = []
    index = 1
    while True:
        values: list[int | None] = []
        for bit in range(4):
            if presence & (1 << bit):
                if position >= len(data):
                    raise AtrError(f"ATR tronqué dans les octets d'interface du groupe {index}.")
                values.append(data[position])
                position += 1
            else:
                values.append(None)
        ta, tb, tc, td = values
        groups.append(InterfaceBytes(index=index, ta=ta, tb=tb, tc=tc, td=td))
        if td is None:
            break
        protocols.append(td & 0x0F)
        presence = td >> 4
        index += 1
    end_of_historical = position + historical_count
    if end_of_historical > len(data):
        raise AtrError(
            f"ATR tronqué : {historical_count} octets historiques annoncés, "
            f"{len(data) - position} présents."
        )
    historical = data[position:end_of_historical]
    # TCK is there as soon as a protocol other than T=0 is offered.
    needs_tck = any(protocol != 0 for protocol in protocols)
    tck: int | None = None
    if needs_tck:
        if end_of_historical >= len(data):
            raise AtrError("ATR tronqué : l'octet de contrôle TCK manque.")
        tck = data[end_of_historical]
        checksum = 0
        for byte in data[1 : end_of_historical + 1]:
            checksum ^= byte
        if checksum != 0:
            raise AtrError(f"Octet de contrôle TCK faux ({tck:02X}) : ATR corrompu.")
        end = end_of_historical + 1
    else:
        end = end_of_historical
    if end != len(data):
        raise AtrError(f"{len(data) - end} octet(s) en trop après la fin de l'ATR.")
    return Atr(
        raw=bytes(data),
        convention=convention,
        t0=t0,
        interface=tuple(groups),
        historical=historical,
        tck=tck,
        protocols=tuple(protocols) or (0,),
    )


def _matches(pattern: str, data: bytes) -> bool:
    cells = pattern.split()
    if len(cells) != len(data):
        return False
    wildcard = ".."
    return all(
        cell == wildcard or int(cell, 16) == byte for cell, byte in zip(cells, data, strict=True)
    )


def _identify_parsed(atr: Atr) -> Identification:
    for pattern, card_type, label in _KNOWN_PATTERNS:
        if _matches(pattern, atr.raw):
            return Identification(card_type, label, reason=f"ATR connu ({pattern})", atr=atr)
    historical = atr.historical
    contactless = (
        atr.convention == "direct"
        and len(atr.interface) >= 2
        and atr.interface[0].td == 0x80
        and atr.interface[1].td == 0x01
    )
    if contactless and len(historical) >= 10 and historical[0] == 0x80 and historical[1] == 0x4F:
        # Memory card, PC/SC part 3: 80 4F len RID(5) SS NN NN RFU(4).
        length = historical[2]
        if historical[3:8] == PCSC_RID and length >= 8:
            standard = PCSC_STANDARDS.get(historical[8], f"norme {historical[8]:02X}")
            name = int.from_bytes(historical[9:11], "big")
            known = PCSC_CARD_NAMES.get(name)
            if known is not None:
                return Identification(
                    known[0], known[1], reason="PC/SC partie 3", standard=standard, atr=atr
                )
            return Identification(
                "contactless_memory",
                f"Carte sans contact à mémoire ({name:04X})",
                reason="PC/SC partie 3, nom de carte non répertorié",
                standard=standard,
                atr=atr,
            )
    if contactless:
        return Identification(
            "contactless_iso14443_4",
            "Carte sans contact ISO 14443-4",
            reason="ATR construit par le lecteur à partir de l'ATS",
            standard="ISO 14443-4",
            atr=atr,
        )
    return Identification(
        "iso7816",
        "Carte à puce (contact, ISO 7816)",
        reason="ATR bien formé mais carte non répertoriée",
        atr=atr,
    )


def identify(data: bytes) -> Identification:
    """Recognise a card from its ATR; never raises (malformed → ``unknown`` + reason)."""
    try:
        atr = parse_atr(data)
    except AtrError as exc:
        return Identification("unknown", "Carte inconnue", reason=exc.reason)
    return _identify_parsed(atr)

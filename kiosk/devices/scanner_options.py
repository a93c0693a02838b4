"""What to ask a SANE scanner for, and what its answers mean — pure, no I/O.

Backends name the same things differently ("Color" / "color" / "24bit Color",
"Flatbed" / "FlatBed" / "Normal", "Automatic Document Feeder" / "ADF"...). This
module turns the booth's few choices into the option values one particular
device offers, and turns SANE status messages into plain French reasons.
Keeping it free of python-sane lets it be tested without a scanner.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

ScanMode = Literal["color", "gray"]
ScanSource = Literal["flatbed", "adf"]
ImageFormat = Literal["png", "jpeg"]

A4_WIDTH_MM = 210.0
A4_HEIGHT_MM = 297.0
MM_PER_INCH = 25.4

BIT_DEPTH = 8
"""Always 8 bits a sample: PNG/JPEG of a document need no more, and 16-bit data
would double the memory a citizen's page takes."""

# Values backends use for each choice, most common first; matched without case.
_MODE_NAMES: dict[ScanMode, tuple[str, ...]] = {
    "color": ("color", "24bit color", "colour", "rgb", "color24"),
    "gray": ("gray", "grayscale", "greyscale", "grey", "8bit gray", "true gray"),
}
_SOURCE_NAMES: dict[ScanSource, tuple[str, ...]] = {
    "flatbed": ("flatbed", "normal", "document table", "platen"),
    "adf": (
        "automatic document feeder",
        "adf",
        "adf front",
        "adf simplex",
        "automatic document feeder(left aligned)",
    ),
}


@dataclass(frozen=True)
class OptionInfo:
    """What a device says about one option: its constraint, if any.

    ``choices`` for a list constraint (strings or numbers), ``value_range`` for a
    ``(min, max, quant)`` range, neither when the option is free.
    """

    name: str
    choices: tuple[str | int | float, ...] = ()
    value_range: tuple[float, float, float] | None = None
    active: bool = True
    """Inactive options exist but only come alive once another is set
    (e.g. a delay's duration once the delay is switched on)."""


@dataclass(frozen=True)
class ScanSettings:
    """The booth's request, in its own words."""

    resolution_dpi: int = 150
    mode: ScanMode = "color"
    source: ScanSource = "flatbed"
    width_mm: float = A4_WIDTH_MM
    height_mm: float = A4_HEIGHT_MM
    backend_options: Mapping[str, str | int | float | bool] = field(default_factory=dict)
    """Device-specific extras set last (brightness, or a test backend's knobs)."""


class OptionMappingError(ValueError):
    """The device cannot do what was asked; ``code`` and ``reason`` as in DeviceError."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


def _pick_name(wanted: Sequence[str], offered: Sequence[str | int | float]) -> str | None:
    lowered = {str(choice).lower(): str(choice) for choice in offered}
    for name in wanted:
        if name in lowered:
            return lowered[name]
    return None


def _fit_number(value: float, info: OptionInfo) -> float:
    """The nearest value the option accepts (clamped range, or closest list entry)."""
    if info.value_range is not None:
        low, high, quant = info.value_range
        fitted = min(max(value, low), high)
        if quant > 0:
            fitted = low + round((fitted - low) / quant) * quant
            fitted = min(fitted, high)
        return fitted
    numbers = [float(choice) for choice in info.choices if isinstance(choice, int | float)]
    if numbers:
        return min(numbers, key=lambda choice: abs(choice - value))
    return value


def sane_options(
    settings: ScanSettings, available: Mapping[str, OptionInfo]
) -> dict[str, str | int | float | bool]:
    """Option name → value to set, in the order to set them.

    Mode comes first because many backends reload their other options (ranges,
    sources) when it changes. ``backend_options`` come last, in their given
    order, and may name options that another one activates. Options the device
    lacks are skipped, except that
    asking for a feeder on a flatbed-only scanner is an error: silently scanning
    the glass instead would give the agent an empty page.
    """
    every = available
    available = {name: info for name, info in every.items() if info.active}
    result: dict[str, str | int | float | bool] = {}
    mode_info = available.get("mode")
    if mode_info is not None and mode_info.choices:
        mode = _pick_name(_MODE_NAMES[settings.mode], mode_info.choices)
        if mode is None:
            raise OptionMappingError(
                "unsupported_mode",
                "Ce scanner ne sait pas numériser "
                + ("en couleur." if settings.mode == "color" else "en niveaux de gris."),
            )
        result["mode"] = mode
    if "depth" in available:
        result["depth"] = int(_fit_number(BIT_DEPTH, available["depth"]))
    source_info = available.get("source")
    if source_info is not None and source_info.choices:
        source = _pick_name(_SOURCE_NAMES[settings.source], source_info.choices)
        if source is None and settings.source == "adf":
            raise OptionMappingError("no_feeder", "Ce scanner n'a pas de chargeur de documents.")
        if source is not None:
            result["source"] = source
    elif settings.source == "adf":
        raise OptionMappingError("no_feeder", "Ce scanner n'a pas de chargeur de documents.")
    if "resolution" in available:
        fitted = _fit_number(settings.resolution_dpi, available["resolution"])
        result["resolution"] = round(fitted)
    # Scan area: from the top-left corner, as wide and tall as the page (or the
    # glass, if the glass is smaller than an A4 sheet).
    for corner, length in (
        ("tl-x", 0.0),
        ("tl-y", 0.0),
        ("br-x", settings.width_mm),
        ("br-y", settings.height_mm),
    ):
        if corner in available:
            result[corner] = _fit_number(length, available[corner])
    for name, value in settings.backend_options.items():
        if name not in every:
            raise OptionMappingError("unknown_option", f"Réglage « {name} » inconnu de ce scanner.")
        result[name] = value
    return result


def expected_pixels(length_mm: float, dpi: int) -> int:
    """How many pixels a length gives at a resolution (SANE truncates, as here)."""
    return int(length_mm / MM_PER_INCH * dpi)


# sane_strstatus() texts (English, untranslated by libsane) → (code, French reason).
_STATUS_REASONS: dict[str, tuple[str, str]] = {
    "document feeder jammed": (
        "jammed",
        "Le papier est coincé dans le scanner. Un agent doit le retirer.",
    ),
    "document feeder out of documents": (
        "feeder_empty",
        "Le chargeur du scanner est vide : posez le document dans le chargeur.",
    ),
    "scanner cover is open": ("cover_open", "Le capot du scanner est ouvert."),
    "device busy": ("busy", "Le scanner est occupé. Réessayez dans un instant."),
    "error during device i/o": (
        "io_error",
        "Le scanner ne répond plus (débranché ou éteint ?).",
    ),
    "access to resource has been denied": (
        "access_denied",
        "Accès au scanner refusé (droits du système).",
    ),
    "out of memory": ("no_memory", "Mémoire insuffisante pour numériser ce document."),
    "operation was cancelled": ("cancelled", "La numérisation a été annulée."),
    "invalid argument": ("invalid", "Le scanner a refusé les réglages demandés."),
    "operation not supported": ("unsupported", "Le scanner ne sait pas faire cela."),
    "sanedev object is closed": (
        "io_error",
        "Le scanner ne répond plus (débranché ou éteint ?).",
    ),
}


def reason_for_sane_error(message: str) -> tuple[str, str]:
    """``(code, French reason)`` for a python-sane error message; never raises."""
    key = message.strip().rstrip(".").lower()
    found = _STATUS_REASONS.get(key)
    if found is not None:
        return found
    return ("scan_failed", f"La numérisation a échoué ({message.strip() or 'erreur inconnue'}).")

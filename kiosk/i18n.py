"""Booth translations: gettext catalogues in ``assets/locale/<lang>/LC_MESSAGES/guichet``.

Message ids are English; French is complete and is the first language a citizen
sees. Only the ``.po`` files are committed. At start-up a ``.mo`` that is present
and not older than its ``.po`` is used; otherwise the ``.po`` is parsed here in pure
Python (no ``msgfmt`` needed on the booth). ``python -m kiosk.i18n`` compiles every
``.po`` into its ``.mo`` (install step; ``msgfmt`` gives the same result).

This module has no Kivy import: the Kivy-side observable lives in ``kiosk.ui.tr``.
"""

from __future__ import annotations

import ast
import gettext
import logging
import struct
import sys
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)

DOMAIN = "guichet"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "assets" / "locale"

LANGUAGE_NAMES = {
    "fr": "Français",
    "en": "English",
    "es": "Español",
    "ar": "العربية",
    "pt": "Português",
}
"""Each language named in itself, as its button shows it."""
RTL_LANGUAGES = frozenset({"ar"})
"""Languages written right to left."""


def N_(message: str) -> str:
    """Mark ``message`` as an English msgid for the catalogues; returns it unchanged.

    Python code that keeps a msgid for later translation (a constant, a table) wraps
    it in ``N_`` so the completeness test finds it.
    """
    return message


def is_rtl(language: str) -> bool:
    """Whether ``language`` is written right to left (Arabic)."""
    return language in RTL_LANGUAGES


def catalogue_languages(locale_dir: Path = LOCALE_DIR) -> list[str]:
    """The languages that have a catalogue (``<lang>/LC_MESSAGES/guichet.po``), sorted."""
    return sorted(po.parent.parent.name for po in locale_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


def parse_po(text: str) -> dict[str, str]:
    """Parse a ``.po`` file's text into ``{msgid: msgstr}`` (no plurals, no contexts).

    Fuzzy and empty translations are left out so gettext falls back to the msgid.
    """
    catalog: dict[str, str] = {}
    entries: list[tuple[bool, list[str], list[str]]] = []
    fuzzy_next = False
    current: list[str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#,") and "fuzzy" in line:
            fuzzy_next = True
        elif line.startswith("msgid "):
            entries.append((fuzzy_next, [_unquote(line[6:])], []))
            fuzzy_next = False
            current = entries[-1][1]
        elif line.startswith("msgstr ") and entries:
            current = entries[-1][2]
            current.append(_unquote(line[7:]))
        elif line.startswith('"') and current is not None:
            current.append(_unquote(line))
    for fuzzy, msgid, msgstr in entries:
        key, value = "".join(msgid), "".join(msgstr)
        # The header (empty msgid) is kept even if fuzzy: it carries the charset.
        if value and (not fuzzy or not key):
            catalog[key] = value
    return catalog


def _unquote(s: str) -> str:
    value = ast.literal_eval(s.strip())
    if not isinstance(value, str):
        raise ValueError(f"not a PO string: {s!r}")
    return value


def write_mo(catalog: dict[str, str], path: Path) -> None:
    """Write ``catalog`` as a GNU ``.mo`` file (the format ``msgfmt`` produces)."""
    keys = sorted(catalog)
    ids = b"".join(k.encode() + b"\0" for k in keys)
    strs = b"".join(catalog[k].encode() + b"\0" for k in keys)
    n = len(keys)
    key_start = 7 * 4 + 16 * n
    value_start = key_start + len(ids)
    offsets: list[int] = []
    pos = 0
    for k in keys:
        offsets += [len(k.encode()), key_start + pos]
        pos += len(k.encode()) + 1
    pos = 0
    for k in keys:
        offsets += [len(catalog[k].encode()), value_start + pos]
        pos += len(catalog[k].encode()) + 1
    header = struct.pack("Iiiiiii", 0x950412DE, 0, n, 7 * 4, 7 * 4 + n * 8, 0, 0)
    path.write_bytes(header + struct.pack(f"{len(offsets)}i", *offsets) + ids + strs)


class _DictTranslations(gettext.NullTranslations):
    """A catalogue parsed straight from a ``.po`` file."""

    def __init__(self, catalog: dict[str, str]) -> None:
        super().__init__()
        self._catalog = catalog

    def gettext(self, message: str) -> str:
        return self._catalog.get(message) or message


def load_translations(language: str, locale_dir: Path = LOCALE_DIR) -> gettext.NullTranslations:
    """Load one language; an unknown language falls back to the English msgids."""
    base = locale_dir / language / "LC_MESSAGES"
    po, mo = base / f"{DOMAIN}.po", base / f"{DOMAIN}.mo"
    try:
        if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
            with open(mo, "rb") as fh:
                return gettext.GNUTranslations(fh)
        if po.exists():
            return _DictTranslations(parse_po(po.read_text(encoding="utf-8")))
    except (OSError, ValueError, SyntaxError):
        logger.exception("translations for %r unreadable; showing English", language)
    if language != "en":
        logger.warning("no translations for %r; showing English", language)
    return gettext.NullTranslations()


class Translator:
    """The current language and its catalogue; listeners hear every switch."""

    def __init__(self, language: str = "fr", locale_dir: Path = LOCALE_DIR) -> None:
        self._locale_dir = locale_dir
        self._cache: dict[str, gettext.NullTranslations] = {}
        self._listeners: list[Callable[[str], None]] = []
        self.language = language
        self._current = self._load(language)

    def _load(self, language: str) -> gettext.NullTranslations:
        if language not in self._cache:
            self._cache[language] = load_translations(language, self._locale_dir)
        return self._cache[language]

    def gettext(self, message: str) -> str:
        """Translate ``message`` (an English msgid) into the current language."""
        return self._current.gettext(message)

    def set_language(self, language: str) -> None:
        """Switch language and tell the listeners (the screens re-render)."""
        if language == self.language:
            return
        self.language = language
        self._current = self._load(language)
        for listener in list(self._listeners):
            listener(language)

    def add_listener(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(language)`` after every switch."""
        self._listeners.append(listener)


def compile_all(locale_dir: Path = LOCALE_DIR) -> list[Path]:
    """Compile every ``.po`` under ``locale_dir`` into its ``.mo``; return the ``.mo`` paths."""
    written = []
    for po in sorted(locale_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        mo = po.with_suffix(".mo")
        write_mo(parse_po(po.read_text(encoding="utf-8")), mo)
        written.append(mo)
    return written


if __name__ == "__main__":  # pragma: no cover - install step
    logging.basicConfig(level=logging.INFO)
    for path in compile_all(Path(sys.argv[1]) if len(sys.argv) > 1 else LOCALE_DIR):
        logger.info("compiled %s", path)

"""Translations and settings of the booth (no Kivy window).

Completeness: every msgid the booth can show (``booth_msgids``: kv files and
``N_``-marked Python) is translated in every catalogue under ``assets/locale``.
"""

from __future__ import annotations

import gettext
import re
import shutil
import subprocess
from pathlib import Path

import booth_msgids
import pytest

from kiosk import controller, guidance, i18n, opening_hours, session, technician
from kiosk.call import booth_devices
from kiosk.config import DEFAULT_LANGUAGES, BoothSettings, load_settings
from kiosk.ui import fonts
from provisioning.schema import BOOTH_LANGUAGES, BoothConfig

LOCALE_DIR = i18n.LOCALE_DIR
CATALOGUES = sorted(LOCALE_DIR.glob(f"*/LC_MESSAGES/{i18n.DOMAIN}.po"))
PLACEHOLDER = re.compile(r"\{[^{}]*\}|%(?:\([^)]*\))?[sdif]")


def ui_msgids() -> set[str]:
    """Every msgid the booth can show (kv files and marked Python, see booth_msgids)."""
    return set(booth_msgids.booth_msgids())


def catalogue(po: Path) -> dict[str, str]:
    """The catalogue's translations (header left out)."""
    return {k: v for k, v in i18n.parse_po(po.read_text(encoding="utf-8")).items() if k}


def po_header(po: Path) -> dict[str, str]:
    """The header fields of a ``.po`` file."""
    raw = i18n.parse_po(po.read_text(encoding="utf-8"))[""]
    return dict(line.split(": ", 1) for line in raw.splitlines() if ": " in line)


def msgid_order(po: Path) -> list[str]:
    """Msgids in file order, fuzzy and empty ones included (continued lines joined)."""
    text = po.read_text(encoding="utf-8")
    blocks = re.findall(r'^msgid ((?:".*"\n)+)', text, flags=re.MULTILINE)
    ids = ["".join(re.findall(r'"(.*)"', block)) for block in blocks]
    return [msgid.replace('\\"', '"') for msgid in ids if msgid]


def test_the_booth_has_the_five_languages_with_catalogues() -> None:
    languages = [po.parent.parent.name for po in CATALOGUES]
    assert sorted(languages) == sorted(["fr", "en", "es", "ar", "pt"])
    assert i18n.catalogue_languages() == sorted(languages)
    assert set(i18n.LANGUAGE_NAMES) == set(languages)
    assert set(BOOTH_LANGUAGES) == set(languages), "provisioning.schema.BOOTH_LANGUAGES"
    assert list(DEFAULT_LANGUAGES) == ["fr", "en", "es", "ar", "pt"]


def test_the_extractor_sees_kv_literals_marked_python_and_refuses_unlisted_expressions(
    tmp_path: Path,
) -> None:
    kv = tmp_path / "screen.kv"
    kv.write_text(
        "<A>:\n    text: app.tr._('Hello, \\'you\\'') + app.tr._(\"B (c)\")\n",
        encoding="utf-8",
    )
    assert [f.msgid for f in booth_msgids.kv_msgids([kv])] == ["Hello, 'you'", "B (c)"]
    kv.write_text("<A>:\n    text: app.tr._(root.anything)\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="KV_DYNAMIC_ARGS"):
        booth_msgids.kv_msgids([kv])
    py = tmp_path / "mod.py"
    py.write_text(
        'X = N_("One")\nY = {"a": N_("Two" " parts")}\nZ = "Not marked"\n'
        'def f(_): return _("Three") + t.gettext("Four") + app.tr._("Five")\n',
        encoding="utf-8",
    )
    found = [f.msgid for f in booth_msgids.py_msgids([py])]
    assert sorted(found) == ["Five", "Four", "One", "Three", "Two parts"]


def test_every_booth_text_is_marked_and_the_known_tables_are_seen() -> None:
    ids = ui_msgids()
    assert len(ids) > 130
    tables = {
        controller.MSG_SOMETHING_WRONG,
        controller.MSG_SERVICE_CLOSED,
        controller.MSG_MEDIA,
        controller.MSG_INTERRUPTED,
        *controller.SETUP_ERRORS.values(),
        *controller.CONSENT_QUESTIONS.values(),
        *booth_devices.ACTIVITY_MSGIDS,
        *technician.MSGIDS,
        # The goodbye screen's tables live in kiosk.guidance (no Kivy), shared with speech.
        *(msgid for _reason, msgid in guidance.RATING_REASONS),
        *guidance.END_MESSAGES.values(),
        *guidance.FACES,
        *guidance.SPEECH_MSGIDS,
        *opening_hours.DAY_NAMES,
        opening_hours.MSG_CLOSED,
        opening_hours.MSG_REOPENS,
        opening_hours.MSG_CLOSED_FOR_NOW,
        opening_hours.MSG_CLOCK,
        session.MSG_CALL_LOST,
        "This service has just closed.",
    }
    assert not tables - ids, f"msgids kept in Python without N_(): {sorted(tables - ids)}"
    every_catalogued = set().union(*(catalogue(po) for po in CATALOGUES))
    unmarked = booth_msgids.unmarked_msgids(every_catalogued)
    assert not unmarked, f"msgids in Python without N_(): {unmarked}"


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda po: po.parent.parent.name)
def test_every_catalogue_translates_every_booth_text_and_nothing_else(po: Path) -> None:
    """Complete, not fuzzy, same placeholders, right header, no obsolete entry."""
    language = po.parent.parent.name
    used = booth_msgids.booth_msgids()
    translations = catalogue(po)
    missing = sorted(m for m in used if m not in translations)
    assert not missing, f"{language}: untranslated (or empty, or fuzzy): {missing}"
    obsolete = sorted(m for m in translations if m not in used)
    assert not obsolete, f"{language}: entries the booth never shows: {obsolete}"
    assert len(msgid_order(po)) == len(translations), f"{language}: fuzzy or empty entries"
    assert "#, fuzzy" not in po.read_text(encoding="utf-8")
    for msgid, text in translations.items():
        assert sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(msgid)), (
            f"{language}: placeholders differ in {text!r} for {msgid!r}"
        )
        assert text == text.strip(), f"{language}: stray spaces in {text!r}"
    header = po_header(po)
    assert header["Language"] == language
    assert header["Content-Type"] == "text/plain; charset=UTF-8"
    assert header["Plural-Forms"].startswith("nplurals=")
    assert "#~" not in po.read_text(encoding="utf-8"), "obsolete (#~) entries"


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda po: po.parent.parent.name)
def test_every_catalogue_keeps_the_french_entry_order(po: Path) -> None:
    """Same order as fr/guichet.po, so that merges stay line-local."""
    assert msgid_order(po) == msgid_order(LOCALE_DIR / "fr/LC_MESSAGES/guichet.po")


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda po: po.parent.parent.name)
def test_msgfmt_checks_every_catalogue(po: Path, tmp_path: Path) -> None:
    msgfmt = shutil.which("msgfmt")
    assert msgfmt, "msgfmt missing: scripts/install.sh installs the gettext package"
    result = subprocess.run(
        [msgfmt, "--check", "-o", str(tmp_path / "out.mo"), str(po)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_every_booth_text_has_a_french_translation() -> None:
    ids = ui_msgids()
    fr = catalogue(LOCALE_DIR / "fr/LC_MESSAGES/guichet.po")
    assert not sorted(m for m in ids if m not in fr)


JARGON_FR = (
    "veuillez",
    "ultérieurement",
    "dysfonctionnement",
    "procéder",
    "afin de",
    "préalablement",
    "momentanément",
    "jusqu'à nouvel ordre",
    "session",
    "connexion",
    "serveur",
    "certificat",
    "numériser",
    "numérisation",
    "périphérique",
    "interrompu",
    "n°",
)
"""Words a citizen may not know or that say how the machine works instead of what
happens. "session" and "connexion" are the software's view (the citizen sees "the
call is cut", "the booth goes back to the start"); "numériser" is said "faire une
copie"; "n°" and other abbreviations are spelt out. "min" is kept (common, and the
booth has no plural forms yet)."""
INFORMAL_FR = {"tu", "toi", "ton", "ta", "tes", "t'"}
MAX_WORDS = 15


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?…])\s+", text) if s.strip()]


def _words(sentence: str) -> list[str]:
    return [w for w in re.split(r"\s+", sentence) if re.search(r"\w", w)]


def test_french_citizen_texts_are_plain_french() -> None:
    """FALC ("facile à lire et à comprendre") checks on every French citizen text.

    Each sentence has at most 15 words, no word of :data:`JARGON_FR`, no word in
    capitals, and the citizen is addressed as "vous" (never "tu"). Texts only the
    technician and setup screens show are exempt: a field technician reads them,
    and "serveur" or "QR code" are their words. Active voice and one idea per
    sentence were checked by reading; they cannot be tested by a rule.
    """
    fr = catalogue(LOCALE_DIR / "fr/LC_MESSAGES/guichet.po")
    technician_only = booth_msgids.technician_only_msgids()
    citizen = sorted(m for m in ui_msgids() if m not in technician_only)
    assert len(citizen) > 80 and "Touch the screen to start" in citizen
    assert "Wrong PIN." not in citizen and "Server address" not in citizen
    problems = []
    for msgid in citizen:
        text = fr[msgid]
        lowered = text.lower()
        for sentence in _sentences(text):
            if len(_words(sentence)) > MAX_WORDS:
                problems.append(f"too long ({len(_words(sentence))} words): {sentence}")
        problems += [f"jargon {w!r}: {text}" for w in JARGON_FR if w in lowered]
        words = re.findall(r"[\w']+", text)
        problems += [f"capitals {w!r}: {text}" for w in words if len(w) > 1 and w.isupper()]
        problems += [f"informal {w!r}: {text}" for w in words if w.lower() in INFORMAL_FR]
    assert not problems, "\n".join(problems)


def test_french_is_shown_and_switching_language_tells_listeners() -> None:
    tr = i18n.Translator("fr")
    heard: list[str] = []
    tr.add_listener(heard.append)
    assert tr.gettext("Touch the screen to start") == "Touchez l'écran pour commencer"
    assert tr.gettext("Are you still there?") == "Êtes-vous toujours là ?"
    tr.set_language("en")
    assert tr.gettext("Touch the screen to start") == "Touch the screen to start"
    assert heard == ["en"]
    tr.set_language("zz")
    assert tr.gettext("Hang up") == "Hang up", "unknown language falls back to English"


def test_pure_python_mo_matches_what_gettext_reads(tmp_path: Path) -> None:
    po = i18n.LOCALE_DIR / "fr/LC_MESSAGES/guichet.po"
    mo = tmp_path / "guichet.mo"
    i18n.write_mo(i18n.parse_po(po.read_text(encoding="utf-8")), mo)
    with mo.open("rb") as fh:
        ours = gettext.GNUTranslations(fh)
    assert ours.gettext("Hang up") == "Raccrocher"
    if shutil.which("msgfmt"):
        ref = tmp_path / "ref.mo"
        subprocess.run(["msgfmt", "-o", str(ref), str(po)], check=True)
        with ref.open("rb") as fh:
            theirs = gettext.GNUTranslations(fh)
        for msgid in ui_msgids():
            assert ours.gettext(msgid) == theirs.gettext(msgid)


def test_po_parser_skips_fuzzy_and_joins_continued_lines() -> None:
    text = "\n".join(
        [
            'msgid ""',
            'msgstr "Content-Type: text/plain; charset=UTF-8\\n"',
            "",
            "#, fuzzy",
            'msgid "Old"',
            'msgstr "Vieux"',
            "",
            'msgid "Long"',
            'msgstr ""',
            '"Très "',
            '"long"',
            "",
            'msgid "Empty"',
            'msgstr ""',
        ]
    )
    catalog = i18n.parse_po(text)
    assert catalog["Long"] == "Très long"
    assert "Old" not in catalog and "Empty" not in catalog


def test_settings_from_toml_with_overrides(tmp_path: Path) -> None:
    path = tmp_path / "booth.toml"
    path.write_text(
        '[booth]\nserver_url = "https://guichet.example.fr/"\nidle_warning_s = 45\n'
        'languages = ["fr", "en"]\nfullscreen = true\n',
        encoding="utf-8",
    )
    settings = load_settings(path, fullscreen=False, default_language=None)
    assert settings.server_url == "https://guichet.example.fr"
    assert settings.ws_url == "wss://guichet.example.fr/ws/booth"
    assert settings.idle_warning_s == 45
    assert settings.fullscreen is False
    assert settings.timers.idle_warning_s == 45


def test_settings_refuse_typos_and_bad_values(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        BoothSettings(idel_warning_s=3)  # type: ignore[call-arg]
    with pytest.raises(ValueError):
        BoothSettings(default_language="de")
    with pytest.raises(ValueError):
        BoothSettings(server_url="ftp://x")


def test_booth_offers_five_languages_and_refuses_one_without_a_catalogue() -> None:
    assert BoothSettings().languages == ["fr", "en", "es", "ar", "pt"]
    assert BoothSettings(languages=["pt", "fr"], default_language="pt").languages == ["pt", "fr"]
    with pytest.raises(ValueError, match=r"language 'oc' has no catalogue .*oc/LC_MESSAGES"):
        BoothSettings(languages=["fr", "oc"])
    with pytest.raises(ValueError, match="listed twice"):
        BoothSettings(languages=["fr", "ar", "fr"])


def test_the_server_signs_no_language_the_booth_cannot_show() -> None:
    config = BoothConfig(switchboard_url="https://g.example.fr")
    assert config.languages == ["fr", "en", "es", "ar", "pt"]
    BoothConfig(switchboard_url="https://g.example.fr", languages=["ar", "fr"])
    with pytest.raises(ValueError, match=r"\['oc'\] have no booth translations"):
        BoothConfig(switchboard_url="https://g.example.fr", languages=["fr", "oc"])


def test_arabic_is_right_to_left_and_each_language_is_named_in_itself() -> None:
    assert i18n.is_rtl("ar")
    assert not any(i18n.is_rtl(code) for code in ("fr", "en", "es", "pt", "zz"))
    assert i18n.LANGUAGE_NAMES == {
        "fr": "Français",
        "en": "English",
        "es": "Español",
        "ar": "العربية",
        "pt": "Português",
    }


def test_arabic_name_is_given_in_logical_order_with_a_font_that_draws_it() -> None:
    # The core label hook shapes and reorders it (tests/kiosk/test_booth_rtl_ui.py
    # checks the button as drawn): shaping it here too would reorder it twice.
    assert fonts.display_name("ar") == "العربية"
    assert fonts.display_name("es") == "Español"
    path = fonts.language_font("ar")
    assert path is not None and Path(path).is_file()
    bold = fonts.language_font("ar", bold=True)
    assert bold is not None and Path(bold).is_file() and bold != path
    assert fonts.language_font("fr") is None


def test_every_booth_language_translates_the_weekdays_of_the_closed_screen() -> None:
    for code in i18n.catalogue_languages():
        tr = i18n.Translator(code)
        text = opening_hours.reopening_text(tr.gettext, [0, 9, 0])
        if code != "en":
            assert "Monday" not in text and "It opens" not in text, (code, text)
        assert "9" in text and "00" in text
    assert opening_hours.reopening_text(i18n.Translator("es").gettext, [0, 9, 0]) == (
        "Vuelve a abrir el lunes a las 9:00."
    )
    assert opening_hours.reopening_text(i18n.Translator("pt").gettext, [6, 13, 30]) == (
        "Volta a abrir domingo às 13h30."
    )

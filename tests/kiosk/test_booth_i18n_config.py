"""Translations and settings of the booth (no Kivy window)."""

from __future__ import annotations

import gettext
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from kiosk import controller, guidance, i18n, technician
from kiosk.call import booth_devices
from kiosk.config import BoothSettings, load_settings

UI_DIR = Path(__file__).resolve().parents[2] / "kiosk" / "ui"
TR_CALL = re.compile(r"""tr\._\(\s*'([^']+)'\s*\)|tr\._\(\s*"([^"]+)"\s*\)""")


def ui_msgids() -> set[str]:
    """Every literal passed to ``tr._`` in the kv files, plus the controller's notices."""
    found: set[str] = set()
    for kv in UI_DIR.glob("*.kv"):
        for a, b in TR_CALL.findall(kv.read_text(encoding="utf-8")):
            found.add(a or b)
    found |= {
        controller.MSG_SOMETHING_WRONG,
        controller.MSG_SERVICE_CLOSED,
        controller.MSG_MEDIA,
        controller.MSG_INTERRUPTED,
        "This service has just closed.",  # kiosk.session, on service_closed
        *controller.CONSENT_QUESTIONS.values(),
        *booth_devices.ACTIVITY_MSGIDS,
        *technician.MSGIDS,
        *guidance.SPEECH_MSGIDS,
    }
    return found


def test_every_booth_text_has_a_french_translation() -> None:
    ids = ui_msgids()
    assert len(ids) > 30
    catalog = i18n.parse_po(
        (i18n.LOCALE_DIR / "fr/LC_MESSAGES/guichet.po").read_text(encoding="utf-8")
    )
    missing = sorted(m for m in ids if m not in catalog)
    assert not missing, f"untranslated: {missing}"


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

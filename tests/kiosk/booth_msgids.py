"""Every msgid the booth can show, read from its sources (no import of the UI).

Three places hold them:

* ``.kv`` rules: ``tr._('literal')``. A ``tr._(expression)`` is allowed only for the
  expressions of :data:`KV_DYNAMIC_ARGS`, whose msgids are marked in Python.
* Python calls with a literal first argument to a translator: ``N_("...")`` (the
  marker for msgids kept in constants and tables, ``kiosk.i18n.N_``), ``_("...")``,
  ``gettext("...")``, ``tr._("...")``.
* nothing else: a msgid kept in Python without ``N_`` is not seen, and
  :func:`unmarked_msgids` finds those that look like one.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
KIOSK = REPO / "kiosk"
TRANSLATOR_NAMES = frozenset({"N_", "_", "gettext"})
"""Function names (``N_(...)``) and attribute names (``tr._(...)``, ``t.gettext(...)``)
whose first argument is a msgid."""

KV_DYNAMIC_ARGS = {
    "app.state.notice": "kiosk.session / kiosk.controller MSG_* (N_)",
    "app.state.device_activity": "kiosk.call.booth_devices MSG_* (N_)",
    "app.state.consent_question": "kiosk.controller.CONSENT_QUESTIONS (N_)",
    "app.state.setup_error": "kiosk.controller SETUP_ERRORS / MSG_SETUP_* (N_)",
    "H.MSG_CLOSED": "kiosk.opening_hours (N_)",
    "END_MESSAGES[app.state.end_reason]": "kiosk.ui.common.END_MESSAGES (N_)",
    "REASONS[0][1]": "kiosk.ui.common.RATING_REASONS (N_)",
    "REASONS[1][1]": "kiosk.ui.common.RATING_REASONS (N_)",
    "REASONS[2][1]": "kiosk.ui.common.RATING_REASONS (N_)",
    "REASONS[3][1]": "kiosk.ui.common.RATING_REASONS (N_)",
}
"""Non-literal ``tr._(...)`` arguments in kv files and where their msgids are marked.
A new one fails :func:`kv_msgids` until it is listed here (and its msgids marked)."""

TECHNICIAN_KV = ("technician.kv", "setup.kv")
"""Screens for field technicians, not citizens (exempt from the plain-French rules)."""

_KV_CALL = re.compile(r"tr\._\(")


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}:{line}"


@dataclass(frozen=True)
class Found:
    """A msgid and where it was found (``path:line``)."""

    msgid: str
    where: str


def _kv_args(text: str) -> Iterator[tuple[int, str]]:
    """``(line, argument source)`` of every ``tr._(...)`` call in kv text."""
    for match in _KV_CALL.finditer(text):
        start = match.end()
        depth, i, quote = 1, start, ""
        while depth:
            c = text[i]
            if quote:
                if c == "\\":
                    i += 1
                elif c == quote:
                    quote = ""
            elif c in "'\"":
                quote = c
            elif c in "([{":
                depth += 1
            elif c in ")]}":
                depth -= 1
            i += 1
        yield text.count("\n", 0, match.start()) + 1, text[start : i - 1].strip()


def kv_msgids(kv_files: list[Path] | None = None) -> list[Found]:
    """Literal msgids of ``tr._`` in kv files; raises for an unlisted dynamic argument."""
    found = []
    for kv in kv_files or sorted(KIOSK.rglob("*.kv")):
        for line, arg in _kv_args(kv.read_text(encoding="utf-8")):
            where = _where(kv, line)
            node = ast.parse(arg, mode="eval").body
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.append(Found(node.value, where))
            elif arg not in KV_DYNAMIC_ARGS:
                raise AssertionError(
                    f"{where}: tr._({arg}) is not a literal; list it in KV_DYNAMIC_ARGS "
                    "with the place its msgids are marked with N_()"
                )
    return found


def _is_translator_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call) or not node.args:
        return False
    func = node.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    return name in TRANSLATOR_NAMES


def py_msgids(py_files: list[Path] | None = None) -> list[Found]:
    """Literal first arguments of translator calls in Python sources."""
    found = []
    for path in py_files or sorted(KIOSK.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not _is_translator_call(node):
                continue
            assert isinstance(node, ast.Call)
            arg = node.args[0]
            where = _where(path, node.lineno)
            if isinstance(arg, ast.JoinedStr):
                raise AssertionError(f"{where}: an f-string cannot be a msgid")
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.append(Found(arg.value, where))
    return found


def booth_msgids() -> dict[str, list[str]]:
    """Every msgid the booth can show, with the places it comes from."""
    result: dict[str, list[str]] = {}
    for item in [*kv_msgids(), *py_msgids()]:
        result.setdefault(item.msgid, []).append(item.where)
    return result


def technician_only_msgids() -> set[str]:
    """Msgids shown only on the technician and setup screens."""
    used = booth_msgids()
    technician_files = [KIOSK / "ui" / name for name in TECHNICIAN_KV]
    technician_files += [KIOSK / "technician.py", KIOSK / "ui" / "technician.py"]
    technician_places = {str(p.relative_to(REPO)) for p in technician_files}
    controller = "kiosk/controller.py"
    setup_names = strings_assigned_in(
        KIOSK / "controller.py", prefix=("MSG_SETUP_", "SETUP_ERRORS")
    )
    only = set()
    for msgid, places in used.items():
        files = {w.rsplit(":", 1)[0] for w in places}
        setup = {w for w in places if w.startswith(controller) and msgid in setup_names}
        if files <= technician_places | ({controller} if setup else set()):
            only.add(msgid)
    return only


def strings_assigned_in(path: Path, prefix: tuple[str, ...]) -> set[str]:
    """String constants assigned (directly or in a table) to names with ``prefix``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    values = set()
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id.startswith(prefix) for t in targets):
                for sub in ast.walk(node):
                    if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                        values.add(sub.value)
    return values


def unmarked_msgids(catalogue_ids: set[str]) -> list[Found]:
    """String literals in kiosk Python that equal a catalogue msgid but are not marked.

    Single lower-case or upper-case words are left out: they double as state names
    (``"connected"``) or protocol tokens (``"OK"``) and are marked where they are
    used as msgids.
    """
    found = []
    for path in sorted(KIOSK.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        marked: set[int] = set()
        docstrings: set[int] = set()
        for node in ast.walk(tree):
            if _is_translator_call(node):
                assert isinstance(node, ast.Call)
                marked.add(id(node.args[0]))
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
                docstrings.add(id(node.value))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value in catalogue_ids
                and id(node) not in marked
                and id(node) not in docstrings
                and not re.fullmatch(r"[a-z_]+|[A-Z0-9]+", node.value)
            ):
                found.append(Found(node.value, _where(path, node.lineno)))
    return found

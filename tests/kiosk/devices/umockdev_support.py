"""Running a test module under ``umockdev-wrapper`` (umockdev preloads a library).

A module calls :func:`run_module_under_umockdev` from the one test a plain pytest
run collects; that test re-runs the module in a subprocess under the wrapper and
fails (never skips) if umockdev is missing or the inner run skipped anything.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

UNDER_UMOCKDEV = "libumockdev-preload" in os.environ.get("LD_PRELOAD", "")
"""umockdev-wrapper preloads its library; UMOCKDEV_DIR only appears with a testbed."""
CHILD_FLAG = "GUICHET_UMOCKDEV_CHILD"
"""Set in the wrapped run, so a wrapper that did not preload fails instead of recursing."""
WRAPPER_TIMEOUT_S = 240
ROOT = Path(__file__).resolve().parents[3]


def run_module_under_umockdev(module_file: str) -> None:
    """Run ``module_file``'s tests under umockdev-wrapper; AssertionError on failure."""
    assert CHILD_FLAG not in os.environ, "umockdev-wrapper did not preload libumockdev"
    wrapper = shutil.which("umockdev-wrapper")
    assert wrapper is not None, (
        "umockdev-wrapper not found: apt-get install umockdev gir1.2-umockdev-1.0 "
        "(and pip install 'PyGObject<3.51' pyudev)"
    )
    result = subprocess.run(
        [wrapper, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", module_file],
        cwd=ROOT,
        env={**os.environ, CHILD_FLAG: "1"},
        capture_output=True,
        text=True,
        timeout=WRAPPER_TIMEOUT_S,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert " passed" in output and "skipped" not in output, output


def without_umockdev(env: dict[str, str]) -> dict[str, str]:
    """``env`` for a daemon that must see the real machine (cupsd, pcscd), not the testbed."""
    clean = dict(env)
    clean.pop("LD_PRELOAD", None)
    clean.pop("UMOCKDEV_DIR", None)
    return clean


def new_testbed() -> Any:
    """A fresh ``UMockdev.Testbed`` (only in a run under the wrapper); a plain error
    naming the packages when umockdev's GObject bindings are missing."""
    try:
        import gi

        gi.require_version("UMockdev", "1.0")
        from gi.repository import UMockdev
    except (ImportError, ValueError) as exc:  # pragma: no cover - environment problem
        raise RuntimeError(
            "umockdev's GObject bindings are missing: apt-get install gir1.2-umockdev-1.0 "
            "and pip install 'PyGObject<3.51'"
        ) from exc
    return UMockdev.Testbed.new()

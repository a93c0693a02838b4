"""A private SANE configuration whose only backend is ``test``: a scanner without hardware.

libsane reads ``SANE_CONFIG_DIR`` at its first ``sane_init`` in the process, so
the folder must be in the environment before any scanner code runs: the demo
puts it in the booth process's environment, the scanner tests set it for the
whole session. ``test.conf`` widens the glass to take an A4 page (the backend's
default stops at 200 mm) and draws a grid so pages are not blank. The backend
offers ``test:0`` and ``test:1``.
"""

from __future__ import annotations

from pathlib import Path

TEST_DEVICE = "test:0"
ENV_VAR = "SANE_CONFIG_DIR"

TEST_CONF = """\
number_of_devices 2
mode Gray
depth 8
resolution_min 1.0
resolution_max 1200.0
resolution_quant 1.0
resolution 50.0
test-picture "Grid"
geometry_min 0.0
geometry_max 300.0
geometry_quant 1.0
"""


def write_sane_config(folder: Path) -> Path:
    """Write ``dll.conf`` (= ``test``) and ``test.conf`` into ``folder``; returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dll.conf").write_text("test\n")
    (folder / "test.conf").write_text(TEST_CONF)
    return folder


def sane_env(folder: Path) -> dict[str, str]:
    """The environment entries that point libsane at ``folder``."""
    return {ENV_VAR: str(folder)}

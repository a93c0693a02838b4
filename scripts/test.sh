#!/usr/bin/env bash
# Installs what is missing, then runs the whole test suite (lint and types
# included) on a virtual screen. Extra arguments go to pytest, e.g.
#   bash scripts/test.sh -m "not e2e and not browser"   (fast subset)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export GUICHET_ARTIFACTS="${GUICHET_ARTIFACTS:-$PWD/test-artifacts}"
mkdir -p "$GUICHET_ARTIFACTS/screenshots"
exec xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python -m pytest -p no:cacheprovider "$@"

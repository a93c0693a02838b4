#!/usr/bin/env bash
# Installs what is missing, then starts the whole system on embedded defaults:
# the central server on SQLite and one booth with simulated camera and
# microphone. Prints the agent console URL and a login. Ctrl-C stops it all.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/guichet demo "$@"

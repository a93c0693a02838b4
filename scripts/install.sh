#!/usr/bin/env bash
# Installs what is missing for Guichet on Debian 12 (apt packages, a venv, the
# project with all extras, compiled translations). Idempotent: a second run
# installs nothing and takes a second or two.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  python3 python3-venv python3-dev gcc pkg-config   # venv and wheels that compile
  xvfb xauth libmtdev1 libgl1-mesa-dri libegl1 libgles2 libgl1 xsel   # Kivy under X (xsel: its cut buffer)
  chromium                                          # agent side in tests and the demo
  gettext                                           # msgfmt for the booth's catalogues
  fonts-dejavu-core                                 # booth fonts (DejaVu Sans draws Latin and Arabic)
  fonts-noto-core                                   # Noto faces: Noto Sans Arabic (fallback), other scripts
  procps                                            # pkill/ps used by the scripts
  libsane-dev sane-utils libsane1                   # scanners (python-sane builds on libsane-dev)
  pcscd libpcsclite-dev swig vsmartcard-vpcd        # smart cards (pyscard builds with swig)
  umockdev gir1.2-umockdev-1.0 libgirepository1.0-dev libcairo2-dev   # hotplug tests (PyGObject builds)
  cups cups-client cups-ipp-utils cups-pdf poppler-utils   # A4 printing (ipptool follows jobs); tests print to CUPS-PDF
  systemd udev shellcheck xinit x11-xserver-utils   # booth OS files: units and rules verified, kiosk X session, installer lint
  coturn                                            # TURN relay (tests run a private one on 127.0.0.1)
  strace                                            # privacy proof: every file the booth process writes
  espeak-ng                                         # offline spoken guidance (fr en es ar pt voices)
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "install.sh: run as root or install sudo" >&2; exit 1; fi
fi

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install.sh: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python 3.11: Debian 12's python3 is 3.11; prefer an explicit 3.11 if several exist.
PY="${GUICHET_PYTHON:-}"
if [ -z "$PY" ]; then
  for cand in python3.11 python3; do
    if command -v "$cand" >/dev/null && "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PY="$cand"; break
    fi
  done
fi
[ -n "$PY" ] || { echo "install.sh: Python 3.11 is required" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=".venv/.guichet-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e ".[kiosk,server,dev]"
  echo "$want" > "$stamp"
fi

# Compiled translations are build products: make them from the .po files.
if [ -d assets/locale ]; then
  for po in assets/locale/*/LC_MESSAGES/*.po; do
    [ -e "$po" ] || continue
    mo="${po%.po}.mo"
    if [ ! -f "$mo" ] || [ "$po" -nt "$mo" ]; then msgfmt --check-format -o "$mo" "$po"; fi
  done
fi

# npm test tools, one folder each with its committed lock: a real OpenID Connect
# provider (oidc-provider) and axe-core for the consoles' accessibility checks.
# `npm ci` only when the lock changed or node_modules is missing;
# `--prefer-offline` lets a warm npm cache do it without the network.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "install.sh: installing nodejs npm"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
NPM_DIRS=(tests/oidc tests/a11y)
for dir in "${NPM_DIRS[@]}"; do
  [ -f "$dir/package-lock.json" ] || continue
  npm_stamp="$dir/node_modules/.guichet-installed"
  npm_want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
  if [ ! -f "$npm_stamp" ] || [ "$(cat "$npm_stamp")" != "$npm_want" ]; then
    (cd "$dir" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error)
    echo "$npm_want" > "$npm_stamp"
  fi
done

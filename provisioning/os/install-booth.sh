#!/usr/bin/env bash
# Turns a fresh Debian 12 machine into a Guichet booth: packages, the booth user
# and its device groups, the app in a venv, the systemd units, udev rules and the
# kiosk X session. Idempotent: run it again after an update of the source, it
# changes only what differs. Run as root from a checkout (or an unpacked release):
#
#   sudo bash provisioning/os/install-booth.sh            # install
#   bash provisioning/os/install-booth.sh --dry-run       # print what it would do
#
# Then enrol the booth (docs/technician.md) and reboot.
set -euo pipefail

usage() {
    cat <<'USAGE'
usage: install-booth.sh [--dry-run] [--no-apt] [--no-app] [--root DIR] [--source DIR] [--prefix DIR]
  --dry-run     print every change it would make, change nothing (no root needed)
  --no-apt      do not install Debian packages (they are already there)
  --no-app      do not install the app into the venv (OS files, user and groups only)
  --root DIR    install into the system tree at DIR (an image being built) instead
                of /; implies --no-apt and --no-app, reloads nothing
  --source DIR  the Guichet source to install (default: this checkout)
  --prefix DIR  where the app goes (default /opt/guichet; the units expect it)
USAGE
}

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SOURCE="$(cd "$HERE/../.." && pwd)"
PREFIX="/opt/guichet"
DRY_RUN=0
APT=1
APP=1
ROOT=""
CHANGED=0

BOOTH_USER="guichet-booth"
BOOTH_HOME="/var/lib/guichet-booth"
DEVICE_GROUP="guichet-devices"
# dialout: serial readers; lp: USB printers; video: cameras and GPU; audio: sound;
# render: GPU render nodes; scanner: SANE's ACLs; guichet-devices: our udev rules.
BOOTH_GROUPS=(dialout lp video audio render scanner "$DEVICE_GROUP")
CONFIG_DIR="/etc/guichet"
LIB_DIR="/usr/local/lib/guichet"
UNIT_DIR="/etc/systemd/system"
UDEV_DIR="/etc/udev/rules.d"
XORG_DIR="/etc/X11/xorg.conf.d"
UNITS=(guichet-kiosk-x.service guichet-booth.service)

APT_PACKAGES=(
    python3 python3-venv                                    # the app's venv (Python 3.11)
    xserver-xorg-core xserver-xorg-input-libinput xinit     # the kiosk X server
    x11-xserver-utils x11-xkb-utils xauth                   # xset, setxkbmap, the X cookie
    libgl1-mesa-dri libegl1 libgles2 libgl1 libmtdev1 xsel  # Kivy
    fonts-dejavu-core fonts-noto-core espeak-ng             # fonts, offline speech
    pcscd libccid                                           # smart-card readers
    sane-utils libsane1                                     # scanners
    cups cups-client                                        # A4 printer
    alsa-utils                                              # speaker and microphone checks
)

while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) DRY_RUN=1 ;;
        --no-apt) APT=0 ;;
        --no-app) APP=0 ;;
        --root) ROOT="$(cd "$2" && pwd)"; APT=0; APP=0; shift ;;
        --source) SOURCE="$(cd "$2" && pwd)"; shift ;;
        --prefix) PREFIX="$2"; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
    shift
done

say() {
    echo "install-booth: $*"
}

# Every change goes through run: printed, then done unless --dry-run.
run() {
    CHANGED=1
    if [ "$DRY_RUN" -eq 1 ]; then
        echo "would run:$(printf ' %q' "$@")"
    else
        echo "+$(printf ' %q' "$@")"
        "$@"
    fi
}

# Install a file only when it differs (so a second run changes nothing).
install_file() {
    local mode="$1" src="$2" dest="$ROOT$3"
    if [ -f "$dest" ] && cmp -s "$src" "$dest"; then
        say "up to date: $dest"
        return
    fi
    run install -D -m "$mode" -o 0 -g 0 "$src" "$dest"
}

# Users and groups are read from the files of the tree being installed (with
# --root, not the machine's), so the checks hold for both.
has_entry() {
    grep -q "^$2:" "$ROOT/etc/$1"
}
is_member() {
    awk -F: -v g="$1" -v u="$2" \
        '$1 == g { n = split($4, m, ","); for (i = 1; i <= n; i++) if (m[i] == u) found = 1 }
         END { exit !found }' "$ROOT/etc/group"
}
# Numeric ids (a name would be looked up on this machine, not in --root's tree);
# the name itself while it does not exist yet (dry run).
id_of() {
    local id
    id="$(awk -F: -v n="$2" '$1 == n { print $3 }' "$ROOT/etc/$1")"
    echo "${id:-$2}"
}
if [ -n "$ROOT" ]; then
    ROOT_OPTION=(--root "$ROOT")
else
    ROOT_OPTION=()
fi

if [ "$DRY_RUN" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
    echo "install-booth: run as root (or with --dry-run)" >&2
    exit 1
fi
[ -f "$SOURCE/pyproject.toml" ] || { echo "install-booth: no Guichet source in $SOURCE" >&2; exit 1; }
say "source $SOURCE, app in $PREFIX$([ "$DRY_RUN" -eq 1 ] && echo ' (dry run: nothing is changed)')"

# 1. Debian packages.
if [ "$APT" -eq 1 ]; then
    missing=()
    for pkg in "${APT_PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$pkg")
        fi
    done
    if [ ${#missing[@]} -gt 0 ]; then
        run apt-get update -qq
        run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    else
        say "Debian packages: all installed"
    fi
fi

# 2. Groups and the booth user (a system user, no login shell, home = its state).
for group in "${BOOTH_GROUPS[@]}"; do
    if ! has_entry group "$group"; then
        run groupadd "${ROOT_OPTION[@]}" --system "$group"
    fi
done
if ! has_entry passwd "$BOOTH_USER"; then
    run useradd "${ROOT_OPTION[@]}" --system --user-group --home-dir "$BOOTH_HOME" \
        --no-create-home --shell /usr/sbin/nologin --comment "Guichet booth" "$BOOTH_USER"
fi
for group in "${BOOTH_GROUPS[@]}"; do
    if ! is_member "$group" "$BOOTH_USER"; then
        run usermod "${ROOT_OPTION[@]}" --append --groups "$group" "$BOOTH_USER"
    fi
done
BOOTH_UID="$(id_of passwd "$BOOTH_USER")"
BOOTH_GID="$(id_of group "$BOOTH_USER")"

# 3. The app: a venv in $PREFIX with the booth's extras, the docs beside it.
if [ "$APP" -eq 1 ]; then
    if [ ! -x "$PREFIX/.venv/bin/python" ]; then
        run install -d -m 0755 "$PREFIX"
        run python3 -m venv "$PREFIX/.venv"
    fi
    stamp="$PREFIX/.venv/.guichet-source"
    want="$(cd "$SOURCE" && find guichet kiosk provisioning switchboard assets pyproject.toml \
        -type f ! -name '*.pyc' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        run "$PREFIX/.venv/bin/pip" install -q --upgrade pip
        run "$PREFIX/.venv/bin/pip" install -q "${SOURCE}[kiosk]"
        if [ "$DRY_RUN" -eq 0 ]; then
            echo "$want" > "$stamp"
        fi
    else
        say "app: up to date"
    fi
else
    say "app: not installed (--no-app or --root)"
fi
for page in "$SOURCE"/docs/*.md; do
    install_file 0644 "$page" "$PREFIX/docs/$(basename "$page")"
done

# 4. Configuration folder (root-owned, readable by the booth) and state folder.
if [ ! -d "$ROOT$CONFIG_DIR" ]; then
    run install -d -m 0750 -o 0 -g "$BOOTH_GID" "$ROOT$CONFIG_DIR"
fi
if [ ! -f "$ROOT$CONFIG_DIR/booth.toml" ]; then
    run install -m 0640 -o 0 -g "$BOOTH_GID" "$HERE/booth.toml.example" "$ROOT$CONFIG_DIR/booth.toml"
fi
if [ ! -d "$ROOT$BOOTH_HOME" ]; then
    run install -d -m 0700 -o "$BOOTH_UID" -g "$BOOTH_GID" "$ROOT$BOOTH_HOME"
fi

# 5. OS files: units, udev rules, X session.
for unit in "${UNITS[@]}"; do
    install_file 0644 "$HERE/$unit" "$UNIT_DIR/$unit"
done
install_file 0644 "$HERE/70-guichet-booth.rules" "$UDEV_DIR/70-guichet-booth.rules"
install_file 0644 "$HERE/10-guichet-kiosk.conf" "$XORG_DIR/10-guichet-kiosk.conf"
install_file 0755 "$HERE/guichet-kiosk-session" "$LIB_DIR/guichet-kiosk-session"

# 6. Let systemd and udev see them (only after a change, and only on a running
# system); start in graphical mode with the booth on.
if [ "$CHANGED" -eq 1 ] && [ -z "$ROOT" ]; then
    run systemctl daemon-reload
    run udevadm control --reload
    run udevadm trigger --action=change --subsystem-match=tty --subsystem-match=usbmisc \
        --subsystem-match=usb --subsystem-match=video4linux --subsystem-match=sound
fi
SYSTEMCTL=(systemctl)
if [ -n "$ROOT" ]; then
    SYSTEMCTL=(systemctl "--root=$ROOT")
fi
for unit in "${UNITS[@]}"; do
    if ! "${SYSTEMCTL[@]}" is-enabled --quiet "$unit" 2>/dev/null; then
        run "${SYSTEMCTL[@]}" enable "$unit"
    fi
done
# What `systemctl set-default graphical.target` does, also for an image's tree.
default_target="/lib/systemd/system/graphical.target"
if [ "$(readlink "$ROOT/etc/systemd/system/default.target" || true)" != "$default_target" ]; then
    run ln -sfn "$default_target" "$ROOT/etc/systemd/system/default.target"
fi

if [ "$CHANGED" -eq 0 ]; then
    say "nothing to change: the booth is installed as this source says"
fi
say "done. Next: enrol the booth (guichet enrol, docs/technician.md), then reboot."

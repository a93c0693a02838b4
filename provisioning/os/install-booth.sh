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
usage: install-booth.sh [--dry-run] [--no-apt] [--source DIR] [--prefix DIR]
  --dry-run     print every change it would make, change nothing (no root needed)
  --no-apt      do not install Debian packages (they are already there)
  --source DIR  the Guichet source to install (default: this checkout)
  --prefix DIR  where the app goes (default /opt/guichet; the units expect it)
USAGE
}

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SOURCE="$(cd "$HERE/../.." && pwd)"
PREFIX="/opt/guichet"
DRY_RUN=0
APT=1

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
    if [ "$DRY_RUN" -eq 1 ]; then
        echo "would run:$(printf ' %q' "$@")"
    else
        echo "+$(printf ' %q' "$@")"
        "$@"
    fi
}

# Install a file only when it differs (so a second run changes nothing).
install_file() {
    local mode="$1" src="$2" dest="$3"
    if [ -f "$dest" ] && cmp -s "$src" "$dest"; then
        say "up to date: $dest"
        return
    fi
    run install -D -m "$mode" -o root -g root "$src" "$dest"
}

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
    if ! getent group "$group" >/dev/null; then
        run groupadd --system "$group"
    fi
done
if ! id "$BOOTH_USER" >/dev/null 2>&1; then
    run useradd --system --user-group --home-dir "$BOOTH_HOME" --no-create-home \
        --shell /usr/sbin/nologin --comment "Guichet booth" "$BOOTH_USER"
fi
current_groups=" $(id -nG "$BOOTH_USER" 2>/dev/null || true) "
for group in "${BOOTH_GROUPS[@]}"; do
    if [[ "$current_groups" != *" $group "* ]]; then
        run usermod --append --groups "$group" "$BOOTH_USER"
    fi
done

# 3. The app: a venv in $PREFIX with the booth's extras, the docs beside it.
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
for page in "$SOURCE"/docs/*.md; do
    install_file 0644 "$page" "$PREFIX/docs/$(basename "$page")"
done

# 4. Configuration folder (root-owned, readable by the booth) and state folder.
if [ ! -d "$CONFIG_DIR" ]; then
    run install -d -m 0750 -o root -g "$BOOTH_USER" "$CONFIG_DIR"
fi
if [ ! -f "$CONFIG_DIR/booth.toml" ]; then
    run install -m 0640 -o root -g "$BOOTH_USER" "$HERE/booth.toml.example" "$CONFIG_DIR/booth.toml"
fi
if [ ! -d "$BOOTH_HOME" ]; then
    run install -d -m 0700 -o "$BOOTH_USER" -g "$BOOTH_USER" "$BOOTH_HOME"
fi

# 5. OS files: units, udev rules, X session.
for unit in "${UNITS[@]}"; do
    install_file 0644 "$HERE/$unit" "$UNIT_DIR/$unit"
done
install_file 0644 "$HERE/70-guichet-booth.rules" "$UDEV_DIR/70-guichet-booth.rules"
install_file 0644 "$HERE/10-guichet-kiosk.conf" "$XORG_DIR/10-guichet-kiosk.conf"
install_file 0755 "$HERE/guichet-kiosk-session" "$LIB_DIR/guichet-kiosk-session"

# 6. Let systemd and udev see them; start in graphical mode with the booth on.
run systemctl daemon-reload
run udevadm control --reload
run udevadm trigger --action=change --subsystem-match=tty --subsystem-match=usbmisc \
    --subsystem-match=usb --subsystem-match=video4linux --subsystem-match=sound
run systemctl enable "${UNITS[@]}"
run systemctl set-default graphical.target

say "done. Next: enrol the booth (guichet enrol, docs/technician.md), then reboot."

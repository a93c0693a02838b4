"""The booth's OS files (provisioning/os/): systemd units, udev rules, X session, installer.

systemd is not PID 1 here, so nothing is booted: the units are checked by
``systemd-analyze verify`` (systemd's own unit parser, which works offline) and
``systemd-analyze security --offline``; the udev rules by ``udevadm test`` (udev's
own rules engine) run in a private mount namespace, so that it can neither load
the rules into the machine's udev nor change a real device node, on fake USB
devices made by umockdev (vendor and product IDs, device nodes); the X session
script against a real Xvfb; the installer with ``--dry-run`` and shellcheck.
A Python reading of the files checks the keys and values the project relies on,
and runs even where those tools are missing.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
OS_DIR = REPO / "provisioning" / "os"
UNITS = ["guichet-booth.service", "guichet-server.service", "guichet-kiosk-x.service"]
SCRIPTS = [OS_DIR / "install-booth.sh", OS_DIR / "guichet-kiosk-session"]
RULES = OS_DIR / "70-guichet-booth.rules"
APP_EXEC = "/opt/guichet/.venv/bin/guichet"
SESSION_EXEC = "/usr/local/lib/guichet/guichet-kiosk-session"
MAX_EXPOSURE = {"guichet-booth.service": 3.0, "guichet-server.service": 2.0}
"""``systemd-analyze security`` scores (0 best, 10 worst) the units must stay under."""


def read_unit(name: str) -> dict[str, dict[str, list[str]]]:
    """Sections -> key -> values (a key may repeat, as systemd allows)."""
    units: dict[str, dict[str, list[str]]] = {}
    section = ""
    for raw in (OS_DIR / name).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            units.setdefault(section, {})
            continue
        key, sep, value = line.partition("=")
        assert sep and section, f"{name}: not key=value in a section: {raw!r}"
        units[section].setdefault(key.strip(), []).append(value.strip())
    return units


def one(unit: dict[str, dict[str, list[str]]], section: str, key: str) -> str:
    values = unit[section].get(key)
    assert values, f"[{section}] {key} missing"
    return values[-1]


# ---------------------------------------------------------------- systemd units


@pytest.mark.parametrize("name", ["guichet-booth.service", "guichet-server.service"])
def test_units_notify_watch_restart_and_are_hardened(name: str) -> None:
    unit = read_unit(name)
    assert one(unit, "Service", "Type") == "notify"
    assert one(unit, "Service", "NotifyAccess") == "main"
    assert int(one(unit, "Service", "WatchdogSec")) > 0
    assert one(unit, "Service", "Restart") == "on-failure"
    assert float(one(unit, "Service", "RestartSec")) <= 2
    assert one(unit, "Service", "ExecStart").startswith(APP_EXEC + " ")
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "ProtectKernelTunables": "yes",
        "ProtectKernelModules": "yes",
        "ProtectControlGroups": "yes",
        "RestrictSUIDSGID": "yes",
        "LockPersonality": "yes",
        "UMask": "0077",
        "CapabilityBoundingSet": "",
        "SystemCallArchitectures": "native",
    }.items():
        assert one(unit, "Service", key) == value, f"{name}: {key}"
    # Only its own state is writable, 0700 (the server refuses a looser data dir).
    assert one(unit, "Service", "StateDirectoryMode") == "0700"
    # A watchdog kill leaves Python stacks in the journal, never a core on disk.
    assert one(unit, "Service", "LimitCORE") == "0"
    assert "PYTHONFAULTHANDLER=1" in unit["Service"]["Environment"]
    user = one(unit, "Service", "User")
    assert user != "root" and user.startswith("guichet")


def test_booth_unit_restarts_fast_runs_on_the_kiosk_x_and_keeps_its_devices() -> None:
    unit = read_unit("guichet-booth.service")
    # Killed booth back on the welcome screen within 5 s: 1 s wait + start.
    assert one(unit, "Service", "RestartSec") == "1"
    assert one(unit, "Unit", "StartLimitIntervalSec") == "0"
    assert int(one(unit, "Service", "WatchdogSec")) <= 30
    assert one(unit, "Service", "User") == "guichet-booth"
    assert "guichet-kiosk-x.service" in one(unit, "Unit", "BindsTo")
    # ...and X brings it back when X itself restarts.
    assert "guichet-booth.service" in one(read_unit("guichet-kiosk-x.service"), "Unit", "Wants")
    assert one(unit, "Service", "ExecStartPre") == f"{SESSION_EXEC} wait-x"
    env = unit["Service"]["Environment"]
    assert "DISPLAY=:0" in env
    assert "XAUTHORITY=/run/guichet-kiosk-x/Xauthority" in env
    # What would cut the booth off its peripherals, X socket or udev events.
    assert "PrivateDevices" not in unit["Service"]
    assert "DevicePolicy" not in unit["Service"]
    assert "PrivateUsers" not in unit["Service"]
    assert "MemoryDenyWriteExecute" not in unit["Service"]  # llvmpipe JIT
    assert one(unit, "Service", "BindReadOnlyPaths") == "-/tmp/.X11-unix"
    families = one(unit, "Service", "RestrictAddressFamilies").split()
    assert {"AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"} <= set(families)


def test_the_server_unit_runs_with_its_own_user_and_data_dir() -> None:
    unit = read_unit("guichet-server.service")
    assert one(unit, "Service", "User") == "guichet"
    assert one(unit, "Service", "StateDirectory") == "guichet"
    assert "--data-dir /var/lib/guichet" in one(unit, "Service", "ExecStart")
    assert one(unit, "Service", "PrivateDevices") == "yes"


@pytest.fixture
def units_with_stub_programs(tmp_path: Path) -> Path:
    """The units in a folder, their programs pointing at stubs (the app is not installed
    at /opt/guichet here, and ``verify`` checks that every ExecStart is executable)."""
    stub_dir = tmp_path / "bin"
    stub_dir.mkdir()
    stubs = {APP_EXEC: stub_dir / "guichet", SESSION_EXEC: stub_dir / "guichet-kiosk-session"}
    for stub in stubs.values():
        stub.write_text("#!/bin/sh\n")
        stub.chmod(0o755)
    for name in UNITS:
        text = (OS_DIR / name).read_text()
        for real, stub in stubs.items():
            text = text.replace(real, str(stub))
        (tmp_path / name).write_text(text)
    return tmp_path


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="needs systemd-analyze")
def test_systemd_analyze_verify_finds_nothing_to_say(units_with_stub_programs: Path) -> None:
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *[f"./{name}" for name in UNITS]],
        cwd=units_with_stub_programs,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # verify exits 0 on mere warnings (an unknown key is "ignored"): demand silence.
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="needs systemd-analyze")
@pytest.mark.parametrize("name", sorted(MAX_EXPOSURE))
def test_systemd_security_exposure_stays_low(name: str, units_with_stub_programs: Path) -> None:
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", f"./{name}"],
        cwd=units_with_stub_programs,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert found, result.stdout + result.stderr
    assert float(found.group(1)) <= MAX_EXPOSURE[name], result.stdout


# ---------------------------------------------------------------- udev rules

MATCH_KEYS = {"ACTION", "SUBSYSTEM", "SUBSYSTEMS", "KERNEL", "DRIVERS", "ATTR", "ATTRS", "ENV"}
ASSIGN_KEYS = {"GROUP", "MODE", "SYMLINK", "ENV", "TAG", "OWNER", "ATTR", "GOTO", "LABEL"}
TOKEN = re.compile(
    r'^(?P<key>[A-Z]+)(?:\{(?P<attr>[^}]+)\})?(?P<op>==|!=|\+=|-=|:=|=)"(?P<value>[^"]*)"$'
)


def rule_lines() -> Iterator[tuple[int, list[re.Match[str]]]]:
    """(line number, tokens) of each rule, each token checked against ``TOKEN``."""
    for number, raw in enumerate(RULES.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        assert not line.endswith("\\"), f"line {number}: keep one rule on one line"
        tokens = []
        for part in re.split(r",\s*(?=[A-Z]+(?:\{[^}]*\})?[=!+:-])", line):
            token = TOKEN.match(part.strip())
            assert token, f"line {number}: cannot read {part!r}"
            tokens.append(token)
        yield number, tokens


def test_udev_rules_read_as_udev_reads_them_and_use_the_installer_groups() -> None:
    installer = (OS_DIR / "install-booth.sh").read_text()
    booth_groups = re.search(r"^BOOTH_GROUPS=\((.*)\)", installer, re.M)
    assert booth_groups
    groups = {g.strip('"') for g in booth_groups.group(1).split()}
    groups = {("guichet-devices" if g == "$DEVICE_GROUP" else g) for g in groups}
    labels: set[str] = set()
    gotos: set[str] = set()
    usb_ids: list[tuple[str, str]] = []
    for number, tokens in rule_lines():
        assert any(t["op"] in ("==", "!=") for t in tokens) or tokens[0]["key"] == "LABEL"
        for t in tokens:
            key, op, value = t["key"], t["op"], t["value"]
            if op in ("==", "!="):
                assert key in MATCH_KEYS, f"line {number}: {key} cannot be matched"
            else:
                assert key in ASSIGN_KEYS, f"line {number}: {key} cannot be assigned"
            if key == "GROUP":
                assert value in groups, f"line {number}: the booth is not in group {value}"
            if key == "MODE":
                assert value == "0660", f"line {number}: devices are never world-readable"
            if key == "SYMLINK":
                assert op == "+=" and value.startswith("guichet/")
            if key == "LABEL":
                labels.add(value)
            if key == "GOTO":
                gotos.add(value)
            if t["attr"] in ("idVendor", "idProduct"):
                assert re.fullmatch(r"[0-9a-f]{4}", value), f"line {number}: {value}"
                usb_ids.append((t["attr"], value))
    assert gotos <= labels
    assert len(usb_ids) >= 10  # vendor and product of each example


def udevadm_test_isolated(
    tmp_path: Path, rules_dir: Path, group_file: Path, sys_path: str, device: str | None = None
) -> str:
    """``udevadm test`` with only ``rules_dir`` in /etc/udev/rules.d, in a private mount
    namespace where /run is an empty tmpfs and /dev an overlay whose writes land in
    ``tmp_path`` (udevadm test really creates symlinks and sets modes): nothing real
    is touched. With ``device`` (a umockdev description) the device is faked by
    ``umockdev-run``, so the rules meet a USB device with vendor and product IDs."""
    work = tmp_path / "dev-overlay"
    for sub in ("upper", "work", "pts"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    command = f"udevadm test --action=add {sys_path}"
    if device is not None:
        (tmp_path / "device.umockdev").write_text(device)
        command = f"umockdev-run --device {tmp_path / 'device.umockdev'} -- {command}"
    script = (
        f"mount --bind {rules_dir} /etc/udev/rules.d && "
        f"mount --bind {group_file} /etc/group && "
        "mount -t tmpfs tmpfs /run && "
        f"mount --bind /dev/pts {work / 'pts'} && "
        f"mount -t overlay overlay -o lowerdir=/dev,upperdir={work / 'upper'},"
        f"workdir={work / 'work'} /dev && "
        f"mount --bind {work / 'pts'} /dev/pts && "
        f"{command}"
    )
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "Reading rules file: /etc/udev/rules.d/" in output, output
    return output


def booth_groups_file(tmp_path: Path) -> Path:
    """/etc/group plus the groups install-booth.sh creates, so that udev resolves them."""
    group_file = tmp_path / "group"
    group_file.write_text(
        Path("/etc/group").read_text() + "guichet-devices:x:990:\nguichet-booth:x:991:\n"
    )
    return group_file


needs_udevadm_namespace = pytest.mark.skipif(
    not (shutil.which("udevadm") and shutil.which("unshare") and os.geteuid() == 0)
    or not Path("/sys/class/tty/tty0").exists(),
    reason="udevadm test runs isolated only as root with unshare (and /sys/class/tty/tty0)",
)


@needs_udevadm_namespace
def test_udevadm_parses_the_rules_without_a_complaint(tmp_path: Path) -> None:
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    shutil.copy(RULES, rules_dir)
    output = udevadm_test_isolated(
        tmp_path, rules_dir, booth_groups_file(tmp_path), "/sys/class/tty/tty0"
    )
    complaints = [
        line
        for line in output.splitlines()
        if RULES.name in line and not line.startswith("Reading rules file")
    ]
    assert complaints == [], output


@needs_udevadm_namespace
def test_udevadm_check_catches_a_broken_rule(tmp_path: Path) -> None:
    """The check above would see a mistake: a typo'd operator and an unknown group."""
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / RULES.name).write_text(
        'SUBSYSTEM=="tty", ATTRS{idVendor}="0403", MODE="0660"\n'
        'SUBSYSTEM=="tty", GROUP="no-such-group-here"\n'
    )
    output = udevadm_test_isolated(tmp_path, rules_dir, Path("/etc/group"), "/sys/class/tty/tty0")
    assert f"{RULES.name}:1 Invalid operator" in output
    assert f"{RULES.name}:2 Unknown group" in output


USB_BUS = "/devices/pci0000:00/0000:00:14.0/usb1"
GROUP_IDS = {"dialout": "20", "video": "44", "lp": "7", "guichet-devices": "990"}
"""Debian's fixed ids, and the one ``booth_groups_file`` gives guichet-devices."""


def fake_usb_device(
    vendor: str,
    product: str,
    child: str = "",
    node: str = "",
    dev: str = "",
    subsystem: str = "",
    attrs: str = "",
) -> str:
    """A umockdev description: a USB device ``vendor:product`` on bus 1 port 1 and,
    with ``child`` (a path below its first interface), the node a driver made for it."""
    parts = []
    major, _, minor = dev.partition(":")
    if child:
        parts.append(
            f"P: {USB_BUS}/1-1/1-1:1.0/{child}\nN: {node}\nE: DEVNAME=/dev/{node}\n"
            f"E: SUBSYSTEM={subsystem}\nE: MAJOR={major}\nE: MINOR={minor}\n"
            f"A: dev={dev}\n{attrs}"
        )
        parts.append(f"P: {USB_BUS}/1-1/1-1:1.0\nE: DEVTYPE=usb_interface\nE: SUBSYSTEM=usb\n")
    parts.append(
        f"P: {USB_BUS}/1-1\nN: bus/usb/001/002\nE: DEVNAME=/dev/bus/usb/001/002\n"
        "E: DEVTYPE=usb_device\nE: SUBSYSTEM=usb\nE: MAJOR=189\nE: MINOR=1\n"
        f"A: idVendor={vendor}\n"
        f"A: idProduct={product}\nA: dev=189:1\n"
    )
    parts.append(
        f"P: {USB_BUS}\nE: DEVTYPE=usb_device\nE: SUBSYSTEM=usb\n"
        "A: idVendor=1d6b\nA: idProduct=0002\n"
    )
    parts.append("P: /devices/pci0000:00/0000:00:14.0\nE: SUBSYSTEM=pci\n")
    return "\n".join(parts)


def udev_result(output: str) -> dict[str, str]:
    """The device's final properties, plus the last GROUP and MODE udev set."""
    props = dict(re.findall(r"^([A-Za-z_]+)=(.*)$", output, re.M))
    for what in ("GROUP", "MODE"):
        found = re.findall(rf"\.rules:\d+ {what} (\d+)$", output, re.M)
        if found:
            props[f"_{what}"] = found[-1]
    return props


UDEV_CASES = {
    "card_reader_ftdi_serial": (
        fake_usb_device("0403", "6001", "ttyUSB0/tty/ttyUSB0", "ttyUSB0", "188:0", "tty"),
        "1-1:1.0/ttyUSB0/tty/ttyUSB0",
        {
            "_GROUP": "guichet-devices",
            "_MODE": "0660",
            "GUICHET_ROLE": "card_reader",
            "link": "/dev/guichet/card_reader",
        },
    ),
    "receipt_printer_usblp": (
        fake_usb_device("0416", "5011", "usbmisc/lp0", "usb/lp0", "180:0", "usbmisc"),
        "1-1:1.0/usbmisc/lp0",
        {
            "_GROUP": "guichet-devices",
            "_MODE": "0660",
            "GUICHET_ROLE": "receipt_printer",
            "link": "/dev/guichet/receipt_printer",
        },
    ),
    "receipt_printer_raw_usb": (
        fake_usb_device("0416", "5011"),
        "",
        {"_GROUP": "guichet-devices", "_MODE": "0660"},
    ),
    "camera_capture_node": (
        fake_usb_device(
            "046d", "0825", "video4linux/video0", "video0", "81:0", "video4linux", "A: index=0\n"
        ),
        "1-1:1.0/video4linux/video0",
        {
            "_GROUP": "video",
            "_MODE": "0660",
            "GUICHET_ROLE": "camera",
            "link": "/dev/guichet/camera",
        },
    ),
    "scanner_unknown_to_sane": (
        fake_usb_device("04a9", "1909"),
        "",
        {"libsane_matched": "yes", "GUICHET_ROLE": "scanner"},
    ),
    "any_other_serial_device": (
        fake_usb_device("1234", "abcd", "tty/ttyACM0", "ttyACM0", "166:0", "tty"),
        "1-1:1.0/tty/ttyACM0",
        {"_GROUP": "dialout", "_MODE": "0660", "GUICHET_ROLE": None, "link": None},
    ),
}


@needs_udevadm_namespace
@pytest.mark.skipif(not shutil.which("umockdev-run"), reason="needs umockdev-run (apt umockdev)")
@pytest.mark.parametrize("case", sorted(UDEV_CASES))
def test_udev_rules_give_each_fake_usb_device_its_group_mode_and_name(
    case: str, tmp_path: Path
) -> None:
    description, below, wanted = UDEV_CASES[case]
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    shutil.copy(RULES, rules_dir)
    sys_path = f"/sys{USB_BUS}/1-1" + (f"/{below}" if below else "")
    output = udevadm_test_isolated(
        tmp_path, rules_dir, booth_groups_file(tmp_path), sys_path, device=description
    )
    props = udev_result(output)
    for key, value in wanted.items():
        if key == "link":
            links = props.get("DEVLINKS", "").split()
            if value is None:
                assert not [x for x in links if x.startswith("/dev/guichet/")], output
            else:
                assert value in links, output
        elif key == "_GROUP":
            assert props.get("_GROUP") == GROUP_IDS[str(value)], output
        else:
            assert props.get(key) == value, output


# ---------------------------------------------------------------- X session


@pytest.fixture
def xvfb(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A private Xvfb with an X cookie, as the kiosk X server has; its environment."""
    if not shutil.which("Xvfb") or not shutil.which("xset"):
        pytest.skip("needs Xvfb and xset (x11-xserver-utils)")
    number = next(n for n in range(50, 200) if not Path(f"/tmp/.X{n}-lock").exists())
    display = f":{number}"
    auth = tmp_path / "Xauthority"
    auth.touch(mode=0o600)
    # The cookie is in the file before X starts (X reads it then), as the session does.
    subprocess.run(
        [
            "xauth",
            "-q",
            "-f",
            str(auth),
            "add",
            display,
            "MIT-MAGIC-COOKIE-1",
            os.urandom(16).hex(),
        ],
        check=True,
        timeout=10,
    )
    server = subprocess.Popen(
        ["Xvfb", display, "-auth", str(auth), "-nolisten", "tcp", "-noreset"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while not Path(f"/tmp/.X11-unix/X{number}").exists():
        assert server.poll() is None and time.monotonic() < deadline, "Xvfb did not start"
        time.sleep(0.05)
    env = {**os.environ, "XAUTHORITY": str(auth), "GUICHET_DISPLAY": display, "DISPLAY": display}
    try:
        yield env
    finally:
        server.terminate()
        server.wait(10)


def session(
    env: dict[str, str], *args: str, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(OS_DIR / "guichet-kiosk-session"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_kiosk_session_turns_blanking_and_dpms_off(xvfb: dict[str, str]) -> None:
    subprocess.run(["xset", "s", "on", "s", "600"], env=xvfb, check=True, timeout=10)
    result = session(xvfb, "lock-down")
    assert result.returncode == 0, result.stderr
    query = subprocess.run(["xset", "q"], env=xvfb, capture_output=True, text=True, timeout=10)
    assert re.search(r"timeout:\s+0\b", query.stdout), query.stdout
    assert "prefer blanking:  no" in query.stdout
    # Xvfb has no DPMS extension; a real X server (Xorg) must report it off.
    if "does not have the DPMS Extension" not in query.stdout:
        assert "DPMS is Disabled" in query.stdout


def test_wait_x_returns_once_x_answers_and_fails_without_it(xvfb: dict[str, str]) -> None:
    assert session(xvfb, "wait-x").returncode == 0
    # The right display but not the cookie: X refuses, as it would refuse anyone else.
    no_cookie = {**xvfb, "XAUTHORITY": "/nonexistent", "GUICHET_WAIT_X_S": "1"}
    started = time.monotonic()
    refused = session(no_cookie, "wait-x")
    assert refused.returncode == 1 and "no X server answered" in refused.stderr
    assert time.monotonic() - started < 10
    assert session(xvfb, "dance").returncode == 2


@pytest.mark.skipif(
    not (shutil.which("xinit") and shutil.which("Xvfb") and shutil.which("xset")),
    reason="needs xinit, Xvfb and xset (apt xinit xvfb x11-xserver-utils)",
)
def test_session_server_starts_x_with_a_cookie_locked_down_and_stops_with_the_unit(
    tmp_path: Path,
) -> None:
    """``server`` mode as guichet-kiosk-x.service runs it, with Xvfb standing in for Xorg."""
    number = next(n for n in range(50, 200) if not Path(f"/tmp/.X{n}-lock").exists())
    auth = tmp_path / "Xauthority"
    env = {
        **os.environ,
        "XAUTHORITY": str(auth),
        "GUICHET_DISPLAY": f":{number}",
        "GUICHET_X_SERVER": shutil.which("Xvfb") or "Xvfb",
        "GUICHET_X_CONSOLE_OPTIONS": "",  # Xvfb has no console (vt7, -keeptty, ...)
        "GUICHET_WAIT_X_S": "20",
    }
    env.pop("DISPLAY", None)
    unit = subprocess.Popen(
        [str(OS_DIR / "guichet-kiosk-session"), "server"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "session.log").open("wb"),
        start_new_session=True,  # systemd stops the unit's whole cgroup; we, the group
    )
    try:
        assert session(env, "wait-x").returncode == 0, (tmp_path / "session.log").read_text()
        # Only the cookie opens the display.
        assert auth.stat().st_mode & 0o077 == 0
        deadline = time.monotonic() + 20
        while "X session ready" not in (tmp_path / "session.log").read_text():
            assert time.monotonic() < deadline, (tmp_path / "session.log").read_text()
            time.sleep(0.1)
        query = subprocess.run(
            ["xset", "q"],
            env={**env, "DISPLAY": f":{number}"},
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        assert re.search(r"timeout:\s+0\b", query.stdout), query.stdout
        refused = session({**env, "XAUTHORITY": "/nonexistent", "GUICHET_WAIT_X_S": "1"}, "wait-x")
        assert refused.returncode == 1
    finally:
        os.killpg(unit.pid, signal.SIGTERM)
        unit.wait(20)
    assert not Path(f"/tmp/.X11-unix/X{number}").exists()


def test_xorg_snippet_forbids_zap_and_vt_switch_and_blanking() -> None:
    text = (OS_DIR / "10-guichet-kiosk.conf").read_text()
    assert text.count("Section ") == text.count("EndSection")
    for option in ("DontZap", "DontVTSwitch"):
        assert f'Option "{option}" "true"' in text
    for option in ("BlankTime", "StandbyTime", "SuspendTime", "OffTime"):
        assert f'Option "{option}" "0"' in text


# ---------------------------------------------------------------- installer


def test_install_dry_run_lists_every_step_and_changes_nothing(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            "bash",
            str(OS_DIR / "install-booth.sh"),
            "--dry-run",
            "--no-apt",
            "--prefix",
            str(tmp_path / "opt"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "dry run: nothing is changed" in out
    steps = [line for line in out.splitlines() if line.startswith("would run:")]
    assert not [line for line in out.splitlines() if line.startswith("+ ")], "it ran something"
    assert not (tmp_path / "opt").exists()
    for unit in ("guichet-booth.service", "guichet-kiosk-x.service"):
        assert any(f"/etc/systemd/system/{unit}" in s for s in steps) or (
            f"up to date: /etc/systemd/system/{unit}" in out
        )
    assert any("/etc/udev/rules.d/70-guichet-booth.rules" in s for s in steps) or (
        "up to date: /etc/udev/rules.d/70-guichet-booth.rules" in out
    )
    for unit in ("guichet-kiosk-x.service", "guichet-booth.service"):
        assert any(s.endswith(f"systemctl enable {unit}") for s in steps), steps
    assert any("venv" in s for s in steps)
    if subprocess.run(["id", "guichet-booth"], capture_output=True, check=False).returncode:
        assert any(" useradd " in s and s.endswith(" guichet-booth") for s in steps)
    assert "apt-get" not in out  # --no-apt


@pytest.mark.skipif(os.geteuid() != 0, reason="useradd --root needs root (CI runs as root)")
def test_install_into_a_system_tree_then_again_changes_nothing(tmp_path: Path) -> None:
    """``--root`` installs into a tree (the machine itself is not touched); the second
    run finds everything in place and changes nothing."""
    root = tmp_path / "image"
    (root / "etc").mkdir(parents=True)
    for name in ("passwd", "group", "shadow", "gshadow", "login.defs"):
        shutil.copy(Path("/etc") / name, root / "etc" / name)
    machine_groups = Path("/etc/group").read_text()
    command = ["bash", str(OS_DIR / "install-booth.sh"), "--root", str(root)]
    first = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert first.returncode == 0, first.stdout + first.stderr
    assert Path("/etc/group").read_text() == machine_groups  # only the tree changed

    passwd = (root / "etc/passwd").read_text()
    user = re.search(
        r"^guichet-booth:x:(\d+):(\d+):[^:]*:/var/lib/guichet-booth:/usr/sbin/nologin$",
        passwd,
        re.M,
    )
    assert user, passwd
    uid, gid = int(user.group(1)), int(user.group(2))
    groups = (root / "etc/group").read_text()
    for group in ("dialout", "lp", "video", "audio", "render", "scanner", "guichet-devices"):
        members = re.search(rf"^{group}:x:\d+:(.*)$", groups, re.M)
        assert members and "guichet-booth" in members.group(1).split(","), group
    modes = {
        "etc/systemd/system/guichet-booth.service": 0o644,
        "etc/systemd/system/guichet-kiosk-x.service": 0o644,
        "etc/udev/rules.d/70-guichet-booth.rules": 0o644,
        "etc/X11/xorg.conf.d/10-guichet-kiosk.conf": 0o644,
        "usr/local/lib/guichet/guichet-kiosk-session": 0o755,
        "etc/guichet": 0o750,
        "etc/guichet/booth.toml": 0o640,
        "var/lib/guichet-booth": 0o700,
        "opt/guichet/docs/technician.md": 0o644,
    }
    for path, mode in modes.items():
        assert (root / path).stat().st_mode & 0o7777 == mode, path
    assert (root / "etc/guichet").stat().st_gid == gid
    assert (root / "var/lib/guichet-booth").stat().st_uid == uid
    wants = root / "etc/systemd/system/graphical.target.wants"
    assert {p.name for p in wants.iterdir()} == {"guichet-booth.service", "guichet-kiosk-x.service"}
    assert os.readlink(root / "etc/systemd/system/default.target") == (
        "/lib/systemd/system/graphical.target"
    )

    second = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "nothing to change" in second.stdout
    assert not [line for line in second.stdout.splitlines() if line.startswith("+ ")]


def test_install_refuses_to_run_without_root_or_dry_run() -> None:
    command = ["bash", str(OS_DIR / "install-booth.sh"), "--no-apt"]
    if os.geteuid() == 0:
        # As root (CI), try it as nobody.
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1 and "run as root" in result.stderr, result.stderr


def test_install_rejects_unknown_options() -> None:
    result = subprocess.run(
        ["bash", str(OS_DIR / "install-booth.sh"), "--wipe-everything"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2 and "usage:" in result.stderr


@pytest.mark.skipif(not shutil.which("shellcheck"), reason="needs shellcheck (apt shellcheck)")
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_shell_scripts_pass_shellcheck(script: Path) -> None:
    result = subprocess.run(
        ["shellcheck", str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout

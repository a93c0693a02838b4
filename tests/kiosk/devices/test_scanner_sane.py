"""Scanner driver against the real SANE ``test`` backend, with a private config dir.

libsane reads ``SANE_CONFIG_DIR`` once, at the first ``sane_init`` of the process,
so the private folder is made before any scanner code runs and kept for the whole
session. The folder is the product's (:mod:`kiosk.devices.sim.sane_test`, also
used by the demo): A4-sized glass, a grid so pages are not blank.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from kiosk.devices.base import DeviceError, DeviceState, DeviceStatus
from kiosk.devices.scanner import Scanner
from kiosk.devices.scanner_options import A4_HEIGHT_MM, A4_WIDTH_MM, expected_pixels
from kiosk.devices.sim.sane_test import write_sane_config

pytest.importorskip("sane")


@pytest.fixture(scope="session", autouse=True)
def sane_config_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private SANE config: only the ``test`` backend, A4-sized glass."""
    if shutil.which("scanimage") is None and not Path("/usr/lib/x86_64-linux-gnu/sane").exists():
        pytest.skip("SANE (libsane1) is not installed")
    folder = write_sane_config(tmp_path_factory.mktemp("sane"))
    previous = os.environ.get("SANE_CONFIG_DIR")
    os.environ["SANE_CONFIG_DIR"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("SANE_CONFIG_DIR", None)
    else:
        os.environ["SANE_CONFIG_DIR"] = previous


@pytest.fixture(autouse=True)
def reset_test_backend() -> Iterator[None]:
    """Put the test devices back to normal after each test.

    The ``test`` backend keeps each device's option values from one open to the
    next for the life of the process, like a real scanner keeps its panel
    settings: a test that makes the device jam must not leave it jammed.
    """
    yield
    import sane

    for name in ("test:0", "test:1"):
        dev = sane.open(name)
        try:
            dev.read_return_value = "Default"
            dev.read_delay = False
            dev.source = "Flatbed"
        finally:
            dev.close()


class Statuses(list[DeviceStatus]):
    """Collects what the driver reports."""

    @property
    def states(self) -> list[DeviceState]:
        return [status.state for status in self]


def _open_png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize("dpi", [150, 300])
async def test_a4_colour_scan_has_the_right_pixel_size(dpi: int) -> None:
    statuses = Statuses()
    scanner = Scanner("test:0", resolution_dpi=dpi, mode="color", on_status=statuses.append)
    fractions: list[float] = []
    result = await scanner.scan(progress=fractions.append)
    assert (result.width, result.height) == (
        expected_pixels(A4_WIDTH_MM, dpi),
        expected_pixels(A4_HEIGHT_MM, dpi),
    )
    assert result.dpi == dpi
    assert result.media_type == "image/png"
    image = _open_png(result.data)
    assert image.size == (result.width, result.height)
    assert image.mode == "RGB"
    assert round(image.info["dpi"][0]) == dpi
    assert fractions[-1] == 1.0
    assert fractions == sorted(fractions)
    assert statuses.states == [DeviceState.BUSY, DeviceState.READY]


async def test_gray_scan_gives_a_single_channel_jpeg() -> None:
    scanner = Scanner(
        "test:1", resolution_dpi=150, mode="gray", on_status=lambda _s: None, image_format="jpeg"
    )
    result = await scanner.scan()
    assert result.media_type == "image/jpeg"
    image = _open_png(result.data)
    assert image.format == "JPEG"
    assert image.mode == "L"
    assert image.size == (expected_pixels(A4_WIDTH_MM, 150), expected_pixels(A4_HEIGHT_MM, 150))


async def test_no_device_name_takes_the_first_scanner_and_probe_says_ready() -> None:
    statuses = Statuses()
    scanner = Scanner(None, on_status=statuses.append)
    status = await scanner.probe()
    assert status.state is DeviceState.READY
    assert status.details["device"] == "test:0"
    assert statuses.states == [DeviceState.READY]


async def test_missing_device_is_a_clear_error_and_unavailable() -> None:
    statuses = Statuses()
    scanner = Scanner("epson2:libusb:001:004", on_status=statuses.append)
    status = await scanner.probe()
    assert status.state is DeviceState.UNAVAILABLE
    assert "introuvable" in status.reason
    with pytest.raises(DeviceError) as caught:
        await scanner.scan()
    assert caught.value.code == "no_device"
    assert "epson2:libusb:001:004" in caught.value.reason
    assert statuses.states == [DeviceState.UNAVAILABLE, DeviceState.BUSY, DeviceState.UNAVAILABLE]


@pytest.mark.parametrize(
    ("sane_status", "code", "words"),
    [
        ("SANE_STATUS_JAMMED", "jammed", "coincé"),
        ("SANE_STATUS_NO_DOCS", "feeder_empty", "chargeur"),
        ("SANE_STATUS_COVER_OPEN", "cover_open", "capot"),
        # What a scanner unplugged in the middle of a page returns.
        ("SANE_STATUS_IO_ERROR", "io_error", "débranché"),
    ],
)
async def test_backend_failures_become_french_reasons_and_unavailable(
    sane_status: str, code: str, words: str
) -> None:
    statuses = Statuses()
    scanner = Scanner(
        "test:0",
        resolution_dpi=75,
        on_status=statuses.append,
        backend_options={"read-return-value": sane_status},
    )
    with pytest.raises(DeviceError) as caught:
        await scanner.scan()
    assert caught.value.code == code
    assert words in caught.value.reason
    assert scanner.status.state is DeviceState.UNAVAILABLE
    assert scanner.status.reason == caught.value.reason
    # The booth stays up and the next, healthy scan works again.
    healthy = Scanner(
        "test:0",
        resolution_dpi=75,
        on_status=statuses.append,
        backend_options={"read-return-value": "Default"},
    )
    assert (await healthy.scan()).width == expected_pixels(A4_WIDTH_MM, 75)


async def test_feeder_source_is_selected_and_scans() -> None:
    """The feeder scans like the glass.

    The test backend counts feeder pages per open, and the driver opens the
    device for each page, so its "empty after N pages" never triggers here; an
    empty feeder is covered above through SANE_STATUS_NO_DOCS instead.
    """
    scanner = Scanner("test:1", resolution_dpi=50, source="adf", on_status=lambda _s: None)
    result = await scanner.scan()
    assert result.height == expected_pixels(A4_HEIGHT_MM, 50)


async def test_asking_a_flatbed_only_scanner_for_its_feeder_is_refused() -> None:
    from kiosk.devices.scanner_options import OptionInfo, OptionMappingError, ScanSettings
    from kiosk.devices.scanner_options import sane_options as map_options

    with pytest.raises(OptionMappingError) as caught:
        map_options(
            ScanSettings(source="adf"),
            {"source": OptionInfo("source", choices=("Flatbed", "Transparency"))},
        )
    assert caught.value.code == "no_feeder"


async def test_a_second_scan_while_busy_is_refused_not_queued() -> None:
    scanner = Scanner(
        "test:0",
        resolution_dpi=50,
        on_status=lambda _s: None,
        backend_options={"read-delay": True, "read-delay-duration": 20000},
    )
    first = asyncio.create_task(scanner.scan())
    await asyncio.sleep(0.05)
    with pytest.raises(DeviceError) as caught:
        await scanner.scan()
    assert caught.value.code == "busy"
    assert (await first).height > 0


async def test_a_scan_asked_while_a_probe_has_the_device_open_waits_for_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SANE refuses a second open of a device (DEVICE_BUSY); the job waits for the probe.

    This race made CI fail once: on a loaded machine the manager's first probe
    still had test:0 open when the agent's scan opened it. A probe's open/close
    lasts ~150 µs here, so the probe is slowed down to hold the real device
    open for 300 ms, as a loaded machine would.
    """
    scanner = Scanner("test:0", resolution_dpi=25, on_status=lambda _s: None)
    opened = threading.Event()
    real_open = scanner._open

    def slow_probe() -> dict[str, str]:
        dev = real_open("test:0")
        opened.set()
        time.sleep(0.3)
        dev.close()
        return {"device": "test:0"}

    monkeypatch.setattr(scanner, "_probe_blocking", slow_probe)
    probe = asyncio.create_task(scanner.probe())
    assert await asyncio.to_thread(opened.wait, 5)
    page = await scanner.scan()
    await probe
    assert page.width == expected_pixels(A4_WIDTH_MM, 25)
    assert scanner.status.state is DeviceState.READY


async def test_a_faulty_progress_callback_does_not_break_the_scan() -> None:
    def explode(_fraction: float) -> None:
        raise RuntimeError("UI gone")

    scanner = Scanner("test:0", resolution_dpi=50, on_status=lambda _s: None)
    result = await scanner.scan(progress=explode)
    assert result.height == expected_pixels(A4_HEIGHT_MM, 50)
    assert scanner.status.state is DeviceState.READY


async def test_the_agents_dpi_and_gray_choice_override_the_booth_config_for_one_page() -> None:
    scanner = Scanner("test:0", resolution_dpi=75, mode="color", on_status=lambda _s: None)
    gray = await scanner.scan(dpi=150, mode="gray")
    assert gray.dpi == 150
    image = _open_png(gray.data)
    assert image.mode == "L"
    assert image.size == (expected_pixels(A4_WIDTH_MM, 150), expected_pixels(A4_HEIGHT_MM, 150))
    # The next page without a choice is the booth's own setting again.
    again = await scanner.scan()
    assert again.dpi == 75
    assert _open_png(again.data).mode == "RGB"


async def test_a_resolution_the_device_lacks_gives_the_nearest_one() -> None:
    import sane

    dev = sane.open("test:1")
    try:
        low, high, _quant = next(o[8] for o in dev.get_options() if o[1] == "resolution")
    finally:
        dev.close()
    scanner = Scanner("test:1", resolution_dpi=150, on_status=lambda _s: None)
    result = await scanner.scan(dpi=int(high) + 600, mode="gray")
    assert result.dpi == round(high)
    with pytest.raises(DeviceError) as caught:
        await scanner.scan(dpi=0)
    assert caught.value.code == "bad_request"
    assert low >= 1


async def test_a_300_dpi_gray_request_from_the_agent_reaches_the_scanner() -> None:
    """Console → BoothDeviceHandler → DeviceManager → SANE, with the booth set to 150 colour."""
    from guichet.wire import DeviceKind
    from kiosk.call.booth_devices import BoothDeviceHandler
    from kiosk.devices.config import DevicesConfig, Role
    from kiosk.devices.manager import DeviceManager

    manager = DeviceManager(
        DevicesConfig.model_validate({"scanner": {"device": "test:0", "dpi": 150}}),
        hotplug=False,
    )
    await manager.start()
    try:

        async def yes(_kind: DeviceKind) -> bool:
            return True

        handler = BoothDeviceHandler(manager, yes)
        page = await handler.scan(300, False)
        assert page.dpi == 300
        image = _open_png(page.data)
        assert image.mode == "L"
        assert image.size == (
            expected_pixels(A4_WIDTH_MM, 300),
            expected_pixels(A4_HEIGHT_MM, 300),
        )
        assert manager.statuses[Role.SCANNER].details.get("last_dpi") == "300"
    finally:
        await manager.stop()


async def test_an_unavailable_scanner_falls_back_to_a_photo_from_the_booth_camera(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from guichet.wire import DeviceKind
    from kiosk.call import booth_devices as bd
    from kiosk.call.media import make_media
    from kiosk.devices.config import DevicesConfig
    from kiosk.devices.manager import DeviceManager

    monkeypatch.setattr(bd, "CAMERA_COUNTDOWN_STEP_S", 0.01)
    manager = DeviceManager(
        DevicesConfig.model_validate({"scanner": {"device": "test:9"}}), hotplug=False
    )
    media = make_media(True)
    await manager.start()
    try:

        async def yes(_kind: DeviceKind) -> bool:
            return True

        lines: list[str] = []
        handler = bd.BoothDeviceHandler(
            manager, yes, on_activity=lines.append, camera=media.subscribe_video
        )
        page = await asyncio.wait_for(handler.scan(300, True), 20.0)
        assert page.mime == "image/jpeg"
        image = _open_png(page.data)
        assert image.format == "JPEG"
        assert image.mode == "RGB"
        assert (page.width, page.height) == image.size == (640, 480)
        assert 1 <= page.dpi < 300  # an estimate, not the 300 asked for
        assert [bd.MSG_HOLD_DOCUMENT[n] for n in (3, 2, 1)] == [
            line for line in lines if line in bd.MSG_HOLD_DOCUMENT.values()
        ][-3:]
        assert lines[-2:] == [bd.MSG_HOLD_STILL, bd.MSG_PHOTO_TAKEN]
    finally:
        media.close()
        await manager.stop()

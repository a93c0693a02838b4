"""A fleet booth's settings from its signed config, its peripherals in the heartbeat,
and the rule that a new config waits for the end of the citizen's session."""

from __future__ import annotations

import asyncio
from pathlib import Path

from kiosk import session as s
from kiosk.config import BoothSettings
from kiosk.controller import MSG_SETUP_INCOMPLETE, TICK_S, BoothController
from kiosk.devices.base import DeviceState, DeviceStatus
from kiosk.fleet import is_enrolled, peripheral_states, settings_from_config
from kiosk.technician import hash_pin
from provisioning.schema import BoothConfig, Branding, IdleTimeouts, Peripheral, PeripheralRole


def _local(tmp_path: Path) -> BoothSettings:
    return BoothSettings(
        data_dir=tmp_path,
        site="florac",
        fullscreen=False,
        devices={"barcode_reader": {"path": "/dev/ttyACM7"}},
    )


def test_config_decides_everything_but_the_local_bootstrap(tmp_path: Path) -> None:
    pin = hash_pin("2468")
    config = BoothConfig(
        switchboard_url="https://guichet.example.fr/",
        services=["caf", "ants"],
        languages=["fr", "en"],
        default_language="en",
        branding=Branding(name="Mairie de Florac", primary_colour="#18753c"),
        idle=IdleTimeouts(warning_s=45, waiting_warning_s=200, reset_s=20, goodbye_s=5),
        volume=60,
        peripherals={
            PeripheralRole.RECEIPT_PRINTER: Peripheral(tcp="192.0.2.10:9100"),
            PeripheralRole.A4_PRINTER: Peripheral(queue="guichet-a4"),
            PeripheralRole.SMART_CARD: Peripheral(reader="ACS ACR39U"),
        },
        technician_pin_hash=pin,
        log_level="warning",
        heartbeat_interval_s=30,
    )
    settings = settings_from_config(_local(tmp_path), config)
    assert settings.server_url == "https://guichet.example.fr"
    assert settings.ws_url == "wss://guichet.example.fr/ws/booth"
    assert settings.services == ["caf", "ants"]
    assert settings.default_language == "en"
    assert (settings.brand_name, settings.brand_primary) == ("Mairie de Florac", "#18753c")
    assert settings.timers == s.Timers(45, 200, 20, 5)
    assert settings.volume == 60
    assert settings.technician_pin_hash == pin
    assert settings.log_level == "warning"
    assert settings.config_poll_s == 30
    assert settings.devices.receipt_printer is not None
    assert settings.devices.receipt_printer.tcp == "192.0.2.10:9100"
    assert settings.devices.a4_printer is not None
    assert settings.devices.a4_printer.queue == "guichet-a4"
    assert settings.devices.smart_card is not None
    assert settings.devices.smart_card.reader == "ACS ACR39U"
    # The bundle names peripherals: the local ones are not mixed in.
    assert settings.devices.barcode_reader is None
    # Local bootstrap kept.
    assert settings.data_dir == tmp_path
    assert settings.site == "florac"
    assert settings.fullscreen is False


def test_local_devices_kept_when_the_config_names_none(tmp_path: Path) -> None:
    settings = settings_from_config(
        _local(tmp_path), BoothConfig(switchboard_url="http://127.0.0.1:8700")
    )
    assert settings.devices.barcode_reader is not None
    assert settings.devices.barcode_reader.path == "/dev/ttyACM7"
    assert settings.brand_name == "France Services"


def test_peripheral_states_as_the_heartbeat_reports_them() -> None:
    statuses = [
        DeviceStatus("receipt_printer", "escpos", DeviceState.READY),
        DeviceStatus("a4_printer", "cups", DeviceState.BUSY),
        DeviceStatus("card_reader", "serial_card", DeviceState.DEGRADED, "lecteur lent"),
        DeviceStatus("barcode_reader", "serial_barcode", DeviceState.UNAVAILABLE, "débranché"),
        DeviceStatus("scanner", "sane", DeviceState.UNKNOWN),
    ]
    assert [(p.role, p.state.value, p.reason) for p in peripheral_states(statuses)] == [
        ("receipt_printer", "ok", ""),
        ("a4_printer", "ok", ""),
        ("card_reader", "degraded", "lecteur lent"),
        ("barcode_reader", "unavailable", "débranché"),
        ("scanner", "unavailable", "pas encore vérifié"),
    ]


def test_no_identity_until_key_and_identity_exist(tmp_path: Path) -> None:
    assert not is_enrolled(tmp_path)
    (tmp_path / "booth.key").write_text("x")
    assert not is_enrolled(tmp_path)
    (tmp_path / "identity.json").write_text("{}")
    assert is_enrolled(tmp_path)


def test_new_config_waits_for_the_end_of_the_session(tmp_path: Path) -> None:
    async def scenario() -> None:
        settings = BoothSettings(fullscreen=False, token="t" * 16)
        controller = BoothController(settings)
        newer = settings.model_copy(update={"brand_name": "Mairie de Florac", "config_version": 2})
        tick = asyncio.create_task(controller._tick_loop())
        try:
            controller.dispatch(s.StartTapped())
            assert controller.state is s.State.CHOOSING
            controller.pending_settings = newer
            await asyncio.sleep(TICK_S * 3)
            assert controller.settings.brand_name == "Visio-guichet"  # not mid-session
            controller.dispatch(s.BackTapped())
            assert controller.state is s.State.WELCOME
            await asyncio.sleep(TICK_S * 3)
            assert controller.settings.brand_name == "Mairie de Florac"
            assert controller.pending_settings is None
        finally:
            tick.cancel()
            await controller.stop()

    asyncio.run(scenario())


def test_setup_refuses_to_guess_a_missing_server_address(tmp_path: Path) -> None:
    async def scenario() -> None:
        controller = BoothController(BoothSettings(data_dir=tmp_path, fullscreen=False))
        assert controller.screen == "setup"
        assert controller.setup_asks_server()
        for char in "ABCDEFGHJKMNPQRSTU":  # two too many: the 17th and 18th are ignored
            controller.setup_key(char)
        assert controller.setup_code == "ABCDEFGHJKMNPQRS"
        controller.submit_enrolment("", "florac")
        assert controller.setup_error == MSG_SETUP_INCOMPLETE
        assert not controller.setup_busy
        controller.setup_key("erase")
        assert controller.setup_code == "ABCDEFGHJKMNPQR"
        assert controller.setup_error == ""
        await controller.stop()

    asyncio.run(scenario())

"""Byte transports: a real pyserial loop port, a real pty pair, a real TCP socket."""

from __future__ import annotations

import asyncio
import os
import pty
import tty

import pytest

from kiosk.devices.transport import SerialTransport, TcpTransport, TransportClosed


async def test_serial_loop_port_echoes_and_times_out_empty() -> None:
    port = SerialTransport("loop://")
    await port.write(b"\x10\x04\x01")
    assert await port.read(16, timeout=1.0) == b"\x10\x04\x01"
    assert await port.read(16, timeout=0.1) == b""
    await port.close()
    await port.close()


async def test_serial_over_a_pty_pair_reaches_the_other_end() -> None:
    device_side, booth_side = pty.openpty()
    tty.setraw(device_side)
    tty.setraw(booth_side)
    port = SerialTransport(os.ttyname(booth_side))
    try:
        await port.write("Reçu n° 12\n".encode("cp858"))
        got = await asyncio.to_thread(os.read, device_side, 64)
        assert got == "Reçu n° 12\n".encode("cp858")
        os.write(device_side, b"\x12")
        assert await port.read(1, timeout=1.0) == b"\x12"
    finally:
        await port.close()
        os.close(device_side)
        os.close(booth_side)


def test_missing_serial_device_is_a_clear_error() -> None:
    with pytest.raises(TransportClosed, match="/dev/ttyUSB-nowhere"):
        SerialTransport("/dev/ttyUSB-nowhere")


async def test_tcp_printer_port_round_trip_and_disconnect() -> None:
    received: list[bytes] = []

    async def printer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.read(64))
        writer.write(b"\x12")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(printer, "127.0.0.1", 0)
    port_no = server.sockets[0].getsockname()[1]
    try:
        link = await TcpTransport.connect("127.0.0.1", port_no)
        await link.write(b"\x10\x04\x01")
        assert await link.read(1, timeout=1.0) == b"\x12"
        assert received == [b"\x10\x04\x01"]
        with pytest.raises(TransportClosed):
            await link.read(1, timeout=1.0)
        await link.close()
    finally:
        server.close()
        await server.wait_closed()


async def test_unreachable_tcp_printer_is_a_clear_error() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port_no = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    with pytest.raises(TransportClosed, match="cannot reach"):
        await TcpTransport.connect("127.0.0.1", port_no, timeout=1.0)

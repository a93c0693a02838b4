"""Device simulators: real byte streams over pty pairs or local TCP, for tests and demos."""

from kiosk.devices.sim.escpos_printer import PrintedRecord, PrinterState, SimulatedEscPosPrinter

__all__ = ["PrintedRecord", "PrinterState", "SimulatedEscPosPrinter"]

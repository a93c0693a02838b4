"""Booth peripherals: pure protocol code, thin transports, drivers, simulators."""

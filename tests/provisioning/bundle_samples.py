"""Configs and dates shared by the booth-store tests and their child process."""

from __future__ import annotations

from datetime import UTC, datetime

from provisioning.schema import BoothConfig

BOOTH = "florac-1"
ISSUED = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def sample_config(version: int) -> BoothConfig:
    """A config that differs with ``version`` and is a few kilobytes long."""
    return BoothConfig(
        switchboard_url="https://guichet.example.fr",
        services=[f"service-{version}-{i:02d}-" + "x" * 40 for i in range(64)],
        volume=version % 101,
    )

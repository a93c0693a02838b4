"""The services booths offer, read from a TOML file (names per language, icon, hours)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from guichet.wire import Id, RecordingNotice
from switchboard.hours import LANGUAGES, HoursError, OpeningHours, parse_hours


class CatalogueError(ValueError):
    """A catalogue file that cannot be used; the message names the file and the field."""


class _ServiceFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: Id
    name: dict[str, Annotated[str, Field(min_length=1, max_length=120)]]
    description: dict[str, Annotated[str, Field(max_length=1000)]] = Field(default_factory=dict)
    icon: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9-]+$")]
    hours: str | list[str] = "always"
    expected_call_s: Annotated[int, Field(gt=0, le=24 * 3600)] = 600
    recording: RecordingNotice | None = None
    """Off by default. Set (``recording = { retention_days = 365 }``) only when the
    service records its calls with its own means: Guichet records nothing itself."""

    @field_validator("recording", mode="before")
    @classmethod
    def _recording_table(cls, value: object) -> object:
        # "recording = true" must not pass for a notice: the citizen is told how long.
        if isinstance(value, bool):
            raise ValueError(
                "must be a table such as { retention_days = 365 } (how long the service"
                " keeps recordings, told to the citizen); leave it out for no recording"
            )
        return value

    @field_validator("name")
    @classmethod
    def _needs_french(cls, value: dict[str, str]) -> dict[str, str]:
        # French is the booth's fallback language, so every service must have it.
        if "fr" not in value:
            raise ValueError("needs at least a French ('fr') name")
        return value


class _CatalogueFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    service: Annotated[list[_ServiceFile], Field(min_length=1)]


@dataclass(frozen=True)
class Service:
    """One service of the catalogue."""

    id: str
    name: dict[str, str]
    description: dict[str, str]
    icon: str
    hours: OpeningHours
    expected_call_s: int
    recording: RecordingNotice | None = None
    """None: calls are not recorded (the default)."""

    def name_in(self, language: str) -> str:
        """The name in ``language``, else French."""
        return self.name.get(language, self.name["fr"])

    def is_open(self, now: datetime) -> bool:
        return self.hours.is_open(now)

    def hours_text(self) -> dict[str, str]:
        """Human-readable hours in every language we can write them in."""
        return {lang: self.hours.describe(lang) for lang in LANGUAGES}


@dataclass(frozen=True)
class Catalogue:
    """Services in display order."""

    services: tuple[Service, ...]
    source: str

    def get(self, service_id: str) -> Service | None:
        return next((s for s in self.services if s.id == service_id), None)

    @property
    def ids(self) -> list[str]:
        return [s.id for s in self.services]


def default_catalogue_path() -> Path:
    """The demo catalogue shipped inside the package."""
    return Path(__file__).with_name("default_services.toml")


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Read and check a catalogue file; raises :class:`CatalogueError` naming what is wrong."""
    path = path or default_catalogue_path()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogueError(f"{path}: cannot read catalogue: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise CatalogueError(f"{path}: not UTF-8 text: {exc.reason} at byte {exc.start}") from exc
    return parse_catalogue(text, str(path))


def parse_catalogue(text: str, source: str = "<catalogue>") -> Catalogue:
    """Parse catalogue TOML text (``source`` names it in errors)."""
    try:
        raw: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message already says "(at line N, column M)".
        raise CatalogueError(f"{source}: not valid TOML: {exc}") from exc
    except RecursionError as exc:  # arrays nested thousands deep
        raise CatalogueError(f"{source}: not valid TOML: nested too deeply") from exc
    try:
        parsed = _CatalogueFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise CatalogueError(f"{source}: {_where(first['loc'], raw)}: {first['msg']}") from exc
    services = []
    seen: set[str] = set()
    for index, item in enumerate(parsed.service):
        if item.id in seen:
            raise CatalogueError(f"{source}: service[{index}] ({item.id}): duplicate id")
        seen.add(item.id)
        try:
            hours = parse_hours(item.hours)
        except HoursError as exc:
            raise CatalogueError(f"{source}: service[{index}] ({item.id}).hours: {exc}") from exc
        services.append(
            Service(
                id=item.id,
                name=dict(item.name),
                description=dict(item.description),
                icon=item.icon,
                hours=hours,
                expected_call_s=item.expected_call_s,
                recording=item.recording,
            )
        )
    return Catalogue(tuple(services), source)


def _where(loc: tuple[int | str, ...], raw: dict[str, Any]) -> str:
    """``service[2] (justice).hours`` from a pydantic error location."""
    if len(loc) >= 2 and loc[0] == "service" and isinstance(loc[1], int):
        index = loc[1]
        items = raw.get("service")
        label = f"service[{index}]"
        if isinstance(items, list) and index < len(items) and isinstance(items[index], dict):
            service_id = items[index].get("id")
            if isinstance(service_id, str):
                label += f" ({service_id})"
        rest = ".".join(str(p) for p in loc[2:])
        return f"{label}.{rest}" if rest else label
    return ".".join(str(p) for p in loc) or "file"

"""Configuration layers: values set for the fleet, a group, a site or one booth.

Pure code. A layer is a flat mapping of dotted keys (``volume``,
``branding.name``, ``peripherals.receipt_printer``) to JSON values. A booth's
config is its enrolment base with the layers applied in order of priority,
fleet < groups (by name) < site < booth; :func:`resolve` also says, for every
leaf value, which layer it comes from, so the console can show it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from provisioning.schema import BoothConfig

DEFAULT_SOURCE = "default"
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
"""Group names, like site ids: lower-case letters, digits and dashes."""
MAX_VALUE_DEPTH = 8
"""Deeper than any value of the schema (``opening_hours.mon[0].start`` is 3 levels)."""
KEY_MAX = 120


class Scope(StrEnum):
    """Where a value is set; later members win over earlier ones."""

    FLEET = "fleet"
    GROUP = "group"
    SITE = "site"
    BOOTH = "booth"


PRIORITY = {Scope.FLEET: 0, Scope.GROUP: 1, Scope.SITE: 2, Scope.BOOTH: 3}


def source_label(scope: Scope, target: str) -> str:
    """``fleet``, ``group:canary``, ``site:florac``, ``booth:florac-3fa2c1``."""
    return scope.value if scope is Scope.FLEET else f"{scope.value}:{target}"


@dataclass(frozen=True)
class Layer:
    scope: Scope
    target: str
    values: Mapping[str, Any]

    @property
    def label(self) -> str:
        return source_label(self.scope, self.target)


@dataclass(frozen=True)
class FieldError:
    """One validation error, located by dotted key."""

    key: str
    message: str


class ConfigInvalid(ValueError):
    """A change that would give some booth a config the schema refuses."""

    def __init__(self, errors: Sequence[FieldError], booth_id: str | None = None) -> None:
        where = f" (booth {booth_id})" if booth_id else ""
        super().__init__("; ".join(f"{e.key}: {e.message}" for e in errors) + where)
        self.errors = list(errors)
        self.booth_id = booth_id


def check_key(key: str) -> None:
    """Refuse keys that cannot be a dotted path (the schema check comes later)."""
    parts = key.split(".")
    if (
        not key
        or len(key) > KEY_MAX
        or any(not p or not p.replace("_", "").isalnum() for p in parts)
    ):
        raise ConfigInvalid([FieldError(key or "?", "a key is dotted names: a-z, 0-9, _")])


def check_depth(key: str, value: Any) -> None:
    """Refuse a value nested deeper than any config key can be (the merge and the
    schema walk values recursively: thousands of levels would blow the stack)."""
    level = [value]
    for _ in range(MAX_VALUE_DEPTH):
        level = [
            child
            for node in level
            if isinstance(node, dict | list)
            for child in (node.values() if isinstance(node, dict) else node)
        ]
        if not level:
            return
    raise ConfigInvalid([FieldError(key, f"nested more than {MAX_VALUE_DEPTH} levels deep")])


def set_path(tree: dict[str, Any], key: str, value: Any) -> None:
    """Set ``a.b.c`` in a nested dict, making (or replacing with) dicts on the way."""
    *parents, leaf = key.split(".")
    node = tree
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[leaf] = copy.deepcopy(value)


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Leaves of a nested dict by dotted key; lists and empty dicts are leaves."""
    out: dict[str, Any] = {}
    for name, value in tree.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, key + "."))
        else:
            out[key] = value
    return out


def apply_changes(
    values: Mapping[str, Any], set_values: Mapping[str, Any], unset: Iterable[str]
) -> dict[str, Any]:
    """A layer's values after setting some keys and removing others."""
    out = dict(values)
    for key in unset:
        out.pop(key, None)
    for key, value in set_values.items():
        check_key(key)
        check_depth(key, value)
        # A key replaces what was set below or above it in the same layer.
        for other in [k for k in out if k.startswith(key + ".") or key.startswith(k + ".")]:
            del out[other]
        out[key] = value
    return out


def _sets(layer_key: str, value: Any, leaf: str) -> bool:
    """Whether setting ``layer_key`` to ``value`` gives ``leaf`` its value (not a default)."""
    if leaf == layer_key:
        return True
    if not leaf.startswith(layer_key + "."):
        return False
    node = value
    for part in leaf[len(layer_key) + 1 :].split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def ordered(layers: Iterable[Layer]) -> list[Layer]:
    """Layers from lowest to highest priority (groups by name)."""
    return sorted(layers, key=lambda layer: (PRIORITY[layer.scope], layer.target))


def resolve(
    base: Mapping[str, Any], layers: Iterable[Layer]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The merged config and, per leaf key, the label of the layer it comes from."""
    tree = copy.deepcopy(dict(base))
    chain = ordered(layers)
    for layer in chain:
        for key in sorted(layer.values, key=lambda k: k.count(".")):
            set_path(tree, key, layer.values[key])
    # A dict set at a key replaces what lower levels had there; what it leaves out
    # falls back to the defaults (the schema's nested models are complete in ``base``).
    _fill(tree, base)
    sources: dict[str, str] = {}
    for leaf in flatten(tree):
        sources[leaf] = DEFAULT_SOURCE
        for layer in chain:
            if any(_sets(k, v, leaf) for k, v in layer.values.items()):
                sources[leaf] = layer.label
    return tree, sources


def _fill(tree: dict[str, Any], base: Mapping[str, Any]) -> None:
    for key, value in base.items():
        if key not in tree:
            tree[key] = copy.deepcopy(value)
        elif isinstance(value, dict) and isinstance(tree[key], dict):
            _fill(tree[key], value)


def validate(config: Mapping[str, Any]) -> BoothConfig:
    """The config as the schema reads it, or :class:`ConfigInvalid` with located errors."""
    try:
        return BoothConfig.model_validate(config)
    except ValidationError as exc:
        errors = [
            FieldError(".".join(str(p) for p in err["loc"]) or "config", err["msg"])
            for err in exc.errors()
        ]
        raise ConfigInvalid(errors) from exc


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """``(key, before, after)`` for every leaf that differs (None where absent)."""
    old, new = flatten(before), flatten(after)
    return [
        (key, old.get(key), new.get(key))
        for key in sorted(set(old) | set(new))
        if old.get(key) != new.get(key)
    ]

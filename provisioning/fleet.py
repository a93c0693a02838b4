"""Fleet operations on the database: heartbeats and status, groups, config layers,
staged rollouts and the audit log. Blocking (SQLAlchemy); the routes run it in threads.

Every change made by a person goes through here with an :class:`Actor` and leaves
one audit entry (who, what, when, before, after) in the same transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from provisioning import audit_trail, layers
from provisioning.bundle import DEFAULT_LIFETIME, sign_bundle
from provisioning.layers import ConfigInvalid, FieldError, Layer, Scope
from provisioning.messages import Heartbeat, HeartbeatAck, PeripheralStatus
from provisioning.models import (
    AuditEntry,
    BoothHeartbeat,
    BoothLiveState,
    BoothMembership,
    BundleRejection,
    ConfigLayer,
    ProvisionedBooth,
    Rollout,
    ensure_tables,
)
from provisioning.schema import BoothConfig
from switchboard.db import Database

log = logging.getLogger(__name__)

HISTORY_LIMIT = 240
"""Heartbeats kept per booth (4 h at the default 60 s); older ones are deleted."""
MISSED_FOR_OFFLINE = 3
"""A booth that missed this many heartbeats in a row is offline."""
GROUP_MAX = 16


class Status:
    ONLINE = "online"
    DEGRADED = "degraded"
    OFFLINE = "offline"
    REVOKED = "revoked"


@dataclass(frozen=True)
class Actor:
    """Who asks: a staff account (``role`` admin/technician) or ``cli`` on the server."""

    name: str
    role: str


class UnknownBooth(LookupError):
    """No enrolled booth with that id."""


class RolloutError(ValueError):
    """A rollout that cannot be started or approved."""


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


# ---------------------------------------------------------------------- audit


def audit(
    session: Session,
    actor: Actor,
    action: str,
    target: str,
    before: Any,
    after: Any,
    *,
    now: datetime | None = None,
) -> None:
    """Append one audit entry (hash-chained) in the caller's transaction."""
    audit_trail.append(session, actor.name, actor.role, action, target, before, after, now=now)


def record(db: Database, actor: Actor, action: str, target: str, before: Any, after: Any) -> None:
    """Append one audit entry on its own (logins, code creation)."""
    ensure_tables(db)
    with db.session() as session, session.begin():
        audit(session, actor, action, target, before, after)


@dataclass(frozen=True)
class AuditView:
    id: int
    seq: int
    at: datetime
    actor: str
    role: str
    action: str
    target: str
    before: Any
    after: Any
    hash: str


def audit_log(db: Database, limit: int = 200, before_id: int | None = None) -> list[AuditView]:
    """Newest entries first; ``before_id`` pages back."""
    ensure_tables(db)
    with db.session() as session:
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(AuditEntry.id < before_id)
        return [
            AuditView(
                e.id,
                e.seq,
                _utc(e.at),
                e.actor,
                e.role,
                e.action,
                e.target,
                e.before,
                e.after,
                e.hash,
            )
            for e in session.scalars(query)
        ]


# ---------------------------------------------------------------------- heartbeat


def status_of(live: BoothLiveState | None, revoked: bool, now: datetime) -> tuple[str, list[str]]:
    """``online``/``degraded``/``offline``/``revoked`` and the reasons for people."""
    if revoked:
        return Status.REVOKED, []
    if live is None:
        return Status.OFFLINE, ["aucun battement reçu"]
    age = (now - _utc(live.received_at)).total_seconds()
    if age > MISSED_FOR_OFFLINE * live.interval_s:
        return Status.OFFLINE, [f"dernier battement il y a {round(age)} s"]
    bad = [
        f"{p.get('role')}: {p.get('state')}" + (f" ({p['reason']})" if p.get("reason") else "")
        for p in live.payload.get("peripherals", [])
        if p.get("state") != PeripheralStatus.OK.value
    ]
    return (Status.DEGRADED, bad) if bad else (Status.ONLINE, [])


def record_heartbeat(
    db: Database, booth_id: str, beat: Heartbeat, *, now: datetime | None = None
) -> HeartbeatAck:
    """Store a heartbeat (latest state + bounded history); answer with what waits."""
    moment = _now(now)
    payload = beat.model_dump(mode="json")
    with db.session() as session, session.begin():
        booth = session.get(ProvisionedBooth, booth_id)
        if booth is None:
            raise UnknownBooth(booth_id)
        booth.last_seen_at = moment
        interval = float(booth.config.get("heartbeat_interval_s", 60))
        live = session.get(BoothLiveState, booth_id)
        if live is None:
            session.add(
                BoothLiveState(
                    booth_id=booth_id, received_at=moment, interval_s=interval, payload=payload
                )
            )
        else:
            live.received_at, live.interval_s, live.payload = moment, interval, payload
        session.add(BoothHeartbeat(booth_id=booth_id, received_at=moment, payload=payload))
        session.flush()
        keep = select(BoothHeartbeat.id).where(BoothHeartbeat.booth_id == booth_id)
        cutoff = session.scalars(
            keep.order_by(BoothHeartbeat.id.desc()).offset(HISTORY_LIMIT).limit(1)
        ).first()
        if cutoff is not None:
            session.execute(
                delete(BoothHeartbeat).where(
                    BoothHeartbeat.booth_id == booth_id, BoothHeartbeat.id <= cutoff
                )
            )
        # A config given without signing (service.set_config) is signed at the next fetch.
        waiting = booth.bundle_version + (1 if booth.bundle is None else 0)
        return HeartbeatAck(config_version=waiting, interval_s=interval)


@dataclass(frozen=True)
class BoothSummary:
    booth_id: str
    site: str
    groups: list[str]
    status: str
    reasons: list[str]
    app_version: str | None
    config_version: int | None
    """Version the booth says it applied."""
    bundle_version: int
    """Newest version the server signed for it."""
    last_heartbeat_at: datetime | None
    rtt_ms: float | None
    enrolled_at: datetime
    rejection: dict[str, Any] | None = None
    """The last bundle the booth refused or rolled back (version, code, reason,
    reported_at), as it reported it; None when it never refused one."""


def _rejection(row: BundleRejection | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "version": row.version,
        "code": row.code,
        "reason": row.reason,
        "reported_at": _utc(row.reported_at),
    }


def _summary(
    booth: ProvisionedBooth,
    groups: list[str],
    live: BoothLiveState | None,
    now: datetime,
    rejection: BundleRejection | None = None,
) -> BoothSummary:
    status, reasons = status_of(live, booth.revoked, now)
    payload = live.payload if live else {}
    return BoothSummary(
        booth_id=booth.booth_id,
        site=booth.site,
        groups=groups,
        status=status,
        reasons=reasons,
        app_version=payload.get("app_version"),
        config_version=payload.get("config_version"),
        bundle_version=booth.bundle_version,
        last_heartbeat_at=_utc(live.received_at) if live else None,
        rtt_ms=payload.get("rtt_ms"),
        enrolled_at=_utc(booth.enrolled_at),
        rejection=_rejection(rejection),
    )


def fleet_summary(db: Database, *, now: datetime | None = None) -> list[BoothSummary]:
    """Every enrolled booth with its status, by site then id."""
    ensure_tables(db)
    moment = _now(now)
    with db.session() as session:
        booths = session.scalars(
            select(ProvisionedBooth).order_by(ProvisionedBooth.site, ProvisionedBooth.booth_id)
        ).all()
        groups = {m.booth_id: list(m.groups) for m in session.scalars(select(BoothMembership))}
        lives = {s.booth_id: s for s in session.scalars(select(BoothLiveState))}
        refusals = {r.booth_id: r for r in session.scalars(select(BundleRejection))}
        return [
            _summary(
                b,
                groups.get(b.booth_id, []),
                lives.get(b.booth_id),
                moment,
                refusals.get(b.booth_id),
            )
            for b in booths
        ]


@dataclass(frozen=True)
class BoothDetail:
    summary: BoothSummary
    latest: dict[str, Any] | None
    history: list[tuple[datetime, dict[str, Any]]]
    config: dict[str, Any]
    sources: dict[str, str]


def booth_detail(
    db: Database, booth_id: str, *, history: int = 120, now: datetime | None = None
) -> BoothDetail:
    """A booth's status, latest heartbeat, recent history (oldest first), config and sources."""
    moment = _now(now)
    with db.session() as session:
        booth = session.get(ProvisionedBooth, booth_id)
        if booth is None:
            raise UnknownBooth(booth_id)
        member = session.get(BoothMembership, booth_id)
        live = session.get(BoothLiveState, booth_id)
        beats = session.scalars(
            select(BoothHeartbeat)
            .where(BoothHeartbeat.booth_id == booth_id)
            .order_by(BoothHeartbeat.id.desc())
            .limit(history)
        ).all()
        config, sources = _resolve(session, booth, _overlay_rollouts(session))
        return BoothDetail(
            summary=_summary(
                booth,
                list(member.groups) if member else [],
                live,
                moment,
                session.get(BundleRejection, booth_id),
            ),
            latest=live.payload if live else None,
            history=[(_utc(b.received_at), b.payload) for b in reversed(beats)],
            config=config,
            sources=sources,
        )


# ---------------------------------------------------------------------- config resolution


def _base(booth: ProvisionedBooth, member: BoothMembership | None) -> dict[str, Any]:
    url = member.enrolled_url if member is not None else booth.config["switchboard_url"]
    return BoothConfig(switchboard_url=url).model_dump(mode="json")


def _membership(session: Session, booth: ProvisionedBooth) -> BoothMembership:
    member = session.get(BoothMembership, booth.booth_id)
    if member is None:
        # First seen by the fleet code: remember the URL it enrolled with as its base.
        member = BoothMembership(
            booth_id=booth.booth_id, groups=[], enrolled_url=booth.config["switchboard_url"]
        )
        session.add(member)
        session.flush()
    return member


def _all_layers(session: Session) -> dict[tuple[Scope, str], dict[str, Any]]:
    return {
        (Scope(row.scope), row.target): dict(row.values)
        for row in session.scalars(select(ConfigLayer))
    }


Overlay = list[Rollout]


def _overlay_rollouts(session: Session) -> Overlay:
    return list(
        session.scalars(select(Rollout).where(Rollout.state == "canary").order_by(Rollout.id))
    )


def _applies(scope: Scope, target: str, booth: ProvisionedBooth, groups: Iterable[str]) -> bool:
    if scope is Scope.FLEET:
        return True
    if scope is Scope.GROUP:
        return target in groups
    if scope is Scope.SITE:
        return booth.site == target
    return booth.booth_id == target


def _layers_for(
    booth: ProvisionedBooth,
    groups: list[str],
    stored: Mapping[tuple[Scope, str], dict[str, Any]],
    overlay: Overlay,
    extra: tuple[Scope, str, dict[str, Any]] | None = None,
) -> list[Layer]:
    values = {k: v for k, v in stored.items() if _applies(k[0], k[1], booth, groups)}
    for rollout in overlay:  # a canary booth already has the staged change
        where = (Scope(rollout.scope), rollout.target)
        if rollout.canary_group in groups and _applies(*where, booth, groups):
            values[where] = layers.apply_changes(
                values.get(where, {}), rollout.changes["set"], rollout.changes["unset"]
            )
    if extra is not None and _applies(extra[0], extra[1], booth, groups):
        values[(extra[0], extra[1])] = extra[2]
    return [Layer(scope, target, v) for (scope, target), v in values.items()]


def _resolve(
    session: Session,
    booth: ProvisionedBooth,
    overlay: Overlay,
    extra: tuple[Scope, str, dict[str, Any]] | None = None,
    stored: Mapping[tuple[Scope, str], dict[str, Any]] | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    member = _membership(session, booth)
    if stored is None:
        stored = _all_layers(session)
    chain = _layers_for(booth, list(member.groups), stored, overlay, extra)
    return layers.resolve(_base(booth, member), chain)


def resolved_config(db: Database, booth_id: str) -> tuple[dict[str, Any], dict[str, str]]:
    """A booth's config as the layers give it, with each value's source."""
    ensure_tables(db)
    with db.session() as session, session.begin():
        booth = session.get(ProvisionedBooth, booth_id)
        if booth is None:
            raise UnknownBooth(booth_id)
        return _resolve(session, booth, _overlay_rollouts(session))


def layer_values(db: Database, scope: Scope, target: str) -> dict[str, Any]:
    ensure_tables(db)
    with db.session() as session:
        row = session.get(ConfigLayer, (scope.value, _target(scope, target)))
        return dict(row.values) if row else {}


def list_layers(db: Database) -> list[Layer]:
    ensure_tables(db)
    with db.session() as session:
        return layers.ordered(
            Layer(Scope(r.scope), r.target, dict(r.values))
            for r in session.scalars(select(ConfigLayer))
        )


def _target(scope: Scope, target: str) -> str:
    return "" if scope is Scope.FLEET else target


def _sign_new(
    key: Ed25519PrivateKey, booth: ProvisionedBooth, config: BoothConfig, now: datetime
) -> int:
    version = booth.bundle_version + 1
    data = sign_bundle(key, booth.booth_id, version, config, issued_at=now)
    booth.config = config.model_dump(mode="json")
    booth.bundle_version = version
    booth.bundle = data.decode("utf-8")
    booth.bundle_expires_at = now.replace(microsecond=0) + DEFAULT_LIFETIME
    return version


def _prefetch(session: Session) -> tuple[Overlay, dict[tuple[Scope, str], dict[str, Any]]]:
    """Rollouts, layers and (into the session) every membership: one query each, not one
    per booth, when thousands of booths are resolved in a row."""
    session.scalars(select(BoothMembership)).all()
    return _overlay_rollouts(session), _all_layers(session)


def _reissue(
    session: Session,
    key: Ed25519PrivateKey,
    booths: Iterable[ProvisionedBooth],
    now: datetime,
    extra: tuple[Scope, str, dict[str, Any]] | None = None,
) -> dict[str, int]:
    """Sign a new bundle for each booth whose resolved config changed: {booth: version}."""
    overlay, stored = _prefetch(session)
    issued: dict[str, int] = {}
    for booth in booths:
        if booth.revoked:
            continue
        config_dict, _ = _resolve(session, booth, overlay, extra, stored)
        try:
            config = layers.validate(config_dict)
        except ConfigInvalid as exc:
            raise ConfigInvalid(exc.errors, booth.booth_id) from exc
        if config.model_dump(mode="json") != booth.config or booth.bundle is None:
            issued[booth.booth_id] = _sign_new(key, booth, config, now)
    return issued


def _affected(session: Session, scope: Scope, target: str) -> list[ProvisionedBooth]:
    booths = session.scalars(
        select(ProvisionedBooth).where(ProvisionedBooth.revoked.is_(False))
    ).all()
    groups = {m.booth_id: list(m.groups) for m in session.scalars(select(BoothMembership))}
    return [b for b in booths if _applies(scope, target, b, groups.get(b.booth_id, []))]


@dataclass(frozen=True)
class Preview:
    """What a change would do, before it is made."""

    layer_before: dict[str, Any]
    layer_after: dict[str, Any]
    changes: list[tuple[str, Any, Any]]
    affected: list[str]
    errors: list[FieldError]
    error_booth: str | None = None


PROBE_URL = "https://switchboard.invalid"


def check_layer(scope: Scope, target: str, values: Mapping[str, Any]) -> None:
    """The layer's values on their own, over the defaults, must pass the schema: a value
    that a higher level hides today would bite the day that level lets go of it."""
    base = BoothConfig(switchboard_url=PROBE_URL).model_dump(mode="json")
    config, _ = layers.resolve(base, [Layer(scope, target, values)])
    layers.validate(config)


def _validate_target(scope: Scope, target: str) -> str:
    target = _target(scope, target)
    if scope is not Scope.FLEET and not target:
        raise ConfigInvalid([FieldError("target", f"a {scope.value} is needed")])
    return target


def preview_change(
    db: Database,
    scope: Scope,
    target: str,
    set_values: Mapping[str, Any],
    unset: Iterable[str] = (),
) -> Preview:
    """Validate a change for every booth it reaches and list what it changes in the layer."""
    ensure_tables(db)
    target = _validate_target(scope, target)
    unset = list(unset)
    # Nothing here is kept: the session is rolled back (membership rows made on the way too).
    with db.session() as session:
        row = session.get(ConfigLayer, (scope.value, target))
        before = dict(row.values) if row else {}
        try:
            after = layers.apply_changes(before, set_values, unset)
        except ConfigInvalid as exc:
            session.rollback()
            return Preview(before, before, [], [], exc.errors)
        changes = [
            (k, before.get(k), after.get(k))
            for k in sorted(set(before) | set(after))
            if before.get(k) != after.get(k)
        ]
        affected = _affected(session, scope, target)
        errors: list[FieldError] = []
        error_booth = None
        try:
            check_layer(scope, target, after)
            _reissue_check(session, affected, (scope, target, after))
        except ConfigInvalid as exc:
            errors, error_booth = exc.errors, exc.booth_id
        session.rollback()
        return Preview(before, after, changes, [b.booth_id for b in affected], errors, error_booth)


@dataclass(frozen=True)
class ChangeResult:
    issued: dict[str, int]
    """Booths given a new bundle now, with its version (push ``config_available``)."""
    rollout_id: int | None = None


def change_config(
    db: Database,
    key: Ed25519PrivateKey,
    actor: Actor,
    scope: Scope,
    target: str,
    set_values: Mapping[str, Any],
    unset: Iterable[str] = (),
    *,
    canary_group: str | None = None,
    rest_after_s: float | None = None,
    now: datetime | None = None,
) -> ChangeResult:
    """Change a layer; every affected booth gets a new signed bundle (:class:`ConfigInvalid`
    if any would be refused). With ``canary_group`` only that group's booths get it now: the
    rest follow after ``rest_after_s`` or on approval (:func:`approve_rollout`)."""
    ensure_tables(db)
    moment = _now(now)
    target = _validate_target(scope, target)
    unset = list(unset)
    label = layers.source_label(scope, target)
    with db.session() as session, session.begin():
        row = session.get(ConfigLayer, (scope.value, target))
        before = dict(row.values) if row else {}
        after = layers.apply_changes(before, set_values, unset)
        check_layer(scope, target, after)
        affected = _affected(session, scope, target)
        if canary_group is None:
            issued = _reissue(session, key, affected, moment, (scope, target, after))
            if row is None:
                session.add(ConfigLayer(scope=scope.value, target=target, values=after))
            else:
                row.values = after
            audit(session, actor, "config.set", label, before, after, now=moment)
            log.info("config %s changed by %s: %d booths reissued", label, actor.name, len(issued))
            return ChangeResult(issued)
        # Staged: check the change for every booth now, then give it to the canaries only.
        _reissue_check(session, affected, (scope, target, after))
        rollout = Rollout(
            created_at=moment,
            created_by=actor.name,
            scope=scope.value,
            target=target,
            changes={"set": dict(set_values), "unset": unset},
            canary_group=canary_group,
            rest_after=moment + timedelta(seconds=rest_after_s) if rest_after_s else None,
            state="canary",
        )
        session.add(rollout)
        session.flush()
        canaries = [b for b in affected if canary_group in _membership(session, b).groups]
        issued = _reissue(session, key, canaries, moment)
        audit(
            session,
            actor,
            "rollout.start",
            f"{label} (canary {canary_group}, rollout {rollout.id})",
            before,
            after,
            now=moment,
        )
        return ChangeResult(issued, rollout.id)


def _reissue_check(
    session: Session, booths: Iterable[ProvisionedBooth], extra: tuple[Scope, str, dict[str, Any]]
) -> None:
    overlay, stored = _prefetch(session)
    for booth in booths:
        config, _ = _resolve(session, booth, overlay, extra, stored)
        try:
            layers.validate(config)
        except ConfigInvalid as exc:
            raise ConfigInvalid(exc.errors, booth.booth_id) from exc


@dataclass(frozen=True)
class RolloutView:
    id: int
    created_at: datetime
    created_by: str
    scope: str
    target: str
    changes: dict[str, Any]
    canary_group: str
    rest_after: datetime | None
    state: str
    completed_at: datetime | None
    completed_by: str | None
    canary_booths: list[str] = field(default_factory=list)


def list_rollouts(db: Database, limit: int = 50) -> list[RolloutView]:
    ensure_tables(db)
    with db.session() as session:
        groups = {m.booth_id: list(m.groups) for m in session.scalars(select(BoothMembership))}
        rows = session.scalars(select(Rollout).order_by(Rollout.id.desc()).limit(limit))
        return [
            RolloutView(
                r.id,
                _utc(r.created_at),
                r.created_by,
                r.scope,
                r.target,
                dict(r.changes),
                r.canary_group,
                _utc(r.rest_after) if r.rest_after else None,
                r.state,
                _utc(r.completed_at) if r.completed_at else None,
                r.completed_by,
                sorted(b for b, g in groups.items() if r.canary_group in g),
            )
            for r in rows
        ]


def approve_rollout(
    db: Database,
    key: Ed25519PrivateKey,
    actor: Actor,
    rollout_id: int,
    *,
    now: datetime | None = None,
) -> ChangeResult:
    """Give a canary rollout's change to the rest of its booths."""
    moment = _now(now)
    with db.session() as session, session.begin():
        rollout = session.get(Rollout, rollout_id)
        if rollout is None:
            raise RolloutError(f"no rollout {rollout_id}")
        if rollout.state != "canary":
            raise RolloutError(f"rollout {rollout_id} is already {rollout.state}")
        scope = Scope(rollout.scope)
        row = session.get(ConfigLayer, (rollout.scope, rollout.target))
        before = dict(row.values) if row else {}
        after = layers.apply_changes(before, rollout.changes["set"], rollout.changes["unset"])
        if row is None:
            session.add(ConfigLayer(scope=rollout.scope, target=rollout.target, values=after))
        else:
            row.values = after
        rollout.state = "complete"
        rollout.completed_at = moment
        rollout.completed_by = actor.name
        session.flush()
        issued = _reissue(session, key, _affected(session, scope, rollout.target), moment)
        audit(
            session,
            actor,
            "rollout.complete",
            f"{layers.source_label(scope, rollout.target)} (rollout {rollout_id})",
            before,
            after,
            now=moment,
        )
        return ChangeResult(issued, rollout_id)


def due_rollouts(db: Database, *, now: datetime | None = None) -> list[int]:
    """Canary rollouts whose delay has passed."""
    ensure_tables(db)
    moment = _now(now)
    with db.session() as session:
        rows = session.scalars(select(Rollout).where(Rollout.state == "canary"))
        return [r.id for r in rows if r.rest_after is not None and _utc(r.rest_after) <= moment]


def signed_since(db: Database, booth_ids: Iterable[str], since: datetime) -> dict[str, int]:
    """Booths among these whose newest bundle was signed at or after ``since``: {id: version}."""
    wanted = list(booth_ids)
    if not wanted:
        return {}
    # A bundle's expiry is its issue time (to the second) plus the fixed lifetime.
    cutoff = since.replace(microsecond=0) + DEFAULT_LIFETIME
    with db.session() as session:
        rows = session.execute(
            select(
                ProvisionedBooth.booth_id,
                ProvisionedBooth.bundle_version,
                ProvisionedBooth.bundle_expires_at,
            ).where(ProvisionedBooth.booth_id.in_(wanted))
        )
        return {
            booth_id: version
            for booth_id, version, expires in rows
            if expires is not None and _utc(expires) >= cutoff
        }


# ---------------------------------------------------------------------- groups, revocation


def set_groups(
    db: Database,
    key: Ed25519PrivateKey,
    actor: Actor,
    booth_id: str,
    groups: list[str],
    *,
    now: datetime | None = None,
) -> dict[str, int]:
    """Put a booth in these groups (its config follows at once)."""
    moment = _now(now)
    clean = sorted({g.strip() for g in groups if g.strip()})
    if len(clean) > GROUP_MAX or any(not layers.SLUG_RE.match(g) for g in clean):
        raise ConfigInvalid(
            [FieldError("groups", "lower-case letters, digits, dashes; 16 at most")]
        )
    with db.session() as session, session.begin():
        booth = session.get(ProvisionedBooth, booth_id)
        if booth is None:
            raise UnknownBooth(booth_id)
        member = _membership(session, booth)
        before = list(member.groups)
        member.groups = clean
        session.flush()
        issued = _reissue(session, key, [booth], moment)
        audit(session, actor, "booth.groups", booth_id, before, clean, now=moment)
        return issued


def revoke(db: Database, actor: Actor, booth_id: str, *, now: datetime | None = None) -> None:
    """Refuse every later request of this booth; audited."""
    moment = _now(now)
    with db.session() as session, session.begin():
        booth = session.get(ProvisionedBooth, booth_id)
        if booth is None:
            raise UnknownBooth(booth_id)
        before = {"revoked": booth.revoked}
        if not booth.revoked:
            booth.revoked = True
            booth.revoked_at = moment
        audit(session, actor, "booth.revoke", booth_id, before, {"revoked": True}, now=moment)
    log.info("booth %s revoked by %s", booth_id, actor.name)

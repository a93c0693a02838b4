"""The admin API (``/api/v1/admin/...``) behind the ``/admin/`` console.

Staff (admins and technicians, :class:`switchboard.auth.StaffRole`) sign in with
their own cookie; an agent's session opens nothing here. Technicians create
enrolment codes and see the fleet; admins also change config, roll it out,
revoke booths and read the audit log. Every action is audited.
"""

# No `from __future__ import annotations`: FastAPI must see the closures in Depends().
import asyncio
import csv
import io
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from provisioning import audit_trail, enrol_uri, fleet, qr, service
from provisioning.layers import ConfigInvalid, FieldError, Scope
from provisioning.messages import SQL_INT_MAX, BundleRejectionPublic, SiteId
from switchboard import auth, stats, stats_store, webhooks
from switchboard.auth import STAFF_COOKIE, SessionStore, StaffInfo, StaffRole
from switchboard.db import Database
from switchboard.stats import DayCounts

log = logging.getLogger(__name__)

PREFIX = "/api/v1/admin"
Push = Callable[[dict[str, int]], list[str]]
"""Tell connected booths that a new bundle waits (``{booth_id: version}``); returns the
booths that were connected and told."""


class _Model(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class StaffLogin(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=256)]


class StaffPublic(_Model):
    username: str
    display_name: str
    role: StaffRole


class BoothRow(_Model):
    booth_id: str
    site: str
    groups: list[str]
    status: str
    reasons: list[str]
    app_version: str | None
    config_version: int | None
    bundle_version: int
    last_heartbeat_at: datetime | None
    rtt_ms: float | None
    enrolled_at: datetime
    rejection: BundleRejectionPublic | None = None
    """The last bundle the booth refused (shown in the fleet table and its page)."""


class FleetView(BaseModel):
    counts: dict[str, int]
    """online, degraded, offline, revoked"""
    sites: list[str]
    groups: list[str]
    booths: list[BoothRow]


class HeartbeatPoint(BaseModel):
    at: datetime
    rtt_ms: float | None
    memory_used_mb: float | None
    memory_total_mb: float | None
    disk_free_mb: float | None


class BoothView(BaseModel):
    booth: BoothRow
    latest: dict[str, Any] | None
    history: list[HeartbeatPoint]
    config: dict[str, Any] | None
    """Resolved config (admins only)."""
    sources: dict[str, str] | None
    """Where each value comes from: ``default``, ``fleet``, ``group:x``, ``site:x``, ``booth:x``."""


class GroupsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    groups: Annotated[list[str], Field(max_length=16)]


MIN_CODE_TTL_HOURS = 1 / 60


class CodeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site: SiteId
    ttl_hours: Annotated[float, Field(ge=MIN_CODE_TTL_HOURS, le=720)] = 24
    """At least a minute: a shorter time rounds to nothing (and nobody could type it)."""


class CodeView(BaseModel):
    code: str
    site: str
    expires_at: datetime
    qr_text: str
    qr_svg: str


class ConfigChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scope: Scope
    target: Annotated[str, Field(max_length=64)] = ""
    set: dict[str, Any] = Field(default_factory=dict)
    unset: Annotated[list[str], Field(max_length=64)] = Field(default_factory=list)
    canary_group: Annotated[str, Field(min_length=1, max_length=40)] | None = None
    """Stage it: this group first, then the rest."""
    rest_after_s: Annotated[float, Field(gt=0, le=30 * 86400)] | None = None
    """With a canary group: the rest follows after this delay (else on approval)."""


class FieldErrorView(_Model):
    key: str
    message: str


class InvalidConfigView(BaseModel):
    code: Literal["invalid_config"]
    booth: str | None
    """The booth whose resolved config the change would break, if it is one booth's."""
    errors: list[FieldErrorView]


class UnprocessableAnswer(BaseModel):
    """A 422: a config the change would make invalid, or a request FastAPI could not read
    (then ``detail`` is its list of validation errors)."""

    detail: InvalidConfigView | list[dict[str, Any]]


UNPROCESSABLE: dict[int | str, dict[str, Any]] = {422: {"model": UnprocessableAnswer}}


class KeyChange(BaseModel):
    key: str
    before: Any
    after: Any


class PreviewView(BaseModel):
    layer_before: dict[str, Any]
    layer_after: dict[str, Any]
    changes: list[KeyChange]
    affected: list[str]
    errors: list[FieldErrorView]
    error_booth: str | None


class ApplyView(BaseModel):
    issued: dict[str, int]
    pushed: list[str]
    """Booths connected now that were told (``config_available``)."""
    rollout_id: int | None


class LayerView(BaseModel):
    scope: Scope
    target: str
    values: dict[str, Any]


class ResolvedView(BaseModel):
    booth_id: str
    config: dict[str, Any]
    sources: dict[str, str]


class RolloutRow(_Model):
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
    canary_booths: list[str]


class AuditRow(_Model):
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


class WebhookDeliveryRow(_Model):
    """One event sent (or being sent) to an integrator's webhook; no body."""

    id: str
    target: str
    event: str
    status: str
    attempts: int
    last_error: str
    created_at: float
    next_attempt_at: float
    delivered_at: float | None


class StatsFigures(BaseModel):
    """Counts of a period (or day, service, site) with the figures derived from them."""

    offered: int
    answered: int
    abandoned: int
    ended: int
    wait_max_s: int
    duration_max_s: int
    rating_unhappy: int
    rating_neutral: int
    rating_happy: int
    reason_wait: int
    reason_technical: int
    reason_unclear: int
    reason_other: int
    mean_wait_s: float | None
    mean_duration_s: float | None
    abandonment_rate: float | None
    satisfaction: float | None
    """Share of happy faces among ratings."""
    mean_rating: float | None


class StatsDay(StatsFigures):
    day: date


class StatsGroup(StatsFigures):
    name: str


class StatsView(BaseModel):
    """Statistics of ``start``…``end`` (inclusive), optionally for one service/site."""

    start: date
    end: date
    service: str | None
    site: str | None
    total: StatsFigures
    by_day: list[StatsDay]
    by_service: list[StatsGroup]
    by_site: list[StatsGroup]
    services: list[str]
    """Every service and site with figures in the database (for the filters)."""
    sites: list[str]
    service_names: dict[str, str] = {}
    """French name of each service the catalogue offers now, by id; a service that
    has figures but is no longer offered keeps its id."""


MAX_STATS_DAYS = 400


class PeriodAnswer(BaseModel):
    """A 422 for statistics: a period that is backwards or too long (a sentence), or
    a request FastAPI could not read (its list of validation errors)."""

    detail: str | list[dict[str, Any]]


PERIOD_REFUSED: dict[int | str, dict[str, Any]] = {422: {"model": PeriodAnswer}}


def _figures(counts: DayCounts) -> dict[str, Any]:
    values: dict[str, Any] = {
        name: getattr(counts, name)
        for name in StatsFigures.model_fields
        if name in stats.COUNT_FIELDS
    }
    figures = counts.figures()
    values.update(
        mean_wait_s=figures.mean_wait_s,
        mean_duration_s=figures.mean_duration_s,
        abandonment_rate=figures.abandonment_rate,
        satisfaction=figures.satisfaction,
        mean_rating=figures.mean_rating,
    )
    return values


def _period(start: date | None, end: date | None) -> tuple[date, date]:
    last = end or datetime.now(UTC).date()
    first = start or last - timedelta(days=29)
    if first > last:
        raise HTTPException(422, "the start of the period is after its end")
    if (last - first).days + 1 > MAX_STATS_DAYS:
        raise HTTPException(422, f"a period of at most {MAX_STATS_DAYS} days, please")
    return first, last


async def stats_view(
    db: Database,
    start: date | None,
    end: date | None,
    service: str | None,
    site: str | None,
    service_names: Mapping[str, str] | None = None,
) -> StatsView:
    """The statistics of a period (default: the last 30 days) for the admin console
    and the integrators' API."""
    first, last = _period(start, end)
    report = await asyncio.to_thread(stats_store.report, db, first, last, service, site)
    services, sites = await asyncio.to_thread(stats_store.dimensions, db)
    return StatsView(
        start=first,
        end=last,
        service=service,
        site=site,
        total=StatsFigures(**_figures(report.total)),
        by_day=[StatsDay(day=d, **_figures(c)) for d, c in report.by_day.items()],
        by_service=[
            StatsGroup(name=n, **_figures(c)) for n, c in sorted(report.by_service.items())
        ],
        by_site=[StatsGroup(name=n, **_figures(c)) for n, c in sorted(report.by_site.items())],
        services=services,
        sites=sites,
        service_names=dict(service_names or {}),
    )


def _invalid(exc: ConfigInvalid) -> HTTPException:
    return HTTPException(
        422,
        {
            "code": "invalid_config",
            "booth": exc.booth_id,
            "errors": [{"key": e.key, "message": e.message} for e in exc.errors],
        },
    )


def _actor(staff: StaffInfo) -> fleet.Actor:
    return fleet.Actor(staff.username, staff.role.value)


class FleetAdmin:
    """The admin routes and the rollout timer, sharing the db, key and push."""

    def __init__(
        self,
        db: Database,
        key: Ed25519PrivateKey,
        sessions: SessionStore,
        push: Push,
        cookie_secure: bool,
        session_ttl_s: int,
        connected: Callable[[], Iterable[str]] = tuple,
        service_names: Mapping[str, str] | None = None,
    ) -> None:
        self.db = db
        self.key = key
        self.sessions = sessions
        self._push = push
        self.cookie_secure = cookie_secure
        self.session_ttl_s = session_ttl_s
        self.connected = connected
        """Ids of the booths connected to this process now."""
        self.service_names = dict(service_names or {})
        """French name of each catalogue service (statistics show names, not ids)."""
        self._told: dict[str, int] = {}
        """Last version each booth was told of."""
        self._looked_at = datetime.now(UTC)

    def served(self, booth_id: str, version: int) -> None:
        """A booth fetched this version: no need to tell it (called from a worker thread;
        one dict store, atomic under the GIL)."""
        if version > self._told.get(booth_id, 0):
            self._told[booth_id] = version

    def push(self, issued: dict[str, int]) -> list[str]:
        """Tell connected booths of their new versions; returns those told.

        The one sender of ``config_available``: a version is announced to a booth at
        most once, and never one it has already fetched (:meth:`served`)."""
        newer = {b: v for b, v in issued.items() if v > self._told.get(b, 0)}
        for booth_id, version in newer.items():
            self._told[booth_id] = version
        return self._push(newer) if newer else []

    async def push_changed_elsewhere(self) -> list[str]:
        """Push bundles signed by another process (``guichet config set``, another server)
        since the last look, to the booths connected here."""
        since, self._looked_at = self._looked_at, datetime.now(UTC)
        signed = await asyncio.to_thread(fleet.signed_since, self.db, self.connected(), since)
        return self.push(signed)

    async def advance_rollouts(self) -> list[int]:
        """Complete canary rollouts whose delay has passed; returns their ids."""
        done = []
        for rollout_id in await asyncio.to_thread(fleet.due_rollouts, self.db):
            system = fleet.Actor("system", "system")
            try:
                result = await asyncio.to_thread(
                    fleet.approve_rollout, self.db, self.key, system, rollout_id
                )
            except fleet.RolloutError:
                continue  # approved by someone in the meantime
            except ConfigInvalid as exc:
                log.error("rollout %s cannot complete: %s", rollout_id, exc)
                continue
            self.push(result.issued)
            done.append(rollout_id)
        return done

    async def record_login(self, staff: StaffInfo, how: str) -> None:
        """Audit a staff sign-in made elsewhere (through the identity provider)."""
        await asyncio.to_thread(
            fleet.record, self.db, _actor(staff), "login", staff.username, None, how
        )

    async def run_timer(self, period_s: float) -> None:
        """Forever: advance due rollouts every ``period_s``."""
        while True:
            await asyncio.sleep(period_s)
            try:
                await self.advance_rollouts()
                await self.push_changed_elsewhere()
            except Exception:  # a database hiccup must not stop the timer for good
                log.exception("rollout timer")


def install(app: FastAPI, admin: FleetAdmin) -> None:
    """Add the ``/api/v1/admin`` routes to ``app``."""
    db = admin.db
    router = APIRouter(prefix=PREFIX, tags=["admin"])

    async def current_staff(request: Request) -> StaffInfo:
        session = admin.sessions.get(request.cookies.get(STAFF_COOKIE))
        if session is not None and session.staff is not None:
            return session.staff  # signed in through the identity provider
        username = session.username if session else None
        staff = await asyncio.to_thread(auth.get_staff, db, username) if username else None
        if staff is None:
            raise HTTPException(401, "not signed in as admin or technician")
        return staff

    def role(minimum: StaffRole) -> Callable[[StaffInfo], Awaitable[StaffInfo]]:
        async def check(staff: Annotated[StaffInfo, Depends(current_staff)]) -> StaffInfo:
            if minimum is StaffRole.ADMIN and staff.role is not StaffRole.ADMIN:
                raise HTTPException(403, "this needs an admin account")
            return staff

        return check

    Technician = Annotated[StaffInfo, Depends(role(StaffRole.TECHNICIAN))]
    Admin = Annotated[StaffInfo, Depends(role(StaffRole.ADMIN))]

    async def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)

    @router.post("/login")
    async def login(body: StaffLogin, response: Response) -> StaffPublic:
        """Check a staff password and set the admin session cookie."""
        staff = await run(auth.authenticate_staff, db, body.username, body.password)
        if staff is None:
            log.warning("failed admin login for %r", body.username[:64])
            raise HTTPException(401, "wrong username or password")
        token = admin.sessions.create(staff.username)
        response.set_cookie(
            STAFF_COOKIE,
            token,
            max_age=admin.session_ttl_s,
            httponly=True,
            samesite="strict",
            secure=admin.cookie_secure,
            path="/",
        )
        await run(fleet.record, db, _actor(staff), "login", staff.username, None, None)
        return StaffPublic.model_validate(staff)

    @router.post("/logout", status_code=204)
    async def logout(request: Request, response: Response) -> None:
        """End the staff session."""
        admin.sessions.drop(request.cookies.get(STAFF_COOKIE))
        response.delete_cookie(
            STAFF_COOKIE, httponly=True, samesite="strict", secure=admin.cookie_secure
        )

    @router.get("/me")
    async def me(staff: Technician) -> StaffPublic:
        """Who is signed in, with their role."""
        return StaffPublic.model_validate(staff)

    @router.get("/fleet")
    async def get_fleet(staff: Technician) -> FleetView:
        """Every booth with its status, and the counts per status."""
        await admin.advance_rollouts()
        booths = await run(fleet.fleet_summary, db)
        counts = {s: 0 for s in ("online", "degraded", "offline", "revoked")}
        for booth in booths:
            counts[booth.status] += 1
        return FleetView(
            counts=counts,
            sites=sorted({b.site for b in booths}),
            groups=sorted({g for b in booths for g in b.groups}),
            booths=[BoothRow.model_validate(b) for b in booths],
        )

    @router.get("/booths/{booth_id}")
    async def get_booth(booth_id: str, staff: Technician) -> BoothView:
        """One booth: status, latest heartbeat, history; config and sources for admins."""
        try:
            detail = await run(fleet.booth_detail, db, booth_id)
        except fleet.UnknownBooth as exc:
            raise HTTPException(404, "no such booth") from exc
        is_admin = staff.role is StaffRole.ADMIN
        return BoothView(
            booth=BoothRow.model_validate(detail.summary),
            latest=detail.latest,
            history=[
                HeartbeatPoint(
                    at=at,
                    rtt_ms=p.get("rtt_ms"),
                    memory_used_mb=p.get("memory_used_mb"),
                    memory_total_mb=p.get("memory_total_mb"),
                    disk_free_mb=p.get("disk_free_mb"),
                )
                for at, p in detail.history
            ],
            config=detail.config if is_admin else None,
            sources=detail.sources if is_admin else None,
        )

    @router.put("/booths/{booth_id}/groups", responses=UNPROCESSABLE)
    async def put_groups(booth_id: str, body: GroupsUpdate, staff: Admin) -> ApplyView:
        """Set the groups of a booth (its config follows)."""
        try:
            issued = await run(
                fleet.set_groups, db, admin.key, _actor(staff), booth_id, body.groups
            )
        except fleet.UnknownBooth as exc:
            raise HTTPException(404, "no such booth") from exc
        except ConfigInvalid as exc:
            raise _invalid(exc) from exc
        return ApplyView(issued=issued, pushed=_push(issued), rollout_id=None)

    @router.post("/booths/{booth_id}/revoke", status_code=204)
    async def revoke(booth_id: str, staff: Admin) -> None:
        """Revoke a booth: every later request of it is refused."""
        try:
            await run(fleet.revoke, db, _actor(staff), booth_id)
        except fleet.UnknownBooth as exc:
            raise HTTPException(404, "no such booth") from exc

    @router.post("/codes")
    async def create_code(body: CodeCreate, request: Request, staff: Technician) -> CodeView:
        """A one-time enrolment code for a site, as text and as a QR code (SVG)."""
        try:
            issued = await run(service.create_code, db, body.site, timedelta(hours=body.ttl_hours))
        except ValueError as exc:  # the model's bounds should leave nothing for here
            raise HTTPException(422, str(exc)) from exc
        expiry = issued.expires_at.isoformat(timespec="minutes")
        await run(
            fleet.record, db, _actor(staff), "code.create", body.site, None, {"expires_at": expiry}
        )
        text = enrol_uri.build(str(request.base_url), issued.site, issued.code)
        return CodeView(
            code=issued.code,
            site=issued.site,
            expires_at=issued.expires_at,
            qr_text=text,
            qr_svg=qr.qr_svg(text, f"Code d'enrôlement pour {issued.site}"),
        )

    @router.get("/config/layers")
    async def get_layers(staff: Admin) -> list[LayerView]:
        """Every config layer with its values."""
        found = await run(fleet.list_layers, db)
        return [LayerView(scope=x.scope, target=x.target, values=dict(x.values)) for x in found]

    @router.get("/config/resolved")
    async def get_resolved(
        booth: Annotated[str, Query(max_length=64)], staff: Admin
    ) -> ResolvedView:
        """A booth's config as its layers give it, with each value's source."""
        try:
            config, sources = await run(fleet.resolved_config, db, booth)
        except fleet.UnknownBooth as exc:
            raise HTTPException(404, "no such booth") from exc
        return ResolvedView(booth_id=booth, config=config, sources=sources)

    @router.post("/config/preview", responses=UNPROCESSABLE)
    async def preview(body: ConfigChange, staff: Admin) -> PreviewView:
        """What a change would do: the layer's diff, the booths reached, validation errors."""
        try:
            result = await run(
                fleet.preview_change, db, body.scope, body.target, body.set, body.unset
            )
        except ConfigInvalid as exc:
            raise _invalid(exc) from exc
        return PreviewView(
            layer_before=result.layer_before,
            layer_after=result.layer_after,
            changes=[KeyChange(key=k, before=b, after=a) for k, b, a in result.changes],
            affected=result.affected,
            errors=[FieldErrorView.model_validate(e) for e in result.errors],
            error_booth=result.error_booth,
        )

    @router.post("/config/apply", responses=UNPROCESSABLE)
    async def apply(body: ConfigChange, staff: Admin) -> ApplyView:
        """Make the change: new signed bundles, ``config_available`` to connected booths."""
        if body.rest_after_s is not None and body.canary_group is None:
            raise _invalid(ConfigInvalid([FieldError("rest_after_s", "needs a canary group")]))
        try:
            result = await run(
                fleet.change_config,
                db,
                admin.key,
                _actor(staff),
                body.scope,
                body.target,
                body.set,
                body.unset,
                canary_group=body.canary_group,
                rest_after_s=body.rest_after_s,
            )
        except ConfigInvalid as exc:
            raise _invalid(exc) from exc
        return ApplyView(
            issued=result.issued, pushed=_push(result.issued), rollout_id=result.rollout_id
        )

    @router.get("/rollouts")
    async def get_rollouts(staff: Admin) -> list[RolloutRow]:
        """Recent rollouts, newest first, with their state."""
        await admin.advance_rollouts()
        return [RolloutRow.model_validate(r) for r in await run(fleet.list_rollouts, db)]

    @router.post("/rollouts/{rollout_id}/approve", responses=UNPROCESSABLE)
    async def approve(
        rollout_id: Annotated[int, PathParam(ge=1, le=SQL_INT_MAX)], staff: Admin
    ) -> ApplyView:
        """Give a canary rollout's change to the rest of the fleet now."""
        try:
            result = await run(fleet.approve_rollout, db, admin.key, _actor(staff), rollout_id)
        except fleet.RolloutError as exc:
            raise HTTPException(409, str(exc)) from exc
        except ConfigInvalid as exc:
            raise _invalid(exc) from exc
        return ApplyView(issued=result.issued, pushed=_push(result.issued), rollout_id=rollout_id)

    @router.get("/audit")
    async def get_audit(
        staff: Admin,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
        before_id: Annotated[int | None, Query(ge=1, le=SQL_INT_MAX)] = None,
    ) -> list[AuditRow]:
        """The audit log, newest first (``before_id`` pages back)."""
        rows = await run(fleet.audit_log, db, limit, before_id)
        return [AuditRow.model_validate(r) for r in rows]

    @router.get(
        "/audit/export",
        response_class=PlainTextResponse,
        responses={200: {"content": {"application/x-ndjson": {}}}},
    )
    async def export_audit(staff: Admin) -> PlainTextResponse:
        """The whole audit trail, one JSON entry a line with its hashes (the export is
        itself audited first, so it ends with its own entry)."""
        await run(fleet.record, db, _actor(staff), "audit.export", "audit_log", None, None)

        def dump() -> str:
            out = io.StringIO()
            audit_trail.export(db, out)
            return out.getvalue()

        return PlainTextResponse(
            await run(dump),
            media_type="application/x-ndjson",
            headers={"Content-Disposition": 'attachment; filename="guichet-audit.jsonl"'},
        )

    @router.get("/stats", responses=PERIOD_REFUSED)
    async def get_stats(
        staff: Admin,
        start: date | None = None,
        end: date | None = None,
        service: Annotated[str | None, Query(max_length=64)] = None,
        site: Annotated[str | None, Query(max_length=40)] = None,
    ) -> StatsView:
        """Calls offered, answered and abandoned, waits, durations and satisfaction
        per day, service and site (default: the last 30 days)."""
        return await stats_view(db, start, end, service, site, admin.service_names)

    @router.get(
        "/stats.csv",
        response_class=PlainTextResponse,
        responses={200: {"content": {"text/csv": {}}}, **PERIOD_REFUSED},
    )
    async def export_stats(
        staff: Admin,
        start: date | None = None,
        end: date | None = None,
        service: Annotated[str | None, Query(max_length=64)] = None,
        site: Annotated[str | None, Query(max_length=40)] = None,
    ) -> PlainTextResponse:
        """The same figures as CSV, one line per day, service and site (UTF-8, ``;``
        separated as French spreadsheets expect)."""
        first, last = _period(start, end)
        rows = await run(stats_store.read_rows, db, first, last, service, site)
        out = io.StringIO()
        writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
        writer.writerow(stats.CSV_COLUMNS)
        for key, counts in rows:
            writer.writerow(stats.csv_row(key, counts))
        name = f"guichet-statistiques-{first.isoformat()}-{last.isoformat()}.csv"
        return PlainTextResponse(
            "\ufeff" + out.getvalue(),  # BOM: spreadsheets then read UTF-8 accents right
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @router.get("/webhooks")
    async def get_webhooks(
        staff: Admin, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> list[WebhookDeliveryRow]:
        """The last webhook deliveries, newest first: delivered, pending (with the
        last error and when the next try is due) or given up."""
        rows = await run(webhooks.recent_deliveries, db, limit)
        return [WebhookDeliveryRow.model_validate(r) for r in rows]

    def _push(issued: dict[str, int]) -> list[str]:
        return sorted(admin.push(issued))

    app.include_router(router)

"""create_app(settings): HTTP routes, the booth and agent WebSockets, the console."""

import asyncio
import contextlib
import html
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from fastapi import (
    Depends,
    FastAPI,
    HTTPException,
    Request,
    Response,
    WebSocket,
    WebSocketDisconnect,
)
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.websockets import WebSocketState

from guichet import wire
from guichet.wire import AgentInfo, ErrorCode, WireError
from provisioning import admin_api, signing
from provisioning import server as provisioning_server
from provisioning import service as provisioning_service
from switchboard import audit, auth, integration, oidc_routes, stats
from switchboard.audit import AuditWriter
from switchboard.auth import SESSION_COOKIE, Session, SessionStore
from switchboard.catalogue import load_catalogue
from switchboard.db import Database
from switchboard.hub import (
    AGENT_GRACE_S,
    CLOSE_UNAUTHORIZED,
    CallCheck,
    CallEvent,
    Hub,
    message_type,
)
from switchboard.oidc_client import OidcClient
from switchboard.settings import OidcSettings, ServerSettings, SettingsError
from switchboard.stats_store import StatsRecorder, site_lookup
from switchboard.webhooks import WebhookSender, event_from_call

log = logging.getLogger(__name__)

CONSOLE_DIR = Path(__file__).parent / "console"
EMBED_DIR = Path(__file__).parent / "embed"
EMBED_SDK_PATH = "/embed/guichet-embed.js"


class EmbedConfig(BaseModel):
    origins: list[str]


ADMIN_DIR = Path(admin_api.__file__).parent / "console"
ROLLOUT_TICK_S = 5.0
"""How often staged rollouts whose delay has passed are completed."""
HELLO_TIMEOUT_S = 10.0
"""A booth that says nothing for this long after connecting is dropped."""
REFRESH_INTERVAL_S = 30.0
"""How often queues are re-checked for changes that come with time (opening hours)."""
OUTBOX_LIMIT = 1000
"""A client this far behind on reading is dropped rather than grow memory without bound."""
CLOSE_TOO_SLOW = 1013
CLOSE_REVOKED = 4403
"""A key-authenticated booth that has been revoked (it must not reconnect)."""
HSTS_MAX_AGE_S = 365 * 24 * 3600
"""Browsers keep to HTTPS for a year once they have seen the server."""
SESSION_WATCH_S = 1.0
"""How often an agent's WebSocket checks that its session is still alive (expiry, logout)."""
CLOSE_FORBIDDEN = 4403
"""A console connection by someone whose role may not do this (a supervisor answering)."""
FLEET_WATCH_INTERVAL_S = 2.0
"""How often connected enrolled booths are checked for revocation (even by another process)."""


class Health(BaseModel):
    status: str


@dataclass
class _Close:
    code: int
    reason: str


class SocketOutbox:
    """Outbox of one WebSocket: the hub fills it, :meth:`pump` sends it in order."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[str | _Close] = asyncio.Queue()
        self.closed = False

    def send(self, message: BaseModel) -> None:
        if self.closed:
            return
        if self._queue.qsize() >= OUTBOX_LIMIT:
            log.warning("a client is not reading its messages: dropping it")
            self.close(CLOSE_TOO_SLOW, "too slow")
            return
        self._queue.put_nowait(wire.dump(message))

    def close(self, code: int, reason: str) -> None:
        if not self.closed:
            self.closed = True
            self._queue.put_nowait(_Close(code, reason))

    async def pump(self, ws: WebSocket) -> None:
        """Send queued messages until a close is queued."""
        while True:
            item = await self._queue.get()
            if isinstance(item, _Close):
                await ws.close(item.code, item.reason)
                return
            await ws.send_text(item)


async def _serve(ws: WebSocket, outbox: SocketOutbox, on_message: Callable[[str], None]) -> None:
    """Read messages into ``on_message`` while the outbox pumps; stop when either ends."""

    async def read() -> None:
        while True:
            event = await ws.receive()
            if event["type"] == "websocket.disconnect":
                return
            data = event.get("text")
            if data is None:
                raw = event.get("bytes") or b""
                data = raw.decode("utf-8", errors="replace")
            on_message(data)

    tasks = {asyncio.create_task(read()), asyncio.create_task(outbox.pump(ws))}
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            exc = task.exception()
            if exc is not None and not _normal_end(exc):
                log.error("websocket ended with %r", exc, exc_info=exc)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def _normal_end(exc: BaseException) -> bool:
    """The peer went away (Starlette says so with a plain RuntimeError when sending after
    the close); anything else, such as a RecursionError, is a bug to log with its trace."""
    return isinstance(exc, (WebSocketDisconnect, OSError)) or type(exc) is RuntimeError


async def _close(ws: WebSocket, code: int, error: wire.Error | None = None) -> None:
    if ws.application_state == WebSocketState.CONNECTED:
        with contextlib.suppress(RuntimeError, OSError):
            if error is not None:
                await ws.send_text(wire.dump(error))
            await ws.close(code)


def _same_origin(ws: WebSocket | Request) -> bool:
    """Refuse cross-site requests riding on the agent's cookie (no Origin: not a browser)."""
    origin = ws.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == ws.headers.get("host")


def _security_headers(settings: ServerSettings) -> dict[str, str]:
    ancestors = " ".join(dict.fromkeys([*settings.frame_ancestors, *settings.embed_origins]))
    ancestors = ancestors or "'none'"
    csp = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        f"form-action 'self'; frame-ancestors {ancestors}"
    )
    headers = {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if not settings.demo:
        # Production is HTTPS only (settings refuse to start without TLS).
        headers["Strict-Transport-Security"] = f"max-age={HSTS_MAX_AGE_S}"
    return headers


def _int(details: dict[str, object], key: str) -> int:
    value = details.get(key)
    return value if isinstance(value, int) else 0


def create_app(settings: ServerSettings) -> FastAPI:
    """The switchboard application for these settings (opens the database now)."""
    turn = settings.turn_config()  # first: a refused secret file must leave nothing open
    webhook_targets = settings.webhook_targets()
    oidc = _oidc_client(settings)  # the same for the OpenID Connect client secret
    catalogue = load_catalogue(settings.catalogue)
    db = Database(settings.resolved_database_url)
    sessions = SessionStore(settings.session_ttl_s, idle_s=settings.session_idle_s, db=db)
    audit_writer = AuditWriter(db)
    webhooks = WebhookSender(db, webhook_targets, retention_days=settings.events_retention_days)
    stats_recorder = StatsRecorder(db, ZoneInfo(settings.stats_timezone), site_lookup(db))

    def audit_call(event: CallEvent) -> None:
        written = audit_writer.submit(audit.from_call_event(event))
        # Failures are logged by the writer; this only marks the error as seen.
        written.add_done_callback(lambda f: f.cancelled() or f.exception())
        hook = event_from_call(event.action, event.details, event.agent, event.call_id)
        if hook is not None:
            webhooks.publish(*hook)
        service, booth = str(event.details.get("service")), str(event.details.get("booth"))
        if event.action == "call.answered":
            stats_recorder.add(service, booth, stats.answered(_int(event.details, "waited_s")))
        elif event.action == "call.ended":
            stats_recorder.add(service, booth, stats.ended(_int(event.details, "duration_s")))

    def count_queue(event: str, service: str, booth: str) -> None:
        stats_recorder.add(
            service, booth, stats.joined() if event == "joined" else stats.abandoned()
        )

    def count_survey(survey: wire.Survey, service: str, booth: str, agent: str) -> None:
        reason = stats.RatingReason(survey.reason) if survey.reason else None
        stats_recorder.add(service, booth, stats.rated(stats.Rating(survey.rating), reason))
        webhooks.publish(
            "survey.submitted",
            {
                "call_id": survey.call_id,
                "service": service,
                "booth": booth,
                "agent": agent,
                "rating": survey.rating,
                "reason": survey.reason,
            },
        )

    hub = Hub(
        catalogue,
        settings.ice_servers,
        on_call_event=audit_call,
        turn=turn,
        ice_transport_policy=settings.ice_transport_policy,
        on_queue_event=count_queue,
    )
    hub.on_survey = count_survey

    enrolled: dict[str, SocketOutbox] = {}
    """Key-authenticated booths connected now: their outbox."""

    async def watch_revoked() -> None:
        """Close the socket of a booth revoked since it connected (even by another
        process: ``guichet fleet revoke``). ``config_available`` is not sent from here:
        :class:`provisioning.admin_api.FleetAdmin` is its one sender."""
        while True:
            await asyncio.sleep(FLEET_WATCH_INTERVAL_S)
            try:
                revoked = await asyncio.to_thread(provisioning_service.revoked, db, list(enrolled))
            except Exception:
                log.exception("fleet watch failed")
                continue
            for booth_id in revoked:
                outbox = enrolled.pop(booth_id, None)
                if outbox is not None:
                    log.warning("booth %s revoked: closing its connection", booth_id)
                    outbox.send(_unauthorized("revoked: this booth has been revoked"))
                    outbox.close(CLOSE_REVOKED, "revoked")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async def refresh() -> None:
            while True:
                await asyncio.sleep(REFRESH_INTERVAL_S)
                hub.publish()

        audit_writer.start()
        webhooks.start()
        stats_recorder.start()
        task = asyncio.create_task(refresh())
        watcher = asyncio.create_task(watch_revoked())
        rollouts = asyncio.create_task(app.state.fleet_admin.run_timer(ROLLOUT_TICK_S))
        if settings.demo:
            log.warning(
                "DEMO MODE: plain HTTP on %s, cookies without Secure; never for real citizens",
                settings.host,
            )
        log.info(
            "switchboard ready: %d services from %s%s",
            len(catalogue.services),
            catalogue.source,
            " (DEMO MODE)" if settings.demo else "",
        )
        try:
            yield
        finally:
            task.cancel()
            watcher.cancel()
            rollouts.cancel()
            await audit_writer.stop()
            await webhooks.stop()
            await stats_recorder.stop()
            db.close()

    app = FastAPI(
        title="Guichet switchboard",
        version="1",
        description="Queues, agent presence and WebRTC signaling. See docs/protocol.md.",
        docs_url=None,  # the default page loads Swagger UI from a CDN
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.hub = hub
    app.state.db = db
    app.state.sessions = sessions
    app.state.settings = settings
    headers = _security_headers(settings)

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        if request.url.path == EMBED_SDK_PATH:
            # A portal on another origin loads the SDK as a module script (CORS).
            response.headers["Access-Control-Allow-Origin"] = "*"
        return response

    @app.get("/api/v1/embed/config")
    async def embed_config() -> EmbedConfig:
        """The portals allowed to embed the console (the console inside an iframe
        talks only to one of these origins)."""
        return EmbedConfig(origins=list(settings.embed_origins))

    # ---------------------------------------------------------------- dependencies

    async def current_booth(request: Request) -> auth.BoothPublic:
        if signing.HEADER_BOOTH.lower() in request.headers:
            # An enrolled booth signs its requests with its key (docs/provisioning.md).
            path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            try:
                signed = await app.state.booth_verifier.check(
                    dict(request.headers), request.method, path, await request.body()
                )
            except provisioning_server.BoothRefused as exc:
                raise HTTPException(exc.status, f"{exc.code.value}: {exc.reason}") from exc
            return _enrolled_booth(signed)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        booth = None
        if scheme.lower() == "bearer" and token:
            booth = await asyncio.to_thread(auth.booth_for_token, db, token.strip())
        if booth is None:
            raise HTTPException(
                401, "unknown or revoked booth token", headers={"WWW-Authenticate": "Bearer"}
            )
        return booth

    async def identity_of(session: Session | None) -> AgentInfo | None:
        """Who a console session is: the provider's word, or the local account as it is now."""
        if session is None:
            return None
        if session.identity is not None:
            return session.identity
        return await asyncio.to_thread(auth.get_agent, db, session.username)

    async def current_person(request: Request) -> AgentInfo:
        person = await identity_of(sessions.get(request.cookies.get(SESSION_COOKIE)))
        if person is None:
            raise HTTPException(401, "not logged in")
        return person

    async def current_agent(person: Annotated[AgentInfo, Depends(current_person)]) -> AgentInfo:
        if "agent" not in person.roles:
            raise HTTPException(403, "only agents may do this")
        return person

    async def current_supervisor(
        person: Annotated[AgentInfo, Depends(current_person)],
    ) -> AgentInfo:
        if "supervisor" not in person.roles:
            raise HTTPException(403, "only supervisors may do this")
        return person

    # ---------------------------------------------------------------- HTTP

    @app.get("/api/v1/health")
    async def health() -> Health:
        """Liveness probe."""
        return Health(status="ok")

    @app.get("/api/v1/catalogue")
    async def get_catalogue(
        booth: Annotated[auth.BoothPublic, Depends(current_booth)],
    ) -> wire.Catalogue:
        """Services with their hours, whether open now, and current waits (booths only)."""
        return hub.catalogue_public()

    @app.post("/api/v1/agent/login")
    def login(body: wire.LoginRequest, response: Response) -> AgentInfo:
        """Check a console account's password (agent or supervisor) and set the session cookie."""
        if settings.oidc is not None and not settings.oidc.local_login:
            raise HTTPException(403, "local sign-in is disabled: use the identity provider")
        agent = auth.authenticate(db, body.username, body.password)
        if agent is None:
            log.warning("failed login for %r", body.username[:64])
            raise HTTPException(401, "wrong username or password")
        token = sessions.create(agent.username)
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=settings.session_ttl_s,
            httponly=True,
            samesite="strict",
            secure=settings.cookie_secure,
            path="/",
        )
        log.info("agent %s logged in", agent.username)
        return agent

    @app.post("/api/v1/agent/logout", status_code=204)
    async def logout(request: Request, response: Response) -> None:
        """End the agent's session."""
        sessions.drop(request.cookies.get(SESSION_COOKIE))
        response.delete_cookie(
            SESSION_COOKIE, httponly=True, samesite="strict", secure=settings.cookie_secure
        )

    @app.get("/api/v1/agent/me")
    async def me(person: Annotated[AgentInfo, Depends(current_person)]) -> AgentInfo:
        """Who is logged in to the console, with their roles (agent, supervisor)."""
        return person

    @app.get("/api/v1/supervisor/overview")
    async def supervisor_overview(
        person: Annotated[AgentInfo, Depends(current_supervisor)],
    ) -> wire.SupervisorView:
        """Queues and ongoing calls of the supervisor's services (read-only)."""
        return hub.supervisor_view(person.services)

    @app.post("/api/v1/agent/audit", status_code=201)
    async def report_device_work(
        body: wire.DeviceAuditReport,
        request: Request,
        agent: Annotated[AgentInfo, Depends(current_agent)],
    ) -> wire.AuditReceipt:
        """Record device work the agent's console saw end (metadata only: kind, outcome,
        pages) on a call of this agent that is live or ended recently."""
        if not _same_origin(request):
            raise HTTPException(403, "foreign origin")
        check = hub.check_call(body.call_id, agent.username)
        if check is CallCheck.NOT_YOURS:
            log.warning("agent %s reported device work on another's call", agent.username)
            raise HTTPException(403, "this call is not yours")
        if check is CallCheck.UNKNOWN:
            raise HTTPException(404, "no live or recent call with this id")
        entry = await audit_writer.submit(audit.from_device_report(agent.username, body))
        return wire.AuditReceipt(seq=entry.seq, hash=entry.hash)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(_docs_page(app.openapi()))

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/console/")

    # ---------------------------------------------------------------- WebSockets

    @app.websocket("/ws/booth")
    async def ws_booth(ws: WebSocket) -> None:
        signed: provisioning_server.SignedBooth | None = None
        refused: provisioning_server.BoothRefused | None = None
        if signing.HEADER_BOOTH.lower() in ws.headers:
            try:
                signed = await app.state.booth_verifier.check(
                    dict(ws.headers), "GET", ws.url.path, b""
                )
            except provisioning_server.BoothRefused as exc:
                refused = exc
        await ws.accept()
        if refused is not None:
            log.warning("booth connection refused: %s", refused)
            code = CLOSE_REVOKED if refused.code.value == "revoked" else CLOSE_UNAUTHORIZED
            await _close(ws, code, _unauthorized(f"{refused.code.value}: {refused.reason}"))
            return
        try:
            first = await asyncio.wait_for(ws.receive(), HELLO_TIMEOUT_S)
        except TimeoutError:
            await _close(ws, CLOSE_UNAUTHORIZED, _unauthorized("no hello received in time"))
            return
        if first["type"] == "websocket.disconnect":
            return
        raw = first.get("text") or (first.get("bytes") or b"").decode("utf-8", "replace")
        try:
            hello = wire.parse_from_booth(raw)
        except WireError as exc:
            log.warning("booth connection refused: %s", exc)
            await _close(ws, CLOSE_UNAUTHORIZED, wire.Error(code=exc.code, message=exc.reason))
            return
        if not isinstance(hello, wire.BoothHello):
            await _close(ws, CLOSE_UNAUTHORIZED, _unauthorized("send hello first", hello.type))
            return
        if signed is not None:
            booth: auth.BoothPublic | None = _enrolled_booth(signed)
        elif hello.token:
            booth = await asyncio.to_thread(auth.booth_for_token, db, hello.token)
        else:
            booth = None
        if booth is None:
            log.warning("booth connection refused: unknown or revoked token")
            await _close(ws, CLOSE_UNAUTHORIZED, _unauthorized("unknown or revoked booth token"))
            return
        outbox = SocketOutbox()
        link = hub.booth_connected(booth.booth_id, booth.name, outbox, hello.call_id)
        if signed is not None:
            enrolled[booth.booth_id] = outbox
        try:
            await _serve(ws, outbox, lambda data: hub.booth_message(link, data))
        finally:
            if enrolled.get(booth.booth_id) is outbox:
                del enrolled[booth.booth_id]
            hub.booth_disconnected(link)

    @app.websocket("/ws/agent")
    async def ws_agent(ws: WebSocket) -> None:
        token = ws.cookies.get(SESSION_COOKIE)
        agent = await identity_of(sessions.get(token))
        await ws.accept()
        if agent is None or not _same_origin(ws):
            log.warning("agent websocket refused: no valid session or foreign origin")
            await _close(ws, CLOSE_UNAUTHORIZED)
            return
        if "agent" not in agent.roles:
            log.warning("agent websocket refused: %s is not an agent", agent.username)
            await _close(
                ws,
                CLOSE_FORBIDDEN,
                _unauthorized("forbidden: supervisors watch, they do not answer"),
            )
            return
        outbox = SocketOutbox()
        link = hub.agent_connected(agent, outbox)

        async def watch_session() -> None:
            # Expiry (idle or absolute) and logout close the console's socket.
            while sessions.get(token, touch=False) is not None:
                await asyncio.sleep(SESSION_WATCH_S)
            log.info("agent %s: session ended, closing the console socket", agent.username)
            outbox.send(_unauthorized("session expired: sign in again"))
            outbox.close(CLOSE_UNAUTHORIZED, "session expired")

        def on_message(data: str) -> None:
            if message_type(data) != "ping":  # the agent did something: not idle
                sessions.touch(token)
            hub.agent_message(link, data)

        watcher = asyncio.create_task(watch_session())
        try:
            await _serve(ws, outbox, on_message)
        finally:
            watcher.cancel()
            held = hub.agent_disconnected(link)
            if held is not None:
                asyncio.get_running_loop().call_later(
                    AGENT_GRACE_S, hub.agent_grace_over, link, held
                )

    # Enrolment, signed booth requests and config bundles (docs/provisioning.md).
    signing_key = provisioning_server.install(
        app,
        db,
        settings.data_dir,
        on_served=lambda booth, version: fleet_admin.served(booth, version),
    )

    def push_config(issued: dict[str, int]) -> list[str]:
        return [
            booth_id
            for booth_id, version in issued.items()
            if hub.send_to_booth(booth_id, wire.ConfigAvailable(version=version))
        ]

    # Admin and technician API (docs/admin.md): own cookie and session store.
    fleet_admin = admin_api.FleetAdmin(
        db,
        signing_key,
        SessionStore(settings.session_ttl_s, idle_s=settings.session_idle_s),
        push_config,
        settings.cookie_secure,
        settings.session_ttl_s,
        connected=lambda: list(hub.booths),
        service_names={service.id: service.name_in("fr") for service in catalogue.services},
    )
    app.state.fleet_admin = fleet_admin
    admin_api.install(app, fleet_admin)

    # Integrators' API (docs/integration.md): bearer keys with scopes.
    def queues_now() -> integration.QueuesNow:
        return integration.QueuesNow(
            at=hub.now(),
            services=[
                integration.QueueNow(
                    service_id=service.id,
                    name=service.name_in("fr"),
                    open_now=service.is_open(hub.now()),
                    waiting=len(hub.queues.waiting(service.id)),
                    agents_available=hub.agents_available(service.id),
                    estimated_wait_s=hub.estimate_for_newcomer(service.id),
                )
                for service in catalogue.services
            ],
        )

    async def stats_for_integrators(
        start: date | None, end: date | None, service: str | None, site: str | None
    ) -> admin_api.StatsView:
        return await admin_api.stats_view(db, start, end, service, site, fleet_admin.service_names)

    app.include_router(
        integration.integration_router(db, queues_now, stats_for_integrators, admin_api.StatsView)
    )
    oidc_routes.install(
        app,
        oidc,
        sessions,
        local_login=settings.oidc is None or settings.oidc.local_login,
        cookie_secure=settings.cookie_secure,
        session_ttl_s=settings.session_ttl_s,
        staff_sessions=fleet_admin.sessions,
        on_staff_login=fleet_admin.record_login,
    )
    app.mount("/admin", StaticFiles(directory=ADMIN_DIR, html=True), name="admin")

    app.mount("/embed", StaticFiles(directory=EMBED_DIR, html=True), name="embed")
    CONSOLE_DIR.mkdir(exist_ok=True)
    app.mount("/console", StaticFiles(directory=CONSOLE_DIR, html=True), name="console")
    return app


def _oidc_client(settings: ServerSettings) -> OidcClient | None:
    """The OpenID Connect client of these settings, its secret read now (never logged)."""
    from guichet.secrets import SecretFileError, read_secret_file

    config: OidcSettings | None = settings.oidc
    if config is None:
        return None
    secret: str | None = None
    if config.client_secret_file is not None:
        try:
            raw = read_secret_file(
                config.client_secret_file, min_bytes=16, what="OIDC client secret file"
            )
        except SecretFileError as exc:
            raise SettingsError(f"refusing to start: {exc}") from exc
        secret = raw.decode("utf-8", errors="strict")
    return OidcClient(config, secret, production=not settings.demo)


def _enrolled_booth(signed: provisioning_server.SignedBooth) -> auth.BoothPublic:
    # The booth shows its own name (its config's branding); the switchboard knows its id.
    return auth.BoothPublic(signed.booth_id, signed.booth_id, datetime.now(UTC), revoked=False)


def _unauthorized(message: str, ref: str | None = None) -> wire.Error:
    return wire.Error(code=ErrorCode.UNAUTHORIZED, message=message, ref=ref)


def _docs_page(spec: dict[str, Any]) -> str:
    """A self-contained HTML index of the API (no CDN, no script)."""
    rows = []
    for path, operations in spec.get("paths", {}).items():
        for method, op in operations.items():
            summary = op.get("summary", "") + (
                " — " + op["description"] if op.get("description") else ""
            )
            rows.append(
                f"<tr><td><code>{html.escape(method.upper())}</code></td>"
                f"<td><code>{html.escape(path)}</code></td><td>{html.escape(summary)}</td></tr>"
            )
    return (
        "<!doctype html><html lang=en><meta charset=utf-8><title>Guichet API</title>"
        "<h1>Guichet switchboard API</h1>"
        '<p>Machine-readable contract: <a href="/openapi.json">/openapi.json</a>. '
        "WebSockets <code>/ws/booth</code> and <code>/ws/agent</code> follow "
        "<code>docs/protocol.md</code> (messages in <code>guichet/wire.py</code>).</p>"
        "<table><tr><th>method</th><th>path</th><th>what</th></tr>" + "".join(rows) + "</table>"
    )

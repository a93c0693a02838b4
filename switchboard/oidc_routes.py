"""HTTP routes of the OpenID Connect sign-in (``/api/v1/oidc/...``) and the sign-in options.

Every failure ends on a French page that says what happened and links back to the
sign-in page; none is a 500. The log line names the case, never a token or a secret.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from switchboard.auth import SESSION_COOKIE, STAFF_COOKIE, SessionStore, StaffInfo, StaffRole
from switchboard.oidc import (
    OidcError,
    OidcFailure,
    french_message,
    identity_from_claims,
    same_secret,
    staff_from_claims,
)
from switchboard.oidc_client import PENDING_TTL_S, LoginTarget, OidcClient

log = logging.getLogger(__name__)

STATE_COOKIE = "guichet_oidc_state"
"""Binds a sign-in to the browser that started it (login CSRF): its value is the state."""
OIDC_PATH = "/api/v1/oidc"
CONSOLE_FROM_OIDC = "../../../console/"
"""The console, relative to ``/api/v1/oidc/...`` (works under a path prefix too)."""
ADMIN_FROM_OIDC = "../../../admin/"

_STATUS = {
    OidcFailure.NOT_CONFIGURED: 404,
    OidcFailure.PROVIDER_DOWN: 502,
    OidcFailure.PROVIDER_BROKEN: 502,
    OidcFailure.DENIED: 403,
    OidcFailure.BAD_STATE: 400,
    OidcFailure.CODE_REJECTED: 400,
    OidcFailure.TOKEN_INVALID: 400,
    OidcFailure.NO_ROLE: 403,
}


class AuthOptions(BaseModel):
    """How a person may sign in to the console (the sign-in page reads it)."""

    local: bool
    """The username/password form is offered."""
    oidc_name: str | None
    """Name of the identity provider for the button, or None without OpenID Connect."""
    oidc_login_url: str | None


def error_page(code: OidcFailure, provider: str, back: str = CONSOLE_FROM_OIDC) -> HTMLResponse:
    """A self-contained French page for a failed sign-in (no script, own stylesheet)."""
    message = html.escape(french_message(code, provider), quote=False)
    body = (
        '<!doctype html><html lang="fr"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        "<title>Guichet — Connexion impossible</title>"
        f'<link rel="stylesheet" href="{CONSOLE_FROM_OIDC}console.css"></head>'
        '<body><div class="gc"><main class="gc-main"><section class="gc-login">'
        '<div class="gc-card gc-login-card">'
        '<h1 class="gc-h1">Connexion impossible</h1>'
        f'<p class="gc-alert gc-alert-error" role="alert" id="gc-oidc-error" '
        f'data-code="{code.value}">{message}</p>'
        f'<p><a class="gc-btn gc-btn-primary gc-btn-block" href="{back}">'
        "Revenir à la page de connexion</a></p>"
        "</div></section></main></div></body></html>"
    )
    return HTMLResponse(body, status_code=_STATUS[code], headers={"Cache-Control": "no-store"})


def install(
    app: FastAPI,
    client: OidcClient | None,
    sessions: SessionStore,
    *,
    local_login: bool,
    cookie_secure: bool,
    session_ttl_s: int,
    staff_sessions: SessionStore | None = None,
    on_staff_login: Callable[[StaffInfo, str], Awaitable[None]] | None = None,
) -> None:
    """Add the sign-in options route and, with a client, the OpenID Connect routes.

    With ``staff_sessions`` a sign-in started with ``?to=admin`` opens the admin console
    (roles ``admin`` or ``technician`` from the claims) instead of the agent console."""
    provider = client.provider_name if client is not None else "le fournisseur d'identité"

    def failed(code: OidcFailure, detail: str, target: LoginTarget = "console") -> HTMLResponse:
        log.warning("OpenID Connect sign-in failed: %s: %s", code.value, detail)
        back = ADMIN_FROM_OIDC if target == "admin" else CONSOLE_FROM_OIDC
        response = error_page(code, provider, back)
        response.delete_cookie(
            STATE_COOKIE, path=OIDC_PATH, httponly=True, samesite="lax", secure=cookie_secure
        )
        return response

    @app.get("/api/v1/auth/options")
    async def auth_options() -> AuthOptions:
        """How to sign in to the console: local form, identity provider, or both."""
        return AuthOptions(
            local=local_login or client is None,
            oidc_name=client.provider_name if client else None,
            oidc_login_url=f"{OIDC_PATH}/login" if client else None,
        )

    @app.get(f"{OIDC_PATH}/login", response_model=None)
    async def oidc_login(to: str = "console") -> Response:
        """Start a sign-in: redirect to the identity provider (code flow, PKCE S256).
        ``to=admin``: for the admin console."""
        target: LoginTarget = "admin" if to == "admin" and staff_sessions is not None else "console"
        if client is None:
            return failed(OidcFailure.NOT_CONFIGURED, "no [oidc] settings", target)
        try:
            url, login = await client.authorization_url(target)
        except OidcError as exc:
            return failed(exc.code, exc.detail, target)
        response = RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})
        # Lax, not Strict: the provider sends the browser back with a cross-site redirect.
        response.set_cookie(
            STATE_COOKIE,
            login.state,
            max_age=int(PENDING_TTL_S),
            path=OIDC_PATH,
            httponly=True,
            samesite="lax",
            secure=cookie_secure,
        )
        return response

    @app.get(f"{OIDC_PATH}/callback", response_model=None)
    async def oidc_callback(request: Request) -> Response:
        """Where the provider sends the browser back: check, exchange, open a session."""
        if client is None:
            return failed(OidcFailure.NOT_CONFIGURED, "no [oidc] settings")
        params = request.query_params
        state = params.get("state", "")
        cookie = request.cookies.get(STATE_COOKIE, "")
        if not state or not cookie or not same_secret(state, cookie):
            return failed(OidcFailure.BAD_STATE, "state missing or not this browser's")
        pending = client.pending.pop(state)
        target: LoginTarget = pending.target if pending is not None else "console"
        if params.get("error"):
            error = params.get("error", "")[:64]
            code = (
                OidcFailure.DENIED
                if error in ("access_denied", "login_required")
                else (OidcFailure.PROVIDER_BROKEN)
            )
            return failed(code, f"provider answered error={error}", target)
        if pending is None:
            return failed(OidcFailure.BAD_STATE, "unknown, used or expired state")
        iss = params.get("iss")
        if iss is not None and iss != client.settings.issuer:
            return failed(OidcFailure.BAD_STATE, f"response from issuer {iss[:100]!r}", target)
        code_param = params.get("code")
        if not code_param:
            return failed(OidcFailure.PROVIDER_BROKEN, "no code in the response", target)
        try:
            claims = await client.claims(code_param, pending.login)
            if target == "admin":
                return await staff_signed_in(claims)
            identity = identity_from_claims(claims, client.mapping)
        except OidcError as exc:
            return failed(exc.code, exc.detail, target)
        except Exception as exc:  # a sign-in never ends in a 500: say so, log it
            log.exception("OpenID Connect sign-in: unexpected failure")
            return failed(OidcFailure.PROVIDER_BROKEN, repr(exc)[:200], target)
        token = sessions.create(identity.username, identity, oidc=True)
        log.info(
            "%s signed in through OpenID Connect as %s for %s",
            identity.username,
            "+".join(identity.roles),
            ",".join(identity.services),
        )
        response = RedirectResponse(CONSOLE_FROM_OIDC, status_code=303)
        response.delete_cookie(
            STATE_COOKIE, path=OIDC_PATH, httponly=True, samesite="lax", secure=cookie_secure
        )
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=session_ttl_s,
            httponly=True,
            samesite="strict",
            secure=cookie_secure,
            path="/",
        )
        return response

    async def staff_signed_in(claims: dict[str, Any]) -> Response:
        assert client is not None and staff_sessions is not None  # noqa: S101 - checked
        username, display_name, role = staff_from_claims(claims, client.mapping)
        staff = StaffInfo(username, display_name, StaffRole(role))
        token = staff_sessions.create(username, oidc=True, staff=staff)
        log.info("%s signed in to the admin console through OpenID Connect as %s", username, role)
        if on_staff_login is not None:
            await on_staff_login(staff, "openid-connect")
        response = RedirectResponse(ADMIN_FROM_OIDC, status_code=303)
        response.delete_cookie(
            STATE_COOKIE, path=OIDC_PATH, httponly=True, samesite="lax", secure=cookie_secure
        )
        response.set_cookie(
            STAFF_COOKIE,
            token,
            max_age=session_ttl_s,
            httponly=True,
            samesite="strict",
            secure=cookie_secure,
            path="/",
        )
        return response

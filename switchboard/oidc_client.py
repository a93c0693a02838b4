"""OpenID Connect relying party I/O: discovery, JWKS, code exchange, userinfo, pending logins.

Server-side authorization code flow with PKCE S256, ``state`` and ``nonce``
(:mod:`switchboard.oidc` holds the checks). The provider is read lazily: a switchboard
starts, and local accounts work, while the provider is down.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, urlencode

import httpx

from switchboard.oidc import (
    ClaimMapping,
    LoginStart,
    OidcError,
    OidcFailure,
    new_login,
    token_key_id,
    verify_id_token,
)
from switchboard.settings import OidcSettings

log = logging.getLogger(__name__)

HTTP_TIMEOUT_S = 10.0
"""How long one request to the provider may take before it counts as down."""
PENDING_TTL_S = 600.0
"""A sign-in must come back from the provider within this time."""
PENDING_MAX = 10_000
"""Pending sign-ins kept at most (oldest dropped): unauthenticated requests create them."""
DISCOVERY_TTL_S = 3600.0
"""Discovery document and JWKS are re-read this often (and at once on an unknown key id)."""


@dataclass(frozen=True)
class Discovery:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None


LoginTarget = Literal["console", "admin"]
"""Which console a sign-in opens: the agent console or the admin console."""


@dataclass(frozen=True)
class Pending:
    login: LoginStart
    created: float
    target: LoginTarget = "console"


class PendingLogins:
    """Sign-ins sent to the provider and not back yet, by state; each is used once."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._items: dict[str, Pending] = {}
        self._lock = threading.Lock()

    def add(self, login: LoginStart, target: LoginTarget = "console") -> None:
        with self._lock:
            now = self._clock()
            for state in [s for s, p in self._items.items() if now - p.created > PENDING_TTL_S]:
                del self._items[state]
            while len(self._items) >= PENDING_MAX:
                del self._items[next(iter(self._items))]
            self._items[login.state] = Pending(login, now, target)

    def pop(self, state: str) -> Pending | None:
        """The sign-in of ``state`` if it is pending and fresh (it is forgotten either way)."""
        with self._lock:
            pending = self._items.pop(state, None)
        if pending is None or self._clock() - pending.created > PENDING_TTL_S:
            return None
        return pending


class OidcClient:
    """The switchboard as an OpenID Connect client of one provider."""

    def __init__(
        self,
        settings: OidcSettings,
        client_secret: str | None,
        *,
        production: bool,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._secret = client_secret
        self._production = production
        self._clock = clock
        self.pending = PendingLogins()
        self.mapping = ClaimMapping(
            roles_claim=settings.roles_claim,
            services_claim=settings.services_claim,
            username_claim=settings.username_claim,
            name_claim=settings.name_claim,
            role_map=dict(settings.role_map),
        )
        self._discovery: tuple[Discovery, float] | None = None
        self._jwks: tuple[dict[str, Any], float] | None = None

    @property
    def provider_name(self) -> str:
        return self.settings.display_name

    def _http(self) -> httpx.AsyncClient:
        verify: str | bool = str(self.settings.ca_file) if self.settings.ca_file else True
        return httpx.AsyncClient(timeout=HTTP_TIMEOUT_S, verify=verify, follow_redirects=False)

    async def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            async with self._http() as http:
                response = await http.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise OidcError(OidcFailure.PROVIDER_DOWN, f"{what} {url}: {exc!r}") from exc
        if response.status_code != 200:
            raise OidcError(OidcFailure.PROVIDER_DOWN, f"{what} {url}: HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError as exc:
            raise OidcError(OidcFailure.PROVIDER_BROKEN, f"{what} {url}: not JSON") from exc
        if not isinstance(data, dict):
            raise OidcError(OidcFailure.PROVIDER_BROKEN, f"{what} {url}: not a JSON object")
        return data

    async def discovery(self) -> Discovery:
        """The provider's endpoints (cached for :data:`DISCOVERY_TTL_S`)."""
        if self._discovery is not None and self._clock() - self._discovery[1] < DISCOVERY_TTL_S:
            return self._discovery[0]
        issuer = self.settings.issuer
        url = f"{issuer.rstrip('/')}/.well-known/openid-configuration"
        data = await self._get_json(url, "discovery")
        if data.get("issuer") != issuer:
            raise OidcError(
                OidcFailure.PROVIDER_BROKEN,
                f"discovery says issuer {data.get('issuer')!r}, configured {issuer!r}",
            )
        try:
            found = Discovery(
                issuer=issuer,
                authorization_endpoint=str(data["authorization_endpoint"]),
                token_endpoint=str(data["token_endpoint"]),
                jwks_uri=str(data["jwks_uri"]),
                userinfo_endpoint=(
                    str(data["userinfo_endpoint"]) if data.get("userinfo_endpoint") else None
                ),
            )
        except KeyError as exc:
            raise OidcError(OidcFailure.PROVIDER_BROKEN, f"discovery lacks {exc}") from exc
        methods = data.get("code_challenge_methods_supported")
        if isinstance(methods, list) and "S256" not in methods:
            raise OidcError(OidcFailure.PROVIDER_BROKEN, "provider does not support PKCE S256")
        if self._production:
            for url in (found.authorization_endpoint, found.token_endpoint, found.jwks_uri):
                if not url.startswith("https://"):
                    raise OidcError(OidcFailure.PROVIDER_BROKEN, f"endpoint {url} is not https")
        self._discovery = (found, self._clock())
        return found

    async def _keys(self, discovery: Discovery, kid: str | None) -> dict[str, Any]:
        cached = self._jwks
        fresh = cached is not None and self._clock() - cached[1] < DISCOVERY_TTL_S
        known = cached is not None and (
            kid is None or any(k.get("kid") == kid for k in cached[0].get("keys", []))
        )
        if cached is not None and fresh and known:
            return cached[0]
        jwks = await self._get_json(discovery.jwks_uri, "JWKS")
        self._jwks = (jwks, self._clock())
        return jwks

    async def authorization_url(self, target: LoginTarget = "console") -> tuple[str, LoginStart]:
        """Where to send the browser, and the sign-in to remember (its state goes in a cookie)."""
        discovery = await self.discovery()
        login = new_login()
        self.pending.add(login, target)
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.settings.client_id,
                "redirect_uri": self.settings.redirect_uri,
                "scope": " ".join(self.settings.scopes),
                "state": login.state,
                "nonce": login.nonce,
                "code_challenge": login.code_challenge,
                "code_challenge_method": "S256",
            }
        )
        separator = "&" if "?" in discovery.authorization_endpoint else "?"
        return f"{discovery.authorization_endpoint}{separator}{query}", login

    async def claims(self, code: str, login: LoginStart) -> dict[str, Any]:
        """Exchange ``code`` (with the PKCE verifier), verify the ID token, add userinfo."""
        discovery = await self.discovery()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.settings.redirect_uri,
            "code_verifier": login.code_verifier,
        }
        # client_secret_basic (RFC 6749 2.3.1: id and secret form-encoded, then Basic).
        headers = {"Accept": "application/json"}
        if self._secret is None:
            form["client_id"] = self.settings.client_id
        else:
            basic = httpx.BasicAuth(
                quote(self.settings.client_id, safe=""), quote(self._secret, safe="")
            )
            headers["Authorization"] = basic._auth_header
        try:
            async with self._http() as http:
                response = await http.post(
                    discovery.token_endpoint,
                    data=form,
                    headers=headers,
                )
        except httpx.HTTPError as exc:
            raise OidcError(OidcFailure.PROVIDER_DOWN, f"token endpoint: {exc!r}") from exc
        if response.status_code in (400, 401):
            error = _error_of(response)
            raise OidcError(OidcFailure.CODE_REJECTED, f"token endpoint refused: {error}")
        if response.status_code != 200:
            raise OidcError(
                OidcFailure.PROVIDER_DOWN, f"token endpoint: HTTP {response.status_code}"
            )
        try:
            tokens = response.json()
            id_token = str(tokens["id_token"])
        except (ValueError, KeyError, TypeError) as exc:
            raise OidcError(OidcFailure.PROVIDER_BROKEN, "token response has no id_token") from exc
        jwks = await self._keys(discovery, token_key_id(id_token))
        claims = verify_id_token(
            id_token,
            jwks,
            issuer=discovery.issuer,
            client_id=self.settings.client_id,
            nonce=login.nonce,
            now=self._clock(),
        )
        access_token = tokens.get("access_token")
        if self.mapping.roles_claim not in claims and discovery.userinfo_endpoint and access_token:
            claims = {**await self._userinfo(discovery, str(access_token), claims["sub"]), **claims}
        return claims

    async def _userinfo(self, discovery: Discovery, access_token: str, sub: str) -> dict[str, Any]:
        """Claims the provider keeps out of the ID token (their ``sub`` must match)."""
        assert discovery.userinfo_endpoint is not None  # noqa: S101 - checked by the caller
        try:
            async with self._http() as http:
                response = await http.get(
                    discovery.userinfo_endpoint,
                    headers={
                        "Authorization": f"Bearer {access_token}",
                        "Accept": "application/json",
                    },
                )
        except httpx.HTTPError as exc:
            raise OidcError(OidcFailure.PROVIDER_DOWN, f"userinfo: {exc!r}") from exc
        try:
            data = response.json() if response.status_code == 200 else None
        except ValueError:
            data = None
        if not isinstance(data, dict) or data.get("sub") != sub:
            raise OidcError(OidcFailure.TOKEN_INVALID, "userinfo missing or for another sub")
        return data


def _error_of(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(data, dict):
        return f"{data.get('error')}: {data.get('error_description', '')}"[:200]
    return f"HTTP {response.status_code}"

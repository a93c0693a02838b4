"""ID tokens signed by a real provider (npm ``oidc-provider``), then checked by
:mod:`switchboard.oidc`: the genuine one passes; tampered, foreign-audience, wrong-nonce,
unsigned and expired ones are refused. The test is the relying party here (it holds the
client secrets) because a token can only be tampered with between the provider and us."""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fixtures.oidc_provider import (
    CLIENT_ID,
    OTHER_CLIENT_ID,
    OidcProvider,
    callback_params,
    provider_installed,
    provider_login,
    start_oidc_provider,
)

from switchboard.oidc import (
    ClaimMapping,
    OidcError,
    OidcFailure,
    identity_from_claims,
    pkce_challenge,
    verify_id_token,
)

pytestmark = pytest.mark.skipif(
    not provider_installed(), reason="needs npm oidc-provider: run scripts/install.sh"
)
REDIRECT = "http://127.0.0.1:9/api/v1/oidc/callback"
"""Registered for our client; never followed (the code is read from the redirect)."""


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    running = start_oidc_provider(tmp_path_factory.mktemp("oidc-tokens"), [REDIRECT])
    try:
        yield running
    finally:
        running.stop()


def authorize(
    provider: OidcProvider, client_id: str, redirect: str, nonce: str, challenge: str
) -> str:
    """Sign amelie in at the provider; returns the authorization code."""
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect,
            "scope": "openid profile guichet",
            "state": secrets.token_urlsafe(16),
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    with httpx.Client() as client:
        back = provider_login(client, f"{provider.issuer}/auth?{query}", "amelie")
    return callback_params(back)["code"]


def exchange(
    provider: OidcProvider, client_id: str, secret: str, redirect: str, code: str, verifier: str
) -> httpx.Response:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect}
    if verifier:
        form["code_verifier"] = verifier
    return httpx.post(f"{provider.issuer}/token", data=form, auth=(client_id, secret))


def real_id_token(
    provider: OidcProvider, client_id: str, secret: str, redirect: str
) -> tuple[str, str]:
    """A real ID token for ``client_id`` and the nonce it carries."""
    nonce, verifier = secrets.token_urlsafe(16), secrets.token_urlsafe(48)
    code = authorize(provider, client_id, redirect, nonce, pkce_challenge(verifier))
    response = exchange(provider, client_id, secret, redirect, code, verifier)
    assert response.status_code == 200, response.text
    return str(response.json()["id_token"]), nonce


def jwks(provider: OidcProvider) -> dict[str, Any]:
    data: dict[str, Any] = httpx.get(f"{provider.issuer}/jwks").json()
    return data


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def check(provider: OidcProvider, token: str, nonce: str, **over: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "issuer": provider.issuer,
        "client_id": CLIENT_ID,
        "nonce": nonce,
        "now": time.time(),
    }
    args.update(over)
    return verify_id_token(token, jwks(provider), **args)


def refused(provider: OidcProvider, token: str, nonce: str, **over: Any) -> str:
    with pytest.raises(OidcError) as caught:
        check(provider, token, nonce, **over)
    assert caught.value.code is OidcFailure.TOKEN_INVALID
    return caught.value.detail


def test_genuine_token_passes_and_tampered_ones_do_not(provider: OidcProvider) -> None:
    token, nonce = real_id_token(provider, CLIENT_ID, provider.client_secret, REDIRECT)
    claims = check(provider, token, nonce)
    assert claims["sub"] == "amelie" and claims["guichet_roles"] == ["agent"]

    header, payload, signature = token.split(".")
    # Promote oneself to supervisor of everything, keeping the provider's signature.
    forged = json.loads(unb64(payload)) | {"guichet_roles": ["supervisor"]}
    tampered = f"{header}.{b64(json.dumps(forged).encode())}.{signature}"
    assert "signature" in refused(provider, tampered, nonce)
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    assert "signature" in refused(provider, f"{header}.{payload}.{flipped}", nonce)
    # No signature at all ("alg": "none"), or HMAC keyed with public material.
    for alg in ("none", "HS256"):
        head = json.loads(unb64(header)) | {"alg": alg}
        unsigned = f"{b64(json.dumps(head).encode())}.{payload}."
        assert "not accepted" in refused(provider, unsigned, nonce)
    assert "compact JWS" in refused(provider, "not-a-token", nonce)

    assert "nonce" in refused(provider, token, "another-sign-in")
    assert "issuer" in refused(provider, token, nonce, issuer="http://127.0.0.1:1")
    assert "expired" in refused(provider, token, nonce, now=time.time() + 86400)
    assert "future" in refused(provider, token, nonce, now=time.time() - 86400)


def test_token_issued_to_another_application_is_refused(provider: OidcProvider) -> None:
    other = "http://127.0.0.1:9/elsewhere"
    token, nonce = real_id_token(provider, OTHER_CLIENT_ID, provider.other_secret, other)
    assert check(provider, token, nonce, client_id=OTHER_CLIENT_ID)["aud"] == OTHER_CLIENT_ID
    assert "audience" in refused(provider, token, nonce)


def test_provider_enforces_pkce(provider: OidcProvider) -> None:
    verifier = secrets.token_urlsafe(48)
    code = authorize(provider, CLIENT_ID, REDIRECT, "n", pkce_challenge(verifier))
    wrong = exchange(provider, CLIENT_ID, provider.client_secret, REDIRECT, code, "x" * 50)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    code = authorize(provider, CLIENT_ID, REDIRECT, "n", pkce_challenge(verifier))
    missing = exchange(provider, CLIENT_ID, provider.client_secret, REDIRECT, code, "")
    assert missing.status_code == 400


def test_claims_map_to_roles_and_services() -> None:
    mapping = ClaimMapping(role_map={"GUICHET_SUP": "supervisor"})
    person = identity_from_claims(
        {
            "sub": "x1",
            "name": "Léa",
            "guichet_roles": "agent GUICHET_SUP admin",
            "guichet_services": "caf, impots,<script>",
        },
        mapping,
    )
    assert person.username == "x1"  # no preferred_username: sub
    assert person.roles == ["agent", "supervisor"]  # admin is not a console role
    assert person.services == ["caf", "impots"]  # not a service id: dropped
    with pytest.raises(OidcError) as caught:
        identity_from_claims(
            {"sub": "y", "guichet_roles": ["admin"], "guichet_services": ["caf"]}, mapping
        )
    assert caught.value.code is OidcFailure.NO_ROLE

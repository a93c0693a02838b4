"""OpenID Connect pure logic: PKCE, ID token checks, claims to console roles. No I/O.

The I/O (discovery, JWKS, token exchange) is in :mod:`switchboard.oidc_client`; the
routes in :mod:`switchboard.oidc_routes`. Every failure is an :class:`OidcError` whose
``code`` names the case and whose :func:`french_message` is what the person reads.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from guichet.wire import AgentInfo, ConsoleRole

CLOCK_LEEWAY_S = 60
"""Clock difference tolerated between the provider and us when checking exp and iat."""
MAX_TOKEN_AGE_S = 600
"""An ID token issued longer ago than this is refused (a replayed response)."""
USERNAME_MAX = 64
SERVICE_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
ALGORITHMS = ("RS256", "PS256", "ES256")
"""Signatures accepted on ID tokens; ``none`` and HMAC (``HS*``) never are."""


class OidcFailure(StrEnum):
    """Why a sign-in through the provider failed (each has a French message)."""

    NOT_CONFIGURED = "not_configured"
    PROVIDER_DOWN = "provider_down"
    PROVIDER_BROKEN = "provider_broken"
    DENIED = "denied"
    BAD_STATE = "bad_state"
    CODE_REJECTED = "code_rejected"
    TOKEN_INVALID = "token_invalid"  # noqa: S105 - a failure name
    NO_ROLE = "no_role"


_FRENCH = {
    OidcFailure.NOT_CONFIGURED: "La connexion par fournisseur d'identité n'est pas configurée"
    " sur ce serveur. Utilisez votre identifiant et votre mot de passe.",
    OidcFailure.PROVIDER_DOWN: "{provider} ne répond pas pour le moment. Réessayez dans"
    " quelques minutes ; si cela dure, prévenez le support informatique.",
    OidcFailure.PROVIDER_BROKEN: "{provider} a donné une réponse que Guichet ne comprend pas."
    " Prévenez le support informatique.",
    OidcFailure.DENIED: "La connexion a été refusée ou annulée chez {provider}. Vous n'êtes pas"
    " connecté·e.",
    OidcFailure.BAD_STATE: "Cette tentative de connexion a expiré ou n'a pas été commencée dans"
    " ce navigateur. Recommencez la connexion.",
    OidcFailure.CODE_REJECTED: "{provider} a refusé de confirmer la connexion (lien déjà utilisé"
    " ou expiré). Recommencez la connexion.",
    OidcFailure.TOKEN_INVALID: "La réponse de {provider} n'a pas pu être vérifiée : la connexion"
    " est refusée par sécurité. Recommencez ; si cela se reproduit, prévenez le support"
    " informatique.",
    OidcFailure.NO_ROLE: "Votre compte est reconnu par {provider} mais n'a aucun rôle dans"
    " Guichet qui ouvre cette console (agent ou superviseur avec au moins un service ;"
    " administrateur ou technicien pour l'administration). Demandez ces droits à votre"
    " administrateur.",
}


class OidcError(Exception):
    """A sign-in that cannot go on; ``detail`` is for the log (never a secret or a token)."""

    def __init__(self, code: OidcFailure, detail: str) -> None:
        super().__init__(f"{code.value}: {detail}")
        self.code = code
        self.detail = detail


def french_message(code: OidcFailure, provider: str) -> str:
    """What the person reads for ``code`` (``provider`` is the configured display name)."""
    return _FRENCH[code].format(provider=provider)


# ---------------------------------------------------------------------------
# PKCE, state, nonce
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginStart:
    """The secrets of one sign-in attempt, kept on the server until the callback."""

    state: str
    nonce: str
    code_verifier: str

    @property
    def code_challenge(self) -> str:
        """PKCE S256 challenge of :attr:`code_verifier` (RFC 7636)."""
        return pkce_challenge(self.code_verifier)


def new_login() -> LoginStart:
    """Fresh random state, nonce and PKCE verifier (256 bits each)."""
    return LoginStart(
        secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(48)
    )


def pkce_challenge(verifier: str) -> str:
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def same_secret(a: str, b: str) -> bool:
    """Constant-time comparison of two secrets such as a state."""
    return hmac.compare_digest(a.encode(), b.encode())


# ---------------------------------------------------------------------------
# ID token
# ---------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _invalid(detail: str) -> OidcError:
    return OidcError(OidcFailure.TOKEN_INVALID, detail)


def _public_key(jwk: Mapping[str, Any]) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
    kty = jwk.get("kty")
    if kty == "RSA":
        n = int.from_bytes(_unb64url(str(jwk["n"])), "big")
        e = int.from_bytes(_unb64url(str(jwk["e"])), "big")
        return rsa.RSAPublicNumbers(e, n).public_key()
    if kty == "EC" and jwk.get("crv") == "P-256":
        x = int.from_bytes(_unb64url(str(jwk["x"])), "big")
        y = int.from_bytes(_unb64url(str(jwk["y"])), "big")
        return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    raise _invalid(f"unsupported key type {kty!r}")


def _key_for(header: Mapping[str, Any], jwks: Mapping[str, Any]) -> Mapping[str, Any]:
    alg = header["alg"]
    kty = "EC" if alg == "ES256" else "RSA"
    keys = [
        k
        for k in jwks.get("keys", [])
        if isinstance(k, dict)
        and k.get("kty") == kty
        and k.get("use", "sig") == "sig"
        and k.get("alg", alg) == alg
    ]
    kid = header.get("kid")
    if kid is not None:
        keys = [k for k in keys if k.get("kid") == kid]
    if len(keys) != 1:
        raise _invalid(f"no single {alg} key with kid {kid!r} in the provider's JWKS")
    return keys[0]


def token_key_id(token: str) -> str | None:
    """The ``kid`` in a JWS header, to know whether the cached JWKS must be refreshed."""
    try:
        header = json.loads(_unb64url(token.split(".")[0]))
    except (ValueError, IndexError, binascii.Error):
        return None
    kid = header.get("kid") if isinstance(header, dict) else None
    return kid if isinstance(kid, str) else None


def verify_signature(token: str, jwks: Mapping[str, Any]) -> dict[str, Any]:
    """The claims of a compact JWS once its signature checks against ``jwks``."""
    parts = token.split(".")
    if len(parts) != 3:
        raise _invalid("ID token is not a compact JWS")
    try:
        header = json.loads(_unb64url(parts[0]))
        claims = json.loads(_unb64url(parts[1]))
        signature = _unb64url(parts[2])
    except (ValueError, binascii.Error) as exc:
        raise _invalid(f"ID token cannot be decoded: {exc}") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise _invalid("ID token header or claims are not JSON objects")
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise _invalid(f"ID token algorithm {alg!r} is not accepted")
    key = _public_key(_key_for(header, jwks))
    signed = f"{parts[0]}.{parts[1]}".encode("ascii")
    try:
        if alg == "ES256":
            if not isinstance(key, ec.EllipticCurvePublicKey) or len(signature) != 64:
                raise _invalid("ES256 signature of the wrong size")
            der = encode_dss_signature(
                int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            )
            key.verify(der, signed, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, rsa.RSAPublicKey):
            pad: padding.AsymmetricPadding = (
                padding.PKCS1v15()
                if alg == "RS256"
                else padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
            )
            key.verify(signature, signed, pad, hashes.SHA256())
        else:
            raise _invalid("key type does not match the algorithm")
    except InvalidSignature as exc:
        raise _invalid("ID token signature does not match the provider's key") from exc
    return claims


def check_id_token_claims(
    claims: Mapping[str, Any], *, issuer: str, client_id: str, nonce: str, now: float
) -> None:
    """Refuse an ID token not for us, not from the issuer, expired, too old or replayed."""
    if claims.get("iss") != issuer:
        raise _invalid(f"issuer {claims.get('iss')!r} is not {issuer!r}")
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if client_id not in audiences:
        raise _invalid(f"audience {aud!r} does not include our client id")
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise _invalid("several audiences and azp is not our client id")
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int | float) or not isinstance(iat, int | float):
        raise _invalid("exp or iat missing")
    if exp <= now - CLOCK_LEEWAY_S:
        raise _invalid("ID token has expired")
    if iat > now + CLOCK_LEEWAY_S:
        raise _invalid("ID token issued in the future")
    if iat < now - MAX_TOKEN_AGE_S - CLOCK_LEEWAY_S:
        raise _invalid("ID token was issued too long ago")
    got = claims.get("nonce")
    if not isinstance(got, str) or not same_secret(got, nonce):
        raise _invalid("nonce does not match this sign-in")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise _invalid("sub missing")


def verify_id_token(
    token: str,
    jwks: Mapping[str, Any],
    *,
    issuer: str,
    client_id: str,
    nonce: str,
    now: float,
) -> dict[str, Any]:
    """The claims of an ID token whose signature, issuer, audience, times and nonce check."""
    claims = verify_signature(token, jwks)
    check_id_token_claims(claims, issuer=issuer, client_id=client_id, nonce=nonce, now=now)
    return claims


# ---------------------------------------------------------------------------
# Claims to a console identity
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimMapping:
    """Which claims say who the person is and what they may do."""

    roles_claim: str = "guichet_roles"
    services_claim: str = "guichet_services"
    username_claim: str = "preferred_username"
    name_claim: str = "name"
    role_map: Mapping[str, str] | None = None


def _claim_values(value: object) -> list[str]:
    """A claim as a list of strings: JSON list, or one string split on spaces and commas."""
    if isinstance(value, str):
        return [v for v in re.split(r"[\s,]+", value) if v]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def identity_from_claims(claims: Mapping[str, Any], mapping: ClaimMapping) -> AgentInfo:
    """The console identity the claims describe; :class:`OidcError` ``no_role`` if none."""
    raw_name = claims.get(mapping.username_claim)
    username = raw_name if isinstance(raw_name, str) and raw_name else str(claims["sub"])
    username = username[:USERNAME_MAX]
    display = claims.get(mapping.name_claim)
    display_name = display if isinstance(display, str) and display.strip() else username
    role_map = mapping.role_map or {}
    roles: list[ConsoleRole] = []
    for value in _claim_values(claims.get(mapping.roles_claim)):
        role = role_map.get(value, value)
        if role == "agent" and "agent" not in roles:
            roles.append("agent")
        elif role == "supervisor" and "supervisor" not in roles:
            roles.append("supervisor")
    services = [s for s in _claim_values(claims.get(mapping.services_claim)) if SERVICE_RE.match(s)]
    if not roles or not services:
        raise OidcError(
            OidcFailure.NO_ROLE,
            f"{username}: roles {roles} services {services} from claims"
            f" {mapping.roles_claim!r}/{mapping.services_claim!r}",
        )
    return AgentInfo(
        username=username, display_name=display_name[:120], services=services, roles=roles
    )


StaffRoleName = Literal["admin", "technician"]


def staff_from_claims(
    claims: Mapping[str, Any], mapping: ClaimMapping
) -> tuple[str, str, StaffRoleName]:
    """``(username, display name, role)`` for the admin console; ``admin`` wins over
    ``technician``; :class:`OidcError` ``no_role`` with neither."""
    raw_name = claims.get(mapping.username_claim)
    username = (raw_name if isinstance(raw_name, str) and raw_name else str(claims["sub"]))[
        :USERNAME_MAX
    ]
    display = claims.get(mapping.name_claim)
    display_name = display if isinstance(display, str) and display.strip() else username
    role_map = mapping.role_map or {}
    roles = {role_map.get(v, v) for v in _claim_values(claims.get(mapping.roles_claim))}
    if "admin" in roles:
        return username, display_name[:120], "admin"
    if "technician" in roles:
        return username, display_name[:120], "technician"
    raise OidcError(OidcFailure.NO_ROLE, f"{username}: no admin or technician role")

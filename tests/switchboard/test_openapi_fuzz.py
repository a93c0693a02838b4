"""schemathesis against the real server's OpenAPI document (switchboard, provisioning,
admin API in one process on 127.0.0.1): every operation, valid and invalid inputs, sent
as each kind of caller. No answer may be a 5xx, and a documented answer must match
its schema.

Each generated request is sent once per identity (nobody, agent, admin, technician,
booth token, key-signed booth): the same input must be refused cleanly by the wrong
caller and handled cleanly by the right one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import schemathesis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fixtures.fuzz import examples
from fixtures.server import RunningServer, start_switchboard
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance

from provisioning import service, signing
from provisioning.booth_client import KEY_FILE, enrol
from provisioning.keys import read_private_key
from provisioning.messages import Refusal, RefusalAnswer, RefusalCode
from switchboard import auth
from switchboard.auth import StaffRole
from switchboard.db import Database

EXAMPLES_PER_OPERATION = examples(10)
"""Per operation and per mode (valid, invalid): the module stays around a minute."""
HTTP_TIMEOUT_S = 30.0
"""Generous: answers take milliseconds, but CI machines can be very loaded."""
CHECKS = [not_a_server_error, response_schema_conformance]
SITE = "fuzz-site"
AGENT_COOKIE = "guichet_session"


@dataclass
class Identity:
    """How one kind of caller authenticates its requests."""

    name: str
    cookies: dict[str, str]
    headers: dict[str, str]
    auth: requests.auth.AuthBase | None = None


class SignedBooth(requests.auth.AuthBase):
    """Signs each request as an enrolled booth does, over the body actually sent."""

    def __init__(self, key: Ed25519PrivateKey, booth_id: str) -> None:
        self.key = key
        self.booth_id = booth_id

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        url = urlsplit(request.url or "")
        path = url.path + (f"?{url.query}" if url.query else "")
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        request.headers.update(
            signing.sign_request(self.key, self.booth_id, request.method or "GET", path, body)
        )
        return request


@dataclass
class FuzzTarget:
    server: RunningServer
    identities: list[Identity]


def _login(server: RunningServer, path: str, username: str, password: str) -> dict[str, str]:
    response = requests.post(
        f"{server.base_url}{path}",
        json={"username": username, "password": password},
        timeout=HTTP_TIMEOUT_S,
    )
    response.raise_for_status()
    return dict(response.cookies)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzTarget]:
    tmp = tmp_path_factory.mktemp("openapi-fuzz")
    server = start_switchboard(tmp, booths=["booth-1"])
    db = Database(f"sqlite:///{server.data_dir / 'guichet.sqlite3'}")
    try:
        auth.add_staff(db, "ada", "ada-pw", StaffRole.ADMIN)
        auth.add_staff(db, "tom", "tom-pw", StaffRole.TECHNICIAN)
        code = service.create_code(db, SITE).code
    finally:
        db.close()
    try:
        state = tmp / "booth-state"
        identity = enrol(server.base_url, SITE, code, state)
        key = read_private_key(state / KEY_FILE)
        identities = [
            Identity("nobody", {}, {}),
            Identity("agent", _login(server, "/api/v1/agent/login", "alice", "alice-pw"), {}),
            Identity("admin", _login(server, "/api/v1/admin/login", "ada", "ada-pw"), {}),
            Identity("technician", _login(server, "/api/v1/admin/login", "tom", "tom-pw"), {}),
            Identity(
                "booth-token",
                {},
                {"Authorization": f"Bearer {server.booth_tokens['booth-1']}"},
            ),
            Identity("booth-key", {}, {}, SignedBooth(key, identity.booth_id)),
        ]
        yield FuzzTarget(server, identities)
    finally:
        server.stop()


def _operations(base_url: str) -> list[Any]:
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


def _fuzz(operation: Any, mode: GenerationMode, identities: list[Identity]) -> None:
    """Send generated cases for one operation as every identity; raises on a failed check."""

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        for identity in identities:
            if case.path.endswith("/logout") and identity.cookies:
                continue  # would end the session the other examples use
            if case.path.endswith("/login") and identity.name != "nobody":
                continue  # who calls makes no difference, and each try hashes a password
            case.call_and_validate(
                headers=identity.headers,
                cookies=identity.cookies,
                auth=identity.auth,
                checks=CHECKS,
                timeout=HTTP_TIMEOUT_S,
            )

    run()


def _summary(exc: BaseException) -> str:
    """One line per failed check (a group holds one exception per check that failed)."""
    found = exc.exceptions if isinstance(exc, BaseExceptionGroup) else (exc,)
    return "; ".join(" | ".join(str(e).splitlines()[:3]) for e in found)


def test_no_server_error_and_answers_match_the_schema(target: FuzzTarget) -> None:
    operations = _operations(target.server.base_url)
    assert len(operations) >= 20, [op.label for op in operations]
    failures: list[str] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(operation, mode, target.identities)
            except Unsatisfiable:
                # Nothing to make invalid: an operation without parameters or body.
                assert mode is GenerationMode.NEGATIVE, operation.label
            except (Exception, BaseExceptionGroup) as exc:
                failures.append(f"{operation.label} ({mode.value}): {_summary(exc)}")
    assert not failures, "\n\n".join(failures)


NESTING_DEPTHS = (400, 5_000)
"""Under Python's recursion limit once parsed (400), and far over it (5000)."""


def _minimal(schema: dict[str, Any], schemas: dict[str, Any]) -> Any:
    """A small value that a JSON schema accepts (enough to get past request validation)."""
    if "$ref" in schema:
        return _minimal(schemas[schema["$ref"].rsplit("/", 1)[-1]], schemas)
    if "enum" in schema:
        return schema["enum"][0]
    if "anyOf" in schema:
        options = [o for o in schema["anyOf"] if o.get("type") != "null"]
        return _minimal(options[0], schemas) if options else None
    kind = schema.get("type")
    if kind == "object":
        required = schema.get("required", [])
        return {
            k: _minimal(v, schemas)
            for k, v in schema.get("properties", {}).items()
            if k in required
        }
    if kind == "array":
        return []
    if kind == "string":
        return "x" * max(schema.get("minLength", 1), 1)
    if kind in ("integer", "number"):
        return max(schema.get("minimum", 1), 1)
    if kind == "boolean":
        return True
    return None


def _deep_bodies(document: dict[str, Any], depth: int) -> Iterator[tuple[str, str, str, str]]:
    """``(method, path, field, body)``: a body valid but for one field, which holds arrays
    nested ``depth`` deep (inside a mapping or a list where the field is one)."""
    schemas = document["components"]["schemas"]
    nested = "[" * depth + "]" * depth
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is None:
                continue
            schema = schemas[body["schema"]["$ref"].rsplit("/", 1)[-1]]
            concrete = path.replace("{booth_id}", "fuzz-booth").replace("{rollout_id}", "1")
            for name in schema.get("properties", {}):
                valid = _minimal(schema, schemas)
                kind = _minimal(schema["properties"][name], schemas)
                valid[name] = (
                    {"volume": "@"}
                    if isinstance(kind, dict)
                    else ["@"]
                    if isinstance(kind, list)
                    else "@"
                )
                yield method.upper(), concrete, name, json.dumps(valid).replace('"@"', nested)


def test_json_nested_thousands_deep_in_any_field_is_never_a_server_error(
    target: FuzzTarget,
) -> None:
    """schemathesis does not generate deep nesting: each field of each JSON body gets
    arrays nested hundreds and thousands deep, as each identity. (Found: the admin
    config routes answered 500, ``copy.deepcopy`` blowing the stack.)"""
    document = target_schema(target)
    failures = []
    sent = 0
    for depth in NESTING_DEPTHS:
        for method, path, field_name, body in _deep_bodies(document, depth):
            for identity in target.identities:
                if path.endswith(("/logout", "/login")) and identity.cookies:
                    continue
                response = requests.request(
                    method,
                    target.server.base_url + path,
                    data=body,
                    headers={**identity.headers, "Content-Type": "application/json"},
                    cookies=identity.cookies,
                    auth=identity.auth,
                    timeout=HTTP_TIMEOUT_S,
                )
                sent += 1
                if response.status_code >= 500:
                    failures.append(f"{method} {path} {field_name}@{depth} as {identity.name}")
    assert sent >= 100, sent
    assert not failures, failures


def test_every_identity_is_really_signed_in(target: FuzzTarget) -> None:
    """Otherwise the fuzzing above would only ever meet 401s."""
    base = target.server.base_url
    expect = {
        "agent": "/api/v1/agent/me",
        "admin": "/api/v1/admin/config/layers",
        "technician": "/api/v1/admin/me",
        "booth-token": "/api/v1/catalogue",
        "booth-key": "/api/v1/provisioning/bundle",
    }
    for identity in target.identities:
        if identity.name in expect:
            response = requests.get(
                base + expect[identity.name],
                headers=identity.headers,
                cookies=identity.cookies,
                auth=identity.auth,
                timeout=HTTP_TIMEOUT_S,
            )
            assert response.status_code == 200, (identity.name, response.text)


# Regression tests for what the fuzzing found (each was a 500 before).


def test_a_code_too_short_lived_to_exist_is_refused_not_a_crash(target: FuzzTarget) -> None:
    admin = _identity(target, "admin")
    response = requests.post(
        f"{target.server.base_url}/api/v1/admin/codes",
        json={"site": "florac", "ttl_hours": 1e-300},
        cookies=admin.cookies,
        timeout=HTTP_TIMEOUT_S,
    )
    assert response.status_code == 422, response.text
    assert "ttl_hours" in response.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", f"/api/v1/admin/rollouts/{2**64}/approve"),
        ("GET", f"/api/v1/admin/audit?before_id={2**64}"),
    ],
)
def test_ids_too_large_for_the_database_are_refused(
    target: FuzzTarget, method: str, path: str
) -> None:
    admin = _identity(target, "admin")
    response = requests.request(
        method, target.server.base_url + path, cookies=admin.cookies, timeout=HTTP_TIMEOUT_S
    )
    assert response.status_code == 422, response.text


def test_a_signed_report_with_a_huge_version_is_refused(target: FuzzTarget) -> None:
    booth = _identity(target, "booth-key")
    response = requests.post(
        f"{target.server.base_url}/api/v1/provisioning/report",
        json={"version": 2**64, "code": "bad_signature", "reason": "x"},
        auth=booth.auth,
        timeout=HTTP_TIMEOUT_S,
    )
    assert response.status_code == 422, response.text


def test_provisioning_refusals_have_the_documented_shape(target: FuzzTarget) -> None:
    response = requests.get(
        f"{target.server.base_url}/api/v1/provisioning/bundle", timeout=HTTP_TIMEOUT_S
    )
    assert response.status_code == 401
    answer = RefusalAnswer.model_validate_json(response.content)
    assert isinstance(answer.detail, Refusal) and answer.detail.code == RefusalCode.UNSIGNED
    documented = target_schema(target)["paths"]["/api/v1/provisioning/bundle"]["get"]
    assert documented["responses"]["401"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/RefusalAnswer"
    }


def _identity(target: FuzzTarget, name: str) -> Identity:
    return next(i for i in target.identities if i.name == name)


def target_schema(target: FuzzTarget) -> dict[str, Any]:
    document: dict[str, Any] = requests.get(
        f"{target.server.base_url}/openapi.json", timeout=HTTP_TIMEOUT_S
    ).json()
    return document

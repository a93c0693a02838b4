"""Passwords, booth tokens and agent sessions, on a real SQLite database."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchboard import auth
from switchboard.db import BoothCredential, Database


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database(f"sqlite:///{tmp_path / 'data' / 'guichet.sqlite3'}")


def test_password_hash_is_salted_and_verifies() -> None:
    first, second = auth.hash_password("secret"), auth.hash_password("secret")
    assert first != second
    assert first.startswith("scrypt$")
    assert auth.verify_password("secret", first)
    assert not auth.verify_password("Secret", first)
    assert not auth.verify_password("secret", "garbage")
    assert not auth.verify_password("secret", "md5$1$2$3$aa$bb")


def test_database_file_is_private(tmp_path: Path, db: Database) -> None:
    path = tmp_path / "data" / "guichet.sqlite3"
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700


def test_agent_login_right_and_wrong(db: Database) -> None:
    auth.add_agent(db, "alice", "pw", ["caf"], "Alice Martin")
    info = auth.authenticate(db, "alice", "pw")
    assert info is not None
    assert info.display_name == "Alice Martin"
    assert info.services == ["caf"]
    assert auth.authenticate(db, "alice", "nope") is None
    assert auth.authenticate(db, "nobody", "pw") is None


def test_adding_an_agent_again_updates_it(db: Database) -> None:
    auth.add_agent(db, "alice", "pw", ["caf"], "Alice")
    auth.add_agent(db, "alice", "pw2", ["caf", "ants"], None)
    assert [a.services for a in auth.list_agents(db)] == [["caf", "ants"]]
    assert auth.authenticate(db, "alice", "pw2") is not None
    assert auth.authenticate(db, "alice", "pw") is None


def test_bad_usernames_are_refused(db: Database) -> None:
    with pytest.raises(auth.AuthError):
        auth.add_agent(db, "Alice Smith", "pw", [], None)


def test_booth_token_stored_only_as_hash_and_revocable(db: Database) -> None:
    booth, token = auth.create_booth_token(db, "Mairie de Cluny")
    assert booth.booth_id == "Mairie-de-Cluny"
    with db.session() as session:
        stored = session.get(BoothCredential, booth.booth_id)
        assert stored is not None
        assert stored.token_hash == auth.token_hash(token)
        assert token not in stored.token_hash
    found = auth.booth_for_token(db, token)
    assert found is not None and found.name == "Mairie de Cluny"
    assert auth.booth_for_token(db, token + "x") is None
    assert auth.revoke_booth(db, booth.booth_id)
    assert auth.booth_for_token(db, token) is None


def test_same_booth_name_gets_a_distinct_id(db: Database) -> None:
    first, _ = auth.create_booth_token(db, "booth")
    second, _ = auth.create_booth_token(db, "booth")
    assert first.booth_id != second.booth_id


def test_sessions_expire_and_can_be_dropped() -> None:
    now = [1000.0]
    store = auth.SessionStore(ttl_s=60, clock=lambda: now[0])
    token = store.create("alice")
    assert store.username(token) == "alice"
    assert store.username("forged") is None
    assert store.username(None) is None
    now[0] += 61
    assert store.username(token) is None
    token = store.create("alice")
    store.drop(token)
    assert store.username(token) is None


def test_booth_id_folds_accents_instead_of_dropping_letters(db: Database) -> None:
    booth, _ = auth.create_booth_token(db, "Borne de démonstration — Mairie de Saint-Étienne")
    assert booth.booth_id == "Borne-de-demonstration-Mairie-de-Saint-Etienne"
    assert booth.name == "Borne de démonstration — Mairie de Saint-Étienne"

"""The hash chain on its own: any single edit, removal or swap of a random chain is found."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from guichet.audit_chain import (
    GENESIS,
    Entry,
    Head,
    entry_from_json,
    entry_hash,
    make_entry,
    verify,
)

START = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.text(max_size=12))
details_strategy = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
content_strategy = st.tuples(
    st.text(min_size=1, max_size=10),
    st.sampled_from(["agent", "admin", "technician", "cli"]),
    st.sampled_from(["call.answered", "call.ended", "device.print_pdf", "config.set", "login"]),
    st.text(max_size=20),
    details_strategy,
)


def build(contents: list[tuple[str, str, str, str, Any]]) -> list[Entry]:
    chain: list[Entry] = []
    head = Head(0, GENESIS)
    for i, (actor, role, action, target, details) in enumerate(contents):
        entry = make_entry(head, START + timedelta(seconds=i), actor, role, action, target, details)
        chain.append(entry)
        head = Head(entry.seq, entry.hash)
    return chain


chains = st.lists(content_strategy, min_size=2, max_size=12).map(build)


@given(chains)
def test_an_untouched_chain_verifies_and_survives_an_export_round_trip(chain: list[Entry]) -> None:
    assert verify(chain) is None
    assert verify(chain, Head(chain[-1].seq, chain[-1].hash)) is None
    lines = [json.dumps(e.to_json()) for e in chain]
    assert verify(entry_from_json(json.loads(line)) for line in lines) is None


@given(chains, st.data())
def test_any_edited_field_is_named_at_its_seq(chain: list[Entry], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(chain) - 1))
    field = data.draw(st.sampled_from(["time", "actor", "role", "action", "target", "details"]))
    original = getattr(chain[index], field)
    value = data.draw(
        (details_strategy if field == "details" else st.text(max_size=10)).filter(
            lambda v: v != original
        )
    )
    tampered = list(chain)
    tampered[index] = dataclasses.replace(chain[index], **{field: value})
    broken = verify(tampered)
    assert broken is not None
    assert (broken.seq, broken.kind) == (chain[index].seq, "edited")


@given(chains, st.data())
def test_an_entry_edited_and_rehashed_breaks_the_link_of_the_next(
    chain: list[Entry], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(chain) - 2))
    edited = dataclasses.replace(chain[index], actor=chain[index].actor + "x")
    edited = dataclasses.replace(edited, hash=entry_hash(edited.content()))
    tampered = [*chain[:index], edited, *chain[index + 1 :]]
    broken = verify(tampered)
    assert broken is not None
    assert (broken.seq, broken.kind) == (chain[index + 1].seq, "relinked")


@given(chains, st.data())
def test_any_removed_entry_is_found(chain: list[Entry], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(chain) - 1))
    tampered = chain[:index] + chain[index + 1 :]
    head = Head(chain[-1].seq, chain[-1].hash)
    broken = verify(tampered, head)
    assert broken is not None
    if index == len(chain) - 1:
        # Cutting the last entry leaves a valid chain: only the head kept elsewhere shows it.
        assert verify(tampered) is None
        assert (broken.seq, broken.kind) == (chain[index].seq, "truncated")
    else:
        assert broken.seq == chain[index + 1].seq
        assert broken.kind == "removed"


@given(chains, st.data())
def test_any_two_swapped_entries_are_found(chain: list[Entry], data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(chain) - 2))
    j = data.draw(st.integers(i + 1, len(chain) - 1))
    tampered = list(chain)
    tampered[i], tampered[j] = tampered[j], tampered[i]
    broken = verify(tampered)
    assert broken is not None
    # The entry now at position i is the later one, and the one it displaced comes after.
    assert broken.seq == chain[j].seq
    assert broken.kind == "reordered"


def test_a_duplicated_entry_is_reported_as_reordered() -> None:
    chain = build([("a", "agent", "call.answered", f"c-{n}", {"n": n}) for n in range(4)])
    broken = verify([chain[0], chain[1], chain[2], chain[1], chain[3]])
    assert broken is not None and (broken.seq, broken.kind) == (2, "reordered")


def test_a_chain_that_does_not_start_at_genesis_is_refused() -> None:
    chain = build([("a", "admin", "login", "a", None)] * 3)
    broken = verify(chain[1:])
    assert broken is not None and (broken.seq, broken.kind) == (2, "removed")
    forged = make_entry(Head(0, "f" * 64), START, "a", "admin", "login", "a", None)
    broken = verify([forged])
    assert broken is not None and (broken.seq, broken.kind) == (1, "bad_genesis")
    assert str(broken).startswith("entry 1: ")

"""The booth's config store: atomic apply, rollback on a failed health check, kill -9."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bundle_samples import BOOTH, ISSUED, sample_config
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from provisioning.booth_store import PENDING, ApplyFailed, BoothStore
from provisioning.bundle import BundlePayload, sign_bundle, verify_bundle
from provisioning.keys import write_private_key

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
KEY = Ed25519PrivateKey.generate()
KILL_ITERATIONS = 50
WORKER_BUNDLES = 300


def bundle(version: int, key: Ed25519PrivateKey = KEY) -> tuple[bytes, BundlePayload]:
    data = sign_bundle(key, BOOTH, version, sample_config(version), issued_at=ISSUED)
    return data, verify_bundle(data, key.public_key(), BOOTH, None, check_expiry=False)


def test_first_apply_stores_the_bundle_privately(tmp_path: Path) -> None:
    store = BoothStore(tmp_path / "state")
    data, payload = bundle(1)
    store.apply(data, payload, lambda _: True)
    assert store.current() == data
    assert store.last_good() is None
    assert (tmp_path / "state").stat().st_mode & 0o777 == 0o700
    for path in (tmp_path / "state").iterdir():
        assert path.stat().st_mode & 0o777 == 0o600, path
    assert not (tmp_path / "state" / PENDING).exists()


def test_next_apply_keeps_the_previous_as_last_good(tmp_path: Path) -> None:
    store = BoothStore(tmp_path)
    one, two = bundle(1), bundle(2)
    store.apply(*one, lambda _: True)
    store.apply(*two, lambda _: True)
    assert store.current() == two[0]
    assert store.last_good() == one[0]


def test_failed_health_check_rolls_back_and_remembers_the_version(tmp_path: Path) -> None:
    store = BoothStore(tmp_path)
    one, two = bundle(1), bundle(2)
    store.apply(*one, lambda _: True)
    seen: list[int] = []

    def unhealthy(payload: BundlePayload) -> bool:
        # The new bundle is in place while the check runs.
        assert store.current() == two[0]
        seen.append(payload.version)
        return False

    with pytest.raises(ApplyFailed) as info:
        store.apply(*two, unhealthy)
    assert info.value.version == 2 and seen == [2]
    assert store.current() == one[0]
    assert store.rejected_version() == 2
    assert not (tmp_path / PENDING).exists()


def test_health_check_that_raises_rolls_back(tmp_path: Path) -> None:
    store = BoothStore(tmp_path)
    store.apply(*bundle(1), lambda _: True)

    def broken(_: BundlePayload) -> bool:
        raise RuntimeError("camera missing")

    with pytest.raises(ApplyFailed, match="camera missing"):
        store.apply(*bundle(2), broken)
    assert store.current() == bundle(1)[0]


def test_failed_first_apply_leaves_no_config(tmp_path: Path) -> None:
    store = BoothStore(tmp_path)
    with pytest.raises(ApplyFailed):
        store.apply(*bundle(1), lambda _: False)
    assert store.current() is None


def test_recover_undoes_an_apply_cut_short_and_cleans_temporaries(tmp_path: Path) -> None:
    store = BoothStore(tmp_path)
    store.apply(*bundle(1), lambda _: True)
    # What a power cut during the health check of version 2 leaves behind.
    store.apply(*bundle(2), lambda _: True)
    (tmp_path / PENDING).write_bytes(b"2")
    (tmp_path / ".bundle.json.dead.tmp").write_bytes(b"half a bund")
    recovery = BoothStore(tmp_path).recover()
    assert recovery.restored and recovery.interrupted_version == 2
    assert store.current() == bundle(1)[0]
    assert store.rejected_version() == 2
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_kill_9_at_random_points_leaves_a_whole_bundle(tmp_path: Path) -> None:
    """Kill a process applying bundles at random moments: every file stays whole."""
    key_file = tmp_path / "server.key"
    write_private_key(key_file, KEY)
    expected = {v: bundle(v)[0] for v in range(1, WORKER_BUNDLES + 2)}
    rng = random.Random(4)  # noqa: S311 (kill times, not secrets)
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{HERE}"}
    cut_short = 0
    reached: set[int] = set()
    for i in range(KILL_ITERATIONS):
        state = tmp_path / f"state-{i}"
        BoothStore(state).apply(expected[1], bundle(1)[1], lambda _: True)
        child = subprocess.Popen(
            [sys.executable, str(HERE / "apply_worker.py"), str(state), str(key_file),
             str(WORKER_BUNDLES)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
        )  # fmt: skip
        assert child.stdin is not None and child.stdout is not None
        assert child.stdout.readline() == b"ready\n"
        child.stdin.write(b"go\n")
        child.stdin.flush()
        time.sleep(rng.uniform(0.0, 0.25))
        child.send_signal(signal.SIGKILL)
        child.wait()
        if child.returncode == -signal.SIGKILL:
            cut_short += 1

        # Before any recovery: each file is exactly one of the signed bundles.
        raw_current, raw_good = (state / "bundle.json").read_bytes(), None
        assert raw_current in expected.values()
        if (state / "bundle.last-good.json").exists():
            raw_good = (state / "bundle.last-good.json").read_bytes()
            assert raw_good in expected.values()

        store = BoothStore(state)
        store.recover()
        current = store.current()
        assert current is not None and current in expected.values()
        payload = verify_bundle(current, KEY.public_key(), BOOTH, None, check_expiry=False)
        assert payload.version % 3 != 0  # a version that failed its check never stays
        reached.add(payload.version)
        assert not (state / PENDING).exists()
        assert not list(state.glob(".*.tmp"))
        for path in state.iterdir():
            assert path.stat().st_mode & 0o777 == 0o600
    # The kills must really land mid-run, or the test proves nothing.
    assert cut_short >= KILL_ITERATIONS * 0.8, cut_short
    # ... and at different points of the run (the machine's speed sets how far it gets).
    assert len(reached) >= 5, sorted(reached)

"""Child process of the kill -9 test: applies bundle after bundle until killed.

Usage: ``python apply_worker.py STATE_DIR KEY_FILE COUNT``. Prints ``ready`` once
every bundle is signed, waits for a line on stdin, then applies versions 2..COUNT+1
(every third one fails its health check and is rolled back).
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from bundle_samples import BOOTH, ISSUED, sample_config

from provisioning.booth_store import ApplyFailed, BoothStore
from provisioning.bundle import sign_bundle, verify_bundle
from provisioning.keys import read_private_key


def main() -> None:
    state, key_file, count = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    key = read_private_key(key_file)
    store = BoothStore(state)
    store.recover()
    bundles = [
        sign_bundle(key, BOOTH, v, sample_config(v), issued_at=ISSUED) for v in range(2, count + 2)
    ]
    print("ready", flush=True)
    sys.stdin.readline()
    for data in bundles:
        payload = verify_bundle(data, key.public_key(), BOOTH, None, check_expiry=False)
        with contextlib.suppress(ApplyFailed):
            store.apply(data, payload, lambda p: p.version % 3 != 0)
    print("done", flush=True)


if __name__ == "__main__":
    main()

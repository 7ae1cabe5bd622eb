"""One side of ``benchmarks/compare.py``: an smimecore tree timing operations on request.

Run as ``PYTHONPATH=TREE python compare_child.py KEYRING CA_FILE PASSPHRASE``: it imports the
smimecore of ``TREE`` (so only the public API of every version is used), then reads one JSON
request a line (``op``, ``kind``, ``cipher``, ``input``, ``count``) and answers each with the
seconds one call took, on average over ``count`` calls, after a call that is not timed.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from smimecore import SMIME, Config
from smimecore.trust.capath import CAPathTrust
from smimecore.trust.policy import TrustPolicy


def operation(engine: SMIME, cold: SMIME, request: dict[str, Any]) -> Callable[[], Any]:
    """The call a request names, on its input read once (``verify`` on ``cold``, whose trust
    layer keeps no verdicts, as ``benchmarks/run.py`` times it)."""
    data = Path(request["input"]).read_bytes()
    address = f"{request['kind']}@bench.example"
    op, cipher = request["op"], request.get("cipher")
    if op == "sign":
        return lambda: engine.sign(data, signer=address)
    if op == "verify":
        return lambda: cold.verify(data)
    if op == "verify (repeat)":
        return lambda: engine.verify(data)
    if op == "encrypt":
        return lambda: engine.encrypt(data, recipients=[address], cipher=cipher)
    if op == "decrypt":
        return lambda: engine.decrypt(data)
    raise ValueError(f"unknown operation {op!r}")


def main() -> int:
    keyring, ca_file, passphrase = sys.argv[1:4]
    config = Config(keyring=Path(keyring), passphrase=passphrase, ca_path=Path(ca_file))
    engine = SMIME(config)
    cold = SMIME(config, trust=CAPathTrust(TrustPolicy.from_config(config), cache_size=0))
    calls: dict[str, Callable[[], Any]] = {}
    for line in sys.stdin:
        request = json.loads(line)
        key = json.dumps(request, sort_keys=True)
        call = calls.get(key) or calls.setdefault(key, operation(engine, cold, request))
        if not call().ok:
            raise SystemExit(f"{request['op']} failed")
        gc.collect()
        start = time.perf_counter()
        for _ in range(request["count"]):
            call()
        print(json.dumps((time.perf_counter() - start) / request["count"]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

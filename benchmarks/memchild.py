"""Peak memory of one smimecore operation, measured in a fresh interpreter.

Run by ``run.py`` as ``python memchild.py SPEC.json``; prints one JSON object.  The child
loads the engine and the input, warms up with a small message of the same operation (keys
loaded, caches filled, modules imported), then:

* ``rss``: resets the kernel's high-water mark (``/proc/self/clear_refs`` = 5), runs the
  operation once and reports VmHWM minus the VmRSS just before: everything the operation
  made resident, native buffers (OpenSSL's) included, over the interpreter's baseline
  (which holds the input message);
* ``heap``: runs it again under :mod:`tracemalloc` and reports the peak of Python
  allocations (the result included, as both measures keep it alive until the end).
"""

from __future__ import annotations

import gc
import json
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from workload import PASSPHRASE, cold_engine

from smimecore import SMIME, Config
from smimecore.engine.status import Result


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _operation(spec: dict[str, str], config: Config) -> Callable[[bytes], Result]:
    engine = SMIME(config)
    signer = spec["address"]
    cipher = spec.get("cipher") or "aes-256-cbc"
    if spec["op"] == "sign":
        return lambda data: engine.sign(data, signer=signer)
    if spec["op"] == "verify":
        cold = cold_engine(config)
        return cold.verify
    if spec["op"] == "encrypt":
        return lambda data: engine.encrypt(data, recipients=[signer], cipher=cipher)
    if spec["op"] == "decrypt":
        return engine.decrypt
    raise ValueError(spec["op"])


def main() -> int:
    spec = json.loads(Path(sys.argv[1]).read_text())
    config = Config(
        keyring=Path(spec["keyring"]),
        passphrase=PASSPHRASE,
        ca_path=Path(spec["ca_file"]),
        accept_untrusted_cas=False,
    )
    operation = _operation(spec, config)
    if not operation(Path(spec["warm"]).read_bytes()).ok:
        raise SystemExit("warm-up operation failed")
    data = Path(spec["input"]).read_bytes()
    gc.collect()
    baseline = _status_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    result = operation(data)
    peak = _status_kib("VmHWM")
    ok = result.ok
    del result
    gc.collect()
    tracemalloc.start()
    result = operation(data)
    heap = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    ok = ok and result.ok
    print(json.dumps({"rss": (peak - baseline) * 1024, "heap": heap, "ok": ok}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

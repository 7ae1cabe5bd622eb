"""Benchmark smimecore against the openssl binary, one process per operation as RT runs it.

Usage: ``python benchmarks/run.py [--rounds N] [--sizes 1024,102400]``.  Prints a table of
median times and the ratio binary / smimecore per operation and size.  Every output timed
is first checked by the other side, so a fast wrong answer cannot count.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from smimecore import SMIME, Config
from smimecore.demo.pki import DemoIdentity, DemoPKI

PASSPHRASE = "bench"


def _message(size: int) -> bytes:
    header = (
        b"From: a@bench.example\nTo: b@bench.example\nSubject: bench\nContent-Type: text/plain\n\n"
    )
    line = b"The quick brown fox jumps over the lazy dog, again and again and again.\n"
    body = (line * (size // len(line) + 1))[: max(size - len(header), 0)]
    return header + body


def _median_ms(action: Callable[[], object], rounds: int) -> float:
    timings = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


def _openssl(binary: str, *arguments: str | Path, data: bytes) -> bytes:
    done = subprocess.run(
        [binary, *map(str, arguments)], input=data, capture_output=True, check=True
    )
    return done.stdout


def _setup(root: Path) -> tuple[DemoPKI, dict[str, DemoIdentity]]:
    pki = DemoPKI("bench root")
    identities = {kind: pki.issue(f"{kind}@bench.example", kind) for kind in ("rsa2048", "p256")}
    pki.write_keyring(root / "keyring", list(identities.values()), passphrase=PASSPHRASE)
    (root / "ca.pem").write_bytes(pki.root_pem())
    for identity in identities.values():
        (root / f"{identity.address}.crt").write_bytes(identity.certificate_pem())
        (root / f"{identity.address}.key").write_bytes(identity.key_pem())
    return pki, identities


def main() -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--sizes", default="1024,102400")
    arguments = parser.parse_args()
    binary = shutil.which("openssl")
    if binary is None:
        print("the openssl binary is needed as the peer", file=sys.stderr)
        return 2
    sizes = [int(size) for size in arguments.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        _, identities = _setup(root)
        smime = SMIME(
            Config(keyring=root / "keyring", passphrase=PASSPHRASE, accept_untrusted_cas=True)
        )
        for kind, identity in identities.items():
            cert, key = root / f"{identity.address}.crt", root / f"{identity.address}.key"
            for size in sizes:
                message = _message(size)
                ours = smime.sign(message, signer=identity.address).data
                theirs = _openssl(
                    binary, "smime", "-sign", "-signer", cert, "-inkey", key, data=message
                )
                _openssl(binary, "smime", "-verify", "-CAfile", root / "ca.pem", data=ours)
                if not smime.verify(theirs).ok:
                    raise SystemExit("smimecore failed to verify openssl's signature")
                sign_ours = _median_ms(
                    lambda m=message, a=identity.address: smime.sign(m, signer=a), arguments.rounds
                )
                sign_theirs = _median_ms(
                    lambda m=message, c=cert, k=key: _openssl(
                        binary, "smime", "-sign", "-signer", c, "-inkey", k, data=m
                    ),
                    arguments.rounds,
                )
                verify_ours = _median_ms(lambda t=theirs: smime.verify(t), arguments.rounds)
                verify_theirs = _median_ms(
                    lambda o=ours: _openssl(binary, "smime", "-verify", "-noverify", data=o),
                    arguments.rounds,
                )
                rows.append(("sign", kind, size, sign_theirs, sign_ours))
                rows.append(("verify", kind, size, verify_theirs, verify_ours))
    print(f"{'op':8}{'key':9}{'size':>9}{'openssl ms':>12}{'smimecore ms':>14}{'ratio':>8}")
    for operation, kind, size, theirs_ms, ours_ms in rows:
        ratio = theirs_ms / ours_ms
        print(f"{operation:8}{kind:9}{size:>9}{theirs_ms:>12.3f}{ours_ms:>14.3f}{ratio:>7.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

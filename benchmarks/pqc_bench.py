"""Post-quantum operations beside the classical ones: ML-DSA-65 sign/verify and ML-KEM-768
encrypt/decrypt at 1 KiB and 100 KiB, next to RSA-2048 and EC P-256, each against the cost
of its own primitive in ``cryptography`` measured in the same run.

No openssl binary column: the openssl 3.0 binary cannot do ML-DSA or ML-KEM.  The ML-DSA and
ML-KEM identities chain to an ML-DSA-65 root (so verifying checks two ML-DSA signatures);
RSA-2048 and P-256 use the main benchmark's RSA root.  Before anything is timed, every signed
message must verify DONE/FULL and every encrypted one decrypt to its content.

Run by ``benchmarks/run.py`` (``make bench``), or alone: ``python benchmarks/pqc_bench.py
[--quick]`` prints the table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from workload import (
    KIND_LABEL,
    PASSPHRASE,
    BenchError,
    KiB,
    Setup,
    cold_engine,
    message,
    require_verified,
    same_content,
    size_label,
)

from smimecore import SMIME
from smimecore.demo.pki import DemoIdentity, DemoPKI

SIZES = (KiB, 100 * KiB)
BATCH = 10
LABELS = {**KIND_LABEL, "mldsa65": "ML-DSA-65", "mlkem768": "ML-KEM-768"}
SIGNING = ("mldsa65", "rsa2048", "p256")
ENCRYPTION = ("mlkem768", "rsa2048", "p256")
_SIGNED_ATTRIBUTES = os.urandom(230)  # about the size of the DER signed attributes smimecore signs


@dataclass
class PqcCase:
    """One engine operation and the primitive under it, timed in the same rounds."""

    op: str
    kind: str
    size: int
    ours: Callable[[], Any]
    primitive: Callable[[], Any]
    primitive_name: str
    our_times: list[float]
    primitive_times: list[float]

    def row(self) -> dict[str, object]:
        ours = statistics.median(self.our_times) * 1000
        primitive = statistics.median(self.primitive_times) * 1000
        return {
            "op": self.op,
            "kind": LABELS[self.kind],
            "size": self.size,
            "ours_ms": ours,
            "primitive": self.primitive_name,
            "primitive_ms": primitive,
            "share": primitive / ours,
            "rounds": len(self.our_times),
        }


class PqcSetup:
    """ML-DSA-65 and ML-KEM-768 identities under an ML-DSA-65 root, in their own keyring."""

    def __init__(self, setup: Setup) -> None:
        self.classical = setup
        scratch = setup.scratch / "pqc"
        self.pki = DemoPKI("smimecore benchmark ML-DSA root", kind="mldsa65")
        self.identities: dict[str, DemoIdentity] = {
            kind: self.pki.issue(f"{kind}@bench.example", kind) for kind in ("mldsa65", "mlkem768")
        }
        self.pki.write_keyring(
            scratch / "keyring", list(self.identities.values()), passphrase=PASSPHRASE
        )
        ca_file = scratch / "ca.pem"
        ca_file.write_bytes(self.pki.root_pem())
        self.engine = SMIME(setup.make_config(ca_file, scratch / "keyring"))
        self.cold = cold_engine(self.engine.config)

    def engines(self, kind: str) -> tuple[SMIME, SMIME]:
        """The (default, no-verdict-cache) engines whose keyring holds ``kind``."""
        if kind in self.identities:
            return self.engine, self.cold
        return self.classical.engine, self.classical.cold

    def key(self, kind: str) -> Any:
        if kind in self.identities:
            return self.identities[kind].key
        return self.classical.identities[kind].demo.key


def _primitive(op: str, kind: str, key: Any) -> tuple[str, Callable[[], Any]]:
    """The one public-key operation under ``op`` for ``kind``, and its name."""
    data = _SIGNED_ATTRIBUTES
    public = key.public_key()
    if kind == "mldsa65":
        signature = key.sign(data)
        if op == "sign":
            return "ML-DSA-65 sign", lambda: key.sign(data)
        return "ML-DSA-65 verify", lambda: public.verify(signature, data)
    if kind == "mlkem768":
        _, ciphertext = public.encapsulate()
        if op == "encrypt":
            return "ML-KEM-768 encapsulate", public.encapsulate
        return "ML-KEM-768 decapsulate", lambda: key.decapsulate(ciphertext)
    if kind == "rsa2048":
        pkcs1 = padding.PKCS1v15()
        signature = key.sign(data, pkcs1, hashes.SHA256())
        wrapped = public.encrypt(b"k" * 32, pkcs1)
        return {
            "sign": ("RSA sign", lambda: key.sign(data, pkcs1, hashes.SHA256())),
            "verify": (
                "RSA verify",
                lambda: public.verify(signature, data, pkcs1, hashes.SHA256()),
            ),
            "encrypt": ("RSA encrypt", lambda: public.encrypt(b"k" * 32, pkcs1)),
            "decrypt": ("RSA decrypt", lambda: key.decrypt(wrapped, pkcs1)),
        }[op]
    ecdsa = ec.ECDSA(hashes.SHA256())
    signature = key.sign(data, ecdsa)
    ephemeral = ec.generate_private_key(ec.SECP256R1()).public_key()
    return {
        "sign": ("ECDSA sign", lambda: key.sign(data, ecdsa)),
        "verify": ("ECDSA verify", lambda: public.verify(signature, data, ecdsa)),
        "encrypt": (
            "ECDH (new key + exchange)",
            lambda: ec.generate_private_key(ec.SECP256R1()).exchange(ec.ECDH(), public),
        ),
        "decrypt": ("ECDH exchange", lambda: key.exchange(ec.ECDH(), ephemeral)),
    }[op]


def build_cases(pqc: PqcSetup) -> list[PqcCase]:
    """Every case, each answer checked first."""
    cases = []
    for size in SIZES:
        for kind in SIGNING:
            engine, cold = pqc.engines(kind)
            signer = f"{kind}@bench.example"
            data = message(size, signer)
            signed = engine.sign(data, signer=signer).data
            checked = cold.verify(signed)
            require_verified(checked, f"our {kind} signature")
            if not same_content(checked.data, data):
                raise BenchError(f"the {kind} signature verified over other content")
            key = pqc.key(kind)
            for op, ours in (
                ("sign", lambda e=engine, d=data, s=signer: e.sign(d, signer=s)),
                ("verify", lambda c=cold, m=signed: c.verify(m)),
            ):
                name, primitive = _primitive(op, kind, key)
                cases.append(PqcCase(op, kind, size, ours, primitive, name, [], []))
        for kind in ENCRYPTION:
            engine, _ = pqc.engines(kind)
            recipient = f"{kind}@bench.example"
            data = message(size, recipient)
            encrypted = engine.encrypt(data, recipients=[recipient], cipher="aes-256-gcm").data
            opened = engine.decrypt(encrypted)
            if not opened.ok or not same_content(opened.data, data):
                raise BenchError(f"our {kind} message does not decrypt to its content")
            key = pqc.key(kind)
            for op, ours in (
                (
                    "encrypt",
                    lambda e=engine, d=data, r=recipient: e.encrypt(
                        d, recipients=[r], cipher="aes-256-gcm"
                    ),
                ),
                ("decrypt", lambda e=engine, m=encrypted: e.decrypt(m)),
            ):
                name, primitive = _primitive(op, kind, key)
                cases.append(PqcCase(op, kind, size, ours, primitive, name, [], []))
    return cases


def time_cases(cases: list[PqcCase], rounds: int) -> None:
    """Each round: every case's engine call and its primitive, batched (per call: the mean)."""
    for _ in range(rounds):
        for case in cases:
            start = time.perf_counter()
            for _ in range(BATCH):
                result = case.ours()
            case.our_times.append((time.perf_counter() - start) / BATCH)
            if not result.ok:
                raise BenchError(f"smimecore {case.op} {case.kind} failed: {result.statuses}")
            start = time.perf_counter()
            for _ in range(BATCH):
                case.primitive()
            case.primitive_times.append((time.perf_counter() - start) / BATCH)


def pqc_comparison(setup: Setup, rounds: int) -> list[dict[str, object]]:
    """The post-quantum table's rows."""
    cases = build_cases(PqcSetup(setup))
    time_cases(cases, rounds)
    return [case.row() for case in cases]


def describe(rows: list[dict[str, object]]) -> list[str]:
    """One line per row, for the console."""
    return [
        f"{r['op']:<8} {r['kind']:<11} {size_label(r['size']):>8}: {r['ours_ms']:8.3f} ms "  # type: ignore[arg-type]
        f"(primitive {r['primitive']}: {r['primitive_ms']:.3f} ms, {r['share']:.0%})"
        for r in rows
    ]


def main() -> int:
    """Run the post-quantum comparison alone."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a fast smoke run, few rounds")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="smimecore-pqc-bench-") as scratch:
        rows = pqc_comparison(Setup(Path(scratch)), 3 if arguments.quick else 15)
    print("\n".join(describe(rows)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

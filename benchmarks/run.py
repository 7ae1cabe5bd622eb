"""Benchmark smimecore against the openssl binary run as one process per operation, as RT does.

Usage: ``python benchmarks/run.py [--quick] [--docs DIR]`` (``make bench`` runs the full set).

For RSA-2048 and EC P-256 identities and 1 KiB, 100 KiB and 10 MiB messages it times sign,
verify (full trust check against a CAPath, records DONE/FULL), encrypt and decrypt
(AES-256-CBC and AES-256-GCM) through smimecore's public API and through the binary
(``openssl smime``, or ``openssl cms`` where smime cannot: GCM and EC key agreement),
interleaved in one run over several rounds; it reports medians, the ratio binary ÷ smimecore
against the project's targets, the peak memory of both sides, verification throughput with
one and two threads, ``smimecore scan`` throughput with 1 and 2 jobs and on a local Dask
cluster (``scan_bench.py``), ML-DSA-65 and ML-KEM-768 beside RSA-2048 and P-256 against their
own primitives (``pqc_bench.py``: the binary cannot do them), scaling with the number of trust
anchors and of recipients, and time and memory against message size up to 100 MiB.  Every output that is timed is first checked
by the other side (ours verified / decrypted by openssl, openssl's by smimecore), so a fast
wrong answer cannot count.

The full run writes ``docs/benchmarks.md`` and ``docs/benchmarks.png``; ``--quick`` is a
smoke run with few rounds that writes its report to a temporary directory unless ``--docs``
is given.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import cryptography
from cryptography.hazmat.backends.openssl.backend import backend as openssl_backend
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pqc_bench import describe as describe_pqc
from pqc_bench import pqc_comparison
from report import write_report
from scan_bench import ROUNDS as SCAN_ROUNDS
from scan_bench import describe as describe_scan
from scan_bench import scan_throughput_apart
from workload import (
    KIND_LABEL,
    KINDS,
    PASSPHRASE,
    BenchError,
    MiB,
    Peer,
    Setup,
    address,
    cold_engine,
    issue_for_key,
    message,
    require_verified,
    same_content,
    size_label,
    throwaway_roots,
)

from smimecore import SMIME
from smimecore.engine.status import Result

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
KiB = 1024
SIZES = (KiB, 100 * KiB, 10 * MiB)
CIPHERS = ("aes-256-cbc", "aes-256-gcm")

# Ratio targets (binary ÷ smimecore, same run), by operation and size.
TARGETS: dict[tuple[str, int], float] = {
    ("sign", KiB): 10,
    ("verify", KiB): 5,
    ("encrypt", KiB): 30,
    ("decrypt", KiB): 10,
    ("verify (repeat)", KiB): 30,
    ("sign", 100 * KiB): 5,
    ("verify", 100 * KiB): 5,
    ("encrypt", 100 * KiB): 5,
    ("decrypt", 100 * KiB): 5,
    ("sign", 10 * MiB): 2,
    ("verify", 10 * MiB): 20,
    ("encrypt", 10 * MiB): 1.5,
    ("decrypt", 10 * MiB): 1.5,
}
BATCH = 20
"""Calls per round for messages under 1 MiB: one right after the binary, then a batch."""
MEMORY_FACTOR = 4  # peak of a 10 MiB operation <= 4x the message size above the baseline
ANCHOR_TARGET = 1.5


@dataclass
class Case:
    """One operation on one key kind and size, timed on both sides."""

    op: str
    kind: str
    size: int
    cipher: str | None
    ours: Callable[[], Result]
    binary: list[str]
    binary_input: Path
    memory_input: Path | None = None
    binary_times: list[float] = field(default_factory=list)
    our_times: list[float] = field(default_factory=list)
    first_times: list[float] = field(default_factory=list)
    binary_rss: list[int] = field(default_factory=list)
    memory: dict[str, int] | None = None
    binary_peak: int | None = None

    @property
    def name(self) -> str:
        cipher = f" {self.cipher.upper()}" if self.cipher else ""
        return f"{self.op}{cipher}"

    @property
    def binary_ms(self) -> float:
        return statistics.median(self.binary_times) * 1000

    @property
    def ours_ms(self) -> float:
        return statistics.median(self.our_times) * 1000

    @property
    def first_ms(self) -> float:
        return statistics.median(self.first_times) * 1000

    @property
    def ratio(self) -> float:
        return self.binary_ms / self.ours_ms

    @property
    def target(self) -> float | None:
        return TARGETS.get((self.op, self.size))

    @property
    def memory_target_met(self) -> bool | None:
        if self.size != 10 * MiB or self.memory is None or self.op == "verify (repeat)":
            return None
        return self.memory["rss"] <= MEMORY_FACTOR * self.size

    def row(self) -> dict[str, object]:
        target = self.target
        return {
            "op": self.name,
            "kind": KIND_LABEL[self.kind],
            "size": self.size,
            "binary_command": " ".join(self.binary[:2]),
            "binary_ms": self.binary_ms,
            "ours_ms": self.ours_ms,
            "first_ms": self.first_ms,
            "first_ratio": self.binary_ms / self.first_ms,
            "ratio": self.ratio,
            "target": target,
            "met": None if target is None else self.ratio >= target,
            "binary_rss": self.binary_peak,
            "memory": self.memory,
            "memory_met": self.memory_target_met,
            "rounds": len(self.our_times),
        }


class Bench:
    """Builds the cases (checking every answer first), times them, collects the report."""

    def __init__(self, scratch: Path, peer: Peer, quick: bool) -> None:
        self.scratch = scratch
        self.peer = peer
        self.quick = quick
        self.setup = Setup(scratch)
        self.messages: dict[tuple[str, int], bytes] = {}
        self.files: dict[tuple[str, int], Path] = {}

    # -- inputs ------------------------------------------------------------------------

    def plain(self, kind: str, size: int) -> tuple[bytes, Path]:
        key = (kind, size)
        if key not in self.messages:
            data = message(size, address(kind))
            self.messages[key] = data
            self.files[key] = self.setup.write_input(f"plain-{kind}-{size}.eml", data)
        return self.messages[key], self.files[key]

    def _sign_args(self, kind: str) -> list[str]:
        keyring_file = str(self.setup.identities[kind].keyring_file)
        return ["smime", "-sign", "-md", "sha256", "-signer", keyring_file, "-inkey", keyring_file]

    def _verify_args(self, ca_file: Path | None = None) -> list[str]:
        return ["smime", "-verify", "-CAfile", str(ca_file or self.setup.ca_file)]

    def _encrypt_args(self, kind: str, cipher: str, certificates: Sequence[Path] = ()) -> list[str]:
        tool = "smime" if kind.startswith("rsa") and cipher.endswith("cbc") else "cms"
        files = [str(p) for p in certificates] or [
            str(self.setup.identities[kind].certificate_file)
        ]
        return [tool, "-encrypt", f"-{cipher}", *files]

    def _decrypt_args(self, kind: str, cipher: str, keyring_file: Path | None = None) -> list[str]:
        tool = "smime" if kind.startswith("rsa") and cipher.endswith("cbc") else "cms"
        path = str(keyring_file or self.setup.identities[kind].keyring_file)
        return [tool, "-decrypt", "-recip", path, "-inkey", path, "-passin", "env:SMIME_PASS"]

    # -- cases, each answer checked by the other side ----------------------------------

    def sign_cases(self, kind: str, size: int) -> list[Case]:
        engine, cold = self.setup.engine, self.setup.cold
        data, path = self.plain(kind, size)
        signer = address(kind)
        sign_args = [*self._sign_args(kind), "-passin", "env:SMIME_PASS"]
        ours = engine.sign(data, signer=signer)
        ours_file = self.setup.write_input(f"signed-ours-{kind}-{size}.eml", ours.data)
        checked = self.peer.run(self._verify_args(), ours_file, keep=True)
        if not same_content(checked.output, data):
            raise BenchError(f"openssl verified our {kind} signature but the content differs")
        theirs = self.peer.run(sign_args, path, keep=True).output
        theirs_file = self.setup.write_input(f"signed-{kind}-{size}.eml", theirs)
        result = cold.verify(theirs)
        require_verified(result, f"smimecore verifying openssl's {kind} signature")
        if not same_content(result.data, data):
            raise BenchError("smimecore verified openssl's signature but the content differs")
        require_verified(engine.verify(theirs), "cached engine")
        cases = [
            Case(
                "sign", kind, size, None, lambda: engine.sign(data, signer=signer), sign_args, path
            ),
            Case(
                "verify",
                kind,
                size,
                None,
                lambda: cold.verify(theirs),
                self._verify_args(),
                theirs_file,
            ),
        ]
        if size == KiB:
            cases.append(
                Case(
                    "verify (repeat)",
                    kind,
                    size,
                    None,
                    lambda: engine.verify(theirs),
                    self._verify_args(),
                    theirs_file,
                )
            )
        cases[0].memory_input = path
        cases[1].memory_input = theirs_file
        return cases

    def encrypt_cases(self, kind: str, size: int, cipher: str) -> list[Case]:
        engine = self.setup.engine
        data, path = self.plain(kind, size)
        recipient = address(kind)
        ours = engine.encrypt(data, recipients=[recipient], cipher=cipher)
        ours_file = self.setup.write_input(f"enc-ours-{kind}-{size}-{cipher}.eml", ours.data)
        checked = self.peer.run(self._decrypt_args(kind, cipher), ours_file, keep=True)
        if not same_content(checked.output, data):
            raise BenchError(f"openssl decrypted our {kind} {cipher} message to other content")
        encrypt_args = self._encrypt_args(kind, cipher)
        theirs = self.peer.run(encrypt_args, path, keep=True).output
        theirs_file = self.setup.write_input(f"enc-{kind}-{size}-{cipher}.eml", theirs)
        result = engine.decrypt(theirs)
        if not result.ok or not same_content(result.data, data):
            raise BenchError(f"smimecore could not decrypt openssl's {kind} {cipher} message")
        cases = [
            Case(
                "encrypt",
                kind,
                size,
                cipher,
                lambda: engine.encrypt(data, recipients=[recipient], cipher=cipher),
                encrypt_args,
                path,
            ),
            Case(
                "decrypt",
                kind,
                size,
                cipher,
                lambda: engine.decrypt(theirs),
                self._decrypt_args(kind, cipher),
                theirs_file,
            ),
        ]
        cases[0].memory_input = path
        cases[1].memory_input = theirs_file
        return cases

    def cases_for(
        self, kinds: Sequence[str], sizes: Sequence[int], ciphers: Sequence[str]
    ) -> list[Case]:
        cases: list[Case] = []
        for kind in kinds:
            for size in sizes:
                cases += self.sign_cases(kind, size)
                for cipher in ciphers:
                    cases += self.encrypt_cases(kind, size, cipher)
        return cases

    # -- timing ------------------------------------------------------------------------

    def time_cases(self, cases: Sequence[Case], rounds: int) -> None:
        """Round-robin over ``cases`` in a shuffled order; binary and ours alternate first."""
        shuffle = random.Random(rounds)  # noqa: S311 - an order, not a secret
        order = list(cases)
        for round_number in range(rounds):
            shuffle.shuffle(order)
            for case in order:
                steps = [self._time_binary, self._time_ours]
                if round_number % 2:
                    steps.reverse()
                for step in steps:
                    step(case)

    def _time_binary(self, case: Case) -> None:
        run = self.peer.run(case.binary, case.binary_input)
        case.binary_times.append(run.seconds)
        case.binary_rss.append(run.maxrss_kib)

    @staticmethod
    def _time_ours(case: Case) -> None:
        """One call right after the binary ran (caches cold), then a batch (per call: the mean).

        An application verifying mail calls the engine message after message,
        the way the batch runs; the first call shows what one isolated message
        costs.  At 1 MiB and above the single call is both.
        """
        start = time.perf_counter()
        result = case.ours()
        first = time.perf_counter() - start
        if not result.ok:
            raise BenchError(f"smimecore {case.name} failed: {result.statuses}")
        case.first_times.append(first)
        if case.size >= MiB:
            case.our_times.append(first)
            return
        start = time.perf_counter()
        results = [case.ours() for _ in range(BATCH)]
        case.our_times.append((time.perf_counter() - start) / BATCH)
        if not all(result.ok for result in results):
            raise BenchError(f"smimecore {case.name} failed in a batch")

    # -- memory ------------------------------------------------------------------------

    def measure_memory(self, case: Case) -> None:
        """Peak RSS over the baseline (and tracemalloc peak) in a fresh interpreter."""
        op = "verify" if case.op.startswith("verify") else case.op
        if case.memory_input is None:
            return
        warm = {"sign": self.plain(case.kind, KiB)[1]}
        small = self.files.get((case.kind, KiB))
        if op in ("verify", "decrypt"):
            prefix = "signed" if op == "verify" else "enc"
            suffix = "" if op == "verify" else f"-{case.cipher}"
            small = self.scratch / "inputs" / f"{prefix}-{case.kind}-{KiB}{suffix}.eml"
        spec = {
            "op": op,
            "address": address(case.kind),
            "cipher": case.cipher,
            "keyring": str(self.setup.keyring),
            "ca_file": str(self.setup.ca_file),
            "input": str(case.memory_input),
            "warm": str(warm.get(op, small)),
        }
        spec_file = self.scratch / "memory-spec.json"
        spec_file.write_text(json.dumps(spec))
        done = subprocess.run(
            [sys.executable, str(HERE / "memchild.py"), str(spec_file)],
            capture_output=True,
            text=True,
            check=False,
            cwd=HERE,
        )
        if done.returncode != 0:
            raise BenchError(f"memory child failed: {done.stderr[-800:]}")
        measured = json.loads(done.stdout)
        if not measured.pop("ok"):
            raise BenchError(f"memory child: {case.name} did not succeed")
        case.memory = measured
        case.binary_peak = statistics.median(
            self.peer.peak_rss(case.binary, case.binary_input) for _ in range(3)
        )

    # -- throughput --------------------------------------------------------------------

    def throughput(self, count: int) -> dict[str, float]:
        """Verify ``count`` 1 KiB messages with one thread, then two (alternating, twice)."""
        engine = self.setup.engine
        signer = address("rsa2048")
        distinct = []
        for index in range(200):
            text = message(KiB, signer).replace(b"benchmark", f"benchmark #{index}".encode(), 1)
            distinct.append(engine.sign(text, signer=signer).data)
        sample = self.setup.write_input("throughput-sample.eml", distinct[7])
        self.peer.run(self._verify_args(), sample)
        batch = [distinct[i % len(distinct)] for i in range(count)]
        for signed in distinct:
            require_verified(engine.verify(signed), "throughput message")

        def verify_all(messages: Sequence[bytes], failures: list[int]) -> None:
            bad = sum(1 for signed in messages if not engine.verify(signed).ok)
            failures.append(bad)

        def timed(threads: int) -> float:
            failures: list[int] = []
            parts = [batch[i::threads] for i in range(threads)]
            workers = [threading.Thread(target=verify_all, args=(p, failures)) for p in parts]
            start = time.perf_counter()
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            seconds = time.perf_counter() - start
            if sum(failures):
                raise BenchError(f"{sum(failures)} verifications failed in the batch")
            return seconds

        one: list[float] = []
        two: list[float] = []
        for _ in range(2):
            one.append(timed(1))
            two.append(timed(2))
        rate_one = count / statistics.median(one)
        rate_two = count / statistics.median(two)
        return {"count": count, "one": rate_one, "two": rate_two, "speedup": rate_two / rate_one}

    # -- scaling -----------------------------------------------------------------------

    def anchor_scaling(self, rounds: int) -> list[dict[str, object]]:
        """Cold verification against CAPaths of 1, ~150 and 1,000 anchors."""
        root = self.setup.pki.root_pem()
        system = Path("/etc/ssl/certs/ca-certificates.crt")
        bundles: list[tuple[str, bytes]] = [("1", root)]
        if system.is_file():
            bundles.append(("system", system.read_bytes() + root))
        bundles.append(("1000", root + throwaway_roots(999)))
        signed_file = self.scratch / "inputs" / f"signed-rsa2048-{KiB}.eml"
        signed = signed_file.read_bytes()
        cases = []
        for label, pem in bundles:
            ca_file = self.scratch / f"ca-{label}.pem"
            ca_file.write_bytes(pem)
            engine = cold_engine(self.setup.make_config(ca_file))
            require_verified(engine.verify(signed), f"verify against {label} anchors")
            case = Case(
                "verify",
                "rsa2048",
                KiB,
                None,
                lambda e=engine: e.verify(signed),  # type: ignore[misc]
                self._verify_args(ca_file),
                signed_file,
            )
            cases.append((pem.count(b"-----BEGIN CERTIFICATE-----"), case))
        self.time_cases([c for _, c in cases], rounds)
        base = cases[0][1].ours_ms
        return [
            {
                "anchors": n,
                "ours_ms": c.ours_ms,
                "binary_ms": c.binary_ms,
                "vs_one": c.ours_ms / base,
                "ratio": c.ratio,
            }
            for n, c in cases
        ]

    def recipient_scaling(self, rounds: int) -> list[dict[str, object]]:
        """Encryption of 1 KiB to 1, 10 and 100 recipients (RSA, looked up in the keyring)."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        keyring = self.scratch / "keyring-recipients"
        keyring.mkdir()
        certificate_files = []
        addresses = []
        for index in range(100):
            mail = f"r{index:03d}@bench.example"
            certificate = issue_for_key(self.setup.pki, mail, key, 1000 + index)
            pem = certificate.public_bytes(serialization.Encoding.PEM)
            file = self.scratch / f"{mail}.crt"
            file.write_bytes(pem)
            if index == 0:
                pem += key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.BestAvailableEncryption(PASSPHRASE.encode()),
                )
            (keyring / f"{mail}.pem").write_bytes(pem)
            certificate_files.append(file)
            addresses.append(mail)
        engine = SMIME(self.setup.make_config(self.setup.ca_file, keyring=keyring))
        data, path = self.plain("rsa2048", KiB)
        cases = []
        for count in (1, 10, 100):
            chosen = addresses[:count]
            ours = engine.encrypt(data, recipients=chosen, cipher="aes-256-cbc")
            ours_file = self.setup.write_input(f"enc-many-{count}.eml", ours.data)
            decrypt = self._decrypt_args("rsa2048", "aes-256-cbc", keyring / f"{addresses[0]}.pem")
            if not same_content(self.peer.run(decrypt, ours_file, keep=True).output, data):
                raise BenchError(f"openssl could not decrypt our message to {count} recipients")
            args = self._encrypt_args("rsa2048", "aes-256-cbc", certificate_files[:count])
            theirs = self.peer.run(args, path, keep=True).output
            if not same_content(engine.decrypt(theirs).data, data):
                raise BenchError(f"smimecore could not decrypt openssl's {count}-recipient message")
            cases.append(
                (
                    count,
                    Case(
                        "encrypt",
                        "rsa2048",
                        KiB,
                        "aes-256-cbc",
                        lambda c=chosen: engine.encrypt(  # type: ignore[misc]
                            data, recipients=c, cipher="aes-256-cbc"
                        ),
                        args,
                        path,
                    ),
                )
            )
        self.time_cases([c for _, c in cases], rounds)
        return [
            {"recipients": n, "ours_ms": c.ours_ms, "binary_ms": c.binary_ms, "ratio": c.ratio}
            for n, c in cases
        ]


def machine() -> dict[str, str]:
    """CPU model, cores, versions."""
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "cryptography": cryptography.__version__,
        "cryptography_openssl": openssl_backend.openssl_version_text(),
        "hashlib_openssl": ssl.OPENSSL_VERSION,
        "platform": platform.platform(),
    }


def loadavg() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def print_table(rows: Sequence[dict[str, object]]) -> None:
    print(
        f"{'operation':22}{'key':10}{'size':>8}{'openssl ms':>12}{'smimecore ms':>14}"
        f"{'ratio':>9}{'target':>8}  result  {'first call ms':>13}{'ratio':>8}"
    )
    for row in rows:
        target = row["target"]
        verdict = "" if target is None else ("met" if row["met"] else "MISSED")
        target_text = "" if target is None else f"{target:g}x"
        print(
            f"{row['op']!s:22}{row['kind']!s:10}{size_label(int(row['size'])):>8}"  # type: ignore[call-overload]
            f"{row['binary_ms']:>12.3f}{row['ours_ms']:>14.3f}{row['ratio']:>8.1f}x"
            f"{target_text:>8}  {verdict:6}  {row['first_ms']:>13.3f}{row['first_ratio']:>7.1f}x"
        )


def main() -> int:
    """Run the benchmark, print the ratio table, write the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a fast smoke run, few rounds")
    parser.add_argument("--docs", type=Path, help="where to write benchmarks.md and the chart")
    parser.add_argument("--rounds", type=int, help="rounds at 1 KiB and 100 KiB")
    arguments = parser.parse_args()
    binary = shutil.which("openssl")
    if binary is None:
        print("the openssl binary is needed as the peer", file=sys.stderr)
        return 2
    quick = arguments.quick
    rounds_small = arguments.rounds or (5 if quick else 21)
    rounds_large = 1 if quick else 5
    started = time.perf_counter()
    started_at = datetime.now(UTC)
    load_start = loadavg()
    with tempfile.TemporaryDirectory(prefix="smimecore-bench-") as scratch_name:
        scratch = Path(scratch_name)
        peer = Peer(binary, scratch)
        bench = Bench(scratch, peer, quick)
        baseline = statistics.median(peer.peak_rss(["version"], None) for _ in range(5))
        print(
            f"checking every answer with the other side ({len(KINDS)} keys, "
            f"{', '.join(map(size_label, SIZES))})...",
            flush=True,
        )
        small = bench.cases_for(KINDS, SIZES[:2], CIPHERS)
        large = bench.cases_for(KINDS, SIZES[2:], CIPHERS)
        print(
            f"timing {rounds_small} rounds at {size_label(SIZES[0])}/{size_label(SIZES[1])}, "
            f"{rounds_large} at {size_label(SIZES[2])}...",
            flush=True,
        )
        gc.collect()
        bench.time_cases(small, rounds_small)
        bench.time_cases(large, rounds_large)
        print("size sweep (RSA-2048)...", flush=True)
        sweep_sizes = (MiB,) if quick else (MiB, 100 * MiB)
        sweep_only = []
        for size in sweep_sizes:
            cases = [
                *bench.sign_cases("rsa2048", size),
                *bench.encrypt_cases("rsa2048", size, "aes-256-cbc"),
            ]
            bench.time_cases(cases, rounds_small if size <= MiB else 1)
            sweep_only += cases
        print("memory (fresh interpreters)...", flush=True)
        main_cases = [*small, *large]
        sweep = [
            c
            for c in [*main_cases, *sweep_only]
            if c.kind == "rsa2048"
            and c.cipher in (None, "aes-256-cbc")
            and c.op != "verify (repeat)"
        ]
        for case in {id(c): c for c in [*large, *sweep]}.values():
            if case.memory_input is not None and case.op != "verify (repeat)":
                bench.measure_memory(case)
        print("throughput...", flush=True)
        throughput = bench.throughput(1000 if quick else 10_000)
        print("scan throughput (1 and 2 jobs, local Dask cluster)...", flush=True)
        scan = scan_throughput_apart(1000 if quick else 10_000, 1 if quick else SCAN_ROUNDS)
        print("scaling: anchors, recipients...", flush=True)
        anchors = bench.anchor_scaling(3 if quick else 15)
        recipients = bench.recipient_scaling(3 if quick else 15)
        print("post-quantum: ML-DSA-65, ML-KEM-768 beside RSA-2048 and P-256...", flush=True)
        pqc = pqc_comparison(bench.setup, 3 if quick else 15)
        rows = [case.row() for case in main_cases]
        sweep_rows = [case.row() for case in sorted(sweep, key=lambda c: (c.op, c.size))]
        info = machine()
        info["openssl_binary"] = f"{binary}: {peer.version()}"
        info["started"] = started_at.strftime("%Y-%m-%d %H:%M UTC")
        info["load_start"] = load_start
        info["load_end"] = loadavg()
        info["runtime"] = f"{time.perf_counter() - started:.0f} s"
        info["mode"] = "quick (smoke run)" if quick else "full"
        info["rounds"] = (
            f"{rounds_small} at 1 KiB, 100 KiB and 1 MiB; {rounds_large} at 10 MiB; 1 at 100 MiB"
        )
        info["binary_baseline_rss"] = str(int(baseline))
        print_table(rows)
        print(
            f"\nthroughput, verify {throughput['count']:,} x 1 KiB: 1 thread "
            f"{throughput['one']:,.0f} msg/s, 2 threads {throughput['two']:,.0f} msg/s "
            f"(x{throughput['speedup']:.2f})"
        )
        print("\n".join(describe_scan(scan)))
        print("\n".join(describe_pqc(pqc)))
        for anchor in anchors:
            print(
                f"anchors {anchor['anchors']:>5}: verify {anchor['ours_ms']:.3f} ms "  # type: ignore[str-format]
                f"({anchor['vs_one']:.2f}x one anchor); openssl {anchor['binary_ms']:.2f} ms"
            )
        for recipient in recipients:
            print(
                f"recipients {recipient['recipients']:>4}: encrypt {recipient['ours_ms']:.3f} ms; "  # type: ignore[str-format]
                f"openssl {recipient['binary_ms']:.2f} ms"
            )
        docs = arguments.docs or (
            Path(tempfile.mkdtemp(prefix="smimecore-bench-docs-")) if quick else ROOT / "docs"
        )
        written = write_report(
            docs,
            info,
            rows,
            sweep_rows,
            throughput,
            anchors,
            recipients,
            MEMORY_FACTOR,
            ANCHOR_TARGET,
            scan=scan,
            pqc=pqc,
        )
        print(f"\nwrote {', '.join(str(p) for p in written)} in {info['runtime']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

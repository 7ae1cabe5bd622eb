"""What the benchmark works on: a throwaway PKI laid out as an RT keyring, messages, engines,
and the openssl binary run the way RT runs it (one process per operation).

RT hands the binary its input and collects its output through IPC::Run3, which buffers
both in temporary files; :class:`Peer` does the same (stdin and stdout are files in the page
cache) and reads the child's peak RSS with ``os.wait4``.
"""

from __future__ import annotations

import base64
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from smimecore import SMIME, Config
from smimecore.demo.pki import DemoIdentity, DemoPKI
from smimecore.engine.status import DONE, Result
from smimecore.trust.capath import CAPathTrust
from smimecore.trust.policy import TrustPolicy

PASSPHRASE = "bench-passphrase"
KINDS = ("rsa2048", "p256")
KIND_LABEL = {"rsa2048": "RSA-2048", "p256": "EC P-256"}
SENDER = "sender@bench.example"

KiB = 1024
MiB = 1024 * 1024


class BenchError(RuntimeError):
    """A benchmark precondition failed: an answer was wrong, so nothing may be timed."""


def size_label(size: int) -> str:
    """``1 KiB``, ``100 KiB``, ``10 MiB``."""
    if size >= MiB and size % MiB == 0:
        return f"{size // MiB} MiB"
    if size >= KiB and size % KiB == 0:
        return f"{size // KiB} KiB"
    return f"{size} B"


def address(kind: str) -> str:
    """The benchmark address of an identity kind."""
    return f"{kind}@bench.example"


def message(size: int, to: str) -> bytes:
    """A mail of about ``size`` bytes with LF line endings (as a Unix file).

    Up to 4 KiB a text/plain 7bit body, above that an application/octet-stream base64 part
    of random bytes (an attachment), as mail of those sizes usually is.
    """
    header = (
        f"From: {SENDER}\nTo: {to}\nSubject: benchmark {size_label(size)}\nMIME-Version: 1.0\n"
    ).encode()
    if size <= 4 * KiB:
        header += b"Content-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: 7bit\n\n"
        line = b"The quick brown fox jumps over the lazy dog, again and again and again.\n"
        room = max(size - len(header), len(line))
        body = (line * (room // len(line) + 1))[:room]
        return header + body.rstrip(b"\n") + b"\n"
    header += (
        b"Content-Type: application/octet-stream; name=data.bin\n"
        b"Content-Disposition: attachment; filename=data.bin\n"
        b"Content-Transfer-Encoding: base64\n\n"
    )
    filler = random.Random(size)  # noqa: S311 - filler bytes, not a secret
    raw = filler.randbytes((size - len(header)) * 57 // 78)
    return header + base64.encodebytes(raw)


def body_of(data: bytes) -> bytes:
    """The last part of a message body, LF line endings, for comparing plaintexts."""
    text = data.replace(b"\r\n", b"\n").rstrip()
    return text[-4096:]


def same_content(result: bytes, original: bytes) -> bool:
    """Whether ``result`` ends with the body of ``original`` (line endings aside)."""
    body = original.replace(b"\r\n", b"\n").split(b"\n\n", 1)[-1]
    return body_of(result).endswith(body_of(body)[-2000:])


def require_verified(result: Result, what: str) -> None:
    """Every Verify record DONE with Trust FULL, or :class:`BenchError`."""
    records = [r for r in result.statuses if r.operation == "Verify"]
    if not records or not all(r.status == DONE and r.get("Trust") == "FULL" for r in records):
        raise BenchError(f"{what}: not DONE/FULL: {[dict(r) for r in result.statuses]}")


_SPAWN_HELPER = """
import os, sys
source, sink, *command = sys.argv[1:]
actions = [
    (os.POSIX_SPAWN_DUP2, os.open(source, os.O_RDONLY), 0),
    (os.POSIX_SPAWN_DUP2, os.open(sink, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 1),
    (os.POSIX_SPAWN_DUP2, os.open(os.devnull, os.O_WRONLY), 2),
]
pid = os.posix_spawn(command[0], command, os.environ, file_actions=actions)
_, status, usage = os.wait4(pid, 0)
print(usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


@dataclass
class Run:
    """One binary run: wall time from spawn to exit, the child's peak RSS, its output."""

    seconds: float
    maxrss_kib: int
    output: bytes


class Peer:
    """The openssl binary, one process per operation, input and output through files."""

    def __init__(self, binary: str, scratch: Path) -> None:
        self.binary = binary
        self.scratch = scratch
        self.env = {**os.environ, "SMIME_PASS": PASSPHRASE}
        self._out = scratch / "openssl.out"
        self._err = scratch / "openssl.err"

    def run(self, arguments: list[str], stdin: Path | None, *, keep: bool = False) -> Run:
        """Run ``openssl arguments`` with ``stdin`` as input; raise BenchError on failure."""
        with (
            open(stdin if stdin is not None else os.devnull, "rb") as source,
            open(self._out, "w+b") as sink,
            open(self._err, "w+b") as errors,
        ):
            start = time.perf_counter()
            child = subprocess.Popen(
                [self.binary, *arguments], stdin=source, stdout=sink, stderr=errors, env=self.env
            )
            _, status, usage = os.wait4(child.pid, 0)
            seconds = time.perf_counter() - start
            child.returncode = os.waitstatus_to_exitcode(status)
            if child.returncode != 0:
                errors.seek(0)
                raise BenchError(
                    f"openssl {' '.join(arguments[:2])} failed ({child.returncode}): "
                    f"{errors.read()[:500].decode(errors='replace')}"
                )
            output = b""
            if keep:
                sink.seek(0)
                output = sink.read()
        return Run(seconds, int(usage.ru_maxrss), output)

    def peak_rss(self, arguments: list[str], stdin: Path | None) -> int:
        """The binary's peak RSS in bytes, spawned from a minimal interpreter.

        A child's ``ru_maxrss`` includes the RSS of the process it was forked
        from (counted up to ``exec``), and this benchmark's own process grows to
        hundreds of MiB; so the binary is spawned (``posix_spawn``) by a fresh
        ``python -I -S`` helper, whose own few MiB are then the floor of the figure.
        """
        done = subprocess.run(
            [
                sys.executable,
                "-I",
                "-S",
                "-c",
                _SPAWN_HELPER,
                str(stdin or os.devnull),
                str(self._out),
                self.binary,
                *arguments,
            ],
            capture_output=True,
            text=True,
            check=True,
            env=self.env,
        )
        maxrss, code = done.stdout.split()
        if int(code) != 0:
            raise BenchError(f"openssl {' '.join(arguments[:2])} failed in the memory helper")
        return int(maxrss) * 1024

    def version(self) -> str:
        """``openssl version`` of the binary."""
        return subprocess.run(
            [self.binary, "version"], capture_output=True, check=True, text=True
        ).stdout.strip()


@dataclass
class Identity:
    """A keyring identity and the files the binary is given for it."""

    kind: str
    address: str
    keyring_file: Path  # certificate + passphrase-protected key, as RT's keyring holds them
    certificate_file: Path
    demo: DemoIdentity


class Setup:
    """The PKI, the keyring, the CA file and the engines, in a scratch directory."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.pki = DemoPKI("smimecore benchmark root")
        self.keyring = scratch / "keyring"
        self.ca_file = scratch / "ca.pem"
        self.ca_file.write_bytes(self.pki.root_pem())
        demos = [self.pki.issue(address(kind), kind) for kind in KINDS]
        self.pki.write_keyring(self.keyring, demos, passphrase=PASSPHRASE)
        self.identities: dict[str, Identity] = {}
        for demo in demos:
            certificate_file = scratch / f"{demo.address}.crt"
            certificate_file.write_bytes(demo.certificate_pem())
            kind = demo.address.split("@")[0]
            self.identities[kind] = Identity(
                kind, demo.address, self.keyring / f"{demo.address}.pem", certificate_file, demo
            )
        self.config = self.make_config(self.ca_file)
        self.engine = SMIME(self.config)
        self.cold = cold_engine(self.config)

    def make_config(self, ca_file: Path, keyring: Path | None = None) -> Config:
        """RT's settings: the keyring, its passphrase, a CAPath, untrusted CAs refused."""
        return Config(
            keyring=keyring or self.keyring,
            passphrase=PASSPHRASE,
            ca_path=ca_file,
            accept_untrusted_cas=False,
        )

    def write_input(self, name: str, data: bytes) -> Path:
        """Store ``data`` as a file the binary reads."""
        path = self.scratch / "inputs" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        return path


def cold_engine(config: Config) -> SMIME:
    """An engine whose trust layer keeps no verdicts: every verify validates the path."""
    return SMIME(config, trust=CAPathTrust(TrustPolicy.from_config(config), cache_size=0))


def throwaway_roots(count: int) -> bytes:
    """``count`` self-signed EC P-256 CA certificates (PEM), made quickly."""
    now = datetime.now(UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    pems = []
    for index in range(count):
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"throwaway root {index}")])
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(public)
            .serial_number(index + 1)
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        pems.append(certificate.public_bytes(serialization.Encoding.PEM))
    return b"".join(pems)


def issue_for_key(pki: DemoPKI, mail: str, key: rsa.RSAPrivateKey, serial: int) -> x509.Certificate:
    """An S/MIME encryption certificate for ``mail`` over an existing key (no key generation)."""
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, mail.split("@")[0]),
                    x509.NameAttribute(NameOID.EMAIL_ADDRESS, mail),
                ]
            )
        )
        .issuer_name(pki.root.subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(mail)]), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .sign(pki.root_key, hashes.SHA256())  # type: ignore[arg-type]
    )

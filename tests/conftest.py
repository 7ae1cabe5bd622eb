"""Shared fixtures: third-party vectors, the openssl peer, and a throwaway PKI.

Vectors are read in place from ``../shared/vectors`` beside the checkout.
Tests that need them skip when that folder is absent, and fail instead
when ``SMIMECORE_REQUIRE_VECTORS=1`` (as in CI).
"""

from __future__ import annotations

import email.utils
import os
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from smimecore import SMIME, Config
from smimecore.demo.pki import DemoIdentity, DemoPKI
from tests.envpki import Recipient, recipients

REPOSITORY = Path(__file__).resolve().parent.parent
VECTORS = Path(os.environ.get("SMIMECORE_VECTORS", REPOSITORY.parent / "shared" / "vectors"))
REQUIRE_VECTORS = os.environ.get("SMIMECORE_REQUIRE_VECTORS") == "1"

PASSPHRASE = "correct horse"


def vector_path(*parts: str) -> Path:
    """A path under the vectors folder; skips (or fails in CI) when it is missing."""
    path = VECTORS.joinpath(*parts)
    if not path.exists():
        message = f"third-party vectors not found at {path}"
        if REQUIRE_VECTORS:
            pytest.fail(message + " (SMIMECORE_REQUIRE_VECTORS=1)")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def vectors() -> Path:
    """The ``../shared/vectors`` folder."""
    return vector_path()


@pytest.fixture(scope="session")
def openssl() -> Callable[..., subprocess.CompletedProcess[bytes]]:
    """Run the openssl binary (the interop peer): ``openssl("cms", "-verify", ..., input=b"")``."""
    binary = shutil.which("openssl")
    if binary is None:
        if os.environ.get("CI") or REQUIRE_VECTORS:
            pytest.fail("the openssl binary is required as a test peer")
        pytest.skip("openssl binary not found")

    def run(
        *arguments: str | os.PathLike[str], input: bytes = b""
    ) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [binary, *map(str, arguments)],
            input=input,
            capture_output=True,
            check=False,
            timeout=60,
        )

    return run


@pytest.fixture(scope="session")
def pki() -> DemoPKI:
    """A throwaway root CA, shared by the whole run (key generation is slow)."""
    return DemoPKI("smimecore Test Root CA")


@pytest.fixture(scope="session")
def identities(pki: DemoPKI) -> dict[str, DemoIdentity]:
    """One identity per key kind, keyed by kind (``rsa2048``, ``p256``, ``p384``, ``p521``, ``ed25519``)."""
    return {
        kind: pki.issue(f"{kind}@test.example", kind, common_name=f"Test {kind}")
        for kind in ("rsa2048", "p256", "p384", "p521", "ed25519")
    }


@pytest.fixture(scope="session")
def pki_dir(
    tmp_path_factory: pytest.TempPathFactory, pki: DemoPKI, identities: dict[str, DemoIdentity]
) -> Path:
    """A directory with ``keyring/`` (every identity, keys encrypted with PASSPHRASE) and ``ca.pem``."""
    root = tmp_path_factory.mktemp("pki")
    pki.write_keyring(root / "keyring", list(identities.values()), passphrase=PASSPHRASE)
    (root / "ca.pem").write_bytes(pki.root_pem())
    for identity in identities.values():
        (root / f"{identity.address}.crt").write_bytes(identity.certificate_pem())
        (root / f"{identity.address}.key").write_bytes(identity.key_pem())
    return root


@pytest.fixture(scope="session")
def smime(pki_dir: Path) -> SMIME:
    """An engine over the test keyring that accepts untrusted CAs (trust is tested on its own)."""
    return SMIME(
        Config(keyring=pki_dir / "keyring", passphrase=PASSPHRASE, accept_untrusted_cas=True)
    )


# Written now: a signature's signingTime must agree with the Date field (max_signing_time_drift).
SAMPLE_DATE = email.utils.format_datetime(datetime.now(UTC)).encode("ascii")
SAMPLE_MESSAGE = (
    b"From: Alice <rsa2048@test.example>\n"
    b"To: Bob <p256@test.example>\n"
    b"Subject: a test\n"
    b"Date: " + SAMPLE_DATE + b"\n"
    b"Message-ID: <test@test.example>\n"
    b"Content-Type: text/plain; charset=utf-8\n"
    b"\n"
    b"Hello,\n\nthis is the body.\nSecond line.\n"
)


@pytest.fixture(scope="session")
def people(pki: DemoPKI, identities: dict[str, DemoIdentity]) -> dict[str, Recipient]:
    """Enveloped-data recipients of every key kind (see :mod:`tests.envpki`)."""
    return recipients(pki, identities)

"""A post-quantum test PKI: an ML-DSA-44 root issuing ML-DSA, ML-KEM and classical identities.

Made once per test run (key generation and signing cost milliseconds each)
and laid out as keyrings on demand.  ``dual@pqc.example`` holds both an
RSA-2048 and an ML-KEM-768 certificate, for the recipient-choice tests.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from smimecore.demo.pki import DemoIdentity, DemoPKI

SIGNING_KINDS = ("mldsa44", "mldsa65", "mldsa87")
KEM_KINDS = ("mlkem768", "mlkem1024")
CLASSICAL_KINDS = ("rsa2048", "p256")
DUAL = "dual@pqc.example"


@dataclass(frozen=True)
class PqcPki:
    """The root and one identity per kind (``identities[kind]``, address ``<kind>@pqc.example``)."""

    pki: DemoPKI
    identities: dict[str, DemoIdentity]
    dual: tuple[DemoIdentity, DemoIdentity]  # (RSA-2048, ML-KEM-768) of DUAL

    def write_ca(self, directory: Path) -> Path:
        """The root as ``ca.pem`` in ``directory``."""
        path = directory / "ca.pem"
        path.write_bytes(self.pki.root_pem())
        return path


@functools.lru_cache(maxsize=1)
def pqc_pki() -> PqcPki:
    """The shared post-quantum test PKI."""
    pki = DemoPKI("smimecore PQC Test Root", kind="mldsa44")
    kinds = (*SIGNING_KINDS, *KEM_KINDS, *CLASSICAL_KINDS)
    identities = {kind: pki.issue(f"{kind}@pqc.example", kind) for kind in kinds}
    dual = (pki.issue(DUAL, "rsa2048"), pki.issue(DUAL, "mlkem768"))
    return PqcPki(pki, identities, dual)


def pem(identity: DemoIdentity, passphrase: str | None = None) -> bytes:
    """``<address>.pem`` contents: the certificate, then the PKCS#8 key (the seed form)."""
    return identity.certificate_pem() + identity.key_pem(passphrase)


def certificate_pem(*identities: DemoIdentity) -> bytes:
    """Certificates only (a recipient's keyring file)."""
    return b"".join(
        identity.certificate.public_bytes(serialization.Encoding.PEM) for identity in identities
    )

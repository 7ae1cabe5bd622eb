"""A post-quantum test PKI: an ML-DSA-44 root issuing ML-DSA, ML-KEM and classical identities.

Made once per test run (key generation and signing cost milliseconds each)
and laid out as keyrings on demand.  ``dual@pqc.example`` holds both an
RSA-2048 and an ML-KEM-768 certificate, for the recipient-choice tests.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import algos, cms, core, keys, pkcs12
from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

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


# -- PKCS#12 files with post-quantum keys -----------------------------------------------
#
# cryptography cannot write them; OpenSSL 3.5 does, and is not here.  The file is put
# together as OpenSSL 3 lays it out (certificates in a PBES2 encryptedData, the key in a
# pkcs8ShroudedKeyBag, an HMAC-SHA256 MAC); the tests have the openssl 3.0 binary check
# its MAC and structure, which it can do without knowing the key type.


def pkcs12_file(
    identity: DemoIdentity, passphrase: str, *, chain: tuple[x509.Certificate, ...] = ()
) -> bytes:
    """A PKCS#12 file holding ``identity``'s key and certificate (and ``chain``)."""
    password = passphrase.encode("utf-8")
    shrouded = identity.key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password),
    )
    key_bag = pkcs12.SafeBag(
        {
            "bag_id": "pkcs8_shrouded_key_bag",
            "bag_value": keys.EncryptedPrivateKeyInfo.load(shrouded),
        }
    )
    cert_bags = [
        pkcs12.SafeBag(
            {
                "bag_id": "cert_bag",
                "bag_value": {
                    "cert_id": "x509",
                    "cert_value": core.ParsableOctetString(
                        certificate.public_bytes(serialization.Encoding.DER)
                    ),
                },
            }
        )
        for certificate in (identity.certificate, *chain)
    ]
    encrypted_certificates = _pbes2_encrypted_data(pkcs12.SafeContents(cert_bags).dump(), password)
    auth_safe = pkcs12.AuthenticatedSafe(
        [
            cms.ContentInfo({"content_type": "encrypted_data", "content": encrypted_certificates}),
            cms.ContentInfo(
                {"content_type": "data", "content": pkcs12.SafeContents([key_bag]).dump()}
            ),
        ]
    ).dump()
    salt, iterations = os.urandom(8), 2048
    mac_key = _pkcs12_mac_key(passphrase, salt, iterations)
    return bytes(
        pkcs12.Pfx(
            {
                "version": 3,
                "auth_safe": {"content_type": "data", "content": auth_safe},
                "mac_data": {
                    "mac": {
                        "digest_algorithm": {"algorithm": "sha256"},
                        "digest": hmac.new(mac_key, auth_safe, hashlib.sha256).digest(),
                    },
                    "mac_salt": salt,
                    "iterations": iterations,
                },
            }
        ).dump()
    )


def _pbes2_encrypted_data(plaintext: bytes, password: bytes) -> cms.EncryptedData:
    """EncryptedData under PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC), as OpenSSL 3 writes it."""
    salt, iv, iterations = os.urandom(16), os.urandom(16), 2048
    key = PBKDF2HMAC(hashes.SHA256(), 32, salt, iterations).derive(password)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    algorithm = {
        "algorithm": "pbes2",
        "parameters": {
            "key_derivation_func": {
                "algorithm": "pbkdf2",
                "parameters": {
                    "salt": algos.Pbkdf2Salt(name="specified", value=salt),
                    "iteration_count": iterations,
                    "prf": {"algorithm": "sha256"},
                },
            },
            "encryption_scheme": {"algorithm": "aes256_cbc", "parameters": iv},
        },
    }
    return cms.EncryptedData(
        {
            "version": "v0",
            "encrypted_content_info": {
                "content_type": "data",
                "content_encryption_algorithm": algorithm,
                "encrypted_content": encryptor.update(padded) + encryptor.finalize(),
            },
        }
    )


def _pkcs12_mac_key(passphrase: str, salt: bytes, iterations: int) -> bytes:
    """RFC 7292 appendix B.2 (ID 3, SHA-256, one block), written out for the test."""
    block = 64
    password = passphrase.encode("utf-16-be") + b"\0\0"

    def repeated(value: bytes) -> bytes:
        size = block * ((len(value) + block - 1) // block)
        return (value * (size // len(value) + 1))[:size]

    digest = hashlib.sha256(b"\x03" * block + repeated(salt) + repeated(password)).digest()
    for _ in range(iterations - 1):
        digest = hashlib.sha256(digest).digest()
    return digest

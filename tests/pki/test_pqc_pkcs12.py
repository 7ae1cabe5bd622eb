"""smimecore's own PKCS#12 reader (for the ML-DSA and ML-KEM keys ``cryptography`` cannot read
from PKCS#12 files), against files written by ``cryptography`` and by the openssl binary.

The reader must read what those write for classical keys exactly as ``cryptography`` does;
post-quantum files are laid out the same way by :func:`tests.pqcpki.pkcs12_file`.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from smimecore.errors import KeyLoadError, MissingPassphraseError, PassphraseError
from smimecore.keyring.loading import load_pkcs12_material
from smimecore.pki.pkcs12 import read_pkcs12
from tests.pqcpki import pkcs12_file, pqc_pki

PASSPHRASE = "p12 passphrase"
Openssl = Callable[..., subprocess.CompletedProcess[bytes]]


def _public(key: object) -> bytes:
    return key.public_key().public_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.parametrize("kind", ["mldsa44", "mldsa65", "mldsa87", "mlkem768", "mlkem1024"])
def test_post_quantum_files_read(kind: str) -> None:
    """Key and certificates (chain included, in order) of a post-quantum PKCS#12 file."""
    test_pki = pqc_pki()
    identity = test_pki.identities[kind]
    data = pkcs12_file(identity, PASSPHRASE, chain=(test_pki.pki.root,))
    contents = read_pkcs12(data, PASSPHRASE, source="id.p12")
    assert _public(contents.private_key) == _public(identity.key)
    assert contents.certificates == (identity.certificate, test_pki.pki.root)
    material = load_pkcs12_material("id.p12", data, PASSPHRASE)
    assert material.certificate == identity.certificate and material.chain == (test_pki.pki.root,)


@pytest.mark.parametrize("kind", ["rsa2048", "p256"])
def test_files_written_by_cryptography_read_as_cryptography_reads_them(kind: str) -> None:
    """cryptography's own PKCS#12 (PBES2 AES-256, HMAC-SHA256): the same key and certificates."""
    test_pki = pqc_pki()
    identity = test_pki.identities[kind]
    data = pkcs12.serialize_key_and_certificates(
        b"name",
        identity.key,  # type: ignore[arg-type]
        identity.certificate,
        [test_pki.pki.root],
        serialization.BestAvailableEncryption(PASSPHRASE.encode()),
    )
    key, certificate, additional = pkcs12.load_key_and_certificates(data, PASSPHRASE.encode())
    contents = read_pkcs12(data, PASSPHRASE, source="c.p12")
    assert _public(contents.private_key) == _public(key)
    assert set(contents.certificates) == {certificate, *additional}


def test_a_file_written_by_the_openssl_binary_reads(openssl: Openssl, tmp_path: Path) -> None:
    """openssl 3.0's default PKCS#12 (PBES2 AES-256-CBC, HMAC-SHA256 MAC)."""
    identity = pqc_pki().identities["rsa2048"]
    (tmp_path / "c.pem").write_bytes(identity.certificate_pem())
    (tmp_path / "k.pem").write_bytes(identity.key_pem())
    made = openssl(
        "pkcs12", "-export", "-in", tmp_path / "c.pem", "-inkey", tmp_path / "k.pem",
        "-out", tmp_path / "o.p12", "-passout", f"pass:{PASSPHRASE}",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    contents = read_pkcs12((tmp_path / "o.p12").read_bytes(), PASSPHRASE, source="o.p12")
    assert _public(contents.private_key) == _public(identity.key)
    assert contents.certificates == (identity.certificate,)


def test_legacy_encryption_is_refused_by_name(openssl: Openssl, tmp_path: Path) -> None:
    """A 3DES-encrypted file (cryptography reads those itself): our reader names the encryption."""
    identity = pqc_pki().identities["p256"]
    (tmp_path / "c.pem").write_bytes(identity.certificate_pem())
    (tmp_path / "k.pem").write_bytes(identity.key_pem())
    made = openssl(
        "pkcs12", "-export", "-in", tmp_path / "c.pem", "-inkey", tmp_path / "k.pem",
        "-certpbe", "PBE-SHA1-3DES", "-keypbe", "PBE-SHA1-3DES", "-macalg", "sha1",
        "-out", tmp_path / "l.p12", "-passout", f"pass:{PASSPHRASE}",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    with pytest.raises(KeyLoadError, match="legacy PKCS#12 encryption"):
        read_pkcs12((tmp_path / "l.p12").read_bytes(), PASSPHRASE, source="l.p12")


def test_wrong_missing_passphrase_and_damage() -> None:
    """A wrong passphrase and a damaged file fail at the MAC; none at all says so."""
    data = pkcs12_file(pqc_pki().identities["mlkem768"], PASSPHRASE)
    with pytest.raises(PassphraseError, match="does not open"):
        read_pkcs12(data, "wrong", source="x.p12")
    damaged = data[:200] + bytes([data[200] ^ 1]) + data[201:]
    with pytest.raises(KeyLoadError):
        read_pkcs12(damaged, PASSPHRASE, source="x.p12")
    with pytest.raises(MissingPassphraseError):
        load_pkcs12_material("x.p12", data, None)
    with pytest.raises(KeyLoadError, match="not a PKCS#12 file"):
        read_pkcs12(b"\x30\x03\x02\x01\x03", PASSPHRASE, source="x.p12")


def test_no_secret_in_errors() -> None:
    """The passphrase never appears in an error."""
    data = pkcs12_file(pqc_pki().identities["mldsa44"], PASSPHRASE)
    with pytest.raises(PassphraseError) as caught:
        read_pkcs12(data, "my secret passphrase", source="x.p12")
    assert "my secret passphrase" not in str(caught.value) + repr(caught.value)

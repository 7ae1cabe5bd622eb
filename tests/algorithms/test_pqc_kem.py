"""ML-KEM and the RFC 9629 KEMRecipientInfo key schedule, against the hackathon vectors.

Every enveloped and auth-enveloped vector is decrypted here with
:func:`kem_unwrap` and a content decryption of the test's own, which proves
the KEK derivation (CMSORIforKEMOtherInfo, HKDF, kekLength, ukm).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import mlkem

from smimecore.algorithms.kem import (
    HKDF_SHA256_OID,
    KemPrivateKey,
    KemWrapped,
    check_kem_parameters,
    derive_kek,
    kem_by_oid,
    kem_decapsulate,
    kem_encapsulate,
    kem_fits_key,
    kem_other_info,
    kem_wrap,
)
from smimecore.algorithms.keywrap import unwrap_key, wrap_key_length, wrap_oid_for_length
from smimecore.errors import DecryptionError, MalformedCMSError, UnsupportedAlgorithmError
from tests.conftest import VECTORS, vector_path
from tests.pqccms import kem_message

pytestmark = pytest.mark.vectors

FOLDER = ("pqc", "hackathon-carl-redhound")
KEMS = {"768": "mlkem768-2.16.840.1.101.3.4.4.2", "1024": "mlkem1024-2.16.840.1.101.3.4.4.3"}
ML_KEM_512 = "mlkem512-2.16.840.1.101.3.4.4.1"
HKDF_OIDS = {
    "sha256": "1.2.840.113549.1.9.16.3.28",
    "sha384": "1.2.840.113549.1.9.16.3.29",
    "sha512": "1.2.840.113549.1.9.16.3.30",
}
AES128_WRAP = "2.16.840.1.101.3.4.1.5"
AES256_WRAP = "2.16.840.1.101.3.4.1.45"
MESSAGES = sorted(path.name for path in (VECTORS.joinpath(*FOLDER)).glob("mlkem*_kemri*.der")) or [
    "(missing)"
]


def _vector(name: str) -> Path:
    return vector_path(*FOLDER, name)


def _seed_key(prefix: str) -> KemPrivateKey:
    key = serialization.load_der_private_key(_vector(f"{prefix}_seed_priv.der").read_bytes(), None)
    assert isinstance(key, mlkem.MLKEM768PrivateKey | mlkem.MLKEM1024PrivateKey)
    return key


def _unwrap(key: KemPrivateKey, recipient: KemWrapped) -> bytes:
    return recipient.unwrap(key)


@pytest.mark.parametrize("level", sorted(KEMS))
def test_decapsulation_gives_the_vector_shared_secret(level: str) -> None:
    """Decapsulating the raw KEM ciphertext gives the published shared secret."""
    prefix = KEMS[level]
    kemct = _vector(f"{prefix}_ciphertext.bin").read_bytes()
    secret = kem_decapsulate(_seed_key(prefix), prefix.split("-")[1], kemct)
    assert secret == _vector(f"{prefix}_ss.bin").read_bytes()


@pytest.mark.parametrize("name", [name for name in MESSAGES if not name.startswith("mlkem512")])
def test_every_vector_decrypts(name: str) -> None:
    """Each ML-KEM-768/1024 enveloped and auth-enveloped file decrypts to the expected plaintext."""
    message = kem_message(_vector(name))
    assert message.recipient.kdf_oid == HKDF_SHA256_OID
    assert (message.recipient.ukm is not None) == name.endswith("_ukm.der")
    content_key = _unwrap(_seed_key(name.split("_")[0]), message.recipient)
    assert message.decrypt(content_key) == _vector("expected_plaintext.txt").read_bytes()


def test_ml_kem_512_is_refused_with_the_reason() -> None:
    """An ML-KEM-512 recipient is unsupported, saying cryptography's OpenSSL lacks it."""
    message = kem_message(_vector(f"{ML_KEM_512}_kemri_id-alg-hkdf-with-sha256.der"))
    with pytest.raises(UnsupportedAlgorithmError, match=r"ML-KEM-512.*cryptography"):
        _unwrap(_seed_key(KEMS["768"]), message.recipient)
    with pytest.raises(UnsupportedAlgorithmError, match="ML-KEM-512"):
        kem_by_oid(message.recipient.kem_oid)


def _ukm_message() -> KemWrapped:
    return kem_message(_vector(f"{KEMS['768']}_kemri_id-alg-hkdf-with-sha256_ukm.der")).recipient


def _flip(data: bytes, index: int = 0) -> bytes:
    return data[:index] + bytes([data[index] ^ 1]) + data[index + 1 :]


TAMPERINGS = {
    "kemct": lambda r: dataclasses.replace(r, kemct=_flip(r.kemct, 100)),
    "short kemct": lambda r: dataclasses.replace(r, kemct=r.kemct[:-1]),
    "changed ukm": lambda r: dataclasses.replace(r, ukm=_flip(r.ukm)),
    "no ukm": lambda r: dataclasses.replace(r, ukm=None),
    "empty ukm": lambda r: dataclasses.replace(r, ukm=b""),
    "encrypted key": lambda r: dataclasses.replace(r, encrypted_key=_flip(r.encrypted_key, 5)),
    "short encrypted key": lambda r: dataclasses.replace(r, encrypted_key=r.encrypted_key[:-8]),
    "other KDF": lambda r: dataclasses.replace(r, kdf_oid=HKDF_OIDS["sha512"]),
}


@pytest.mark.parametrize("tampering", sorted(TAMPERINGS))
def test_every_failure_after_decapsulation_is_the_same(tampering: str) -> None:
    """Tampered kemct, wrong ukm, tampered wrapped key: one uniform 'Decryption failed'."""
    recipient = TAMPERINGS[tampering](_ukm_message())
    with pytest.raises(DecryptionError) as caught:
        _unwrap(_seed_key(KEMS["768"]), recipient)
    assert str(caught.value) == "Decryption failed"


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(lambda: mlkem.MLKEM768PrivateKey.generate(), id="another ML-KEM-768 key"),
        pytest.param(lambda: mlkem.MLKEM1024PrivateKey.generate(), id="an ML-KEM-1024 key"),
    ],
)
def test_wrong_key_is_the_same_failure(key: object) -> None:
    """A wrong private key (of the same or another parameter set) gives the same error."""
    with pytest.raises(DecryptionError) as caught:
        _unwrap(key(), _ukm_message())  # type: ignore[operator]
    assert str(caught.value) == "Decryption failed"


def test_public_checks_come_first_with_typed_errors() -> None:
    """kekLength that does not fit the wrap, unknown KDF or wrap: typed errors, not an oracle."""
    check_kem_parameters(
        kem_by_oid(KEMS["768"].split("-")[1]).oid, HKDF_SHA256_OID, AES256_WRAP, 32
    )
    with pytest.raises(MalformedCMSError, match="kekLength 16"):
        check_kem_parameters("2.16.840.1.101.3.4.4.2", HKDF_SHA256_OID, AES256_WRAP, 16)
    with pytest.raises(UnsupportedAlgorithmError, match="KDF"):
        check_kem_parameters("2.16.840.1.101.3.4.4.2", "2.16.840.1.101.3.4.2.21", AES256_WRAP, 32)
    with pytest.raises(UnsupportedAlgorithmError, match="key-wrap"):
        check_kem_parameters("2.16.840.1.101.3.4.4.2", HKDF_SHA256_OID, "1.2.3.4", 32)
    recipient = dataclasses.replace(_ukm_message(), kek_length=32)
    with pytest.raises(MalformedCMSError):
        _unwrap(_seed_key(KEMS["768"]), recipient)


@pytest.mark.parametrize("level", sorted(KEMS))
@pytest.mark.parametrize("kdf", sorted(HKDF_OIDS))
@pytest.mark.parametrize("ukm", [None, b"", b"user keying material"])
def test_wrap_unwrap_round_trip(level: str, kdf: str, ukm: bytes | None) -> None:
    """What kem_wrap writes, kem_unwrap reads back, for every HKDF and with or without ukm."""
    key = _seed_key(KEMS[level])
    content_key = os.urandom(32)
    wrapped = kem_wrap(key.public_key(), content_key, kdf_oid=HKDF_OIDS[kdf], ukm=ukm)
    assert (wrapped.wrap_oid, wrapped.kek_length) == (AES256_WRAP, 32)  # RFC 9936 default
    assert len(wrapped.kemct) == kem_by_oid(wrapped.kem_oid).ciphertext_length
    assert _unwrap(key, wrapped) == content_key


def test_wrap_defaults_and_explicit_wrap() -> None:
    """Defaults are HKDF-SHA256 and AES-256 wrap; an explicit AES-128 wrap uses a 16-octet KEK."""
    key = mlkem.MLKEM1024PrivateKey.generate()
    wrapped = kem_wrap(key.public_key(), b"k" * 16, wrap_oid=AES128_WRAP)
    assert (wrapped.kdf_oid, wrapped.kek_length) == (HKDF_SHA256_OID, 16)
    assert wrapped.kem_oid == "2.16.840.1.101.3.4.4.3"
    assert _unwrap(key, wrapped) == b"k" * 16


def test_each_encapsulation_is_fresh() -> None:
    """Two encapsulations to one key give different ciphertexts and secrets (RFC 9629 section 7)."""
    public_key = mlkem.MLKEM768PrivateKey.generate().public_key()
    assert kem_encapsulate(public_key) != kem_encapsulate(public_key)


def test_other_info_encoding() -> None:
    """CMSORIforKEMOtherInfo: wrap AlgorithmIdentifier without parameters, kekLength, [0] ukm."""
    wrap = bytes.fromhex("300b0609608648016503040105")  # id-aes128-wrap, parameters absent
    assert kem_other_info(AES128_WRAP, 16) == b"\x30\x10" + wrap + b"\x02\x01\x10"
    assert kem_other_info(AES128_WRAP, 16, b"abc") == (
        b"\x30\x17" + wrap + b"\x02\x01\x10" + b"\xa0\x05\x04\x03abc"
    )


def _hkdf(hash_name: str, secret: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 with an empty salt, written out independently of the code under test."""
    size = hashlib.new(hash_name).digest_size
    prk = hmac.new(b"\x00" * size, secret, hash_name).digest()
    output, block, counter = b"", b"", 1
    while len(output) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hash_name).digest()
        output += block
        counter += 1
    return output[:length]


@pytest.mark.parametrize("kdf", sorted(HKDF_OIDS))
def test_derive_kek_is_hkdf_over_the_other_info(kdf: str) -> None:
    """derive_kek is HKDF(salt='', IKM=ss, info=CMSORIforKEMOtherInfo, L=kekLength)."""
    secret = os.urandom(32)
    expected = _hkdf(kdf, secret, kem_other_info(AES256_WRAP, 32, b"u"), 32)
    assert derive_kek(HKDF_OIDS[kdf], secret, AES256_WRAP, 32, b"u") == expected


def test_key_fits_only_its_parameter_set() -> None:
    """kem_fits_key tells the reader which KEMRecipientInfo a key can open."""
    key = mlkem.MLKEM768PrivateKey.generate()
    assert kem_fits_key(key, "2.16.840.1.101.3.4.4.2")
    assert not kem_fits_key(key, "2.16.840.1.101.3.4.4.3")
    assert not kem_fits_key(object(), "2.16.840.1.101.3.4.4.2")


def test_key_wrap_table() -> None:
    """AES key wrap by OID: 16/24/32-octet KEKs; an unknown wrap is unsupported; bad unwrap fails."""
    assert [wrap_key_length(wrap_oid_for_length(n)) for n in (16, 24, 32)] == [16, 24, 32]
    with pytest.raises(UnsupportedAlgorithmError):
        wrap_oid_for_length(20)
    with pytest.raises(DecryptionError):
        unwrap_key(b"\x00" * 16, b"\x01" * 24)

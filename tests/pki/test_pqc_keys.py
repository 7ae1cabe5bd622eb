"""Private-key loading (smimecore.pki.keys): every key form, and typed errors without secrets."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable

import pytest
from asn1crypto import algos, core, keys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import ec, mldsa, mlkem, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from smimecore.errors import KeyLoadError, PassphraseError, SmimeError, UnsupportedAlgorithmError
from smimecore.pki.keys import load_private_key
from tests.conftest import PASSPHRASE, vector_path

FOLDER = ("pqc", "hackathon-carl-redhound")
ML_KEM = {
    "ML-KEM-768": "mlkem768-2.16.840.1.101.3.4.4.2",
    "ML-KEM-1024": "mlkem1024-2.16.840.1.101.3.4.4.3",
}
ML_KEM_512 = "mlkem512-2.16.840.1.101.3.4.4.1"
ML_DSA = {
    "2.16.840.1.101.3.4.3.17": mldsa.MLDSA44PrivateKey,
    "2.16.840.1.101.3.4.3.18": mldsa.MLDSA65PrivateKey,
    "2.16.840.1.101.3.4.3.19": mldsa.MLDSA87PrivateKey,
}
ML_DSA_EXPANDED_LENGTH = {
    "2.16.840.1.101.3.4.3.17": 2560,
    "2.16.840.1.101.3.4.3.18": 4032,
    "2.16.840.1.101.3.4.3.19": 4896,
}


def _key_file(prefix: str, form: str) -> bytes:
    return vector_path(*FOLDER, f"{prefix}_{form}_priv.der").read_bytes()


def _raw_public(key: object) -> bytes:
    return key.public_key().public_bytes_raw()  # type: ignore[attr-defined,no-any-return]


def _pem(der: bytes, label: str = "PRIVATE KEY") -> bytes:
    body = base64.encodebytes(der).replace(b"\n", b"")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return b"\n".join(
        [f"-----BEGIN {label}-----".encode(), *lines, f"-----END {label}-----".encode(), b""]
    )


def _pbes2(der: bytes, passphrase: str) -> bytes:
    """``der`` as an EncryptedPrivateKeyInfo (PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC).

    What OpenSSL writes by default; cryptography cannot write an ML-KEM key
    in the "both" form, so the test encrypts one itself.
    """
    salt, iv = os.urandom(16), os.urandom(16)
    kek = PBKDF2HMAC(hashes.SHA256(), 32, salt, 2048).derive(passphrase.encode())
    padder = padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(kek), modes.CBC(iv)).encryptor()
    encrypted = encryptor.update(padder.update(der) + padder.finalize()) + encryptor.finalize()
    kdf = {
        "algorithm": "pbkdf2",
        "parameters": {
            "salt": algos.Pbkdf2Salt(name="specified", value=salt),
            "iteration_count": 2048,
            "prf": {"algorithm": "sha256"},
        },
    }
    return bytes(
        keys.EncryptedPrivateKeyInfo(
            {
                "encryption_algorithm": {
                    "algorithm": "pbes2",
                    "parameters": {
                        "key_derivation_func": kdf,
                        "encryption_scheme": {"algorithm": "aes256_cbc", "parameters": iv},
                    },
                },
                "encrypted_data": encrypted,
            }
        ).dump()
    )


class _AlgorithmIdentifier(core.Sequence):  # type: ignore[misc]
    _fields = [  # noqa: RUF012
        ("algorithm", core.ObjectIdentifier),
        ("parameters", core.Any, {"optional": True}),
    ]


class _OneAsymmetricKey(core.Sequence):  # type: ignore[misc]
    _fields = [  # noqa: RUF012
        ("version", core.Integer),
        ("algorithm", _AlgorithmIdentifier),
        ("private_key", core.OctetString),
        ("public_key", core.OctetBitString, {"implicit": 1, "optional": True}),
    ]


def _pkcs8(oid: str, private_key: bytes, public_key: bytes | None = None) -> bytes:
    fields: dict[str, object] = {
        "version": 1 if public_key is not None else 0,
        "algorithm": {"algorithm": oid},
        "private_key": private_key,
    }
    if public_key is not None:
        fields["public_key"] = public_key
    return bytes(_OneAsymmetricKey(fields).dump())


class _SeedAndExpanded(core.Sequence):  # type: ignore[misc]
    _fields = [("seed", core.OctetString), ("expanded_key", core.OctetString)]  # noqa: RUF012


def _both(seed: bytes, expanded: bytes) -> bytes:
    return bytes(_SeedAndExpanded({"seed": seed, "expanded_key": expanded}).dump())


def _octets(value: bytes) -> bytes:
    return bytes(core.OctetString(value).dump())


# -- ML-KEM: the three forms of the vectors ------------------------------------


@pytest.mark.vectors
@pytest.mark.parametrize("name", sorted(ML_KEM))
def test_ml_kem_seed_form_matches_the_certificate(name: str) -> None:
    """The seed form loads, and its public key is the one in the recipient certificate."""
    prefix = ML_KEM[name]
    key = load_private_key(_key_file(prefix, "seed"), source="seed.der")
    certificate = x509.load_der_x509_certificate(
        vector_path(*FOLDER, f"{prefix}_ee.der").read_bytes()
    )
    assert _raw_public(key) == certificate.public_key().public_bytes_raw()  # type: ignore[union-attr]


@pytest.mark.vectors
@pytest.mark.parametrize("name", sorted(ML_KEM))
def test_ml_kem_both_form_loads_through_its_seed(name: str) -> None:
    """The 'both' form gives the same key as the seed form, in DER, PEM and encrypted PKCS#8."""
    prefix = ML_KEM[name]
    seed_key = load_private_key(_key_file(prefix, "seed"), source="seed.der")
    both = _key_file(prefix, "both")
    for data, passphrase in (
        (both, None),
        (_pem(both), None),
        (_pbes2(both, PASSPHRASE), PASSPHRASE),
        (_pem(_pbes2(both, PASSPHRASE), "ENCRYPTED PRIVATE KEY"), PASSPHRASE),
    ):
        key = load_private_key(data, passphrase, source="both.der")
        assert type(key) is type(seed_key)
        assert key.private_bytes_raw() == seed_key.private_bytes_raw()  # type: ignore[union-attr]


@pytest.mark.vectors
def test_ml_kem_both_form_with_a_foreign_expanded_key_is_refused() -> None:
    """A 'both' key whose expanded half does not belong to its seed is damaged."""
    both = bytearray(_key_file(ML_KEM["ML-KEM-768"], "both"))
    both[-1] ^= 1  # the last octet of the expanded key: its z no longer is the seed's
    with pytest.raises(KeyLoadError, match="do not match"):
        load_private_key(bytes(both), source="both.der")


@pytest.mark.vectors
@pytest.mark.parametrize("name", sorted(ML_KEM))
def test_ml_kem_expanded_form_is_refused_saying_why(name: str) -> None:
    """The expanded-only form is a KeyLoadError that names the form and asks for a seed."""
    with pytest.raises(KeyLoadError) as caught:
        load_private_key(_key_file(ML_KEM[name], "expandedkey"), source="expanded.der")
    message = str(caught.value)
    assert name in message
    assert "expanded" in message
    assert "seed" in message
    assert "expanded.der" in message


@pytest.mark.vectors
@pytest.mark.parametrize("form", ["seed", "both", "expandedkey"])
def test_ml_kem_512_is_unsupported(form: str) -> None:
    """ML-KEM-512 in any form is an UnsupportedAlgorithmError saying why."""
    with pytest.raises(UnsupportedAlgorithmError, match=r"ML-KEM-512.*cryptography"):
        load_private_key(_key_file(ML_KEM_512, form), source="512.der")


@pytest.mark.vectors
def test_encrypted_both_form_with_wrong_or_no_passphrase() -> None:
    """A wrong or missing passphrase is a PassphraseError that does not reveal the passphrase."""
    encrypted = _pbes2(_key_file(ML_KEM["ML-KEM-768"], "both"), PASSPHRASE)
    with pytest.raises(PassphraseError) as wrong:
        load_private_key(encrypted, "not the passphrase", source="k.der")
    assert "not the passphrase" not in str(wrong.value)
    with pytest.raises(PassphraseError, match="no passphrase"):
        load_private_key(encrypted, None, source="k.der")


@pytest.mark.vectors
def test_ml_kem_public_key_field_is_checked() -> None:
    """A OneAsymmetricKey v2 public key must be the private key's own."""
    seed_form = core.Sequence.load(_key_file(ML_KEM["ML-KEM-768"], "seed"))
    inner = seed_form[2].native
    key = load_private_key(_key_file(ML_KEM["ML-KEM-768"], "seed"), source="k")
    good = _pkcs8("2.16.840.1.101.3.4.4.2", inner, _raw_public(key))
    assert _raw_public(load_private_key(good, source="k")) == _raw_public(key)
    other = _raw_public(mlkem.MLKEM768PrivateKey.generate())
    with pytest.raises(KeyLoadError, match="public key does not match"):
        load_private_key(_pkcs8("2.16.840.1.101.3.4.4.2", inner, other), source="k")


# -- ML-DSA -------------------------------------------------------------------


@pytest.mark.parametrize("oid", sorted(ML_DSA))
@pytest.mark.parametrize("encoding", ["PEM", "DER"])
@pytest.mark.parametrize("encrypted", [False, True])
def test_ml_dsa_seed_form_loads(oid: str, encoding: str, encrypted: bool) -> None:
    """ML-DSA PKCS#8 seed keys load, plain and encrypted, in PEM and DER."""
    key = ML_DSA[oid].generate()
    protection: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(PASSPHRASE.encode())
        if encrypted
        else serialization.NoEncryption()
    )
    data = key.private_bytes(
        getattr(serialization.Encoding, encoding), serialization.PrivateFormat.PKCS8, protection
    )
    loaded = load_private_key(data, PASSPHRASE, source="k")
    assert type(loaded) is type(key)
    assert loaded.private_bytes_raw() == key.private_bytes_raw()  # type: ignore[union-attr]


def _ml_dsa_expanded(seed: bytes, oid: str, *, tr_of: bytes | None = None) -> bytes:
    """An expanded ML-DSA key whose rho and tr (FIPS 204 skEncode) belong to ``seed``'s key.

    cryptography cannot write the expanded form, and the rest of it (K, s1,
    s2, t0) is not checked by the loader, so it is filler here.
    """
    public = ML_DSA[oid].from_seed_bytes(seed).public_key().public_bytes_raw()
    tr = hashlib.shake_256(tr_of or public).digest(64)
    return public[:32] + os.urandom(32) + tr + os.urandom(ML_DSA_EXPANDED_LENGTH[oid] - 128)


@pytest.mark.parametrize("oid", sorted(ML_DSA))
def test_ml_dsa_both_form_loads_through_its_seed(oid: str) -> None:
    """The ML-DSA 'both' form loads through its seed; an expanded half of another key is refused."""
    seed = os.urandom(32)
    both = _pkcs8(oid, _both(seed, _ml_dsa_expanded(seed, oid)))
    assert load_private_key(both, source="k").private_bytes_raw() == seed  # type: ignore[union-attr]
    foreign = _ml_dsa_expanded(seed, oid, tr_of=b"another public key")
    with pytest.raises(KeyLoadError, match="do not match"):
        load_private_key(_pkcs8(oid, _both(seed, foreign)), source="k")


@pytest.mark.parametrize("oid", sorted(ML_DSA))
def test_ml_dsa_expanded_form_is_refused(oid: str) -> None:
    """cryptography builds ML-DSA keys from seeds only: the expanded-only form is refused."""
    expanded = _pkcs8(oid, _octets(os.urandom(ML_DSA_EXPANDED_LENGTH[oid])))
    with pytest.raises(KeyLoadError, match=r"ML-DSA-.*expanded.*seed"):
        load_private_key(expanded, source="k")


@pytest.mark.parametrize(
    ("private_key", "problem"),
    [
        (b"\x80\x1f" + b"s" * 31, "seed is not 32 octets"),
        (b"\x80\x20" + b"s" * 31, "damaged"),
        (b"\x05\x00", "damaged"),
        (b"\x30\x03\x04\x01s", "damaged"),
    ],
)
def test_damaged_ml_dsa_private_key_choices(private_key: bytes, problem: str) -> None:
    """Short seeds, broken encodings and unknown CHOICE tags are damaged keys."""
    with pytest.raises(KeyLoadError, match=problem):
        load_private_key(_pkcs8("2.16.840.1.101.3.4.3.18", private_key), source="k")


def test_ml_dsa_with_algorithm_parameters_is_refused() -> None:
    """RFC 9881: the AlgorithmIdentifier of an ML-DSA key has no parameters."""
    der = bytearray(
        mldsa.MLDSA44PrivateKey.generate().private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    # SEQUENCE { INTEGER 0, SEQUENCE { OID }, ... }: add NULL parameters, fixing both lengths.
    patched = (
        b"\x30" + bytes([der[1] + 2]) + der[2:5] + b"\x30\x0d" + der[7:18] + b"\x05\x00" + der[18:]
    )
    with pytest.raises(KeyLoadError, match="parameters"):
        load_private_key(bytes(patched), source="k")


def test_slh_dsa_key_is_unsupported() -> None:
    """A PKCS#8 key of an algorithm cryptography lacks (SLH-DSA) is unsupported, by OID."""
    der = _pkcs8("2.16.840.1.101.3.4.3.20", _octets(os.urandom(64)))
    with pytest.raises(UnsupportedAlgorithmError, match=r"2\.16\.840\.1\.101\.3\.4\.3\.20"):
        load_private_key(der, source="k")


# -- classical keys and the error contract ------------------------------------

CLASSICAL: dict[str, Callable[[], object]] = {
    "rsa": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "p256": lambda: ec.generate_private_key(ec.SECP256R1()),
}


@pytest.mark.parametrize("kind", sorted(CLASSICAL))
@pytest.mark.parametrize("form", ["PKCS8", "TraditionalOpenSSL"])
@pytest.mark.parametrize("encoding", ["PEM", "DER"])
def test_classical_keys_load_in_every_form(kind: str, form: str, encoding: str) -> None:
    """RSA and EC keys load as PKCS#8 and traditional, PEM and DER, plain and encrypted."""
    key = CLASSICAL[kind]()
    protections: list[serialization.KeySerializationEncryption] = [serialization.NoEncryption()]
    if not (form == "TraditionalOpenSSL" and encoding == "DER"):  # no such encrypted form
        protections.append(serialization.BestAvailableEncryption(PASSPHRASE.encode()))
    for protection in protections:
        data = key.private_bytes(  # type: ignore[attr-defined]
            getattr(serialization.Encoding, encoding),
            getattr(serialization.PrivateFormat, form),
            protection,
        )
        loaded = load_private_key(data, PASSPHRASE, source="k")
        assert loaded.private_numbers() == key.private_numbers()  # type: ignore[union-attr,attr-defined]
        if isinstance(protection, serialization.BestAvailableEncryption):
            with pytest.raises(PassphraseError, match="does not open"):
                load_private_key(data, "wrong", source="k")
            with pytest.raises(PassphraseError, match="no passphrase"):
                load_private_key(data, None, source="k")


def test_pem_picks_the_private_key_block() -> None:
    """In a keyring file (certificate, then key, with text around) the key block is used."""
    key = mlkem.MLKEM768PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    data = b"subject=...\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" + pem
    assert _raw_public(load_private_key(data, source="k")) == _raw_public(key)


@pytest.mark.parametrize(
    ("data", "error", "problem"),
    [
        (
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            KeyLoadError,
            "no private key",
        ),
        (
            b"-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n",
            KeyLoadError,
            "damaged",
        ),
        (b"\x30\x03\x02\x01\x00", KeyLoadError, "damaged"),
        (b"not a key at all", KeyLoadError, "damaged"),
    ],
)
def test_unreadable_data_is_a_key_load_error(
    data: bytes, error: type[SmimeError], problem: str
) -> None:
    """Damaged input is a KeyLoadError naming its source, never a library exception."""
    with pytest.raises(error, match=problem) as caught:
        load_private_key(data, source="/keys/alice.pem")
    assert "/keys/alice.pem" in str(caught.value)

"""ML-DSA signatures (RFC 9882) at the algorithm level, and the post-quantum schemes refused.

The vectors' signatures are checked over their DER signed attributes with
:class:`SignatureScheme` alone; the CMS reader is not involved.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from asn1crypto import algos
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import mldsa

from smimecore.algorithms.digests import digest_by_name
from smimecore.algorithms.signatures import (
    SignatureScheme,
    post_quantum_scheme,
    scheme_for_key,
    scheme_from_algorithm_identifier,
)
from smimecore.errors import MalformedCMSError, UnsupportedAlgorithmError
from smimecore.pki.der import AlgorithmIdentifier, Cursor
from tests.conftest import VECTORS, vector_path
from tests.pqccms import signed_parts

pytestmark = pytest.mark.vectors

ML_DSA = {
    "44": (mldsa.MLDSA44PrivateKey, "2.16.840.1.101.3.4.3.17"),
    "65": (mldsa.MLDSA65PrivateKey, "2.16.840.1.101.3.4.3.18"),
    "87": (mldsa.MLDSA87PrivateKey, "2.16.840.1.101.3.4.3.19"),
}
# The LAMPS examples carry no certificate; they are signed with the example keys of
# RFC 9881 Appendix C, whose seed is the 32 octets 00 01 02 ... 1f.
EXAMPLE_SEED = bytes(range(32))
OSSL35 = "hackathon-ossl35"


def _ossl35_files(prefix: str) -> list[str]:
    """The OpenSSL 3.5 signed-data files of one family (a placeholder that skips if absent)."""
    folder = VECTORS / "pqc" / OSSL35
    return sorted(path.name for path in folder.glob(f"{prefix}-*_signed_attrs.der")) or [
        "(missing)"
    ]


def _scheme(parts_path: Path) -> tuple[SignatureScheme, bytes, bytes]:
    parts = signed_parts(parts_path)
    assert parts.digest.digest(parts.content) == parts.message_digest
    scheme = scheme_from_algorithm_identifier(_identifier(parts.signature_algorithm), parts.digest)
    return scheme, parts.signature, parts.signed_attributes


@pytest.mark.parametrize("level", sorted(ML_DSA))
def test_lamps_examples_verify(level: str) -> None:
    """The LAMPS WG ML-DSA examples verify over their signed attributes (SHA-512 digest)."""
    key_class, _ = ML_DSA[level]
    path = vector_path("pqc", "lamps-cms-ml-dsa", f"mldsa{level}-signed-attrs.pem")
    scheme, signature, attributes = _scheme(path)
    assert scheme.name == f"ml_dsa_{level}"
    assert scheme.digest.name == "sha512"
    public_key = key_class.from_seed_bytes(EXAMPLE_SEED).public_key()
    assert scheme.verify(public_key, signature, attributes)
    assert not scheme.verify(public_key, signature, attributes[:-1] + bytes([attributes[-1] ^ 1]))


@pytest.mark.parametrize("name", _ossl35_files("ml-dsa"))
def test_openssl35_signatures_verify_with_embedded_certificate(name: str) -> None:
    """OpenSSL 3.5's ML-DSA signed-data verifies with its certificate, which ta.der issued."""
    path = vector_path("pqc", OSSL35, name)
    parts = signed_parts(path)
    scheme, signature, attributes = _scheme(path)
    (certificate,) = parts.certificates
    assert scheme.verify(certificate.public_key(), signature, attributes)
    ta = x509.load_der_x509_certificate(vector_path("pqc", OSSL35, "ta.der").read_bytes())
    certificate.verify_directly_issued_by(ta)


def test_openssl35_ml_dsa_44_uses_sha256() -> None:
    """RFC 9882 Table 1 allows SHA-256 with ML-DSA-44: OpenSSL 3.5 uses it, and it is accepted."""
    (name,) = _ossl35_files("ml-dsa-44")
    assert len(_ossl35_files("ml-dsa")) == 3
    scheme, _, _ = _scheme(vector_path("pqc", OSSL35, name))
    assert (scheme.name, scheme.digest.name) == ("ml_dsa_44", "sha256")


@pytest.mark.parametrize("name", _ossl35_files("slh-dsa"))
def test_slh_dsa_is_refused_by_name(name: str) -> None:
    """SLH-DSA signed-data is an unsupported algorithm naming SLH-DSA and its OID, never a verdict."""
    parts = signed_parts(vector_path("pqc", OSSL35, name))
    with pytest.raises(UnsupportedAlgorithmError) as caught:
        scheme_from_algorithm_identifier(_identifier(parts.signature_algorithm), parts.digest)
    oid = parts.signature_algorithm["algorithm"].dotted
    assert "SLH-DSA" in str(caught.value)
    assert oid in str(caught.value)
    variant = name.split("-2.16")[0]  # slh-dsa-sha2-128s: the name must be the right one
    assert caught.value.algorithm.lower().startswith(variant + " ")


@pytest.mark.parametrize(
    ("oid", "name"),
    [
        ("2.16.840.1.101.3.4.3.32", "HashML-DSA-44"),
        ("2.16.840.1.101.3.4.3.33", "HashML-DSA-65"),
        ("2.16.840.1.101.3.4.3.34", "HashML-DSA-87"),
        ("2.16.840.1.101.3.4.3.35", "HashSLH-DSA-SHA2-128s"),
    ],
)
def test_hash_variants_are_refused_by_name(oid: str, name: str) -> None:
    """HashML-DSA (and HashSLH-DSA) are named in the error: CMS uses the pure forms only."""
    identifier = algos.SignedDigestAlgorithm({"algorithm": oid})
    with pytest.raises(UnsupportedAlgorithmError, match=name):
        scheme_from_algorithm_identifier(_identifier(identifier), digest_by_name("sha512"))


@pytest.mark.parametrize("level", sorted(ML_DSA))
def test_sign_verify_round_trip(level: str) -> None:
    """Our ML-DSA signatures verify; tampered signature, data or another key do not."""
    key_class, _ = ML_DSA[level]
    key = key_class.generate()
    scheme = scheme_for_key(key, digest_by_name("sha256"))
    assert scheme.name == f"ml_dsa_{level}"
    assert scheme.digest.name == "sha512"  # whatever was asked: RFC 9882's MUST
    assert scheme.digest.micalg == "sha-512"
    data = b"\x31\x03\x02\x01\x00 signed attributes"
    signature = scheme.sign(key, data)
    assert scheme.verify(key.public_key(), signature, data)
    tampered = bytes([signature[0] ^ 1]) + signature[1:]
    assert not scheme.verify(key.public_key(), tampered, data)
    assert not scheme.verify(key.public_key(), signature, data + b"x")
    assert not scheme.verify(key_class.generate().public_key(), signature, data)


@pytest.mark.parametrize("level", sorted(ML_DSA))
def test_algorithm_identifier_has_no_parameters(level: str) -> None:
    """The signatureAlgorithm written is the bare OID (RFC 9882), and reads back as the scheme."""
    key_class, oid = ML_DSA[level]
    scheme = scheme_for_key(key_class.generate(), digest_by_name("sha512"))
    encoded = algos.SignedDigestAlgorithm(scheme.algorithm_identifier()).dump()
    oid_der = algos.SignedDigestAlgorithm({"algorithm": oid})["algorithm"].dump()
    assert encoded == b"\x30" + bytes([len(oid_der)]) + oid_der
    read = scheme_from_algorithm_identifier(
        _identifier(algos.SignedDigestAlgorithm.load(encoded)), scheme.digest
    )
    assert read == scheme


def test_parameter_set_mismatch_is_not_a_verdict() -> None:
    """An ML-DSA-65 signature checked with an ML-DSA-44 key is an unsupported combination."""
    key = mldsa.MLDSA65PrivateKey.generate()
    scheme = scheme_for_key(key, digest_by_name("sha512"))
    other = mldsa.MLDSA44PrivateKey.generate().public_key()
    with pytest.raises(UnsupportedAlgorithmError):
        scheme.verify(other, scheme.sign(key, b"data"), b"data")


@pytest.mark.parametrize(
    ("oid", "digest"),
    [("2.16.840.1.101.3.4.3.18", "sha256"), ("2.16.840.1.101.3.4.3.19", "sha384")],
)
def test_digest_weaker_than_parameter_set_is_refused(oid: str, digest: str) -> None:
    """RFC 9882 Table 1: SHA-256 is too weak for ML-DSA-65, SHA-384 for ML-DSA-87."""
    with pytest.raises(UnsupportedAlgorithmError, match="Table 1"):
        post_quantum_scheme(oid, digest_by_name(digest))


def test_parameters_present_are_malformed() -> None:
    """An ML-DSA AlgorithmIdentifier with (NULL) parameters breaks RFC 9882."""
    identifier = algos.SignedDigestAlgorithm.load(bytes.fromhex("300d06096086480165030403120500"))
    with pytest.raises(MalformedCMSError):
        scheme_from_algorithm_identifier(_identifier(identifier), digest_by_name("sha512"))


def test_classical_oids_are_left_to_the_classical_schemes() -> None:
    """post_quantum_scheme answers None for what is not a NIST post-quantum signature."""
    assert post_quantum_scheme("1.2.840.113549.1.1.11", digest_by_name("sha256")) is None


def _identifier(algorithm: algos.SignedDigestAlgorithm) -> AlgorithmIdentifier:
    """The reader's AlgorithmIdentifier for an asn1crypto one (as a SignerInfo holds it)."""
    return Cursor(algorithm.dump()).algorithm("signatureAlgorithm")

"""Post-quantum identities of the demo PKI: certificates as RFC 9881 / RFC 9935 require."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import mldsa, mlkem
from cryptography.x509.oid import ExtendedKeyUsageOID
from pyhanko_certvalidator import CertificateValidator, ValidationContext

from smimecore.demo.pki import DemoPKI
from smimecore.demo.run import run_demo
from smimecore.pki.keys import load_private_key
from tests.conftest import PASSPHRASE

SIGNING = {
    "mldsa44": mldsa.MLDSA44PublicKey,
    "mldsa65": mldsa.MLDSA65PublicKey,
    "mldsa87": mldsa.MLDSA87PublicKey,
}
ENCRYPTION = {"mlkem768": mlkem.MLKEM768PublicKey, "mlkem1024": mlkem.MLKEM1024PublicKey}


@pytest.fixture(scope="module", params=["rsa2048", "mldsa65"])
def root(request: pytest.FixtureRequest) -> DemoPKI:
    """A classical and a post-quantum root CA."""
    return DemoPKI(f"Test {request.param} Root", kind=request.param)


def _asn1(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


def _validates(root: DemoPKI, certificate: x509.Certificate, usage: set[str]) -> bool:
    """pyhanko-certvalidator (the trust layer's validator) accepts the path for ``usage``."""
    context = ValidationContext(trust_roots=[_asn1(root.root)])
    validator = CertificateValidator(_asn1(certificate), validation_context=context)
    path = asyncio.run(validator.async_validate_usage(usage, {"email_protection"}))
    return len(path) == 2


def _usages(key_usage: x509.KeyUsage) -> set[str]:
    names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment")
    names += ("key_agreement", "key_cert_sign", "crl_sign")
    return {name for name in names if getattr(key_usage, name)}


@pytest.mark.parametrize(
    ("kind", "public_key_type", "usages"),
    [(kind, key, {"digital_signature", "content_commitment"}) for kind, key in SIGNING.items()]
    + [(kind, key, {"key_encipherment"}) for kind, key in ENCRYPTION.items()],
)
def test_post_quantum_identities(
    root: DemoPKI, kind: str, public_key_type: type, usages: set[str]
) -> None:
    """ML-DSA certificates sign (digitalSignature, nonRepudiation); ML-KEM ones only encipher
    keys (RFC 9935); both are S/MIME certificates the CA signed, with a valid path."""
    certificate = root.issue(f"{kind}@pq.example", kind).certificate
    assert isinstance(certificate.public_key(), public_key_type)
    assert _usages(certificate.extensions.get_extension_for_class(x509.KeyUsage).value) == usages
    eku = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in eku
    certificate.verify_directly_issued_by(root.root)
    purpose = "key_encipherment" if "key_encipherment" in usages else "digital_signature"
    assert _validates(root, certificate, {purpose})


def test_ml_dsa_root_is_self_signed_with_ml_dsa() -> None:
    """An ML-DSA root signs its own certificate with ML-DSA (no separate digest)."""
    pki = DemoPKI(kind="mldsa87")
    assert pki.root.signature_algorithm_oid.dotted_string == "2.16.840.1.101.3.4.3.19"
    assert pki.root.signature_hash_algorithm is None
    pki.root.verify_directly_issued_by(pki.root)


def test_ml_kem_cannot_be_a_root() -> None:
    """A KEM key cannot sign certificates."""
    with pytest.raises(ValueError, match="cannot sign"):
        DemoPKI(kind="mlkem768")


def test_classical_identities_keep_their_key_usage(root: DemoPKI) -> None:
    """RSA keeps keyEncipherment, EC keyAgreement: the existing identities are unchanged."""
    rsa_usage = root.issue("r@x.example", "rsa2048").certificate.extensions
    ec_usage = root.issue("e@x.example", "p256").certificate.extensions
    rsa_ku = rsa_usage.get_extension_for_class(x509.KeyUsage).value
    ec_ku = ec_usage.get_extension_for_class(x509.KeyUsage).value
    assert rsa_ku.digital_signature and rsa_ku.key_encipherment and not rsa_ku.key_agreement
    assert ec_ku.digital_signature and ec_ku.key_agreement and not ec_ku.key_encipherment


@pytest.mark.parametrize("passphrase", [None, PASSPHRASE])
def test_keyring_files_load_back(tmp_path: Path, root: DemoPKI, passphrase: str | None) -> None:
    """write_keyring's PQC files hold the certificate and a key the key loader reads back."""
    identities = [root.issue(f"{kind}@pq.example", kind) for kind in ("mldsa65", "mlkem768")]
    root.write_keyring(tmp_path, identities, passphrase=passphrase)
    for identity in identities:
        data = (tmp_path / f"{identity.address}.pem").read_bytes()
        assert x509.load_pem_x509_certificate(data) == identity.certificate
        key = load_private_key(data, passphrase, source=identity.address)
        assert key.private_bytes_raw() == identity.key.private_bytes_raw()  # type: ignore[union-attr]


def test_demo_includes_the_post_quantum_round_trip(capsys: pytest.CaptureFixture[str]) -> None:
    """``smimecore demo`` signs with ML-DSA-65 and encrypts with ML-KEM-768, and succeeds."""
    assert run_demo() == 0
    output = capsys.readouterr().out
    assert '"KeyEncryption": "ml-kem-768+hkdf-sha256+aes256-wrap"' in output
    assert '"SignatureAlgorithm": "ml_dsa_65"' in output
    assert "demo: every step behaved as expected" in output

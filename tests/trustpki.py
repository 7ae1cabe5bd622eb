"""Throwaway PKIs for the trust tests, made with ``cryptography``.

:class:`TestCA` issues CA and e-mail certificates with whatever defect a test
needs (expired, not yet valid, wrong EKU, no keyUsage, SHA-1, RSA-1024, a
forged signature) and CRLs.  :func:`build_trust_pki` makes the standard
set: a root, an intermediate under it, leaves under the intermediate, and an
unrelated root.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from asn1crypto import algos as asn1_algos
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["Issued", "TestCA", "TrustPKI", "build_trust_pki", "der", "pem"]

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
NOW = datetime.now(UTC)
CRL_URL = "http://127.0.0.1:9/intermediate.crl"
"""A CRL distribution point nobody answers on (port 9 is "discard")."""

SIGNING_USAGE = {"digital_signature": True, "content_commitment": True}
ENCRYPTION_USAGE = {"key_encipherment": True}


def pem(item: x509.Certificate | x509.CertificateRevocationList) -> bytes:
    """The PEM encoding of a certificate or CRL."""
    return item.public_bytes(serialization.Encoding.PEM)


def der(item: x509.Certificate | x509.CertificateRevocationList) -> bytes:
    """The DER encoding of a certificate or CRL."""
    return item.public_bytes(serialization.Encoding.DER)


def ec_key() -> PrivateKey:
    """A fresh P-256 key (fast to make)."""
    return ec.generate_private_key(ec.SECP256R1())


def rsa_key(bits: int = 2048) -> PrivateKey:
    """A fresh RSA key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _key_usage(**flags: bool) -> x509.KeyUsage:
    names = (
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    )
    return x509.KeyUsage(**{name: flags.get(name, False) for name in names})


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key."""

    certificate: x509.Certificate
    key: PrivateKey = field(repr=False)


@dataclass
class TestCA:
    """A CA that issues certificates and CRLs (``issuer`` ``None`` = self-signed root)."""

    name: str
    key: PrivateKey = field(repr=False)
    certificate: x509.Certificate = field(init=False)
    issuer: TestCA | None = None
    organisation: str = "smimecore trust tests"

    __test__ = False  # not a pytest class

    def __post_init__(self) -> None:
        signer = self.issuer or self
        builder = (
            base_builder(self.subject, signer.subject, self.key, NOW - timedelta(days=30))
            .not_valid_after(NOW + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False
            )
        )
        self.certificate = builder.sign(signer.key, hashes.SHA256())

    @property
    def subject(self) -> x509.Name:
        """The CA's distinguished name."""
        return x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.organisation),
                x509.NameAttribute(NameOID.COMMON_NAME, self.name),
            ]
        )

    def sub_ca(self, name: str, key: PrivateKey | None = None) -> TestCA:
        """An intermediate CA issued by this one."""
        return TestCA(name, key or ec_key(), issuer=self, organisation=self.organisation)

    def issue(
        self,
        address: str,
        *,
        key: PrivateKey | None = None,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        key_usage: dict[str, bool] | None = SIGNING_USAGE,
        extended_key_usage: list[x509.ObjectIdentifier] | None = None,
        algorithm: hashes.SHA256 | hashes.SHA1 | None = None,
        crl_url: str | None = None,
        signing_key: PrivateKey | None = None,
    ) -> Issued:
        """An e-mail certificate; ``None`` for an extension leaves it out.

        ``signing_key`` signs with another key than the CA's (a forged
        certificate that names this CA as issuer).
        """
        key = key or ec_key()
        start = not_before or NOW - timedelta(days=1)
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, address.split("@")[0]),
                x509.NameAttribute(NameOID.EMAIL_ADDRESS, address),
            ]
        )
        builder = (
            base_builder(subject, self.subject, key, start)
            .not_valid_after(not_after or start + timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(address)]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
        )
        if key_usage is not None:
            builder = builder.add_extension(_key_usage(**key_usage), critical=True)
        usages = (
            [ExtendedKeyUsageOID.EMAIL_PROTECTION]
            if extended_key_usage is None
            else extended_key_usage
        )
        if usages:
            builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        if crl_url is not None:
            point = x509.DistributionPoint(
                [x509.UniformResourceIdentifier(crl_url)], None, None, None
            )
            builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
        signer = signing_key or self.key
        if isinstance(algorithm, hashes.SHA1):
            return Issued(_sign_with_sha1(builder.sign(signer, hashes.SHA256()), signer), key)
        return Issued(builder.sign(signer, hashes.SHA256()), key)

    def crl(
        self,
        revoked: Sequence[x509.Certificate] = (),
        *,
        this_update: datetime | None = None,
        next_update: datetime | None = None,
    ) -> x509.CertificateRevocationList:
        """A CRL revoking ``revoked`` (default: issued an hour ago, next update in a week)."""
        this_update = this_update or NOW - timedelta(hours=1)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.subject)
            .last_update(this_update)
            .next_update(next_update or NOW + timedelta(days=7))
            .add_extension(x509.CRLNumber(1), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
        )
        for certificate in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(certificate.serial_number)
                .revocation_date(this_update - timedelta(minutes=5))
                .build()
            )
        return builder.sign(self.key, hashes.SHA256())


def _sign_with_sha1(certificate: x509.Certificate, signer: PrivateKey) -> x509.Certificate:
    """Re-sign ``certificate`` with SHA-1 (cryptography refuses to build SHA-1 certificates)."""
    parsed = asn1_x509.Certificate.load(der(certificate))
    if isinstance(signer, ec.EllipticCurvePrivateKey):
        name = "sha1_ecdsa"
    else:
        name = "sha1_rsa"
    algorithm = asn1_algos.SignedDigestAlgorithm({"algorithm": name})
    tbs = parsed["tbs_certificate"].copy()
    tbs["signature"] = algorithm
    data = tbs.dump(force=True)
    if isinstance(signer, ec.EllipticCurvePrivateKey):
        signature = signer.sign(data, ec.ECDSA(hashes.SHA1()))  # noqa: S303 - on purpose
    else:
        signature = signer.sign(data, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303
    resigned = asn1_x509.Certificate(
        {"tbs_certificate": tbs, "signature_algorithm": algorithm, "signature_value": signature}
    )
    return x509.load_der_x509_certificate(resigned.dump())


def base_builder(
    subject: x509.Name, issuer: x509.Name, key: PrivateKey, not_before: datetime
) -> x509.CertificateBuilder:
    """A certificate builder with subject, issuer, key, a random serial and notBefore set."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
    )


def self_signed(
    name: x509.Name, address: str, *, key: PrivateKey | None = None, days: int = 30
) -> tuple[x509.Certificate, PrivateKey]:
    """A self-signed certificate naming ``address`` (SAN rfc822Name): what anyone can make."""
    key = key or ec_key()
    now = datetime.now(UTC)
    certificate = (
        base_builder(name, name, key, now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(address)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return certificate, key


@dataclass
class TrustPKI:
    """The standard set of the trust tests (see :func:`build_trust_pki`)."""

    root: TestCA
    intermediate: TestCA
    other_root: TestCA
    weak_root: TestCA
    leaves: dict[str, Issued]

    def chain(self, name: str) -> tuple[x509.Certificate, list[x509.Certificate]]:
        """A leaf and the intermediates a message would carry with it."""
        return self.leaves[name].certificate, [self.intermediate.certificate]


def build_trust_pki() -> TrustPKI:
    """Root (RSA-2048) → intermediate (P-256) → leaves, plus an unrelated and an RSA-1024 root.

    Leaves: ``good``, ``encryption`` (keyEncipherment only), ``no-key-usage``,
    ``expired``, ``not-yet-valid``, ``server-only`` (EKU serverAuth),
    ``any-eku``, ``revoked``, ``crl-declared`` (names an unreachable CRL),
    ``sha1``, ``rsa1024`` (a 1024-bit leaf key), ``forged`` (names the
    intermediate, signed by another key), ``stranger`` (from the unrelated
    root) and ``weak-ca`` (from the RSA-1024 root).
    """
    root = TestCA("Trust Test Root", rsa_key())
    intermediate = root.sub_ca("Trust Test Intermediate")
    other_root = TestCA("Trust Test Root", ec_key(), organisation="somebody else")
    weak_root = TestCA("Weak Root", rsa_key(1024))
    issue = intermediate.issue
    leaves = {
        "good": issue("good@trust.test"),
        "encryption": issue("enc@trust.test", key=rsa_key(), key_usage=ENCRYPTION_USAGE),
        "no-key-usage": issue("noku@trust.test", key_usage=None),
        "expired": issue(
            "expired@trust.test",
            not_before=NOW - timedelta(days=20),
            not_after=NOW - timedelta(days=10),
        ),
        "not-yet-valid": issue("future@trust.test", not_before=NOW + timedelta(days=10)),
        "server-only": issue(
            "server@trust.test", extended_key_usage=[ExtendedKeyUsageOID.SERVER_AUTH]
        ),
        "any-eku": issue(
            "any@trust.test", extended_key_usage=[x509.ObjectIdentifier("2.5.29.37.0")]
        ),
        "revoked": issue("revoked@trust.test"),
        "crl-declared": issue("declared@trust.test", crl_url=CRL_URL),
        "sha1": issue("sha1@trust.test", algorithm=hashes.SHA1()),  # noqa: S303 - under test
        "rsa1024": issue("small@trust.test", key=rsa_key(1024)),
        "forged": issue("forged@trust.test", signing_key=ec_key()),
        "stranger": other_root.issue("stranger@trust.test"),
        "weak-ca": weak_root.issue("weakca@trust.test"),
    }
    return TrustPKI(root, intermediate, other_root, weak_root, leaves)

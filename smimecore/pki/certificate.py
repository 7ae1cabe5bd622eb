"""Certificate loading and the identity facts RT reports about a certificate.

RT describes a certificate by its subject and issuer (formatted the way
Perl's ``Email::Address`` formats a mailbox), its decimal serial number and
its validity as Unix timestamps.  The e-mail address is taken as RFC 5750
says: rfc822Name SubjectAltName first, then the subject ``emailAddress``,
then a common name that looks like an address.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from smimecore.errors import MalformedCMSError, first_line
from smimecore.lazy import cached_property
from smimecore.pki.der import TAG_INTEGER, TAG_SEQUENCE, Cursor
from smimecore.pki.keys import PQC_KEY_OIDS, UNSUPPORTED_KEY_OIDS
from smimecore.pki.pem import find_pem_blocks

__all__ = [
    "CertificateIdentity",
    "PerCertificate",
    "certificate_key",
    "format_mailbox",
    "identity_of",
    "issuer_and_serial",
    "key_algorithm_name",
    "load_certificates",
    "load_der_certificate",
    "parse_problem",
    "subject_key_identifier",
]

_ADDRESS_LIKE = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+$")


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Every certificate in ``data``: PEM blocks (text around them allowed) or one DER one."""
    blocks = [block for block in find_pem_blocks(data) if block.label in _CERTIFICATE_LABELS]
    if not blocks and b"-----BEGIN" not in data:
        return [_load_der(data)]
    return [_load_der(block.der()) for block in blocks]


_CERTIFICATE_LABELS = frozenset({"CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE"})


def _load_der(der: bytes) -> x509.Certificate:
    return load_der_certificate(der)


def load_der_certificate(der: bytes) -> x509.Certificate:
    """One DER certificate, its subject and issuer names checked now.

    ``cryptography`` parses names lazily; a broken one would otherwise
    surface as a bare ``ValueError`` wherever the name is first read.
    Loaded certificates (immutable) are kept in a bounded cache: the same
    signer's certificate arrives with every message it signs.
    """
    return _load_der_certificate(bytes(der))


@functools.lru_cache(maxsize=1024)
def _load_der_certificate(der: bytes) -> x509.Certificate:
    try:
        certificate = x509.load_der_x509_certificate(der)
        _ = certificate.subject, certificate.issuer
    except (ValueError, TypeError, x509.InvalidVersion) as exc:
        # TypeError: a name attribute of a type cryptography refuses (a BIT STRING emailAddress)
        raise MalformedCMSError(f"not an X.509 certificate: {parse_problem(exc)}") from None
    # Extensions are parsed lazily too, and are read all over (SAN, SKI, basic constraints):
    # a duplicate or malformed one is refused here, once, rather than wherever it is first read.
    try:
        _ = certificate.extensions
    except x509.DuplicateExtension as exc:
        raise MalformedCMSError(
            f"not a valid X.509 certificate: extension {exc.oid.dotted_string} appears twice"
        ) from None
    except (ValueError, x509.UnsupportedGeneralNameType) as exc:
        raise MalformedCMSError(
            f"not a valid X.509 certificate: an extension is malformed: {parse_problem(exc)}"
        ) from None
    return certificate


_RUST_PARSE_ERROR = re.compile(
    r"ParseError \{ kind: (?P<kind>\w+).*?(?:location: \[(?P<location>[^\]]*)\])? \}$"
)
_PARSE_PROBLEMS = {
    "UnexpectedTag": "an unexpected ASN.1 element",
    "ShortData": "the data is truncated",
    "ExtraData": "data follows its end",
    "InvalidLength": "an invalid length",
    "InvalidValue": "an invalid value",
    "InvalidTag": "an invalid tag",
    "IntegerOverflow": "an integer that is too large",
    "OidTooLong": "an object identifier that is too long",
    "EncodedDefault": "a DEFAULT value encoded",
    "InvalidSetOrdering": "a SET out of order",
    "UnknownDefinedBy": "unknown algorithm parameters",
}


def parse_problem(error: Exception) -> str:
    """A short reason for a ``cryptography`` parse error, without the Rust parser's internals.

    ``ParseError { kind: UnexpectedTag {...}, location: ["Certificate::tbs_cert"] }``
    becomes ``an unexpected ASN.1 element (at tbs_cert)``; other messages
    are kept (their first line).
    """
    text = first_line(error)
    found = _RUST_PARSE_ERROR.search(text)
    if found is None:
        return text
    problem = _PARSE_PROBLEMS.get(found["kind"], "malformed ASN.1")
    location = found["location"]
    if location:
        fields = [part.strip().strip('"').rsplit("::", 1)[-1] for part in location.split(",")]
        problem += f" (at {'.'.join(fields)})"
    return problem


def subject_key_identifier(certificate: x509.Certificate) -> bytes:
    """The certificate's subjectKeyIdentifier, or the RFC 5280 SHA-1 method's value if absent."""
    try:
        return certificate.extensions.get_extension_for_class(
            x509.SubjectKeyIdentifier
        ).value.digest
    except x509.ExtensionNotFound:
        pass
    except (x509.DuplicateExtension, x509.UnsupportedGeneralNameType, ValueError):
        return b""  # unreadable extensions (a certificate not loaded here) match no identifier
    try:
        return x509.SubjectKeyIdentifier.from_public_key(certificate.public_key()).digest
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return b""  # a key cryptography cannot read matches no key identifier


def issuer_and_serial(certificate: x509.Certificate) -> tuple[bytes, bytes]:
    """The DER of the certificate's issuer Name and serialNumber INTEGER, exactly as encoded.

    Read from the certificate's own encoding (nothing is re-encoded, and no
    public key is parsed): what an IssuerAndSerialNumber (RFC 5652) or an
    ESS IssuerSerial (RFC 5035) names the certificate by.
    """
    return _issuer_and_serial(certificate.public_bytes(Encoding.DER))


@functools.lru_cache(maxsize=1024)
def _issuer_and_serial(der: bytes) -> tuple[bytes, bytes]:
    cursor = Cursor(der)
    cursor.enter(TAG_SEQUENCE, "Certificate")
    cursor.enter(TAG_SEQUENCE, "TBSCertificate")
    if cursor.peek() == _EXPLICIT_VERSION:
        cursor.element("TBSCertificate.version")
    serial = cursor.element("TBSCertificate.serialNumber", TAG_INTEGER)
    cursor.element("TBSCertificate.signature", TAG_SEQUENCE)
    issuer = cursor.element("TBSCertificate.issuer", TAG_SEQUENCE)
    return issuer, serial


_EXPLICIT_VERSION = 0xA0

# Names of the public-key algorithms without a size or curve, by dotted OID.
_KEY_ALGORITHM_NAMES = {
    "1.3.101.110": "X25519",
    "1.3.101.111": "X448",
    "1.3.101.112": "Ed25519",
    "1.3.101.113": "Ed448",
    **{oid: key_type.name for oid, key_type in PQC_KEY_OIDS.items()},
    **{oid: name for oid, (name, _) in UNSUPPORTED_KEY_OIDS.items()},
}
_EC_CURVE_NAMES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}


def key_algorithm_name(certificate: x509.Certificate) -> str:
    """The certificate's public-key algorithm: ``RSA-2048``, ``EC P-256``, ``Ed25519``,
    ``ML-DSA-65``, ``ML-KEM-768``... (the dotted OID when it has no name here).

    Read from the algorithm identifier and, for RSA, DSA and EC, the key; a
    key ``cryptography`` cannot load (ML-KEM-512) is still named.
    """
    oid = certificate.public_key_algorithm_oid.dotted_string
    named = _KEY_ALGORITHM_NAMES.get(oid)
    if named is not None:
        return named
    try:
        key = certificate.public_key()
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return oid
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA-{key.key_size}"
    if isinstance(key, dsa.DSAPublicKey):
        return f"DSA-{key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {_EC_CURVE_NAMES.get(key.curve.name, key.curve.name)}"
    return oid


def format_mailbox(name: str | None, address: str | None) -> str | None:
    """Format a mailbox as Perl's ``Email::Address->format`` does: ``"Name" <addr>``.

    The phrase is always double-quoted (unless it is an RFC 2047 encoded
    word), with inner quotes and backslashes escaped.  Without an address
    the name alone is returned; with neither, ``None``.
    """
    if not address:
        return name or None
    if not name:
        return address
    if name.startswith("=?") and name.endswith("?="):
        return f"{name} <{address}>"
    if len(name) >= 2 and name.startswith('"') and name.endswith('"'):
        name = name[1:-1]
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}" <{address}>'


def _first_attribute(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    for attribute in name.get_attributes_for_oid(oid):
        text = _attribute_text(attribute.value)
        if text:
            return text
    return None


def _attribute_text(value: str | bytes) -> str:
    """A name attribute's value as text (a BIT STRING value is bytes; not UTF-8 is replaced)."""
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _san_addresses(certificate: x509.Certificate) -> list[str]:
    """The SAN rfc822Names; none when the extension is absent or unreadable.

    Certificates loaded here had their extensions checked; one built
    elsewhere (an ``x509.Certificate`` given to the API) may not have.
    """
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (
        x509.ExtensionNotFound,
        x509.DuplicateExtension,
        x509.UnsupportedGeneralNameType,
        ValueError,
    ):
        return []
    return list(san.get_values_for_type(x509.RFC822Name))


@dataclass(frozen=True)
class CertificateIdentity:
    """What RT says about a certificate: who it names, who issued it, serial, validity."""

    certificate: x509.Certificate

    @cached_property
    def email(self) -> str | None:
        """The e-mail address by RFC 5750 order: SAN, emailAddress, then an address-like CN."""
        addresses = _san_addresses(self.certificate)
        if addresses:
            return addresses[0]
        subject = self.certificate.subject
        email = _first_attribute(subject, NameOID.EMAIL_ADDRESS)
        if email:
            return email
        common_name = _first_attribute(subject, NameOID.COMMON_NAME)
        if common_name and _ADDRESS_LIKE.match(common_name):
            return common_name
        return None

    @cached_property
    def addresses(self) -> frozenset[str]:
        """Every address the certificate names (SAN rfc822Names, emailAddress), lowercased."""
        found = {address.lower() for address in _san_addresses(self.certificate)}
        for attribute in self.certificate.subject.get_attributes_for_oid(NameOID.EMAIL_ADDRESS):
            found.add(_attribute_text(attribute.value).lower())
        return frozenset(found)

    @cached_property
    def own_addresses(self) -> tuple[str, ...]:
        """The addresses the certificate names, sorted; its RFC 5750 address when it names none."""
        if self.addresses:
            return tuple(sorted(self.addresses))
        return (self.email,) if self.email else ()

    @cached_property
    def user_string(self) -> str:
        """RT's ``UserString``: ``"CN" <email>``, or the e-mail, or the CN, or ``""``."""
        common_name = _first_attribute(self.certificate.subject, NameOID.COMMON_NAME)
        return format_mailbox(common_name, self.email) or ""

    @cached_property
    def issuer_string(self) -> str:
        """RT's ``Issuer``: the issuer's CN and emailAddress formatted as a mailbox."""
        issuer = self.certificate.issuer
        return (
            format_mailbox(
                _first_attribute(issuer, NameOID.COMMON_NAME),
                _first_attribute(issuer, NameOID.EMAIL_ADDRESS),
            )
            or ""
        )

    @cached_property
    def serial(self) -> str:
        """The serial number in decimal, as RT reports it."""
        return str(self.certificate.serial_number)

    @cached_property
    def created_timestamp(self) -> str:
        """notBefore as Unix epoch seconds (a decimal string, as in RT's records)."""
        return str(int(self.certificate.not_valid_before_utc.timestamp()))

    @cached_property
    def expire_timestamp(self) -> str:
        """notAfter as Unix epoch seconds (a decimal string, as in RT's records)."""
        return str(int(self.certificate.not_valid_after_utc.timestamp()))

    @property
    def fingerprint(self) -> str:
        """Lowercase hex SHA-1 of the DER encoding, without separators (RT's ``Fingerprint``)."""
        return self.certificate.fingerprint(hashes.SHA1()).hex()  # noqa: S303 - an identifier, not a signature

    @property
    def version(self) -> str:
        """RT's ``Version``: ``"3 (0x2)"`` for v3, ``"1 (0x0)"`` for v1."""
        raw = self.certificate.version.value
        return f"{raw + 1} (0x{raw:x})"

    def subject_parts(self) -> dict[str, str | None]:
        """RT's ``User`` entry: first C, ST, O, OU and CN of the subject, e-mail, and String."""
        subject = self.certificate.subject
        return {
            "Country": _first_attribute(subject, NameOID.COUNTRY_NAME),
            "StateOrProvince": _first_attribute(subject, NameOID.STATE_OR_PROVINCE_NAME),
            "Organization": _first_attribute(subject, NameOID.ORGANIZATION_NAME),
            "OrganizationUnit": _first_attribute(subject, NameOID.ORGANIZATIONAL_UNIT_NAME),
            "Name": _first_attribute(subject, NameOID.COMMON_NAME),
            "EmailAddress": self.email,
            "String": self.user_string or None,
        }

    def issuer_parts(self) -> dict[str, str | None]:
        """RT's ``Issuer`` entry: first C, ST, O and CN of the issuer, its emailAddress, String."""
        issuer = self.certificate.issuer
        return {
            "Country": _first_attribute(issuer, NameOID.COUNTRY_NAME),
            "StateOrProvince": _first_attribute(issuer, NameOID.STATE_OR_PROVINCE_NAME),
            "Organization": _first_attribute(issuer, NameOID.ORGANIZATION_NAME),
            "Name": _first_attribute(issuer, NameOID.COMMON_NAME),
            "EmailAddress": _first_attribute(issuer, NameOID.EMAIL_ADDRESS),
            "String": self.issuer_string or None,
        }

    def pem(self) -> str:
        """RT's ``Content``: the DER re-encoded as PEM with 76-column lines."""
        encoded = base64.b64encode(self.certificate.public_bytes(Encoding.DER)).decode("ascii")
        lines = [encoded[i : i + 76] for i in range(0, len(encoded), 76)]
        return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


_T = TypeVar("_T")


class PerCertificate(Generic[_T]):
    """Values worked out from a certificate, remembered for that certificate object.

    Looked up by the object's identity (hashing a certificate costs more than
    a dictionary lookup should); the certificate is kept with its value, so
    its id cannot be reused while remembered.  Bounded: forgotten all at once.
    """

    def __init__(self, compute: Callable[[x509.Certificate], _T], size: int = 1024) -> None:
        self._compute = compute
        self._size = size
        self._values: dict[int, tuple[x509.Certificate, _T]] = {}

    def __call__(self, certificate: x509.Certificate) -> _T:
        """The value for ``certificate``, worked out on first use."""
        found = self._values.get(id(certificate))
        if found is not None and found[0] is certificate:
            return found[1]
        value = self._compute(certificate)
        if len(self._values) >= self._size:
            self._values.clear()
        self._values[id(certificate)] = (certificate, value)
        return value


identity_of = PerCertificate(CertificateIdentity)
"""The (cached) :class:`CertificateIdentity` of a certificate: its facts are computed once."""

certificate_key = PerCertificate(lambda certificate: certificate.public_bytes(Encoding.DER))
"""A certificate's DER, one ``bytes`` object per certificate object: a dictionary key that
hashes once (a certificate hashes and compares its DER on every call)."""

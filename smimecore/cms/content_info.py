"""ContentInfo (RFC 5652 section 3) and the small structures several CMS types share.

Every CMS reader starts with :func:`open_content_info` and ends with
:func:`close_content_info`, so the outer layers (and the rule that nothing
follows the ContentInfo) are read in one place.
"""

from __future__ import annotations

from typing import NamedTuple

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509

from smimecore.errors import MalformedCMSError
from smimecore.pki.certificate import PerCertificate, subject_key_identifier
from smimecore.pki.der import (
    DEFAULT_LIMITS,
    TAG_OCTET_STRING,
    TAG_SEQUENCE,
    Bytes,
    Cursor,
    ReaderLimits,
    new_record,
)

__all__ = [
    "AUTH_ENVELOPED_DATA_OID",
    "COMPRESSED_DATA_OID",
    "DATA_OID",
    "ENVELOPED_DATA_OID",
    "SIGNED_DATA_OID",
    "CertificateIdentifier",
    "close_content_info",
    "content_type_name",
    "open_content_info",
    "parse_content_info",
    "read_encapsulated",
    "read_identifier",
    "read_issuer_and_serial",
    "same_name",
]

DATA_OID = "1.2.840.113549.1.7.1"
SIGNED_DATA_OID = "1.2.840.113549.1.7.2"
ENVELOPED_DATA_OID = "1.2.840.113549.1.7.3"
AUTH_ENVELOPED_DATA_OID = "1.2.840.113549.1.9.16.1.23"
COMPRESSED_DATA_OID = "1.2.840.113549.1.9.16.1.9"

_EXPLICIT_0 = 0xA0


def content_type_name(oid: str) -> str:
    """asn1crypto's name for a content type (``data``, ``signed_data``...), else the OID."""
    return str(cms.ContentType.map(oid))


def open_content_info(
    data: Bytes, wanted: dict[str, str] | None, limits: ReaderLimits = DEFAULT_LIMITS
) -> tuple[str, Cursor]:
    """A cursor on the content of the ContentInfo ``data``, and its content type.

    ``wanted`` maps the content types the caller reads to their names (for
    the error raised on any other type); ``None`` takes any type.
    """
    cursor = Cursor(data, limits)
    cursor.enter(TAG_SEQUENCE, "ContentInfo")
    content_type = cursor.oid("ContentInfo.contentType")
    if wanted is not None and content_type not in wanted:
        raise MalformedCMSError(
            f"expected CMS {' or '.join(wanted.values())}, found {content_type_name(content_type)}"
        )
    cursor.enter(_EXPLICIT_0, "ContentInfo.content")
    return content_type, cursor


def parse_content_info(
    data: Bytes, limits: ReaderLimits = DEFAULT_LIMITS
) -> tuple[str, memoryview]:
    """The content type of the ContentInfo ``data`` and the encoding of its content."""
    content_type, cursor = open_content_info(data, None, limits)
    first = cursor.pos
    cursor.head("ContentInfo.content")
    content = cursor.view[first : cursor.pos]
    close_content_info(cursor)
    return content_type, content


def close_content_info(cursor: Cursor) -> None:
    """After the content: the [0] and the ContentInfo end, and nothing follows them."""
    cursor.leave("ContentInfo.content")
    cursor.leave("ContentInfo")
    cursor.finish("ContentInfo")


def read_encapsulated(cursor: Cursor, what: str) -> tuple[str, bytes | memoryview | None]:
    """EncapsulatedContentInfo: the content type, and the content (a view) if present.

    The content is ``[0] EXPLICIT OCTET STRING``; PKCS #7 v1.5 allowed any
    type there for content types other than id-data (Authenticode does it),
    whose contents octets are then the content.
    """
    cursor.enter(TAG_SEQUENCE, what)
    content_type = cursor.oid(what, ".eContentType")
    content: bytes | memoryview | None = None
    if cursor.more():
        field = f"{what}.eContent"
        cursor.enter(_EXPLICIT_0, field)
        if content_type == DATA_OID or cursor.peek() in (TAG_OCTET_STRING, TAG_OCTET_STRING | 0x20):
            content = cursor.octets_view(field)
        else:
            start, stop = cursor.head(field)[1:]
            content = cursor.view[start:stop]
        cursor.leave(field)
    cursor.leave(what)
    return content_type, content


def read_issuer_and_serial(cursor: Cursor, what: str) -> CertificateIdentifier:
    """IssuerAndSerialNumber: the issuer Name's encoding and the serial number."""
    cursor.enter(TAG_SEQUENCE, what)
    issuer = cursor.element(what, TAG_SEQUENCE, ".issuer")
    serial = cursor.integer(what, ".serialNumber")
    cursor.leave(what)
    return new_record(CertificateIdentifier, (issuer, serial, None))


_KEY_IDENTIFIER_TAGS = (0x80, 0xA0)  # [0] IMPLICIT SubjectKeyIdentifier (BER: constructed)


def read_identifier(cursor: Cursor, what: str) -> CertificateIdentifier:
    """A SignerIdentifier or a ktri's RecipientIdentifier: issuerAndSerialNumber, or
    ``[0]`` IMPLICIT SubjectKeyIdentifier."""
    if cursor.peek() in _KEY_IDENTIFIER_TAGS:
        return CertificateIdentifier(subject_key_identifier=cursor.octets(what, 0x80))
    return read_issuer_and_serial(cursor, what)


def _issuer_and_serial(certificate: x509.Certificate) -> tuple[bytes, int]:
    return certificate.issuer.public_bytes(), certificate.serial_number


_issuer_serial = PerCertificate(_issuer_and_serial)
_key_identifier = PerCertificate(subject_key_identifier)


class CertificateIdentifier(NamedTuple):
    """How CMS names a certificate (a SignerInfo's sid, a RecipientInfo's rid): issuer and
    serial number, or subjectKeyIdentifier."""

    issuer_der: bytes | None = None
    serial: int | None = None
    subject_key_identifier: bytes | None = None

    def matches(self, certificate: x509.Certificate) -> bool:
        """Whether ``certificate`` is the one named (issuers compared as RFC 5280 says)."""
        if self.subject_key_identifier is not None:
            return _key_identifier(certificate) == self.subject_key_identifier
        issuer, serial = _issuer_serial(certificate)
        if self.issuer_der is None or serial != self.serial:
            return False
        return issuer == self.issuer_der or same_name(issuer, self.issuer_der)

    @property
    def issuer(self) -> str | None:
        """The issuer in a human-friendly form (for display)."""
        if self.issuer_der is None:
            return None
        try:
            return str(asn1_x509.Name.load(self.issuer_der).human_friendly)
        except (ValueError, TypeError, KeyError, AttributeError):
            return None

    def __str__(self) -> str:
        if self.subject_key_identifier is not None:
            return f"subjectKeyIdentifier {self.subject_key_identifier.hex()}"
        return f"issuer {self.issuer!r} serial {self.serial}"


def same_name(first: bytes, second: bytes) -> bool:
    """RFC 5280 name comparison (case and space folding) of two DER Names."""
    try:
        return bool(asn1_x509.Name.load(first).hashable == asn1_x509.Name.load(second).hashable)
    except (ValueError, TypeError, KeyError, AttributeError):
        return False

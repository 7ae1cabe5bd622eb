"""CMS attributes (RFC 5652 section 11, RFC 8551 section 2.5, RFC 5035): reading and writing.

:func:`read_attributes` reads any SET OF Attribute (signed, unsigned,
authenticated, unprotected) into an :class:`Attributes`.  smimecore writes
contentType, signingTime, messageDigest, smimeCapabilities and the ESS
signingCertificateV2 attribute.

The attributes that stay the same for a signer (contentType,
smimeCapabilities, signingCertificateV2) are built with asn1crypto once
per signer; the two that change with every message (messageDigest,
signingTime) are small fixed shapes written directly, and the SET OF is
sorted as DER requires.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any, NamedTuple

from asn1crypto import cms, core, tsp
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from smimecore.errors import MalformedCMSError
from smimecore.pki.certificate import issuer_and_serial
from smimecore.pki.der import TAG_OCTET_STRING, TAG_SEQUENCE, TAG_SET, Cursor, encode_tlv

__all__ = [
    "CONTENT_TYPE",
    "COUNTERSIGNATURE",
    "MESSAGE_DIGEST",
    "SIGNING_TIME",
    "SMIME_CAPABILITIES",
    "Attributes",
    "constant_signed_attributes",
    "message_digest_attribute",
    "read_attributes",
    "read_signing_time",
    "signed_attributes_set",
    "signing_time_attribute",
]

# Tie asn1crypto's ESS classes into the attribute table (importing tsp registers them), so
# that a received signingCertificateV2 is re-encoded as DER by its definition.
_ = tsp.SigningCertificateV2

SMIME_CAPABILITIES: tuple[str, ...] = ("aes256_cbc", "aes192_cbc", "aes128_cbc")
"""Content-encryption algorithms advertised in smimeCapabilities, strongest first."""

_UTC_TIME_LIMIT = datetime(2050, 1, 1, tzinfo=UTC)
_MESSAGE_DIGEST_OID = core.ObjectIdentifier("1.2.840.113549.1.9.4").dump()
_SIGNING_TIME_OID = core.ObjectIdentifier("1.2.840.113549.1.9.5").dump()
_TAG_UTC_TIME = 0x17
_TAG_GENERALIZED_TIME = 0x18


def constant_signed_attributes(signer_certificate: x509.Certificate) -> list[bytes]:
    """DER of the attributes that do not change between messages of one signer.

    The certificate is read as DER only (never through asn1crypto's key
    parsing, which fails on ML-DSA and ML-KEM keys).
    """
    attributes: list[dict[str, Any]] = [
        {"type": "content_type", "values": ["data"]},
        {
            "type": "smime_capabilities",
            "values": [[{"capability_id": name} for name in SMIME_CAPABILITIES]],
        },
    ]
    encoded = [bytes(cms.CMSAttribute(attribute).dump()) for attribute in attributes]
    return [*encoded, _signing_certificate_v2(signer_certificate)]


def message_digest_attribute(digest: bytes) -> bytes:
    """DER of the messageDigest attribute holding ``digest``."""
    value = encode_tlv(TAG_OCTET_STRING, digest)
    return encode_tlv(TAG_SEQUENCE, _MESSAGE_DIGEST_OID, encode_tlv(TAG_SET, value))


def signing_time_attribute(moment: datetime) -> bytes:
    """DER of signingTime: UTCTime before 2050, GeneralizedTime from then on (section 11.3)."""
    moment = moment.astimezone(UTC)
    fields = (moment.month, moment.day, moment.hour, moment.minute, moment.second)
    if moment < _UTC_TIME_LIMIT:
        value = encode_tlv(
            _TAG_UTC_TIME, b"%02d%02d%02d%02d%02d%02dZ" % (moment.year % 100, *fields)
        )
    else:
        value = encode_tlv(
            _TAG_GENERALIZED_TIME, b"%04d%02d%02d%02d%02d%02dZ" % (moment.year, *fields)
        )
    return encode_tlv(TAG_SEQUENCE, _SIGNING_TIME_OID, encode_tlv(TAG_SET, value))


def read_signing_time(value: bytes) -> datetime | None:
    """The moment in a signingTime value (DER UTCTime or GeneralizedTime); ``None`` if unreadable.

    The DER forms (``YYMMDDHHMMSSZ``, ``YYYYMMDDHHMMSSZ``) are read
    directly; anything else (offsets, fractions) goes through asn1crypto.
    """
    text = value[2:]
    try:
        if value[1:2] == bytes((len(text),)) and text.endswith(b"Z") and text[:-1].isdigit():
            if value[0] == _TAG_UTC_TIME and len(text) == 13:
                year = int(text[:2])
                return _utc(1900 + year if year >= 50 else 2000 + year, text[2:12])
            if value[0] == _TAG_GENERALIZED_TIME and len(text) == 15:
                return _utc(int(text[:4]), text[4:14])
        parsed = cms.Time.load(value).native
    except (ValueError, TypeError):
        return None
    return parsed if isinstance(parsed, datetime) else None


def _utc(year: int, rest: bytes) -> datetime:
    """``rest`` is MMDDHHMMSS."""
    month, day, hour, minute, second = (
        int(rest[0:2]),
        int(rest[2:4]),
        int(rest[4:6]),
        int(rest[6:8]),
        int(rest[8:10]),
    )
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def signed_attributes_set(attributes: list[bytes]) -> bytes:
    """The SET OF attributes in DER order: this exact encoding is what gets signed."""
    return encode_tlv(TAG_SET, *sorted(attributes))


def _signing_certificate_v2(certificate: x509.Certificate) -> bytes:
    """The ESS signingCertificateV2 attribute (RFC 5035) naming ``certificate``.

    SigningCertificateV2 { certs SEQUENCE OF ESSCertIDv2 { certHash (SHA-256,
    the DEFAULT hashAlgorithm, so absent), issuerSerial { issuer GeneralNames
    { [4] directoryName }, serialNumber } } }, written from the certificate's
    own encodings.
    """
    issuer, serial = issuer_and_serial(certificate)
    cert_hash = hashlib.sha256(certificate.public_bytes(Encoding.DER)).digest()
    issuer_serial = encode_tlv(
        TAG_SEQUENCE, encode_tlv(TAG_SEQUENCE, encode_tlv(_DIRECTORY_NAME, issuer)), serial
    )
    cert_id = encode_tlv(TAG_SEQUENCE, encode_tlv(TAG_OCTET_STRING, cert_hash), issuer_serial)
    value = encode_tlv(TAG_SEQUENCE, encode_tlv(TAG_SEQUENCE, cert_id))
    return encode_tlv(TAG_SEQUENCE, _SIGNING_CERTIFICATE_V2_OID, encode_tlv(TAG_SET, value))


_DIRECTORY_NAME = 0xA4  # GeneralName directoryName: [4] EXPLICIT Name
_SIGNING_CERTIFICATE_V2_OID = core.ObjectIdentifier("1.2.840.113549.1.9.16.2.47").dump()


CONTENT_TYPE = "1.2.840.113549.1.9.3"
MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
SIGNING_TIME = "1.2.840.113549.1.9.5"
COUNTERSIGNATURE = "1.2.840.113549.1.9.6"
_NAMES = {
    CONTENT_TYPE: "content_type",
    MESSAGE_DIGEST: "message_digest",
    SIGNING_TIME: "signing_time",
    COUNTERSIGNATURE: "counter_signature",
}


class Attributes(NamedTuple):
    """A SET OF Attribute as received.

    ``encoding`` is the whole element, its ``[n]`` IMPLICIT tag included;
    ``values`` maps each attribute type (dotted OID) to the encodings of the
    values of each of its occurrences, in the order received.
    """

    encoding: bytes
    values: dict[str, list[tuple[bytes, ...]]]

    def single(self, oid: str, kind: str = "signed") -> bytes | None:
        """The encoding of the only value of attribute ``oid`` (``None`` when absent)."""
        found = self.values.get(oid)
        if not found:
            return None
        if len(found) > 1 or len(found[0]) != 1:
            raise MalformedCMSError(
                f"the {_NAMES.get(oid, oid)} {kind} attribute must have exactly one value"
            )
        return found[0][0]

    def signing_time(self) -> datetime | None:
        """The signingTime attribute, if there is exactly one well-formed one."""
        try:
            value = self.single(SIGNING_TIME)
        except MalformedCMSError:
            return None
        return read_signing_time(value) if value is not None else None

    def as_set(self) -> bytes:
        """The encoding received, tagged SET OF (what a signature or MAC covers)."""
        return bytes((TAG_SET,)) + self.encoding[1:]

    def other_encoding(self) -> bytes | None:
        """What a signer may have signed instead of :meth:`as_set`: its DER, when that differs
        (``None`` otherwise).

        Made only when asked (asn1crypto's forced dump costs milliseconds): when the
        received bytes did not verify.
        """
        received = self.as_set()
        der = _reencoded(received)
        return der if der is not None and der != received else None

    def der(self) -> bytes:
        """The DER of the SET OF (what an AuthEnvelopedData MAC covers, RFC 5083 section 2.2):
        the encoding received, unless it has an indefinite length."""
        received = self.as_set()
        if received[1] != 0x80:
            return received
        der = _reencoded(received)
        if der is None:
            raise MalformedCMSError("the attributes cannot be re-encoded as DER")
        return der


def _reencoded(encoding: bytes) -> bytes | None:
    """asn1crypto's DER re-encoding of a SET OF Attribute, or ``None`` if it cannot make one."""
    try:
        return bytes(cms.CMSAttributes.load(encoding).dump(force=True))
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def read_attributes(cursor: Cursor, tag: int, what: str) -> Attributes:
    """The SET SIZE (1..MAX) OF Attribute at the cursor, implicitly tagged ``tag``."""
    start = cursor.pos
    attribute = f"{what} Attribute"
    found: dict[str, list[tuple[bytes, ...]]] = {}
    cursor.enter(tag, what)
    while cursor.pos < cursor.end:
        oid, values = cursor.attribute(attribute)
        occurrences = found.get(oid)
        if occurrences is None:
            found[oid] = [values]
        else:
            occurrences.append(values)
    cursor.leave(what)
    if not found:
        raise MalformedCMSError(f"{what}: empty (at least one attribute is required)")
    return Attributes(bytes(cursor.data[start : cursor.pos]), found)

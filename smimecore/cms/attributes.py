"""Signed attributes (RFC 5652 section 11, RFC 8551 section 2.5, RFC 5035).

smimecore writes contentType, signingTime, messageDigest,
smimeCapabilities and the ESS signingCertificateV2 attribute.

The attributes that stay the same for a signer (contentType,
smimeCapabilities, signingCertificateV2) are built with asn1crypto once
per signer; the two that change with every message (messageDigest,
signingTime) are small fixed shapes written directly, and the SET OF is
sorted as DER requires.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from asn1crypto import cms, core, tsp
from asn1crypto import x509 as asn1_x509

from smimecore.pki.der import TAG_OCTET_STRING, TAG_SEQUENCE, TAG_SET, encode_tlv

__all__ = [
    "SMIME_CAPABILITIES",
    "constant_signed_attributes",
    "message_digest_attribute",
    "read_signing_time",
    "signed_attributes_set",
    "signing_time_attribute",
]

# Tie asn1crypto's ESS classes into the attribute table (importing tsp registers them).
_ = tsp.SigningCertificateV2

SMIME_CAPABILITIES: tuple[str, ...] = ("aes256_cbc", "aes192_cbc", "aes128_cbc")
"""Content-encryption algorithms advertised in smimeCapabilities, strongest first."""

_UTC_TIME_LIMIT = datetime(2050, 1, 1, tzinfo=UTC)
_MESSAGE_DIGEST_OID = core.ObjectIdentifier("1.2.840.113549.1.9.4").dump()
_SIGNING_TIME_OID = core.ObjectIdentifier("1.2.840.113549.1.9.5").dump()
_TAG_UTC_TIME = 0x17
_TAG_GENERALIZED_TIME = 0x18


def constant_signed_attributes(signer_certificate: asn1_x509.Certificate) -> list[bytes]:
    """DER of the attributes that do not change between messages of one signer."""
    attributes: list[dict[str, Any]] = [
        {"type": "content_type", "values": ["data"]},
        {
            "type": "smime_capabilities",
            "values": [[{"capability_id": name} for name in SMIME_CAPABILITIES]],
        },
        {
            "type": "signing_certificate_v2",
            "values": [{"certs": [_ess_cert_id_v2(signer_certificate)]}],
        },
    ]
    return [bytes(cms.CMSAttribute(attribute).dump()) for attribute in attributes]


def message_digest_attribute(digest: bytes) -> bytes:
    """DER of the messageDigest attribute holding ``digest``."""
    value = encode_tlv(TAG_OCTET_STRING, digest)
    return encode_tlv(TAG_SEQUENCE, _MESSAGE_DIGEST_OID, encode_tlv(TAG_SET, value))


def signing_time_attribute(moment: datetime) -> bytes:
    """DER of signingTime: UTCTime before 2050, GeneralizedTime from then on (section 11.3)."""
    moment = moment.astimezone(UTC)
    if moment < _UTC_TIME_LIMIT:
        value = encode_tlv(_TAG_UTC_TIME, moment.strftime("%y%m%d%H%M%SZ").encode("ascii"))
    else:
        value = encode_tlv(_TAG_GENERALIZED_TIME, moment.strftime("%Y%m%d%H%M%SZ").encode("ascii"))
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
    month, day, hour, minute, second = (int(rest[i : i + 2]) for i in range(0, 10, 2))
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def signed_attributes_set(attributes: list[bytes]) -> bytes:
    """The SET OF attributes in DER order: this exact encoding is what gets signed."""
    return encode_tlv(TAG_SET, *sorted(attributes))


def _ess_cert_id_v2(certificate: asn1_x509.Certificate) -> dict[str, Any]:
    return {
        "cert_hash": hashlib.sha256(certificate.dump()).digest(),
        "issuer_serial": {
            "issuer": [asn1_x509.GeneralName({"directory_name": certificate.issuer})],
            "serial_number": certificate.serial_number,
        },
    }

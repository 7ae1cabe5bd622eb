"""Signed attributes (RFC 5652 section 11, RFC 8551 section 2.5, RFC 5035).

smimecore writes contentType, signingTime, messageDigest,
smimeCapabilities and the ESS signingCertificateV2 attribute.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from asn1crypto import cms, tsp
from asn1crypto import x509 as asn1_x509

__all__ = ["SMIME_CAPABILITIES", "build_signed_attributes", "cms_time"]

# Tie asn1crypto's ESS classes into the attribute table (importing tsp registers them).
_ = tsp.SigningCertificateV2

SMIME_CAPABILITIES: tuple[str, ...] = ("aes256_cbc", "aes192_cbc", "aes128_cbc")
"""Content-encryption algorithms advertised in smimeCapabilities, strongest first."""

_UTC_TIME_LIMIT = datetime(2050, 1, 1, tzinfo=UTC)


def cms_time(moment: datetime) -> cms.Time:
    """A CMS Time: UTCTime before 2050, GeneralizedTime from then on (RFC 5652 section 11.3)."""
    if moment < _UTC_TIME_LIMIT:
        return cms.Time({"utc_time": moment})
    return cms.Time({"general_time": moment})


def build_signed_attributes(
    *,
    content_type: str,
    message_digest: bytes,
    signer_certificate: asn1_x509.Certificate,
    signing_time: datetime,
) -> cms.CMSAttributes:
    """The signed attributes for one SignerInfo, DER-sorted as a SET OF must be."""
    attributes: list[dict[str, Any]] = [
        {"type": "content_type", "values": [content_type]},
        {"type": "signing_time", "values": [cms_time(signing_time)]},
        {"type": "message_digest", "values": [message_digest]},
        {
            "type": "smime_capabilities",
            "values": [[{"capability_id": name} for name in SMIME_CAPABILITIES]],
        },
        {
            "type": "signing_certificate_v2",
            "values": [{"certs": [_ess_cert_id_v2(signer_certificate)]}],
        },
    ]
    return cms.CMSAttributes(attributes)


def _ess_cert_id_v2(certificate: asn1_x509.Certificate) -> dict[str, Any]:
    return {
        "cert_hash": hashlib.sha256(certificate.dump()).digest(),
        "issuer_serial": {
            "issuer": [asn1_x509.GeneralName({"directory_name": certificate.issuer})],
            "serial_number": certificate.serial_number,
        },
    }

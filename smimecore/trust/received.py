"""asn1crypto certificates and CRLs for pyhanko-certvalidator that dump the bytes they came from.

asn1crypto 1.5.1 takes a definite long-form length whose last octet is
``0x80`` (contents of 384, 640, 896... octets: ``30 82 03 80``) for an
indefinite length, and then re-encodes the whole object each time it is
dumped.  Re-encoding is not neutral: a subjectUniqueID bit string
``05 20`` comes back as ``00 20`` (asn1crypto types it as an
OctetBitString), and the re-encoded children replace the parsed ones, so
the issuer's signature over the tbsCertificate no longer verifies and the
fingerprint changes (PKITS 4.3.6, UIDCACert).  pyhanko dumps certificates
to index and fingerprint them, so every asn1crypto object the trust layer
hands it is loaded with these classes.
"""

from __future__ import annotations

from typing import Any

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509

__all__ = ["ReceivedCertificate", "ReceivedCertificateList"]


def _as_received(value: Any) -> bytes | None:
    """The bytes ``value`` was loaded from, unless it changed or really is indefinite-length."""
    header: bytes | None = value._header
    # A SEQUENCE's tag is one octet: the next one is the first length octet, which is 0x80
    # only for the indefinite form (a long form starts 0x81..0x84).
    if header is None or header[1:2] == b"\x80" or value._is_mutated():
        return None
    return bytes(header + value.contents + value._trailer)


class ReceivedCertificate(asn1_x509.Certificate):  # type: ignore[misc]
    """An asn1crypto ``Certificate`` that dumps exactly as received unless changed."""

    def dump(self, force: bool = False) -> bytes:
        """The DER received (asn1crypto's re-encoding only when forced or changed)."""
        received = None if force else _as_received(self)
        return received if received is not None else bytes(super().dump(force))


class ReceivedCertificateList(asn1_crl.CertificateList):  # type: ignore[misc]
    """An asn1crypto ``CertificateList`` (CRL) that dumps exactly as received unless changed."""

    def dump(self, force: bool = False) -> bytes:
        """The DER received (asn1crypto's re-encoding only when forced or changed)."""
        received = None if force else _as_received(self)
        return received if received is not None else bytes(super().dump(force))

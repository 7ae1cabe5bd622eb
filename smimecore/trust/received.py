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

Their names (issuer, subject) are :class:`ReceivedName`: pyhanko compares
and indexes the same few names about a dozen times per validation, and
asn1crypto works out their normalised form (RFC 4518 string preparation
of every attribute) each time; a received name works it out once.
"""

from __future__ import annotations

from typing import Any, ClassVar

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509

from smimecore.lazy import cached_property

__all__ = ["ReceivedCertificate", "ReceivedCertificateList", "ReceivedName"]

_RDNKey = tuple[int, frozenset[tuple[str, str]]]


def _as_received(value: Any) -> bytes | None:
    """The bytes ``value`` was loaded from, unless it changed or really is indefinite-length."""
    header: bytes | None = value._header
    # A SEQUENCE's tag is one octet: the next one is the first length octet, which is 0x80
    # only for the indefinite form (a long form starts 0x81..0x84).
    if header is None or header[1:2] == b"\x80" or value._is_mutated():
        return None
    return bytes(header + value.contents + value._trailer)


class ReceivedName(asn1_x509.Name):  # type: ignore[misc]
    """An asn1crypto ``Name`` that prepares its attributes for comparison once.

    It compares and hashes (``hashable``) exactly as asn1crypto's (RFC 5280, section 7.1),
    from values kept on the object: it is read, never changed, once received.
    """

    __hash__ = asn1_x509.Name.__hash__

    @cached_property
    def hashable(self) -> str:
        """asn1crypto's normalised form of the name, worked out on first use."""
        text: str = self.chosen.hashable
        return text

    @cached_property
    def _comparison_key(self) -> tuple[_RDNKey, ...]:
        # What asn1crypto's RDNSequence and RelativeDistinguishedName equality compare: the
        # number of attributes of each RDN, and its prepared value for each attribute type.
        return tuple(_rdn_key(rdn) for rdn in self.chosen)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ReceivedName):
            return self._comparison_key == other._comparison_key
        equal: bool = super().__eq__(other)
        return equal


def _rdn_key(rdn: asn1_x509.RelativeDistinguishedName) -> _RDNKey:
    values = {attribute["type"].native: attribute.prepped_value for attribute in rdn}
    return len(rdn), frozenset(values.items())


def _with_received_names(fields: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """An asn1crypto ``_fields`` list with every ``Name`` field read as a :class:`ReceivedName`."""
    return [
        (name, ReceivedName if spec is asn1_x509.Name else spec, *rest)
        for name, spec, *rest in fields
    ]


class _ReceivedTbsCertificate(asn1_x509.TbsCertificate):  # type: ignore[misc]
    _fields = _with_received_names(asn1_x509.TbsCertificate._fields)


class _ReceivedTbsCertList(asn1_crl.TbsCertList):  # type: ignore[misc]
    _fields = _with_received_names(asn1_crl.TbsCertList._fields)


class ReceivedCertificate(asn1_x509.Certificate):  # type: ignore[misc]
    """An asn1crypto ``Certificate`` that dumps exactly as received unless changed; its
    issuer and subject are :class:`ReceivedName`."""

    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("tbs_certificate", _ReceivedTbsCertificate),
        *asn1_x509.Certificate._fields[1:],
    ]

    def dump(self, force: bool = False) -> bytes:
        """The DER received (asn1crypto's re-encoding only when forced or changed)."""
        received = None if force else _as_received(self)
        return received if received is not None else bytes(super().dump(force))


class ReceivedCertificateList(asn1_crl.CertificateList):  # type: ignore[misc]
    """An asn1crypto ``CertificateList`` (CRL) that dumps exactly as received unless changed;
    its issuer is a :class:`ReceivedName`."""

    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("tbs_cert_list", _ReceivedTbsCertList),
        *asn1_crl.CertificateList._fields[1:],
    ]

    def dump(self, force: bool = False) -> bytes:
        """The DER received (asn1crypto's re-encoding only when forced or changed)."""
        received = None if force else _as_received(self)
        return received if received is not None else bytes(super().dump(force))

"""CMS SignedData (RFC 5652 section 5): building, parsing, checking each signer.

Checking a signer answers two questions, kept apart as in pyHanko and
MimeKit: is the content the one that was signed (``intact``), and does the
signature verify under the signer certificate's key (``valid``).  Whether
that certificate is trusted is the trust layer's question, not this one's.

Signed attributes are checked over the bytes received; only when those are
not DER (BER with indefinite lengths) is the DER re-encoding tried, since
the signer signed DER.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from asn1crypto import cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from smimecore.algorithms.digests import DigestAlgorithm, digest_by_name
from smimecore.algorithms.signatures import (
    SignatureScheme,
    SigningKey,
    scheme_for_key,
    scheme_from_algorithm_identifier,
)
from smimecore.cms.attributes import (
    constant_signed_attributes,
    message_digest_attribute,
    signed_attributes_set,
    signing_time_attribute,
)
from smimecore.errors import (
    CertificateNotFoundError,
    MalformedCMSError,
    SmimeError,
    UnsupportedAlgorithmError,
    first_line,
)
from smimecore.pki.certificate import load_der_certificate, subject_key_identifier
from smimecore.pki.der import TAG_OCTET_STRING, TAG_SEQUENCE, TAG_SET, Reader, encode_tlv

__all__ = [
    "SignedData",
    "SignerCheck",
    "SigningIdentity",
    "build_signed_data",
    "parse_signed_data",
]


@dataclass(frozen=True)
class SigningIdentity:
    """A private key with its certificate and the chain certificates sent along with it."""

    key: SigningKey = field(repr=False)
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()

    def __repr__(self) -> str:
        return f"SigningIdentity(certificate={self.certificate.subject.rfc4514_string()!r})"


def _to_asn1(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(Encoding.DER))


def build_signed_data(
    content: bytes,
    identity: SigningIdentity,
    *,
    digest: DigestAlgorithm,
    detached: bool,
    pss: bool = False,
    use_subject_key_identifier: bool = False,
    extra_certificates: Iterable[x509.Certificate] = (),
    signing_time: datetime | None = None,
) -> bytes:
    """A DER ContentInfo holding a SignedData over ``content`` with one SignerInfo.

    ``content`` must already be in canonical form (CRLF line endings for
    MIME).  The certificate set holds the signer's certificate, its chain
    and ``extra_certificates``, each once, in DER order.
    """
    template = _signer_template(
        identity, tuple(extra_certificates), digest, pss, use_subject_key_identifier
    )
    attributes = signed_attributes_set(
        [
            *template.constant_attributes,
            message_digest_attribute(template.scheme.digest.digest(content)),
            signing_time_attribute(signing_time or datetime.now(UTC)),
        ]
    )
    signature = template.scheme.sign(identity.key, attributes)
    signer_info = encode_tlv(
        TAG_SEQUENCE,
        template.version,
        template.signer_identifier,
        template.digest_algorithm,
        _retag_implicit_0(attributes),
        template.signature_algorithm,
        encode_tlv(TAG_OCTET_STRING, signature),
    )
    encapsulated = (
        encode_tlv(TAG_SEQUENCE, _DATA_OID)
        if detached
        else encode_tlv(
            TAG_SEQUENCE, _DATA_OID, encode_tlv(_EXPLICIT_0, encode_tlv(TAG_OCTET_STRING, content))
        )
    )
    signed_data = encode_tlv(
        TAG_SEQUENCE,
        template.version,
        template.digest_algorithms,
        encapsulated,
        template.certificates,
        encode_tlv(TAG_SET, signer_info),
    )
    return encode_tlv(TAG_SEQUENCE, _SIGNED_DATA_OID, encode_tlv(_EXPLICIT_0, signed_data))


_IMPLICIT_0 = 0xA0
_EXPLICIT_0 = 0xA0
_DATA_OID = core.ObjectIdentifier("1.2.840.113549.1.7.1").dump()
_SIGNED_DATA_OID = core.ObjectIdentifier("1.2.840.113549.1.7.2").dump()


def _retag_implicit_0(der_set: bytes) -> bytes:
    """The same encoding with its SET tag replaced by [0] IMPLICIT (SignerInfo.signedAttrs)."""
    return bytes((_IMPLICIT_0,)) + der_set[1:]


@dataclass(frozen=True)
class _SignerTemplate:
    """The DER pieces of a SignedData that stay the same for one signer's messages."""

    scheme: SignatureScheme
    version: bytes
    signer_identifier: bytes
    digest_algorithm: bytes
    digest_algorithms: bytes
    signature_algorithm: bytes
    certificates: bytes
    constant_attributes: tuple[bytes, ...]


_TemplateKey = tuple[object, ...]
_TEMPLATES: dict[_TemplateKey, _SignerTemplate] = {}
_TEMPLATES_LOCK = threading.Lock()
_MAX_TEMPLATES = 256


def _signer_template(
    identity: SigningIdentity,
    extra_certificates: tuple[x509.Certificate, ...],
    digest: DigestAlgorithm,
    pss: bool,
    use_subject_key_identifier: bool,
) -> _SignerTemplate:
    key = (
        identity.certificate,
        identity.chain,
        extra_certificates,
        digest.name,
        pss,
        use_subject_key_identifier,
        type(identity.key),
    )
    template = _TEMPLATES.get(key)
    if template is None:
        template = _build_template(
            identity, extra_certificates, digest, pss, use_subject_key_identifier
        )
        with _TEMPLATES_LOCK:
            if len(_TEMPLATES) >= _MAX_TEMPLATES:
                _TEMPLATES.pop(next(iter(_TEMPLATES)))
            _TEMPLATES[key] = template
    return template


def _build_template(
    identity: SigningIdentity,
    extra_certificates: tuple[x509.Certificate, ...],
    digest: DigestAlgorithm,
    pss: bool,
    use_subject_key_identifier: bool,
) -> _SignerTemplate:
    scheme = scheme_for_key(identity.key, digest, pss=pss)
    signer_certificate = _to_asn1(identity.certificate)
    digest_algorithm = cms.DigestAlgorithm({"algorithm": scheme.digest.name})
    certificates = _unique_certificates(
        [identity.certificate, *identity.chain, *extra_certificates]
    )
    certificate_set = cms.CertificateSet(
        [cms.CertificateChoices.load(cert.public_bytes(Encoding.DER)) for cert in certificates]
    )
    return _SignerTemplate(
        scheme=scheme,
        version=core.Integer(3 if use_subject_key_identifier else 1).dump(),
        signer_identifier=_signer_identifier(
            identity.certificate, signer_certificate, use_subject_key_identifier
        ).dump(),
        digest_algorithm=digest_algorithm.dump(),
        digest_algorithms=encode_tlv(TAG_SET, digest_algorithm.dump()),
        signature_algorithm=cms.SignedDigestAlgorithm(scheme.algorithm_identifier()).dump(),
        certificates=_retag_implicit_0(certificate_set.dump()),
        constant_attributes=tuple(constant_signed_attributes(signer_certificate)),
    )


def _signer_identifier(
    certificate: x509.Certificate,
    asn1_certificate: asn1_x509.Certificate,
    use_subject_key_identifier: bool,
) -> cms.SignerIdentifier:
    if use_subject_key_identifier:
        return cms.SignerIdentifier({"subject_key_identifier": subject_key_identifier(certificate)})
    return cms.SignerIdentifier(
        {
            "issuer_and_serial_number": {
                "issuer": asn1_certificate.issuer,
                "serial_number": asn1_certificate.serial_number,
            }
        }
    )


def _unique_certificates(certificates: Iterable[x509.Certificate]) -> list[x509.Certificate]:
    seen: dict[bytes, x509.Certificate] = {}
    for certificate in certificates:
        seen.setdefault(certificate.public_bytes(Encoding.DER), certificate)
    return list(seen.values())


@dataclass(frozen=True)
class SignerCheck:
    """The outcome of checking one SignerInfo.

    ``intact``: the messageDigest attribute (or the signature itself, when
    there are no signed attributes) matches the content.  ``valid``: the
    signature verifies under ``certificate``'s key.  ``error`` is set when
    the signer could not be checked at all (unknown algorithm, no
    certificate); then both flags are false.  ``content_index`` says which
    of the candidate contents matched.
    """

    index: int
    certificate: x509.Certificate | None
    digest: DigestAlgorithm | None
    scheme: SignatureScheme | None
    intact: bool
    valid: bool
    signing_time: datetime | None = None
    content_index: int = 0
    error: SmimeError | None = None

    @property
    def ok(self) -> bool:
        """Both intact and valid."""
        return self.intact and self.valid and self.error is None

    @property
    def weak_algorithms(self) -> tuple[str, ...]:
        """Names of weak algorithms this signer used (SHA-1), for reporting."""
        found = []
        for digest in (self.digest, self.scheme.digest if self.scheme else None):
            if digest is not None and digest.weak and digest.name not in found:
                found.append(digest.name)
        return tuple(found)


ContentSource = Callable[[int], bytes | None]
"""Gives candidate content number ``i`` (0 = as received), or ``None`` when there are no more."""


@dataclass(frozen=True)
class SignedData:
    """A parsed SignedData: encapsulated content, certificates, CRLs and signers."""

    content_type: str
    content_type_oid: str
    content: bytes | None
    certificates: tuple[x509.Certificate, ...]
    crls: tuple[bytes, ...]
    signer_infos: tuple[cms.SignerInfo, ...] = field(repr=False)
    digest_algorithms: frozenset[str] | None = None
    """The dotted OIDs of the SignedData's digestAlgorithms SET (``None``: not checked)."""
    unreadable_certificates: tuple[asn1_x509.Certificate, ...] = field(default=(), repr=False)
    """Certificates in the message that ``cryptography`` cannot load (DSA keys that
    inherit their parameters, for one); kept to name them when they sign."""

    @property
    def is_detached(self) -> bool:
        """Whether the content is not encapsulated (it travels beside the signature)."""
        return self.content is None

    def check_signers(
        self,
        contents: ContentSource,
        known_certificates: Callable[[], Iterable[x509.Certificate]] = tuple,
    ) -> list[SignerCheck]:
        """Check every SignerInfo against the content.

        ``contents(i)`` supplies candidate contents lazily (the bytes as
        received first, then a canonicalised form); ``known_certificates``
        is asked only when a signer's certificate is not in the message.
        """
        return [
            self._check_signer(index, signer_info, contents, known_certificates)
            for index, signer_info in enumerate(self.signer_infos)
        ]

    def _check_signer(
        self,
        index: int,
        signer_info: cms.SignerInfo,
        contents: ContentSource,
        known_certificates: Callable[[], Iterable[x509.Certificate]],
    ) -> SignerCheck:
        certificate: x509.Certificate | None = None
        digest: DigestAlgorithm | None = None
        scheme: SignatureScheme | None = None
        try:
            certificate = self._find_signer_certificate(signer_info, known_certificates)
            digest = self._signer_digest(signer_info)
            scheme = scheme_from_algorithm_identifier(signer_info["signature_algorithm"], digest)
            public_key = _public_key(certificate)
            signed_attributes = signer_info["signed_attrs"]
            signature = signer_info["signature"].native
            if isinstance(signed_attributes, core.Void):
                _check_attribute_placement(None, signer_info["unsigned_attrs"])
                return self._check_without_attributes(
                    index, certificate, digest, scheme, public_key, signature, contents
                )
            attributes = _AttributeIndex.of(signed_attributes)
            _check_attribute_placement(attributes, signer_info["unsigned_attrs"])
            content_index, intact = _match_message_digest(
                attributes, digest, contents, self.content_type_oid
            )
            valid = any(
                scheme.verify(public_key, signature, encoding)
                for encoding in _signed_attribute_encodings(signed_attributes)
            )
            return SignerCheck(
                index,
                certificate,
                digest,
                scheme,
                intact,
                valid,
                signing_time=attributes.signing_time(),
                content_index=content_index,
            )
        except SmimeError as error:
            return SignerCheck(index, certificate, digest, scheme, False, False, error=error)
        except (ValueError, TypeError, KeyError) as error:
            problem = MalformedCMSError(f"SignerInfo {index + 1} is malformed: {first_line(error)}")
            return SignerCheck(index, certificate, digest, scheme, False, False, error=problem)

    def _check_without_attributes(
        self,
        index: int,
        certificate: x509.Certificate,
        digest: DigestAlgorithm,
        scheme: SignatureScheme,
        public_key: object,
        signature: bytes,
        contents: ContentSource,
    ) -> SignerCheck:
        if self.content_type != "data":
            raise MalformedCMSError("signed attributes are required when the content is not data")
        candidate_index = 0
        while (content := contents(candidate_index)) is not None:
            if scheme.verify(public_key, signature, content):
                return SignerCheck(
                    index, certificate, digest, scheme, True, True, content_index=candidate_index
                )
            candidate_index += 1
        return SignerCheck(index, certificate, digest, scheme, False, False)

    def _signer_digest(self, signer_info: cms.SignerInfo) -> DigestAlgorithm:
        """The SignerInfo's digest, which must also be announced in digestAlgorithms.

        RFC 5652 section 5.1 lets a verifier refuse a digest missing from
        that SET; OpenSSL does, and so do we (an empty SET is the usual case).
        """
        algorithm = signer_info["digest_algorithm"]["algorithm"]
        digest = digest_by_name(algorithm.native)
        if self.digest_algorithms is not None and algorithm.dotted not in self.digest_algorithms:
            raise MalformedCMSError(
                f"the signer's digest algorithm {digest.name} is not listed "
                "in the SignedData digestAlgorithms"
            )
        return digest

    def _find_signer_certificate(
        self,
        signer_info: cms.SignerInfo,
        known_certificates: Callable[[], Iterable[x509.Certificate]],
    ) -> x509.Certificate:
        sid = signer_info["sid"]
        matches = _signer_matcher(sid)
        for certificate in self.certificates:
            if matches(certificate):
                return certificate
        for unreadable in self.unreadable_certificates:
            if _asn1_certificate_matches(sid, unreadable):
                raise _unreadable_signer_error(unreadable)
        for certificate in known_certificates():
            if matches(certificate):
                return certificate
        raise CertificateNotFoundError(
            "the signer's certificate is neither in the message nor in the keyring"
        )


def _public_key(certificate: x509.Certificate) -> object:
    try:
        return certificate.public_key()
    except (ValueError, x509.UnsupportedGeneralNameType) as exc:
        raise UnsupportedAlgorithmError(
            "signer public key",
            f"cannot be used ({exc}; DSA keys with inherited parameters are unsupported)",
        ) from None
    except Exception as exc:  # cryptography raises its own UnsupportedAlgorithm
        raise UnsupportedAlgorithmError("signer public key", f"cannot be used: {exc}") from None


def _signer_matcher(sid: cms.SignerIdentifier) -> Callable[[x509.Certificate], bool]:
    if sid.name == "subject_key_identifier":
        wanted_key_id = sid.chosen.native

        def matches_key_id(certificate: x509.Certificate) -> bool:
            return bool(subject_key_identifier(certificate) == wanted_key_id)

        return matches_key_id
    serial = sid.chosen["serial_number"].native
    issuer = sid.chosen["issuer"]
    issuer_der = issuer.dump()

    def matches_issuer_serial(certificate: x509.Certificate) -> bool:
        if certificate.serial_number != serial:
            return False
        certificate_issuer = certificate.issuer.public_bytes()
        return certificate_issuer == issuer_der or bool(
            asn1_x509.Name.load(certificate_issuer).hashable == issuer.hashable
        )

    return matches_issuer_serial


def _asn1_certificate_matches(
    sid: cms.SignerIdentifier, certificate: asn1_x509.Certificate
) -> bool:
    """The signer-identifier match for a certificate only asn1crypto can read."""
    try:
        if sid.name == "subject_key_identifier":
            return bool(certificate.key_identifier == sid.chosen.native)
        wanted = sid.chosen
        return bool(
            certificate.serial_number == wanted["serial_number"].native
            and certificate.issuer.hashable == wanted["issuer"].hashable
        )
    except (ValueError, TypeError, KeyError):
        return False


def _unreadable_signer_error(certificate: asn1_x509.Certificate) -> UnsupportedAlgorithmError:
    try:
        subject = certificate.subject.human_friendly
    except (ValueError, TypeError, KeyError):
        subject = "(unreadable subject)"
    if _inherits_dsa_parameters(certificate):
        return UnsupportedAlgorithmError(
            "DSA with inherited parameters",
            f"is not supported (the public key of the signer certificate {subject!r} has no "
            "DSA parameters of its own)",
        )
    return UnsupportedAlgorithmError(
        "signer public key", f"cannot be read from the signer certificate {subject!r}"
    )


def _inherits_dsa_parameters(certificate: asn1_x509.Certificate) -> bool:
    try:
        algorithm = certificate.public_key["algorithm"]
        return bool(
            algorithm["algorithm"].native == "dsa" and algorithm["parameters"].native is None
        )
    except (ValueError, TypeError, KeyError):
        return False


_CONTENT_TYPE = "1.2.840.113549.1.9.3"
_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
_SIGNING_TIME = "1.2.840.113549.1.9.5"
_COUNTERSIGNATURE = "1.2.840.113549.1.9.6"
_NAMES = {
    _CONTENT_TYPE: "content_type",
    _MESSAGE_DIGEST: "message_digest",
    _SIGNING_TIME: "signing_time",
    _COUNTERSIGNATURE: "counter_signature",
}


@dataclass(frozen=True)
class _AttributeIndex:
    """The attributes of one SignerInfo, read in one pass over the bytes received.

    ``values`` maps each attribute type (dotted OID) to the DER of the
    values of each occurrence.
    """

    values: dict[str, list[list[bytes]]]

    @classmethod
    def of(cls, attributes: core.Asn1Value) -> _AttributeIndex:
        reader = Reader(attributes.dump())
        found: dict[str, list[list[bytes]]] = {}
        for attribute in reader.children(reader.read(0)):
            parts = reader.child_list(attribute)
            if len(parts) != 2:
                raise MalformedCMSError("a CMS attribute must hold a type and a set of values")
            values = [bytes(reader.element(value)) for value in reader.children(parts[1])]
            found.setdefault(reader.oid(parts[0]), []).append(values)
        return cls(found)

    def single(self, oid: str) -> bytes | None:
        """The DER of the only value of attribute ``oid`` (``None`` when absent)."""
        occurrences = self.values.get(oid)
        if not occurrences:
            return None
        if len(occurrences) > 1 or len(occurrences[0]) != 1:
            raise MalformedCMSError(
                f"the {_NAMES.get(oid, oid)} signed attribute must have exactly one value"
            )
        return occurrences[0][0]

    def signing_time(self) -> datetime | None:
        """The signingTime attribute, if there is exactly one well-formed one."""
        try:
            value = self.single(_SIGNING_TIME)
            moment = cms.Time.load(value).native if value is not None else None
        except (MalformedCMSError, ValueError, TypeError):
            return None
        return moment if isinstance(moment, datetime) else None


def _check_attribute_placement(signed: _AttributeIndex | None, unsigned: core.Asn1Value) -> None:
    """RFC 5652 section 11: contentType, messageDigest and signingTime MUST be
    signed attributes, countersignature MUST NOT be one (OpenSSL checks the same)."""
    if signed is not None and _COUNTERSIGNATURE in signed.values:
        raise MalformedCMSError("the counter_signature attribute must not be a signed attribute")
    if isinstance(unsigned, core.Void):
        return
    for oid in _AttributeIndex.of(unsigned).values:
        if oid in (_CONTENT_TYPE, _MESSAGE_DIGEST, _SIGNING_TIME):
            raise MalformedCMSError(
                f"the {_NAMES[oid]} attribute must not be an unsigned attribute"
            )


def _match_message_digest(
    attributes: _AttributeIndex,
    digest: DigestAlgorithm,
    contents: ContentSource,
    content_type_oid: str,
) -> tuple[int, bool]:
    found_content_type = attributes.single(_CONTENT_TYPE)
    if found_content_type is None:
        raise MalformedCMSError("the contentType signed attribute is missing")
    if Reader(found_content_type).oid(Reader(found_content_type).read(0)) != content_type_oid:
        raise MalformedCMSError("the contentType signed attribute does not match the content")
    message_digest = attributes.single(_MESSAGE_DIGEST)
    if message_digest is None:
        raise MalformedCMSError("the messageDigest signed attribute is missing")
    reader = Reader(message_digest)
    element = reader.read(0)
    if not element.is_universal_octet_string:
        raise MalformedCMSError("the messageDigest signed attribute is not an OCTET STRING")
    expected = bytes(reader.octets(element))
    candidate_index = 0
    while (content := contents(candidate_index)) is not None:
        if digest.digest(content) == expected:
            return candidate_index, True
        candidate_index += 1
    return 0, False


def _signed_attribute_encodings(attributes: cms.CMSAttributes) -> Iterator[bytes]:
    """The byte strings a signer may have signed: as received (retagged SET), then DER.

    A generator: the DER re-encoding (asn1crypto's forced dump costs
    milliseconds) is made only when the received bytes did not verify.
    """
    received = bytearray(attributes.dump())
    received[0] = 0x31
    yield bytes(received)
    try:
        der = bytes(attributes.untag().dump(force=True))
    except (ValueError, TypeError):
        return  # attributes asn1crypto cannot re-encode: the received bytes must do
    if der != received:
        yield der


def parse_signed_data(data: bytes) -> SignedData:
    """Parse a DER/BER ContentInfo holding a SignedData.

    Raises :class:`MalformedCMSError` for anything that is not a
    well-formed SignedData, truncated input included.
    """
    try:
        content_info = cms.ContentInfo.load(data, strict=False)
        if content_info["content_type"].native != "signed_data":
            raise MalformedCMSError(
                f"expected CMS signed-data, found {content_info['content_type'].native}"
            )
        signed_data = content_info["content"]
        encapsulated = signed_data["encap_content_info"]
        content_type = encapsulated["content_type"].native
        content_type_oid = encapsulated["content_type"].dotted
        content = _encapsulated_content(encapsulated)
        certificates, unreadable = _certificates(signed_data["certificates"])
        digest_algorithms = frozenset(
            identifier["algorithm"].dotted for identifier in signed_data["digest_algorithms"]
        )
        crls = tuple(
            bytes(choice.chosen.dump())
            for choice in (signed_data["crls"] or [])
            if choice.name == "crl"
        )
        signer_infos = tuple(signed_data["signer_infos"])
    except MalformedCMSError:
        raise
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise MalformedCMSError(f"broken CMS SignedData: {first_line(exc)}") from None
    return SignedData(
        content_type,
        content_type_oid,
        content,
        certificates,
        crls,
        signer_infos,
        digest_algorithms=digest_algorithms,
        unreadable_certificates=unreadable,
    )


def _encapsulated_content(encapsulated: cms.EncapsulatedContentInfo) -> bytes | None:
    content = encapsulated["content"]
    if isinstance(content, core.Void) or content.native is None:
        return None
    if isinstance(content, core.OctetString | core.ParsableOctetString):
        # __bytes__ joins the chunks of a constructed (BER) OCTET STRING;
        # ``contents`` would be the raw chunk encodings.
        return bytes(content.__bytes__())
    return bytes(content.contents)


def _certificates(
    choices: Sequence[cms.CertificateChoices] | None,
) -> tuple[tuple[x509.Certificate, ...], tuple[asn1_x509.Certificate, ...]]:
    """The certificates ``cryptography`` loads, and apart those it cannot.

    An unreadable extra certificate must not hide a readable signer; an
    unreadable signer certificate is reported as such, not as missing.
    """
    found: list[x509.Certificate] = []
    unreadable: list[asn1_x509.Certificate] = []
    for choice in choices or []:
        if choice.name != "certificate":
            continue
        try:
            found.append(load_der_certificate(choice.chosen.dump()))
        except (MalformedCMSError, ValueError):
            unreadable.append(choice.chosen)
    return tuple(found), tuple(unreadable)

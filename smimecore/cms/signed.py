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

import functools
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from asn1crypto import algos, cms, core
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
    read_signing_time,
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
from smimecore.pki.der import (
    CONTEXT,
    TAG_INTEGER,
    TAG_OCTET_STRING,
    TAG_OID,
    TAG_SEQUENCE,
    TAG_SET,
    Reader,
    Tlv,
    UnusualEncodingError,
    decode_oid,
    encode_tlv,
    read_head,
    require_usual,
)

__all__ = [
    "SignedData",
    "SignerCheck",
    "SignerIdentifier",
    "SignerInfo",
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
    content: bytes | Sequence[bytes | bytearray | memoryview],
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
    MIME); it may be given as pieces (a header section and a body), which
    are hashed one after the other and joined only for the opaque form.
    The certificate set holds the signer's certificate, its chain and
    ``extra_certificates``, each once, in DER order.
    """
    pieces = (content,) if isinstance(content, bytes) else tuple(content)
    template = _signer_template(
        identity, tuple(extra_certificates), digest, pss, use_subject_key_identifier
    )
    attributes = signed_attributes_set(
        [
            *template.constant_attributes,
            message_digest_attribute(template.scheme.digest.digest_pieces(pieces)),
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
            TAG_SEQUENCE, _DATA_OID, encode_tlv(_EXPLICIT_0, encode_tlv(TAG_OCTET_STRING, *pieces))
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


@dataclass(frozen=True)
class SignerIdentifier:
    """A SignerInfo's ``sid``: issuer name (DER) and serial number, or a subject key identifier."""

    issuer: bytes | None = None
    serial: int | None = None
    key_identifier: bytes | None = None


@dataclass(frozen=True)
class SignerInfo:
    """One SignerInfo as received (RFC 5652 section 5.3).

    ``signed_attributes`` and ``unsigned_attributes`` are the whole
    encodings received, ``[0]``/``[1]`` tag included; the signature is
    checked over the former retagged as a SET.
    """

    version: int
    signer_id: SignerIdentifier
    digest_algorithm: str
    """The dotted OID of the digestAlgorithm."""
    signed_attributes: bytes | None
    signature_algorithm: bytes
    """The DER of the signatureAlgorithm AlgorithmIdentifier."""
    signature: bytes = field(repr=False)
    unsigned_attributes: bytes | None = None


ContentSource = Callable[[int], bytes | memoryview | None]
"""Gives candidate content number ``i`` (0 = as received), or ``None`` when there are no more."""


@dataclass(frozen=True)
class SignedData:
    """A parsed SignedData: encapsulated content, certificates, CRLs and signers."""

    content_type: str
    content_type_oid: str
    content: bytes | None
    certificates: tuple[x509.Certificate, ...]
    crls: tuple[bytes, ...]
    signer_infos: tuple[SignerInfo, ...] = field(repr=False)
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
        signer_info: SignerInfo,
        contents: ContentSource,
        known_certificates: Callable[[], Iterable[x509.Certificate]],
    ) -> SignerCheck:
        certificate: x509.Certificate | None = None
        digest: DigestAlgorithm | None = None
        scheme: SignatureScheme | None = None
        try:
            certificate = self._find_signer_certificate(signer_info, known_certificates)
            digest = self._signer_digest(signer_info)
            scheme = _scheme(signer_info.signature_algorithm, digest)
            public_key = _public_key(certificate)
            signed_attributes = signer_info.signed_attributes
            signature = signer_info.signature
            if signed_attributes is None:
                _check_attribute_placement(None, signer_info.unsigned_attributes)
                return self._check_without_attributes(
                    index, certificate, digest, scheme, public_key, signature, contents
                )
            attributes = _AttributeIndex.of(signed_attributes)
            _check_attribute_placement(attributes, signer_info.unsigned_attributes)
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

    def _signer_digest(self, signer_info: SignerInfo) -> DigestAlgorithm:
        """The SignerInfo's digest, which must also be announced in digestAlgorithms.

        RFC 5652 section 5.1 lets a verifier refuse a digest missing from
        that SET; OpenSSL does, and so do we (an empty SET is the usual case).
        """
        dotted = signer_info.digest_algorithm
        digest = digest_by_name(algos.DigestAlgorithmId.map(dotted))
        if self.digest_algorithms is not None and dotted not in self.digest_algorithms:
            raise MalformedCMSError(
                f"the signer's digest algorithm {digest.name} is not listed "
                "in the SignedData digestAlgorithms"
            )
        return digest

    def _find_signer_certificate(
        self,
        signer_info: SignerInfo,
        known_certificates: Callable[[], Iterable[x509.Certificate]],
    ) -> x509.Certificate:
        sid = signer_info.signer_id
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


@functools.lru_cache(maxsize=64)
def _scheme(signature_algorithm: bytes, digest: DigestAlgorithm) -> SignatureScheme:
    """The scheme a signatureAlgorithm (DER) names; a handful of distinct values, so cached."""
    try:
        identifier = algos.SignedDigestAlgorithm.load(signature_algorithm)
        identifier.native  # noqa: B018 - parse now, so a broken encoding fails here
    except (ValueError, TypeError) as exc:
        raise MalformedCMSError(f"unreadable signatureAlgorithm: {first_line(exc)}") from None
    return scheme_from_algorithm_identifier(identifier, digest)


def _signer_matcher(sid: SignerIdentifier) -> Callable[[x509.Certificate], bool]:
    if sid.key_identifier is not None:
        wanted_key_id = sid.key_identifier

        def matches_key_id(certificate: x509.Certificate) -> bool:
            return bool(subject_key_identifier(certificate) == wanted_key_id)

        return matches_key_id
    serial = sid.serial
    issuer_der = sid.issuer or b""

    def matches_issuer_serial(certificate: x509.Certificate) -> bool:
        if certificate.serial_number != serial:
            return False
        certificate_issuer = certificate.issuer.public_bytes()
        return certificate_issuer == issuer_der or _same_name(certificate_issuer, issuer_der)

    return matches_issuer_serial


def _same_name(first: bytes, second: bytes) -> bool:
    """RFC 5280 name comparison (case and space folding) of two DER Names."""
    try:
        return bool(asn1_x509.Name.load(first).hashable == asn1_x509.Name.load(second).hashable)
    except (ValueError, TypeError, KeyError):
        return False


def _asn1_certificate_matches(sid: SignerIdentifier, certificate: asn1_x509.Certificate) -> bool:
    """The signer-identifier match for a certificate only asn1crypto can read."""
    try:
        if sid.key_identifier is not None:
            return bool(certificate.key_identifier == sid.key_identifier)
        return bool(
            certificate.serial_number == sid.serial
            and _same_name(certificate.issuer.dump(), sid.issuer or b"")
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
    def of(cls, attributes: bytes) -> _AttributeIndex:
        """Index the attributes of a ``[0]``/``[1]`` IMPLICIT SET OF Attribute encoding."""
        try:
            return cls(_usual_attributes(attributes))
        except UnusualEncodingError:
            pass  # BER, or something odd: the TLV reader decides
        reader = Reader(attributes)
        found: dict[str, list[list[bytes]]] = {}
        for attribute in reader.children(reader.read(0)):
            parts = reader.children(attribute)
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
        except MalformedCMSError:
            return None
        return read_signing_time(value) if value is not None else None


def _usual_attributes(attributes: bytes) -> dict[str, list[list[bytes]]]:
    """:meth:`_AttributeIndex.of` for plain DER, one header read per element."""
    found: dict[str, list[list[bytes]]] = {}
    tag, pos, end = read_head(attributes, 0, len(attributes))
    require_usual(tag & 0x20 != 0)
    while pos < end:
        tag, start, pos = read_head(attributes, pos, end)
        require_usual(tag == TAG_SEQUENCE)
        tag, oid_start, oid_end = read_head(attributes, start, pos)
        require_usual(tag == TAG_OID)
        tag, values_start, values_end = read_head(attributes, oid_end, pos)
        require_usual(tag == TAG_SET and values_end == pos)
        values = [attributes[s:e] for s, e in _usual_elements(attributes, values_start, pos)]
        found.setdefault(decode_oid(attributes[oid_start:oid_end]), []).append(values)
    return found


def _check_attribute_placement(signed: _AttributeIndex | None, unsigned: bytes | None) -> None:
    """RFC 5652 section 11: contentType, messageDigest and signingTime MUST be
    signed attributes, countersignature MUST NOT be one (OpenSSL checks the same)."""
    if signed is not None and _COUNTERSIGNATURE in signed.values:
        raise MalformedCMSError("the counter_signature attribute must not be a signed attribute")
    if unsigned is None:
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
    if found_content_type != _oid_der(content_type_oid) and (
        Reader(found_content_type).oid(Reader(found_content_type).read(0)) != content_type_oid
    ):
        raise MalformedCMSError("the contentType signed attribute does not match the content")
    message_digest = attributes.single(_MESSAGE_DIGEST)
    if message_digest is None:
        raise MalformedCMSError("the messageDigest signed attribute is missing")
    if message_digest[0] == TAG_OCTET_STRING and message_digest[1] == len(message_digest) - 2:
        expected = message_digest[2:]  # the DER of every digest up to 127 bytes
    else:
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


@functools.lru_cache(maxsize=16)
def _oid_der(dotted: str) -> bytes:
    return bytes(core.ObjectIdentifier(dotted).dump())


def _signed_attribute_encodings(attributes: bytes) -> Iterator[bytes]:
    """The byte strings a signer may have signed: as received (retagged SET), then DER.

    A generator: the DER re-encoding (asn1crypto's forced dump costs
    milliseconds) is made only when the received bytes did not verify.
    """
    received = bytes((TAG_SET,)) + attributes[1:]
    yield received
    try:
        der = bytes(cms.CMSAttributes.load(received).dump(force=True))
    except (ValueError, TypeError):
        return  # attributes asn1crypto cannot re-encode: the received bytes must do
    if der != received:
        yield der


def parse_signed_data(data: bytes) -> SignedData:
    """Parse a DER/BER ContentInfo holding a SignedData.

    The structure is walked by hand over the bytes received (asn1crypto's
    lazy objects cost most of a 1 KiB verification); certificates go to
    ``cryptography``.  Raises :class:`MalformedCMSError` for anything that
    is not a well-formed SignedData, truncated input included.
    """
    try:
        return _read_usual_signed_data(data)
    except (UnusualEncodingError, MalformedCMSError, ValueError):
        pass  # not the usual shape, or broken: the full reading decides (and words the error)
    try:
        return _SignedDataReader(data).read()
    except MalformedCMSError:
        raise
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise MalformedCMSError(f"broken CMS SignedData: {first_line(exc)}") from None


# --------------------------------------------------------------------------- the usual DER
# What encoders write (definite lengths; certificates and CRLs as plain SEQUENCEs; a
# primitive eContent; SignerInfos with the fields in their places) is read in one pass,
# one header read per element.  Anything else raises UnusualEncodingError, or an error,
# and _SignedDataReader reads the whole object again: unusual and broken input gets the
# same answers either way.


def _read_usual_signed_data(data: bytes) -> SignedData:
    tag, pos, info_end = read_head(data, 0, len(data))
    require_usual(tag == TAG_SEQUENCE)
    tag, start, pos = read_head(data, pos, info_end)
    require_usual(tag == TAG_OID and decode_oid(data[start:pos]) == _SIGNED_DATA)
    tag, pos, end = read_head(data, pos, info_end)
    require_usual(tag == _EXPLICIT_0 and end == info_end)
    tag, pos, end = read_head(data, pos, end)
    require_usual(tag == TAG_SEQUENCE and end == info_end)
    tag, start, pos = read_head(data, pos, end)  # version
    require_usual(tag == TAG_INTEGER)
    tag, start, pos = read_head(data, pos, end)
    require_usual(tag == TAG_SET)
    digest_algorithms = frozenset(
        _usual_algorithm_oid(data, s, e) for s, e in _usual_elements(data, start, pos, TAG_SEQUENCE)
    )
    tag, start, pos = read_head(data, pos, end)
    require_usual(tag == TAG_SEQUENCE)
    content_type, content = _usual_encapsulated(data, start, pos)
    certificates: list[bytes] = []
    crls: list[bytes] = []
    tag, start, pos = read_head(data, pos, end)
    if tag == _IMPLICIT_0:
        certificates = [data[s:e] for s, e in _usual_elements(data, start, pos, TAG_SEQUENCE)]
        tag, start, pos = read_head(data, pos, end)
    if tag == 0xA1:
        crls = [data[s:e] for s, e in _usual_elements(data, start, pos, TAG_SEQUENCE)]
        tag, start, pos = read_head(data, pos, end)
    require_usual(tag == TAG_SET and pos == end)
    signer_infos = tuple(
        _usual_signer_info(data, s, e) for s, e in _usual_elements(data, start, pos, TAG_SEQUENCE)
    )
    loaded, unreadable = _certificates(certificates)
    return SignedData(
        cms.ContentType.map(content_type),
        content_type,
        content,
        loaded,
        tuple(crls),
        signer_infos,
        digest_algorithms=digest_algorithms,
        unreadable_certificates=unreadable,
    )


def _usual_elements(
    data: bytes, pos: int, end: int, tag: int | None = None
) -> list[tuple[int, int]]:
    """Where each element of the contents ``data[pos:end]`` starts and ends (each with the
    identifier octet ``tag``, when given)."""
    found = []
    while pos < end:
        element_tag, _, element_end = read_head(data, pos, end)
        require_usual(tag is None or element_tag == tag)
        found.append((pos, element_end))
        pos = element_end
    return found


def _usual_algorithm_oid(data: bytes, pos: int, end: int) -> str:
    """The OID of the AlgorithmIdentifier ``data[pos:end]``."""
    tag, start, end = read_head(data, pos, end)
    tag, start, oid_end = read_head(data, start, end)
    require_usual(tag == TAG_OID)
    return decode_oid(data[start:oid_end])


def _usual_encapsulated(data: bytes, pos: int, end: int) -> tuple[str, bytes | None]:
    tag, start, pos = read_head(data, pos, end)
    require_usual(tag == TAG_OID)
    content_type = decode_oid(data[start:pos])
    if pos == end:
        return content_type, None
    tag, start, explicit_end = read_head(data, pos, end)
    require_usual(tag == _EXPLICIT_0 and explicit_end == end)
    tag, start, octets_end = read_head(data, start, end)
    require_usual(tag == TAG_OCTET_STRING and octets_end == end)
    return content_type, data[start:octets_end]


def _usual_signer_info(data: bytes, pos: int, end: int) -> SignerInfo:
    tag, pos, end = read_head(data, pos, end)
    tag, start, pos = read_head(data, pos, end)
    require_usual(tag == TAG_INTEGER and 0 < pos - start <= 4)
    version = int.from_bytes(data[start:pos], "big", signed=True)
    sid_start = pos
    tag, start, pos = read_head(data, pos, end)
    signer_id = _usual_signer_identifier(data, tag, sid_start, start, pos)
    digest_start = pos
    tag, start, pos = read_head(data, pos, end)
    require_usual(tag == TAG_SEQUENCE)
    digest_algorithm = _usual_algorithm_oid(data, digest_start, pos)
    signed_attributes = None
    field_start = pos
    tag, start, pos = read_head(data, pos, end)
    if tag == _IMPLICIT_0:
        signed_attributes = data[field_start:pos]
        field_start = pos
        tag, start, pos = read_head(data, pos, end)
    require_usual(tag == TAG_SEQUENCE)
    signature_algorithm = data[field_start:pos]
    tag, start, pos = read_head(data, pos, end)
    require_usual(tag == TAG_OCTET_STRING)
    signature = data[start:pos]
    unsigned_attributes = None
    if pos < end:
        field_start = pos
        tag, start, pos = read_head(data, pos, end)
        require_usual(tag == 0xA1)
        unsigned_attributes = data[field_start:pos]
    require_usual(pos == end)
    return SignerInfo(
        version=version,
        signer_id=signer_id,
        digest_algorithm=digest_algorithm,
        signed_attributes=signed_attributes,
        signature_algorithm=signature_algorithm,
        signature=signature,
        unsigned_attributes=unsigned_attributes,
    )


def _usual_signer_identifier(
    data: bytes, tag: int, pos: int, start: int, end: int
) -> SignerIdentifier:
    if tag == 0x80:
        return SignerIdentifier(key_identifier=data[start:end])
    require_usual(tag == TAG_SEQUENCE)
    tag, _, pos = read_head(data, start, end)
    require_usual(tag == TAG_SEQUENCE)
    issuer = data[start:pos]
    tag, serial_start, pos = read_head(data, pos, end)
    require_usual(tag == TAG_INTEGER and pos == end and pos > serial_start)
    serial = int.from_bytes(data[serial_start:pos], "big", signed=True)
    return SignerIdentifier(issuer=issuer, serial=serial)


class _SignedDataReader:
    """One pass over a ContentInfo { signedData, SignedData }, RFC 5652 sections 3 and 5."""

    def __init__(self, data: bytes) -> None:
        self.reader = Reader(data)

    def read(self) -> SignedData:
        reader = self.reader
        content_info = _expect(reader.read(0), TAG_SEQUENCE, "ContentInfo")
        fields = reader.children(content_info)
        content_type = reader.oid(fields[0]) if fields else ""
        if content_type != _SIGNED_DATA:
            raise MalformedCMSError(
                f"expected CMS signed-data, found {cms.ContentType.map(content_type) or 'nothing'}"
            )
        if len(fields) != 2:
            raise MalformedCMSError("broken CMS SignedData: the ContentInfo has no content")
        signed_data = _expect(_explicit_0(reader, fields[1]), TAG_SEQUENCE, "SignedData")
        parts = reader.children(signed_data)
        if len(parts) < 4:
            raise MalformedCMSError("broken CMS SignedData: too few fields")
        digest_algorithms = frozenset(
            reader.oid(reader.read(algorithm.content_start, algorithm.content_end))
            for algorithm in reader.children(_expect(parts[1], TAG_SET, "digestAlgorithms"))
        )
        encapsulated_type, content = self._encapsulated(parts[2])
        certificates_der: list[bytes] = []
        crls: list[bytes] = []
        for optional in parts[3:-1]:
            if optional.is_tag(CONTEXT, 0):
                certificates_der.extend(self._choices(optional))
            elif optional.is_tag(CONTEXT, 1):
                crls.extend(self._choices(optional))
            else:
                raise MalformedCMSError(
                    "broken CMS SignedData: unexpected field before signerInfos"
                )
        signer_set = _expect(parts[-1], TAG_SET, "signerInfos")
        signer_infos = tuple(self._signer_info(element) for element in reader.children(signer_set))
        certificates, unreadable = _certificates(certificates_der)
        return SignedData(
            cms.ContentType.map(encapsulated_type),
            encapsulated_type,
            content,
            certificates,
            tuple(crls),
            signer_infos,
            digest_algorithms=digest_algorithms,
            unreadable_certificates=unreadable,
        )

    def _encapsulated(self, element: Tlv) -> tuple[str, bytes | None]:
        reader = self.reader
        fields = reader.children(_expect(element, TAG_SEQUENCE, "encapContentInfo"))
        if not fields or len(fields) > 2:
            raise MalformedCMSError("broken CMS SignedData: malformed encapContentInfo")
        content_type = reader.oid(fields[0])
        if len(fields) == 1:
            return content_type, None
        inner = _explicit_0(reader, fields[1])
        if inner.is_universal_octet_string:
            return content_type, bytes(reader.octets(inner))
        return content_type, bytes(reader.contents(inner))  # PKCS #7 v1.5 "any" content

    def _choices(self, element: Tlv) -> list[bytes]:
        """The plain choices (SEQUENCEs: certificates or CRLs) of a [0]/[1] IMPLICIT SET."""
        reader = self.reader
        return [
            bytes(reader.element(choice))
            for choice in reader.children(element)
            if choice.is_tag(0, TAG_SEQUENCE & 0x1F) and choice.constructed
        ]

    def _signer_info(self, element: Tlv) -> SignerInfo:
        reader = self.reader
        fields = reader.children(_expect(element, TAG_SEQUENCE, "SignerInfo"))
        if len(fields) < 5:
            raise MalformedCMSError("broken CMS SignedData: a SignerInfo has too few fields")
        version = reader.small_integer(fields[0])
        signer_id = self._signer_identifier(fields[1])
        digest_algorithm = _expect(fields[2], TAG_SEQUENCE, "digestAlgorithm")
        rest = fields[3:]
        signed_attributes = None
        if rest and rest[0].is_tag(CONTEXT, 0):
            signed_attributes = bytes(reader.element(rest.pop(0)))
        if len(rest) < 2:
            raise MalformedCMSError("broken CMS SignedData: a SignerInfo has no signature")
        signature_algorithm = _expect(rest[0], TAG_SEQUENCE, "signatureAlgorithm")
        if not rest[1].is_universal_octet_string:
            raise MalformedCMSError("broken CMS SignedData: the signature is not an OCTET STRING")
        unsigned_attributes = None
        if len(rest) > 2:
            if len(rest) > 3 or not rest[2].is_tag(CONTEXT, 1):
                raise MalformedCMSError("broken CMS SignedData: unexpected SignerInfo field")
            unsigned_attributes = bytes(reader.element(rest[2]))
        return SignerInfo(
            version=version,
            signer_id=signer_id,
            digest_algorithm=reader.oid(
                reader.read(digest_algorithm.content_start, digest_algorithm.content_end)
            ),
            signed_attributes=signed_attributes,
            signature_algorithm=bytes(reader.element(signature_algorithm)),
            signature=bytes(reader.octets(rest[1])),
            unsigned_attributes=unsigned_attributes,
        )

    def _signer_identifier(self, element: Tlv) -> SignerIdentifier:
        reader = self.reader
        if element.is_tag(CONTEXT, 0):
            return SignerIdentifier(key_identifier=bytes(reader.octets(element)))
        fields = reader.children(_expect(element, TAG_SEQUENCE, "issuerAndSerialNumber"))
        if len(fields) != 2 or not fields[1].is_tag(0, TAG_INTEGER) or fields[1].constructed:
            raise MalformedCMSError("broken CMS SignedData: malformed issuerAndSerialNumber")
        issuer = _expect(fields[0], TAG_SEQUENCE, "issuer")
        serial = int.from_bytes(reader.contents(fields[1]), "big", signed=True)
        return SignerIdentifier(issuer=bytes(reader.element(issuer)), serial=serial)


_SIGNED_DATA = "1.2.840.113549.1.7.2"


def _expect(element: Tlv, tag: int, what: str) -> Tlv:
    """``element`` if it is the universal constructed ``tag`` (SEQUENCE or SET)."""
    if element.cls != 0 or element.number != tag & 0x1F or not element.constructed:
        raise MalformedCMSError(f"broken CMS SignedData: {what} is not a {_TAG_NAMES[tag]}")
    return element


_TAG_NAMES = {TAG_SEQUENCE: "SEQUENCE", TAG_SET: "SET"}


def _explicit_0(reader: Reader, element: Tlv) -> Tlv:
    """The single element inside an ``[0] EXPLICIT`` wrapper."""
    if not element.is_tag(CONTEXT, 0) or not element.constructed:
        raise MalformedCMSError("broken CMS SignedData: [0] EXPLICIT content expected")
    inner = reader.children(element)
    if len(inner) != 1:
        raise MalformedCMSError("broken CMS SignedData: [0] EXPLICIT must hold one element")
    return inner[0]


def _certificates(
    choices: Sequence[bytes],
) -> tuple[tuple[x509.Certificate, ...], tuple[asn1_x509.Certificate, ...]]:
    """The certificates ``cryptography`` loads, and apart those it cannot.

    An unreadable extra certificate must not hide a readable signer; an
    unreadable signer certificate is reported as such, not as missing.
    """
    found: list[x509.Certificate] = []
    unreadable: list[asn1_x509.Certificate] = []
    for der in choices:
        try:
            found.append(load_der_certificate(der))
        except (MalformedCMSError, ValueError):
            unreadable.append(asn1_x509.Certificate.load(der))
    return tuple(found), tuple(unreadable)

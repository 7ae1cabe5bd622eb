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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple

from asn1crypto import algos, cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding

from smimecore.algorithms.digests import DigestAlgorithm, digest_by_name
from smimecore.algorithms.signatures import (
    SignatureScheme,
    SigningKey,
    scheme_for_key,
    scheme_from_algorithm_identifier,
)
from smimecore.cms.attributes import (
    CONTENT_TYPE,
    COUNTERSIGNATURE,
    MESSAGE_DIGEST,
    SIGNING_TIME,
    Attributes,
    constant_signed_attributes,
    message_digest_attribute,
    read_attributes,
    signed_attributes_set,
    signing_time_attribute,
)
from smimecore.cms.content_info import (
    SIGNED_DATA_OID,
    CertificateIdentifier,
    close_content_info,
    content_type_name,
    open_content_info,
    read_encapsulated,
    read_identifier,
    same_name,
)
from smimecore.errors import (
    CertificateNotFoundError,
    MalformedCMSError,
    SmimeError,
    UnsupportedAlgorithmError,
    first_line,
)
from smimecore.pki.certificate import (
    issuer_and_serial,
    load_der_certificate,
    subject_key_identifier,
)
from smimecore.pki.der import (
    DEFAULT_LIMITS,
    TAG_OCTET_STRING,
    TAG_SEQUENCE,
    TAG_SET,
    AlgorithmIdentifier,
    Bytes,
    Cursor,
    ReaderLimits,
    encode_tlv,
    new_record,
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
        _DETACHED_DATA
        if detached
        else encode_tlv(
            TAG_SEQUENCE,
            _DATA_OID_DER,
            encode_tlv(_EXPLICIT_0, encode_tlv(TAG_OCTET_STRING, *pieces)),
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
    return encode_tlv(TAG_SEQUENCE, _SIGNED_DATA_OID_DER, encode_tlv(_EXPLICIT_0, signed_data))


_IMPLICIT_0 = 0xA0
_EXPLICIT_0 = 0xA0
_DATA_OID_DER = core.ObjectIdentifier("1.2.840.113549.1.7.1").dump()
_SIGNED_DATA_OID_DER = core.ObjectIdentifier("1.2.840.113549.1.7.2").dump()
_DETACHED_DATA = encode_tlv(TAG_SEQUENCE, _DATA_OID_DER)  # encapContentInfo without content


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
    digest_algorithm = cms.DigestAlgorithm({"algorithm": scheme.digest.name})
    # Each certificate once, as DER, in DER's SET OF order (written as received: no
    # certificate goes through asn1crypto, which cannot parse ML-DSA or ML-KEM keys).
    certificates = dict.fromkeys(
        cert.public_bytes(Encoding.DER)
        for cert in (identity.certificate, *identity.chain, *extra_certificates)
    )
    return _SignerTemplate(
        scheme=scheme,
        version=core.Integer(3 if use_subject_key_identifier else 1).dump(),
        signer_identifier=_signer_identifier(identity.certificate, use_subject_key_identifier),
        digest_algorithm=digest_algorithm.dump(),
        digest_algorithms=encode_tlv(TAG_SET, digest_algorithm.dump()),
        signature_algorithm=cms.SignedDigestAlgorithm(scheme.algorithm_identifier()).dump(),
        certificates=encode_tlv(_IMPLICIT_0, *sorted(certificates)),
        constant_attributes=tuple(constant_signed_attributes(identity.certificate)),
    )


def _signer_identifier(certificate: x509.Certificate, use_subject_key_identifier: bool) -> bytes:
    """The DER SignerIdentifier: ``[0]`` subjectKeyIdentifier, or issuerAndSerialNumber
    written from the certificate's own encodings (no asn1crypto key parsing)."""
    if use_subject_key_identifier:
        return encode_tlv(_SUBJECT_KEY_IDENTIFIER, subject_key_identifier(certificate))
    return encode_tlv(TAG_SEQUENCE, *issuer_and_serial(certificate))


_SUBJECT_KEY_IDENTIFIER = 0x80  # SignerIdentifier subjectKeyIdentifier: [0] IMPLICIT OCTET STRING


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


SignerIdentifier = CertificateIdentifier
"""A SignerInfo's ``sid``: issuer name (DER) and serial number, or a subject key identifier."""


class SignerInfo(NamedTuple):
    """One SignerInfo as received (RFC 5652 section 5.3).

    The signature is checked over ``signed_attributes`` as received,
    retagged as a SET (:meth:`Attributes.as_set`).
    """

    version: int
    signer_id: SignerIdentifier
    digest_algorithm: str
    """The dotted OID of the digestAlgorithm."""
    signed_attributes: Attributes | None
    signature_algorithm: AlgorithmIdentifier
    signature: bytes
    unsigned_attributes: Attributes | None = None


ContentSource = Callable[[int], bytes | memoryview | None]
"""Gives candidate content number ``i`` (0 = as received), or ``None`` when there are no more."""


@dataclass(frozen=True)
class SignedData:
    """A parsed SignedData: encapsulated content, certificates, CRLs and signers.

    ``certificate_encodings`` are the certificates as received; they are
    loaded when first asked for (:attr:`certificates`), and those that
    ``cryptography`` cannot load are kept apart to name them when they sign.
    """

    content_type_oid: str
    content: bytes | memoryview | None
    certificate_encodings: tuple[bytes, ...] = field(repr=False)
    crls: tuple[bytes, ...] = field(repr=False)
    signer_infos: tuple[SignerInfo, ...] = field(repr=False)
    digest_algorithms: frozenset[str] = frozenset()
    """The dotted OIDs of the SignedData's digestAlgorithms SET."""
    version: int = 1

    @property
    def content_type(self) -> str:
        """The encapsulated content type's name (``data``...), or its OID when unnamed."""
        return content_type_name(self.content_type_oid)

    @property
    def _loaded(self) -> tuple[tuple[x509.Certificate, ...], tuple[asn1_x509.Certificate, ...]]:
        loaded = self.__dict__.get("_loaded")
        if loaded is None:  # loaded once (frozen: stored beside the fields)
            loaded = self.__dict__["_loaded"] = _certificates(self.certificate_encodings)
        return loaded

    @property
    def certificates(self) -> tuple[x509.Certificate, ...]:
        """The certificates of the message that ``cryptography`` loads."""
        return self._loaded[0]

    @property
    def unreadable_certificates(self) -> tuple[asn1_x509.Certificate, ...]:
        """Certificates of the message that ``cryptography`` cannot load (DSA keys that
        inherit their parameters, for one)."""
        return self._loaded[1]

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
            attributes = signer_info.signed_attributes
            _check_attribute_placement(attributes, signer_info.unsigned_attributes)
            if attributes is None:
                return self._check_without_attributes(
                    index, certificate, digest, scheme, public_key, signer_info.signature, contents
                )
            content_index, intact = _match_message_digest(
                attributes, digest, contents, self.content_type_oid
            )
            valid = _verifies_over_attributes(scheme, public_key, signer_info.signature, attributes)
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
        except ValueError as error:  # cryptography's verdict on a key it cannot use
            problem = MalformedCMSError(f"SignerInfo {index + 1}: {first_line(error)}")
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
        digest = _digest(dotted)
        if dotted not in self.digest_algorithms:
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
        for certificate in self.certificates:
            if sid.matches(certificate):
                return certificate
        for unreadable in self.unreadable_certificates:
            if _asn1_certificate_matches(sid, unreadable):
                raise _unreadable_signer_error(unreadable)
        for certificate in known_certificates():
            if sid.matches(certificate):
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
    except UnsupportedAlgorithm as exc:
        raise UnsupportedAlgorithmError("signer public key", f"cannot be used: {exc}") from None


@functools.lru_cache(maxsize=64)
def _digest(dotted: str) -> DigestAlgorithm:
    """The digest algorithm with OID ``dotted`` (named as asn1crypto names it, for errors)."""
    return digest_by_name(algos.DigestAlgorithmId.map(dotted))


@functools.lru_cache(maxsize=64)
def _scheme(signature_algorithm: AlgorithmIdentifier, digest: DigestAlgorithm) -> SignatureScheme:
    """The scheme a signatureAlgorithm names; a handful of distinct values, so cached."""
    return scheme_from_algorithm_identifier(signature_algorithm, digest)


def _asn1_certificate_matches(sid: SignerIdentifier, certificate: asn1_x509.Certificate) -> bool:
    """The signer-identifier match for a certificate only asn1crypto can read."""
    try:
        if sid.subject_key_identifier is not None:
            return bool(certificate.key_identifier == sid.subject_key_identifier)
        return bool(
            certificate.serial_number == sid.serial
            and same_name(certificate.issuer.dump(), sid.issuer_der or b"")
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        return False


def _unreadable_signer_error(certificate: asn1_x509.Certificate) -> UnsupportedAlgorithmError:
    try:
        subject = certificate.subject.human_friendly
    except (ValueError, TypeError, KeyError, AttributeError):
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
    except (ValueError, TypeError, KeyError, AttributeError):
        return False


def _check_attribute_placement(signed: Attributes | None, unsigned: Attributes | None) -> None:
    """RFC 5652 section 11: contentType, messageDigest and signingTime MUST be
    signed attributes, countersignature MUST NOT be one (OpenSSL checks the same)."""
    if signed is not None and COUNTERSIGNATURE in signed.values:
        raise MalformedCMSError("the counter_signature attribute must not be a signed attribute")
    if unsigned is None:
        return
    for oid, name in _SIGNED_ONLY.items():
        if oid in unsigned.values:
            raise MalformedCMSError(f"the {name} attribute must not be an unsigned attribute")


_SIGNED_ONLY = {
    CONTENT_TYPE: "content_type",
    MESSAGE_DIGEST: "message_digest",
    SIGNING_TIME: "signing_time",
}


def _verifies_over_attributes(
    scheme: SignatureScheme, public_key: object, signature: bytes, attributes: Attributes
) -> bool:
    """Whether ``signature`` is over the signed attributes as received, or else over their DER
    (some signers sign the DER of attributes they send in another order)."""
    if scheme.verify(public_key, signature, attributes.as_set()):
        return True
    other = attributes.other_encoding()
    return other is not None and scheme.verify(public_key, signature, other)


def _match_message_digest(
    attributes: Attributes,
    digest: DigestAlgorithm,
    contents: ContentSource,
    content_type_oid: str,
) -> tuple[int, bool]:
    found_content_type = attributes.single(CONTENT_TYPE)
    if found_content_type is None:
        raise MalformedCMSError("the contentType signed attribute is missing")
    if found_content_type != _oid_der(content_type_oid) and (
        Cursor(found_content_type).oid("the contentType attribute") != content_type_oid
    ):
        raise MalformedCMSError("the contentType signed attribute does not match the content")
    message_digest = attributes.single(MESSAGE_DIGEST)
    if message_digest is None:
        raise MalformedCMSError("the messageDigest signed attribute is missing")
    if message_digest[0] == TAG_OCTET_STRING and message_digest[1] == len(message_digest) - 2:
        expected = message_digest[2:]  # the DER of every digest up to 127 bytes
    else:
        expected = Cursor(message_digest).octets("the messageDigest attribute")
    candidate_index = 0
    while (content := contents(candidate_index)) is not None:
        if digest.digest(content) == expected:
            return candidate_index, True
        candidate_index += 1
    return 0, False


@functools.lru_cache(maxsize=16)
def _oid_der(dotted: str) -> bytes:
    return bytes(core.ObjectIdentifier(dotted).dump())


_SIGNED_DATA = {SIGNED_DATA_OID: "signed-data"}
_SIGNED_DATA_VERSIONS = frozenset({1, 3, 4, 5})
_SIGNER_INFO_VERSIONS = frozenset({1, 3})
_CERTIFICATE_CHOICES = frozenset({0xA0, 0xA1, 0xA2, 0xA3})  # the other CertificateChoices
_CRL_CHOICES = frozenset({0xA1})  # RevocationInfoChoice other [1]


def parse_signed_data(data: Bytes, limits: ReaderLimits = DEFAULT_LIMITS) -> SignedData:
    """Read a DER/BER ContentInfo holding a SignedData (RFC 5652 section 5).

    Raises :class:`MalformedCMSError` naming the field for anything that is
    not a well-formed SignedData, truncated input included.  Certificates
    are kept as received and loaded when first used.
    """
    _, cursor = open_content_info(data, _SIGNED_DATA, limits)
    cursor.enter(TAG_SEQUENCE, "SignedData")
    version = cursor.version("SignedData.version", _SIGNED_DATA_VERSIONS)
    digest_algorithms = []
    cursor.enter(TAG_SET, "SignedData.digestAlgorithms")
    while cursor.pos < cursor.end:
        digest_algorithms.append(cursor.algorithm("SignedData.digestAlgorithms").oid)
    cursor.leave("SignedData.digestAlgorithms")
    content_type, content = read_encapsulated(cursor, "SignedData.encapContentInfo")
    certificates: tuple[bytes, ...] = ()
    crls: tuple[bytes, ...] = ()
    if cursor.peek() == _IMPLICIT_0:
        certificates = _choices(
            cursor, _IMPLICIT_0, "SignedData.certificates", _CERTIFICATE_CHOICES, limits
        )
    if cursor.peek() == 0xA1:
        crls = _choices(cursor, 0xA1, "SignedData.crls", _CRL_CHOICES, limits)
    signer_infos: list[SignerInfo] = []
    cursor.enter(TAG_SET, "SignedData.signerInfos")
    while cursor.pos < cursor.end:
        if len(signer_infos) >= limits.max_signer_infos:
            raise MalformedCMSError(
                f"SignedData.signerInfos: more than {limits.max_signer_infos} elements"
            )
        signer_infos.append(_read_signer_info(cursor))
    cursor.leave("SignedData.signerInfos")
    cursor.leave("SignedData")
    close_content_info(cursor)
    return SignedData(
        content_type,
        content,
        certificates,
        crls,
        tuple(signer_infos),
        frozenset(digest_algorithms),
        version,
    )


def _choices(
    cursor: Cursor, tag: int, what: str, others: frozenset[int], limits: ReaderLimits
) -> tuple[bytes, ...]:
    """The plain choices (SEQUENCEs: certificates or CRLs) of a ``[n]`` IMPLICIT SET;
    the other choices (attribute certificates, other formats) are skipped."""
    found = cursor.children(tag, what, limits.max_certificates)
    plain = tuple(element for element in found if element[0] == TAG_SEQUENCE)
    if len(plain) < len(found) and any(e[0] not in others for e in found if e[0] != TAG_SEQUENCE):
        raise MalformedCMSError(f"{what}: an element is neither a SEQUENCE nor a known choice")
    return plain


def _read_signer_info(cursor: Cursor) -> SignerInfo:
    """SignerInfo (RFC 5652 section 5.3)."""
    cursor.enter(TAG_SEQUENCE, "SignerInfo")
    version = cursor.version("SignerInfo.version", _SIGNER_INFO_VERSIONS)
    signer_id = read_identifier(cursor, "SignerInfo.sid")
    digest_algorithm = cursor.algorithm("SignerInfo.digestAlgorithm").oid
    signed = None
    if cursor.peek() == _IMPLICIT_0:
        signed = read_attributes(cursor, _IMPLICIT_0, "SignerInfo.signedAttrs")
    signature_algorithm = cursor.algorithm("SignerInfo.signatureAlgorithm")
    signature = cursor.octets("SignerInfo.signature")
    unsigned = None
    if cursor.more():
        unsigned = read_attributes(cursor, 0xA1, "SignerInfo.unsignedAttrs")
    cursor.leave("SignerInfo")
    fields = (
        version,
        signer_id,
        digest_algorithm,
        signed,
        signature_algorithm,
        signature,
        unsigned,
    )
    return new_record(SignerInfo, fields)


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

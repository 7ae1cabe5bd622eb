"""CMS EnvelopedData (RFC 5652 section 6) and AuthEnvelopedData (RFC 5083).

Building: the RecipientInfos and algorithm identifiers are made with
asn1crypto; the (possibly large) encryptedContent is spliced into the outer
DER by hand, so the ciphertext is copied once, into the result.

Parsing: the outer layers are walked with :mod:`smimecore.pki.der` over a
memoryview, so the ciphertext is not copied; only the RecipientInfos are
handed to asn1crypto.  :func:`parse_enveloped` lists the RecipientInfos
with their identifiers, so a caller can match them against its
certificates before using any private key; :func:`decrypt_enveloped` then
decrypts with one (private key, certificate) pair.

Failures after a key is used are all :class:`DecryptionError`
("Decryption failed"); RSA PKCS#1 v1.5 unwrap failures continue with a
random content key (RFC 3218).  Structural problems are
:class:`~smimecore.errors.MalformedCMSError`, unknown algorithms
:class:`~smimecore.errors.UnsupportedAlgorithmError`.
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Generic, Literal, TypeVar

from asn1crypto import cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa, x448, x25519
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.serialization import Encoding

from smimecore.algorithms.ciphers import (
    ContentCipher,
    ContentEncryptor,
    ContentParameters,
    content_cipher_by_name,
    content_cipher_by_oid,
    decrypt_content_view,
    parse_parameters,
)
from smimecore.algorithms.keyagreement import (
    AgreementPrivateKey,
    Kdf,
    agree_and_wrap_der,
    describe_agreement,
    describe_agreement_der,
    originator_matches_key,
    originator_matches_key_der,
    unwrap_agreed,
    unwrap_agreed_der,
)
from smimecore.algorithms.keytransport import (
    PKCS1V15_ALGORITHM_DER,
    describe_rsa_algorithm,
    describe_rsa_algorithm_der,
    is_rsa_algorithm,
    rsa_unwrap,
    rsa_unwrap_der,
    rsa_wrap,
)
from smimecore.errors import (
    DecryptionError,
    MalformedCMSError,
    NoMatchingRecipientError,
    NoUsableRecipientError,
    UnsupportedAlgorithmError,
)
from smimecore.pki.certificate import subject_key_identifier
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
    encode_header,
    encode_tlv,
    read_head,
    require_usual,
)

__all__ = [
    "AUTH_ENVELOPED_DATA_OID",
    "DATA_OID",
    "ENVELOPED_DATA_OID",
    "DecryptedContent",
    "DecryptionError",
    "DecryptionKey",
    "EncryptionRecipient",
    "EnvelopedMessage",
    "NoMatchingRecipientError",
    "NoUsableRecipientError",
    "RecipientIdentifier",
    "RecipientInfoEntry",
    "build_enveloped",
    "check_decryptable",
    "decrypt_enveloped",
    "enveloped_pieces",
    "parse_enveloped",
]

DATA_OID = "1.2.840.113549.1.7.1"
ENVELOPED_DATA_OID = "1.2.840.113549.1.7.3"
AUTH_ENVELOPED_DATA_OID = "1.2.840.113549.1.9.16.1.23"

DecryptionKey = rsa.RSAPrivateKey | AgreementPrivateKey
RecipientKind = Literal["ktri", "kari", "kekri", "pwri", "ori"]
Bytes = bytes | bytearray | memoryview
_T = TypeVar("_T")


class _PerCertificate(Generic[_T]):
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
        found = self._values.get(id(certificate))
        if found is not None and found[0] is certificate:
            return found[1]
        value = self._compute(certificate)
        if len(self._values) >= self._size:
            self._values.clear()
        self._values[id(certificate)] = (certificate, value)
        return value


@dataclass(frozen=True)
class RecipientIdentifier:
    """Who a RecipientInfo is for: issuer and serial number, or subjectKeyIdentifier."""

    issuer_der: bytes | None = None
    serial: int | None = None
    subject_key_identifier: bytes | None = None

    def matches(self, certificate: x509.Certificate) -> bool:
        """Whether ``certificate`` is the one this identifier names."""
        issuer, serial, key_identifier = _certificate_ids(certificate)
        if self.subject_key_identifier is not None:
            return key_identifier == self.subject_key_identifier
        if self.issuer_der is None or serial != self.serial:
            return False
        if issuer == self.issuer_der:
            return True
        try:
            return bool(asn1_x509.Name.load(issuer) == asn1_x509.Name.load(self.issuer_der))
        except ValueError:
            return False

    @property
    def issuer(self) -> str | None:
        """The issuer in a human-friendly form (for display)."""
        if self.issuer_der is None:
            return None
        try:
            return str(asn1_x509.Name.load(self.issuer_der).human_friendly)
        except ValueError:
            return None

    def __str__(self) -> str:
        if self.subject_key_identifier is not None:
            return f"subjectKeyIdentifier {self.subject_key_identifier.hex()}"
        return f"issuer {self.issuer!r} serial {self.serial}"


def _ids(certificate: x509.Certificate) -> tuple[bytes, int, bytes]:
    """Issuer DER, serial number and subjectKeyIdentifier: what RecipientInfos name."""
    issuer = certificate.issuer.public_bytes()
    return issuer, certificate.serial_number, subject_key_identifier(certificate)


_certificate_ids = _PerCertificate(_ids)


@dataclass(frozen=True)
class _KeyFields:
    """What decrypting with a ktri or kari needs, read from its DER without asn1crypto."""

    algorithm_der: bytes
    encrypted_keys: tuple[bytes, ...]
    originator_der: bytes = b""
    ukm: bytes | None = None


@dataclass(frozen=True)
class RecipientInfoEntry:
    """One RecipientInfo of the message.

    ``identifiers`` holds the ktri's rid, or one rid per RecipientEncryptedKey
    of a kari (empty for KEK, password and other recipients).
    ``key_encryption`` names the algorithm (``rsaes-oaep-sha256``,
    ``ecdh-x963-sha256+aes128-wrap``, or a dotted OID when unknown);
    ``supported`` tells whether we could use it with a matching key.
    """

    index: int
    kind: RecipientKind
    identifiers: tuple[RecipientIdentifier, ...]
    key_encryption: str
    supported: bool
    der: bytes = field(repr=False, compare=False)
    fields: _KeyFields | None = field(repr=False, compare=False, default=None)

    @cached_property
    def info(self) -> cms.RecipientInfo:
        """The RecipientInfo as asn1crypto reads it (parsed on first use)."""
        return cms.RecipientInfo.load(self.der)


@dataclass(frozen=True)
class EnvelopedMessage:
    """A parsed EnvelopedData or AuthEnvelopedData, not yet decrypted.

    ``cipher`` is ``None`` when the content-encryption algorithm
    (``cipher_oid``) is unknown; decrypting then raises
    :class:`~smimecore.errors.UnsupportedAlgorithmError`.
    """

    authenticated: bool
    version: int
    content_type: str
    cipher_oid: str
    cipher: ContentCipher | None
    recipients: tuple[RecipientInfoEntry, ...]
    has_content: bool
    parameters_der: bytes | None = field(repr=False)
    ciphertext: Bytes | None = field(repr=False)
    mac: bytes | None = field(repr=False, default=None)
    aad: bytes | None = field(repr=False, default=None)

    @classmethod
    def of(
        cls,
        authenticated: bool,
        version: int,
        recipients: tuple[RecipientInfoEntry, ...],
        content_info: tuple[str, str, bytes | None, Bytes | None],
        mac: bytes | None,
        aad: bytes | None = None,
    ) -> EnvelopedMessage:
        """Made from the parts as read; ``content_info`` is the EncryptedContentInfo's
        content type, cipher OID, parameters (DER) and ciphertext."""
        content_type, cipher_oid, parameters, ciphertext = content_info
        return cls(
            authenticated=authenticated,
            version=version,
            content_type=content_type,
            cipher_oid=cipher_oid,
            cipher=content_cipher_by_oid(cipher_oid),
            recipients=recipients,
            has_content=ciphertext is not None,
            parameters_der=parameters,
            ciphertext=ciphertext,
            mac=mac,
            aad=aad,
        )

    def recipients_for(self, certificate: x509.Certificate) -> list[tuple[RecipientInfoEntry, int]]:
        """The (RecipientInfo, identifier index) pairs naming ``certificate``."""
        return [
            (entry, position)
            for entry in self.recipients
            for position, identifier in enumerate(entry.identifiers)
            if identifier.matches(certificate)
        ]

    def names(self, certificate: x509.Certificate) -> bool:
        """Whether some RecipientInfo names ``certificate`` (``recipients_for`` is not empty)."""
        return any(
            identifier.matches(certificate)
            for entry in self.recipients
            for identifier in entry.identifiers
        )


@dataclass(frozen=True)
class DecryptedContent:
    """The result of :func:`decrypt_enveloped`, with what the status layer reports."""

    plaintext: memoryview = field(repr=False, hash=False)
    content_type: str
    cipher: str
    weak: bool
    authenticated: bool
    recipient_index: int
    recipient: RecipientIdentifier
    key_encryption: str
    matched_by_identifier: bool

    @cached_property
    def content(self) -> bytes:
        """The decrypted content (``plaintext`` is the same without a copy)."""
        return bytes(self.plaintext)


@dataclass(frozen=True)
class EncryptionRecipient:
    """A recipient to encrypt for: its certificate and how to identify and reach it.

    RSA keys get PKCS#1 v1.5 key transport unless ``rsa_oaep`` (then
    OAEP with ``oaep_hash``).  EC, X25519 and X448 keys get ECDH; ``kdf`` /
    ``kdf_hash`` override the defaults of
    :func:`smimecore.algorithms.keyagreement.agree_and_wrap_der`.
    """

    certificate: x509.Certificate
    use_subject_key_identifier: bool = False
    rsa_oaep: bool = False
    oaep_hash: str = "sha256"
    kdf: Kdf | None = None
    kdf_hash: str | None = None


# --------------------------------------------------------------------------- building


def _asn1_certificate(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(Encoding.DER))


def _issuer_and_serial(certificate: x509.Certificate) -> cms.IssuerAndSerialNumber:
    parsed = _asn1_certificate(certificate)
    return cms.IssuerAndSerialNumber(
        {"issuer": parsed.issuer, "serial_number": parsed.serial_number}
    )


_INTEGERS = {n: bytes(core.Integer(n).dump()) for n in (0, 2, 3)}
_PKCS1V15 = PKCS1v15()
_KARI_TAG = 0xA1  # RecipientInfo kari: [1] IMPLICIT KeyAgreeRecipientInfo
_EXPLICIT_0 = 0xA0
_IMPLICIT_0 = 0x80  # ktri subjectKeyIdentifier: [0] IMPLICIT OCTET STRING
_IMPLICIT_0_CONSTRUCTED = 0xA0  # kari rKeyId: [0] IMPLICIT RecipientKeyIdentifier
_TAG_LENGTH = 16  # the AEAD tag we write (GCM icv_len 16, ChaCha20-Poly1305)
_AGREEMENT_KEYS = (ec.EllipticCurvePublicKey, x25519.X25519PublicKey, x448.X448PublicKey)


@functools.lru_cache(maxsize=1024)
def _issuer_and_serial_der(certificate: x509.Certificate) -> bytes:
    return bytes(_issuer_and_serial(certificate).dump())


_RecipientKey = tuple[
    rsa.RSAPublicKey | ec.EllipticCurvePublicKey | x25519.X25519PublicKey | x448.X448PublicKey,
    bool,
    bytes,
    bytes,
]


def _key_of(certificate: x509.Certificate) -> _RecipientKey:
    """The public key, whether it is RSA, and its rids (issuerAndSerialNumber, key id)."""
    public_key = certificate.public_key()
    if isinstance(public_key, rsa.RSAPublicKey):
        key_id = encode_tlv(_IMPLICIT_0, subject_key_identifier(certificate))
        return public_key, True, _issuer_and_serial_der(certificate), key_id
    if isinstance(public_key, _AGREEMENT_KEYS):
        key_id = encode_tlv(
            _IMPLICIT_0_CONSTRUCTED,
            encode_tlv(TAG_OCTET_STRING, subject_key_identifier(certificate)),
        )
        return public_key, False, _issuer_and_serial_der(certificate), key_id
    raise UnsupportedAlgorithmError(
        type(public_key).__name__.removeprefix("_"), "keys cannot receive encrypted content"
    )


_recipient_key = _PerCertificate(_key_of)
"""A recipient certificate's key and identifiers: worked out once per certificate."""


def _recipient_info_der(recipient: EncryptionRecipient, key: bytes) -> tuple[bytes, int]:
    """One RecipientInfo as DER and its version, written without asn1crypto objects.

    Building each RecipientInfo with asn1crypto costs more than the RSA
    public-key operation; the public key and identifier of a certificate
    are worked out once and cached, the rest is a few TLVs around the
    wrapped key.
    """
    by_key_id = recipient.use_subject_key_identifier
    public_key, is_rsa, issuer_and_serial, key_id = _recipient_key(recipient.certificate)
    rid = key_id if by_key_id else issuer_and_serial
    if is_rsa and isinstance(public_key, rsa.RSAPublicKey):
        if recipient.rsa_oaep:
            algorithm_value, encrypted = rsa_wrap(public_key, key, oaep_hash=recipient.oaep_hash)
            algorithm = bytes(algorithm_value.dump())
        else:
            algorithm, encrypted = PKCS1V15_ALGORITHM_DER, public_key.encrypt(key, _PKCS1V15)
        version = 2 if by_key_id else 0
        body = _tlv(
            TAG_SEQUENCE,
            _INTEGERS[version],
            rid,
            algorithm,
            _tlv(TAG_OCTET_STRING, encrypted),
        )
        return body, version
    if isinstance(public_key, rsa.RSAPublicKey):
        raise UnsupportedAlgorithmError("RSA", "keys cannot be used for key agreement")
    originator, algorithm, encrypted = agree_and_wrap_der(
        public_key, key, kdf=recipient.kdf, kdf_hash=recipient.kdf_hash
    )
    encrypted_keys = _tlv(TAG_SEQUENCE, _tlv(TAG_SEQUENCE, rid, _tlv(TAG_OCTET_STRING, encrypted)))
    body = _tlv(_KARI_TAG, _INTEGERS[3], _tlv(_EXPLICIT_0, originator), algorithm, encrypted_keys)
    return body, 3


@functools.lru_cache(maxsize=64)
def _oid_tlv(oid: str) -> bytes:
    return bytes(core.ObjectIdentifier(oid).dump())


def build_enveloped(
    content: Bytes,
    recipients: Sequence[EncryptionRecipient],
    *,
    cipher: str = "aes-256-cbc",
    content_type: str = DATA_OID,
) -> bytes:
    """A DER ContentInfo that encrypts ``content`` for each of ``recipients``.

    CBC ciphers give EnvelopedData; ``aes-128-gcm``, ``aes-256-gcm`` and
    ``chacha20-poly1305`` give AuthEnvelopedData (16-byte tag).  One
    RecipientInfo per recipient (DER sorts the SET, so not in the given order).
    """
    length, pieces = enveloped_pieces(
        [content], memoryview(content).nbytes, recipients, cipher=cipher, content_type=content_type
    )
    out = io.BytesIO()
    if length:
        out.seek(length - 1)
        out.write(b"\0")  # the result's final size, allocated once
        out.seek(0)
    for piece in pieces:
        out.write(piece)
    return out.getvalue()


def enveloped_pieces(
    parts: Iterable[Bytes],
    content_length: int,
    recipients: Sequence[EncryptionRecipient],
    *,
    cipher: str = "aes-256-cbc",
    content_type: str = DATA_OID,
) -> tuple[int, Iterator[Bytes]]:
    """:func:`build_enveloped` of the concatenation of ``parts``: its length, and its pieces.

    ``content_length`` is the length of the content (the parts joined).

    The recipients are worked out (and errors raised) at once; the content
    is encrypted a step at a time as the pieces are taken, so the whole
    ciphertext never exists at once.  Pieces may be views on a reused
    buffer: use (or copy) each before taking the next.
    """
    if not recipients:
        raise ValueError("at least one recipient is needed")
    chosen = content_cipher_by_name(cipher, for_encryption=True)
    key = os.urandom(chosen.key_size)
    infos = [_recipient_info_der(recipient, key) for recipient in recipients]
    encryptor = ContentEncryptor(chosen, key)
    del key
    # RFC 5652 section 6.1: v2 as soon as a RecipientInfo is not v0.
    version = 0 if chosen.authenticated or all(v == 0 for _, v in infos) else 2
    # DER orders a SET OF by the encodings of its elements (as asn1crypto does).
    head = _INTEGERS[version] + _tlv(TAG_SET, *sorted(der for der, _ in infos))
    info_head = _oid_tlv(content_type) + _tlv(
        TAG_SEQUENCE, _oid_tlv(chosen.oid), encryptor.parameters
    )
    outer_oid = _oid_tlv(AUTH_ENVELOPED_DATA_OID if chosen.authenticated else ENVELOPED_DATA_OID)
    length = encryptor.ciphertext_length(content_length)
    tail_length = 2 + _TAG_LENGTH if chosen.authenticated else 0
    headers = _headers(outer_oid, head, info_head, length, tail_length)
    total = len(headers) + length + tail_length
    return total, _encrypted_pieces(headers, encryptor, parts, length)


def _tlv(tag: int, *parts: bytes) -> bytes:
    """:func:`encode_tlv` for a few ``bytes`` parts, with the short-length case inline."""
    body = b"".join(parts)
    if len(body) < 0x80:
        return bytes((tag, len(body))) + body
    return encode_header(tag, len(body)) + body


def _headers(
    outer_oid: bytes, head: bytes, info_head: bytes, length: int, tail_length: int
) -> bytes:
    """Everything of the ContentInfo before the ciphertext (``length`` bytes)."""
    content_header = encode_header(0x80, length)  # [0] IMPLICIT OCTET STRING
    info_length = len(info_head) + len(content_header) + length
    info_header = encode_header(TAG_SEQUENCE, info_length)
    body_length = len(head) + len(info_header) + info_length + tail_length
    body_header = encode_header(TAG_SEQUENCE, body_length)
    explicit_header = encode_header(0xA0, len(body_header) + body_length)
    total = len(outer_oid) + len(explicit_header) + len(body_header) + body_length
    return b"".join(
        (
            encode_header(TAG_SEQUENCE, total),
            outer_oid,
            explicit_header,
            body_header,
            head,
            info_header,
            info_head,
            content_header,
        )
    )


def _encrypted_pieces(
    headers: bytes, encryptor: ContentEncryptor, parts: Iterable[Bytes], length: int
) -> Iterator[Bytes]:
    yield headers
    written = 0
    for part in parts:
        for piece in encryptor.update(part):
            written += len(piece)
            yield piece
    last, tag = encryptor.finalize()
    if written + len(last) != length or (tag is not None and len(tag) != _TAG_LENGTH):
        raise RuntimeError("the ciphertext is not as long as its DER header says")
    yield last
    if tag is not None:
        yield encode_tlv(TAG_OCTET_STRING, tag)


# --------------------------------------------------------------------------- parsing


def _expect(tlv: Tlv | None, cls: int, number: int, what: str) -> Tlv:
    if tlv is None or not tlv.is_tag(cls, number):
        raise MalformedCMSError(f"CMS {what} is missing or has the wrong tag")
    return tlv


def parse_enveloped(data: Bytes) -> EnvelopedMessage:
    """Parse a DER/BER ContentInfo holding EnvelopedData or AuthEnvelopedData.

    The ciphertext stays a view on ``data`` (keep ``data`` alive and
    unchanged until decrypted).  Raises MalformedCMSError for broken data
    and for other content types.
    """
    usual = _parse_usual(data)
    if usual is not None:
        return usual
    reader = Reader(data)
    top = _expect(reader.read(0), 0, 16, "ContentInfo")
    outer = reader.children(top)
    if len(outer) != 2:
        raise MalformedCMSError("ContentInfo must hold a content type and a content")
    outer_type = reader.oid(outer[0])
    if outer_type not in (ENVELOPED_DATA_OID, AUTH_ENVELOPED_DATA_OID):
        raise MalformedCMSError(f"content type {outer_type} is not (Auth)EnvelopedData")
    explicit = _expect(outer[1], CONTEXT, 0, "content [0]")
    inner = reader.children(explicit)
    if len(inner) != 1:
        raise MalformedCMSError("ContentInfo content must hold exactly one value")
    body = _expect(inner[0], 0, 16, "EnvelopedData")
    return _parse_body(reader, body, authenticated=outer_type == AUTH_ENVELOPED_DATA_OID)


# --------------------------------------------------------------------------- the usual DER
# What encoders write (definite lengths, no originatorInfo or authAttrs, a primitive
# encryptedContent, ktri and kari recipients) is read in one pass, one header read per
# element.  Anything else, or anything wrong, gives None and the TLV reader reads the whole
# message as before: unusual input and errors get the same answers.


def _parse_usual(data: Bytes) -> EnvelopedMessage | None:
    try:
        return _read_usual(data)
    except (_UnusualShapeError, MalformedCMSError, UnsupportedAlgorithmError, LookupError):
        return None
    except ValueError:  # what the TLV reading of RecipientInfos also leaves to asn1crypto
        return None


def _read_usual(data: Bytes) -> EnvelopedMessage:
    tag, pos, end = read_head(data, 0, len(data))
    require_usual(tag == TAG_SEQUENCE)
    tag, start, pos = read_head(data, pos, end)
    require_usual(tag == TAG_OID)
    outer_type = decode_oid(bytes(data[start:pos]))
    authenticated = outer_type == AUTH_ENVELOPED_DATA_OID
    require_usual(authenticated or outer_type == ENVELOPED_DATA_OID)
    tag, pos, explicit_end = read_head(data, pos, end)
    require_usual(tag == _EXPLICIT_0 and explicit_end == end)
    tag, pos, body_end = read_head(data, pos, end)
    require_usual(tag == TAG_SEQUENCE and body_end == end)
    tag, start, pos = read_head(data, pos, end)
    require_usual(tag == TAG_INTEGER and 0 < pos - start <= 4)
    version = int.from_bytes(data[start:pos], "big", signed=True)
    tag, start, pos = read_head(data, pos, end)
    require_usual(tag == TAG_SET)
    recipients = _usual_recipient_infos(data, start, pos)
    tag, start, pos = read_head(data, pos, end)
    require_usual(tag == TAG_SEQUENCE)
    content_type, cipher_oid, parameters, ciphertext = _usual_content_info(data, start, pos)
    mac = None
    if authenticated:
        tag, start, pos = read_head(data, pos, end)
        require_usual(tag == TAG_OCTET_STRING)
        mac = bytes(data[start:pos])
    return EnvelopedMessage.of(
        authenticated, version, recipients, (content_type, cipher_oid, parameters, ciphertext), mac
    )


def _usual_content_info(
    data: Bytes, pos: int, end: int
) -> tuple[str, str, bytes | None, memoryview | None]:
    """EncryptedContentInfo: content type, cipher OID, parameters DER, ciphertext."""
    tag, start, pos = read_head(data, pos, end)
    require_usual(tag == TAG_OID)
    content_type = decode_oid(bytes(data[start:pos]))
    tag, start, algorithm_end = read_head(data, pos, end)
    require_usual(tag == TAG_SEQUENCE)
    tag, start, pos = read_head(data, start, algorithm_end)
    require_usual(tag == TAG_OID)
    cipher_oid = decode_oid(bytes(data[start:pos]))
    parameters = None
    if pos < algorithm_end:
        require_usual(read_head(data, pos, algorithm_end)[2] == algorithm_end)
        parameters = bytes(data[pos:algorithm_end])
    ciphertext = None
    if algorithm_end < end:
        tag, start, pos = read_head(data, algorithm_end, end)
        require_usual(tag == _IMPLICIT_0 and pos == end)
        ciphertext = memoryview(data)[start:pos]
    return content_type, cipher_oid, parameters, ciphertext


def _usual_recipient_infos(data: Bytes, pos: int, end: int) -> tuple[RecipientInfoEntry, ...]:
    entries: list[RecipientInfoEntry] = []
    while pos < end:
        tag, start, info_end = read_head(data, pos, end)
        if tag == TAG_SEQUENCE:
            entries.append(_usual_ktri(data, len(entries), pos, start, info_end))
        else:
            require_usual(tag == _KARI_TAG)
            info = Tlv(CONTEXT, True, 1, pos, start, info_end, info_end, False)
            der = bytes(data[pos:info_end])
            entries.append(_read_kari(Reader(data), len(entries), info, der))
        pos = info_end
    require_usual(bool(entries))
    return tuple(entries)


def _usual_ktri(data: Bytes, index: int, at: int, pos: int, end: int) -> RecipientInfoEntry:
    tag, _, pos = read_head(data, pos, end)
    require_usual(tag == TAG_INTEGER)
    identifier, pos = _usual_rid(data, pos, end)
    tag, start, algorithm_end = read_head(data, pos, end)
    require_usual(tag == TAG_SEQUENCE)
    tag, start, oid_end = read_head(data, start, algorithm_end)
    require_usual(tag == TAG_OID)
    if oid_end < algorithm_end:
        require_usual(read_head(data, oid_end, algorithm_end)[2] == algorithm_end)
    algorithm_der = bytes(data[pos:algorithm_end])
    described = describe_rsa_algorithm_der(algorithm_der) or (
        decode_oid(bytes(data[start:oid_end])),
        False,
    )
    tag, start, pos = read_head(data, algorithm_end, end)
    require_usual(tag == TAG_OCTET_STRING and pos == end)
    fields = _KeyFields(algorithm_der, (bytes(data[start:pos]),))
    der = bytes(data[at:end])
    return RecipientInfoEntry(index, "ktri", (identifier,), *described, der, fields)


def _usual_rid(data: Bytes, pos: int, end: int) -> tuple[RecipientIdentifier, int]:
    """A ktri's rid and the offset after it."""
    tag, start, rid_end = read_head(data, pos, end)
    if tag == _IMPLICIT_0:
        return RecipientIdentifier(subject_key_identifier=bytes(data[start:rid_end])), rid_end
    require_usual(tag == TAG_SEQUENCE)
    tag, _, issuer_end = read_head(data, start, rid_end)
    require_usual(tag == TAG_SEQUENCE)
    tag, serial_start, serial_end = read_head(data, issuer_end, rid_end)
    require_usual(tag == TAG_INTEGER and serial_start < serial_end == rid_end)
    serial = int.from_bytes(data[serial_start:serial_end], "big", signed=True)
    return RecipientIdentifier(issuer_der=bytes(data[start:issuer_end]), serial=serial), rid_end


def _parse_body(reader: Reader, body: Tlv, *, authenticated: bool) -> EnvelopedMessage:
    fields = reader.children(body)
    position = 0

    def take(cls: int, number: int, optional: bool = False) -> Tlv | None:
        nonlocal position
        if position < len(fields) and fields[position].is_tag(cls, number):
            position += 1
            return fields[position - 1]
        if optional:
            return None
        raise MalformedCMSError("EnvelopedData fields are missing or out of order")

    version = reader.small_integer(_expect(take(0, 2), 0, 2, "version"))
    take(CONTEXT, 0, optional=True)  # originatorInfo: not needed to decrypt
    recipients = _parse_recipient_infos(reader, _expect(take(0, 17), 0, 17, "RecipientInfos"))
    info = _expect(take(0, 16), 0, 16, "EncryptedContentInfo")
    mac = aad = None
    if authenticated:
        attributes = take(CONTEXT, 1, optional=True)
        aad = _authenticated_attributes(reader, attributes) if attributes else None
        mac = bytes(reader.octets(_expect(take(0, 4), 0, 4, "mac")))
    return _with_content_info(reader, info, authenticated, version, recipients, mac, aad)


def _with_content_info(
    reader: Reader,
    info: Tlv,
    authenticated: bool,
    version: int,
    recipients: tuple[RecipientInfoEntry, ...],
    mac: bytes | None,
    aad: bytes | None,
) -> EnvelopedMessage:
    parts = reader.children(info)
    if len(parts) < 2:
        raise MalformedCMSError("EncryptedContentInfo is incomplete")
    content_type = reader.oid(parts[0])
    algorithm = reader.children(_expect(parts[1], 0, 16, "contentEncryptionAlgorithm"))
    if not algorithm or len(algorithm) > 2:
        raise MalformedCMSError("contentEncryptionAlgorithm is malformed")
    cipher_oid = reader.oid(algorithm[0])
    parameters = bytes(reader.element(algorithm[1])) if len(algorithm) == 2 else None
    ciphertext = None
    if len(parts) > 2:
        ciphertext = reader.octets(_expect(parts[2], CONTEXT, 0, "encryptedContent"))
    return EnvelopedMessage.of(
        authenticated,
        version,
        recipients,
        (content_type, cipher_oid, parameters, ciphertext),
        mac,
        aad,
    )


def _authenticated_attributes(reader: Reader, attributes: Tlv) -> bytes:
    # RFC 5083 section 2.2: the MAC input is the DER of the SET OF, tagged SET.
    raw = bytearray(reader.element(attributes))
    raw[0] = 0x31
    if not attributes.indefinite:
        return bytes(raw)
    try:
        return bytes(cms.CMSAttributes.load(bytes(raw)).dump(force=True))
    except ValueError as exc:
        raise MalformedCMSError("authAttrs are malformed") from exc


def _parse_recipient_infos(reader: Reader, tlv: Tlv) -> tuple[RecipientInfoEntry, ...]:
    try:
        fast = _read_recipient_infos(reader, tlv)
    except (_UnusualShapeError, MalformedCMSError, ValueError):
        fast = None
    if fast is not None:
        return fast
    try:
        infos = cms.RecipientInfos.load(bytes(reader.element(tlv)))
        entries = tuple(_entry(index, info) for index, info in enumerate(infos))
    except (ValueError, TypeError, KeyError) as exc:
        raise MalformedCMSError("RecipientInfos are malformed") from exc
    if not entries:
        raise MalformedCMSError("EnvelopedData has no RecipientInfo")
    return entries


# --------------------------------------------------------------------------- RecipientInfos by TLV
# ktri and kari in the shapes encoders write are read with the TLV reader
# (asn1crypto costs more than the ECDH or RSA public-key operation); anything
# else (other recipient kinds, BER forms, unexpected fields) raises _UnusualShapeError and
# the whole SET is read by asn1crypto as before, so such input gets the same answers.


_UnusualShapeError = UnusualEncodingError
"""The RecipientInfos are not in a shape the TLV reader handles: use asn1crypto."""


def _read_recipient_infos(reader: Reader, tlv: Tlv) -> tuple[RecipientInfoEntry, ...] | None:
    entries = []
    for index, info in enumerate(reader.children(tlv)):
        require_usual(not info.indefinite)
        der = bytes(reader.element(info))
        if info.is_tag(0, 16) and info.constructed:
            entries.append(_read_ktri(reader, index, info, der))
        elif info.is_tag(CONTEXT, 1) and info.constructed:
            entries.append(_read_kari(reader, index, info, der))
        else:
            return None
    return tuple(entries) if entries else None


def _plain(reader: Reader, tlv: Tlv, tag: int) -> Tlv:
    """``tlv``, checked to have the identifier octet ``tag`` and a definite length."""
    require_usual(reader.view[tlv.start] == tag and not tlv.indefinite)
    return tlv


def _primitive_octets(reader: Reader, tlv: Tlv, tag: int = TAG_OCTET_STRING) -> bytes:
    return bytes(reader.contents(_plain(reader, tlv, tag)))


def _read_rid(reader: Reader, rid: Tlv, key_id_tag: int) -> RecipientIdentifier:
    if reader.view[rid.start] == TAG_SEQUENCE:
        issuer, serial = reader.children(_plain(reader, rid, TAG_SEQUENCE))
        raw_serial = reader.contents(_plain(reader, serial, 0x02))
        require_usual(len(raw_serial) > 0)
        return RecipientIdentifier(
            issuer_der=bytes(reader.element(_plain(reader, issuer, TAG_SEQUENCE))),
            serial=int.from_bytes(raw_serial, "big", signed=True),
        )
    if key_id_tag == _IMPLICIT_0:
        return RecipientIdentifier(subject_key_identifier=_primitive_octets(reader, rid, 0x80))
    key_id, *_ = reader.children(_plain(reader, rid, _IMPLICIT_0_CONSTRUCTED))
    return RecipientIdentifier(subject_key_identifier=_primitive_octets(reader, key_id))


def _algorithm(reader: Reader, tlv: Tlv) -> tuple[str, bytes]:
    """The OID and the DER of an AlgorithmIdentifier."""
    parts = reader.children(_plain(reader, tlv, TAG_SEQUENCE))
    require_usual(1 <= len(parts) <= 2)
    return reader.oid(parts[0]), bytes(reader.element(tlv))


def _read_ktri(reader: Reader, index: int, info: Tlv, der: bytes) -> RecipientInfoEntry:
    version, rid, algorithm, encrypted = reader.children(info)
    _plain(reader, version, 0x02)
    oid, algorithm_der = _algorithm(reader, algorithm)
    described = describe_rsa_algorithm_der(algorithm_der) or (oid, False)
    fields = _KeyFields(algorithm_der, (_primitive_octets(reader, encrypted),))
    identifier = _read_rid(reader, rid, _IMPLICIT_0)
    return RecipientInfoEntry(index, "ktri", (identifier,), *described, der, fields)


def _read_kari(reader: Reader, index: int, info: Tlv, der: bytes) -> RecipientInfoEntry:
    parts = reader.children(info)
    require_usual(len(parts) in (4, 5))
    _plain(reader, parts[0], 0x02)
    (originator,) = reader.children(_plain(reader, parts[1], _EXPLICIT_0))
    ukm = None
    if len(parts) == 5:
        (ukm_octets,) = reader.children(_plain(reader, parts[2], 0xA1))
        ukm = _primitive_octets(reader, ukm_octets)
    oid, algorithm_der = _algorithm(reader, parts[-2])
    identifiers = []
    encrypted_keys = []
    for rek in reader.children(_plain(reader, parts[-1], TAG_SEQUENCE)):
        rid, encrypted = reader.children(_plain(reader, rek, TAG_SEQUENCE))
        identifiers.append(_read_rid(reader, rid, _IMPLICIT_0_CONSTRUCTED))
        encrypted_keys.append(_primitive_octets(reader, encrypted))
    try:
        described = describe_agreement_der(algorithm_der), True
    except (UnsupportedAlgorithmError, MalformedCMSError):
        described = oid, False
    originator_der = bytes(
        reader.element(_plain(reader, originator, reader.view[originator.start]))
    )
    fields = _KeyFields(algorithm_der, tuple(encrypted_keys), originator_der, ukm)
    return RecipientInfoEntry(index, "kari", tuple(identifiers), *described, der, fields)


def _entry_from_asn1(
    index: int,
    kind: RecipientKind,
    identifiers: tuple[RecipientIdentifier, ...],
    described: tuple[str, bool],
    info: cms.RecipientInfo,
) -> RecipientInfoEntry:
    entry = RecipientInfoEntry(index, kind, identifiers, *described, bytes(info.dump()))
    entry.__dict__["info"] = info  # already parsed: what the cached property would load
    return entry


def _identifier(rid: core.Choice) -> RecipientIdentifier:
    if rid.name == "issuer_and_serial_number":
        chosen = rid.chosen
        return RecipientIdentifier(
            issuer_der=bytes(chosen["issuer"].dump()), serial=int(chosen["serial_number"].native)
        )
    if rid.name == "r_key_id":
        return RecipientIdentifier(
            subject_key_identifier=bytes(rid.chosen["subject_key_identifier"].native)
        )
    return RecipientIdentifier(subject_key_identifier=bytes(rid.chosen.native))


def _entry(index: int, info: cms.RecipientInfo) -> RecipientInfoEntry:
    kind: RecipientKind = info.name
    chosen = info.chosen
    if kind == "ktri":
        algorithm = chosen["key_encryption_algorithm"]
        described = _describe(algorithm, describe_rsa_algorithm, is_rsa_algorithm(algorithm))
        return _entry_from_asn1(index, kind, (_identifier(chosen["rid"]),), described, info)
    if kind == "kari":
        identifiers = tuple(_identifier(rek["rid"]) for rek in chosen["recipient_encrypted_keys"])
        described = _describe(chosen["key_encryption_algorithm"], describe_agreement, True)
        return _entry_from_asn1(index, kind, identifiers, described, info)
    oid = (
        chosen["ori_type"].dotted
        if kind == "ori"
        else chosen["key_encryption_algorithm"]["algorithm"].dotted
    )
    return _entry_from_asn1(index, kind, (), (str(oid), False), info)


def _describe(
    algorithm: cms.KeyEncryptionAlgorithm, describe: object, plausible: bool
) -> tuple[str, bool]:
    dotted = str(algorithm["algorithm"].dotted)
    if not plausible or not callable(describe):
        return dotted, False
    try:
        return str(describe(algorithm)), True
    except (UnsupportedAlgorithmError, MalformedCMSError):
        return dotted, False


# --------------------------------------------------------------------------- decrypting


def _compatible(entry: RecipientInfoEntry, private_key: DecryptionKey) -> bool:
    if not entry.supported:
        return False
    if entry.kind == "ktri":
        return isinstance(private_key, rsa.RSAPrivateKey)
    if entry.kind == "kari" and not isinstance(private_key, rsa.RSAPrivateKey):
        if entry.fields is not None:
            return originator_matches_key_der(private_key, entry.fields.originator_der)
        return originator_matches_key(private_key, entry.info.chosen["originator"])
    return False


def _candidates(
    message: EnvelopedMessage,
    private_key: DecryptionKey,
    certificate: x509.Certificate | None,
    try_all: bool,
) -> tuple[list[tuple[RecipientInfoEntry, int]], bool]:
    usable = [entry for entry in message.recipients if _compatible(entry, private_key)]
    if not usable:
        raise NoUsableRecipientError("no usable recipient for this key")
    if certificate is not None:
        matched = [
            (entry, position)
            for entry, position in message.recipients_for(certificate)
            if entry in usable
        ]
        if matched:
            return matched, True
        if not try_all:
            raise NoMatchingRecipientError("no recipient matches certificate")
    return [
        (entry, position) for entry in usable for position in range(len(entry.identifiers))
    ], False


def decrypt_enveloped(
    message: EnvelopedMessage | Bytes,
    private_key: DecryptionKey,
    certificate: x509.Certificate | None = None,
    *,
    try_all: bool = False,
) -> DecryptedContent:
    """Decrypt ``message`` with ``private_key`` (whose certificate is ``certificate``).

    The RecipientInfo(s) naming ``certificate`` are used.  When none does,
    :class:`NoMatchingRecipientError` is raised unless ``try_all`` (or no
    certificate is given): then every RecipientInfo of a type the key can
    use is tried in turn.  Raises :class:`NoUsableRecipientError` when no
    RecipientInfo can be used with this kind of key at all, and
    :class:`DecryptionError` ("Decryption failed") for a wrong key or
    tampered data.
    """
    if not isinstance(message, EnvelopedMessage):
        message = parse_enveloped(message)
    cipher, ciphertext = _content_to_decrypt(message)
    parameters = parse_parameters(cipher, message.parameters_der)
    candidates, by_identifier = _candidates(message, private_key, certificate, try_all)
    for entry, position in candidates:
        try:
            content = _decrypt_one(
                message, cipher, parameters, ciphertext, entry, position, private_key
            )
        except DecryptionError:
            continue
        return DecryptedContent(
            plaintext=content,
            content_type=message.content_type,
            cipher=cipher.name,
            weak=cipher.weak,
            authenticated=message.authenticated,
            recipient_index=entry.index,
            recipient=entry.identifiers[position],
            key_encryption=entry.key_encryption,
            matched_by_identifier=by_identifier,
        )
    raise DecryptionError()


def check_decryptable(message: EnvelopedMessage) -> None:
    """Raise what :func:`decrypt_enveloped` would raise before using any key.

    :class:`~smimecore.errors.MalformedCMSError` when the encryptedContent
    is absent (detached content) or its parameters are broken, and
    :class:`~smimecore.errors.UnsupportedAlgorithmError` for a content
    cipher we do not know (or one in the wrong container).  A caller can
    report these before looking for a key: they reveal nothing about keys.
    """
    cipher, _ = _content_to_decrypt(message)
    parse_parameters(cipher, message.parameters_der)


def _content_to_decrypt(message: EnvelopedMessage) -> tuple[ContentCipher, Bytes]:
    cipher = _require_cipher(message)
    if message.ciphertext is None:
        raise MalformedCMSError("EnvelopedData has no encryptedContent (detached content)")
    return cipher, message.ciphertext


def _require_cipher(message: EnvelopedMessage) -> ContentCipher:
    cipher = message.cipher
    if cipher is None:
        raise UnsupportedAlgorithmError(message.cipher_oid, "is not a supported content cipher")
    if cipher.authenticated != message.authenticated:
        # An AEAD in EnvelopedData would go unauthenticated; CBC in
        # AuthEnvelopedData has no tag to check (openssl test cms-msg).
        raise UnsupportedAlgorithmError(
            cipher.name, f"is not allowed in {'Auth' if message.authenticated else ''}EnvelopedData"
        )
    return cipher


def _decrypt_one(
    message: EnvelopedMessage,
    cipher: ContentCipher,
    parameters: ContentParameters,
    ciphertext: Bytes,
    entry: RecipientInfoEntry,
    position: int,
    private_key: DecryptionKey,
) -> memoryview:
    size = parameters.key_size(cipher)
    if entry.kind == "ktri" and isinstance(private_key, rsa.RSAPrivateKey):
        key, ok = _transported_key(entry, private_key, size)
    elif entry.kind == "kari" and not isinstance(private_key, rsa.RSAPrivateKey):
        key = _agreed_key(entry, position, private_key)
        ok = len(key) == size
    else:
        raise DecryptionError()
    content = decrypt_content_view(
        cipher,
        key if ok else os.urandom(size),
        parameters,
        ciphertext,
        tag=message.mac,
        aad=message.aad,
    )
    # A failed unwrap is only reported here, after the content decryption a
    # wrong key would have gone through (RFC 3218).
    if not ok:
        raise DecryptionError()
    return content


def _transported_key(
    entry: RecipientInfoEntry, private_key: rsa.RSAPrivateKey, size: int
) -> tuple[bytes, bool]:
    fields = entry.fields
    if fields is not None:
        return rsa_unwrap_der(private_key, fields.algorithm_der, fields.encrypted_keys[0], size)
    chosen = entry.info.chosen
    encrypted: bytes = chosen["encrypted_key"].native
    return rsa_unwrap(private_key, chosen["key_encryption_algorithm"], encrypted, size)


def _agreed_key(
    entry: RecipientInfoEntry, position: int, private_key: AgreementPrivateKey
) -> bytes:
    fields = entry.fields
    if fields is not None:
        return unwrap_agreed_der(
            private_key,
            fields.originator_der,
            fields.ukm,
            fields.algorithm_der,
            fields.encrypted_keys[position],
        )
    chosen = entry.info.chosen
    ukm = chosen["ukm"].native if chosen["ukm"].native is not None else None
    rek = chosen["recipient_encrypted_keys"][position]
    return unwrap_agreed(
        private_key,
        chosen["originator"],
        ukm,
        chosen["key_encryption_algorithm"],
        rek["encrypted_key"].native,
    )

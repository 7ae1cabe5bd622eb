"""CMS EnvelopedData (RFC 5652 section 6) and AuthEnvelopedData (RFC 5083).

Building: the constant parts are made with asn1crypto once; the RecipientInfos
and the outer layers are written by hand around the (possibly large)
encryptedContent, so the ciphertext is copied once, into the result.

Reading: :func:`parse_enveloped` reads the whole structure with the
:class:`~smimecore.pki.der.Cursor` (the ciphertext stays a view on the
input) and lists the RecipientInfos with their identifiers
(:mod:`smimecore.cms.recipients`), so a caller can match them against its
certificates before using any private key; :func:`decrypt_enveloped` then
decrypts with one (private key, certificate) pair.

Matching is linear in the number of RecipientInfos; equal RecipientInfos
cost one private-key operation, and at most ``max_attempts`` of them fail
per message.  Failures after a key is used are all :class:`DecryptionError`
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
from typing import cast

from asn1crypto import core
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, mlkem, rsa, x448, x25519
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15

from smimecore.algorithms.ciphers import (
    ContentCipher,
    ContentEncryptor,
    ContentParameters,
    content_cipher_by_name,
    content_cipher_by_oid,
    decrypt_content_view,
    parse_parameters,
)
from smimecore.algorithms.kem import (
    KemPrivateKey,
    KemPublicKey,
    KemWrapped,
    kem_fits_key,
    kem_wrap,
)
from smimecore.algorithms.keyagreement import (
    AgreementPrivateKey,
    AgreementPublicKey,
    Kdf,
    KeyAgreement,
    agree_and_wrap,
    originator_fits,
    unwrap_agreed,
)
from smimecore.algorithms.keytransport import (
    PKCS1V15_ALGORITHM_DER,
    KeyTransport,
    rsa_unwrap,
    rsa_wrap,
)
from smimecore.cms.attributes import read_attributes
from smimecore.cms.content_info import (
    AUTH_ENVELOPED_DATA_OID,
    DATA_OID,
    ENVELOPED_DATA_OID,
    close_content_info,
    open_content_info,
)
from smimecore.cms.recipients import (
    RecipientIdentifier,
    RecipientInfoEntry,
    kem_recipient_info_der,
    read_recipient_info,
)
from smimecore.errors import (
    DecryptionError,
    MalformedCMSError,
    NoMatchingRecipientError,
    NoUsableRecipientError,
    UnsupportedAlgorithmError,
)
from smimecore.lazy import cached_property, kind_of_class
from smimecore.pki.certificate import (
    PerCertificate,
    issuer_and_serial,
    key_algorithm_name,
    subject_key_identifier,
)
from smimecore.pki.der import (
    DEFAULT_LIMITS,
    TAG_OCTET_STRING,
    TAG_SEQUENCE,
    TAG_SET,
    Bytes,
    Cursor,
    ReaderLimits,
    encode_header,
    encode_tlv,
)

__all__ = [
    "AUTH_ENVELOPED_DATA_OID",
    "DATA_OID",
    "ENVELOPED_DATA_OID",
    "MAX_DECRYPTION_ATTEMPTS",
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

DecryptionKey = rsa.RSAPrivateKey | AgreementPrivateKey | KemPrivateKey
MAX_DECRYPTION_ATTEMPTS = 8
"""Private-key operations that may fail on one message before decryption gives up."""


@dataclass
class _Attempts:
    """Private-key operations that failed on one message (shared by every key tried on it)."""

    failed: int = 0


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

    @property
    def attempts(self) -> _Attempts:
        """The private-key operations that failed on this message (shared by every key)."""
        found = self.__dict__.get("_attempts")
        if found is None:  # frozen: kept beside the fields
            found = self.__dict__["_attempts"] = _Attempts()
        return found

    def recipients_for(self, certificate: x509.Certificate) -> list[tuple[RecipientInfoEntry, int]]:
        """The (RecipientInfo, identifier index) pairs naming ``certificate``."""
        return self._naming(certificate, first_only=False)

    def names(self, certificate: x509.Certificate) -> bool:
        """Whether some RecipientInfo names ``certificate`` (``recipients_for`` is not empty)."""
        return bool(self._naming(certificate, first_only=True))

    def _naming(
        self, certificate: x509.Certificate, *, first_only: bool
    ) -> list[tuple[RecipientInfoEntry, int]]:
        """Each identifier is compared once however often it occurs (linear in the entries)."""
        known: dict[RecipientIdentifier, bool] = {}
        naming = []
        for entry in self.recipients:
            for position, identifier in enumerate(entry.identifiers):
                found = known.get(identifier)
                if found is None:
                    found = known[identifier] = identifier.matches(certificate)
                if found:
                    naming.append((entry, position))
                    if first_only:
                        return naming
        return naming

    def content_parameters(self, cipher: ContentCipher) -> ContentParameters:
        """The content-encryption parameters, read once (``cipher`` is :attr:`cipher`)."""
        found = self.__dict__.get("_parameters")
        if found is None:  # frozen: remembered beside the fields
            found = self.__dict__["_parameters"] = parse_parameters(cipher, self.parameters_der)
        return found


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
    :func:`smimecore.algorithms.keyagreement.agree_and_wrap`.  ML-KEM-768
    and ML-KEM-1024 keys get a KEMRecipientInfo (RFC 9629) with RFC 9936's
    defaults, HKDF-SHA256 and AES-256 key wrap, and ``ukm`` when given.
    """

    certificate: x509.Certificate
    use_subject_key_identifier: bool = False
    rsa_oaep: bool = False
    oaep_hash: str = "sha256"
    kdf: Kdf | None = None
    kdf_hash: str | None = None
    ukm: bytes | None = field(default=None, repr=False)


# --------------------------------------------------------------------------- building


_INTEGERS = {n: bytes(core.Integer(n).dump()) for n in (0, 2, 3)}
_PKCS1V15 = PKCS1v15()
_KARI_TAG = 0xA1  # RecipientInfo kari: [1] IMPLICIT KeyAgreeRecipientInfo
_EXPLICIT_0 = 0xA0
_IMPLICIT_0 = 0x80  # ktri subjectKeyIdentifier: [0] IMPLICIT OCTET STRING
_IMPLICIT_0_CONSTRUCTED = 0xA0  # kari rKeyId: [0] IMPLICIT RecipientKeyIdentifier
_TAG_LENGTH = 16  # the AEAD tag we write (GCM icv_len 16, ChaCha20-Poly1305)
_AGREEMENT_KEYS = (ec.EllipticCurvePublicKey, x25519.X25519PublicKey, x448.X448PublicKey)
_KEM_KEYS = (mlkem.MLKEM768PublicKey, mlkem.MLKEM1024PublicKey)
_KEM_PRIVATE_KEYS = (mlkem.MLKEM768PrivateKey, mlkem.MLKEM1024PrivateKey)


def _issuer_and_serial_der(certificate: x509.Certificate) -> bytes:
    """The DER IssuerAndSerialNumber naming ``certificate`` (its own encodings, no key parsed)."""
    return encode_tlv(TAG_SEQUENCE, *issuer_and_serial(certificate))


_RecipientKey = tuple[
    rsa.RSAPublicKey
    | ec.EllipticCurvePublicKey
    | x25519.X25519PublicKey
    | x448.X448PublicKey
    | KemPublicKey,
    bytes,
    bytes,
    str,
]


def _key_of(certificate: x509.Certificate) -> _RecipientKey:
    """The public key, its rids (issuerAndSerialNumber, key id) and the RecipientInfo kind it
    takes (``ktri``, ``kemri`` or ``kari``)."""
    try:
        public_key = certificate.public_key()
    except (ValueError, UnsupportedAlgorithm):  # ML-KEM-512, or a key cryptography cannot read
        raise UnsupportedAlgorithmError(
            key_algorithm_name(certificate),
            "keys cannot be read by the cryptography package, so cannot receive encrypted content",
        ) from None
    if isinstance(public_key, (rsa.RSAPublicKey, *_KEM_KEYS)):
        key_id = encode_tlv(_IMPLICIT_0, subject_key_identifier(certificate))
        kind = "ktri" if isinstance(public_key, rsa.RSAPublicKey) else "kemri"
        return public_key, _issuer_and_serial_der(certificate), key_id, kind
    if isinstance(public_key, _AGREEMENT_KEYS):
        key_id = encode_tlv(
            _IMPLICIT_0_CONSTRUCTED,
            encode_tlv(TAG_OCTET_STRING, subject_key_identifier(certificate)),
        )
        return public_key, _issuer_and_serial_der(certificate), key_id, "kari"
    raise UnsupportedAlgorithmError(
        type(public_key).__name__.removeprefix("_"), "keys cannot receive encrypted content"
    )


_recipient_key = PerCertificate(_key_of)
"""A recipient certificate's key and identifiers: worked out once per certificate."""


def _recipient_info_der(recipient: EncryptionRecipient, key: bytes) -> tuple[bytes, int]:
    """One RecipientInfo as DER, and the EnvelopedData version it requires (RFC 5652
    section 6.1: 0 for a version 0 ktri, 3 with an ori, else 2).

    Written without asn1crypto objects: building each RecipientInfo with
    asn1crypto costs more than the RSA public-key operation; the public key
    and identifier of a certificate are worked out once and cached, the
    rest is a few TLVs around the wrapped key.
    """
    by_key_id = recipient.use_subject_key_identifier
    public_key, named_by_issuer, key_id, kind = _recipient_key(recipient.certificate)
    rid = key_id if by_key_id else named_by_issuer
    if kind == "kemri":
        kem_key = cast(KemPublicKey, public_key)
        return kem_recipient_info_der(rid, kem_wrap(kem_key, key, ukm=recipient.ukm)), 3
    if kind == "ktri":
        rsa_key = cast(rsa.RSAPublicKey, public_key)
        if recipient.rsa_oaep:
            algorithm, encrypted = rsa_wrap(rsa_key, key, oaep_hash=recipient.oaep_hash)
        else:
            algorithm, encrypted = PKCS1V15_ALGORITHM_DER, rsa_key.encrypt(key, _PKCS1V15)
        version = 2 if by_key_id else 0
        body = _tlv(
            TAG_SEQUENCE,
            _INTEGERS[version],
            rid,
            algorithm,
            _tlv(TAG_OCTET_STRING, encrypted),
        )
        return body, version
    agreement_key = cast(AgreementPublicKey, public_key)
    originator, algorithm, encrypted = agree_and_wrap(
        agreement_key, key, kdf=recipient.kdf, kdf_hash=recipient.kdf_hash
    )
    encrypted_keys = _tlv(TAG_SEQUENCE, _tlv(TAG_SEQUENCE, rid, _tlv(TAG_OCTET_STRING, encrypted)))
    body = _tlv(_KARI_TAG, _INTEGERS[3], _tlv(_EXPLICIT_0, originator), algorithm, encrypted_keys)
    return body, 2


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
    # RFC 5652 section 6.1 (AuthEnvelopedData, RFC 5083: always 0).
    version = 0 if chosen.authenticated else max(v for _, v in infos)
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


# --------------------------------------------------------------------------- reading

_TYPES = {ENVELOPED_DATA_OID: "enveloped-data", AUTH_ENVELOPED_DATA_OID: "authenveloped-data"}
_ENVELOPED = ("EnvelopedData", frozenset({0, 2, 3, 4}))
_AUTH_ENVELOPED = ("AuthEnvelopedData", frozenset({0}))


def parse_enveloped(data: Bytes, limits: ReaderLimits = DEFAULT_LIMITS) -> EnvelopedMessage:
    """Read a DER/BER ContentInfo holding EnvelopedData or AuthEnvelopedData.

    The ciphertext stays a view on ``data`` (keep ``data`` alive and
    unchanged until decrypted).  Raises :class:`MalformedCMSError` naming
    the field for broken data and for other content types.
    """
    outer_type, cursor = open_content_info(data, _TYPES, limits)
    authenticated = outer_type == AUTH_ENVELOPED_DATA_OID
    what, versions = _AUTH_ENVELOPED if authenticated else _ENVELOPED
    cursor.enter(TAG_SEQUENCE, what)
    version = cursor.version(f"{what}.version", versions)
    if cursor.peek() == 0xA0:
        _skip_originator_info(cursor, f"{what}.originatorInfo")
    recipients: list[RecipientInfoEntry] = []
    cursor.enter(TAG_SET, "RecipientInfos")
    while cursor.pos < cursor.end:
        if len(recipients) >= limits.max_recipient_infos:
            raise MalformedCMSError(f"RecipientInfos: more than {limits.max_recipient_infos}")
        recipients.append(read_recipient_info(cursor, len(recipients)))
    cursor.leave("RecipientInfos")
    if not recipients:
        raise MalformedCMSError("RecipientInfos: empty (at least one is required)")
    info = _read_encrypted_content_info(cursor, "EncryptedContentInfo")
    mac = aad = None
    if authenticated:
        if cursor.peek() == 0xA1:
            aad = read_attributes(cursor, 0xA1, f"{what}.authAttrs").der()
        mac = cursor.octets(f"{what}.mac")
        if cursor.more():
            read_attributes(cursor, 0xA2, f"{what}.unauthAttrs")
    elif cursor.more():
        read_attributes(cursor, 0xA1, f"{what}.unprotectedAttrs")
    cursor.leave(what)
    close_content_info(cursor)
    content_type, cipher_oid, parameters, ciphertext = info
    cipher = content_cipher_by_oid(cipher_oid)
    return EnvelopedMessage(
        authenticated, version, content_type, cipher_oid, cipher, tuple(recipients),
        ciphertext is not None, parameters, ciphertext, mac, aad,
    )  # fmt: skip


def _skip_originator_info(cursor: Cursor, what: str) -> None:
    """OriginatorInfo ::= SEQUENCE { certs [0] OPTIONAL, crls [1] OPTIONAL }: not needed."""
    cursor.enter(0xA0, what)
    for tag in (0xA0, 0xA1):
        if cursor.peek() == tag:
            cursor.expect(tag, what)
    cursor.leave(what)


def _read_encrypted_content_info(
    cursor: Cursor, what: str
) -> tuple[str, str, bytes | None, Bytes | None]:
    """(Auth)EncryptedContentInfo: content type, cipher OID, its parameters, the ciphertext."""
    cursor.enter(TAG_SEQUENCE, what)
    content_type = cursor.oid(f"{what}.contentType")
    algorithm = cursor.algorithm(f"{what}.contentEncryptionAlgorithm")
    ciphertext = None
    if cursor.more():
        ciphertext = cursor.octets_view(f"{what}.encryptedContent", 0x80)
    cursor.leave(what)
    return content_type, algorithm.oid, algorithm.parameters, ciphertext


# --------------------------------------------------------------------------- decrypting


def _usable_by(private_key: DecryptionKey) -> Callable[[RecipientInfoEntry], bool]:
    """Whether a RecipientInfo is of a kind ``private_key`` can use (the key's kind found once)."""
    kind = _key_recipient_kind(private_key)
    if kind == "ktri":
        return lambda entry: entry.supported and entry.kind == "ktri"
    if kind == "kemri":
        return lambda entry: (
            entry.supported
            and isinstance(entry.method, KemWrapped)
            and kem_fits_key(private_key, entry.method.kem_oid)
        )
    agreement_key = cast(AgreementPrivateKey, private_key)
    return lambda entry: (
        entry.supported
        and entry.kind == "kari"
        and originator_fits(agreement_key, entry.originator)
    )


def _key_recipient_kind(private_key: object) -> str:
    """The RecipientInfo kind ``private_key`` serves: ``ktri`` (RSA), ``kemri`` (ML-KEM) or
    ``kari`` (any other key: key agreement decides whether it fits)."""
    kind = kind_of_class(type(private_key), _KEY_RECIPIENT_KINDS, _RECIPIENT_KIND_OF_TYPE)
    return kind or "kari"


_KEY_RECIPIENT_KINDS = (("ktri", rsa.RSAPrivateKey), *(("kemri", key) for key in _KEM_PRIVATE_KEYS))
_RECIPIENT_KIND_OF_TYPE: dict[type, str | None] = {}


def _candidates(
    message: EnvelopedMessage,
    private_key: DecryptionKey,
    certificate: x509.Certificate | None,
    try_all: bool,
) -> tuple[list[tuple[RecipientInfoEntry, int]], bool]:
    usable = _usable_by(private_key)
    if certificate is not None:
        naming = message.recipients_for(certificate)
        named = [pair for pair in naming if usable(pair[0])]
        if named:
            return named, True
        # A KEMRecipientInfo for this certificate that no key can use: say why (its public
        # fields alone decide this, so it tells nothing about the key).  Still a "no usable
        # recipient": the caller may have other keys the message names.
        problem = next((entry.problem for entry, _ in naming if entry.problem is not None), None)
        if problem is not None:
            raise NoUsableRecipientError(
                f"the recipient for this certificate is unusable: {problem}"
            )
    entries = [entry for entry in message.recipients if usable(entry)]
    if not entries:
        raise NoUsableRecipientError("no usable recipient for this key")
    if certificate is not None and not try_all:
        raise NoMatchingRecipientError("no recipient matches certificate")
    return [
        (entry, position) for entry in entries for position in range(len(entry.identifiers))
    ], False


def decrypt_enveloped(
    message: EnvelopedMessage | Bytes,
    private_key: DecryptionKey,
    certificate: x509.Certificate | None = None,
    *,
    try_all: bool = False,
    max_attempts: int = MAX_DECRYPTION_ATTEMPTS,
) -> DecryptedContent:
    """Decrypt ``message`` with ``private_key`` (whose certificate is ``certificate``).

    The RecipientInfo(s) naming ``certificate`` are used.  When none does,
    :class:`NoMatchingRecipientError` is raised unless ``try_all`` (or no
    certificate is given): then every RecipientInfo of a type the key can
    use is tried in turn.  RecipientInfos asking for the same private-key
    operation are tried once, and once ``max_attempts`` operations have
    failed on this message (whichever keys were tried) no more are made.
    Raises :class:`NoUsableRecipientError` when no RecipientInfo can be
    used with this kind of key at all, and :class:`DecryptionError`
    ("Decryption failed") for a wrong key, tampered data or too many attempts.
    """
    if not isinstance(message, EnvelopedMessage):
        message = parse_enveloped(message)
    cipher, ciphertext = _content_to_decrypt(message)
    parameters = message.content_parameters(cipher)
    candidates, by_identifier = _candidates(message, private_key, certificate, try_all)
    tried: set[tuple[object, ...]] = set()
    for entry, position in candidates:
        operation = entry.operation(position)
        if operation in tried:
            continue
        if message.attempts.failed >= max_attempts:
            break
        tried.add(operation)
        try:
            content = _decrypt_one(
                message, cipher, parameters, ciphertext, entry, position, private_key
            )
        except DecryptionError:
            message.attempts.failed += 1
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
    message.content_parameters(cipher)


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
    method, encrypted_key = entry.method, entry.encrypted_keys[position]
    kind = _key_recipient_kind(private_key)
    if isinstance(method, KeyTransport) and kind == "ktri":
        rsa_key = cast(rsa.RSAPrivateKey, private_key)
        key, ok = rsa_unwrap(rsa_key, method, encrypted_key, size)
    elif isinstance(method, KeyAgreement) and entry.originator is not None and kind == "kari":
        agreement_key = cast(AgreementPrivateKey, private_key)
        key = unwrap_agreed(agreement_key, method, entry.originator, entry.ukm, encrypted_key)
        ok = len(key) == size
    elif isinstance(method, KemWrapped) and kind == "kemri":
        # From decapsulation on, every failure is the same DecryptionError (no oracle).
        key = method.unwrap(cast(KemPrivateKey, private_key))
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

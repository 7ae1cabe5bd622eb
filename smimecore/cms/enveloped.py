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
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from asn1crypto import cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa, x448, x25519
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.serialization import Encoding

from smimecore.algorithms.ciphers import (
    ContentCipher,
    ContentParameters,
    content_cipher_by_name,
    content_cipher_by_oid,
    decrypt_content,
    encrypt_content,
    parse_parameters,
)
from smimecore.algorithms.keyagreement import (
    AgreementPrivateKey,
    Kdf,
    agree_and_wrap,
    describe_agreement,
    originator_matches_key,
    unwrap_agreed,
)
from smimecore.algorithms.keytransport import (
    describe_rsa_algorithm,
    is_rsa_algorithm,
    rsa_unwrap,
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
    TAG_OCTET_STRING,
    TAG_SEQUENCE,
    TAG_SET,
    Reader,
    Tlv,
    encode_header,
    encode_tlv,
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
    "parse_enveloped",
]

DATA_OID = "1.2.840.113549.1.7.1"
ENVELOPED_DATA_OID = "1.2.840.113549.1.7.3"
AUTH_ENVELOPED_DATA_OID = "1.2.840.113549.1.9.16.1.23"

DecryptionKey = rsa.RSAPrivateKey | AgreementPrivateKey
RecipientKind = Literal["ktri", "kari", "kekri", "pwri", "ori"]
Bytes = bytes | bytearray | memoryview


@dataclass(frozen=True)
class RecipientIdentifier:
    """Who a RecipientInfo is for: issuer and serial number, or subjectKeyIdentifier."""

    issuer_der: bytes | None = None
    serial: int | None = None
    subject_key_identifier: bytes | None = None

    def matches(self, certificate: x509.Certificate) -> bool:
        """Whether ``certificate`` is the one this identifier names."""
        if self.subject_key_identifier is not None:
            return subject_key_identifier(certificate) == self.subject_key_identifier
        if self.issuer_der is None or certificate.serial_number != self.serial:
            return False
        issuer = certificate.issuer.public_bytes()
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
    info: cms.RecipientInfo = field(repr=False, compare=False)


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

    def recipients_for(self, certificate: x509.Certificate) -> list[tuple[RecipientInfoEntry, int]]:
        """The (RecipientInfo, identifier index) pairs naming ``certificate``."""
        return [
            (entry, position)
            for entry in self.recipients
            for position, identifier in enumerate(entry.identifiers)
            if identifier.matches(certificate)
        ]


@dataclass(frozen=True)
class DecryptedContent:
    """The result of :func:`decrypt_enveloped`, with what the status layer reports."""

    content: bytes = field(repr=False)
    content_type: str
    cipher: str
    weak: bool
    authenticated: bool
    recipient_index: int
    recipient: RecipientIdentifier
    key_encryption: str
    matched_by_identifier: bool


@dataclass(frozen=True)
class EncryptionRecipient:
    """A recipient to encrypt for: its certificate and how to identify and reach it.

    RSA keys get PKCS#1 v1.5 key transport unless ``rsa_oaep`` (then
    OAEP with ``oaep_hash``).  EC, X25519 and X448 keys get ECDH; ``kdf`` /
    ``kdf_hash`` override the defaults of
    :func:`smimecore.algorithms.keyagreement.agree_and_wrap`.
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
_PKCS1V15_ALGORITHM = bytes(cms.KeyEncryptionAlgorithm({"algorithm": "rsaes_pkcs1v15"}).dump())
_KARI_TAG = 0xA1  # RecipientInfo kari: [1] IMPLICIT KeyAgreeRecipientInfo
_EXPLICIT_0 = 0xA0
_IMPLICIT_0 = 0x80  # ktri subjectKeyIdentifier: [0] IMPLICIT OCTET STRING
_IMPLICIT_0_CONSTRUCTED = 0xA0  # kari rKeyId: [0] IMPLICIT RecipientKeyIdentifier


@functools.lru_cache(maxsize=1024)
def _issuer_and_serial_der(certificate: x509.Certificate) -> bytes:
    return bytes(_issuer_and_serial(certificate).dump())


def _recipient_info_der(recipient: EncryptionRecipient, key: bytes) -> tuple[bytes, int]:
    """One RecipientInfo as DER and its version, written without asn1crypto objects.

    Building each RecipientInfo with asn1crypto costs more than the RSA
    public-key operation; the identifier of a certificate is encoded once
    and cached, the rest is a few TLVs around the wrapped key.
    """
    certificate = recipient.certificate
    public_key = certificate.public_key()
    by_key_id = recipient.use_subject_key_identifier
    if isinstance(public_key, rsa.RSAPublicKey):
        if recipient.rsa_oaep:
            algorithm_value, encrypted = rsa_wrap(public_key, key, oaep_hash=recipient.oaep_hash)
            algorithm = bytes(algorithm_value.dump())
        else:
            algorithm, encrypted = _PKCS1V15_ALGORITHM, public_key.encrypt(key, PKCS1v15())
        rid = (
            encode_tlv(_IMPLICIT_0, subject_key_identifier(certificate))
            if by_key_id
            else _issuer_and_serial_der(certificate)
        )
        version = 2 if by_key_id else 0
        body = encode_tlv(
            TAG_SEQUENCE,
            _INTEGERS[version],
            rid,
            algorithm,
            encode_tlv(TAG_OCTET_STRING, encrypted),
        )
        return body, version
    if isinstance(
        public_key, ec.EllipticCurvePublicKey | x25519.X25519PublicKey | x448.X448PublicKey
    ):
        originator, algorithm_value, encrypted = agree_and_wrap(
            public_key, key, kdf=recipient.kdf, kdf_hash=recipient.kdf_hash
        )
        rid = (
            encode_tlv(
                _IMPLICIT_0_CONSTRUCTED,
                encode_tlv(TAG_OCTET_STRING, subject_key_identifier(certificate)),
            )
            if by_key_id
            else _issuer_and_serial_der(certificate)
        )
        encrypted_keys = encode_tlv(
            TAG_SEQUENCE, encode_tlv(TAG_SEQUENCE, rid, encode_tlv(TAG_OCTET_STRING, encrypted))
        )
        body = encode_tlv(
            _KARI_TAG,
            _INTEGERS[3],
            encode_tlv(_EXPLICIT_0, bytes(originator.dump())),
            bytes(algorithm_value.dump()),
            encrypted_keys,
        )
        return body, 3
    raise UnsupportedAlgorithmError(
        type(public_key).__name__.removeprefix("_"), "keys cannot receive encrypted content"
    )


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
    if not recipients:
        raise ValueError("at least one recipient is needed")
    chosen = content_cipher_by_name(cipher, for_encryption=True)
    key = os.urandom(chosen.key_size)
    infos = [_recipient_info_der(recipient, key) for recipient in recipients]
    parameters, ciphertext, tag = encrypt_content(chosen, key, content)
    del key
    # RFC 5652 section 6.1: v2 as soon as a RecipientInfo is not v0.
    version = 0 if chosen.authenticated or all(v == 0 for _, v in infos) else 2
    # DER orders a SET OF by the encodings of its elements (as asn1crypto does).
    head = _INTEGERS[version] + encode_tlv(TAG_SET, *sorted(der for der, _ in infos))
    tail = encode_tlv(TAG_OCTET_STRING, tag) if tag is not None else b""
    info_head = _oid_tlv(content_type) + encode_tlv(TAG_SEQUENCE, _oid_tlv(chosen.oid), parameters)
    outer_oid = _oid_tlv(AUTH_ENVELOPED_DATA_OID if chosen.authenticated else ENVELOPED_DATA_OID)
    return _splice(outer_oid, head, info_head, ciphertext, tail)


def _splice(
    outer_oid: bytes, head: bytes, info_head: bytes, ciphertext: Bytes, tail: bytes
) -> bytes:
    content_header = encode_header(0x80, len(ciphertext))  # [0] IMPLICIT OCTET STRING
    info_length = len(info_head) + len(content_header) + len(ciphertext)
    info_header = encode_header(TAG_SEQUENCE, info_length)
    body_length = len(head) + len(info_header) + info_length + len(tail)
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
            ciphertext,
            tail,
        )
    )


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
    reader = Reader(data)
    top = _expect(reader.read(0), 0, 16, "ContentInfo")
    outer = reader.child_list(top)
    if len(outer) != 2:
        raise MalformedCMSError("ContentInfo must hold a content type and a content")
    outer_type = reader.oid(outer[0])
    if outer_type not in (ENVELOPED_DATA_OID, AUTH_ENVELOPED_DATA_OID):
        raise MalformedCMSError(f"content type {outer_type} is not (Auth)EnvelopedData")
    explicit = _expect(outer[1], CONTEXT, 0, "content [0]")
    inner = reader.child_list(explicit)
    if len(inner) != 1:
        raise MalformedCMSError("ContentInfo content must hold exactly one value")
    body = _expect(inner[0], 0, 16, "EnvelopedData")
    return _parse_body(reader, body, authenticated=outer_type == AUTH_ENVELOPED_DATA_OID)


def _parse_body(reader: Reader, body: Tlv, *, authenticated: bool) -> EnvelopedMessage:
    fields = reader.child_list(body)
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
    parts = reader.child_list(info)
    if len(parts) < 2:
        raise MalformedCMSError("EncryptedContentInfo is incomplete")
    content_type = reader.oid(parts[0])
    algorithm = reader.child_list(_expect(parts[1], 0, 16, "contentEncryptionAlgorithm"))
    if not algorithm or len(algorithm) > 2:
        raise MalformedCMSError("contentEncryptionAlgorithm is malformed")
    cipher_oid = reader.oid(algorithm[0])
    parameters = bytes(reader.element(algorithm[1])) if len(algorithm) == 2 else None
    ciphertext = None
    if len(parts) > 2:
        ciphertext = reader.octets(_expect(parts[2], CONTEXT, 0, "encryptedContent"))
    return EnvelopedMessage(
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
        infos = cms.RecipientInfos.load(bytes(reader.element(tlv)))
        entries = tuple(_entry(index, info) for index, info in enumerate(infos))
    except (ValueError, TypeError, KeyError) as exc:
        raise MalformedCMSError("RecipientInfos are malformed") from exc
    if not entries:
        raise MalformedCMSError("EnvelopedData has no RecipientInfo")
    return entries


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
        described, supported = _describe(
            algorithm, describe_rsa_algorithm, is_rsa_algorithm(algorithm)
        )
        return RecipientInfoEntry(
            index, kind, (_identifier(chosen["rid"]),), described, supported, info
        )
    if kind == "kari":
        identifiers = tuple(_identifier(rek["rid"]) for rek in chosen["recipient_encrypted_keys"])
        described, supported = _describe(
            chosen["key_encryption_algorithm"], describe_agreement, True
        )
        return RecipientInfoEntry(index, kind, identifiers, described, supported, info)
    oid = (
        chosen["ori_type"].dotted
        if kind == "ori"
        else chosen["key_encryption_algorithm"]["algorithm"].dotted
    )
    return RecipientInfoEntry(index, kind, (), str(oid), False, info)


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
            content=content,
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
) -> bytes:
    chosen = entry.info.chosen
    if entry.kind == "ktri" and isinstance(private_key, rsa.RSAPrivateKey):
        key, ok = rsa_unwrap(
            private_key,
            chosen["key_encryption_algorithm"],
            chosen["encrypted_key"].native,
            parameters.key_size(cipher),
        )
    elif entry.kind == "kari" and not isinstance(private_key, rsa.RSAPrivateKey):
        ukm = chosen["ukm"].native if chosen["ukm"].native is not None else None
        rek = chosen["recipient_encrypted_keys"][position]
        key = unwrap_agreed(
            private_key,
            chosen["originator"],
            ukm,
            chosen["key_encryption_algorithm"],
            rek["encrypted_key"].native,
        )
        ok = len(key) == parameters.key_size(cipher)
    else:
        raise DecryptionError()
    content = decrypt_content(
        cipher,
        key if ok else os.urandom(parameters.key_size(cipher)),
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

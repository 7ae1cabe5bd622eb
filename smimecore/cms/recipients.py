"""RecipientInfo (RFC 5652 section 6.2): every kind read into one :class:`RecipientInfoEntry`.

ktri and kari are read in full, with their identifiers, so a caller can
match them against its certificates before using any private key; kekri
and pwri are read for their key-encryption algorithm, ori for its oriType.
An ori whose oriType has a reader in :data:`OTHER_RECIPIENT_READERS` is
read by it: KEMRecipientInfo (RFC 9629, ML-KEM recipients) is read, and
written, here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from asn1crypto import core

from smimecore.algorithms.kem import ID_ORI_KEM, KemWrapped
from smimecore.algorithms.keyagreement import KeyAgreement, OriginatorKey, key_agreement
from smimecore.algorithms.keytransport import KeyTransport, key_transport
from smimecore.cms.content_info import (
    CertificateIdentifier,
    read_identifier,
    read_issuer_and_serial,
)
from smimecore.errors import MalformedCMSError, SmimeError, UnsupportedAlgorithmError
from smimecore.pki.der import (
    TAG_BIT_STRING,
    TAG_OCTET_STRING,
    TAG_SEQUENCE,
    AlgorithmIdentifier,
    Cursor,
    encode_tlv,
    tag_name,
)

__all__ = [
    "OTHER_RECIPIENT_READERS",
    "RecipientIdentifier",
    "RecipientInfoEntry",
    "RecipientKind",
    "kem_recipient_info_der",
    "read_recipient_info",
]

RecipientKind = Literal["ktri", "kari", "kekri", "pwri", "ori"]
RecipientIdentifier = CertificateIdentifier
"""Who a RecipientInfo is for: issuer and serial number, or subjectKeyIdentifier."""


@dataclass(frozen=True)
class RecipientInfoEntry:
    """One RecipientInfo of the message, as read.

    ``identifiers`` holds the ktri's rid, or one rid per RecipientEncryptedKey
    of a kari (or the rid of a KEMRecipientInfo; empty for the other kinds),
    and ``encrypted_keys`` the encrypted key of each (one for ktri, kekri,
    pwri and KEMRecipientInfo).  ``key_encryption`` names the algorithm
    (``rsaes-oaep-sha256``, ``ecdh-x963-sha256+aes128-wrap``,
    ``ml-kem-768+hkdf-sha256+aes256-wrap``, or a dotted OID when unknown; an
    unread ori's oriType); ``supported`` tells whether we could use it with a
    matching key, ``method`` (not compared) being the algorithm read, and
    ``problem`` (not compared) why a KEMRecipientInfo cannot be used, named
    from its public fields alone.  ``originator`` is a kari's ephemeral key,
    ``ukm`` its (or a KEMRecipientInfo's) user keying material; ``other`` an
    ori's oriValue, a kekri's key identifier or a pwri's
    keyDerivationAlgorithm, as received.
    """

    index: int
    kind: RecipientKind
    identifiers: tuple[RecipientIdentifier, ...]
    key_encryption: str
    supported: bool
    algorithm: AlgorithmIdentifier | None = field(default=None, repr=False)
    encrypted_keys: tuple[bytes, ...] = field(default=(), repr=False)
    originator: OriginatorKey | None = field(default=None, repr=False)
    ukm: bytes | None = field(default=None, repr=False)
    other: bytes | None = field(default=None, repr=False)
    method: KeyTransport | KeyAgreement | KemWrapped | None = field(
        default=None, repr=False, compare=False
    )
    problem: SmimeError | None = field(default=None, repr=False, compare=False)

    def operation(self, position: int) -> tuple[object, ...]:
        """What the private-key operation for identifier ``position`` takes: equal values
        give equal results, so one is enough."""
        return (
            self.kind,
            self.algorithm,
            self.encrypted_keys[position],
            self.originator,
            self.ukm,
            self.other,
        )


OtherRecipientReader = Callable[[Cursor, int, str], RecipientInfoEntry]
"""Reads an ori's oriValue at the cursor: (cursor, index, field name) -> the entry."""

OTHER_RECIPIENT_READERS: dict[str, OtherRecipientReader] = {}
"""Readers of OtherRecipientInfo values by oriType (dotted OID)."""

_KTRI_VERSIONS = frozenset({0, 2})
_KARI_VERSIONS = frozenset({3})
_KEKRI_VERSIONS = frozenset({4})
_PWRI_VERSIONS = frozenset({0})


def read_recipient_info(cursor: Cursor, index: int) -> RecipientInfoEntry:
    """The RecipientInfo at the cursor (the ``index``-th of its SET)."""
    tag = cursor.peek()
    if tag == TAG_SEQUENCE:
        return _read_ktri(cursor, index)
    reader = _READERS.get(tag or 0)
    if reader is None:
        raise MalformedCMSError(
            f"RecipientInfo: expected SEQUENCE or [1]..[4] (constructed), got {tag_name(tag)}"
        )
    return reader(cursor, index)


def _read_ktri(cursor: Cursor, index: int) -> RecipientInfoEntry:
    cursor.enter(TAG_SEQUENCE, "KeyTransRecipientInfo")
    cursor.version("KeyTransRecipientInfo.version", _KTRI_VERSIONS)
    rid = read_identifier(cursor, "KeyTransRecipientInfo.rid")
    algorithm = cursor.algorithm("KeyTransRecipientInfo.keyEncryptionAlgorithm")
    encrypted_key = cursor.octets("KeyTransRecipientInfo.encryptedKey")
    cursor.leave("KeyTransRecipientInfo")
    try:
        method = key_transport(algorithm)
    except (UnsupportedAlgorithmError, MalformedCMSError):
        method = None
    name = method.name if method is not None else algorithm.oid
    return RecipientInfoEntry(
        index, "ktri", (rid,), name, method is not None, algorithm, (encrypted_key,), method=method
    )


def _read_kari(cursor: Cursor, index: int) -> RecipientInfoEntry:
    cursor.enter(0xA1, "KeyAgreeRecipientInfo")
    cursor.version("KeyAgreeRecipientInfo.version", _KARI_VERSIONS)
    cursor.enter(0xA0, "KeyAgreeRecipientInfo.originator")
    originator = _read_originator(cursor, "KeyAgreeRecipientInfo.originator")
    cursor.leave("KeyAgreeRecipientInfo.originator")
    ukm = None
    if cursor.peek() == 0xA1:
        cursor.enter(0xA1, "KeyAgreeRecipientInfo.ukm")
        ukm = cursor.octets("KeyAgreeRecipientInfo.ukm")
        cursor.leave("KeyAgreeRecipientInfo.ukm")
    algorithm = cursor.algorithm("KeyAgreeRecipientInfo.keyEncryptionAlgorithm")
    identifiers: list[RecipientIdentifier] = []
    encrypted_keys: list[bytes] = []
    field_name = "KeyAgreeRecipientInfo.recipientEncryptedKeys"
    cursor.enter(TAG_SEQUENCE, field_name)
    while cursor.more():
        cursor.enter(TAG_SEQUENCE, "RecipientEncryptedKey")
        identifiers.append(_read_kari_rid(cursor, "RecipientEncryptedKey.rid"))
        encrypted_keys.append(cursor.octets("RecipientEncryptedKey.encryptedKey"))
        cursor.leave("RecipientEncryptedKey")
    cursor.leave(field_name)
    cursor.leave("KeyAgreeRecipientInfo")
    try:
        method: KeyAgreement | None = key_agreement(algorithm)
    except (UnsupportedAlgorithmError, MalformedCMSError):
        method = None
    return RecipientInfoEntry(
        index,
        "kari",
        tuple(identifiers),
        method.name if method is not None else algorithm.oid,
        method is not None and originator is not None,
        algorithm,
        tuple(encrypted_keys),
        originator,
        ukm,
        method=method,
    )


def _read_originator(cursor: Cursor, what: str) -> OriginatorKey | None:
    """OriginatorIdentifierOrKey: the ephemeral originatorKey, or ``None`` for a static
    originator named by certificate (static-static ECDH, which we do not support)."""
    tag = cursor.peek()
    if tag == 0xA1:
        cursor.enter(0xA1, f"{what}.originatorKey")
        algorithm = cursor.algorithm(f"{what}.originatorKey.algorithm")
        start, stop = cursor.expect(TAG_BIT_STRING, f"{what}.originatorKey.publicKey")
        cursor.leave(f"{what}.originatorKey")
        bits = cursor.data[start:stop]
        if not bits or bits[0] > 7:
            raise MalformedCMSError(f"{what}.originatorKey.publicKey: malformed BIT STRING")
        return (algorithm.oid, bytes(bits[1:])) if bits[0] == 0 else None
    read_identifier(cursor, what)
    return None


def _read_kari_rid(cursor: Cursor, what: str) -> RecipientIdentifier:
    """KeyAgreeRecipientIdentifier: issuerAndSerialNumber or [0] IMPLICIT RecipientKeyIdentifier."""
    if cursor.peek() != 0xA0:
        return read_issuer_and_serial(cursor, what)
    cursor.enter(0xA0, f"{what}.rKeyId")
    key_identifier = cursor.octets(f"{what}.rKeyId.subjectKeyIdentifier")
    _skip_date_and_other(cursor, f"{what}.rKeyId")
    cursor.leave(f"{what}.rKeyId")
    return RecipientIdentifier(subject_key_identifier=key_identifier)


def _skip_date_and_other(cursor: Cursor, what: str) -> None:
    """``date GeneralizedTime OPTIONAL, other OtherKeyAttribute OPTIONAL`` (RecipientKeyIdentifier,
    KEKIdentifier): read, not needed to match a key."""
    if cursor.peek() == _GENERALIZED_TIME:
        cursor.expect(_GENERALIZED_TIME, what, ".date")
    if cursor.more():
        cursor.algorithm(f"{what}.other")  # OtherKeyAttribute: an OID and an optional ANY


_GENERALIZED_TIME = 0x18


def _read_kekri(cursor: Cursor, index: int) -> RecipientInfoEntry:
    what = "KEKRecipientInfo"
    cursor.enter(0xA2, what)
    cursor.version(f"{what}.version", _KEKRI_VERSIONS)
    cursor.enter(TAG_SEQUENCE, f"{what}.kekid")
    key_identifier = cursor.octets(f"{what}.kekid.keyIdentifier")
    _skip_date_and_other(cursor, f"{what}.kekid")
    cursor.leave(f"{what}.kekid")
    return _key_encrypted_entry(cursor, index, "kekri", what, key_identifier)


def _read_pwri(cursor: Cursor, index: int) -> RecipientInfoEntry:
    what = "PasswordRecipientInfo"
    cursor.enter(0xA3, what)
    cursor.version(f"{what}.version", _PWRI_VERSIONS)
    derivation = None
    if cursor.peek() == 0xA0:
        derivation = cursor.element(f"{what}.keyDerivationAlgorithm")
    return _key_encrypted_entry(cursor, index, "pwri", what, derivation)


def _key_encrypted_entry(
    cursor: Cursor, index: int, kind: RecipientKind, what: str, other: bytes | None
) -> RecipientInfoEntry:
    """The keyEncryptionAlgorithm and encryptedKey ending a kekri or pwri (never usable here)."""
    algorithm = cursor.algorithm(f"{what}.keyEncryptionAlgorithm")
    encrypted_key = cursor.octets(f"{what}.encryptedKey")
    cursor.leave(what)
    return RecipientInfoEntry(
        index, kind, (), algorithm.oid, False, algorithm, (encrypted_key,), other=other
    )


def _read_ori(cursor: Cursor, index: int) -> RecipientInfoEntry:
    what = "OtherRecipientInfo"
    cursor.enter(0xA4, what)
    ori_type = cursor.oid(f"{what}.oriType")
    reader = OTHER_RECIPIENT_READERS.get(ori_type)
    if reader is not None:
        entry = reader(cursor, index, f"{what}.oriValue")
    else:
        entry = RecipientInfoEntry(
            index, "ori", (), ori_type, False, other=cursor.element(f"{what}.oriValue")
        )
    cursor.leave(what)
    return entry


_READERS: dict[int, Callable[[Cursor, int], RecipientInfoEntry]] = {
    0xA1: _read_kari,
    0xA2: _read_kekri,
    0xA3: _read_pwri,
    0xA4: _read_ori,
}


# --------------------------------------------------------------------------- KEMRecipientInfo

_KEMRI_VERSIONS = frozenset({0})
_MAX_KEK_LENGTH = 65535  # kekLength INTEGER (1..65535)


def _read_kemri(cursor: Cursor, index: int, field_name: str) -> RecipientInfoEntry:
    """KEMRecipientInfo (RFC 9629 section 3), the oriValue of an ori of type id-ori-kem.

    Structural faults are :class:`MalformedCMSError`; algorithms we cannot
    use, parameters where RFC 9936, RFC 8619 and RFC 3565 require none, and
    a kekLength that does not fit the key wrap leave the entry unsupported,
    its ``problem`` saying why (other RecipientInfos stay usable).
    """
    what = "KEMRecipientInfo"
    first = cursor.pos
    cursor.enter(TAG_SEQUENCE, f"{field_name} {what}")
    cursor.version(f"{what}.version", _KEMRI_VERSIONS)
    rid = read_identifier(cursor, f"{what}.rid")
    kem = cursor.algorithm(f"{what}.kem")
    kemct = cursor.octets(f"{what}.kemct")
    kdf = cursor.algorithm(f"{what}.kdf")
    kek_length = cursor.integer(f"{what}.kekLength")
    if not 1 <= kek_length <= _MAX_KEK_LENGTH:
        raise MalformedCMSError(f"{what}.kekLength: {kek_length} is not in 1..{_MAX_KEK_LENGTH}")
    ukm = None
    if cursor.peek() == 0xA0:
        cursor.enter(0xA0, f"{what}.ukm")
        ukm = cursor.octets(f"{what}.ukm")
        cursor.leave(f"{what}.ukm")
    wrap = cursor.algorithm(f"{what}.wrap")
    encrypted_key = cursor.octets(f"{what}.encryptedKey")
    cursor.leave(f"{field_name} {what}")
    fields = KemWrapped(
        kem.oid, kemct, kdf.oid, kek_length, ukm, wrap.oid, encrypted_key,
        kem.parameters, kdf.parameters, wrap.parameters,
    )  # fmt: skip
    problem = fields.problem()
    return RecipientInfoEntry(
        index,
        "ori",
        (rid,),
        fields.name,
        problem is None,
        kem,
        (encrypted_key,),
        ukm=ukm,
        other=bytes(cursor.data[first : cursor.pos]),
        method=fields,
        problem=problem,
    )


def kem_recipient_info_der(rid: bytes, fields: KemWrapped) -> bytes:
    """The DER RecipientInfo ``ori`` holding a KEMRecipientInfo (version 0) for ``rid``.

    ``rid`` is the DER RecipientIdentifier (issuerAndSerialNumber, or
    ``[0]`` subjectKeyIdentifier); the AlgorithmIdentifiers carry the
    parameters ``fields`` holds: none, as :func:`~smimecore.algorithms.kem.kem_wrap`
    makes them and RFC 9936 requires.
    """
    ukm = b"" if fields.ukm is None else encode_tlv(0xA0, encode_tlv(TAG_OCTET_STRING, fields.ukm))
    value = encode_tlv(
        TAG_SEQUENCE,
        _VERSION_0,
        rid,
        _algorithm(fields.kem_oid, fields.kem_parameters),
        encode_tlv(TAG_OCTET_STRING, fields.kemct),
        _algorithm(fields.kdf_oid, fields.kdf_parameters),
        _integer(fields.kek_length),
        ukm,
        _algorithm(fields.wrap_oid, fields.wrap_parameters),
        encode_tlv(TAG_OCTET_STRING, fields.encrypted_key),
    )
    return encode_tlv(0xA4, _oid_der(ID_ORI_KEM), value)


_VERSION_0 = b"\x02\x01\x00"


def _algorithm(oid: str, parameters: bytes | None) -> bytes:
    """An AlgorithmIdentifier (``parameters``: their encoding, or ``None`` for absent)."""
    return encode_tlv(TAG_SEQUENCE, _oid_der(oid), parameters or b"")


@functools.lru_cache(maxsize=64)
def _oid_der(oid: str) -> bytes:
    return bytes(core.ObjectIdentifier(oid).dump())


@functools.lru_cache(maxsize=16)
def _integer(value: int) -> bytes:
    return bytes(core.Integer(value).dump())


OTHER_RECIPIENT_READERS[ID_ORI_KEM] = _read_kemri

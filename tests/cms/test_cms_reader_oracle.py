"""The CMS reader against asn1crypto: the same fields from every CMS object, or both refuse.

The objects: every CMS object in ``../shared/vectors`` (raw, PEM, inside the
mails, and inside RT's encrypted mails once decrypted), smimecore's own
output for every algorithm (ML-DSA SignedData and ML-KEM KEMRecipientInfos
included: asn1crypto's generic types read them), openssl's output,
and hypothesis mutations of all of those (of single fields, re-encoded
around them, and of raw bytes).

asn1crypto reads the typed fields; where CMS says ANY (attribute values,
algorithm parameters, certificates, an ori's value) the view below splits
the encoding with asn1crypto's own TLV parser instead of asking it for a
typed value.  The rules CMS adds to the ASN.1 (version numbers, non-empty
SETs, nothing after the ContentInfo, an id-data eContent is an OCTET
STRING, a SEQUENCE holds no more than its fields, an EXPLICIT tag one
element) are applied to asn1crypto's reading here (:class:`_Refused`), so
"both refuse" holds for them too.

asn1crypto cannot read a CHOICE alternative that has an indefinite length
(a ktri or kari, a sid...: it parses the header again without the
end-of-contents octets), so the mutations make indefinite lengths only in
the outer layers and in constructed strings, where BER encoders write them;
the vectors' BER is read by both.
"""

from __future__ import annotations

import binascii
import email
import email.policy
import functools
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms, core, parser
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smimecore.algorithms.digests import digest_by_name
from smimecore.algorithms.kem import ID_ORI_KEM, KemWrapped
from smimecore.cms.compressed import parse_compressed
from smimecore.cms.content_info import parse_content_info
from smimecore.cms.enveloped import (
    EncryptionRecipient,
    build_enveloped,
    decrypt_enveloped,
    parse_enveloped,
)
from smimecore.cms.signed import SigningIdentity, build_signed_data, parse_signed_data
from smimecore.demo.pki import DemoIdentity
from smimecore.errors import MalformedCMSError
from smimecore.pki.pem import find_pem_blocks
from tests.conftest import VECTORS, vector_path
from tests.envpki import CONTENT, KINDS, Recipient
from tests.pqcpki import pqc_pki

SIGNED = "1.2.840.113549.1.7.2"
ENVELOPED = "1.2.840.113549.1.7.3"
AUTH_ENVELOPED = "1.2.840.113549.1.9.16.1.23"
COMPRESSED = "1.2.840.113549.1.9.16.1.9"
DATA = "1.2.840.113549.1.7.1"
CMS_TYPES = {
    DATA,
    SIGNED,
    ENVELOPED,
    "1.2.840.113549.1.7.5",  # digestedData
    "1.2.840.113549.1.7.6",  # encryptedData
    "1.2.840.113549.1.9.16.1.2",  # authenticatedData
    COMPRESSED,
    AUTH_ENVELOPED,
}


class _Refused(Exception):  # noqa: N818 - a verdict, not an error
    """asn1crypto's reading breaks a rule CMS adds to the ASN.1 (or asn1crypto refuses)."""


def _require(condition: bool, why: str) -> None:
    if not condition:
        raise _Refused(why)


# ------------------------------------------------------------------ asn1crypto's view


@dataclass(frozen=True)
class _Element:
    """One element as asn1crypto's TLV parser splits it."""

    cls: int
    constructed: bool
    tag: int
    encoding: bytes
    contents: bytes
    indefinite: bool


def _split(contents: bytes) -> list[_Element]:
    """The elements of ``contents`` (an ANY value's children, or a SET OF's)."""
    found = []
    pos = 0
    while pos < len(contents):
        cls, method, tag, header, inner, trailer = parser.parse(contents[pos:], strict=False)
        _require(not (cls == 0 and tag == 0), "an end-of-contents where an element belongs")
        size = len(header) + len(inner) + len(trailer)
        if trailer:
            _split(inner)  # the elements of an indefinite-length element are walked to its end
        found.append(
            _Element(cls, bool(method), tag, contents[pos : pos + size], inner, bool(trailer))
        )
        pos += size
    return found


def _one(contents: bytes) -> _Element:
    elements = _split(contents)
    _require(len(elements) == 1, "one element expected")
    return elements[0]


def _typed(value: Any) -> Any:
    """A typed SEQUENCE, which must hold no more elements than its fields (asn1crypto keeps
    extra trailing elements)."""
    if isinstance(value, core.Sequence) and not isinstance(value, core.Void):
        if value.children is None:
            value._parse_children()
        _require(len(value.children) <= len(value._fields), "elements after the last field")
    return value


def _oid(value: core.ObjectIdentifier) -> str:
    raw = value.contents
    _require(bool(raw) and not raw[-1] & 0x80, "malformed OBJECT IDENTIFIER")
    return str(value.dotted)


def _raw_oid(element: _Element) -> str:
    _require((element.cls, element.constructed, element.tag) == (0, False, 6), "an OID expected")
    return _oid(core.ObjectIdentifier.load(element.encoding))


def _integer(value: core.Integer) -> int:
    _require(bool(value.contents), "an INTEGER without contents")
    return int.from_bytes(value.contents, "big", signed=True)


def _version(value: core.Integer, allowed: set[int]) -> int:
    _require(len(value.contents) == 1 and value.contents[0] in allowed, "version")
    return value.contents[0]


def _octets(element: _Element) -> bytes:
    """An OCTET STRING's value: primitive, or BER constructed with an indefinite length."""
    if not element.constructed:
        return element.contents
    _require(element.indefinite, "a definite-length constructed string")
    chunks = _split(element.contents)
    _require(all((c.cls, c.tag) == (0, 4) for c in chunks), "a chunk is not an OCTET STRING")
    return b"".join(_octets(chunk) for chunk in chunks)


def _algorithm(value: Any) -> tuple[str, bytes | None]:
    """An AlgorithmIdentifier as (OID, parameters' encoding)."""
    _require(value.tag == 16 and value.method == 1 and value.class_ == 0, "AlgorithmIdentifier")
    fields = _split(value.contents)
    _require(1 <= len(fields) <= 2, "AlgorithmIdentifier fields")
    return _raw_oid(fields[0]), fields[1].encoding if len(fields) == 2 else None


def _attributes(value: Any) -> tuple[bytes, dict[str, list[tuple[bytes, ...]]]] | None:
    """A SET OF Attribute (implicitly tagged): its encoding and its values by type."""
    if isinstance(value, core.Void):
        return None
    found: dict[str, list[tuple[bytes, ...]]] = {}
    for attribute in _split(value.contents):
        _require((attribute.cls, attribute.tag, attribute.constructed) == (0, 16, True), "SEQ")
        fields = _split(attribute.contents)
        _require(len(fields) == 2, "Attribute fields")
        values = fields[1]
        _require((values.cls, values.tag, values.constructed) == (0, 17, True), "attrValues SET")
        encodings = tuple(element.encoding for element in _split(values.contents))
        found.setdefault(_raw_oid(fields[0]), []).append(encodings)
    _require(bool(found), "SIZE (1..MAX) OF Attribute")
    return bytes(value.dump()), found


def _identifier(sid: Any) -> tuple[bytes | None, int | None, bytes | None]:
    if sid.name in ("subject_key_identifier", "r_key_id"):
        chosen = _typed(sid.chosen)
        if sid.name == "r_key_id":
            _optional_key_fields(chosen, ("date", "other"))
            return None, None, bytes(chosen["subject_key_identifier"].native)
        return None, None, bytes(chosen.native)
    fields = _split(sid.chosen.contents)
    _require(len(fields) == 2, "IssuerAndSerialNumber fields")
    issuer, serial = fields
    _require((issuer.cls, issuer.tag, issuer.constructed) == (0, 16, True), "issuer Name")
    _require((serial.cls, serial.tag, serial.constructed) == (0, 2, False), "serialNumber")
    return issuer.encoding, _integer(core.Integer.load(serial.encoding)), None


def _optional_key_fields(value: Any, names: tuple[str, ...]) -> None:
    """date GeneralizedTime OPTIONAL, other OtherKeyAttribute OPTIONAL: their encodings."""
    for name in names:
        field = value[name]
        if not isinstance(field, core.Void):
            if name == "other":
                _algorithm(field)  # OtherKeyAttribute: an OID and an optional ANY
            else:
                _require(field.method == 0, "a primitive GeneralizedTime")


def _encapsulated(encap: Any) -> tuple[str, bytes | None]:
    fields = _split(encap.contents)
    _require(1 <= len(fields) <= 2, "EncapsulatedContentInfo fields")
    content_type = _raw_oid(fields[0])
    if len(fields) == 1:
        return content_type, None
    explicit = fields[1]
    _require((explicit.cls, explicit.tag, explicit.constructed) == (2, 0, True), "eContent [0]")
    inner = _one(explicit.contents)
    if (inner.cls, inner.tag) == (0, 4):
        return content_type, _octets(inner)
    _require(content_type != DATA, "id-data content that is not an OCTET STRING")
    return content_type, inner.contents


def _choices(value: Any, others: set[tuple[int, int]]) -> list[bytes]:
    if isinstance(value, core.Void):
        return []
    found = []
    for element in _split(value.contents):
        if (element.cls, element.tag, element.constructed) == (0, 16, True):
            found.append(element.encoding)
        else:
            _require((element.cls, element.tag) in others and element.constructed, "a choice")
    return found


def _content(data: bytes, wanted: set[str]) -> tuple[str, Any]:
    info = _typed(cms.ContentInfo.load(data, strict=True))
    content_type = _oid(info["content_type"])
    _require(content_type in wanted, "content type")
    content = info["content"]
    _require(not isinstance(content, core.Void), "ContentInfo without content")
    _one(_split(info.contents)[1].contents)  # [0] EXPLICIT: asn1crypto reads the first only
    return content_type, _typed(content)


def asn1_signed(data: bytes) -> dict[str, object]:
    """A SignedData's fields as asn1crypto reads them."""
    _, signed = _content(data, {SIGNED})
    version = _version(signed["version"], {1, 3, 4, 5})
    digests = frozenset(_algorithm(a)[0] for a in signed["digest_algorithms"])
    content_type, content = _encapsulated(signed["encap_content_info"])
    certificates = _choices(signed["certificates"], {(2, 0), (2, 1), (2, 2), (2, 3)})
    crls = _choices(signed["crls"], {(2, 1)})
    signers = []
    for signer in map(_typed, signed["signer_infos"]):
        signers.append(
            {
                "version": _version(signer["version"], {1, 3}),
                "sid": _identifier(signer["sid"]),
                "digest": _algorithm(signer["digest_algorithm"])[0],
                "signed": _attributes(signer["signed_attrs"]),
                "signature_algorithm": _algorithm(signer["signature_algorithm"]),
                "signature": bytes(signer["signature"].native),
                "unsigned": _attributes(signer["unsigned_attrs"]),
            }
        )
    return {
        "version": version,
        "digests": digests,
        "content_type": content_type,
        "content": content,
        "certificates": certificates,
        "crls": crls,
        "signers": signers,
    }


def _originator(originator: Any) -> tuple[str, bytes] | None:
    if originator.name != "originator_key":
        _identifier(originator)
        return None
    key = originator.chosen  # asn1crypto parses the key by its algorithm: split it here
    _require(key.method == 1, "OriginatorPublicKey")
    fields = _split(key.contents)
    _require(len(fields) == 2, "OriginatorPublicKey fields")
    oid, _ = _algorithm(core.Sequence.load(fields[0].encoding))
    _require((fields[1].cls, fields[1].tag, fields[1].constructed) == (0, 3, False), "BIT STRING")
    bits = fields[1].contents
    _require(bool(bits) and bits[0] <= 7, "BIT STRING")
    return (oid, bytes(bits[1:])) if bits[0] == 0 else None


def _recipient(info: Any) -> dict[str, object]:
    kind, chosen = info.name, _typed(info.chosen)
    _require(chosen.method == 1, "a constructed RecipientInfo")
    if kind == "ori":
        fields = _split(chosen.contents)
        _require(len(fields) == 2, "OtherRecipientInfo fields")
        ori_type = _raw_oid(fields[0])
        found_ori: dict[str, object] = {"kind": kind, "type": ori_type, "other": fields[1].encoding}
        if ori_type == ID_ORI_KEM:
            found_ori["kemri"] = _kem_recipient(fields[1])
        return found_ori
    versions = {"ktri": {0, 2}, "kari": {3}, "kekri": {4}, "pwri": {0}}[kind]
    _version(chosen["version"], versions)  # checked by both; the entries do not keep it
    found: dict[str, object] = {"kind": kind}
    found["algorithm"] = _algorithm(chosen["key_encryption_algorithm"])
    if kind == "ktri":
        found["identifiers"] = (_identifier(chosen["rid"]),)
        found["keys"] = (bytes(chosen["encrypted_key"].native),)
    elif kind == "kari":
        for explicit in _split(chosen.contents)[1:3]:  # originator [0], ukm [1]: EXPLICIT
            if (explicit.cls, explicit.tag) in ((2, 0), (2, 1)):
                _one(explicit.contents)
        found["originator"] = _originator(chosen["originator"])
        ukm = chosen["ukm"]
        found["ukm"] = None if isinstance(ukm, core.Void) else bytes(ukm.native)
        keys = [_typed(key) for key in chosen["recipient_encrypted_keys"]]
        found["identifiers"] = tuple(_identifier(key["rid"]) for key in keys)
        found["keys"] = tuple(bytes(key["encrypted_key"].native) for key in keys)
    elif kind == "kekri":
        kekid = _typed(chosen["kekid"])
        _optional_key_fields(kekid, ("date", "other"))
        found["other"] = bytes(kekid["key_identifier"].native)
        found["keys"] = (bytes(chosen["encrypted_key"].native),)
    else:
        derivation = chosen["key_derivation_algorithm"]
        found["other"] = None if isinstance(derivation, core.Void) else bytes(derivation.dump())
        found["keys"] = (bytes(chosen["encrypted_key"].native),)
    return found


def _kem_recipient(value: _Element) -> dict[str, object]:
    """KEMRecipientInfo (RFC 9629 section 3), split into its fields by asn1crypto's parser."""
    _require((value.cls, value.tag, value.constructed) == (0, 16, True), "KEMRecipientInfo")
    fields = _split(value.contents)
    _require(len(fields) >= 8, "KEMRecipientInfo fields")
    version, rid, kem, kemct, kdf, kek_length = fields[:6]
    _require((version.cls, version.tag) == (0, 2), "version INTEGER")
    _version(core.Integer.load(version.encoding), {0})
    _require((kemct.cls, kemct.tag) == (0, 4), "kemct OCTET STRING")
    _require((kek_length.cls, kek_length.tag, kek_length.constructed) == (0, 2, False), "INT")
    length = _integer(core.Integer.load(kek_length.encoding))
    _require(1 <= length <= 65535, "kekLength (1..65535)")
    rest = fields[6:]
    ukm = None
    if (rest[0].cls, rest[0].tag, rest[0].constructed) == (2, 0, True):
        inner = _one(rest[0].contents)
        _require((inner.cls, inner.tag) == (0, 4), "ukm OCTET STRING")
        ukm = _octets(inner)
        rest = rest[1:]
    _require(len(rest) == 2, "KEMRecipientInfo fields")
    wrap, encrypted_key = rest
    _require((encrypted_key.cls, encrypted_key.tag) == (0, 4), "encryptedKey OCTET STRING")
    return {
        "identifiers": (_identifier(cms.RecipientIdentifier.load(rid.encoding)),),
        "kem": _algorithm(core.Sequence.load(kem.encoding)),
        "kemct": _octets(kemct),
        "kdf": _algorithm(core.Sequence.load(kdf.encoding)),
        "kek_length": length,
        "ukm": ukm,
        "wrap": _algorithm(core.Sequence.load(wrap.encoding)),
        "keys": (_octets(encrypted_key),),
    }


def asn1_enveloped(data: bytes) -> dict[str, object]:
    """An (Auth)EnvelopedData's fields as asn1crypto reads them."""
    content_type, enveloped = _content(data, {ENVELOPED, AUTH_ENVELOPED})
    authenticated = content_type == AUTH_ENVELOPED
    version = _version(enveloped["version"], {0} if authenticated else {0, 2, 3, 4})
    originator_info = enveloped["originator_info"]
    if not isinstance(originator_info, core.Void):
        _split(originator_info.contents)
    recipients = [_recipient(info) for info in enveloped["recipient_infos"]]
    _require(bool(recipients), "SIZE (1..MAX) OF RecipientInfo")
    key = "auth_encrypted_content_info" if authenticated else "encrypted_content_info"
    info = enveloped[key]
    fields = _split(info.contents)
    _require(2 <= len(fields) <= 3, "EncryptedContentInfo fields")
    ciphertext = None
    if len(fields) == 3:
        _require((fields[2].cls, fields[2].tag) == (2, 0), "encryptedContent [0]")
        ciphertext = _octets(fields[2])
    found: dict[str, object] = {
        "authenticated": authenticated,
        "version": version,
        "recipients": recipients,
        "content_type": _raw_oid(fields[0]),
        "cipher": _algorithm(cms.EncryptionAlgorithm.load(fields[1].encoding)),
        "ciphertext": ciphertext,
    }
    if authenticated:
        attributes = _attributes(enveloped["auth_attrs"])
        found["mac"] = bytes(enveloped["mac"].native)
        _attributes(enveloped["unauth_attrs"])
        if attributes is not None:
            encoding = b"\x31" + attributes[0][1:]
            if attributes[0][1] == 0x80:
                encoding = bytes(cms.CMSAttributes.load(encoding).dump(force=True))
            found["aad"] = encoding
    else:
        _attributes(enveloped["unprotected_attrs"])
    return found


def asn1_compressed(data: bytes) -> dict[str, object]:
    """A CompressedData's fields as asn1crypto reads them."""
    _, compressed = _content(data, {COMPRESSED})
    _version(compressed["version"], {0})
    content_type, content = _encapsulated(compressed["encap_content_info"])
    return {
        "algorithm": _algorithm(compressed["compression_algorithm"]),
        "content_type": content_type,
        "content": content,
    }


def asn1_content_info(data: bytes) -> dict[str, object]:
    """A ContentInfo's type and content as asn1crypto reads them."""
    info = cms.ContentInfo.load(data, strict=True)
    fields = _split(info.contents)
    _require(len(fields) == 2, "ContentInfo without content")
    explicit = fields[1]
    _require((explicit.cls, explicit.tag, explicit.constructed) == (2, 0, True), "content [0]")
    return {"content_type": _raw_oid(fields[0]), "content": _one(explicit.contents).encoding}


def _content_type_of(data: bytes) -> str:
    return str(cms.ContentInfo.load(data, strict=True)["content_type"].dotted)


# ------------------------------------------------------------------ the reader's view


def ours_signed(data: bytes) -> dict[str, object]:
    """A SignedData's fields as smimecore reads them."""
    signed = parse_signed_data(data)
    return {
        "version": signed.version,
        "digests": signed.digest_algorithms,
        "content_type": signed.content_type_oid,
        "content": None if signed.content is None else bytes(signed.content),
        "certificates": list(signed.certificate_encodings),
        "crls": list(signed.crls),
        "signers": [
            {
                "version": signer.version,
                "sid": tuple(signer.signer_id),
                "digest": signer.digest_algorithm,
                "signed": _our_attributes(signer.signed_attributes),
                "signature_algorithm": tuple(signer.signature_algorithm),
                "signature": signer.signature,
                "unsigned": _our_attributes(signer.unsigned_attributes),
            }
            for signer in signed.signer_infos
        ],
    }


def _our_attributes(attributes: Any) -> object:
    return None if attributes is None else (attributes.encoding, attributes.values)


def ours_enveloped(data: bytes) -> dict[str, object]:
    """An (Auth)EnvelopedData's fields as smimecore reads them."""
    message = parse_enveloped(data)
    recipients: list[dict[str, object]] = []
    for entry in message.recipients:
        if entry.kind == "ori" and isinstance(entry.method, KemWrapped):
            kemri = entry.method
            fields = {
                "identifiers": tuple(tuple(i) for i in entry.identifiers),
                "kem": tuple(entry.algorithm or ()),
                "kemct": kemri.kemct,
                "kdf": (kemri.kdf_oid, kemri.kdf_parameters),
                "kek_length": kemri.kek_length,
                "ukm": entry.ukm,
                "wrap": (kemri.wrap_oid, kemri.wrap_parameters),
                "keys": entry.encrypted_keys,
            }
            recipients.append(
                {"kind": "ori", "type": ID_ORI_KEM, "other": entry.other, "kemri": fields}
            )
            continue
        if entry.kind == "ori":
            recipients.append({"kind": "ori", "type": entry.key_encryption, "other": entry.other})
            continue
        found: dict[str, object] = {"kind": entry.kind, "algorithm": tuple(entry.algorithm or ())}
        found["keys"] = entry.encrypted_keys
        if entry.kind in ("ktri", "kari"):
            found["identifiers"] = tuple(tuple(i) for i in entry.identifiers)
        if entry.kind == "kari":
            found["originator"] = entry.originator
            found["ukm"] = entry.ukm
        if entry.kind in ("kekri", "pwri"):
            found["other"] = entry.other
        recipients.append(found)
    found_message: dict[str, object] = {
        "authenticated": message.authenticated,
        "version": message.version,
        "recipients": recipients,
        "content_type": message.content_type,
        "cipher": (message.cipher_oid, message.parameters_der),
        "ciphertext": None if message.ciphertext is None else bytes(message.ciphertext),
    }
    if message.authenticated:
        found_message["mac"] = message.mac
        if message.aad is not None:
            found_message["aad"] = message.aad
    return found_message


def ours_compressed(data: bytes) -> dict[str, object]:
    """A CompressedData's fields as smimecore reads them."""
    compressed = parse_compressed(data)
    return {
        "algorithm": tuple(compressed.algorithm),
        "content_type": compressed.content_type,
        "content": None if compressed.content is None else bytes(compressed.content),
    }


def ours_content_info(data: bytes) -> dict[str, object]:
    """A ContentInfo's type and content as smimecore reads them."""
    content_type, content = parse_content_info(data)
    return {"content_type": content_type, "content": bytes(content)}


# ------------------------------------------------------------------ comparing


READERS: dict[str, tuple[Callable[[bytes], object], Callable[[bytes], object]]] = {
    "signed": (ours_signed, asn1_signed),
    "enveloped": (ours_enveloped, asn1_enveloped),
    "compressed": (ours_compressed, asn1_compressed),
    "content-info": (ours_content_info, asn1_content_info),
}


def outcome(reader: Callable[[bytes], object], data: bytes) -> object:
    """The reader's fields, or ``"refused"``."""
    try:
        return reader(data)
    except MalformedCMSError:
        return "refused"
    except (_Refused, ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError):
        if reader in (ours_signed, ours_enveloped, ours_compressed, ours_content_info):
            raise  # the reader must raise MalformedCMSError, nothing else
        return "refused"


def assert_same(kind: str, data: bytes) -> object:
    """Both views of ``data`` are equal (the same fields, or both refused)."""
    ours, theirs = READERS[kind]
    found, expected = outcome(ours, data), outcome(theirs, data)
    assert found == expected, f"{kind}: ours {found!r:.300} != asn1crypto {expected!r:.300}"
    return found


def kind_of(data: bytes) -> str:
    """Which reader an object is for, from its content type."""
    try:
        content_type = _content_type_of(data)
    except (ValueError, TypeError, KeyError):
        return "content-info"
    return {
        SIGNED: "signed",
        ENVELOPED: "enveloped",
        AUTH_ENVELOPED: "enveloped",
        COMPRESSED: "compressed",
    }.get(content_type, "content-info")


# ------------------------------------------------------------------ the objects


def _blobs(path: Path) -> Iterator[bytes]:
    raw = path.read_bytes()
    yield raw
    for block in find_pem_blocks(raw):
        yield block.der()
    if b"Content-Type" not in raw[:8192] and b"content-type" not in raw[:8192].lower():
        return
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    for part in message.walk():
        if part.is_multipart():
            continue
        try:
            payload = part.get_payload(decode=True)
        except (ValueError, binascii.Error):
            continue
        if isinstance(payload, bytes):
            yield payload


def _is_cms(blob: bytes) -> bool:
    """A SEQUENCE whose first element is one of CMS's content types."""
    try:
        outer = parser.parse(blob, strict=False)
        first = parser.parse(outer[4], strict=False)
    except ValueError:
        return False
    if first[:3] != (0, 0, 6):
        return False
    return str(core.ObjectIdentifier.load(first[3] + first[4]).dotted) in CMS_TYPES


@functools.lru_cache(maxsize=1)
def vector_objects() -> tuple[tuple[str, bytes], ...]:
    """Every CMS object in the vectors: (where, encoding)."""
    skipped = {".crt", ".crl", ".p12", ".pfx", ".key", ".pri", ".cer", ".csr", ".md", ".csv"}
    found: dict[bytes, str] = {}
    for path in sorted(VECTORS.rglob("*")):
        if not path.is_file() or path.suffix.lower() in skipped or path.suffix == ".json":
            continue
        for blob in _blobs(path):
            if blob not in found and _is_cms(blob):
                found[blob] = str(path.relative_to(VECTORS))
    found.update(_decrypted_objects(found))
    return tuple((where, blob) for blob, where in found.items())


def _decrypted_objects(found: dict[bytes, str]) -> dict[bytes, str]:
    """The CMS inside RT's encrypted mails (signed, then encrypted: the key is in the vectors)."""
    keys = VECTORS / "request-tracker" / "keys"
    key = load_pem_private_key((keys / "root@example.com.key").read_bytes(), None)
    inner: dict[bytes, str] = {}
    for blob, where in found.items():
        if not where.startswith("request-tracker/") or kind_of(blob) != "enveloped":
            continue
        plaintext = decrypt_enveloped(blob, key).content  # type: ignore[arg-type]
        message = email.message_from_bytes(plaintext, policy=email.policy.compat32)
        for part in message.walk():
            payload = None if part.is_multipart() else part.get_payload(decode=True)
            if isinstance(payload, bytes) and payload not in found and _is_cms(payload):
                inner[payload] = f"{where} (decrypted)"
    return inner


@pytest.mark.vectors
def test_every_cms_object_in_the_vectors_reads_as_asn1crypto_reads_it() -> None:
    vector_path()
    objects = vector_objects()
    kinds = [kind_of(blob) for _, blob in objects]
    assert len(objects) >= 300, len(objects)
    assert {kinds.count(kind) > 0 for kind in ("signed", "enveloped", "content-info")} == {True}
    for (where, blob), kind in zip(objects, kinds, strict=True):
        try:
            assert_same(kind, blob)
        except AssertionError as failure:
            raise AssertionError(f"{where}: {failure}") from None


@pytest.mark.vectors
def test_pqc_structures_are_read() -> None:
    """ML-KEM ori recipients are read as KEMRecipientInfos (ML-KEM-512's unsupported, saying
    why), ML-DSA and SLH-DSA SignerInfos read."""
    kem = sorted(vector_path("pqc", "hackathon-carl-redhound").glob("*_kemri_*.der"))
    assert len(kem) == 12
    for path in kem:
        message = parse_enveloped(path.read_bytes())
        (entry,) = message.recipients
        level = path.name[len("mlkem") :].split("-")[0]
        assert (entry.kind, entry.supported) == ("ori", level != "512")
        # The producer wraps with AES-128 under AES-128-CBC content, AES-256 under AES-GCM.
        wrap = "aes256" if "_auth_" in path.name else "aes128"
        assert entry.key_encryption == f"ml-kem-{level}+hkdf-sha256+{wrap}-wrap"
        assert isinstance(entry.method, KemWrapped)
        assert (entry.method.ukm is not None) == path.name.endswith("_ukm.der")
        assert entry.other is not None and entry.other[0] == 0x30
        if level == "512":
            assert entry.problem is not None and "ML-KEM-512" in str(entry.problem)
    signed = [
        path.read_bytes()
        for path in sorted(vector_path("pqc", "hackathon-ossl35").glob("*_signed_attrs.der"))
    ]
    for path in sorted(vector_path("pqc", "lamps-cms-ml-dsa").glob("*.pem")):
        signed += [block.der() for block in find_pem_blocks(path.read_bytes())]
    assert len(signed) == 18
    for data in signed:
        (signer,) = parse_signed_data(data).signer_infos
        assert signer.signature_algorithm.oid.startswith("2.16.840.1.101.3.4.3.")
        assert signer.signature_algorithm.parameters is None
        assert signer.signed_attributes is not None


# ------------------------------------------------------------------ our output, openssl's


def _own_signed(identities: dict[str, DemoIdentity]) -> list[bytes]:
    made = []
    for kind in ("rsa2048", "p256", "p384", "p521", "ed25519"):
        identity = SigningIdentity(identities[kind].key, identities[kind].certificate)  # type: ignore[arg-type]
        for digest in ("sha256", "sha384", "sha512") if kind != "ed25519" else ("sha512",):
            for detached in (True, False):
                for pss in (False, True) if kind == "rsa2048" else (False,):
                    made.append(
                        build_signed_data(
                            CONTENT,
                            identity,
                            digest=digest_by_name(digest),
                            detached=detached,
                            pss=pss,
                            use_subject_key_identifier=digest == "sha384",
                        )
                    )
    return made


def _own_enveloped(people: dict[str, Recipient]) -> list[bytes]:
    made = []
    for cipher in ("aes-128-cbc", "aes-256-cbc", "aes-128-gcm", "aes-256-gcm", "chacha20-poly1305"):
        for kind in KINDS:
            for by_key_id in (False, True):
                spec = EncryptionRecipient(
                    people[kind].certificate,
                    use_subject_key_identifier=by_key_id,
                    rsa_oaep=kind == "rsa-oaep",
                )
                made.append(build_enveloped(CONTENT, [spec], cipher=cipher))
    made.append(
        build_enveloped(CONTENT, [EncryptionRecipient(people[k].certificate) for k in KINDS])
    )
    return made


def _own_post_quantum() -> tuple[list[bytes], list[bytes]]:
    """Our ML-DSA SignedData and ML-KEM (Auth)EnvelopedData, beside RSA and ECDH recipients."""
    made = pqc_pki().identities
    signed = [
        build_signed_data(
            CONTENT,
            SigningIdentity(made[kind].key, made[kind].certificate),  # type: ignore[arg-type]
            digest=digest_by_name("sha512"),
            detached=detached,
            use_subject_key_identifier=detached,
        )
        for kind in ("mldsa44", "mldsa65", "mldsa87")
        for detached in (True, False)
    ]
    enveloped = [
        build_enveloped(
            CONTENT,
            [
                EncryptionRecipient(
                    made[kind].certificate, use_subject_key_identifier=by_id, ukm=ukm
                )
                for kind in kinds
            ],
            cipher=cipher,
        )
        for kinds in (("mlkem768",), ("mlkem1024",), ("mlkem768", "rsa2048", "p256"))
        for cipher in ("aes-256-cbc", "aes-256-gcm")
        for by_id, ukm in ((False, None), (True, b"ukm"))
    ]
    return signed, enveloped


def test_own_output_for_every_algorithm_reads_as_asn1crypto_reads_it(
    identities: dict[str, DemoIdentity], people: dict[str, Recipient]
) -> None:
    post_quantum_signed, post_quantum_enveloped = _own_post_quantum()
    for signed in [*_own_signed(identities), *post_quantum_signed]:
        assert assert_same("signed", signed) != "refused"
    for enveloped in [*_own_enveloped(people), *post_quantum_enveloped]:
        assert assert_same("enveloped", enveloped) != "refused"


Openssl = Callable[..., subprocess.CompletedProcess[bytes]]


def _openssl_objects(
    openssl: Openssl, pki_dir: Path, people: dict[str, Recipient], tmp_path: Path
) -> list[bytes]:
    made = []
    signer = [
        "-signer",
        str(pki_dir / "rsa2048@test.example.crt"),
        "-inkey",
        str(pki_dir / "rsa2048@test.example.key"),
    ]
    ec_signer = [
        "-signer",
        str(pki_dir / "p256@test.example.crt"),
        "-inkey",
        str(pki_dir / "p256@test.example.key"),
    ]
    for options in (
        ["cms", "-sign", *signer],
        ["cms", "-sign", "-nodetach", *signer],
        ["cms", "-sign", "-keyid", "-md", "sha384", *ec_signer],
        ["cms", "-sign", "-stream", "-nodetach", *signer],
        ["cms", "-sign", "-noattr", "-nocerts", *signer],
        ["smime", "-sign", *signer],
        ["cms", "-sign", "-nodetach", "-stream", "-indef", *ec_signer],
    ):
        made.append(options)
    for kind in ("rsa2048", "p256", "p384"):  # openssl 3.0 has no X25519 key agreement
        certificate, _ = people[kind].write(tmp_path, kind)
        for options in ([], ["-keyid"], ["-aes-256-gcm"], ["-stream", "-indef"]):
            cipher = [] if "-aes-256-gcm" in options else ["-aes256"]
            made.append(["cms", "-encrypt", *cipher, *options, "-recip", str(certificate)])
    made.append(["cms", "-compress"])
    objects = []
    for command in made:
        done = openssl(*command, "-binary", "-outform", "DER", input=CONTENT)
        if done.returncode == 0:
            objects.append(done.stdout)
        else:
            assert command == ["cms", "-compress"], done.stderr  # zlib may be left out of a build
    return objects


@pytest.fixture(scope="module")
def openssl_objects(
    openssl: Openssl,
    pki_dir: Path,
    people: dict[str, Recipient],
    tmp_path_factory: pytest.TempPathFactory,
) -> list[bytes]:
    """SignedData, EnvelopedData and CompressedData made by the openssl binary."""
    return _openssl_objects(openssl, pki_dir, people, tmp_path_factory.mktemp("openssl"))


def test_openssl_output_reads_as_asn1crypto_reads_it(openssl_objects: list[bytes]) -> None:
    assert len(openssl_objects) >= 19
    for blob in openssl_objects:
        assert assert_same(kind_of(blob), blob) != "refused"


# ------------------------------------------------------------------ mutations


@dataclass
class TlvNode:
    """A TLV tree for mutations: an identifier, then children or a value."""

    identifier: bytes
    children: list[TlvNode] | None
    value: bytes = b""
    indefinite: bool = False

    def encode(self) -> bytes:
        if self.children is None:
            body = self.value
        else:
            body = b"".join(child.encode() for child in self.children)
        if self.indefinite:
            return self.identifier + b"\x80" + body + b"\x00\x00"
        return self.identifier + _length(len(body)) + body

    def nodes(self) -> Iterator[TlvNode]:
        yield self
        for child in self.children or ():
            yield from child.nodes()


def _length(length: int) -> bytes:
    if length < 0x80:
        return bytes((length,))
    size = (length.bit_length() + 7) // 8
    return bytes((0x80 | size,)) + length.to_bytes(size, "big")


def tlv_tree(encoding: bytes) -> TlvNode:
    cls, method, tag, header, contents, trailer = parser.parse(encoding, strict=False)
    identifier = _identifier_octets(header)
    if not method or (cls == 0 and tag in (3, 4)) or len(contents) > 4096:
        return TlvNode(identifier, None, contents, bool(trailer))
    children = [tlv_tree(element.encoding) for element in _split(contents)]
    return TlvNode(identifier, children, indefinite=bool(trailer))


def _outer_nodes(root: TlvNode, depth: int = 3) -> Iterator[TlvNode]:
    """The outer layers, where BER encoders write indefinite lengths (and no CHOICE is)."""
    yield root
    if depth:
        for child in root.children or ():
            yield from _outer_nodes(child, depth - 1)


def replace_element(data: bytes, old: bytes, new: bytes) -> bytes:
    """``data`` with the element encoded ``old`` replaced by ``new``, lengths around it fixed."""
    root = tlv_tree(data)
    for node in root.nodes():
        if node.encode() == old:
            replacement = tlv_tree(new)
            node.identifier, node.children = replacement.identifier, replacement.children
            node.value, node.indefinite = replacement.value, replacement.indefinite
            return root.encode()
    raise AssertionError("element not found")


def _identifier_octets(header: bytes) -> bytes:
    """The identifier octets at the start of a header (the rest is the length)."""
    size = 1
    if header[0] & 0x1F == 0x1F:
        while header[size] & 0x80:
            size += 1
        size += 1
    return header[:size]


_TAGS = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0C, 0x13, 0x17, 0x18, 0x24, 0x30, 0x31]
_TAGS += [0x80, 0x81, 0x82, 0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0x00, 0x1F]


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A seed with one or two of its fields mutated and re-encoded, or raw bytes changed."""
    data = draw(st.sampled_from(seeds))
    if draw(st.integers(0, 4)) == 0:
        mutable = bytearray(data)
        for _ in range(draw(st.integers(1, 3))):
            position = draw(st.integers(0, len(mutable) - 1))
            mutable[position] = draw(st.sampled_from([*_TAGS, mutable[position] ^ 0x01, 0xFF]))
        if draw(st.booleans()):
            del mutable[draw(st.integers(0, len(mutable))) :]
        return bytes(mutable)
    root = tlv_tree(data)
    nodes = list(root.nodes())
    outer = {id(node) for node in _outer_nodes(root)}
    for _ in range(draw(st.integers(1, 2))):
        node = draw(st.sampled_from(nodes))
        change = draw(st.integers(0, 8))
        if change == 0:
            node.identifier = bytes((draw(st.sampled_from(_TAGS)),))
        elif change == 1 and node.children is None:
            node.value = draw(
                st.sampled_from(
                    [
                        b"",
                        b"\x00",
                        b"\x01",
                        b"\x03",
                        b"\x05",
                        b"\xff",
                        b"\x00\x01",
                        node.value[:-1] or b"\x80",
                        node.value + b"\x00",
                    ]
                )
            )
        elif change == 2 and node.children:
            del node.children[draw(st.integers(0, len(node.children) - 1))]
        elif change == 3 and node.children:
            index = draw(st.integers(0, len(node.children) - 1))
            node.children.insert(index, node.children[index])
        elif change == 4 and node.children and (id(node) in outer or node.identifier == b"\x24"):
            node.indefinite = not node.indefinite
        elif change == 5 and node.children is None and node.identifier == b"\x04":
            half = len(node.value) // 2
            chunks = [
                TlvNode(b"\x04", None, node.value[:half]),
                TlvNode(b"\x04", None, node.value[half:]),
            ]
            node.identifier = bytes((node.identifier[0] | 0x20,))
            node.children, node.indefinite = chunks, draw(st.booleans())
        elif change == 6 and node.children is not None:
            node.children.append(
                TlvNode(bytes((draw(st.sampled_from(_TAGS[:12])),)), None, b"\x01")
            )
        elif change == 7 and node.children is None:
            node.value = bytes(draw(st.binary(min_size=0, max_size=6)))
        else:
            node.children, node.value = None, b"\x00"
    encoded = root.encode()
    return encoded + (b"\x00" if draw(st.integers(0, 15)) == 0 else b"")


def _seeds(
    identities: dict[str, DemoIdentity], people: dict[str, Recipient]
) -> dict[str, list[bytes]]:
    seeds: dict[str, list[bytes]] = {
        "signed": [],
        "enveloped": [],
        "compressed": [],
        "content-info": [],
    }
    if VECTORS.is_dir():
        for _, blob in vector_objects():
            if len(blob) < 20_000:
                seeds[kind_of(blob)].append(blob)
    seeds["signed"] += _own_signed(identities)[:6]
    seeds["enveloped"] += _own_enveloped(people)[::5]
    post_quantum_signed, post_quantum_enveloped = _own_post_quantum()
    seeds["signed"] += post_quantum_signed[:2]
    seeds["enveloped"] += post_quantum_enveloped[::4]
    seeds["compressed"].append(_compressed_data())
    return seeds


def _compressed_data() -> bytes:
    import zlib

    compressed = cms.CompressedData(
        {
            "version": "v0",
            "compression_algorithm": {"algorithm": "zlib"},
            "encap_content_info": {"content_type": "data", "content": zlib.compress(CONTENT)},
        }
    )
    return bytes(cms.ContentInfo({"content_type": "compressed_data", "content": compressed}).dump())


@pytest.fixture(scope="module")
def seeds(
    identities: dict[str, DemoIdentity],
    people: dict[str, Recipient],
    openssl_objects: list[bytes],
) -> dict[str, list[bytes]]:
    """What the mutations start from: the vectors', our own and openssl's objects."""
    found = _seeds(identities, people)
    for blob in openssl_objects:
        found[kind_of(blob)].append(blob)
    return found


@pytest.mark.parametrize("kind", ["signed", "enveloped", "compressed", "content-info"])
def test_mutations_read_the_same_or_are_refused_by_both(
    kind: str, seeds: dict[str, list[bytes]]
) -> None:
    pool = seeds[kind] or seeds["signed"]

    @settings(
        max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    @given(data=mutated(pool))
    def check(data: bytes) -> None:
        assert_same(kind, data)

    check()


def test_compressed_data_reads_as_asn1crypto_reads_it() -> None:
    assert assert_same("compressed", _compressed_data()) != "refused"

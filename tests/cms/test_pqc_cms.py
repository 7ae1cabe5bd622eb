"""ML-KEM recipients in the CMS layer: the KEMRecipientInfo reader, builder and decryption.

The vectors' EnvelopedData and AuthEnvelopedData decrypt through
:func:`decrypt_enveloped`; what :func:`build_enveloped` writes for ML-KEM
certificates (alone and beside RSA and ECDH recipients) is opened by the
minimal asn1crypto reader of :mod:`tests.pqccms` with an RFC 9629 unwrap
written with ``cryptography`` alone, and by smimecore.  Every failure after
a KEMRecipientInfo matched is the one uniform ``DecryptionError``.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
from pathlib import Path

import pytest
from asn1crypto import cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import mlkem

from smimecore import SMIME, Config
from smimecore.algorithms.kem import ID_ORI_KEM, KemWrapped, kem_wrap
from smimecore.cms.attributes import constant_signed_attributes
from smimecore.cms.enveloped import (
    EncryptionRecipient,
    build_enveloped,
    decrypt_enveloped,
    parse_enveloped,
)
from smimecore.cms.recipients import kem_recipient_info_der
from smimecore.errors import (
    DecryptionError,
    MalformedCMSError,
    NoUsableRecipientError,
    UnsupportedAlgorithmError,
)
from smimecore.keyring.memory import MemoryKeyring
from smimecore.pki.certificate import issuer_and_serial
from smimecore.pki.der import TAG_SEQUENCE, encode_tlv
from smimecore.pki.keys import load_private_key
from tests.conftest import VECTORS, vector_path
from tests.pqccms import independent_unwrap, kem_messages
from tests.pqcpki import pqc_pki

FOLDER = ("pqc", "hackathon-carl-redhound")
KEMS = {"768": "mlkem768-2.16.840.1.101.3.4.4.2", "1024": "mlkem1024-2.16.840.1.101.3.4.4.3"}
ML_KEM_512 = "mlkem512-2.16.840.1.101.3.4.4.1"
MESSAGES = sorted(
    path.name
    for path in VECTORS.joinpath(*FOLDER).glob("mlkem*_kemri*.der")
    if not path.name.startswith("mlkem512")
) or ["(missing)"]
CONTENT = b"Content-Type: text/plain\r\n\r\npost-quantum hello\r\n"
CIPHERS = ("aes-128-cbc", "aes-256-cbc", "aes-128-gcm", "aes-256-gcm", "chacha20-poly1305")


def _vector(name: str) -> Path:
    return vector_path(*FOLDER, name)


def _vector_identity(prefix: str, form: str = "seed") -> tuple[object, x509.Certificate]:
    key = load_private_key(_vector(f"{prefix}_{form}_priv.der").read_bytes(), source=form)
    certificate = x509.load_der_x509_certificate(_vector(f"{prefix}_ee.der").read_bytes())
    return key, certificate


# -- the vectors ------------------------------------------------------------------------


@pytest.mark.vectors
@pytest.mark.parametrize("form", ["seed", "both"])
@pytest.mark.parametrize("name", MESSAGES)
def test_every_ml_kem_vector_decrypts_by_its_recipient_identifier(name: str, form: str) -> None:
    """Each ML-KEM-768/1024 (auth-)enveloped file decrypts to expected_plaintext.txt, the
    KEMRecipientInfo found by its rid, with the seed and the 'both' key forms."""
    key, certificate = _vector_identity(name.split("_")[0], form)
    message = parse_enveloped(_vector(name).read_bytes())
    assert message.names(certificate)
    content = decrypt_enveloped(message, key, certificate)  # type: ignore[arg-type]
    assert content.content == _vector("expected_plaintext.txt").read_bytes()
    assert content.matched_by_identifier
    assert content.authenticated == ("_auth_" in name)
    level = "768" if name.startswith("mlkem768") else "1024"
    assert content.key_encryption.startswith(f"ml-kem-{level}+hkdf-sha256+aes")


@pytest.mark.vectors
def test_ml_kem_512_recipient_is_refused_saying_why() -> None:
    """An ML-KEM-512 KEMRecipientInfo naming a keyring certificate: ML-KEM-512 is named, and
    the reason; its key cannot be loaded either."""
    name = f"{ML_KEM_512}_kemri_id-alg-hkdf-with-sha256.der"
    message = parse_enveloped(_vector(name).read_bytes())
    certificate = x509.load_der_x509_certificate(_vector(f"{ML_KEM_512}_ee.der").read_bytes())
    (entry,) = message.recipients
    assert not entry.supported and entry.problem is not None
    with pytest.raises(NoUsableRecipientError, match=r"ML-KEM-512 is not supported: the Open"):
        decrypt_enveloped(message, mlkem.MLKEM768PrivateKey.generate(), certificate)
    with pytest.raises(UnsupportedAlgorithmError, match="ML-KEM-512"):
        load_private_key(_vector(f"{ML_KEM_512}_seed_priv.der").read_bytes(), source="512")


@pytest.mark.vectors
def test_vector_key_of_the_other_parameter_set_finds_no_usable_recipient() -> None:
    """An ML-KEM-1024 key cannot open an ML-KEM-768 KEMRecipientInfo: nothing is tried."""
    key, _ = _vector_identity(KEMS["1024"])
    message = parse_enveloped(
        _vector(f"{KEMS['768']}_kemri_id-alg-hkdf-with-sha256.der").read_bytes()
    )
    with pytest.raises(NoUsableRecipientError):
        decrypt_enveloped(message, key)  # type: ignore[arg-type]
    assert message.attempts.failed == 0


# -- our output -------------------------------------------------------------------------


@pytest.mark.parametrize("cipher", CIPHERS)
@pytest.mark.parametrize("kind", ["mlkem768", "mlkem1024"])
def test_own_ml_kem_output_is_read_by_an_independent_reader(kind: str, cipher: str) -> None:
    """asn1crypto's generic CMS types and an RFC 9629 unwrap written with cryptography alone
    open what we write; so does smimecore."""
    identity = pqc_pki().identities[kind]
    data = build_enveloped(CONTENT, [EncryptionRecipient(identity.certificate)], cipher=cipher)
    (independent,) = kem_messages(data)
    assert independent.recipient.kdf_oid == "1.2.840.113549.1.9.16.3.28"  # HKDF-SHA256
    assert independent.recipient.wrap_oid == "2.16.840.1.101.3.4.1.45"  # AES-256 wrap
    assert independent.recipient.kek_length == 32
    content_key = independent_unwrap(identity.key, independent.recipient)  # type: ignore[arg-type]
    if cipher != "chacha20-poly1305":  # the independent reader knows AES only
        assert independent.decrypt(content_key) == CONTENT
    message = parse_enveloped(data)
    assert message.version == (0 if message.authenticated else 3)  # RFC 5652 6.1: ori -> v3
    opened = decrypt_enveloped(message, identity.key, identity.certificate)  # type: ignore[arg-type]
    assert opened.content == CONTENT
    level = kind.removeprefix("mlkem")
    assert opened.key_encryption == f"ml-kem-{level}+hkdf-sha256+aes256-wrap"


def test_ml_kem_next_to_rsa_and_ecdh_recipients() -> None:
    """One message to ML-KEM-768, ML-KEM-1024, RSA and P-256 recipients: each key opens it."""
    identities = pqc_pki().identities
    kinds = ("mlkem768", "mlkem1024", "rsa2048", "p256")
    recipients = [EncryptionRecipient(identities[kind].certificate) for kind in kinds]
    data = build_enveloped(CONTENT, recipients, cipher="aes-256-gcm")
    message = parse_enveloped(data)
    assert sorted(entry.kind for entry in message.recipients) == ["kari", "ktri", "ori", "ori"]
    assert len(kem_messages(data)) == 2
    for kind in kinds:
        identity = identities[kind]
        opened = decrypt_enveloped(parse_enveloped(data), identity.key, identity.certificate)  # type: ignore[arg-type]
        assert opened.content == CONTENT


def test_cbc_message_with_an_ml_kem_recipient_is_version_3() -> None:
    """EnvelopedData with an ori RecipientInfo is version 3, whatever the others are."""
    identities = pqc_pki().identities
    classical = build_enveloped(CONTENT, [EncryptionRecipient(identities["rsa2048"].certificate)])
    assert parse_enveloped(classical).version == 0
    mixed = [EncryptionRecipient(identities[k].certificate) for k in ("rsa2048", "mlkem768")]
    assert parse_enveloped(build_enveloped(CONTENT, mixed)).version == 3


def test_subject_key_identifier_rid_and_ukm() -> None:
    """A KEMRecipientInfo naming its certificate by subjectKeyIdentifier, with a ukm."""
    identity = pqc_pki().identities["mlkem768"]
    spec = EncryptionRecipient(identity.certificate, use_subject_key_identifier=True, ukm=b"u" * 8)
    data = build_enveloped(CONTENT, [spec])
    (entry,) = parse_enveloped(data).recipients
    (rid,) = entry.identifiers
    assert rid.subject_key_identifier is not None and entry.ukm == b"u" * 8
    (independent,) = kem_messages(data)
    assert independent.recipient.ukm == b"u" * 8
    assert independent.decrypt(independent_unwrap(identity.key, independent.recipient)) == CONTENT  # type: ignore[arg-type]
    assert decrypt_enveloped(data, identity.key, identity.certificate).content == CONTENT  # type: ignore[arg-type]


def test_issuer_and_serial_rid_is_the_certificates_own_encoding() -> None:
    """The rid is the issuer Name and serial number exactly as the certificate encodes them."""
    identity = pqc_pki().identities["mlkem1024"]
    (entry,) = parse_enveloped(
        build_enveloped(CONTENT, [EncryptionRecipient(identity.certificate)])
    ).recipients
    (rid,) = entry.identifiers
    issuer, serial = issuer_and_serial(identity.certificate)
    assert rid.issuer_der == issuer
    assert rid.serial == identity.certificate.serial_number
    assert serial[0] == 0x02


# -- no oracle --------------------------------------------------------------------------


def _ukm_message() -> tuple[bytes, object, x509.Certificate]:
    identity = pqc_pki().identities["mlkem768"]
    spec = EncryptionRecipient(identity.certificate, ukm=b"user keying material")
    return (
        build_enveloped(CONTENT, [spec], cipher="aes-256-gcm"),
        identity.key,
        identity.certificate,
    )


def _replace_once(data: bytes, old: bytes, new: bytes) -> bytes:
    assert data.count(old) == 1 and len(old) == len(new)
    return data.replace(old, new)


def _flipped(value: bytes, index: int) -> bytes:
    return value[:index] + bytes([value[index] ^ 0x01]) + value[index + 1 :]


def _tampered(what: str) -> tuple[bytes, object, x509.Certificate]:
    data, key, certificate = _ukm_message()
    (entry,) = parse_enveloped(data).recipients
    assert isinstance(entry.method, KemWrapped)
    if what == "kemct":
        return (
            _replace_once(data, entry.method.kemct, _flipped(entry.method.kemct, 500)),
            key,
            certificate,
        )
    if what == "ukm":
        ukm = b"user keying material"
        return _replace_once(data, ukm, b"User keying material"), key, certificate
    if what == "encrypted key":
        wrapped = entry.method.encrypted_key
        return _replace_once(data, wrapped, _flipped(wrapped, 3)), key, certificate
    if what == "wrong key of the same set":
        return data, mlkem.MLKEM768PrivateKey.generate(), certificate
    raise AssertionError(what)


@pytest.mark.parametrize("what", ["kemct", "ukm", "encrypted key", "wrong key of the same set"])
def test_every_failure_after_a_match_is_the_same(what: str) -> None:
    """Tampered kemct, another ukm, a tampered wrapped key, a wrong key: 'Decryption failed'."""
    data, key, certificate = _tampered(what)
    message = parse_enveloped(data)
    with pytest.raises(DecryptionError) as caught:
        decrypt_enveloped(message, key, certificate)  # type: ignore[arg-type]
    assert str(caught.value) == "Decryption failed"
    assert type(caught.value) is DecryptionError
    assert message.attempts.failed == 1


def test_failed_kem_attempts_count_in_the_message_budget() -> None:
    """Ten KEMRecipientInfos for other keys: at most max_attempts decapsulations are made."""
    others = [mlkem.MLKEM768PrivateKey.generate() for _ in range(10)]
    identity = pqc_pki().identities["mlkem768"]
    fields = [kem_wrap(key.public_key(), b"k" * 16) for key in others]
    rid = encode_tlv(TAG_SEQUENCE, *issuer_and_serial(identity.certificate))
    data = _enveloped_with([kem_recipient_info_der(rid, wrapped) for wrapped in fields])
    message = parse_enveloped(data)
    assert len(message.recipients) == 10
    with pytest.raises(DecryptionError):
        decrypt_enveloped(message, identity.key, identity.certificate, max_attempts=4)  # type: ignore[arg-type]
    assert message.attempts.failed == 4


def _enveloped_with(recipient_infos: list[bytes], *, donor: bytes | None = None) -> bytes:
    """An EnvelopedData v3 with these RecipientInfos around the AES-128-CBC content of
    ``donor`` (by default, a message to the RSA identity)."""
    rsa = pqc_pki().identities["rsa2048"]
    donor_message = parse_enveloped(
        donor or build_enveloped(CONTENT, [EncryptionRecipient(rsa.certificate)])
    )
    assert donor_message.ciphertext is not None and donor_message.parameters_der is not None
    algorithm = encode_tlv(
        TAG_SEQUENCE, _oid(donor_message.cipher_oid), donor_message.parameters_der
    )
    content_info = encode_tlv(
        TAG_SEQUENCE,
        _oid("1.2.840.113549.1.7.1"),
        algorithm,
        encode_tlv(0x80, bytes(donor_message.ciphertext)),
    )
    body = encode_tlv(
        TAG_SEQUENCE, b"\x02\x01\x03", encode_tlv(0x31, *sorted(recipient_infos)), content_info
    )
    return encode_tlv(TAG_SEQUENCE, _oid("1.2.840.113549.1.7.3"), encode_tlv(0xA0, body))


def _oid(dotted: str) -> bytes:
    return bytes(core.ObjectIdentifier(dotted).dump())


# -- what is refused before any key is used ---------------------------------------------


def _kemri(identity_kind: str, **changes: object) -> tuple[bytes, object, x509.Certificate]:
    identity = pqc_pki().identities[identity_kind]
    wrapped = kem_wrap(identity.key.public_key(), b"k" * 16)  # type: ignore[union-attr]
    wrapped = dataclasses.replace(wrapped, **changes)  # type: ignore[arg-type]
    rid = encode_tlv(TAG_SEQUENCE, *issuer_and_serial(identity.certificate))
    return kem_recipient_info_der(rid, wrapped), identity.key, identity.certificate


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"kek_length": 16}, MalformedCMSError, "kekLength 16"),
        ({"kdf_oid": "1.2.840.113549.1.9.16.3.18"}, UnsupportedAlgorithmError, "KDF"),
        ({"wrap_oid": "2.16.840.1.101.3.4.1.2"}, UnsupportedAlgorithmError, "key-wrap"),
        ({"kem_oid": "2.16.840.1.101.3.4.4.1"}, UnsupportedAlgorithmError, "ML-KEM-512"),
    ],
)
def test_unusable_kem_recipient_names_its_problem(
    changes: dict[str, object], error: type[Exception], match: str
) -> None:
    """Public fields no key can use: the entry's typed problem, and decrypting with the named
    certificate is 'no usable recipient' saying why, before any decapsulation."""
    kemri, key, certificate = _kemri("mlkem768", **changes)
    message = parse_enveloped(_enveloped_with([kemri]))
    (entry,) = message.recipients
    assert not entry.supported and isinstance(entry.problem, error)
    assert re.search(match, str(entry.problem))
    with pytest.raises(NoUsableRecipientError, match=match):
        decrypt_enveloped(message, key, certificate)  # type: ignore[arg-type]
    assert message.attempts.failed == 0


def test_an_unusable_kem_recipient_leaves_the_others_usable() -> None:
    """A message whose KEMRecipientInfo is unusable still decrypts for its RSA recipient."""
    kemri, _, _ = _kemri("mlkem768", kek_length=16)
    rsa = pqc_pki().identities["rsa2048"]
    donor = build_enveloped(CONTENT, [EncryptionRecipient(rsa.certificate)])
    (ktri,) = _recipient_infos(donor)
    message = parse_enveloped(_enveloped_with([kemri, ktri], donor=donor))
    assert decrypt_enveloped(message, rsa.key, rsa.certificate).content == CONTENT  # type: ignore[arg-type]


def _recipient_infos(data: bytes) -> list[bytes]:
    body = cms.ContentInfo.load(data)["content"]
    return [info.dump() for info in body["recipient_infos"]]


@pytest.mark.parametrize("role", ["kem", "kdf", "wrap"])
def test_parameters_present_make_the_recipient_unusable(role: str) -> None:
    """RFC 9936, RFC 8619, RFC 3565: the KEM, KDF and wrap parameters are absent; NULL ones
    make the recipient unusable, saying so (the error names the field)."""
    kemri, key, certificate = _kemri("mlkem768", **{f"{role}_parameters": b"\x05\x00"})
    message = parse_enveloped(_enveloped_with([kemri]))
    (entry,) = message.recipients
    assert isinstance(entry.problem, MalformedCMSError)
    with pytest.raises(NoUsableRecipientError, match=f"KEMRecipientInfo.{role}: parameters"):
        decrypt_enveloped(message, key, certificate)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("old", "new", "match"),
    [
        (b"\x02\x01\x00", b"\x02\x01\x01", "KEMRecipientInfo.version"),
        (b"\x02\x01\x20", b"\x02\x01\x00", "kekLength"),
    ],
)
def test_structural_faults_are_malformed(old: bytes, new: bytes, match: str) -> None:
    """A KEMRecipientInfo of another version, a kekLength out of 1..65535: MalformedCMSError."""
    kemri, _, _ = _kemri("mlkem768")
    after_kdf = kemri.index(_oid("1.2.840.113549.1.9.16.3.28"))  # kekLength follows the KDF
    position = kemri.index(old, after_kdf if old == b"\x02\x01\x20" else 0)
    changed = kemri[:position] + new + kemri[position + len(old) :]
    with pytest.raises(MalformedCMSError, match=match):
        parse_enveloped(_enveloped_with([changed]))


def test_kem_recipient_of_an_unknown_ori_type_is_left_alone() -> None:
    """Another oriType is kept unread and unsupported; id-ori-kem has its reader."""
    kemri, _, _ = _kemri("mlkem768")
    other = kemri.replace(_oid(ID_ORI_KEM), _oid("1.2.840.113549.1.9.16.13.9"))
    (entry,) = parse_enveloped(_enveloped_with([other])).recipients
    assert (entry.kind, entry.supported, entry.method) == ("ori", False, None)
    assert entry.key_encryption == "1.2.840.113549.1.9.16.13.9"


def test_seed_pem_of_our_keys_decrypts() -> None:
    """Our ML-KEM key written by cryptography (PKCS#8 seed form, encrypted) loads and decrypts."""
    identity = pqc_pki().identities["mlkem1024"]
    pem = identity.key.private_bytes(  # type: ignore[union-attr]
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    key = load_private_key(pem, "secret", source="k.pem")
    data = build_enveloped(CONTENT, [EncryptionRecipient(identity.certificate)])
    assert decrypt_enveloped(data, key, identity.certificate).content == CONTENT  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["rsa2048", "p256", "mldsa65"])
def test_certificate_identifiers_are_the_bytes_asn1crypto_writes(kind: str) -> None:
    """IssuerAndSerialNumber and the ESS signingCertificateV2 attribute, written from the
    certificate's own encodings, are what asn1crypto writes from its parsed certificate (an
    ML-DSA certificate's issuer and serial can be read by asn1crypto; only its key cannot)."""
    certificate = pqc_pki().identities[kind].certificate
    der = certificate.public_bytes(serialization.Encoding.DER)
    parsed = asn1_x509.Certificate.load(der)
    expected_rid = cms.IssuerAndSerialNumber(
        {"issuer": parsed.issuer, "serial_number": parsed.serial_number}
    ).dump()
    assert encode_tlv(TAG_SEQUENCE, *issuer_and_serial(certificate)) == expected_rid
    assert tsp.SigningCertificateV2  # imported: registers the attribute with asn1crypto
    ess = cms.CMSAttribute(
        {
            "type": "signing_certificate_v2",
            "values": [
                {
                    "certs": [
                        {
                            "cert_hash": hashlib.sha256(der).digest(),
                            "issuer_serial": {
                                "issuer": [
                                    asn1_x509.GeneralName({"directory_name": parsed.issuer})
                                ],
                                "serial_number": parsed.serial_number,
                            },
                        }
                    ]
                }
            ],
        }
    ).dump()
    assert ess in constant_signed_attributes(certificate)


def test_engine_goes_on_past_an_unusable_kem_recipient() -> None:
    """Two of our addresses named, the ML-KEM one by an unusable KEMRecipientInfo: the engine
    decrypts with the RSA address's key."""
    kemri, _, _ = _kemri("mlkem768", kek_length=16)
    identities = pqc_pki().identities
    rsa = identities["rsa2048"]
    donor = build_enveloped(CONTENT, [EncryptionRecipient(rsa.certificate)])
    (ktri,) = _recipient_infos(donor)
    data = _enveloped_with([kemri, ktri], donor=donor)
    keyring = MemoryKeyring()
    for kind in ("mlkem768", "rsa2048"):
        keyring.add_identity(identities[kind].key, identities[kind].certificate)
    message = (
        b"MIME-Version: 1.0\r\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(data)
    )
    result = SMIME(Config(), keyring=keyring).decrypt(message)
    (record,) = result.statuses
    assert record.status == "DONE" and record["EncryptedTo"] == [{"EmailAddress": rsa.address}]

"""EnvelopedData / AuthEnvelopedData: round trips, recipient matching, failures."""

from __future__ import annotations

import os

import pytest
from asn1crypto import cms

from smimecore.algorithms.ciphers import (
    ContentParameters,
    DecryptionError,
    content_cipher_by_name,
    decrypt_content,
    encrypt_content,
    parse_parameters,
)
from smimecore.algorithms.rc2 import rc2_cbc_decrypt
from smimecore.cms.enveloped import (
    AUTH_ENVELOPED_DATA_OID,
    ENVELOPED_DATA_OID,
    EncryptionRecipient,
    NoMatchingRecipientError,
    NoUsableRecipientError,
    build_enveloped,
    decrypt_enveloped,
    parse_enveloped,
)
from smimecore.demo.pki import DemoIdentity, DemoPKI
from smimecore.errors import MalformedCMSError, UnsupportedAlgorithmError
from tests.envpki import CONTENT, KINDS, Recipient, issue_xdh

CIPHERS: tuple[str, ...] = ("aes-128-cbc", "aes-192-cbc", "aes-256-cbc")
CIPHERS += ("aes-128-gcm", "aes-256-gcm", "chacha20-poly1305")


def _spec(people: dict[str, Recipient], kind: str, **options: object) -> EncryptionRecipient:
    return EncryptionRecipient(
        people[kind].certificate,
        rsa_oaep=kind == "rsa-oaep",
        **options,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cipher", CIPHERS)
def test_round_trip(people: dict[str, Recipient], cipher: str, kind: str) -> None:
    der = build_enveloped(CONTENT, [_spec(people, kind)], cipher=cipher)
    message = parse_enveloped(der)
    assert message.authenticated == (cipher not in ("aes-128-cbc", "aes-192-cbc", "aes-256-cbc"))
    result = decrypt_enveloped(message, people[kind].key, people[kind].certificate)
    assert result.content == CONTENT
    assert result.cipher == cipher
    assert not result.weak
    assert result.recipient_index == 0
    assert result.matched_by_identifier
    expected = {"rsa2048": "rsaes-pkcs1-v1_5", "rsa-oaep": "rsaes-oaep-sha256"}.get(kind, "ecdh-")
    assert result.key_encryption.startswith(expected)


def test_output_is_der(people: dict[str, Recipient]) -> None:
    """The hand-spliced outer layers are valid DER (asn1crypto re-encodes them identically)."""
    for size in (0, 100, 70_000):
        der = build_enveloped(os.urandom(size), [_spec(people, "rsa2048")])
        parsed = cms.ContentInfo.load(der)
        assert parsed["content_type"].native == "enveloped_data"
        assert parsed.dump(force=True) == der
        assert parsed["content"]["version"].native == "v0"


def test_auth_enveloped_structure(people: dict[str, Recipient]) -> None:
    der = build_enveloped(CONTENT, [_spec(people, "p256")], cipher="aes-256-gcm")
    parsed = cms.ContentInfo.load(der)
    assert parsed["content_type"].dotted == AUTH_ENVELOPED_DATA_OID
    assert parsed.dump(force=True) == der
    assert len(parsed["content"]["mac"].native) == 16


def test_kdf_defaults(people: dict[str, Recipient]) -> None:
    names = {}
    for kind in ("p256", "p384", "p521", "x25519", "x448"):
        der = build_enveloped(CONTENT, [_spec(people, kind)], cipher="aes-128-cbc")
        names[kind] = parse_enveloped(der).recipients[0].key_encryption
    assert names == {
        "p256": "ecdh-x963-sha256+aes128-wrap",
        "p384": "ecdh-x963-sha384+aes128-wrap",
        "p521": "ecdh-x963-sha512+aes128-wrap",
        "x25519": "ecdh-hkdf-sha256+aes128-wrap",
        "x448": "ecdh-hkdf-sha512+aes128-wrap",
    }


@pytest.mark.parametrize(
    ("kind", "kdf", "kdf_hash"),
    [("p256", "x963", "sha1"), ("p384", "hkdf", "sha384"), ("x25519", "x963", "sha256")],
)
def test_other_kdfs(people: dict[str, Recipient], kind: str, kdf: str, kdf_hash: str) -> None:
    der = build_enveloped(
        CONTENT, [_spec(people, kind, kdf=kdf, kdf_hash=kdf_hash)], cipher="aes-256-cbc"
    )
    result = decrypt_enveloped(der, people[kind].key, people[kind].certificate)
    assert result.content == CONTENT
    assert result.key_encryption == f"ecdh-{kdf}-{kdf_hash}+aes256-wrap"


def test_several_recipients(people: dict[str, Recipient]) -> None:
    kinds = ("rsa2048", "p256", "x25519", "p521", "x448")
    der = build_enveloped(CONTENT, [_spec(people, kind) for kind in kinds], cipher="aes-256-gcm")
    message = parse_enveloped(der)
    # DER sorts the SET OF RecipientInfo, so the order is not the order given.
    assert sorted(entry.kind for entry in message.recipients) == ["kari"] * 4 + ["ktri"]
    seen = set()
    for kind in kinds:
        (entry, _), *others = message.recipients_for(people[kind].certificate)
        assert not others
        result = decrypt_enveloped(message, people[kind].key, people[kind].certificate)
        assert (result.content, result.recipient_index) == (CONTENT, entry.index)
        seen.add(entry.index)
    assert seen == set(range(5))


@pytest.mark.parametrize("kind", ["rsa2048", "rsa-oaep", "p384", "x25519"])
def test_subject_key_identifier(people: dict[str, Recipient], kind: str) -> None:
    spec = _spec(people, kind, use_subject_key_identifier=True)
    der = build_enveloped(CONTENT, [spec], cipher="aes-128-cbc")
    message = parse_enveloped(der)
    assert message.version == 2
    (identifier,) = message.recipients[0].identifiers
    assert identifier.subject_key_identifier is not None and identifier.serial is None
    assert identifier.matches(people[kind].certificate)
    result = decrypt_enveloped(message, people[kind].key, people[kind].certificate)
    assert result.content == CONTENT and result.recipient == identifier


def test_identifiers_for_matching(people: dict[str, Recipient]) -> None:
    der = build_enveloped(CONTENT, [_spec(people, "rsa2048"), _spec(people, "p256")])
    message = parse_enveloped(der)
    by_kind = {entry.kind: entry.identifiers[0] for entry in message.recipients}
    rsa_id, ec_id = by_kind["ktri"], by_kind["kari"]
    assert rsa_id.serial == people["rsa2048"].certificate.serial_number
    assert rsa_id.issuer is not None and "smimecore Test Root CA" in rsa_id.issuer
    assert ec_id.matches(people["p256"].certificate)
    assert not ec_id.matches(people["rsa2048"].certificate)
    assert [e.kind for e, _ in message.recipients_for(people["p256"].certificate)] == ["kari"]
    assert message.recipients_for(people["p384"].certificate) == []


def test_no_matching_recipient_and_try_all(people: dict[str, Recipient]) -> None:
    der = build_enveloped(CONTENT, [_spec(people, "p256")])
    other = people["x25519"]
    with pytest.raises(NoUsableRecipientError):
        decrypt_enveloped(der, other.key, other.certificate)
    owner = people["p256"]
    with pytest.raises(NoMatchingRecipientError, match="no recipient matches certificate"):
        decrypt_enveloped(der, owner.key, people["p384"].certificate)
    result = decrypt_enveloped(der, owner.key, people["p384"].certificate, try_all=True)
    assert result.content == CONTENT and not result.matched_by_identifier
    assert decrypt_enveloped(der, owner.key).content == CONTENT


def test_try_all_over_several_rsa_recipients(people: dict[str, Recipient], pki: DemoPKI) -> None:
    stranger = pki.issue("stranger@test.example", "rsa2048")
    der = build_enveloped(
        CONTENT,
        [EncryptionRecipient(stranger.certificate), _spec(people, "rsa2048")],
        cipher="aes-128-gcm",
    )
    result = decrypt_enveloped(der, people["rsa2048"].key)
    assert result.content == CONTENT
    assert result.recipient.matches(people["rsa2048"].certificate)


@pytest.mark.parametrize("cipher", ["aes-256-cbc", "aes-256-gcm", "chacha20-poly1305"])
@pytest.mark.parametrize("kind", ["rsa2048", "rsa-oaep", "p256", "x448"])
def test_wrong_key(people: dict[str, Recipient], pki: DemoPKI, cipher: str, kind: str) -> None:
    der = build_enveloped(CONTENT, [_spec(people, kind)], cipher=cipher)
    wrong_key: object
    if kind == "x448":
        wrong_key = issue_xdh(pki, "x448").key
    elif kind == "p256":
        wrong_key = pki.issue("other-p256@test.example", "p256").key
    else:
        wrong_key = pki.issue("other-rsa@test.example", "rsa2048").key
    with pytest.raises(DecryptionError, match=r"^Decryption failed$"):
        decrypt_enveloped(der, wrong_key, people[kind].certificate)  # type: ignore[arg-type]


def _tamper(der: bytes, offset_from_end: int) -> bytes:
    data = bytearray(der)
    data[len(data) - offset_from_end] ^= 0x01
    return bytes(data)


@pytest.mark.parametrize("cipher", ["aes-128-gcm", "aes-256-gcm", "chacha20-poly1305"])
def test_tampered_tag_and_ciphertext(people: dict[str, Recipient], cipher: str) -> None:
    der = build_enveloped(CONTENT, [_spec(people, "p256")], cipher=cipher)
    owner = people["p256"]
    for offset in (1, 16, 19, 25):  # inside the tag, then inside the ciphertext
        with pytest.raises(DecryptionError, match=r"^Decryption failed$"):
            decrypt_enveloped(_tamper(der, offset), owner.key, owner.certificate)


def test_tampered_cbc_padding(people: dict[str, Recipient]) -> None:
    content = b"x" * 64  # a full padding block of 0x10: flipping its last bit makes 0x11
    der = build_enveloped(content, [_spec(people, "rsa2048")], cipher="aes-256-cbc")
    owner = people["rsa2048"]
    with pytest.raises(DecryptionError, match=r"^Decryption failed$"):
        decrypt_enveloped(_tamper(der, 17), owner.key, owner.certificate)


def test_corrupted_rsa_encrypted_key_fails_like_a_wrong_key(people: dict[str, Recipient]) -> None:
    owner = people["rsa2048"]
    der = build_enveloped(CONTENT, [_spec(people, "rsa2048")], cipher="aes-128-cbc")
    message = parse_enveloped(der)
    encrypted_key = message.recipients[0].encrypted_keys[0]
    position = der.index(encrypted_key)
    broken = bytearray(der)
    broken[position + 5] ^= 0xFF
    with pytest.raises(DecryptionError, match=r"^Decryption failed$"):
        decrypt_enveloped(bytes(broken), owner.key, owner.certificate)


def test_truncated_der_never_crashes(people: dict[str, Recipient]) -> None:
    der = build_enveloped(CONTENT, [_spec(people, "p256")], cipher="aes-128-gcm")
    owner = people["p256"]
    for length in range(len(der)):
        with pytest.raises((MalformedCMSError, DecryptionError)):
            decrypt_enveloped(der[:length], owner.key, owner.certificate)


def test_unknown_content_cipher(people: dict[str, Recipient]) -> None:
    der = build_enveloped(CONTENT, [_spec(people, "rsa2048")], cipher="aes-256-cbc")
    aes256_cbc = bytes.fromhex("060960864801650304012a")
    assert der.count(aes256_cbc) == 1
    unknown = der.replace(aes256_cbc, aes256_cbc[:-1] + b"\x2b")  # aes256-OFB
    message = parse_enveloped(unknown)
    assert message.cipher is None and message.cipher_oid == "2.16.840.1.101.3.4.1.43"
    owner = people["rsa2048"]
    with pytest.raises(UnsupportedAlgorithmError):
        decrypt_enveloped(message, owner.key, owner.certificate)


def test_not_enveloped_data() -> None:
    data = cms.ContentInfo({"content_type": "data", "content": b"hello"}).dump()
    with pytest.raises(
        MalformedCMSError, match="expected CMS enveloped-data or authenveloped-data"
    ):
        parse_enveloped(data)
    with pytest.raises(MalformedCMSError):
        parse_enveloped(b"")
    with pytest.raises(MalformedCMSError):
        parse_enveloped(b"\x30\x80" + b"\x30" * 100)


def test_ber_indefinite_lengths(people: dict[str, Recipient]) -> None:
    """The same message re-encoded as BER with indefinite lengths and a chunked content."""
    owner = people["rsa2048"]
    content = os.urandom(5000)
    der = build_enveloped(content, [_spec(people, "rsa2048")], cipher="aes-128-cbc")
    parsed = cms.ContentInfo.load(der)
    body = parsed["content"]
    info = body["encrypted_content_info"]
    ciphertext = info["encrypted_content"].native
    chunks = b"".join(
        b"\x04\x82" + (len(ciphertext[i : i + 1000])).to_bytes(2, "big") + ciphertext[i : i + 1000]
        for i in range(0, len(ciphertext), 1000)
    )
    eci = (
        b"\x30\x80"
        + info["content_type"].dump()
        + info["content_encryption_algorithm"].dump()
        + b"\xa0\x80"
        + chunks
        + b"\x00\x00\x00\x00"
    )
    ber = (
        b"\x30\x80"
        + parsed["content_type"].dump()
        + b"\xa0\x80\x30\x80"
        + body["version"].dump()
        + body["recipient_infos"].dump()
        + eci
        + b"\x00\x00" * 3
    )
    result = decrypt_enveloped(ber, owner.key, owner.certificate)
    assert result.content == content
    with pytest.raises(MalformedCMSError):
        parse_enveloped(ber[:-2])


def test_enveloped_data_with_aead_is_refused(people: dict[str, Recipient]) -> None:
    """AES-GCM inside plain EnvelopedData would go unauthenticated (openssl cms-msg test)."""
    der = build_enveloped(CONTENT, [_spec(people, "rsa2048")], cipher="aes-128-gcm")
    auth = cms.ContentInfo.load(der)["content"]
    enveloped = cms.EnvelopedData(
        {
            "version": "v0",
            "recipient_infos": auth["recipient_infos"],
            "encrypted_content_info": auth["auth_encrypted_content_info"],
        }
    )
    swapped = cms.ContentInfo({"content_type": ENVELOPED_DATA_OID, "content": enveloped}).dump()
    owner = people["rsa2048"]
    with pytest.raises(UnsupportedAlgorithmError, match="not allowed in EnvelopedData"):
        decrypt_enveloped(swapped, owner.key, owner.certificate)


def test_repr_hides_secrets(people: dict[str, Recipient]) -> None:
    owner = people["rsa2048"]
    secret = b"top secret payload"
    der = build_enveloped(secret, [_spec(people, "rsa2048")])
    result = decrypt_enveloped(der, owner.key, owner.certificate)
    assert b"top secret" not in repr(result).encode()
    assert "top secret" not in repr(parse_enveloped(der))


def test_weak_and_encrypt_only_ciphers() -> None:
    assert content_cipher_by_name("des3").weak
    assert content_cipher_by_name("RC2-CBC").weak
    with pytest.raises(UnsupportedAlgorithmError):
        content_cipher_by_name("des-ede3-cbc", for_encryption=True)
    with pytest.raises(UnsupportedAlgorithmError):
        content_cipher_by_name("aes-256-ofb")


def test_empty_recipients_refused() -> None:
    with pytest.raises(ValueError, match="recipient"):
        build_enveloped(CONTENT, [])


def test_ed25519_recipient_refused(identities: dict[str, DemoIdentity]) -> None:
    with pytest.raises(UnsupportedAlgorithmError):
        build_enveloped(CONTENT, [EncryptionRecipient(identities["ed25519"].certificate)])


@pytest.mark.parametrize(
    ("version", "bits"), [(160, 40), (120, 64), (58, 128), (256, 256), (300, 300)]
)
def test_rc2_parameter_versions(version: int, bits: int) -> None:
    rc2 = content_cipher_by_name("rc2-cbc")
    der = cms.EncryptionAlgorithm(
        {"algorithm": "rc2", "parameters": {"rc2_parameter_version": version, "iv": b"8 bytes!"}}
    )["parameters"].dump()
    parameters = parse_parameters(rc2, der)
    assert parameters.effective_bits == bits
    assert parameters.key_size(rc2) == (bits + 7) // 8


def test_rc2_without_version_is_malformed() -> None:
    # RFC 3370 section 5.2 makes rc2ParameterVersion mandatory.
    rc2 = content_cipher_by_name("rc2-cbc")
    with pytest.raises(MalformedCMSError):
        parse_parameters(rc2, bytes.fromhex("300a040838206279746573"))
    with pytest.raises(UnsupportedAlgorithmError):
        parse_parameters(rc2, bytes.fromhex("300d02010504083820627974657321"))


def test_rc2_matches_cryptography_at_128_bits() -> None:
    from cryptography.hazmat.decrepit.ciphers.algorithms import RC2
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

    key, iv, plain = os.urandom(16), os.urandom(8), os.urandom(80)
    encryptor = Cipher(RC2(key), modes.CBC(iv)).encryptor()
    assert rc2_cbc_decrypt(key, 128, iv, encryptor.update(plain)) == plain


def test_cipher_layer_round_trip_and_failures() -> None:
    for name in CIPHERS:
        cipher = content_cipher_by_name(name)
        key = os.urandom(cipher.key_size)
        parameters_der, ciphertext, tag = encrypt_content(cipher, key, b"abc" * 33)
        parameters = parse_parameters(cipher, parameters_der)
        assert decrypt_content(cipher, key, parameters, ciphertext, tag=tag) == b"abc" * 33
        try:
            wrong = decrypt_content(
                cipher, os.urandom(cipher.key_size), parameters, ciphertext, tag=tag
            )
        except DecryptionError:
            pass
        else:  # CBC under a wrong key ends in valid padding about once in 256 tries
            assert not cipher.authenticated and wrong != b"abc" * 33
        with pytest.raises(DecryptionError):
            decrypt_content(cipher, key[:-1], parameters, ciphertext, tag=tag)
    cbc = content_cipher_by_name("aes-128-cbc")
    with pytest.raises(DecryptionError):
        decrypt_content(cbc, bytes(16), ContentParameters(bytes(16)), b"short")

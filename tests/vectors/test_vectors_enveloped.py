"""Third-party EnvelopedData / AuthEnvelopedData vectors, read in place.

RFC 4134 (3DES, RC2/40, S/MIME 5.3), RFC 9216 / draft-ireland-examples-cms
(RSA-OAEP, X25519 X9.63 and HKDF, ChaCha20-Poly1305, KEK), pyca/cryptography's
PKCS#7 vectors, RT's real Thunderbird mails and OpenSSL's malformed cases.
"""

from __future__ import annotations

import email
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import (
    load_der_private_key,
    load_pem_private_key,
)

from smimecore.cms.enveloped import (
    DecryptionError,
    DecryptionKey,
    NoUsableRecipientError,
    decrypt_enveloped,
    parse_enveloped,
)
from smimecore.errors import MalformedCMSError, SmimeError, UnsupportedAlgorithmError
from smimecore.pki.pem import find_pem_blocks
from tests.conftest import vector_path

pytestmark = pytest.mark.vectors

EX_CONTENT = b"This is some sample content."


def _pem_der(path: Path) -> bytes:
    return find_pem_blocks(path.read_bytes())[0].der()


def _mime_body(path: Path) -> bytes:
    payload = email.message_from_bytes(path.read_bytes()).get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload


def _pem_key(path: Path) -> DecryptionKey:
    return load_pem_private_key(path.read_bytes(), None)  # type: ignore[return-value]


def _pem_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


# ------------------------------------------------------------------ RFC 4134


@pytest.fixture(scope="module")
def bob_4134() -> tuple[DecryptionKey, x509.Certificate]:
    key = load_der_private_key(vector_path("rfc4134", "BobPrivRSAEncrypt.pri").read_bytes(), None)
    cert = x509.load_der_x509_certificate(
        vector_path("rfc4134", "BobRSASignByCarl.cer").read_bytes()
    )
    return key, cert  # type: ignore[return-value]


@pytest.mark.parametrize(("name", "cipher"), [("5.1.bin", "des-ede3-cbc"), ("5.2.bin", "rc2-cbc")])
def test_rfc4134_enveloped(
    bob_4134: tuple[DecryptionKey, x509.Certificate], name: str, cipher: str
) -> None:
    result = decrypt_enveloped(vector_path("rfc4134", name).read_bytes(), *bob_4134)
    assert result.content == EX_CONTENT
    assert (result.cipher, result.weak, result.recipient_index) == (cipher, True, 0)
    assert result.key_encryption == "rsaes-pkcs1-v1_5"


def test_rfc4134_smime_message(bob_4134: tuple[DecryptionKey, x509.Certificate]) -> None:
    der = _mime_body(vector_path("rfc4134", "5.3.eml"))
    result = decrypt_enveloped(der, *bob_4134)
    assert result.cipher == "des-ede3-cbc"
    assert result.content == EX_CONTENT


# ------------------------------------------------------------------ RFC 9216 examples


def _rfc9216(name: str) -> bytes:
    return vector_path("rfc9216", "cms-examples", "binary", f"{name}.p7m").read_bytes()


@pytest.fixture(scope="module")
def bob_9216() -> tuple[DecryptionKey, x509.Certificate]:
    return (
        _pem_key(vector_path("rfc9216", "keys", "lamps-bob.decrypt.p8.pem")),
        _pem_cert(vector_path("rfc9216", "keys", "lamps-bob.encrypt.crt")),
    )


@pytest.fixture(scope="module")
def dana_9216() -> tuple[DecryptionKey, x509.Certificate]:
    return (
        _pem_key(vector_path("rfc9216", "keys", "lamps-dana.decrypt.p8.pem")),
        _pem_cert(vector_path("rfc9216", "keys", "lamps-dana.encrypt.crt")),
    )


@pytest.mark.parametrize(
    ("name", "who", "cipher", "key_encryption"),
    [
        ("encryptedForBobRSAOaep", "bob", "aes-128-cbc", "rsaes-oaep-sha256"),
        ("encryptedForBobAndDana", "bob", "aes-128-cbc", "rsaes-oaep-sha256"),
        ("encryptedForBobAndDana", "dana", "aes-128-cbc", "ecdh-x963-sha256+aes128-wrap"),
        ("authEnvelopedForBobChaCha20Poly1305", "bob", "chacha20-poly1305", "rsaes-oaep-sha256"),
        ("authEnvelopedForDanaX25519HKDF", "dana", "aes-128-gcm", "ecdh-hkdf-sha256+aes256-wrap"),
    ],
)
def test_rfc9216_examples(
    bob_9216: tuple[DecryptionKey, x509.Certificate],
    dana_9216: tuple[DecryptionKey, x509.Certificate],
    name: str,
    who: str,
    cipher: str,
    key_encryption: str,
) -> None:
    key, cert = bob_9216 if who == "bob" else dana_9216
    result = decrypt_enveloped(_rfc9216(name), key, cert)
    assert result.content == EX_CONTENT
    assert (result.cipher, result.key_encryption) == (cipher, key_encryption)
    assert result.authenticated == name.startswith("authEnveloped")
    assert result.matched_by_identifier


def test_rfc9216_bob_and_dana_lists_both(
    bob_9216: tuple[DecryptionKey, x509.Certificate],
    dana_9216: tuple[DecryptionKey, x509.Certificate],
) -> None:
    message = parse_enveloped(_rfc9216("encryptedForBobAndDana"))
    assert [entry.kind for entry in message.recipients] == ["ktri", "kari"]
    assert [e.index for e, _ in message.recipients_for(bob_9216[1])] == [0]
    assert [e.index for e, _ in message.recipients_for(dana_9216[1])] == [1]


def test_rfc9216_kekri_is_skipped(bob_9216: tuple[DecryptionKey, x509.Certificate]) -> None:
    message = parse_enveloped(_rfc9216("encryptedKekri"))
    (entry,) = message.recipients
    assert (entry.kind, entry.supported, entry.identifiers) == ("kekri", False, ())
    assert message.cipher is not None and message.cipher.name == "aes-192-cbc"
    with pytest.raises(NoUsableRecipientError, match="no usable recipient"):
        decrypt_enveloped(message, *bob_9216)


# ------------------------------------------------------------------ pyca/cryptography


@pytest.fixture(scope="module")
def pyca_ca() -> tuple[DecryptionKey, x509.Certificate]:
    return (
        _pem_key(vector_path("pyca-cryptography-pkcs7", "ca", "rsa_key.pem")),
        _pem_cert(vector_path("pyca-cryptography-pkcs7", "ca", "rsa_ca.pem")),
    )


@pytest.mark.parametrize(
    ("name", "content", "cipher"),
    [
        ("enveloped-rsa-oaep.pem", b"Hello, world!", "aes-128-cbc"),
        ("enveloped-triple-des.pem", b"Hello, World!\r\n", "des-ede3-cbc"),
    ],
)
def test_pyca_enveloped(
    pyca_ca: tuple[DecryptionKey, x509.Certificate], name: str, content: bytes, cipher: str
) -> None:
    der = _pem_der(vector_path("pyca-cryptography-pkcs7", name))
    result = decrypt_enveloped(der, *pyca_ca)
    assert (result.content, result.cipher) == (content, cipher)


def test_pyca_enveloped_for_others(pyca_ca: tuple[DecryptionKey, x509.Certificate]) -> None:
    message = parse_enveloped(_pem_der(vector_path("pyca-cryptography-pkcs7", "enveloped.pem")))
    assert len(message.recipients) == 2
    assert all(entry.identifiers for entry in message.recipients)
    assert message.recipients_for(pyca_ca[1]) == []
    with pytest.raises((NoUsableRecipientError, LookupError)):
        decrypt_enveloped(message, *pyca_ca)


def test_pyca_enveloped_no_content(pyca_ca: tuple[DecryptionKey, x509.Certificate]) -> None:
    der = vector_path("pyca-cryptography-pkcs7", "enveloped-no-content.der").read_bytes()
    message = parse_enveloped(der)
    assert not message.has_content
    with pytest.raises(MalformedCMSError, match="no encryptedContent"):
        decrypt_enveloped(message, *pyca_ca)


# ------------------------------------------------------------------ RT's Thunderbird mails


@pytest.fixture(scope="module")
def rt_root() -> tuple[DecryptionKey, x509.Certificate]:
    return (
        _pem_key(vector_path("request-tracker", "keys", "root@example.com.key")),
        _pem_cert(vector_path("request-tracker", "keys", "root@example.com.crt")),
    )


@pytest.mark.parametrize(
    "name",
    [
        "4-encrypted-plain.eml",
        "5-encrypted-attachment.eml",
        "6-encrypted-binary.eml",
        "7-signed-encrypted-plain.eml",
        "8-signed-encrypted-attachment.eml",
        "9-signed-encrypted-binary.eml",
    ],
)
def test_rt_thunderbird_mails(rt_root: tuple[DecryptionKey, x509.Certificate], name: str) -> None:
    der = _mime_body(vector_path("request-tracker", "mails", name))
    assert der[1] == 0x80  # Thunderbird sends BER with indefinite lengths
    message = parse_enveloped(der)
    assert len(message.recipients) == 2
    result = decrypt_enveloped(message, *rt_root)
    assert result.cipher == "aes-256-cbc" and not result.weak
    assert f"ID:{name[0]}".encode() in result.content or name[0] in ("5", "6", "8", "9")
    assert b"Content-Type:" in result.content


def test_rt_sender_key_also_decrypts() -> None:
    key = _pem_key(vector_path("request-tracker", "keys", "sender@example.com.key"))
    cert = _pem_cert(vector_path("request-tracker", "keys", "sender@example.com.crt"))
    der = _mime_body(vector_path("request-tracker", "mails", "4-encrypted-plain.eml"))
    result = decrypt_enveloped(der, key, cert)
    assert b"ID:4" in result.content


# ------------------------------------------------------------------ OpenSSL's test data


def _openssl_data(*parts: str) -> Path:
    return vector_path("openssl-cms-tests", *parts)


def test_openssl_ciphertext_from_1_1_1() -> None:
    pem = _openssl_data("smime-certs", "smec3.pem").read_bytes()
    key = load_pem_private_key(next(b.text for b in find_pem_blocks(pem) if b.is_private_key), None)
    cert = x509.load_pem_x509_certificate(pem)
    der = _mime_body(_openssl_data("80-test_cms_data", "ciphertext_from_1_1_1.cms"))
    result = decrypt_enveloped(der, key, cert)  # type: ignore[arg-type]
    assert result.content == _openssl_data("smcont.txt").read_bytes()
    assert result.key_encryption == "ecdh-x963-sha1+des-ede3-wrap"


@pytest.mark.parametrize(
    ("name", "key_file", "cert_file"),
    [
        ("rsa-malformed.der", "smrsa3-key.pem", "smrsa3-cert.pem"),
        ("ecdh-malformed.der", "ecdh-key.pem", "ecdh-cert.pem"),
    ],
)
def test_openssl_malformed(name: str, key_file: str, cert_file: str) -> None:
    folder = "smime-certs" if name.startswith("rsa") else "80-test_cms_data"
    key = _pem_key(_openssl_data(folder, key_file))
    cert = _pem_cert(_openssl_data(folder, cert_file))
    der = _openssl_data("80-test_cms_data", name).read_bytes()
    with pytest.raises(SmimeError):
        decrypt_enveloped(der, key, cert)


def test_openssl_dh_malformed_is_typed() -> None:
    # X9.42 DH recipients are not supported: parsed, never usable.
    message = parse_enveloped(_openssl_data("80-test_cms_data", "dh-malformed.der").read_bytes())
    assert not any(entry.supported for entry in message.recipients)


def test_openssl_aes_gcm_in_enveloped_data_refused() -> None:
    der = _pem_der(_openssl_data("cms-msg", "enveloped-content-type-for-aes-gcm.pem"))
    message = parse_enveloped(der)
    key = _pem_key(_openssl_data("smime-certs", "smrsa3-key.pem"))
    with pytest.raises((UnsupportedAlgorithmError, NoUsableRecipientError)):
        decrypt_enveloped(message, key)


@pytest.mark.parametrize("name", ["authenveloped_attrs.pem", "bad_authenveloped_attrs.pem"])
def test_openssl_authenveloped_attrs_parse(name: str) -> None:
    message = parse_enveloped(_pem_der(_openssl_data("80-test_cms_data", name)))
    assert message.authenticated and message.aad is not None and message.aad[0] == 0x31
    assert [entry.kind for entry in message.recipients] == ["kekri"]
    assert message.cipher is not None and message.cipher.name == "aes-128-gcm"


def test_decryption_error_is_uniform() -> None:
    assert str(DecryptionError()) == "Decryption failed"

"""Third-party encrypted mail through SMIME.decrypt: RT's Thunderbird mails, RFC 4134, RFC 9216, pyca."""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
from email.message import EmailMessage
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from smimecore import SMIME, Config, MalformedCMSError
from tests.conftest import vector_path

pytestmark = pytest.mark.vectors

PNG_MD5 = "1e35f1aa90c98ca2bab85c26ae3e1ba7"
RT_ADDRESSES = ({"EmailAddress": "root@example.com"}, {"EmailAddress": "sender@example.com"})


def _rt_mail(number: int) -> bytes:
    (path,) = vector_path("request-tracker", "mails").glob(f"{number}-*.eml")
    return path.read_bytes()


@pytest.fixture(scope="module")
def rt_engine() -> SMIME:
    """RT's keyring (root@ and sender@ .pem, key passphrase 123456) and its RSA-1024 demo CA."""
    keys = vector_path("request-tracker", "keys")
    return SMIME(
        Config(
            keyring=keys,
            passphrase="123456",
            ca_path=keys / "demoCA" / "cacert.pem",
            allow_weak_algorithms=True,
        )
    )


def _parsed(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _check_rt_content(number: int, message: EmailMessage) -> None:
    """realmail.t's checks: ID:n in the text, zanzibar in the text file, the PNG's MD5."""
    body = message.get_body(preferencelist=("plain",))
    assert body is not None and f"ID:{number}" in body.get_content()
    attachments = {part.get_filename(): part for part in message.iter_attachments()}
    if number in (5, 8):
        assert "zanzibar" in attachments["text-attachment.txt"].get_content()
    if number in (6, 9):
        png = attachments["favicon.png"].get_content()
        assert hashlib.md5(png).hexdigest() == PNG_MD5  # noqa: S324 - the fixture's checksum


@pytest.mark.parametrize("number", [4, 5, 6])
def test_rt_encrypted_mails(rt_engine: SMIME, number: int) -> None:
    """Mails 4-6 decrypt (AES-256-CBC, RSA) with RT's keyring; the content is intact."""
    result = rt_engine.decrypt(_rt_mail(number))
    (record,) = result.statuses
    assert (record.operation, record.status) == ("Decrypt", "DONE")
    assert record.message == "Decryption process succeeded"
    (encrypted_to,) = record["EncryptedTo"]
    assert encrypted_to in RT_ADDRESSES
    assert record["Cipher"] == "aes-256-cbc"
    assert "WeakAlgorithms" not in record
    message = _parsed(result.data)
    assert message["Subject"] == f"Test Email ID:{number}"
    _check_rt_content(number, message)


@pytest.mark.parametrize("number", [7, 8, 9])
def test_rt_signed_then_encrypted_mails(rt_engine: SMIME, number: int) -> None:
    """Mails 7-9 decrypt, then the inner signature by sender@ verifies with trust FULL."""
    decrypted = rt_engine.decrypt(_rt_mail(number))
    assert decrypted.ok and decrypted.statuses[0]["Cipher"] == "aes-256-cbc"
    assert decrypted.statuses[0]["EncryptedTo"][0] in RT_ADDRESSES
    assert _parsed(decrypted.data).get_content_type() == "multipart/signed"
    verified = rt_engine.verify(decrypted.data)
    (record,) = verified.statuses
    assert (record.operation, record.status, record["Trust"]) == ("Verify", "DONE", "FULL")
    assert record["UserString"] == '"sender" <sender@example.com>'
    assert record["SignerMatchesSender"] is True
    _check_rt_content(number, _parsed(verified.data))


@pytest.mark.parametrize("address", ["root@example.com", "sender@example.com"])
def test_rt_mail_decrypts_with_either_key_alone(tmp_path: Path, address: str) -> None:
    """Both RecipientInfos are usable: a keyring holding only one of the two keys decrypts."""
    source = vector_path("request-tracker", "keys", f"{address}.pem")
    (tmp_path / source.name).write_bytes(source.read_bytes())
    engine = SMIME(Config(keyring=tmp_path, passphrase="123456"))
    (record,) = engine.decrypt(_rt_mail(4)).statuses
    assert record["EncryptedTo"] == [{"EmailAddress": address}]


def _der_to_keyring(tmp_path: Path, name: str, certificate: Path, key: Path) -> SMIME:
    """A keyring whose ``name`` file holds a DER certificate and DER PKCS#8 key, as PEM."""
    loaded = serialization.load_der_private_key(key.read_bytes(), None)
    pem = x509.load_der_x509_certificate(certificate.read_bytes()).public_bytes(
        serialization.Encoding.PEM
    ) + loaded.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (tmp_path / name).write_bytes(pem)
    return SMIME(Config(keyring=tmp_path))


def test_rfc4134_5_3_message(tmp_path: Path) -> None:
    """RFC 4134 5.3 (3DES, to Bob) decrypts by identifier; 3DES is reported as weak."""
    engine = _der_to_keyring(
        tmp_path,
        "BobRSA@example.com.pem",
        vector_path("rfc4134", "BobRSASignByCarl.cer"),
        vector_path("rfc4134", "BobPrivRSAEncrypt.pri"),
    )
    result = engine.decrypt(vector_path("rfc4134", "5.3.eml").read_bytes())
    (record,) = result.statuses
    assert record["EncryptedTo"] == [{"EmailAddress": "BobRSA@example.com"}]
    assert record["Cipher"] == "des-ede3-cbc" and record["WeakAlgorithms"] == "des-ede3-cbc"
    message = _parsed(result.data)
    assert message["Subject"] == "Example 5.3"
    assert message.get_content().strip() == "This is some sample content."


def _pkcs7_mime(der: bytes, smime_type: str) -> bytes:
    """``der`` as an application/pkcs7-mime message (LF line endings, 76-column base64)."""
    return (
        b"From: someone@example.net\n"
        b"To: nobody@example.net\n"
        b"Subject: a vector\n"
        b"MIME-Version: 1.0\n"
        b"Content-Type: application/pkcs7-mime; smime-type="
        + smime_type.encode()
        + b"; name=smime.p7m\n"
        b"Content-Transfer-Encoding: base64\n\n" + base64.encodebytes(der)
    )


@pytest.fixture(scope="module")
def lamps_engine(tmp_path_factory: pytest.TempPathFactory) -> SMIME:
    """RFC 9216's Bob (RSA) and Dana (X25519) as <address>.encryption.pem keyring files."""
    keys = vector_path("rfc9216", "keys")
    directory = tmp_path_factory.mktemp("lamps")
    for who, address in (("bob", "bob@smime.example"), ("dana", "dana@smime.example")):
        (directory / f"{address}.encryption.pem").write_bytes(
            (keys / f"lamps-{who}.encrypt.crt").read_bytes()
            + (keys / f"lamps-{who}.decrypt.p8.pem").read_bytes()
        )
    return SMIME(Config(keyring=directory))


@pytest.mark.parametrize(
    ("name", "smime_type", "cipher", "address"),
    [
        ("encryptedForBobRSAOaep", "enveloped-data", "aes-128-cbc", "bob@smime.example"),
        ("encryptedForBobAndDana", "enveloped-data", "aes-128-cbc", "bob@smime.example"),
        (
            "authEnvelopedForDanaX25519HKDF",
            "authEnveloped-data",
            "aes-128-gcm",
            "dana@smime.example",
        ),
        (
            "authEnvelopedForBobChaCha20Poly1305",
            "authEnveloped-data",
            "chacha20-poly1305",
            "bob@smime.example",
        ),
    ],
)
def test_rfc9216_examples_as_mail(
    lamps_engine: SMIME, name: str, smime_type: str, cipher: str, address: str
) -> None:
    """RFC 9216's OAEP, X25519-HKDF, ChaCha20 and AES-GCM examples decrypt from .encryption.pem files."""
    path = vector_path("rfc9216", "cms-examples", "binary", f"{name}.p7m")
    result = lamps_engine.decrypt(_pkcs7_mime(path.read_bytes(), smime_type))
    (record,) = result.statuses
    assert record["EncryptedTo"] == [{"EmailAddress": address}]
    assert record["Cipher"] == cipher
    assert b"Subject: a vector" in result.data


@pytest.mark.parametrize("with_key", [True, False], ids=["key-in-keyring", "no-key"])
def test_pyca_enveloped_without_content(tmp_path: Path, with_key: bool) -> None:
    """No encryptedContent: MalformedCMSError with a Decrypt/ERROR record, key or not."""
    ca = vector_path("pyca-cryptography-pkcs7", "ca")
    if with_key:
        (tmp_path / "ca@cryptography.example.pem").write_bytes(
            (ca / "rsa_ca.pem").read_bytes() + (ca / "rsa_key.pem").read_bytes()
        )
    engine = SMIME(Config(keyring=tmp_path))
    der = vector_path("pyca-cryptography-pkcs7", "enveloped-no-content.der").read_bytes()
    with pytest.raises(MalformedCMSError) as caught:
        engine.decrypt(_pkcs7_mime(der, "enveloped-data"))
    (record,) = caught.value.statuses
    assert (record.operation, record.status) == ("Decrypt", "ERROR")
    assert record.message == (
        "Decryption failed: EnvelopedData has no encryptedContent (detached content)"
    )

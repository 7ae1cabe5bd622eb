"""SMIME.encrypt / sign_encrypt / decrypt: message structure, RT's records, key search, errors."""

from __future__ import annotations

import copy
import email
import email.policy
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from smimecore import (
    SMIME,
    Config,
    ConfigError,
    NotProtectedError,
    PassphraseError,
    SecretKeyNotFoundError,
    StatusRecord,
)
from smimecore.cms.enveloped import decrypt_enveloped, parse_enveloped
from smimecore.demo.pki import DemoIdentity, DemoPKI
from smimecore.errors import DecryptionError, RecipientError
from smimecore.mime.enveloped import parse_encrypted
from smimecore.mime.transfer import encode_base64_lines
from tests.conftest import SAMPLE_MESSAGE

RSA = "rsa2048@test.example"
EC = "p256@test.example"
CBC_CIPHERS = ("aes-128-cbc", "aes-192-cbc", "aes-256-cbc")
AEAD_CIPHERS = ("aes-128-gcm", "aes-256-gcm", "chacha20-poly1305")
CIPHER_OIDS = {
    "aes-128-cbc": "2.16.840.1.101.3.4.1.2",
    "aes-192-cbc": "2.16.840.1.101.3.4.1.22",
    "aes-256-cbc": "2.16.840.1.101.3.4.1.42",
    "aes-128-gcm": "2.16.840.1.101.3.4.1.6",
    "aes-256-gcm": "2.16.840.1.101.3.4.1.46",
    "chacha20-poly1305": "1.2.840.113549.1.9.16.3.18",
}
BODY = b"Hello,\r\n\r\nthis is the body.\r\nSecond line.\r\n"
KeyringMaker = Callable[[dict[str, bytes]], SMIME]


def _headers(data: bytes) -> bytes:
    return data.split(b"\r\n\r\n", 1)[0]


def _content_info(data: bytes) -> cms.ContentInfo:
    return cms.ContentInfo.load(parse_encrypted(data).cms)


def _with_cms(data: bytes, der: bytes) -> bytes:
    """The encrypted message ``data`` with its CMS body replaced by ``der``."""
    return _headers(data) + b"\r\n\r\n" + encode_base64_lines(der)


def _pem(identity: DemoIdentity) -> bytes:
    return identity.certificate_pem() + identity.key_pem()


def _records(statuses: Iterable[StatusRecord]) -> list[dict[str, object]]:
    return [dict(record) for record in statuses]


@pytest.fixture
def keyring(tmp_path: Path) -> KeyringMaker:
    """Make an engine over a fresh keyring holding the given files (unencrypted keys)."""
    counter = iter(range(1000))

    def make(files: dict[str, bytes]) -> SMIME:
        directory = tmp_path / f"keyring{next(counter)}"
        directory.mkdir()
        for name, content in files.items():
            (directory / name).write_bytes(content)
        return SMIME(Config(keyring=directory, accept_untrusted_cas=True))

    return make


@pytest.fixture(scope="module")
def expired(pki: DemoPKI) -> DemoIdentity:
    """An identity whose certificate expired a year ago."""
    return pki.issue(
        "expired@test.example", "p256", not_before=datetime.now(UTC) - timedelta(days=400)
    )


@pytest.fixture(scope="module")
def impostor(pki: DemoPKI) -> DemoIdentity:
    """Another RSA identity: a wrong key to keep under the RSA recipient's address."""
    return pki.issue("impostor@test.example", "rsa2048")


class TestEncryptStructure:
    """What encrypt() produces."""

    def test_layout_and_record(self, smime: SMIME) -> None:
        """pkcs7-mime enveloped-data, smime.p7m, base64 CRLF lines, outer fields outside, no plaintext."""
        result = smime.encrypt(SAMPLE_MESSAGE, recipients=[EC])
        assert _records(result.statuses) == [
            {"Operation": "Encrypt", "Status": "DONE", "Message": "Data has been encrypted"}
        ]
        headers = _headers(result.data)
        assert (
            b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m"
            in headers
        )
        assert b"Content-Transfer-Encoding: base64" in headers
        assert b"Content-Disposition: attachment; filename=smime.p7m" in headers
        assert headers.count(b"MIME-Version: 1.0") == 1
        for field in (b"From: Alice", b"To: Bob", b"Subject: a test", b"Date: ", b"Message-ID: "):
            assert field in headers
        assert b"text/plain" not in result.data and b"this is the body" not in result.data
        body = result.data.split(b"\r\n\r\n", 1)[1]
        assert b"\n" not in body.replace(b"\r\n", b"")
        assert all(len(line) <= 64 for line in body.split(b"\r\n"))

    @pytest.mark.parametrize("cipher", CBC_CIPHERS + AEAD_CIPHERS)
    def test_smime_type_and_cms_follow_the_cipher(self, smime: SMIME, cipher: str) -> None:
        """CBC gives EnvelopedData/enveloped-data; GCM and ChaCha20 AuthEnvelopedData/authEnveloped-data."""
        result = smime.encrypt(SAMPLE_MESSAGE, recipients=[RSA], cipher=cipher)
        authenticated = cipher in AEAD_CIPHERS
        smime_type = b"authEnveloped-data" if authenticated else b"enveloped-data"
        assert b"; smime-type=" + smime_type + b"; name=smime.p7m" in _headers(result.data)
        info = _content_info(result.data)
        assert info["content_type"].native == (
            "authenticated_enveloped_data" if authenticated else "enveloped_data"
        )
        algorithm = info["content"][
            "auth_encrypted_content_info" if authenticated else "encrypted_content_info"
        ]
        assert algorithm["content_encryption_algorithm"]["algorithm"].dotted == CIPHER_OIDS[cipher]

    def test_default_cipher_is_the_configured_one(self, pki_dir: Path, smime: SMIME) -> None:
        """RT's default aes-128-cbc, or Config.cipher."""
        default = _content_info(smime.encrypt(SAMPLE_MESSAGE, recipients=[RSA]).data)
        algorithm = default["content"]["encrypted_content_info"]["content_encryption_algorithm"]
        assert algorithm["algorithm"].dotted == CIPHER_OIDS["aes-128-cbc"]
        configured = SMIME(smime.config.replace(cipher="aes-256-gcm"))
        assert b"authEnveloped-data" in _headers(
            configured.encrypt(SAMPLE_MESSAGE, recipients=[RSA]).data
        )

    def test_protected_entity_is_content_fields_and_crlf_body(
        self, smime: SMIME, identities: dict[str, DemoIdentity]
    ) -> None:
        """Only the Content-* fields and the body are encrypted, with CRLF line endings."""
        result = smime.encrypt(SAMPLE_MESSAGE, recipients=[RSA])
        rsa = identities["rsa2048"]
        decrypted = decrypt_enveloped(parse_encrypted(result.data).cms, rsa.key, rsa.certificate)  # type: ignore[arg-type]
        assert decrypted.content == b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + BODY

    def test_oaep_key_transport(self, smime: SMIME) -> None:
        """oaep=True writes RSAES-OAEP RecipientInfos that decrypt."""
        result = smime.encrypt(SAMPLE_MESSAGE, recipients=[RSA], oaep=True)
        (info,) = _content_info(result.data)["content"]["recipient_infos"]
        assert info.chosen["key_encryption_algorithm"]["algorithm"].native == "rsaes_oaep"
        decrypted = smime.decrypt(result.data)
        assert decrypted.statuses[0]["KeyEncryption"] == "rsaes-oaep-sha256"

    @pytest.mark.parametrize("cipher", ["des-ede3-cbc", "rc2-cbc", "aes-512-cbc"])
    def test_cipher_we_do_not_encrypt_with_is_refused(self, smime: SMIME, cipher: str) -> None:
        """3DES and RC2 are only decrypted; unknown names are refused too."""
        with pytest.raises(ConfigError) as caught:
            smime.encrypt(SAMPLE_MESSAGE, recipients=[RSA], cipher=cipher)
        assert caught.value.option == "cipher"


class TestRoundTrip:
    """encrypt() then decrypt() with every cipher and key kind."""

    @pytest.mark.parametrize("kind", ["rsa2048", "p256", "p384", "p521"])
    @pytest.mark.parametrize("cipher", CBC_CIPHERS + AEAD_CIPHERS)
    def test_round_trip(self, smime: SMIME, cipher: str, kind: str) -> None:
        """The plaintext comes back under the outer fields, with RT's Decrypt record."""
        address = f"{kind}@test.example"
        encrypted = smime.encrypt(SAMPLE_MESSAGE, recipients=[address], cipher=cipher)
        result = smime.decrypt(encrypted.data)
        (record,) = result.statuses
        assert record.operation == "Decrypt" and record.status == "DONE"
        assert record.message == "Decryption process succeeded"
        assert record["EncryptedTo"] == [{"EmailAddress": address}]
        assert record["Cipher"] == cipher
        assert str(record["KeyEncryption"]).startswith("rsaes" if kind == "rsa2048" else "ecdh")
        assert "WeakAlgorithms" not in record
        headers, body = result.data.split(b"\r\n\r\n", 1)
        assert body == BODY
        for field in (b"From: Alice", b"To: Bob", b"Subject: a test", b"Message-ID: <test@"):
            assert field in headers
        assert b"Content-Type: text/plain; charset=utf-8" in headers
        assert b"pkcs7" not in headers and b"Content-Disposition" not in headers

    def test_multipart_with_binary_attachment_is_exact(self, smime: SMIME) -> None:
        """A multipart message with 8-bit text and base64 binary comes back byte for byte (CRLF)."""
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = RSA, EC, "files"
        message.set_content("grüße, zanzibar\n")
        message.add_attachment(
            bytes(range(256)) * 4, maintype="image", subtype="png", filename="x.png"
        )
        raw = message.as_bytes()
        result = smime.decrypt(smime.encrypt(raw, recipients=[EC]).data)
        parsed = email.message_from_bytes(result.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        (attachment,) = parsed.iter_attachments()
        assert attachment.get_content() == bytes(range(256)) * 4
        body = parsed.get_body()
        assert body is not None and "zanzibar" in body.get_content()
        assert parsed["Subject"] == "files"

    def test_sign_encrypt_then_decrypt_then_verify(self, smime: SMIME) -> None:
        """Sign first, then encrypt (RT's order); decrypting exposes the signed message, which verifies."""
        result = smime.sign_encrypt(SAMPLE_MESSAGE, signer=RSA, recipients=[EC])
        assert _records(result.statuses) == [
            {"Operation": "Sign", "Status": "DONE", "Message": "Signed message"},
            {"Operation": "Encrypt", "Status": "DONE", "Message": "Data has been encrypted"},
        ]
        assert b"smime-type=enveloped-data" in _headers(result.data)
        decrypted = smime.decrypt(result.data)
        assert b"multipart/signed" in _headers(decrypted.data)
        verified = smime.verify(decrypted.data)
        assert verified.ok and verified.statuses[0]["SignerMatchesSender"] is True
        assert verified.data.split(b"\r\n\r\n", 1)[1] == BODY

    def test_sign_encrypt_opaque(self, smime: SMIME) -> None:
        """opaque=True encrypts a signed-data message, which verifies after decryption."""
        result = smime.sign_encrypt(
            SAMPLE_MESSAGE, signer=EC, recipients=[RSA], opaque=True, cipher="aes-256-gcm"
        )
        decrypted = smime.decrypt(result.data)
        assert b"smime-type=signed-data" in _headers(decrypted.data)
        assert smime.verify(decrypted.data).ok


class TestSeveralRecipients:
    """One RecipientInfo per recipient; each can decrypt alone."""

    def test_each_recipient_decrypts_with_only_its_own_key(
        self, smime: SMIME, keyring: KeyringMaker, identities: dict[str, DemoIdentity]
    ) -> None:
        """RSA + two EC recipients: three RecipientInfos, each key alone decrypts."""
        kinds = ("rsa2048", "p256", "p384")
        result = smime.encrypt(SAMPLE_MESSAGE, recipients=[f"{k}@test.example" for k in kinds])
        infos = _content_info(result.data)["content"]["recipient_infos"]
        assert sorted(info.name for info in infos) == ["kari", "kari", "ktri"]
        for kind in kinds:
            identity = identities[kind]
            alone = keyring({f"{identity.address}.pem": _pem(identity)})
            (record,) = alone.decrypt(result.data).statuses
            assert record["EncryptedTo"] == [{"EmailAddress": identity.address}]

    def test_repeated_addresses_count_once(self, smime: SMIME) -> None:
        """Addresses are de-duplicated case-insensitively."""
        result = smime.encrypt(
            SAMPLE_MESSAGE, recipients=[RSA, RSA.upper(), "Rsa2048@Test.Example"]
        )
        assert len(_content_info(result.data)["content"]["recipient_infos"]) == 1

    @pytest.mark.parametrize("form", ["object", "pem"])
    def test_certificates_outside_the_keyring(
        self, keyring: KeyringMaker, identities: dict[str, DemoIdentity], form: str
    ) -> None:
        """certificates= adds recipients that are not in the keyring (objects or PEM)."""
        p384 = identities["p384"]
        engine = keyring({f"{RSA}.pem": _pem(identities["rsa2048"])})
        given: x509.Certificate | bytes = (
            p384.certificate if form == "object" else p384.certificate_pem()
        )
        result = engine.encrypt(SAMPLE_MESSAGE, recipients=[RSA], certificates=[given])
        assert len(_content_info(result.data)["content"]["recipient_infos"]) == 2
        other = keyring({"anyone@test.example.pem": _pem(p384)})
        assert other.decrypt(result.data).statuses[0]["EncryptedTo"] == [
            {"EmailAddress": "anyone@test.example"}
        ]


class TestEncryptToSelf:
    """Config.encrypt_to_self adds the From address (encrypt) or the signer (sign_encrypt)."""

    def test_from_address_added(
        self, pki_dir: Path, keyring: KeyringMaker, identities: dict[str, DemoIdentity]
    ) -> None:
        """The sender (From: rsa2048) can decrypt only with encrypt_to_self."""
        sender_only = keyring({f"{RSA}.pem": _pem(identities["rsa2048"])})
        for to_self, infos in ((False, 1), (True, 2)):
            engine = SMIME(Config(keyring=pki_dir / "keyring", encrypt_to_self=to_self))
            result = engine.encrypt(SAMPLE_MESSAGE, recipients=[EC])
            assert len(_content_info(result.data)["content"]["recipient_infos"]) == infos
            if to_self:
                assert sender_only.decrypt(result.data).statuses[0]["EncryptedTo"] == [
                    {"EmailAddress": RSA}
                ]
            else:
                with pytest.raises(SecretKeyNotFoundError):
                    sender_only.decrypt(result.data)

    def test_signer_added_to_sign_encrypt(
        self, smime: SMIME, keyring: KeyringMaker, identities: dict[str, DemoIdentity]
    ) -> None:
        """sign_encrypt adds the signer, not the From address."""
        engine = SMIME(smime.config.replace(encrypt_to_self=True))
        result = engine.sign_encrypt(SAMPLE_MESSAGE, signer="p384@test.example", recipients=[EC])
        assert len(_content_info(result.data)["content"]["recipient_infos"]) == 2
        signer_only = keyring({"p384@test.example.pem": _pem(identities["p384"])})
        assert signer_only.decrypt(result.data).ok
        sender_only = keyring({f"{RSA}.pem": _pem(identities["rsa2048"])})
        with pytest.raises(SecretKeyNotFoundError):
            sender_only.decrypt(result.data)


class TestRecipientErrors:
    """RT's all-or-nothing recipient check."""

    @pytest.fixture
    def engine(
        self, keyring: KeyringMaker, identities: dict[str, DemoIdentity], expired: DemoIdentity
    ) -> SMIME:
        """A keyring with a usable RSA recipient and an expired certificate."""
        return keyring(
            {
                f"{RSA}.pem": identities["rsa2048"].certificate_pem(),
                f"{expired.address}.pem": expired.certificate_pem(),
            }
        )

    @pytest.mark.parametrize(
        ("address", "reason"),
        [("nobody@test.example", "Key not found"), ("expired@test.example", "Key expired")],
    )
    def test_unusable_recipient(self, engine: SMIME, address: str, reason: str) -> None:
        """One RecipientsCheck/ERROR record with RT's wording, Recipient and Reason."""
        with pytest.raises(RecipientError) as caught:
            engine.encrypt(SAMPLE_MESSAGE, recipients=[RSA, address])
        assert _records(caught.value.statuses) == [
            {
                "Operation": "RecipientsCheck",
                "Status": "ERROR",
                "Message": f"Recipient '{address}' is unusable, the reason is '{reason}'",
                "Recipient": address,
                "Reason": reason,
            }
        ]

    def test_every_bad_recipient_reported_and_nothing_encrypted(self, engine: SMIME) -> None:
        """All failures listed once each, in order; the usable recipient gets nothing either."""
        recipients = ["nobody@test.example", RSA, "expired@test.example", "NOBODY@test.example"]
        with pytest.raises(RecipientError) as caught:
            engine.encrypt(SAMPLE_MESSAGE, recipients=recipients)
        assert [(r["Recipient"], r["Reason"]) for r in caught.value.statuses] == [
            ("nobody@test.example", "Key not found"),
            ("expired@test.example", "Key expired"),
        ]
        assert all(r.operation == "RecipientsCheck" for r in caught.value.statuses)

    def test_sign_encrypt_checks_recipients_before_signing(self, smime: SMIME) -> None:
        """No Sign record: the recipients fail first."""
        with pytest.raises(RecipientError) as caught:
            smime.sign_encrypt(SAMPLE_MESSAGE, signer=RSA, recipients=["nobody@test.example"])
        assert [r.operation for r in caught.value.statuses] == ["RecipientsCheck"]


class TestDecryptInputs:
    """The MIME forms decrypt() accepts, and what it refuses."""

    @pytest.mark.parametrize(
        ("cipher", "content_type"),
        [
            ("aes-128-cbc", b"application/x-pkcs7-mime; smime-type=enveloped-data; name=smime.p7m"),
            ("aes-128-cbc", b"application/octet-stream; name=smime.p7m"),
            ("aes-128-cbc", b"application/octet-stream"),  # the Content-Disposition filename
            ("aes-128-cbc", b"APPLICATION/PKCS7-MIME; SMIME-TYPE=ENVELOPED-DATA; NAME=SMIME.P7M"),
            ("aes-128-cbc", b"application/pkcs7-mime; name=smime.p7m"),
            ("aes-256-gcm", b"Application/X-Pkcs7-Mime; smime-type=AUTHENVELOPED-DATA"),
        ],
    )
    def test_accepted_forms(self, smime: SMIME, cipher: str, content_type: bytes) -> None:
        """x-pkcs7-mime, octet-stream named *.p7m, any letter case, no smime-type."""
        data = smime.encrypt(SAMPLE_MESSAGE, recipients=[RSA], cipher=cipher).data
        original = b"application/pkcs7-mime; smime-type=" + (
            b"authEnveloped-data" if cipher.endswith("gcm") else b"enveloped-data"
        )
        retyped = data.replace(original + b"; name=smime.p7m", content_type)
        assert retyped != data
        result = smime.decrypt(retyped)
        assert result.ok and result.data.endswith(BODY)

    @pytest.mark.parametrize("kind", ["plain", "signed-data"])
    def test_not_encrypted_is_not_protected_error(self, smime: SMIME, kind: str) -> None:
        """A plain or signed message raises NotProtectedError with a Decrypt/ERROR record."""
        message = SAMPLE_MESSAGE
        if kind == "signed-data":
            message = smime.sign(SAMPLE_MESSAGE, signer=RSA, opaque=True).data
        with pytest.raises(NotProtectedError) as caught:
            smime.decrypt(message)
        (record,) = caught.value.statuses
        assert (record.operation, record.status) == ("Decrypt", "ERROR")
        assert record.message.startswith("Decryption failed: ")

    def test_email_message_inputs_are_not_modified(self, smime: SMIME) -> None:
        """EmailMessage inputs to encrypt and decrypt are left as they were."""
        plain = email.message_from_bytes(SAMPLE_MESSAGE, policy=email.policy.default)
        plain_before = copy.deepcopy(plain).as_bytes()
        encrypted = smime.encrypt(plain, recipients=[EC])
        assert plain.as_bytes() == plain_before
        parsed = email.message_from_bytes(encrypted.data, policy=email.policy.default)
        parsed_before = copy.deepcopy(parsed).as_bytes()
        assert smime.decrypt(parsed).data.endswith(BODY)
        assert parsed.as_bytes() == parsed_before
        assert parsed.get_content_type() == "application/pkcs7-mime"


class TestKeySearch:
    """How decrypt() finds the key: identifiers first, then candidate addresses."""

    def test_matched_by_identifier_without_any_address(self, smime: SMIME) -> None:
        """No recipients= and a To: naming someone else: the RecipientInfo names the keyring cert."""
        message = SAMPLE_MESSAGE.replace(
            b"To: Bob <p256@test.example>", b"To: list@elsewhere.example"
        )
        encrypted = smime.encrypt(message, recipients=["p384@test.example"])
        (record,) = smime.decrypt(encrypted.data).statuses
        assert record["EncryptedTo"] == [{"EmailAddress": "p384@test.example"}]

    def test_signing_only_key_file_is_missing(
        self, smime: SMIME, keyring: KeyringMaker, identities: dict[str, DemoIdentity]
    ) -> None:
        """<addr>.signing.pem does not decrypt: KeyCheck MISSING, as RT's separate_certs.t."""
        encrypted = smime.encrypt(SAMPLE_MESSAGE, recipients=[EC])
        engine = keyring({f"{EC}.signing.pem": _pem(identities["p256"])})
        with pytest.raises(SecretKeyNotFoundError) as caught:
            engine.decrypt(encrypted.data, recipients=[EC])
        assert _records(caught.value.statuses) == [
            {
                "Operation": "KeyCheck",
                "Status": "MISSING",
                "Message": "Secret key is not available",
                "KeyType": "secret",
            }
        ]

    def test_encryption_key_file_decrypts(
        self, smime: SMIME, keyring: KeyringMaker, identities: dict[str, DemoIdentity]
    ) -> None:
        """<addr>.encryption.pem is the decryption key."""
        encrypted = smime.encrypt(SAMPLE_MESSAGE, recipients=[EC])
        engine = keyring({f"{EC}.encryption.pem": _pem(identities["p256"])})
        assert engine.decrypt(encrypted.data).statuses[0]["EncryptedTo"] == [{"EmailAddress": EC}]

    @pytest.mark.parametrize("source", ["recipients", "to", "cc", "none"])
    def test_candidate_addresses_try_their_keys(
        self,
        smime: SMIME,
        keyring: KeyringMaker,
        pki: DemoPKI,
        identities: dict[str, DemoIdentity],
        source: str,
    ) -> None:
        """A renewed certificate (same key): found through recipients=, To or Cc, else MISSING."""
        rsa = identities["rsa2048"]
        renewed = (
            x509.CertificateBuilder()
            .subject_name(rsa.certificate.subject)
            .issuer_name(rsa.certificate.issuer)
            .public_key(rsa.certificate.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(rsa.certificate.not_valid_before_utc)
            .not_valid_after(rsa.certificate.not_valid_after_utc)
            .sign(pki.root_key, hashes.SHA256())
        )
        renewed_pem = renewed.public_bytes(serialization.Encoding.PEM)
        engine = keyring({"renewed@test.example.pem": renewed_pem + rsa.key_pem()})
        header = {"to": b"To: renewed@test.example", "cc": b"Cc: <renewed@test.example>"}
        message = SAMPLE_MESSAGE.replace(
            b"To: Bob <p256@test.example>", header.get(source, b"To: x@y.example")
        )
        encrypted = smime.encrypt(message, recipients=[RSA])
        recipients = ["renewed@test.example"] if source == "recipients" else []
        if source == "none":
            with pytest.raises(SecretKeyNotFoundError):
                engine.decrypt(encrypted.data, recipients=recipients)
            return
        (record,) = engine.decrypt(encrypted.data, recipients=recipients).statuses
        assert record["EncryptedTo"] == [{"EmailAddress": "renewed@test.example"}]


class TestUnreadableKeyringFiles:
    """One unreadable keyring file does not break encryption or decryption for the others."""

    @pytest.fixture
    def engine(
        self, keyring: KeyringMaker, identities: dict[str, DemoIdentity], impostor: DemoIdentity
    ) -> SMIME:
        """Files sorted before p256@'s: a damaged PEM and a PKCS#12 under another passphrase."""
        locked = pkcs12.serialize_key_and_certificates(
            b"locked",
            impostor.key,
            impostor.certificate,
            None,
            serialization.BestAvailableEncryption(b"another passphrase"),
        )
        return keyring(
            {
                "0damaged@test.example.pem": b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                "0locked@test.example.p12": locked,
                f"{EC}.pem": _pem(identities["p256"]),
            }
        )

    def test_decryption_skips_them(self, engine: SMIME) -> None:
        """The identifier scan passes over the unreadable files and finds p256@'s key."""
        encrypted = engine.encrypt(SAMPLE_MESSAGE, recipients=[EC])
        assert engine.decrypt(encrypted.data).statuses[0]["EncryptedTo"] == [{"EmailAddress": EC}]

    @pytest.mark.parametrize("address", ["0damaged@test.example", "0locked@test.example"])
    def test_encrypting_to_them_is_key_not_found(self, engine: SMIME, address: str) -> None:
        """A recipient whose file cannot be read is 'Key not found' (RT's openssl x509 gives nothing)."""
        with pytest.raises(RecipientError) as caught:
            engine.encrypt(SAMPLE_MESSAGE, recipients=[EC, address])
        assert [(r["Recipient"], r["Reason"]) for r in caught.value.statuses] == [
            (address, "Key not found")
        ]

    def test_wrong_passphrase_for_the_named_key(self, pki_dir: Path, smime: SMIME) -> None:
        """The key the message names cannot be opened: PassphraseError with KeyCheck/ERROR."""
        encrypted = smime.encrypt(SAMPLE_MESSAGE, recipients=[EC])
        engine = SMIME(Config(keyring=pki_dir / "keyring", passphrase="wrong"))
        with pytest.raises(PassphraseError) as caught:
            engine.decrypt(encrypted.data)
        (record,) = caught.value.statuses
        assert (record.operation, record.status, record["Key"]) == ("KeyCheck", "ERROR", EC)
        assert "wrong" not in record.message


class TestUniformFailure:
    """A wrong key, a flipped ciphertext byte and a flipped tag byte cannot be told apart (RFC 3218)."""

    def _failure(self, engine: SMIME, data: bytes) -> DecryptionError:
        with pytest.raises(DecryptionError) as caught:
            engine.decrypt(data, recipients=[RSA])
        return caught.value

    def test_three_failures_are_indistinguishable(
        self, smime: SMIME, keyring: KeyringMaker, impostor: DemoIdentity
    ) -> None:
        """Same type, text, records, cause and context for all three."""
        cbc = smime.encrypt(SAMPLE_MESSAGE, recipients=[RSA], cipher="aes-256-cbc").data
        gcm = smime.encrypt(SAMPLE_MESSAGE, recipients=[RSA], cipher="aes-256-gcm").data
        wrong_key = keyring({f"{RSA}.pem": _pem(impostor)})

        der = parse_encrypted(cbc).cms
        ciphertext = bytes(parse_enveloped(der).ciphertext or b"")
        flipped = bytearray(ciphertext)
        flipped[-17] ^= 0x01  # the last padding byte of the plaintext
        bad_cbc = _with_cms(cbc, der.replace(ciphertext, bytes(flipped)))

        der = parse_encrypted(gcm).cms
        tag = parse_enveloped(der).mac or b""
        bad_gcm = _with_cms(gcm, der.replace(tag, bytes([tag[0] ^ 0x80]) + tag[1:]))

        failures = [
            self._failure(wrong_key, cbc),
            self._failure(smime, bad_cbc),
            self._failure(smime, bad_gcm),
        ]
        expected = [
            {
                "Operation": "Decrypt",
                "Status": "ERROR",
                "Message": "Decryption failed",
                "EncryptedTo": [{"EmailAddress": RSA}],
            }
        ]
        for failure in failures:
            assert type(failure) is DecryptionError
            assert str(failure) == "Decryption failed"
            assert failure.args == ("Decryption failed",)
            assert _records(failure.statuses) == expected
            assert failure.__cause__ is None and failure.__context__ is None

    def test_original_message_still_decrypts(self, smime: SMIME) -> None:
        """The untouched message decrypts (the failures above come from the changes)."""
        data = smime.encrypt(SAMPLE_MESSAGE, recipients=[RSA], cipher="aes-256-cbc").data
        assert smime.decrypt(data, recipients=[RSA]).ok

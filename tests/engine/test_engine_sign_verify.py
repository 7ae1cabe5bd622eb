"""SMIME.sign / SMIME.verify: message structure, RT's status records, errors."""

from __future__ import annotations

import base64
import copy
import email
import email.policy
import re
from email.message import EmailMessage
from pathlib import Path

import pytest
from asn1crypto import cms

from smimecore import (
    SMIME,
    Config,
    DisabledError,
    NotProtectedError,
    PassphraseError,
    SecretKeyNotFoundError,
)
from smimecore.cms.signed import parse_signed_data
from smimecore.demo.pki import DemoIdentity, DemoPKI
from smimecore.mime.signed import parse_signed
from tests.conftest import PASSPHRASE, SAMPLE_MESSAGE

SIGNER = "rsa2048@test.example"


def _headers(data: bytes) -> bytes:
    return data.split(b"\r\n\r\n", 1)[0]


def _signed_data(result_data: bytes) -> cms.SignedData:
    der = parse_signed(result_data).signature
    return cms.ContentInfo.load(der)["content"]


class TestSignStructure:
    """What sign() produces."""

    def test_detached_signature_layout(self, smime: SMIME) -> None:
        """multipart/signed with pkcs7-signature, micalg, outer headers outside, CRLF inside."""
        result = smime.sign(SAMPLE_MESSAGE, signer=SIGNER)
        assert result.ok
        assert [dict(r) for r in result.statuses] == [
            {"Operation": "Sign", "Status": "DONE", "Message": "Signed message"}
        ]
        headers = _headers(result.data)
        assert (
            b'multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256' in headers
        )
        for field in (b"From: Alice", b"To: Bob", b"Subject: a test", b"Date: ", b"Message-ID: "):
            assert field in headers
        content = parse_signed(result.data).content
        assert content is not None
        signed_part = bytes(content)
        assert signed_part.startswith(b"Content-Type: text/plain; charset=utf-8\r\n\r\n")
        assert b"Subject" not in signed_part and b"From:" not in signed_part
        assert b"\n" not in signed_part.replace(b"\r\n", b"")

    def test_opaque_signature_layout(self, smime: SMIME) -> None:
        """application/pkcs7-mime; smime-type=signed-data; name=smime.p7m, content inside."""
        result = smime.sign(SAMPLE_MESSAGE, signer=SIGNER, opaque=True)
        headers = _headers(result.data)
        assert (
            b"Content-Type: application/pkcs7-mime; smime-type=signed-data; name=smime.p7m"
            in headers
        )
        assert b"Content-Transfer-Encoding: base64" in headers
        assert b"Subject: a test" in headers
        assert b"this is the body" not in result.data

    @pytest.mark.parametrize(("digest", "micalg"), [("sha384", "sha-384"), ("sha512", "sha-512")])
    def test_digest_choice_sets_micalg(self, smime: SMIME, digest: str, micalg: str) -> None:
        """--digest picks the digest and the micalg parameter follows it."""
        result = smime.sign(SAMPLE_MESSAGE, signer=SIGNER, digest=digest)
        assert f"micalg={micalg}".encode() in _headers(result.data)
        signer_info = _signed_data(result.data)["signer_infos"][0]
        assert signer_info["digest_algorithm"]["algorithm"].native == digest

    def test_ed25519_uses_sha512_and_pure_eddsa(self, smime: SMIME) -> None:
        """RFC 8419: Ed25519 signs with SHA-512 message digests."""
        result = smime.sign(SAMPLE_MESSAGE, signer="ed25519@test.example")
        assert b"micalg=sha-512" in _headers(result.data)
        signer_info = _signed_data(result.data)["signer_infos"][0]
        assert signer_info["signature_algorithm"]["algorithm"].native == "ed25519"
        assert smime.verify(result.data).ok

    def test_signed_attributes(self, smime: SMIME, identities: dict[str, DemoIdentity]) -> None:
        """contentType, signingTime, messageDigest, smimeCapabilities and ESS signingCertificateV2."""
        result = smime.sign(SAMPLE_MESSAGE, signer=SIGNER)
        attributes = _signed_data(result.data)["signer_infos"][0]["signed_attrs"]
        names = {attribute["type"].native for attribute in attributes}
        assert names == {
            "content_type",
            "signing_time",
            "message_digest",
            "smime_capabilities",
            "signing_certificate_v2",
        }
        ess = next(a for a in attributes if a["type"].native == "signing_certificate_v2")
        cert_id = ess["values"][0]["certs"][0]
        import hashlib

        from cryptography.hazmat.primitives.serialization import Encoding

        der = identities["rsa2048"].certificate.public_bytes(Encoding.DER)
        assert cert_id["cert_hash"].native == hashlib.sha256(der).digest()

    def test_pss_signature_algorithm(self, smime: SMIME) -> None:
        """pss=True writes an RSASSA-PSS SignerInfo that verifies."""
        result = smime.sign(SAMPLE_MESSAGE, signer=SIGNER, pss=True)
        signer_info = _signed_data(result.data)["signer_infos"][0]
        assert signer_info["signature_algorithm"]["algorithm"].native == "rsassa_pss"
        verified = smime.verify(result.data)
        assert verified.statuses[0]["SignatureAlgorithm"] == "rsassa_pss"

    def test_subject_key_identifier(self, smime: SMIME) -> None:
        """A SignerInfo v3 identifies the signer by subjectKeyIdentifier and still verifies."""
        result = smime.sign(SAMPLE_MESSAGE, signer=SIGNER, use_subject_key_identifier=True)
        signer_info = _signed_data(result.data)["signer_infos"][0]
        assert signer_info["sid"].name == "subject_key_identifier"
        assert smime.verify(result.data).ok

    def test_chain_and_other_certificates_are_sent(
        self, tmp_path: Path, pki: DemoPKI, identities: dict[str, DemoIdentity]
    ) -> None:
        """Intermediates from the keyring file and other_certificates_to_send go into the signature."""
        alice = identities["rsa2048"]
        other = identities["p256"]
        keyring = tmp_path / "keys"
        keyring.mkdir()
        (keyring / f"{alice.address}.pem").write_bytes(
            alice.certificate_pem() + pki.root_pem() + alice.key_pem()
        )
        (tmp_path / "others.pem").write_bytes(other.certificate_pem())
        engine = SMIME(Config(keyring=keyring, other_certificates_to_send=tmp_path / "others.pem"))
        result = engine.sign(SAMPLE_MESSAGE, signer=alice.address)
        certificates = parse_signed_data(parse_signed(result.data).signature).certificates
        assert set(certificates) == {alice.certificate, pki.root, other.certificate}

    def test_email_message_in_and_out_caller_object_untouched(self, smime: SMIME) -> None:
        """An EmailMessage is accepted, not modified, and the result is available as one."""
        message = email.message_from_bytes(SAMPLE_MESSAGE, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        before = copy.deepcopy(message).as_bytes()
        result = smime.sign(message, signer=SIGNER)
        assert message.as_bytes() == before
        assert isinstance(result.message, EmailMessage)
        assert result.message.get_content_type() == "multipart/signed"
        assert result.as_bytes() == result.data

    def test_message_without_content_type_gets_one(self, smime: SMIME) -> None:
        """A bare RFC 822 message is signed as text/plain."""
        result = smime.sign(b"Subject: bare\n\nhello\n", signer=SIGNER)
        content = parse_signed(result.data).content
        assert content == b"Content-Type: text/plain; charset=us-ascii\r\n\r\nhello\r\n"


class TestSignErrors:
    """Signing failures raise typed errors carrying RT's records."""

    def test_missing_signer_key_is_keycheck_missing(self, smime: SMIME) -> None:
        """No keyring file: KeyCheck MISSING 'Secret key for <signer> is not available'."""
        with pytest.raises(SecretKeyNotFoundError) as caught:
            smime.sign(SAMPLE_MESSAGE, signer="nobody@test.example")
        assert [dict(r) for r in caught.value.statuses] == [
            {
                "Operation": "KeyCheck",
                "Status": "MISSING",
                "Message": "Secret key for nobody@test.example is not available",
                "Key": "nobody@test.example",
                "KeyType": "secret",
            }
        ]

    def test_wrong_passphrase_is_keycheck_error_not_empty_output(self, pki_dir: Path) -> None:
        """RT returns an empty 'signed' message here; we raise with a KeyCheck record."""
        engine = SMIME(Config(keyring=pki_dir / "keyring", passphrase="not the passphrase"))
        with pytest.raises(PassphraseError) as caught:
            engine.sign(SAMPLE_MESSAGE, signer=SIGNER)
        (record,) = caught.value.statuses
        assert record.operation == "KeyCheck" and record.status == "ERROR"
        assert "not the passphrase" not in str(caught.value) + record.message

    def test_disabled_refuses_everything(self, pki_dir: Path, smime: SMIME) -> None:
        """enable = false makes every operation refuse."""
        engine = SMIME(Config(enable=False, keyring=pki_dir / "keyring", passphrase=PASSPHRASE))
        signed = smime.sign(SAMPLE_MESSAGE, signer=SIGNER)
        with pytest.raises(DisabledError):
            engine.sign(SAMPLE_MESSAGE, signer=SIGNER)
        with pytest.raises(DisabledError):
            engine.verify(signed.data)

    def test_sha1_is_not_used_to_sign(self, smime: SMIME) -> None:
        """SHA-1 is verify-only."""
        from smimecore import UnsupportedAlgorithmError

        with pytest.raises(UnsupportedAlgorithmError):
            smime.sign(SAMPLE_MESSAGE, signer=SIGNER, digest="sha1")


class TestVerify:
    """verify(): RT's records and re-insertion of the signed content."""

    def test_round_trip_reinserts_content_under_outer_headers(self, smime: SMIME) -> None:
        """The result keeps From/To/Subject and carries the signed entity's type and body."""
        result = smime.verify(smime.sign(SAMPLE_MESSAGE, signer=SIGNER).data)
        assert result.ok
        message = result.message
        assert message["Subject"] == "a test"
        assert message.get_content_type() == "text/plain"
        assert message.get_content() == "Hello,\r\n\r\nthis is the body.\r\nSecond line.\r\n"

    def test_done_record_has_rt_fields(
        self, smime: SMIME, identities: dict[str, DemoIdentity]
    ) -> None:
        """Verify DONE carries RT's message and fields (no CAPath: trust is unknown)."""
        (record,) = smime.verify(smime.sign(SAMPLE_MESSAGE, signer=SIGNER).data).statuses
        certificate = identities["rsa2048"].certificate
        assert record["Message"] == (
            'The signature is good, signed by "Test rsa2048" <rsa2048@test.example>, '
            "assured by smimecore Test Root CA, trust is unknown"
        )
        assert record["Trust"] == "UNKNOWN"
        assert record["Serial"] == str(certificate.serial_number)
        assert record["UserString"] == '"Test rsa2048" <rsa2048@test.example>'
        assert record["Issuer"] == "smimecore Test Root CA"
        assert record["CreatedTimestamp"] == str(int(certificate.not_valid_before_utc.timestamp()))
        assert record["ExpireTimestamp"] == str(int(certificate.not_valid_after_utc.timestamp()))

    def test_no_ca_path_and_untrusted_refused_is_bad(self, pki_dir: Path, smime: SMIME) -> None:
        """RT's table: no CAPath, AcceptUntrustedCAs off -> BAD 'The signing CA was not trusted'."""
        signed = smime.sign(SAMPLE_MESSAGE, signer=SIGNER)
        strict = SMIME(Config(keyring=pki_dir / "keyring", passphrase=PASSPHRASE))
        result = strict.verify(signed.data)
        (record,) = result.statuses
        assert (record["Status"], record["Message"], record["Trust"]) == (
            "BAD",
            "The signing CA was not trusted",
            "NONE",
        )
        assert {"Serial", "UserString", "ExpireTimestamp", "CreatedTimestamp"} <= set(record)
        assert not result.ok
        assert result.data == signed.data

    def test_tampered_content_is_bad_and_message_unchanged(self, smime: SMIME) -> None:
        """One changed byte: Verify BAD 'The signature did not verify'; the input comes back as is."""
        signed = smime.sign(SAMPLE_MESSAGE, signer=SIGNER).data
        tampered = signed.replace(b"this is the body", b"this is the BODY")
        result = smime.verify(tampered)
        assert [(r.operation, r.status, r.message) for r in result.statuses] == [
            ("Verify", "BAD", "The signature did not verify")
        ]
        assert result.data == tampered

    def test_mta_converted_line_endings_still_verify(self, smime: SMIME) -> None:
        """A message whose CRLFs became LF in transit verifies (canonical form is retried)."""
        signed = smime.sign(SAMPLE_MESSAGE, signer=SIGNER).data
        assert smime.verify(signed.replace(b"\r\n", b"\n")).ok

    def test_x_types_and_any_letter_case(self, smime: SMIME) -> None:
        """application/x-pkcs7-signature and upper-case types and parameters are accepted."""
        signed = smime.sign(SAMPLE_MESSAGE, signer=SIGNER).data
        variant = signed.replace(b"multipart/signed", b"Multipart/Signed")
        variant = variant.replace(
            b'protocol="application/pkcs7-signature"', b'PROTOCOL="Application/X-PKCS7-Signature"'
        )
        variant = variant.replace(
            b"Content-Type: application/pkcs7-signature",
            b"Content-Type: application/x-pkcs7-signature",
        )
        assert smime.verify(variant).ok

    def test_opaque_round_trip(self, smime: SMIME) -> None:
        """Opaque signed-data verifies and yields the encapsulated entity."""
        result = smime.verify(
            smime.sign(SAMPLE_MESSAGE, signer="p384@test.example", opaque=True).data
        )
        assert result.ok
        assert result.message.get_content() == "Hello,\r\n\r\nthis is the body.\r\nSecond line.\r\n"

    def test_signature_without_certificates_found_in_keyring(self, smime: SMIME) -> None:
        """RT fails when the signature embeds no certificate; we find the signer in the keyring."""
        signed = smime.sign(SAMPLE_MESSAGE, signer=SIGNER).data
        parts = parse_signed(signed)
        content_info = cms.ContentInfo.load(parts.signature)
        signed_data = content_info["content"].copy()
        del signed_data["certificates"]
        stripped = cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()
        old = base64.encodebytes(parts.signature).replace(b"\n", b"")
        body = re.sub(rb"[\r\n]", b"", signed)
        assert old in body
        rebuilt = signed.split(b"Content-Disposition: attachment; filename=smime.p7s\r\n\r\n")[0]
        boundary = re.search(rb'boundary="([^"]+)"', signed)
        assert boundary is not None
        rebuilt += (
            b"Content-Disposition: attachment; filename=smime.p7s\r\n\r\n"
            + base64.encodebytes(stripped).replace(b"\n", b"\r\n")
            + b"\r\n--"
            + boundary.group(1)
            + b"--\r\n"
        )
        assert not parse_signed_data(parse_signed(rebuilt).signature).certificates
        assert smime.verify(rebuilt).ok

    def test_not_signed_message_raises_with_error_record(self, smime: SMIME) -> None:
        """A plain message is a NotProtectedError with a Verify ERROR record."""
        with pytest.raises(NotProtectedError) as caught:
            smime.verify(SAMPLE_MESSAGE)
        (record,) = caught.value.statuses
        assert (record.operation, record.status) == ("Verify", "ERROR")
        assert record.message.startswith("There was an error verifying: ")

    def test_several_signers_each_reported(self, smime: SMIME, pki_dir: Path, openssl) -> None:  # type: ignore[no-untyped-def]
        """Two SignerInfos (RSA and EC, made by openssl) give two Verify records."""
        (pki_dir / "msg.txt").write_bytes(b"Content-Type: text/plain\r\n\r\ntwo signers\r\n")
        produced = openssl(
            "cms", "-sign", "-in", pki_dir / "msg.txt",
            "-signer", pki_dir / "rsa2048@test.example.crt", "-inkey", pki_dir / "rsa2048@test.example.key",
            "-signer", pki_dir / "p256@test.example.crt", "-inkey", pki_dir / "p256@test.example.key",
        )  # fmt: skip
        assert produced.returncode == 0, produced.stderr
        result = smime.verify(produced.stdout)
        assert sorted(r["UserString"] for r in result.statuses) == [
            '"Test p256" <p256@test.example>',
            '"Test rsa2048" <rsa2048@test.example>',
        ]
        assert result.ok


class TestSignerAndSender:
    """SignerMatchesSender and require_sender_match (none of RT, OpenSSL or MimeKit checks this)."""

    def test_signer_is_the_from_address(self, smime: SMIME) -> None:
        """Signed by the From address (compared case-insensitively): SignerMatchesSender is true."""
        message = SAMPLE_MESSAGE.replace(b"<rsa2048@test.example>", b"<RSA2048@Test.Example>")
        (record,) = smime.verify(smime.sign(message, signer=SIGNER).data).statuses
        assert record["SignerMatchesSender"] is True

    def test_signed_by_someone_else(self, smime: SMIME) -> None:
        """Signed by another identity: the record says so, and the signature is still DONE."""
        (record,) = smime.verify(
            smime.sign(SAMPLE_MESSAGE, signer="p256@test.example").data
        ).statuses
        assert record["Status"] == "DONE"
        assert record["SignerMatchesSender"] is False

    def test_sender_field_never_stands_in_for_a_from_that_does_not_match(
        self, smime: SMIME
    ) -> None:
        """An added Sender: naming the signer does not make it the From address (issue 10)."""
        message = b"Sender: p256@test.example\n" + SAMPLE_MESSAGE
        (record,) = smime.verify(smime.sign(message, signer="p256@test.example").data).statuses
        assert record["SignerMatchesSender"] is False

    def test_sender_field_counts_when_there_is_no_from(self, smime: SMIME) -> None:
        """Without any From:, the Sender: address is the sender (Thunderbird's rule)."""
        message = b"Sender: p256@test.example\n" + SAMPLE_MESSAGE.replace(
            b"From: Alice <rsa2048@test.example>\n", b""
        )
        (record,) = smime.verify(smime.sign(message, signer="p256@test.example").data).statuses
        assert record["SignerMatchesSender"] is True

    def test_require_sender_match_makes_a_mismatch_bad(self, pki_dir: Path, smime: SMIME) -> None:
        """With require_sender_match, a message signed by one person but shown as another's is BAD."""
        strict = SMIME(
            Config(
                keyring=pki_dir / "keyring",
                passphrase=PASSPHRASE,
                accept_untrusted_cas=True,
                require_sender_match=True,
            )
        )
        spoofed = smime.sign(SAMPLE_MESSAGE, signer="p256@test.example").data
        (record,) = strict.verify(spoofed).statuses
        assert record["Status"] == "BAD"
        assert "is not the sender" in record["Message"]
        genuine = smime.sign(SAMPLE_MESSAGE, signer=SIGNER).data
        assert strict.verify(genuine).ok


class TestCheckRecipients:
    """check_recipients follows RT section 6.3 (usable if trusted, or under accept_untrusted_cas)."""

    def test_usable_missing_and_duplicate(self, smime: SMIME) -> None:
        """One record per distinct address; a missing certificate is RT's 'Key not found'."""
        records = smime.check_recipients(
            ["p256@test.example", "nobody@test.example", "P256@test.example"]
        )
        assert [(r.status, r["Recipient"]) for r in records] == [
            ("DONE", "p256@test.example"),
            ("ERROR", "nobody@test.example"),
        ]
        assert records[1].message == (
            "Recipient 'nobody@test.example' is unusable, the reason is 'Key not found'"
        )
        assert records[1]["Reason"] == "Key not found"

    def test_expired_certificate(self, tmp_path: Path, pki: DemoPKI) -> None:
        """An expired certificate gives RT's 'Key expired'."""
        from datetime import UTC, datetime, timedelta

        old = pki.issue(
            "old@test.example", "p256", not_before=datetime.now(UTC) - timedelta(days=400)
        )
        (tmp_path / "old@test.example.pem").write_bytes(old.certificate_pem())
        engine = SMIME(Config(keyring=tmp_path, accept_untrusted_cas=True))
        (record,) = engine.check_recipients(["old@test.example"])
        assert (
            record.message
            == "Recipient 'old@test.example' is unusable, the reason is 'Key expired'"
        )

    def test_untrusted_certificate_refused_without_accept_untrusted(self, pki_dir: Path) -> None:
        """Without a trusted CA and without accept_untrusted_cas, a certificate is not usable."""
        engine = SMIME(Config(keyring=pki_dir / "keyring"))
        (record,) = engine.check_recipients(["p256@test.example"])
        assert record.status == "ERROR"
        assert record["Reason"] == "Key not trusted"

    def test_certificate_only_file_with_encrypted_key_elsewhere(
        self, tmp_path: Path, pki: DemoPKI, identities: dict[str, DemoIdentity]
    ) -> None:
        """The certificate is found without opening (or needing the passphrase of) any key."""
        bob = identities["p256"]
        (tmp_path / "bob@test.example.pem").write_bytes(
            pki.root_pem() + bob.certificate_pem() + bob.key_pem("unknown passphrase")
        )
        engine = SMIME(Config(keyring=tmp_path, accept_untrusted_cas=True))
        assert engine.keyring.certificate_for("bob@test.example", "encryption") == bob.certificate
        assert engine.check_recipients(["bob@test.example"])[0].status == "DONE"

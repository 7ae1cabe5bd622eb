"""The expert layer (smimecore.expert): bare CMS objects signed, verified, encrypted, decrypted.

Round trips through our own functions, every way a key, a certificate and
trust can be given, the DER/BER/PEM forms, and the typed errors.  Interop
with the openssl binary is in test_expert_openssl.py, the third-party
objects in test_expert_vectors.py.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from smimecore import (
    SMIME,
    CertificateNotFoundError,
    Config,
    ConfigError,
    DecryptionError,
    DisabledError,
    KeyLoadError,
    MalformedCMSError,
    MissingPassphraseError,
    NoMatchingRecipientError,
    NotProtectedError,
    PassphraseError,
    RecipientError,
    SecretKeyNotFoundError,
    UnsupportedAlgorithmError,
)
from smimecore.cms.signed import parse_signed_data
from smimecore.demo.pki import DemoIdentity, DemoPKI
from smimecore.engine.outcomes import Refusal
from smimecore.expert import (
    DecryptedData,
    Verification,
    cms_der,
    decrypt_data,
    encrypt_data,
    sign_data,
    verify_data,
    write_cms,
)
from smimecore.keyring import MemoryKeyring
from smimecore.trust.base import NoCAPathTrust
from tests.conftest import PASSPHRASE
from tests.envpki import Recipient

CONTENT = b"first line\nsecond line\r\n\x00\xff binary tail"
"""Bare content: LF and CRLF lines and 8-bit octets, signed and encrypted exactly as given."""


@pytest.fixture(scope="module")
def alice(identities: dict[str, DemoIdentity]) -> DemoIdentity:
    return identities["rsa2048"]


@pytest.fixture(scope="module")
def ca_path(pki_dir: Path) -> str:
    return str(pki_dir / "ca.pem")


def _pkcs12(identity: DemoIdentity, passphrase: str) -> bytes:
    return pkcs12.serialize_key_and_certificates(
        b"friendly",
        identity.key,  # type: ignore[arg-type]
        identity.certificate,
        None,
        serialization.BestAvailableEncryption(passphrase.encode()),
    )


# -- signing and verifying ------------------------------------------------------


@pytest.mark.parametrize("kind", ["rsa2048", "p256", "p384", "ed25519"])
@pytest.mark.parametrize("detached", [True, False], ids=["detached", "encapsulated"])
def test_sign_verify_round_trip_with_trust(
    identities: dict[str, DemoIdentity], ca_path: str, kind: str, detached: bool
) -> None:
    """Each key kind signs; the outcome says intact, valid, trusted, who and with what."""
    identity = identities[kind]
    signed = sign_data(CONTENT, identity.key, identity.certificate, detached=detached)
    assert parse_signed_data(signed).is_detached is detached

    checked = verify_data(signed, content=CONTENT if detached else None, trust=ca_path)

    assert isinstance(checked, Verification) and checked.ok
    (outcome,) = checked
    assert (outcome.intact, outcome.valid, outcome.trusted) == (True, True, True)
    assert outcome.trust_reason is None and outcome.refusal is None
    assert outcome.signer == identity.certificate
    assert outcome.identity is not None and outcome.identity.email == identity.address
    assert outcome.digest_algorithm == ("sha512" if kind == "ed25519" else "sha256")
    assert outcome.signature_algorithm == {
        "rsa2048": "rsassa_pkcs1v15",
        "ed25519": "ed25519",
    }.get(kind, "ecdsa")
    assert outcome.signing_time is not None
    assert checked.content == CONTENT
    assert identity.certificate in checked.certificates
    (record,) = checked.statuses
    assert (record["Operation"], record["Status"], record["Trust"]) == ("Verify", "DONE", "FULL")


def test_signing_options_reach_the_signer_info(alice: DemoIdentity) -> None:
    """digest, PSS, subjectKeyIdentifier and signing_time are what the SignerInfo says."""
    moment = datetime(2030, 5, 6, 7, 8, 9, tzinfo=UTC)
    signed = sign_data(
        CONTENT,
        alice.key,
        alice.certificate,
        digest="sha512",
        pss=True,
        use_subject_key_identifier=True,
        signing_time=moment,
    )
    signer_info = parse_signed_data(signed).signer_infos[0]
    assert signer_info.version == 3 and signer_info.signer_id.subject_key_identifier
    (outcome,) = verify_data(signed, content=CONTENT)
    assert outcome.valid
    assert (outcome.digest_algorithm, outcome.signature_algorithm) == ("sha512", "rsassa_pss")
    assert outcome.signing_time == moment


def test_chain_certificates_are_sent(pki: DemoPKI, alice: DemoIdentity) -> None:
    """chain= adds certificates to the SignedData (the root here), each once."""
    signed = sign_data(CONTENT, alice.key, alice.certificate, chain=[pki.root_pem(), pki.root])
    carried = parse_signed_data(signed).certificates
    assert len(carried) == 2 and set(carried) == {alice.certificate, pki.root}


def test_tampered_content_is_an_outcome_not_an_error(alice: DemoIdentity, ca_path: str) -> None:
    signed = sign_data(CONTENT, alice.key, alice.certificate)
    checked = verify_data(signed, content=CONTENT + b"!", trust=ca_path)
    (outcome,) = checked
    assert not checked.ok
    assert (outcome.intact, outcome.valid, outcome.refusal) == (False, False, Refusal.NOT_VALID)
    assert checked.statuses[0]["Message"] == "The signature did not verify"


def test_line_endings_are_not_changed(alice: DemoIdentity) -> None:
    """Bare content is signed as given: the CRLF form of LF content does not verify."""
    signed = sign_data(b"a\nb\n", alice.key, alice.certificate)
    assert verify_data(signed, content=b"a\nb\n")[0].intact
    assert not verify_data(signed, content=b"a\r\nb\r\n")[0].intact


def test_untrusted_signer_says_why(alice: DemoIdentity, tmp_path: Path) -> None:
    """Trust NONE with its reason; accept_untrusted_cas accepts it, still untrusted."""
    other = tmp_path / "other-ca.pem"
    other.write_bytes(DemoPKI("Another Root").root_pem())
    signed = sign_data(CONTENT, alice.key, alice.certificate, detached=False)

    (refused,) = verify_data(signed, trust=str(other))
    assert (refused.valid, refused.trusted, refused.trust_reason) == (True, False, "no-path")
    assert refused.refusal is Refusal.UNTRUSTED

    (accepted,) = verify_data(signed, trust=other, config=Config(accept_untrusted_cas=True))
    assert accepted.accepted and not accepted.trusted and accepted.trust_reason == "no-path"

    (unknown,) = verify_data(signed)  # no trust at all: unknown, no ca_path
    assert unknown.trust_reason == "no-ca-path" and not unknown.accepted


def test_trust_as_an_smime_or_an_evaluator(
    pki_dir: Path, alice: DemoIdentity, ca_path: str
) -> None:
    """An SMIME lends its trust (and stores the signer); an evaluator is asked directly."""
    smime = SMIME(Config(ca_path=ca_path, keyring=pki_dir / "keyring"))
    signed = sign_data(CONTENT, alice.key, alice.certificate, detached=False)

    assert verify_data(signed, trust=smime)[0].trusted
    assert [entry.certificate for entry in smime.certificate_store.get(alice.address)] == [
        alice.certificate
    ]
    (outcome,) = verify_data(signed, trust=NoCAPathTrust())
    assert outcome.trust_reason == "no-ca-path"
    with pytest.raises(ConfigError, match="given twice"):
        verify_data(signed, trust=smime, config=Config())
    with pytest.raises(ConfigError, match="trust"):
        verify_data(signed, trust=42)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="ca_path"):
        verify_data(signed, trust="/nonexistent/ca.pem")


def test_certificates_find_a_signer_the_message_lacks(alice: DemoIdentity, ca_path: str) -> None:
    """A SignedData without certificates verifies when certificates= (or the keyring) has the signer."""
    signed = sign_data(CONTENT, alice.key, alice.certificate, detached=False)
    without = _strip_certificates(signed)
    with pytest.raises(CertificateNotFoundError) as raised:
        verify_data(without)
    assert raised.value.statuses[0]["Status"] == "ERROR"

    assert verify_data(without, certificates=[alice.certificate_pem()], trust=ca_path).ok
    keyring = MemoryKeyring()
    keyring.add_certificate(alice.certificate)
    assert verify_data(without, trust=SMIME(Config(ca_path=ca_path), keyring=keyring)).ok


def _strip_certificates(der: bytes) -> bytes:
    """The same SignedData without its certificates field (built with asn1crypto, a test helper)."""
    from asn1crypto import cms

    info = cms.ContentInfo.load(der)
    signed_data = info["content"]
    signed_data["certificates"] = None
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump())


def test_policy_of_the_configuration_applies(alice: DemoIdentity, ca_path: str) -> None:
    """A signing time in the future is refused as for mail; enable=false refuses everything."""
    future = datetime(2099, 1, 1, tzinfo=UTC)
    signed = sign_data(CONTENT, alice.key, alice.certificate, detached=False, signing_time=future)
    (outcome,) = verify_data(signed, trust=ca_path)
    assert outcome.valid and outcome.refusal is Refusal.FUTURE_SIGNING_TIME
    with pytest.raises(DisabledError):
        verify_data(signed, config=Config(enable=False))
    with pytest.raises(DisabledError):
        decrypt_data(b"0", alice.key, config=Config(enable=False))


# -- forms --------------------------------------------------------------------


def test_pem_form_round_trip(alice: DemoIdentity) -> None:
    """outform="pem" writes one CMS block; PEM is read back as bytes or as text."""
    pem = sign_data(CONTENT, alice.key, alice.certificate, detached=False, outform="pem")
    assert pem.startswith(b"-----BEGIN CMS-----\n") and pem.endswith(b"-----END CMS-----\n")
    assert all(len(line) <= 64 for line in pem.splitlines())
    der = cms_der(pem)
    assert write_cms(der, "pem") == pem and write_cms(der, "der") == der
    assert verify_data(pem)[0].valid
    assert verify_data("some text before\n" + pem.decode())[0].valid
    pkcs7 = pem.replace(b"BEGIN CMS", b"BEGIN PKCS7").replace(b"END CMS", b"END PKCS7")
    assert verify_data(bytearray(pkcs7))[0].valid


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (
            b"From: a@example.com\r\nSubject: mail\r\n\r\nbody\r\n",
            "a MIME message is read by SMIME",
        ),
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "holds no CMS object"),
        (b"", "not a CMS object"),
        (b"\x30\x03\x02\x01", "ContentInfo"),
    ],
    ids=["mime", "pem-certificate", "empty", "truncated"],
)
def test_what_is_not_a_cms_object_is_malformed(data: bytes, problem: str) -> None:
    with pytest.raises(MalformedCMSError, match=problem) as raised:
        verify_data(data)
    assert raised.value.statuses[0]["Operation"] == "Verify"
    with pytest.raises(MalformedCMSError, match=problem):
        decrypt_data(data, b"unused key")  # the CMS object is read before the key is used


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"-----BEGIN CMS-----\n" * 50_000, "no END line"),  # one search, not one per BEGIN
        (b"-----BEGIN CMS-----\nMII*&^\n-----END CMS-----\n", "broken base64"),
    ],
    ids=["begin-lines-only", "broken-base64"],
)
def test_hostile_pem_is_malformed(data: bytes, problem: str) -> None:
    with pytest.raises(MalformedCMSError, match=problem):
        verify_data(data)


def test_wrong_outform_is_a_config_error(alice: DemoIdentity) -> None:
    with pytest.raises(ConfigError, match="outform"):
        sign_data(CONTENT, alice.key, alice.certificate, outform="smime")  # type: ignore[arg-type]


def test_detached_and_encapsulated_content_are_not_confused(alice: DemoIdentity) -> None:
    detached = sign_data(CONTENT, alice.key, alice.certificate)
    with pytest.raises(MalformedCMSError, match="detached"):
        verify_data(detached)
    encapsulated = sign_data(CONTENT, alice.key, alice.certificate, detached=False)
    with pytest.raises(MalformedCMSError, match="carries its content"):
        verify_data(encapsulated, content=CONTENT)


def test_enveloped_data_is_not_signed_data(people: dict[str, Recipient]) -> None:
    enveloped = encrypt_data(CONTENT, [people["rsa2048"].certificate])
    with pytest.raises(MalformedCMSError, match="expected CMS signed-data, found enveloped_data"):
        verify_data(enveloped)


# -- keys -----------------------------------------------------------------------


def test_keys_as_pem_pkcs12_and_der(alice: DemoIdentity) -> None:
    """PEM (key alone, with its certificate, encrypted), PKCS#12 and DER PKCS#8 all sign."""
    der_key = alice.key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    certificate_der = alice.certificate.public_bytes(serialization.Encoding.DER)
    ways: list[tuple[object, bytes | None, str | None]] = [
        (alice.key_pem(), alice.certificate_pem(), None),
        (alice.key_pem(PASSPHRASE) + alice.certificate_pem(), None, PASSPHRASE),
        (alice.certificate_pem() + alice.key_pem(), None, None),
        (_pkcs12(alice, PASSPHRASE), None, PASSPHRASE),
        (der_key, certificate_der, None),
    ]
    for key, certificate, passphrase in ways:
        signed = sign_data(CONTENT, key, certificate, passphrase=passphrase)
        (outcome,) = verify_data(signed, content=CONTENT)
        assert outcome.valid and outcome.signer == alice.certificate


def test_key_problems_are_typed(alice: DemoIdentity, identities: dict[str, DemoIdentity]) -> None:
    encrypted = alice.key_pem(PASSPHRASE) + alice.certificate_pem()
    with pytest.raises(MissingPassphraseError):
        sign_data(CONTENT, encrypted)
    with pytest.raises(PassphraseError):
        sign_data(CONTENT, encrypted, passphrase="wrong")
    with pytest.raises(PassphraseError):
        sign_data(CONTENT, _pkcs12(alice, PASSPHRASE), passphrase="wrong")
    with pytest.raises(KeyLoadError, match="certificate is needed"):
        sign_data(CONTENT, alice.key)
    with pytest.raises(KeyLoadError, match="not the private key's"):
        sign_data(CONTENT, alice.key, identities["p256"].certificate)
    with pytest.raises(KeyLoadError):
        sign_data(CONTENT, b"\x30\x03\x02\x01\x00", alice.certificate)
    with pytest.raises(CertificateNotFoundError, match="holds no certificate"):
        sign_data(CONTENT, alice.key, b"-----BEGIN X-----\nAA==\n-----END X-----\n")
    with pytest.raises(UnsupportedAlgorithmError, match="md5"):
        sign_data(CONTENT, alice.key, alice.certificate, digest="md5")


def test_an_encryption_only_key_does_not_sign(people: dict[str, Recipient]) -> None:
    x25519 = people["x25519"]
    with pytest.raises(UnsupportedAlgorithmError, match="cannot sign"):
        sign_data(CONTENT, x25519.key, x25519.certificate)


# -- encrypting and decrypting ---------------------------------------------------


@pytest.mark.parametrize("kind", ["rsa2048", "rsa-oaep", "p256", "p521", "x25519", "x448"])
@pytest.mark.parametrize("cipher", ["aes-256-cbc", "aes-128-gcm", "chacha20-poly1305"])
def test_encrypt_decrypt_round_trip(people: dict[str, Recipient], kind: str, cipher: str) -> None:
    recipient = people[kind]
    envelope = encrypt_data(
        CONTENT, [recipient.certificate], cipher=cipher, oaep=kind == "rsa-oaep"
    )

    decrypted = decrypt_data(envelope, recipient.key, recipient.certificate)

    assert isinstance(decrypted, DecryptedData) and decrypted == CONTENT
    assert (
        repr(decrypted)
        == str(decrypted)
        == (
            f"DecryptedData(<{len(CONTENT)} bytes>, cipher={cipher!r}, "
            f"authenticated={decrypted.authenticated!r})"
        )
    )  # the plaintext is not shown
    assert decrypted.cipher == cipher
    assert decrypted.authenticated is (cipher != "aes-256-cbc") and not decrypted.weak
    expected = {"rsa2048": "rsaes-pkcs1-v1_5", "rsa-oaep": "rsaes-oaep-sha256"}.get(kind, "ecdh-")
    assert decrypted.key_encryption.startswith(expected)
    (record,) = decrypted.statuses
    assert (record["Operation"], record["Status"], record["Cipher"]) == ("Decrypt", "DONE", cipher)


def test_several_recipients_each_decrypt_also_without_a_certificate(
    people: dict[str, Recipient],
) -> None:
    """Every recipient opens the same envelope; a key without its certificate tries them all."""
    kinds = ("rsa2048", "p384", "x25519")
    envelope = encrypt_data(CONTENT, [people[k].certificate for k in kinds], outform="pem")
    assert envelope.startswith(b"-----BEGIN CMS-----")
    for kind in kinds:
        assert decrypt_data(envelope, people[kind].key) == CONTENT
        assert decrypt_data(envelope, people[kind].key, people[kind].certificate) == CONTENT


def test_decryption_keys_as_files(people: dict[str, Recipient], alice: DemoIdentity) -> None:
    """PEM with the certificate, PEM key with a separate certificate, PKCS#12."""
    envelope = encrypt_data(CONTENT, [alice.certificate])
    assert decrypt_data(envelope, alice.key_pem() + alice.certificate_pem()) == CONTENT
    assert decrypt_data(envelope, alice.key_pem(PASSPHRASE), alice.certificate_pem(),
                        passphrase=PASSPHRASE) == CONTENT  # fmt: skip
    opened = decrypt_data(envelope, _pkcs12(alice, PASSPHRASE), passphrase=PASSPHRASE)
    assert opened == CONTENT
    assert opened.statuses[0]["EncryptedTo"] == [{"EmailAddress": alice.address}]


def test_decryption_with_an_smime_keyring(pki_dir: Path, alice: DemoIdentity) -> None:
    """key=SMIME decrypts with its keyring, as SMIME.decrypt does; its errors are RT's."""
    smime = SMIME(Config(keyring=pki_dir / "keyring", passphrase=PASSPHRASE))
    envelope = encrypt_data(CONTENT, [alice.certificate])
    opened = decrypt_data(envelope, smime)
    assert opened == CONTENT
    assert opened.statuses[0]["EncryptedTo"] == [{"EmailAddress": alice.address}]

    stranger = DemoPKI("Stranger Root").issue("stranger@example.com")
    with pytest.raises(SecretKeyNotFoundError) as raised:
        decrypt_data(encrypt_data(CONTENT, [stranger.certificate]), smime)
    assert raised.value.statuses[0]["Status"] == "MISSING"
    with pytest.raises(ConfigError, match="own keyring"):
        decrypt_data(envelope, smime, alice.certificate)
    with pytest.raises(ConfigError, match="recipients"):
        decrypt_data(envelope, alice.key, recipients=[alice.address])


def test_decryption_failures_are_typed(
    people: dict[str, Recipient], alice: DemoIdentity, identities: dict[str, DemoIdentity]
) -> None:
    envelope = encrypt_data(CONTENT, [alice.certificate], cipher="aes-256-gcm")
    other = identities["p384"]
    with pytest.raises(NoMatchingRecipientError) as no_match:
        decrypt_data(envelope, other.key, other.certificate)  # an EC key, RSA recipients only
    assert no_match.value.statuses[0]["Operation"] == "KeyCheck"
    stranger = DemoPKI("Stranger Root").issue("stranger@example.com")
    with pytest.raises(DecryptionError) as failed:
        decrypt_data(envelope, stranger.key)
    assert str(failed.value) == "Decryption failed"
    assert failed.value.statuses[0]["Message"] == "Decryption failed"
    tampered = bytearray(envelope)
    tampered[-20] ^= 1
    with pytest.raises(DecryptionError):
        decrypt_data(bytes(tampered), alice.key, alice.certificate)


def test_unauthenticated_content_under_the_requirement(alice: DemoIdentity) -> None:
    envelope = encrypt_data(CONTENT, [alice.certificate], cipher="aes-128-cbc")
    config = Config(require_authenticated_encryption=True)
    with pytest.raises(NotProtectedError, match="integrity") as raised:
        decrypt_data(envelope, alice.key, alice.certificate, config=config)
    assert raised.value.statuses[0]["Status"] == "BAD"
    gcm = encrypt_data(CONTENT, [alice.certificate], cipher="aes-128-gcm")
    assert decrypt_data(gcm, alice.key, config=config) == CONTENT


def test_encryption_problems_are_typed(alice: DemoIdentity, people: dict[str, Recipient]) -> None:
    with pytest.raises(RecipientError):
        encrypt_data(CONTENT, [])
    with pytest.raises(UnsupportedAlgorithmError, match="only accepted when decrypting"):
        encrypt_data(CONTENT, [alice.certificate], cipher="des-ede3-cbc")
    with pytest.raises(UnsupportedAlgorithmError):
        encrypt_data(CONTENT, [alice.certificate], cipher="rot13")
    with pytest.raises(MalformedCMSError):
        encrypt_data(CONTENT, [base64.b64encode(b"not a certificate")])


def test_certificate_chain_in_one_pem_is_the_first_certificate(
    pki: DemoPKI, alice: DemoIdentity
) -> None:
    """A recipient given as PEM with its chain is the first certificate of it."""
    envelope = encrypt_data(CONTENT, [alice.certificate_pem() + pki.root_pem()])
    assert decrypt_data(envelope, alice.key, alice.certificate) == CONTENT

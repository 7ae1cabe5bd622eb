"""MemoryKeyring: an application's own keys and certificates, with no keyring directory at all."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from smimecore import SMIME, Config, KeyLoadError, PassphraseError, SecretKeyNotFoundError
from smimecore.demo.pki import DemoIdentity, DemoPKI
from smimecore.keyring import Keyring, MemoryKeyring
from tests.conftest import SAMPLE_MESSAGE

P12_PASSPHRASE = "p12 secret"


def _pkcs12(identity: DemoIdentity, pki: DemoPKI) -> bytes:
    return pkcs12.serialize_key_and_certificates(
        b"alice",
        identity.key,
        identity.certificate,
        [pki.root],
        serialization.BestAvailableEncryption(P12_PASSPHRASE.encode()),
    )


@pytest.fixture
def p12_file(tmp_path: Path, pki: DemoPKI, identities: dict[str, DemoIdentity]) -> Path:
    """A PKCS#12 file holding the rsa2048 identity and the root, as an application keeps one."""
    path = tmp_path / "alice.p12"
    path.write_bytes(_pkcs12(identities["rsa2048"], pki))
    return path


def _engine(keyring: Keyring, pki_dir: Path | None = None) -> SMIME:
    # No keyring directory: ca_path alone comes from disk, as a trust anchor file.
    config = Config(ca_path=pki_dir / "ca.pem") if pki_dir else Config(accept_untrusted_cas=True)
    return SMIME(config, keyring=keyring)


def test_round_trip_with_a_pkcs12_file(p12_file: Path, pki_dir: Path) -> None:
    """Sign, verify (trusted), encrypt and decrypt with the identity of one PKCS#12 file."""
    keyring = MemoryKeyring.from_pkcs12(p12_file.read_bytes(), P12_PASSPHRASE)
    smime = _engine(keyring, pki_dir)
    assert smime.config.keyring is None
    signed = smime.sign(SAMPLE_MESSAGE, signer="rsa2048@test.example")
    verified = smime.verify(signed.data)
    assert verified.ok and verified.statuses[0]["Trust"] == "FULL"
    encrypted = smime.encrypt(SAMPLE_MESSAGE, recipients=["RSA2048@test.example"])
    decrypted = smime.decrypt(encrypted.data)
    assert decrypted.ok
    assert decrypted.statuses[0]["EncryptedTo"] == [{"EmailAddress": "rsa2048@test.example"}]
    assert decrypted.data.endswith(b"this is the body.\r\nSecond line.\r\n")


def test_round_trip_with_cryptography_objects(identities: dict[str, DemoIdentity]) -> None:
    """Keys and certificates handed over as objects: EC signer, X25519-free RSA + EC recipients."""
    keyring = MemoryKeyring()
    for kind in ("p256", "rsa2048"):
        identity = identities[kind]
        keyring.add_identity(identity.key, identity.certificate)
    smime = _engine(keyring)
    signed = smime.sign_encrypt(
        SAMPLE_MESSAGE, signer="p256@test.example", recipients=["rsa2048@test.example"]
    )
    unwrapped = smime.verify_decrypt(signed.data)
    assert [r.operation for r in unwrapped.statuses] == ["Decrypt", "Verify"]
    assert unwrapped.ok
    assert unwrapped.statuses[1]["UserString"] == '"Test p256" <p256@test.example>'


def test_recipient_certificate_without_a_key(identities: dict[str, DemoIdentity]) -> None:
    """A recipient's certificate alone serves encryption, never signing or decryption."""
    bob = identities["p384"]
    keyring = MemoryKeyring()
    keyring.add_certificate(bob.certificate_pem())
    smime = _engine(keyring)
    assert smime.encrypt(SAMPLE_MESSAGE, recipients=[bob.address]).ok
    with pytest.raises(SecretKeyNotFoundError) as raised:
        smime.sign(SAMPLE_MESSAGE, signer=bob.address)
    assert raised.value.statuses[0]["Status"] == "MISSING"


def test_pem_with_an_encrypted_key(identities: dict[str, DemoIdentity]) -> None:
    """PEM text with key and certificate; a wrong passphrase fails when added, not later."""
    alice = identities["ed25519"]
    text = alice.key_pem("pem secret") + alice.certificate_pem()
    with pytest.raises(PassphraseError):
        MemoryKeyring().add_pem(text, "wrong")
    keyring = MemoryKeyring()
    keyring.add_pem(text, "pem secret", purposes=["signing"])
    smime = _engine(keyring)
    assert smime.verify(smime.sign(SAMPLE_MESSAGE, signer=alice.address).data).ok
    with pytest.raises(SecretKeyNotFoundError):
        keyring.decryption_identity(alice.address)


def test_explicit_addresses_and_errors(identities: dict[str, DemoIdentity]) -> None:
    """Addresses can be given; a missing key is named; the repr holds no secret."""
    alice = identities["rsa2048"]
    keyring = MemoryKeyring()
    keyring.add_identity(alice.key, alice.certificate, addresses=["queue@rt.example"])
    assert keyring.signing_identity("QUEUE@rt.example").certificate == alice.certificate
    with pytest.raises(SecretKeyNotFoundError):
        keyring.signing_identity(alice.address)
    with pytest.raises(KeyLoadError):
        keyring.add_identity(None, alice.certificate)
    with pytest.raises(KeyLoadError):
        keyring.add_identity(alice.key, alice.certificate, purposes=["everything"])
    assert "PRIVATE" not in repr(keyring) and repr(keyring).startswith("MemoryKeyring(")


def test_the_latest_identity_for_an_address_wins(
    pki: DemoPKI, identities: dict[str, DemoIdentity]
) -> None:
    """Adding a new certificate for an address (a renewal) makes it the one used."""
    old = identities["p256"]
    renewed = pki.issue(old.address, "p256", common_name="Renewed p256")
    keyring = MemoryKeyring()
    keyring.add_identity(old.key, old.certificate)
    keyring.add_identity(renewed.key, renewed.certificate)
    assert keyring.certificate_for(old.address, "encryption") == renewed.certificate
    assert keyring.signing_identity(old.address).certificate == renewed.certificate
    both = keyring.decryption_candidates(lambda c: c in (old.certificate, renewed.certificate))
    assert both == [old.address]

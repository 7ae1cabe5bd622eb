"""The RT-style keyring directory: file lookup, key formats, passphrases, caching."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from smimecore import KeyLoadError, PassphraseError, SecretKeyNotFoundError
from smimecore.demo.pki import DemoIdentity, DemoPKI
from smimecore.keyring import DirectoryKeyring
from tests.conftest import vector_path


@pytest.fixture
def alice(pki: DemoPKI, identities: dict[str, DemoIdentity]) -> DemoIdentity:
    """An RSA identity."""
    return identities["rsa2048"]


def _legacy_encrypted_key(identity: DemoIdentity, passphrase: str) -> bytes:
    return identity.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.BestAvailableEncryption(passphrase.encode()),
    )


class TestLookup:
    """Which file serves which address and purpose (RT section 5)."""

    def test_purpose_file_wins_over_plain_file(self, tmp_path: Path, alice: DemoIdentity) -> None:
        """<addr>.signing.pem is tried before <addr>.pem."""
        (tmp_path / "a@example.com.pem").write_bytes(alice.certificate_pem())
        (tmp_path / "a@example.com.signing.pem").write_bytes(alice.certificate_pem())
        keyring = DirectoryKeyring(tmp_path)
        assert (
            keyring.find_file("a@example.com", "signing") == tmp_path / "a@example.com.signing.pem"
        )
        assert keyring.find_file("a@example.com", "encryption") == tmp_path / "a@example.com.pem"

    def test_address_lookup_is_case_insensitive(self, tmp_path: Path, alice: DemoIdentity) -> None:
        """RT looks the file up case-sensitively (a bug); we find Sender@Example.com too."""
        (tmp_path / "sender@example.com.pem").write_bytes(alice.certificate_pem())
        keyring = DirectoryKeyring(tmp_path)
        assert (
            keyring.find_file("Sender@Example.COM", "signing")
            == tmp_path / "sender@example.com.pem"
        )

    def test_pkcs12_files_are_found(self, tmp_path: Path, alice: DemoIdentity) -> None:
        """<addr>.p12 and <addr>.pfx are keyring files too."""
        (tmp_path / "a@example.com.pfx").write_bytes(b"x")
        assert DirectoryKeyring(tmp_path).find_file("a@example.com", "signing") == (
            tmp_path / "a@example.com.pfx"
        )

    def test_new_file_is_seen_without_a_restart(self, tmp_path: Path, alice: DemoIdentity) -> None:
        """The directory index follows files added after the first lookup."""
        keyring = DirectoryKeyring(tmp_path)
        assert keyring.find_file("late@example.com", "signing") is None
        (tmp_path / "late@example.com.pem").write_bytes(alice.certificate_pem())
        stat = tmp_path.stat()
        os.utime(tmp_path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
        assert keyring.find_file("late@example.com", "signing") is not None

    def test_no_keyring_finds_nothing(self) -> None:
        """Without a keyring directory every lookup is empty."""
        assert DirectoryKeyring(None).find_file("a@example.com", "signing") is None


class TestSigningIdentity:
    """Loading the key and certificate a signer signs with."""

    def test_missing_key_is_secret_key_not_found(self, tmp_path: Path) -> None:
        """No file for the address: SecretKeyNotFoundError naming the address."""
        with pytest.raises(SecretKeyNotFoundError) as caught:
            DirectoryKeyring(tmp_path).signing_identity("nobody@example.com")
        assert caught.value.address == "nobody@example.com"

    def test_certificate_only_file_has_no_secret_key(
        self, tmp_path: Path, alice: DemoIdentity
    ) -> None:
        """A certificate without its key cannot sign."""
        (tmp_path / "a@example.com.pem").write_bytes(alice.certificate_pem())
        with pytest.raises(SecretKeyNotFoundError):
            DirectoryKeyring(tmp_path).signing_identity("a@example.com")

    def test_text_dump_around_pem_blocks(self, tmp_path: Path, alice: DemoIdentity) -> None:
        """openssl -text dumps before the PEM blocks are skipped; key first or cert first both work."""
        dump = b"Certificate:\n    Data:\n        Version: 3 (0x2)\n  Subject: CN=x\n"
        (tmp_path / "a@example.com.pem").write_bytes(
            dump + alice.key_pem() + b"\r\n" + alice.certificate_pem().replace(b"\n", b"\r\n")
        )
        identity = DirectoryKeyring(tmp_path).signing_identity("a@example.com")
        assert identity.certificate == alice.certificate

    def test_passphrase_for_unencrypted_key_is_ignored(
        self, tmp_path: Path, alice: DemoIdentity
    ) -> None:
        """RT's own tests configure a passphrase for unencrypted keys; that must work."""
        (tmp_path / "a@example.com.pem").write_bytes(alice.certificate_pem() + alice.key_pem())
        identity = DirectoryKeyring(tmp_path, "123456").signing_identity("a@example.com")
        assert identity.certificate == alice.certificate

    def test_pkcs8_encrypted_key(self, tmp_path: Path, alice: DemoIdentity) -> None:
        """An ENCRYPTED PRIVATE KEY opens with the resolved passphrase."""
        (tmp_path / "a@example.com.pem").write_bytes(alice.certificate_pem() + alice.key_pem("pw"))
        keyring = DirectoryKeyring(tmp_path, {"a@example.com": {"signing": "pw"}})
        assert keyring.signing_identity("a@example.com").certificate == alice.certificate

    def test_legacy_proc_type_encrypted_key(self, tmp_path: Path, alice: DemoIdentity) -> None:
        """A legacy 'Proc-Type: 4,ENCRYPTED' RSA key opens with the passphrase."""
        pem = _legacy_encrypted_key(alice, "legacy-pw")
        assert b"Proc-Type: 4,ENCRYPTED" in pem
        (tmp_path / "a@example.com.pem").write_bytes(pem + alice.certificate_pem())
        keyring = DirectoryKeyring(tmp_path, "legacy-pw")
        assert keyring.signing_identity("a@example.com").certificate == alice.certificate

    @pytest.mark.parametrize("passphrase", [None, "bad-Qz7"])
    def test_wrong_or_missing_passphrase(
        self, tmp_path: Path, alice: DemoIdentity, passphrase: str | None
    ) -> None:
        """A wrong or missing passphrase is a PassphraseError that reveals nothing secret."""
        (tmp_path / "a@example.com.pem").write_bytes(
            alice.certificate_pem() + alice.key_pem("good-Xy9")
        )
        with pytest.raises(PassphraseError) as caught:
            DirectoryKeyring(tmp_path, passphrase).signing_identity("a@example.com")
        assert "good-Xy9" not in str(caught.value)
        assert "bad-Qz7" not in str(caught.value)

    def test_damaged_key(self, tmp_path: Path, alice: DemoIdentity) -> None:
        """A damaged key block is a KeyLoadError naming the file."""
        broken = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
        (tmp_path / "a@example.com.pem").write_bytes(alice.certificate_pem() + broken)
        with pytest.raises(KeyLoadError) as caught:
            DirectoryKeyring(tmp_path).signing_identity("a@example.com")
        assert "a@example.com.pem" in str(caught.value)

    def test_key_without_matching_certificate(
        self, tmp_path: Path, identities: dict[str, DemoIdentity]
    ) -> None:
        """A key whose certificate is not in the file cannot sign."""
        other = identities["p256"]
        (tmp_path / "a@example.com.pem").write_bytes(
            identities["rsa2048"].certificate_pem() + other.key_pem()
        )
        with pytest.raises(KeyLoadError, match="matches its private key"):
            DirectoryKeyring(tmp_path).signing_identity("a@example.com")

    def test_extra_certificates_become_the_chain(
        self, tmp_path: Path, pki: DemoPKI, alice: DemoIdentity
    ) -> None:
        """Intermediates in the file are kept and the key's own certificate is picked."""
        (tmp_path / "a@example.com.pem").write_bytes(
            pki.root_pem() + alice.key_pem() + alice.certificate_pem()
        )
        identity = DirectoryKeyring(tmp_path).signing_identity("a@example.com")
        assert identity.certificate == alice.certificate
        assert identity.chain == (pki.root,)

    def test_pkcs12_with_passphrase(
        self, tmp_path: Path, pki: DemoPKI, alice: DemoIdentity
    ) -> None:
        """A .p12 file opens with the passphrase and carries its chain."""
        data = pkcs12.serialize_key_and_certificates(
            b"alice",
            alice.key,
            alice.certificate,
            [pki.root],
            serialization.BestAvailableEncryption(b"p12-pw"),
        )
        (tmp_path / "a@example.com.p12").write_bytes(data)
        identity = DirectoryKeyring(tmp_path, "p12-pw").signing_identity("a@example.com")
        assert identity.certificate == alice.certificate
        assert identity.chain == (pki.root,)
        with pytest.raises(PassphraseError):
            DirectoryKeyring(tmp_path, "nope").signing_identity("a@example.com")

    def test_rt_keyring_file_with_its_passphrase(self) -> None:
        """RT's test keyring file (text dump + cert + key) loads with RT's passphrase 123456."""
        keys = vector_path("request-tracker", "keys")
        identity = DirectoryKeyring(keys, "123456").signing_identity("sender@example.com")
        assert identity.certificate.serial_number == 9974010075738841109


class TestCaching:
    """Keys are loaded once per file and reloaded when the file changes."""

    def test_second_load_is_served_from_the_cache(
        self, tmp_path: Path, alice: DemoIdentity
    ) -> None:
        """The same KeyFile object comes back while the file is unchanged."""
        path = tmp_path / "a@example.com.pem"
        path.write_bytes(alice.certificate_pem() + alice.key_pem())
        keyring = DirectoryKeyring(tmp_path)
        first = keyring.load(path, "a@example.com", "signing")
        assert keyring.load(path, "a@example.com", "signing") is first

    def test_changed_file_is_reloaded(
        self, tmp_path: Path, identities: dict[str, DemoIdentity]
    ) -> None:
        """Replacing the file's content is picked up on the next use."""
        path = tmp_path / "a@example.com.pem"
        first, second = identities["rsa2048"], identities["p256"]
        path.write_bytes(first.certificate_pem() + first.key_pem())
        keyring = DirectoryKeyring(tmp_path)
        assert keyring.signing_identity("a@example.com").certificate == first.certificate
        path.write_bytes(second.certificate_pem() + second.key_pem())
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
        assert keyring.signing_identity("a@example.com").certificate == second.certificate

    def test_a_different_passphrase_does_not_reuse_the_cached_key(
        self, tmp_path: Path, alice: DemoIdentity
    ) -> None:
        """A key opened once is not handed out to a caller whose passphrase is wrong."""
        (tmp_path / "a@example.com.pem").write_bytes(alice.certificate_pem() + alice.key_pem("pw"))
        passphrases = {"current": "pw"}
        keyring = DirectoryKeyring(tmp_path, lambda address, purpose: passphrases["current"])
        keyring.signing_identity("a@example.com")
        passphrases["current"] = "not-it"
        with pytest.raises(PassphraseError):
            keyring.signing_identity("a@example.com")

    def test_reprs_hold_no_secrets(self, tmp_path: Path, alice: DemoIdentity) -> None:
        """Neither the keyring, a key file nor an identity shows key material."""
        path = tmp_path / "a@example.com.pem"
        path.write_bytes(alice.certificate_pem() + alice.key_pem())
        keyring = DirectoryKeyring(tmp_path, "secret-pass")
        key_file = keyring.load(path, "a@example.com", "signing")
        identity = keyring.signing_identity("a@example.com")
        for text in (repr(keyring), repr(key_file), repr(identity)):
            assert "secret-pass" not in text
            assert "PRIVATE" not in text and "RSAPrivateKey" not in text


class TestCertificates:
    """Every certificate of the keyring, for finding signers that sent none."""

    def test_lists_pem_and_skips_broken_files(
        self, tmp_path: Path, identities: dict[str, DemoIdentity]
    ) -> None:
        """Readable certificates are listed; an unreadable file is skipped, not fatal."""
        (tmp_path / "a@example.com.pem").write_bytes(identities["rsa2048"].certificate_pem())
        (tmp_path / "b@example.com.pem").write_bytes(identities["p256"].certificate_pem())
        (tmp_path / "broken.pem").write_bytes(
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
        )
        found = list(DirectoryKeyring(tmp_path).certificates())
        assert identities["rsa2048"].certificate in found
        assert identities["p256"].certificate in found

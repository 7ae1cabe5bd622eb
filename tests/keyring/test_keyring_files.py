"""Keyring files that move under us: links out of the keyring, files that vanish or change."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from smimecore import SMIME, Config, KeyLoadError, PassphraseError, SecretKeyNotFoundError
from smimecore.demo.pki import DemoIdentity
from smimecore.keyring import DirectoryKeyring
from tests.conftest import SAMPLE_MESSAGE


@pytest.fixture
def outside(tmp_path: Path, identities: dict[str, DemoIdentity]) -> Path:
    """A key file outside the keyring directory."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    path = elsewhere / "secret.pem"
    path.write_bytes(identities["p256"].key_pem() + identities["p256"].certificate_pem())
    return path


def test_a_link_out_of_the_keyring_is_ignored_and_logged(
    tmp_path: Path, outside: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A planted link to a file elsewhere (think /etc/shadow) is never read."""
    keyring_dir = tmp_path / "keyring"
    keyring_dir.mkdir()
    (keyring_dir / "p256@test.example.pem").symlink_to(outside)
    smime = SMIME(Config(keyring=keyring_dir))
    with caplog.at_level(logging.WARNING, logger="smimecore.keyring"):
        with pytest.raises(SecretKeyNotFoundError):
            smime.sign(SAMPLE_MESSAGE, signer="p256@test.example")
    assert "outside the keyring" in caplog.text
    assert smime.keyring.certificates() == ()


def test_links_are_followed_when_configured(tmp_path: Path, outside: Path) -> None:
    """follow_keyring_links = true restores the old behaviour (links followed anywhere)."""
    keyring_dir = tmp_path / "keyring"
    keyring_dir.mkdir()
    (keyring_dir / "p256@test.example.pem").symlink_to(outside)
    smime = SMIME(Config(keyring=keyring_dir, follow_keyring_links=True))
    assert smime.sign(SAMPLE_MESSAGE, signer="p256@test.example").ok


def test_a_link_inside_the_keyring_is_followed(
    tmp_path: Path, identities: dict[str, DemoIdentity]
) -> None:
    """An alias within the keyring (queue address -> its key file) keeps working."""
    keyring_dir = tmp_path / "keyring"
    keyring_dir.mkdir()
    real = keyring_dir / "p256@test.example.pem"
    real.write_bytes(identities["p256"].key_pem() + identities["p256"].certificate_pem())
    (keyring_dir / "queue@test.example.pem").symlink_to(real.name)
    smime = SMIME(Config(keyring=keyring_dir))
    assert smime.sign(SAMPLE_MESSAGE, signer="queue@test.example").ok


def test_a_file_that_disappears_is_a_key_load_error(
    tmp_path: Path, identities: dict[str, DemoIdentity]
) -> None:
    """Removed between the look at the directory and the read: a typed error, not OSError."""
    path = tmp_path / "p256@test.example.pem"
    path.write_bytes(identities["p256"].key_pem() + identities["p256"].certificate_pem())
    keyring = DirectoryKeyring(tmp_path)
    with keyring.one_look():
        assert keyring.find_file("p256@test.example", "signing") == path
        stat = os.stat(path)
        path.unlink()
        with pytest.raises(KeyLoadError, match="disappeared"):
            keyring._read(path, stat)
        with pytest.raises(KeyLoadError):
            keyring.load(path, "p256@test.example", "signing")


def test_a_file_changed_while_being_read_is_read_again(
    tmp_path: Path, identities: dict[str, DemoIdentity]
) -> None:
    """The bytes read must be those of one state of the file: a stale stat forces a re-read."""
    path = tmp_path / "p256@test.example.pem"
    path.write_bytes(identities["p256"].certificate_pem())
    stale = os.stat(path)
    path.write_bytes(identities["p256"].certificate_pem() + b"\n")
    keyring = DirectoryKeyring(tmp_path)
    after, data = keyring._read(path, stale)  # changed once: read again, consistently
    assert data == path.read_bytes() and after.st_size == len(data)


def test_no_passphrase_has_its_own_record(
    tmp_path: Path, identities: dict[str, DemoIdentity]
) -> None:
    """An encrypted key with no passphrase configured is said to be so, not 'bad passphrase'."""
    alice = identities["p256"]
    (tmp_path / f"{alice.address}.pem").write_bytes(
        alice.key_pem("s3cret") + alice.certificate_pem()
    )
    smime = SMIME(Config(keyring=tmp_path))
    with pytest.raises(PassphraseError) as raised:
        smime.sign(SAMPLE_MESSAGE, signer=alice.address)
    (record,) = raised.value.statuses
    assert record["Message"] == f"No passphrase for the secret key of {alice.address}"
    assert record["Reason"] == "no passphrase"
    wrong = SMIME(Config(keyring=tmp_path, passphrase="wrong"))
    with pytest.raises(PassphraseError) as raised:
        wrong.sign(SAMPLE_MESSAGE, signer=alice.address)
    assert raised.value.statuses[0]["Message"] == (
        f"Bad passphrase for the secret key of {alice.address}"
    )
    assert "s3cret" not in str(raised.value) and "wrong" not in repr(raised.value.statuses)


def test_decryption_candidates_are_found_one_at_a_time(
    tmp_path: Path, identities: dict[str, DemoIdentity], caplog: pytest.LogCaptureFixture
) -> None:
    """The first keyring file whose certificate a RecipientInfo names is given before the
    files after it are read: a decryption that succeeds with it does not read the rest."""
    keyring_dir = tmp_path / "keyring"
    keyring_dir.mkdir()
    first = identities["p256"]
    (keyring_dir / "a@test.example.pem").write_bytes(first.key_pem() + first.certificate_pem())
    (keyring_dir / "z@test.example.pem").write_bytes(_DAMAGED)
    keyring = DirectoryKeyring(keyring_dir)
    with caplog.at_level(logging.DEBUG, logger="smimecore.keyring"):
        found = iter(keyring.decryption_candidates(lambda c: c == first.certificate))
        assert next(found) == "a@test.example"
        assert "cannot be read" not in caplog.text
        assert list(found) == []  # the damaged file is skipped, and said so
        assert "z@test.example cannot be read" in caplog.text


_DAMAGED = b"-----BEGIN CERTIFICATE-----\nAAAAAAAA\n-----END CERTIFICATE-----\n"
"""A keyring file whose certificate cannot be read."""

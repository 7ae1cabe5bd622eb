"""The keyring's remembered lookups (file names, address lists, certificate choice) follow changes."""

from __future__ import annotations

import os
from pathlib import Path

from smimecore.demo.pki import DemoIdentity
from smimecore.keyring import DirectoryKeyring


def _touch_later(path: Path) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))


def test_encryption_certificate_follows_a_file_rewritten_in_place(
    tmp_path: Path, identities: dict[str, DemoIdentity]
) -> None:
    first, second = identities["rsa2048"], identities["p256"]
    path = tmp_path / "a@example.com.pem"
    path.write_bytes(first.certificate_pem())
    keyring = DirectoryKeyring(tmp_path)
    assert keyring.certificate_for("a@example.com", "encryption") == first.certificate
    assert keyring.certificate_for("a@example.com", "encryption") == first.certificate
    path.write_bytes(second.certificate_pem())
    _touch_later(path)
    assert keyring.certificate_for("a@example.com", "encryption") == second.certificate


def test_files_added_and_removed_are_seen(
    tmp_path: Path, identities: dict[str, DemoIdentity]
) -> None:
    identity = identities["rsa2048"]
    keyring = DirectoryKeyring(tmp_path)
    assert keyring.find_file("b@example.com", "encryption") is None
    assert keyring.addresses("encryption") == []
    (tmp_path / "b@example.com.encryption.pem").write_bytes(identity.certificate_pem())
    _touch_later(tmp_path)
    assert keyring.find_file("b@example.com", "encryption") == (
        tmp_path / "b@example.com.encryption.pem"
    )
    assert keyring.addresses("encryption") == ["b@example.com"]
    assert keyring.addresses("signing") == []
    (tmp_path / "b@example.com.encryption.pem").unlink()
    _touch_later(tmp_path)
    assert keyring.find_file("b@example.com", "encryption") is None
    assert keyring.addresses("encryption") == []


def test_certificate_choice_is_per_address(
    tmp_path: Path, identities: dict[str, DemoIdentity]
) -> None:
    """One file, two certificates: each address gets the one naming it, also when asked again."""
    rsa, ec = identities["rsa2048"], identities["p256"]
    shared = tmp_path / "shared.pem"
    shared.write_bytes(rsa.certificate_pem() + ec.certificate_pem())
    (tmp_path / f"{rsa.address}.pem").symlink_to(shared)
    (tmp_path / f"{ec.address}.pem").symlink_to(shared)
    keyring = DirectoryKeyring(tmp_path)
    for _ in range(2):
        assert keyring.certificate_for(rsa.address, "encryption") == rsa.certificate
        assert keyring.certificate_for(ec.address, "encryption") == ec.certificate

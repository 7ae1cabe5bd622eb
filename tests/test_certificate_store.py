"""Users' certificate store (RT section 3.6) and keys_for_signing / keys_for_encryption."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from smimecore import SMIME, Config, ConfigError
from smimecore.demo.pki import DemoIdentity, DemoPKI
from smimecore.keyring.store import (
    CertificateStore,
    DirectoryCertificateStore,
    MemoryCertificateStore,
    best_for_encryption,
)
from tests.conftest import PASSPHRASE, SAMPLE_MESSAGE


@pytest.fixture(params=["memory", "directory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> CertificateStore:
    """Each store implementation."""
    if request.param == "memory":
        return MemoryCertificateStore()
    return DirectoryCertificateStore(tmp_path)


@pytest.fixture(scope="module")
def generations(pki: DemoPKI) -> list[DemoIdentity]:
    """Three certificates of one address: old (expired), current, renewed (latest notAfter)."""
    now = datetime.now(UTC)
    return [
        pki.issue("carol@test.example", "p256", not_before=now - timedelta(days=800)),
        pki.issue("carol@test.example", "p256", not_before=now - timedelta(days=10)),
        pki.issue("carol@test.example", "p256", valid_days=900),
    ]


def test_put_and_get_case_insensitively(
    store: CertificateStore, generations: list[DemoIdentity]
) -> None:
    """A stored certificate comes back under any spelling of the address."""
    assert store.put("Carol@Test.Example", generations[1].certificate, True)
    assert [s.certificate for s in store.get("carol@test.example")] == [generations[1].certificate]


def test_untrusted_never_joins_existing_certificates(
    store: CertificateStore, generations: list[DemoIdentity]
) -> None:
    """RT 3.6: an untrusted certificate never displaces (or joins) what an address has."""
    store.put("carol@test.example", generations[1].certificate, True)
    assert not store.put("carol@test.example", generations[2].certificate, False)
    assert len(store.get("carol@test.example")) == 1


def test_first_certificate_may_be_untrusted_and_later_trusted(
    store: CertificateStore, generations: list[DemoIdentity]
) -> None:
    """An address with nothing stored takes an untrusted certificate; verifying it later trusts it."""
    assert store.put("carol@test.example", generations[1].certificate, False)
    assert store.put("carol@test.example", generations[1].certificate, True)
    (stored,) = store.get("carol@test.example")
    assert stored.trusted


def test_several_trusted_certificates_are_kept(
    store: CertificateStore, generations: list[DemoIdentity]
) -> None:
    """RT keeps one certificate per address; we keep every trusted one, and pick for encryption."""
    for identity in generations:
        store.put("carol@test.example", identity.certificate, True)
    assert len(store.get("carol@test.example")) == 3
    assert best_for_encryption(store.get("carol@test.example")) == generations[2].certificate


def test_directory_store_persists(tmp_path: Path, generations: list[DemoIdentity]) -> None:
    """A second store over the same directory sees what the first stored."""
    DirectoryCertificateStore(tmp_path).put("carol@test.example", generations[1].certificate, True)
    (stored,) = DirectoryCertificateStore(tmp_path).get("carol@test.example")
    assert stored.certificate == generations[1].certificate


def test_directory_store_needs_a_writable_directory(tmp_path: Path) -> None:
    """A store path that is not a directory is a configuration error."""
    with pytest.raises(ConfigError):
        DirectoryCertificateStore(tmp_path / "missing")


def test_verify_stores_and_encrypt_uses_the_store(
    pki_dir: Path, tmp_path: Path, identities: dict[str, DemoIdentity]
) -> None:
    """A signer seen once can be encrypted to without a keyring file (store in a directory)."""
    signer = SMIME(Config(keyring=pki_dir / "keyring", passphrase=PASSPHRASE))
    signed = signer.sign(SAMPLE_MESSAGE, signer="p384@test.example").data
    empty_keyring = tmp_path / "keys"
    empty_keyring.mkdir()
    (tmp_path / "store").mkdir()
    receiver = SMIME(
        Config(
            keyring=empty_keyring,
            ca_path=pki_dir / "ca.pem",
            certificate_store=tmp_path / "store",
        )
    )
    assert receiver.verify(signed).ok
    encrypted = receiver.encrypt(
        b"Subject: reply\r\n\r\nhello\r\n", recipients=["p384@test.example"]
    )
    assert signer.decrypt(encrypted.data).ok
    (info,) = receiver.keys_for_encryption("p384@test.example")
    assert info["UserString"] == '"Test p384" <p384@test.example>'


def test_keyring_wins_over_the_store(pki_dir: Path, identities: dict[str, DemoIdentity]) -> None:
    """RT section 5: the keyring file is used in preference to the user's stored certificate."""
    store = MemoryCertificateStore()
    store.put("p256@test.example", identities["rsa2048"].certificate, True)
    engine = SMIME(
        Config(keyring=pki_dir / "keyring", passphrase=PASSPHRASE), certificate_store=store
    )
    (info,) = engine.keys_for_encryption("p256@test.example")
    assert info["UserString"] == '"Test p256" <p256@test.example>'


def test_expired_certificates_are_filtered(generations: list[DemoIdentity]) -> None:
    """keys_for_encryption drops expired certificates (RT 3.12), latest notAfter first."""
    store = MemoryCertificateStore()
    for identity in generations:
        store.put("carol@test.example", identity.certificate, True)
    infos = SMIME(Config(), certificate_store=store).keys_for_encryption("carol@test.example")
    assert [info["Serial Number"] for info in infos] == [
        str(generations[2].certificate.serial_number),
        str(generations[1].certificate.serial_number),
    ]


def test_keys_for_signing(pki_dir: Path) -> None:
    """Only keyring files holding a private key can sign."""
    engine = SMIME(Config(keyring=pki_dir / "keyring", passphrase=PASSPHRASE))
    (info,) = engine.keys_for_signing("ed25519@test.example")
    assert info["UserString"] == '"Test ed25519" <ed25519@test.example>'
    assert engine.keys_for_signing("nobody@test.example") == []

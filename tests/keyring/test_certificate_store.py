"""Users' certificate store (RT section 3.6) and keys_for_signing / keys_for_encryption."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from smimecore import SMIME, Config, ConfigError, RecipientError
from smimecore.demo.pki import DemoIdentity, DemoPKI
from smimecore.keyring.store import (
    CertificateStore,
    DirectoryCertificateStore,
    MemoryCertificateStore,
    StoredCertificate,
    best_for_encryption,
    encryption_candidates,
    store_key,
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


# -- store rules (issue 10, item 3) ------------------------------------------


@pytest.fixture(scope="module")
def intruder(tmp_path_factory: pytest.TempPathFactory) -> DemoIdentity:
    """A self-signed certificate for carol that nobody trusts (its own one-off root)."""
    return DemoPKI("Intruder CA").issue("carol@test.example", "p256", valid_days=3000)


def test_long_and_empty_addresses_are_refused(
    store: CertificateStore, generations: list[DemoIdentity]
) -> None:
    """Over 254 characters (or empty): nothing stored, False, and nothing found."""
    longest = "a" * 240 + "@test.example"
    assert len(longest) == 253 and store.put(longest + "x", generations[1].certificate, True)
    too_long = "a" * 242 + "@test.example"
    assert len(too_long) == 255
    assert not store.put(too_long, generations[1].certificate, True)
    assert store.get(too_long) == ()
    assert not store.put("", generations[1].certificate, True)
    assert store_key(too_long) is None and store_key("") is None


def test_only_ascii_letters_fold(store: CertificateStore, generations: list[DemoIdentity]) -> None:
    """SARAH@ is sarah@, but a long s (U+017F) is not an s: no merging by Unicode folding."""
    store.put("sarah@test.example", generations[1].certificate, True)
    assert len(store.get("SARAH@TEST.EXAMPLE")) == 1
    assert store.get("\u017farah@test.example") == ()


def test_a_trusted_certificate_displaces_untrusted_ones(
    store: CertificateStore, generations: list[DemoIdentity], intruder: DemoIdentity
) -> None:
    """The intruder got in first (nothing was stored); the first trusted certificate evicts it."""
    assert store.put("carol@test.example", intruder.certificate, False)
    assert best_for_encryption(store.get("carol@test.example")) is None
    assert best_for_encryption(store.get("carol@test.example"), include_untrusted=True) == (
        intruder.certificate
    )
    assert store.put("carol@test.example", generations[1].certificate, True)
    assert [(s.certificate, s.trusted) for s in store.get("carol@test.example")] == [
        (generations[1].certificate, True)
    ]
    assert not store.put("carol@test.example", intruder.certificate, False)
    assert best_for_encryption(store.get("carol@test.example"), include_untrusted=True) == (
        generations[1].certificate
    )


def test_trusted_outranks_untrusted_with_a_later_not_after(
    generations: list[DemoIdentity], intruder: DemoIdentity
) -> None:
    """Even an untrusted certificate valid for longer comes after every trusted one."""
    entries = [StoredCertificate(intruder.certificate, False)] + [
        StoredCertificate(identity.certificate, True) for identity in generations
    ]
    assert encryption_candidates(entries) == [
        generations[2].certificate,
        generations[1].certificate,
    ]
    assert encryption_candidates(entries, include_untrusted=True) == [
        generations[2].certificate,
        generations[1].certificate,
        intruder.certificate,
    ]


def test_file_names_never_collide(tmp_path: Path, generations: list[DemoIdentity]) -> None:
    """Distinct addresses get distinct files (no '_' for every odd character), long ones too."""
    store = DirectoryCertificateStore(tmp_path)
    addresses = ["a_b@test.example", "a/b@test.example", "a%2Fb@test.example", "\u00fc" * 254]
    for address, identity in zip(addresses, [*generations, generations[0]], strict=True):
        assert store.put(address, identity.certificate, True)
    assert len(list(tmp_path.glob("*.json"))) == 4
    assert store.get("a/b@test.example")[0].certificate == generations[1].certificate
    assert store.get("\u00fc" * 254)[0].certificate == generations[0].certificate


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_a_file_replaced_by_a_directory(
    tmp_path: Path, generations: list[DemoIdentity], caplog: pytest.LogCaptureFixture
) -> None:
    """No OSError leaves the store: logged, False, nothing found, no temporary file left."""
    store = DirectoryCertificateStore(tmp_path)
    store.put("carol@test.example", generations[1].certificate, True)
    (tmp_path / "carol@test.example.json").unlink()
    (tmp_path / "carol@test.example.json").mkdir()
    assert store.get("carol@test.example") == ()
    assert not store.put("carol@test.example", generations[2].certificate, True)
    assert _leftovers(tmp_path) == []
    assert "cannot be" in caplog.text


def test_an_unusable_lock_or_a_vanished_directory(
    tmp_path: Path, generations: list[DemoIdentity]
) -> None:
    """A lock that cannot be opened, or a store directory removed under us: False, no raise."""
    locked = tmp_path / "locked"
    locked.mkdir()
    store = DirectoryCertificateStore(locked)
    (locked / ".lock").mkdir()
    assert not store.put("carol@test.example", generations[1].certificate, True)
    gone = tmp_path / "gone"
    gone.mkdir()
    vanishing = DirectoryCertificateStore(gone)
    gone.rmdir()
    assert not vanishing.put("carol@test.example", generations[1].certificate, True)
    assert vanishing.get("carol@test.example") == ()


_FULL_DISK = """
import resource, signal, sys
from pathlib import Path
from cryptography import x509
from smimecore.keyring.store import DirectoryCertificateStore
store = DirectoryCertificateStore(Path(sys.argv[1]))
certificate = x509.load_pem_x509_certificate(Path(sys.argv[2]).read_bytes())
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (64, resource.RLIM_INFINITY))
print(store.put("carol@test.example", certificate, True))
"""


def test_a_full_disk_leaves_nothing_behind(tmp_path: Path, pki_dir: Path) -> None:
    """Writing fails part way (a 64-octet file size limit, as a full disk would): False, no file."""
    (tmp_path / "store").mkdir()
    done = subprocess.run(
        [sys.executable, "-c", _FULL_DISK, tmp_path / "store", pki_dir / "p256@test.example.crt"],
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == b"False"
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == [".lock"]


def test_stale_temporary_files_are_removed(tmp_path: Path) -> None:
    """A temporary file a crash left (an hour old) goes when the store is opened; a fresh one stays."""
    stale, fresh = tmp_path / ".smimecore-old.tmp", tmp_path / ".smimecore-new.tmp"
    stale.write_text("partial")
    fresh.write_text("being written")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    DirectoryCertificateStore(tmp_path)
    assert _leftovers(tmp_path) == [fresh.name]


def test_a_certs_only_part_cannot_capture_encryption(
    pki_dir: Path,
    tmp_path: Path,
    pki: DemoPKI,
    intruder: DemoIdentity,
    openssl: Callable[..., subprocess.CompletedProcess[bytes]],
) -> None:
    """The attack of issue 10: a certs-only part stores the intruder's carol certificate.

    Encryption never uses it without accept_untrusted_cas; carol's trusted certificate, once a
    signature of hers verifies, replaces it.
    """
    intruder_pem = tmp_path / "intruder.pem"
    intruder_pem.write_bytes(intruder.certificate_pem())
    made = openssl("crl2pkcs7", "-nocrl", "-outform", "DER", "-certfile", intruder_pem)
    assert made.returncode == 0, made.stderr
    certs_only = (
        b"From: Mallory <mallory@test.example>\r\nSubject: my key\r\n"
        b"Content-Type: application/pkcs7-mime; smime-type=certs-only; name=smime.p7c\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(made.stdout).replace(b"\n", b"\r\n")
    )
    empty_keyring = tmp_path / "keys"
    empty_keyring.mkdir()
    receiver = SMIME(Config(keyring=empty_keyring, ca_path=pki_dir / "ca.pem"))
    receiver.verify_decrypt(certs_only)
    with pytest.raises(RecipientError):
        receiver.encrypt(b"Subject: x\r\n\r\nsecret\r\n", recipients=["carol@test.example"])
    carol = pki.issue("carol@test.example", "p256", common_name="Carol")
    pki.write_keyring(tmp_path / "carol-keys", [carol], passphrase=PASSPHRASE)
    signer = SMIME(Config(keyring=tmp_path / "carol-keys", passphrase=PASSPHRASE))
    signed = signer.sign(
        b"From: carol@test.example\r\nSubject: hi\r\n\r\nhi\r\n", signer="carol@test.example"
    )
    assert receiver.verify_decrypt(signed.data).ok
    assert [
        (s.certificate, s.trusted) for s in receiver.certificate_store.get("carol@test.example")
    ] == [(carol.certificate, True)]
    encrypted = receiver.encrypt(b"Subject: x\r\n\r\nsecret\r\n", recipients=["carol@test.example"])
    assert signer.decrypt(encrypted.data).ok

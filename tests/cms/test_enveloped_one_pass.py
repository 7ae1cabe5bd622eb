"""The cheaper paths of encryption and decryption give what the paths they shortcut give.

EnvelopedData reads the same from bytes, views and BER, and broken input is only ever a
MalformedCMSError; the last-block PKCS#7 check accepts and
refuses what cryptography's unpadder does; the X9.63 KDF derives what cryptography's
does; the keyring looks at each file once per operation but still follows changes
between operations; the fallback addresses of a decryption are read only when needed.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, modes
from cryptography.hazmat.primitives.ciphers.algorithms import AES
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF

from smimecore import SMIME
from smimecore.algorithms import keyagreement
from smimecore.algorithms.ciphers import (
    ContentParameters,
    content_cipher_by_name,
    decrypt_content,
)
from smimecore.cms import enveloped
from smimecore.cms.enveloped import (
    EncryptionRecipient,
    build_enveloped,
    parse_enveloped,
)
from smimecore.demo.pki import DemoIdentity, DemoPKI
from smimecore.engine import records
from smimecore.errors import DecryptionError, MalformedCMSError, SecretKeyNotFoundError
from smimecore.keyring import directory
from smimecore.mime.enveloped import parse_encrypted
from tests.conftest import PASSPHRASE, SAMPLE_MESSAGE
from tests.envpki import CONTENT, KINDS, Recipient

# ------------------------------------------------------------------ reading


@pytest.mark.parametrize("cipher", ["aes-256-cbc", "aes-128-gcm", "chacha20-poly1305"])
@pytest.mark.parametrize("by_key_id", [False, True])
def test_a_view_reads_as_bytes_do_and_every_kind_decrypts(
    people: dict[str, Recipient], cipher: str, by_key_id: bool
) -> None:
    specs = [
        EncryptionRecipient(
            people[kind].certificate,
            use_subject_key_identifier=by_key_id,
            rsa_oaep=kind == "rsa-oaep",
        )
        for kind in KINDS
    ]
    der = build_enveloped(CONTENT, specs, cipher=cipher)
    message = parse_enveloped(der)
    assert message == parse_enveloped(memoryview(der))
    assert message == parse_enveloped(bytearray(der))
    for kind in ("rsa2048", "p256", "x25519"):
        person = people[kind]
        assert (
            enveloped.decrypt_enveloped(message, person.key, person.certificate).content == CONTENT
        )


def test_ber_reads_as_der_does(people: dict[str, Recipient]) -> None:
    der = build_enveloped(CONTENT, [EncryptionRecipient(people["rsa2048"].certificate)])
    # The same ContentInfo with an indefinite outer length (BER).
    body = der[4:] if der[1] == 0x82 else der[3:]
    ber = b"\x30\x80" + body + b"\x00\x00"
    assert parse_enveloped(ber) == parse_enveloped(der)


def test_broken_der_is_only_ever_a_malformed_cms_error(people: dict[str, Recipient]) -> None:
    der = build_enveloped(
        CONTENT,
        [EncryptionRecipient(people["rsa2048"].certificate)],
        cipher="aes-128-gcm",
    )
    variants = [der[:cut] for cut in range(len(der))]
    for position in range(min(len(der), 400)):
        for value in (0x00, 0x80, 0x81, 0xFF, der[position] ^ 0x20):
            variants.append(der[:position] + bytes((value,)) + der[position + 1 :])
    for data in variants:
        try:
            parse_enveloped(data)
        except MalformedCMSError:
            continue


def test_openssl_output_decrypts_through_mime(
    smime: SMIME,
    identities: dict[str, DemoIdentity],
    pki_dir: Path,
    openssl: Callable[..., subprocess.CompletedProcess[bytes]],
) -> None:
    for kind in ("rsa2048", "p256"):
        certificate = pki_dir / f"{identities[kind].address}.crt"
        done = openssl("cms", "-encrypt", "-aes256", "-recip", str(certificate), input=CONTENT)
        assert done.returncode == 0, done.stderr
        message = b"To: x@example.org\n" + done.stdout
        parse_enveloped(parse_encrypted(message).cms)
        assert smime.decrypt(message).ok


# ------------------------------------------------------------------ CBC padding


@pytest.mark.parametrize("name", ["aes-256-cbc", "des-ede3-cbc"])
def test_padding_check_agrees_with_the_unpadder(name: str) -> None:
    cipher = content_cipher_by_name(name)
    block = cipher.block_size
    key, iv = os.urandom(cipher.key_size), os.urandom(block)
    algorithm = AES(key) if block == 16 else TripleDES(key)
    first = os.urandom(block)
    lasts = [os.urandom(block - 1) + bytes((value,)) for value in range(256)]
    for pad in range(1, block + 1):
        good = os.urandom(block - pad) + bytes((pad,)) * pad
        lasts.append(good)
        for wrong in range(block - pad, block - 1):
            lasts.append(good[:wrong] + bytes((good[wrong] ^ 1,)) + good[wrong + 1 :])
    for last in lasts:
        encryptor = Cipher(algorithm, modes.CBC(iv)).encryptor()
        ciphertext = encryptor.update(first + last) + encryptor.finalize()
        unpadder = padding.PKCS7(block * 8).unpadder()
        try:
            expected: bytes | None = unpadder.update(first + last) + unpadder.finalize()
        except ValueError:
            expected = None
        try:
            got: bytes | None = decrypt_content(cipher, key, ContentParameters(iv), ciphertext)
        except DecryptionError as exc:
            assert str(exc) == "Decryption failed"
            got = None
        assert got == expected


# ------------------------------------------------------------------ X9.63 KDF


@pytest.mark.parametrize("hash_name", ["sha1", "sha224", "sha256", "sha384", "sha512"])
@pytest.mark.parametrize("size", [16, 24, 32, 100])
def test_x963_kdf_is_cryptographys(hash_name: str, size: int) -> None:
    algorithm = {
        "sha1": hashes.SHA1(),  # noqa: S303 - the KDF OpenSSL 3 uses by default
        "sha224": hashes.SHA224(),
        "sha256": hashes.SHA256(),
        "sha384": hashes.SHA384(),
        "sha512": hashes.SHA512(),
    }[hash_name]
    shared, info = os.urandom(32), os.urandom(27)
    expected = X963KDF(algorithm=algorithm, length=size, sharedinfo=info).derive(shared)
    assert keyagreement._x963_kdf(hash_name, shared, info, size) == expected


# ------------------------------------------------------------------ the keyring's looks


def _counting_stats(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = os.stat

    def stat(path: object) -> os.stat_result:
        seen.append(str(path))
        return real(path)  # type: ignore[arg-type]

    monkeypatch.setattr(directory.os, "stat", stat)
    return seen


def test_one_decryption_looks_at_each_keyring_file_once(
    smime: SMIME, identities: dict[str, DemoIdentity], monkeypatch: pytest.MonkeyPatch
) -> None:
    encrypted = smime.encrypt(SAMPLE_MESSAGE, recipients=[identities["rsa2048"].address]).data
    assert smime.decrypt(encrypted).ok
    seen = _counting_stats(monkeypatch)
    assert smime.decrypt(encrypted).ok
    assert seen and len(seen) == len(set(seen))
    seen.clear()
    assert smime.encrypt(SAMPLE_MESSAGE, recipients=[identities["p256"].address]).ok
    assert seen and len(seen) == len(set(seen))


def test_files_changed_between_operations_are_seen(
    tmp_path: Path, pki: DemoPKI, identities: dict[str, DemoIdentity]
) -> None:
    rsa, ec = identities["rsa2048"], identities["p256"]
    pki.write_keyring(tmp_path, [rsa], passphrase=PASSPHRASE)
    keyring = directory.DirectoryKeyring(tmp_path, PASSPHRASE)
    path = tmp_path / f"{rsa.address}.pem"
    with keyring.one_look():
        assert keyring.certificate_for(rsa.address, "encryption") == rsa.certificate
        stat = path.stat()
        path.write_bytes(ec.certificate_pem() + b"\n" * 3)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
        # Within one operation the file is as first seen...
        assert keyring.certificate_for(rsa.address, "encryption") == rsa.certificate
    # ... and the next operation looks again.
    assert keyring.certificate_for(rsa.address, "encryption") == ec.certificate
    with keyring.one_look():
        path.unlink()
        assert keyring.certificate_for(rsa.address, "encryption") is None


def test_fallback_addresses_are_read_only_when_needed(
    smime: SMIME, people: dict[str, Recipient], identities: dict[str, DemoIdentity]
) -> None:
    asked: list[int] = []

    def candidates() -> list[str]:
        asked.append(1)
        return ["nobody@test.example"]

    mine = build_enveloped(CONTENT, [EncryptionRecipient(identities["p256"].certificate)])
    outcome = smime.context.decrypt(parse_enveloped(mine), candidates)
    assert outcome.content is not None and outcome.content.content == CONTENT
    assert records.decryption(outcome)["Status"] == "DONE"
    assert asked == []
    other = build_enveloped(CONTENT, [EncryptionRecipient(people["x25519"].certificate)])
    outcome = smime.context.decrypt(parse_enveloped(other), candidates)
    assert asked == [1]
    assert outcome.stage == "no-key" and isinstance(outcome.error, SecretKeyNotFoundError)
    assert "nobody@test.example" in str(outcome.error)
    assert dict(records.decryption(outcome)) == {
        "Operation": "KeyCheck",
        "Status": "MISSING",
        "Message": "Secret key is not available",
        "KeyType": "secret",
    }

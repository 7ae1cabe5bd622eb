"""Encrypted S/MIME mail against the openssl binary, in both directions, through SMIME.

openssl -> us: ``openssl smime -encrypt`` (AES-CBC, 3DES) and ``openssl cms -encrypt``
(AES-GCM, RSA-OAEP, ECDH P-256/P-384, two recipients) mail decrypts with
:meth:`SMIME.decrypt`; ``smime -sign | smime -encrypt`` mail decrypts and verifies.
us -> openssl: :meth:`SMIME.encrypt` and :meth:`SMIME.sign_encrypt` mail decrypts with
``openssl smime -decrypt`` / ``openssl cms -decrypt``, and the inner signature verifies.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from smimecore import SMIME, Config
from tests.conftest import PASSPHRASE, SAMPLE_MESSAGE

pytestmark = pytest.mark.interop

OpenSSL = Callable[..., subprocess.CompletedProcess[bytes]]
RSA = "rsa2048@test.example"
ENTITY = b"Content-Type: text/plain; charset=utf-8\n\nHello from openssl.\nSecond line.\n"
CRLF_ENTITY = ENTITY.replace(b"\n", b"\r\n")
SAMPLE_ENTITY = (
    b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
    b"Hello,\r\n\r\nthis is the body.\r\nSecond line.\r\n"
)
HEADERS = ("-from", "Alice <p384@test.example>", "-subject", "from openssl")


def _run_ok(openssl: OpenSSL, *arguments: str | Path, input: bytes = b"") -> bytes:
    completed = openssl(*arguments, input=input)
    assert completed.returncode == 0, completed.stderr.decode(errors="replace")
    return completed.stdout


def _certs(pki_dir: Path, *kinds: str) -> list[Path]:
    return [pki_dir / f"{kind}@test.example.crt" for kind in kinds]


def _recip(pki_dir: Path, kind: str) -> list[str | Path]:
    address = f"{kind}@test.example"
    return ["-recip", pki_dir / f"{address}.crt", "-inkey", pki_dir / f"{address}.key"]


def _body(data: bytes) -> bytes:
    return data.split(b"\r\n\r\n", 1)[1]


@pytest.fixture(scope="module")
def trusting(pki_dir: Path) -> SMIME:
    """The test keyring with the test CA as ca_path (trust FULL)."""
    return SMIME(
        Config(keyring=pki_dir / "keyring", passphrase=PASSPHRASE, ca_path=pki_dir / "ca.pem")
    )


# ------------------------------------------------------------------ openssl -> us


@pytest.mark.parametrize(
    ("flag", "cipher", "weak"),
    [
        ("-aes128", "aes-128-cbc", False),
        ("-aes192", "aes-192-cbc", False),
        ("-aes256", "aes-256-cbc", False),
        ("-des3", "des-ede3-cbc", True),
    ],
)
def test_openssl_smime_encrypt_decrypts_with_us(
    openssl: OpenSSL, pki_dir: Path, smime: SMIME, flag: str, cipher: str, weak: bool
) -> None:
    """openssl smime -encrypt to an RSA certificate; 3DES is reported in WeakAlgorithms."""
    mail = _run_ok(
        openssl, "smime", "-encrypt", flag, *HEADERS, "-to", RSA, *_certs(pki_dir, "rsa2048"),
        input=ENTITY,
    )  # fmt: skip
    assert b"application/x-pkcs7-mime; smime-type=enveloped-data" in mail
    result = smime.decrypt(mail)
    (record,) = result.statuses
    assert record["EncryptedTo"] == [{"EmailAddress": RSA}]
    assert record["Cipher"] == cipher
    assert record.get("WeakAlgorithms") == (cipher if weak else None)
    assert _body(result.data) == _body(CRLF_ENTITY)
    assert b"Subject: from openssl" in result.data


@pytest.mark.parametrize(
    ("flag", "kind", "oaep", "cipher", "key_encryption"),
    [
        ("-aes-128-gcm", "rsa2048", False, "aes-128-gcm", "rsaes-pkcs1-v1_5"),
        ("-aes-256-gcm", "rsa2048", False, "aes-256-gcm", "rsaes-pkcs1-v1_5"),
        ("-aes256", "rsa2048", True, "aes-256-cbc", "rsaes-oaep"),
        ("-aes256", "p256", False, "aes-256-cbc", "ecdh"),
        ("-aes-256-gcm", "p384", False, "aes-256-gcm", "ecdh"),
    ],
    ids=["aes-128-gcm", "aes-256-gcm", "rsa-oaep", "ec-p256", "ec-p384-gcm"],
)
def test_openssl_cms_encrypt_decrypts_with_us(
    openssl: OpenSSL,
    pki_dir: Path,
    smime: SMIME,
    flag: str,
    kind: str,
    oaep: bool,
    cipher: str,
    key_encryption: str,
) -> None:
    """openssl cms -encrypt: AuthEnvelopedData (GCM), OAEP and ECDH recipients."""
    address = f"{kind}@test.example"
    keyopt = ["-keyopt", "rsa_padding_mode:oaep"] if oaep else []
    mail = _run_ok(
        openssl, "cms", "-encrypt", flag, *HEADERS, "-to", address,
        "-recip", *_certs(pki_dir, kind), *keyopt, input=ENTITY,
    )  # fmt: skip
    smime_type = b"authEnveloped-data" if cipher.endswith("gcm") else b"enveloped-data"
    assert b"smime-type=" + smime_type in mail
    result = smime.decrypt(mail)
    (record,) = result.statuses
    assert record["EncryptedTo"] == [{"EmailAddress": address}]
    assert record["Cipher"] == cipher
    assert str(record["KeyEncryption"]).startswith(key_encryption)
    assert _body(result.data) == _body(CRLF_ENTITY)


def test_openssl_two_recipients_each_decrypts_with_us(
    openssl: OpenSSL, pki_dir: Path, tmp_path: Path
) -> None:
    """openssl cms -encrypt to RSA and P-256: a keyring with either key alone decrypts."""
    mail = _run_ok(
        openssl, "cms", "-encrypt", "-aes256", *HEADERS, "-to", RSA,
        *_certs(pki_dir, "rsa2048", "p256"), input=ENTITY,
    )  # fmt: skip
    for kind in ("rsa2048", "p256"):
        address = f"{kind}@test.example"
        directory = tmp_path / kind
        directory.mkdir()
        (directory / f"{address}.pem").write_bytes(
            (pki_dir / f"{address}.crt").read_bytes() + (pki_dir / f"{address}.key").read_bytes()
        )
        (record,) = SMIME(Config(keyring=directory)).decrypt(mail).statuses
        assert record["EncryptedTo"] == [{"EmailAddress": address}]


@pytest.mark.parametrize("signer", ["rsa2048", "p256"])
def test_openssl_sign_then_encrypt_pipeline(
    openssl: OpenSSL, pki_dir: Path, trusting: SMIME, signer: str
) -> None:
    """openssl smime -sign | smime -encrypt (PKCS#7: RSA recipients only): we decrypt, then verify."""
    address = f"{signer}@test.example"
    signed = _run_ok(
        openssl, "smime", "-sign", "-signer", pki_dir / f"{address}.crt",
        "-inkey", pki_dir / f"{address}.key", input=ENTITY,
    )  # fmt: skip
    mail = _run_ok(
        openssl, "smime", "-encrypt", "-aes256", "-from", address, "-to", RSA,
        "-subject", "signed and encrypted", *_certs(pki_dir, "rsa2048"), input=signed,
    )  # fmt: skip
    decrypted = trusting.decrypt(mail)
    assert decrypted.statuses[0]["EncryptedTo"] == [{"EmailAddress": RSA}]
    verified = trusting.verify(decrypted.data)
    (record,) = verified.statuses
    assert (record.status, record["Trust"], record["SignerMatchesSender"]) == ("DONE", "FULL", True)
    assert _body(verified.data) == _body(CRLF_ENTITY)
    assert b"Subject: signed and encrypted" in verified.data


# ------------------------------------------------------------------ us -> openssl


@pytest.mark.parametrize("cipher", ["aes-128-cbc", "aes-192-cbc", "aes-256-cbc"])
def test_ours_decrypts_with_openssl_smime(
    openssl: OpenSSL, pki_dir: Path, smime: SMIME, cipher: str
) -> None:
    """openssl smime -decrypt gives back the protected entity of our CBC mail."""
    mail = smime.encrypt(SAMPLE_MESSAGE, recipients=[RSA], cipher=cipher).data
    assert _run_ok(openssl, "smime", "-decrypt", *_recip(pki_dir, "rsa2048"), input=mail) == (
        SAMPLE_ENTITY
    )


@pytest.mark.parametrize(
    ("cipher", "kinds", "oaep"),
    [
        ("aes-128-gcm", ("rsa2048",), False),
        ("aes-256-gcm", ("rsa2048",), False),
        ("aes-256-cbc", ("rsa2048",), True),
        ("aes-128-cbc", ("p256",), False),
        ("aes-256-gcm", ("p384",), False),
        ("aes-256-cbc", ("rsa2048", "p256"), False),
    ],
    ids=["aes-128-gcm", "aes-256-gcm", "rsa-oaep", "ec-p256", "ec-p384-gcm", "two-recipients"],
)
def test_ours_decrypts_with_openssl_cms(
    openssl: OpenSSL,
    pki_dir: Path,
    smime: SMIME,
    cipher: str,
    kinds: tuple[str, ...],
    oaep: bool,
) -> None:
    """openssl cms -decrypt reads our GCM, OAEP, ECDH and two-recipient mail, with each key."""
    recipients = [f"{kind}@test.example" for kind in kinds]
    mail = smime.encrypt(SAMPLE_MESSAGE, recipients=recipients, cipher=cipher, oaep=oaep).data
    for kind in kinds:
        plain = _run_ok(openssl, "cms", "-decrypt", *_recip(pki_dir, kind), input=mail)
        assert plain == SAMPLE_ENTITY


@pytest.mark.parametrize("opaque", [False, True], ids=["detached", "opaque"])
def test_our_sign_encrypt_decrypts_and_verifies_with_openssl(
    openssl: OpenSSL, pki_dir: Path, smime: SMIME, opaque: bool
) -> None:
    """openssl decrypts our sign_encrypt mail and the inner signature verifies against ca.pem."""
    mail = smime.sign_encrypt(
        SAMPLE_MESSAGE, signer=RSA, recipients=["p256@test.example"], opaque=opaque
    ).data
    signed = _run_ok(openssl, "cms", "-decrypt", *_recip(pki_dir, "p256"), input=mail)
    assert (b"smime-type=signed-data" if opaque else b"multipart/signed") in signed
    content = _run_ok(openssl, "cms", "-verify", "-CAfile", pki_dir / "ca.pem", input=signed)
    assert content == SAMPLE_ENTITY

"""The smimecore command's encrypt, sign-encrypt and decrypt: status JSON, exit statuses, no output on failure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smimecore.cli.main import main
from smimecore.demo.pki import DemoIdentity, DemoPKI
from tests.conftest import PASSPHRASE, SAMPLE_MESSAGE

EC = "p256@test.example"
BODY = b"Hello,\r\n\r\nthis is the body.\r\nSecond line.\r\n"


@pytest.fixture
def message_file(tmp_path: Path) -> Path:
    """The sample message on disk."""
    path = tmp_path / "message.eml"
    path.write_bytes(SAMPLE_MESSAGE)
    return path


@pytest.fixture(scope="module")
def outsider(pki: DemoPKI) -> DemoIdentity:
    """An identity that is in no keyring."""
    return pki.issue("outsider@test.example", "p256")


def _globals(pki_dir: Path, status: Path) -> list[str]:
    return ["--keyring", str(pki_dir / "keyring"), "--passphrase", PASSPHRASE,
            "--status-json", str(status)]  # fmt: skip


def _statuses(path: Path) -> list[dict[str, object]]:
    loaded = json.loads(path.read_text())
    assert isinstance(loaded, list)
    return loaded


@pytest.mark.parametrize("cipher", ["aes-128-cbc", "aes-256-gcm", "chacha20-poly1305"])
def test_encrypt_then_decrypt(
    pki_dir: Path, message_file: Path, tmp_path: Path, cipher: str
) -> None:
    """encrypt --recipient --cipher, then decrypt; both exit 0 with RT's records as JSON."""
    encrypted, decrypted, status = tmp_path / "enc.eml", tmp_path / "dec.eml", tmp_path / "s.json"
    assert main([*_globals(pki_dir, status), "encrypt", "--recipient", EC, "--cipher", cipher,
                 "--in", str(message_file), "--out", str(encrypted)]) == 0  # fmt: skip
    assert _statuses(status) == [
        {"Operation": "Encrypt", "Status": "DONE", "Message": "Data has been encrypted"}
    ]
    assert b"this is the body" not in encrypted.read_bytes()
    assert main([*_globals(pki_dir, status), "decrypt",
                 "--in", str(encrypted), "--out", str(decrypted)]) == 0  # fmt: skip
    (record,) = _statuses(status)
    assert record["Operation"] == "Decrypt" and record["Status"] == "DONE"
    assert record["Message"] == "Decryption process succeeded"
    assert record["EncryptedTo"] == [{"EmailAddress": EC}] and record["Cipher"] == cipher
    assert decrypted.read_bytes().endswith(BODY)


def test_sign_encrypt_then_decrypt_then_verify(
    pki_dir: Path, message_file: Path, tmp_path: Path
) -> None:
    """sign-encrypt --oaep records Sign then Encrypt; decrypt and verify undo it."""
    encrypted, decrypted, verified = (tmp_path / f"{n}.eml" for n in ("enc", "dec", "ver"))
    status = tmp_path / "s.json"
    assert main([*_globals(pki_dir, status), "sign-encrypt", "--signer", "rsa2048@test.example",
                 "--recipient", "rsa2048@test.example", "--oaep",
                 "--in", str(message_file), "--out", str(encrypted)]) == 0  # fmt: skip
    assert [(r["Operation"], r["Status"]) for r in _statuses(status)] == [
        ("Sign", "DONE"),
        ("Encrypt", "DONE"),
    ]
    assert main([*_globals(pki_dir, status), "decrypt", "--recipient", "rsa2048@test.example",
                 "--in", str(encrypted), "--out", str(decrypted)]) == 0  # fmt: skip
    assert _statuses(status)[0]["KeyEncryption"] == "rsaes-oaep-sha256"
    assert main([*_globals(pki_dir, status), "--accept-untrusted-cas", "verify",
                 "--in", str(decrypted), "--out", str(verified)]) == 0  # fmt: skip
    assert verified.read_bytes().endswith(BODY)


def test_missing_recipient_exits_1_without_output(
    pki_dir: Path, message_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An address without a certificate: exit 1, RecipientsCheck in the JSON, no --out file."""
    out, status = tmp_path / "out.eml", tmp_path / "s.json"
    code = main([*_globals(pki_dir, status), "encrypt", "--recipient", EC,
                 "--recipient", "nobody@test.example",
                 "--in", str(message_file), "--out", str(out)])  # fmt: skip
    assert code == 1
    assert not out.exists()
    assert _statuses(status) == [
        {
            "Operation": "RecipientsCheck",
            "Status": "ERROR",
            "Message": "Recipient 'nobody@test.example' is unusable, the reason is 'Key not found'",
            "Recipient": "nobody@test.example",
            "Reason": "Key not found",
        }
    ]
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "nobody@test.example" in error and "Traceback" not in error


def test_cert_file_outside_the_keyring_and_decrypt_for_nobody(
    pki_dir: Path, tmp_path: Path, outsider: DemoIdentity, capsys: pytest.CaptureFixture[str]
) -> None:
    """--cert FILE encrypts to a certificate not in the keyring; our keyring then has no key (MISSING)."""
    message = tmp_path / "message.eml"
    message.write_bytes(
        SAMPLE_MESSAGE.replace(b"Bob <p256@test.example>", b"outsider@test.example")
    )
    cert = tmp_path / "outsider.crt"
    cert.write_bytes(outsider.certificate_pem())
    encrypted, out, status = tmp_path / "enc.eml", tmp_path / "out.eml", tmp_path / "s.json"
    assert main([*_globals(pki_dir, status), "encrypt", "--cert", str(cert),
                 "--in", str(message), "--out", str(encrypted)]) == 0  # fmt: skip

    capsys.readouterr()
    code = main([*_globals(pki_dir, status), "decrypt",
                 "--in", str(encrypted), "--out", str(out)])  # fmt: skip
    assert code == 1 and not out.exists()
    assert _statuses(status) == [
        {
            "Operation": "KeyCheck",
            "Status": "MISSING",
            "Message": "Secret key is not available",
            "KeyType": "secret",
        }
    ]
    assert capsys.readouterr().err.count("\n") == 1

    own = tmp_path / "own-keyring"
    own.mkdir()
    (own / "outsider@test.example.pem").write_bytes(outsider.certificate_pem() + outsider.key_pem())
    assert main(["--keyring", str(own), "--status-json", str(status), "decrypt",
                 "--in", str(encrypted), "--out", str(out)]) == 0  # fmt: skip
    assert _statuses(status)[0]["EncryptedTo"] == [{"EmailAddress": "outsider@test.example"}]


def test_decrypt_of_a_plain_message_exits_1(
    pki_dir: Path, message_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A message that is not encrypted: Decrypt ERROR, exit 1, one line, no output."""
    out, status = tmp_path / "out.eml", tmp_path / "s.json"
    assert main([*_globals(pki_dir, status), "decrypt",
                 "--in", str(message_file), "--out", str(out)]) == 1  # fmt: skip
    assert not out.exists()
    ((operation, state),) = [(r["Operation"], r["Status"]) for r in _statuses(status)]
    assert (operation, state) == ("Decrypt", "ERROR")
    assert capsys.readouterr().err.count("\n") == 1


def test_unknown_cipher_is_a_usage_error(pki_dir: Path, message_file: Path, tmp_path: Path) -> None:
    """--cipher takes only the ciphers we encrypt with (exit 2)."""
    with pytest.raises(SystemExit) as caught:
        main([*_globals(pki_dir, tmp_path / "s.json"), "encrypt", "--recipient", EC,
              "--cipher", "des-ede3-cbc", "--in", str(message_file)])  # fmt: skip
    assert caught.value.code == 2


def test_encrypt_without_any_recipient_is_a_usage_error(tmp_path: Path) -> None:
    """encrypt with neither --recipient nor --cert exits 2 without reading input."""
    assert main(["encrypt", "--in", str(tmp_path / "never-read.eml")]) == 2
    assert main(["sign-encrypt", "--signer", "a@test.example", "--in", str(tmp_path / "x")]) == 2

"""The command line's openssl-cms forms: --inform/--outform, verify --content, --key/--cert.

Bare CMS objects are checked against the openssl binary both ways; the
``smime`` form stays what it was, now also with key files; forms that do
not fit together are usage errors (exit 2).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from smimecore.cli.main import main
from smimecore.demo.pki import DemoIdentity
from tests.conftest import PASSPHRASE, SAMPLE_MESSAGE

OpenSSL = Callable[..., subprocess.CompletedProcess[bytes]]

CONTENT = b"bare bytes\nLF only\n\x00\xff\r\nand a CRLF\n"
ALICE = "rsa2048@test.example"
BOB = "p256@test.example"


@pytest.fixture
def content(tmp_path: Path) -> Path:
    path = tmp_path / "content.bin"
    path.write_bytes(CONTENT)
    return path


def _ok(openssl: OpenSSL, *arguments: str | Path, input: bytes = b"") -> bytes:
    completed = openssl(*arguments, input=input)
    assert completed.returncode == 0, completed.stderr.decode(errors="replace")
    return completed.stdout


def _records(path: Path) -> list[dict[str, object]]:
    loaded: list[dict[str, object]] = json.loads(path.read_text())
    return loaded


# -- sign --------------------------------------------------------------------------


@pytest.mark.interop
@pytest.mark.parametrize("outform", ["der", "PEM"])
@pytest.mark.parametrize("key_files", ["key+cert", "keyring-file", "pkcs12"])
def test_sign_with_key_files_verifies_with_openssl(
    openssl: OpenSSL,
    pki_dir: Path,
    identities: dict[str, DemoIdentity],
    content: Path,
    tmp_path: Path,
    key_files: str,
    outform: str,
) -> None:
    """sign --key FILE [--cert FILE] --outform der|pem: openssl cms -verify -content accepts it."""
    if key_files == "key+cert":
        key_options = ["--key", f"{pki_dir}/{ALICE}.key", "--cert", f"{pki_dir}/{ALICE}.crt"]
    elif key_files == "keyring-file":  # certificate and encrypted key in one PEM file
        key_options = ["--passphrase", PASSPHRASE, "--key", f"{pki_dir}/keyring/{ALICE}.pem"]
    else:
        identity = identities["rsa2048"]
        p12 = tmp_path / "alice.p12"
        p12.write_bytes(
            pkcs12.serialize_key_and_certificates(
                None,
                identity.key,  # type: ignore[arg-type]
                identity.certificate,
                None,
                serialization.BestAvailableEncryption(PASSPHRASE.encode()),
            )
        )
        key_options = ["--passphrase", PASSPHRASE, "--key", str(p12)]
    signature = tmp_path / "content.sig"
    status = tmp_path / "status.json"

    code = main(["--status-json", str(status), "sign", *key_options, "--outform", outform,
                 "--in", str(content), "--out", str(signature)])  # fmt: skip

    assert code == 0
    assert _records(status) == [
        {"Operation": "Sign", "Status": "DONE", "Message": "Signed message"}
    ]
    assert signature.read_bytes().startswith(b"-----BEGIN CMS-----") is (outform == "PEM")
    verified = _ok(openssl, "cms", "-verify", "-binary", "-inform", outform, "-in", signature,
                   "-content", content, "-CAfile", pki_dir / "ca.pem")  # fmt: skip
    assert verified == CONTENT


@pytest.mark.interop
def test_sign_from_the_keyring_encapsulated_pem(
    openssl: OpenSSL, pki_dir: Path, content: Path, tmp_path: Path
) -> None:
    """sign --signer ADDRESS --opaque --outform pem: the keyring's key, content inside."""
    signed = tmp_path / "signed.pem"
    assert main(["--keyring", str(pki_dir / "keyring"), "--passphrase", PASSPHRASE, "sign",
                 "--signer", ALICE, "--opaque", "--digest", "sha512", "--outform", "pem",
                 "--in", str(content), "--out", str(signed)]) == 0  # fmt: skip
    assert _ok(openssl, "cms", "-verify", "-binary", "-inform", "PEM", "-in", signed,
               "-CAfile", pki_dir / "ca.pem") == CONTENT  # fmt: skip


def test_sign_with_a_key_file_in_the_smime_form(
    pki_dir: Path, tmp_path: Path, message_file: Path
) -> None:
    """--key without --signer signs a mail as the certificate's address; it verifies as before."""
    signed, verified = tmp_path / "signed.eml", tmp_path / "verified.eml"
    assert main(["sign", "--key", f"{pki_dir}/{ALICE}.key", "--cert", f"{pki_dir}/{ALICE}.crt",
                 "--in", str(message_file), "--out", str(signed)]) == 0  # fmt: skip
    assert b"multipart/signed" in signed.read_bytes()
    status = tmp_path / "status.json"
    assert main(["--ca-path", str(pki_dir / "ca.pem"), "--status-json", str(status), "verify",
                 "--in", str(signed), "--out", str(verified)]) == 0  # fmt: skip
    assert _records(status)[0]["UserString"] == f'"Test rsa2048" <{ALICE}>'
    assert b"this is the body." in verified.read_bytes()


@pytest.fixture
def message_file(tmp_path: Path) -> Path:
    path = tmp_path / "message.eml"
    path.write_bytes(SAMPLE_MESSAGE)
    return path


# -- verify ------------------------------------------------------------------------


@pytest.mark.interop
@pytest.mark.parametrize("inform", ["DER", "pem"])
def test_openssl_detached_signature_verifies_with_content(
    openssl: OpenSSL, pki_dir: Path, content: Path, tmp_path: Path, inform: str
) -> None:
    """verify --inform der|pem --content FILE writes the bare content and RT's record."""
    signature = tmp_path / "content.p7s"
    signature.write_bytes(
        _ok(openssl, "cms", "-sign", "-binary", "-in", content, "-outform", inform,
            "-signer", pki_dir / f"{ALICE}.crt", "-inkey", pki_dir / f"{ALICE}.key")
    )  # fmt: skip
    out, status = tmp_path / "out.bin", tmp_path / "status.json"

    code = main(["--ca-path", str(pki_dir / "ca.pem"), "--status-json", str(status), "verify",
                 "--inform", inform, "--in", str(signature), "--content", str(content),
                 "--out", str(out)])  # fmt: skip

    assert code == 0 and out.read_bytes() == CONTENT
    (record,) = _records(status)
    assert (record["Operation"], record["Status"], record["Trust"]) == ("Verify", "DONE", "FULL")


@pytest.mark.interop
def test_openssl_encapsulated_ber_signature_writes_its_content(
    openssl: OpenSSL, pki_dir: Path, content: Path, tmp_path: Path
) -> None:
    signed = _ok(openssl, "cms", "-sign", "-binary", "-nodetach", "-stream", "-in", content,
                 "-outform", "DER", "-signer", pki_dir / f"{BOB}.crt",
                 "-inkey", pki_dir / f"{BOB}.key")  # fmt: skip
    (tmp_path / "signed.der").write_bytes(signed)
    out = tmp_path / "out.bin"
    assert main(["--ca-path", str(pki_dir / "ca.pem"), "verify", "--inform", "der",
                 "--in", str(tmp_path / "signed.der"), "--out", str(out)]) == 0  # fmt: skip
    assert out.read_bytes() == CONTENT


def test_changed_content_exits_1_and_writes_nothing(
    pki_dir: Path, content: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signature, out, status = tmp_path / "sig.der", tmp_path / "out.bin", tmp_path / "s.json"
    assert main(["sign", "--key", f"{pki_dir}/{ALICE}.key", "--cert", f"{pki_dir}/{ALICE}.crt",
                 "--outform", "der", "--in", str(content), "--out", str(signature)]) == 0  # fmt: skip
    content.write_bytes(CONTENT + b"changed")
    capsys.readouterr()

    code = main(["--status-json", str(status), "verify", "--inform", "der", "--in",
                 str(signature), "--content", str(content), "--out", str(out)])  # fmt: skip

    assert code == 1 and not out.exists()
    assert _records(status)[0]["Message"] == "The signature did not verify"
    assert capsys.readouterr().err == "smimecore: Verify BAD: The signature did not verify\n"


def test_detached_signature_without_its_content_exits_1(
    pki_dir: Path, content: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signature = tmp_path / "sig.der"
    main(["sign", "--key", f"{pki_dir}/{ALICE}.key", "--cert", f"{pki_dir}/{ALICE}.crt",
          "--outform", "der", "--in", str(content), "--out", str(signature)])  # fmt: skip
    capsys.readouterr()
    assert main(["verify", "--inform", "der", "--in", str(signature)]) == 1
    assert "--content FILE" in capsys.readouterr().err


# -- encrypt and decrypt -------------------------------------------------------------


@pytest.mark.interop
@pytest.mark.parametrize("outform", ["der", "pem"])
def test_encrypt_to_cert_files_decrypts_with_openssl(
    openssl: OpenSSL, pki_dir: Path, content: Path, tmp_path: Path, outform: str
) -> None:
    envelope = tmp_path / "content.p7m"
    assert main(["encrypt", "--cert", f"{pki_dir}/{ALICE}.crt", "--cert", f"{pki_dir}/{BOB}.crt",
                 "--cipher", "aes-256-gcm", "--outform", outform, "--in", str(content),
                 "--out", str(envelope)]) == 0  # fmt: skip
    for address in (ALICE, BOB):
        plain = _ok(openssl, "cms", "-decrypt", "-binary", "-inform", outform.upper(),
                    "-in", envelope, "-recip", pki_dir / f"{address}.crt",
                    "-inkey", pki_dir / f"{address}.key")  # fmt: skip
        assert plain == CONTENT


@pytest.mark.interop
@pytest.mark.parametrize("inform", ["der", "pem"])
def test_openssl_envelope_decrypts_with_key_files(
    openssl: OpenSSL, pki_dir: Path, content: Path, tmp_path: Path, inform: str
) -> None:
    envelope = tmp_path / "content.p7m"
    envelope.write_bytes(
        _ok(openssl, "cms", "-encrypt", "-binary", "-aes-128-cbc", "-in", content,
            "-outform", inform, pki_dir / f"{BOB}.crt")
    )  # fmt: skip
    out, status = tmp_path / "out.bin", tmp_path / "status.json"

    code = main(["--status-json", str(status), "decrypt", "--inform", inform,
                 "--key", f"{pki_dir}/{BOB}.key", "--cert", f"{pki_dir}/{BOB}.crt",
                 "--in", str(envelope), "--out", str(out)])  # fmt: skip

    assert code == 0 and out.read_bytes() == CONTENT
    (record,) = _records(status)
    assert (record["Operation"], record["Status"]) == ("Decrypt", "DONE")
    assert record["EncryptedTo"] == [{"EmailAddress": BOB}]


def test_keyring_recipients_and_keyring_decryption_bare(
    pki_dir: Path, content: Path, tmp_path: Path
) -> None:
    """encrypt --recipient and decrypt with the keyring work on bare objects too."""
    keyring = ["--keyring", str(pki_dir / "keyring"), "--passphrase", PASSPHRASE]
    envelope, out = tmp_path / "content.p7m", tmp_path / "out.bin"
    assert main([*keyring, "encrypt", "--recipient", BOB, "--outform", "der",
                 "--in", str(content), "--out", str(envelope)]) == 0  # fmt: skip
    assert main([*keyring, "decrypt", "--inform", "der", "--in", str(envelope),
                 "--out", str(out)]) == 0  # fmt: skip
    assert out.read_bytes() == CONTENT


def test_decrypt_a_mail_with_key_files(pki_dir: Path, message_file: Path, tmp_path: Path) -> None:
    """The smime form with --key: RT's Decrypt record, the plaintext under the outer fields."""
    encrypted, plain = tmp_path / "encrypted.eml", tmp_path / "plain.eml"
    assert main(["encrypt", "--cert", f"{pki_dir}/{BOB}.crt", "--in", str(message_file),
                 "--out", str(encrypted)]) == 0  # fmt: skip
    assert main(["decrypt", "--key", f"{pki_dir}/{BOB}.key", "--cert", f"{pki_dir}/{BOB}.crt",
                 "--in", str(encrypted), "--out", str(plain)]) == 0  # fmt: skip
    assert b"this is the body." in plain.read_bytes()
    assert plain.read_bytes().startswith(b"From: Alice <rsa2048@test.example>")


def test_wrong_key_exits_1(pki_dir: Path, content: Path, tmp_path: Path) -> None:
    envelope, status = tmp_path / "content.p7m", tmp_path / "status.json"
    main(["encrypt", "--cert", f"{pki_dir}/{ALICE}.crt", "--outform", "der",
          "--in", str(content), "--out", str(envelope)])  # fmt: skip
    code = main(["--status-json", str(status), "decrypt", "--inform", "der",
                 "--key", f"{pki_dir}/{BOB}.key", "--cert", f"{pki_dir}/{BOB}.crt",
                 "--in", str(envelope)])  # fmt: skip
    assert code == 1
    assert _records(status)[0]["Status"] in ("MISSING", "ERROR")


def test_wrong_passphrase_for_a_key_file_exits_1(
    pki_dir: Path, content: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--passphrase", "wrong", "sign", "--key", f"{pki_dir}/keyring/{ALICE}.pem",
                 "--outform", "der", "--in", str(content)])  # fmt: skip
    assert code == 1
    assert "passphrase does not open" in capsys.readouterr().err


# -- usage ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (["verify", "--inform", "der", "--outform", "smime"], "--outform smime does not fit"),
        (["decrypt", "--inform", "smime", "--outform", "pem"], "--outform pem does not fit"),
        (["sign", "--signer", ALICE, "--inform", "der"], "--inform der does not fit"),
        (["encrypt", "--cert", "x", "--outform", "der", "--inform", "smime"], "does not fit"),
        (["verify", "--content", "content.bin"], "add --inform der|pem"),
        (["sign"], "sign needs --signer ADDRESS or --key FILE"),
        (["decrypt", "--cert", "bob.crt"], "--cert FILE names the certificate of --key FILE"),
        (["verify", "--inform", "xml"], "invalid choice"),
    ],
)
def test_forms_that_do_not_fit_are_usage_errors(
    arguments: list[str], said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stdin = tmp_path / "in"
    stdin.write_bytes(b"")
    try:
        code = main([*arguments, "--in", str(stdin)])
    except SystemExit as exit_:  # argparse's own errors
        code = int(exit_.code or 0)
    assert code == 2
    assert said in capsys.readouterr().err


def test_key_without_its_certificate_is_a_usage_error(
    pki_dir: Path, content: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sign", "--key", f"{pki_dir}/{ALICE}.key", "--in", str(content)]) == 2
    assert "its certificate is needed" in capsys.readouterr().err

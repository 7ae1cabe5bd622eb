"""RT's own S/MIME scenarios (t/mail/smime, t/crypt/smime; section 10.4) on RT's test data.

Where smimecore deliberately differs from RT (a bug of section 11 it fixes),
the test name says so.  RT's demo CA is an RSA-1024 key, so these run with
``allow_weak_algorithms``.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from smimecore import SMIME, Config, RecipientError, parse_status
from tests.conftest import vector_path

pytestmark = pytest.mark.vectors

PNG_MD5 = "1e35f1aa90c98ca2bab85c26ae3e1ba7"
SENDER = '"sender" <sender@example.com>'
CA_OWNER = '"CA Owner" <ca.owner@example.com>'


@pytest.fixture(scope="module")
def rt() -> Path:
    """RT's t/data/smime."""
    return vector_path("request-tracker")


@pytest.fixture(scope="module")
def engine(rt: Path) -> SMIME:
    """RT's test configuration: keyring with root@ and sender@, CAPath demoCA, passphrase 123456."""
    return SMIME(
        Config(
            keyring=rt / "keys",
            passphrase={"root@example.com": "123456", "sender@example.com": "123456"},
            ca_path=rt / "keys" / "demoCA" / "cacert.pem",
            allow_weak_algorithms=True,
            status_header="X-RT-SMIME-Status",
        )
    )


def _mail(rt: Path, number: int) -> bytes:
    (path,) = (rt / "mails").glob(f"{number}-*.eml")
    return path.read_bytes()


def _leaves(message: EmailMessage) -> list[EmailMessage]:
    return [part for part in message.walk() if not part.is_multipart()]  # type: ignore[misc]


@pytest.mark.parametrize("number", range(1, 10))
def test_realmail_processed_like_rt(engine: SMIME, rt: Path, number: int) -> None:
    """realmail.t: each Thunderbird mail unwraps to its content with RT's records, in order."""
    result = engine.verify_decrypt(_mail(rt, number))
    encrypted, signed = number >= 4, number in (1, 2, 3, 7, 8, 9)
    expected = [*(["Decrypt"] if encrypted else []), *(["Verify"] if signed else [])]
    assert [record.operation for record in result.statuses] == expected
    assert result.ok
    for record in result.statuses:
        assert (record["Coverage"], record["Part"]) == ("whole", "")  # each layer covers it all
        if record.operation == "Decrypt":
            assert record.message == "Decryption process succeeded"
            assert record["EncryptedTo"][0]["EmailAddress"] in (
                "root@example.com",
                "sender@example.com",
            )
        else:
            assert record.message == (
                f"The signature is good, signed by {SENDER}, assured by {CA_OWNER}, trust is full"
            )
            assert record["Trust"] == "FULL"
    message = result.message
    assert message["Subject"] == f"Test Email ID:{number}"
    payloads = [part.get_payload(decode=True) or b"" for part in _leaves(message)]
    assert any(f"ID:{number}".encode() in payload for payload in payloads)
    if number % 3 == 2:
        assert any(b"zanzibar" in payload for payload in payloads)
    if number % 3 == 0:
        (png,) = [p for p in _leaves(message) if p.get_filename() == "favicon.png"]
        assert hashlib.md5(png.get_payload(decode=True)).hexdigest() == PNG_MD5  # noqa: S324
    assert parse_status(str(message["X-RT-SMIME-Status"])) == [
        r.to_dict() | _rt_text(r.to_dict()) for r in result.statuses
    ]


def _rt_text(record: dict[str, object]) -> dict[str, object]:
    """What RT's text format turns typed fields into."""
    return {
        name: "1" if record[name] else "0"
        for name in ("SignerMatchesSender", "Authenticated")
        if name in record
    }


def _process(
    rt: Path, *arguments: str, number: int
) -> tuple[int, bytes, list[dict[str, object]], Path]:
    with tempfile.TemporaryDirectory() as scratch:
        status = Path(scratch) / "status.json"
        done = subprocess.run(
            [
                sys.executable, "-m", "smimecore",
                "--keyring", str(rt / "keys"), "--passphrase", "123456",
                "--status-json", str(status),
                *arguments,
                "process", "--allow-weak-algorithms",
                "--in", str(next((rt / "mails").glob(f"{number}-*.eml"))),
            ],
            capture_output=True, check=False, timeout=120,
        )  # fmt: skip
        records = json.loads(status.read_text()) if status.exists() else []
        return done.returncode, done.stdout, records


@pytest.mark.parametrize("number", range(1, 10))
def test_process_command_prints_content_and_exits_0(rt: Path, number: int) -> None:
    """smimecore process with RT's keyring and CAPath: the content on stdout, exit 0."""
    code, output, records = _process(
        rt, "--ca-path", str(rt / "keys" / "demoCA" / "cacert.pem"), number=number
    )
    assert code == 0
    assert f"Subject: Test Email ID:{number}".encode() in output
    assert b"application/pkcs7" not in output
    assert all(record["Status"] == "DONE" for record in records)


@pytest.mark.parametrize("number", [1, 8])
def test_process_with_the_wrong_ca(rt: Path, number: int) -> None:
    """otherCA: exit 1 with 'The signing CA was not trusted'; accepted as untrusted: exit 0, NONE."""
    other = str(rt / "keys" / "otherCA" / "cacert.pem")
    code, _, records = _process(rt, "--ca-path", other, number=number)
    assert code == 1
    assert records[-1]["Message"] == "The signing CA was not trusted"
    code, output, records = _process(
        rt, "--ca-path", other, "--accept-untrusted-cas", number=number
    )
    assert code == 0
    assert records[-1]["Trust"] == "NONE" and records[-1]["Message"].endswith("trust is none")
    assert f"ID:{number}".encode() in output or b"Test Email" in output


def test_other_certs_one_then_two_certificates(
    rt: Path, openssl: Callable[..., CompletedProcess[bytes]], tmp_path: Path
) -> None:
    """other-certs.t: the signature holds the sender's certificate, then also the CA's (CA first)."""
    message = b"Subject: other certs\n\nbody\n"
    plain = SMIME(Config(keyring=rt / "keys", passphrase="123456"))
    extra = SMIME(
        Config(
            keyring=rt / "keys",
            passphrase="123456",
            other_certificates_to_send=rt / "keys" / "demoCA" / "cacert.pem",
        )
    )
    counts = []
    for engine in (plain, extra):
        signed = tmp_path / "signed.eml"
        signed.write_bytes(engine.sign(message, signer="sender@example.com").data)
        p7 = openssl("smime", "-pk7out", "-in", signed)
        printed = openssl("pkcs7", "-print_certs", input=p7.stdout).stdout.decode()
        subjects = re.findall(r"^subject=.*CN\s*=\s*([^,\n]+)", printed, flags=re.MULTILINE)
        counts.append(subjects)
    assert counts == [["sender"], ["CA Owner", "sender"]]


def test_bad_recipients(rt: Path) -> None:
    """bad-recipients.t: a recipient without a key blocks the mail with RT's exact message."""
    engine = SMIME(Config(keyring=rt / "keys", passphrase="123456"))
    with pytest.raises(RecipientError) as caught:
        engine.encrypt(
            b"Subject: x\n\nbody\n", recipients=["baduser@example.com", "root@example.com"]
        )
    assert [record.message for record in caught.value.statuses] == [
        "Recipient 'baduser@example.com' is unusable, the reason is 'Key not found'"
    ]


def test_incoming_3des_and_opaque_signature_like_incoming_t(
    rt: Path, openssl: Callable[..., CompletedProcess[bytes]], engine: SMIME
) -> None:
    """incoming.t: opaque signed by root (openssl -nodetach), encrypted with -des3 to sender."""
    keys = rt / "keys"
    signed = openssl(
        "smime", "-sign", "-nodetach", "-signer", keys / "root@example.com.crt",
        "-inkey", keys / "root@example.com.key", input=b"Subject: test\n\norzzzz",
    )  # fmt: skip
    encrypted = openssl(
        "smime", "-encrypt", "-des3", "-from", "root@example.com", "-to", "sender@example.com",
        "-subject", "Encrypted message for queue", keys / "sender@example.com.crt", input=signed.stdout,
    )  # fmt: skip
    result = engine.verify_decrypt(encrypted.stdout)
    decrypt, verify = result.statuses
    assert decrypt.to_dict() | {"Cipher": None, "KeyEncryption": None, "WeakAlgorithms": None} == {
        "Operation": "Decrypt",
        "Status": "DONE",
        "Message": "Decryption process succeeded",
        "EncryptedTo": [{"EmailAddress": "sender@example.com"}],
        "Cipher": None,
        "KeyEncryption": None,
        "WeakAlgorithms": None,
        "Authenticated": False,
        "Coverage": "whole",
        "Part": "",
    }
    assert decrypt["WeakAlgorithms"] == "des-ede3-cbc"
    assert verify["Message"] == (
        'The signature is good, signed by "Enoch Root" <root@example.com>, '
        f"assured by {CA_OWNER}, trust is full"
    )
    assert (verify["Serial"], verify["Trust"]) == ("9974010075738841110", "FULL")
    assert result.message["Subject"] == "Encrypted message for queue"
    assert b"orzzzz" in result.data


def test_separate_certs_signing_key_cannot_decrypt(
    rt: Path, tmp_path: Path, openssl: Callable[..., CompletedProcess[bytes]]
) -> None:
    """separate_certs.t: with only sender@example.com.signing.pem, decryption is KeyCheck MISSING."""
    keys = rt / "keys"
    (tmp_path / "sender@example.com.signing.pem").write_bytes(
        (keys / "sender@example.com.pem").read_bytes()
    )
    engine = SMIME(Config(keyring=tmp_path, passphrase="123456"))
    encrypted = openssl(
        "smime", "-encrypt", "-des3", "-to", "sender@example.com", keys / "sender@example.com.crt",
        input=b"Subject: x\n\nthis is content",
    )  # fmt: skip
    result = engine.verify_decrypt(encrypted.stdout)
    assert [(r.operation, r.status, r.message) for r in result.statuses] == [
        ("KeyCheck", "MISSING", "Secret key is not available")
    ]
    assert result.data == encrypted.stdout
    (tmp_path / "sender@example.com.encryption.pem").write_bytes(
        (keys / "sender@example.com.pem").read_bytes()
    )
    assert b"this is content" in engine.verify_decrypt(encrypted.stdout).data


def test_lowercase_address_finds_capitalised_keyring_file_rt_bug_fixed(
    rt: Path, tmp_path: Path
) -> None:
    """RT's keyring lookup is case-sensitive (section 11.9); ours is not."""
    (tmp_path / "Sender@Example.COM.pem").write_bytes(
        (rt / "keys" / "sender@example.com.pem").read_bytes()
    )
    engine = SMIME(Config(keyring=tmp_path, passphrase="123456", accept_untrusted_cas=True))
    assert engine.sign(b"Subject: x\n\nbody\n", signer="sender@example.com").ok


def test_wrong_passphrase_is_an_error_not_an_empty_message_rt_bug_fixed(
    rt: Path, tmp_path: Path
) -> None:
    """RT signs to an empty message on a bad passphrase (section 11.6); we raise with KeyCheck.

    RT's sender-crl key is the legacy DES-EDE3 encrypted one (passphrase 123456).
    """
    from smimecore import PassphraseError

    keys = rt / "keys"
    (tmp_path / "sender-crl@example.com.pem").write_bytes(
        (keys / "sender-crl@example.com.pem").read_bytes()
        + (keys / "sender-crl@example.com.key").read_bytes()
    )
    message = b"Subject: x\n\nbody\n"
    with pytest.raises(PassphraseError) as caught:
        SMIME(Config(keyring=tmp_path, passphrase="not-123456")).sign(
            message, signer="sender-crl@example.com"
        )
    assert caught.value.statuses[0].operation == "KeyCheck"
    right = SMIME(Config(keyring=tmp_path, passphrase="123456"))
    assert right.sign(message, signer="sender-crl@example.com").ok


def test_email_message_input_is_left_untouched(engine: SMIME, rt: Path) -> None:
    """The caller's message object is never modified."""
    message = email.message_from_bytes(_mail(rt, 8), policy=email.policy.default)
    before = message.as_bytes()
    assert engine.verify_decrypt(message).ok
    assert message.as_bytes() == before

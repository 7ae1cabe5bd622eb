"""The scripts in examples/ run as a user would run them, against a local SMTP server."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives import serialization

from smimecore import SMIME
from smimecore.expert import CMSForm, encrypt_data, sign_data
from smimecore.keyring import MemoryKeyring

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PASSPHRASE = "examples-passphrase"
TESTED = {
    "make_demo_keys.py",
    "sign_and_send.py",
    "verify_incoming.py",
    "encrypt_decrypt.py",
    "decrypt_with_pkcs12.py",
    "verify_detached_cms.py",
}


def run_example(name: str, *arguments: str | Path) -> subprocess.CompletedProcess[str]:
    """Run examples/<name> with this interpreter, as `python examples/<name> ...` would."""
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *map(str, arguments)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SMIMECORE_PASSPHRASE": PASSPHRASE},
        check=False,
    )


class Inbox:
    """An aiosmtpd handler that keeps each message exactly as it arrived."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd calls it so
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, str]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield inbox, f"127.0.0.1:{controller.port}"
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("examples")
    made = run_example("make_demo_keys.py", directory)
    assert made.returncode == 0, made.stderr
    return directory


def test_every_example_is_run_here() -> None:
    assert {path.name for path in EXAMPLES.glob("*.py")} == TESTED


def test_make_demo_keys_writes_a_keyring_and_a_ca(demo: Path) -> None:
    assert sorted(path.name for path in (demo / "keyring").iterdir()) == [
        "alice@example.com.pem",
        "bob@example.com.pem",
    ]
    assert (demo / "ca.pem").read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    assert b"ENCRYPTED PRIVATE KEY" in (demo / "keyring" / "alice@example.com.pem").read_bytes()
    p12 = (demo / "bob@example.com.p12").read_bytes()
    assert MemoryKeyring.from_pkcs12(p12, PASSPHRASE).signing_identity("bob@example.com")


@pytest.fixture
def received(demo: Path, smtp_server: tuple[Inbox, str], tmp_path: Path) -> Path:
    """A mail signed and sent by sign_and_send.py, saved as the SMTP server received it."""
    inbox, address = smtp_server
    sent = run_example(
        "sign_and_send.py", "--keyring", demo / "keyring", "--from", "alice@example.com",
        "--to", "bob@example.com", "--smtp", address,
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout == f"Signed message; sent to bob@example.com via {address}\n"
    [envelope] = inbox.envelopes
    assert (envelope.mail_from, envelope.rcpt_tos) == ("alice@example.com", ["bob@example.com"])
    path = tmp_path / "received.eml"
    path.write_bytes(envelope.content)
    return path


def test_signed_mail_sent_with_smtplib_verifies_on_arrival(
    demo: Path, received: Path, tmp_path: Path
) -> None:
    unwrapped = tmp_path / "unwrapped.eml"
    checked = run_example(
        "verify_incoming.py", received, "--ca-path", demo / "ca.pem", "--out", unwrapped
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.startswith('Verify DONE: The signature is good, signed by "Alice"')
    assert "trust is full" in checked.stdout
    assert b"this message carries an S/MIME signature." in unwrapped.read_bytes()
    assert b"multipart/signed" not in unwrapped.read_bytes()


def test_verify_incoming_reports_a_tampered_mail(demo: Path, received: Path) -> None:
    received.write_bytes(received.read_bytes().replace(b"carries", b"lacks"))
    checked = run_example("verify_incoming.py", received, "--ca-path", demo / "ca.pem")
    assert checked.returncode == 1
    assert checked.stdout == "Verify BAD: The signature did not verify\n"


def test_verify_incoming_with_an_untrusted_ca(received: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    assert run_example("make_demo_keys.py", other).returncode == 0
    checked = run_example("verify_incoming.py", received, "--ca-path", other / "ca.pem")
    assert checked.returncode == 1
    assert checked.stdout == "Verify BAD: The signing CA was not trusted\n"


def test_verify_incoming_says_when_nothing_is_protected(tmp_path: Path) -> None:
    plain = tmp_path / "plain.eml"
    plain.write_bytes(b"From: a@example.com\r\nSubject: hi\r\n\r\nno signature here\r\n")
    checked = run_example("verify_incoming.py", plain)
    assert (checked.returncode, checked.stdout) == (
        1,
        "the message is neither signed nor encrypted\n",
    )


def test_encrypt_decrypt_round_trip(demo: Path) -> None:
    result = run_example(
        "encrypt_decrypt.py", "--keyring", demo / "keyring", "--to", "bob@example.com"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Encrypt DONE: Data has been encrypted",
        "Decrypt DONE: Decryption process succeeded (encrypted to [{'EmailAddress': 'bob@example.com'}])",
        "The meeting moved to Thursday.",
    ]


def test_encrypt_decrypt_to_a_recipient_without_a_certificate(demo: Path) -> None:
    result = run_example(
        "encrypt_decrypt.py", "--keyring", demo / "keyring", "--to", "carol@example.com"
    )
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines()[1:] == [
        "RecipientsCheck ERROR: Recipient 'carol@example.com' is unusable, the reason is 'Key not found'"
    ]


# -- the PKCS#12 and detached-CMS examples ---------------------------------------


def _demo_identity(demo: Path, address: str) -> tuple[object, bytes]:
    """The key and certificate of a demo keyring file (the key opened with the passphrase)."""
    keyring = MemoryKeyring()
    keyring.add_pem((demo / "keyring" / f"{address}.pem").read_bytes(), PASSPHRASE)
    identity = keyring.signing_identity(address)
    return identity.key, identity.certificate.public_bytes(serialization.Encoding.PEM)


def test_decrypt_a_mail_with_pkcs12(demo: Path, tmp_path: Path) -> None:
    _, bob_certificate = _demo_identity(demo, "bob@example.com")
    mail = b"From: alice@example.com\r\nTo: bob@example.com\r\nSubject: secret\r\n\r\nSee you.\r\n"
    encrypted = tmp_path / "encrypted.eml"
    encrypted.write_bytes(SMIME().encrypt(mail, recipients=[], certificates=[bob_certificate]).data)
    plain = tmp_path / "plain.eml"

    result = run_example(
        "decrypt_with_pkcs12.py", "--p12", demo / "bob@example.com.p12", encrypted, "--out", plain
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr == "Decrypt DONE: Decryption process succeeded\n"
    assert plain.read_bytes().startswith(b"From: alice@example.com\r\n")
    assert plain.read_bytes().endswith(b"See you.\r\n")


@pytest.mark.parametrize("outform", ["der", "pem"])
def test_decrypt_a_bare_cms_object_with_pkcs12(
    demo: Path, tmp_path: Path, outform: CMSForm
) -> None:
    _, bob_certificate = _demo_identity(demo, "bob@example.com")
    report = b"%PDF-1.7 not really\n\x00\xff"
    envelope, plain = tmp_path / "report.pdf.p7m", tmp_path / "report.pdf"
    envelope.write_bytes(encrypt_data(report, [bob_certificate], outform=outform))

    result = run_example(
        "decrypt_with_pkcs12.py", "--p12", demo / "bob@example.com.p12", envelope, "--out", plain
    )

    assert result.returncode == 0, result.stderr
    assert plain.read_bytes() == report


def test_decrypt_with_pkcs12_for_someone_else(demo: Path, tmp_path: Path) -> None:
    _, alice_certificate = _demo_identity(demo, "alice@example.com")
    envelope = tmp_path / "for-alice.p7m"
    envelope.write_bytes(encrypt_data(b"not for Bob", [alice_certificate]))
    result = run_example("decrypt_with_pkcs12.py", "--p12", demo / "bob@example.com.p12", envelope)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("not decrypted: ")


@pytest.fixture
def signed_report(demo: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A file and Alice's detached signature over it."""
    key, certificate = _demo_identity(demo, "alice@example.com")
    report = tmp_path / "report.pdf"
    report.write_bytes(b"%PDF-1.7\nquarterly figures\n\x00\x01")
    signature = tmp_path / "report.pdf.p7s"
    signature.write_bytes(sign_data(report.read_bytes(), key, certificate))
    return report, signature


def test_verify_detached_cms(demo: Path, signed_report: tuple[Path, Path]) -> None:
    report, signature = signed_report
    result = run_example("verify_detached_cms.py", "--ca-path", demo / "ca.pem", report, signature)
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(
        r'signature 1: good, by "Alice" <alice@example.com> on \d{4}-\d\d-\d\d \d\d:\d\d UTC, '
        r"trusted; rsassa_pkcs1v15 with sha256\n",
        result.stdout,
    )


def test_verify_detached_cms_of_a_changed_file(
    demo: Path, signed_report: tuple[Path, Path]
) -> None:
    report, signature = signed_report
    report.write_bytes(report.read_bytes() + b"appended")
    result = run_example("verify_detached_cms.py", "--ca-path", demo / "ca.pem", report, signature)
    assert (result.returncode, result.stdout) == (
        1,
        "signature 1: the file is not the one signed\n",
    )


def test_verify_detached_cms_without_a_trusted_ca(signed_report: tuple[Path, Path]) -> None:
    report, signature = signed_report
    result = run_example("verify_detached_cms.py", report, signature)
    assert result.returncode == 1
    assert "NOT trusted (no-ca-path)" in result.stdout


def test_verify_detached_cms_of_something_else(tmp_path: Path) -> None:
    report = tmp_path / "report.txt"
    report.write_bytes(b"hello")
    result = run_example("verify_detached_cms.py", report, report)
    assert result.returncode == 1
    assert result.stderr == (
        "cannot verify: not a CMS object (DER, BER or PEM); a MIME message is read by SMIME, "
        "not here\n"
    )

"""The command as a new user (or an attacker) meets it: no traceback, outputs all or nothing.

Ctrl-C, errors nobody foresaw, unwritable outputs, non-certificates,
random bytes to sign, plain mail to ``process``, and the reason a signer
was not trusted in the one-line summary.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from smimecore.cli.main import main
from smimecore.cli.summary import TRUST_HINTS, failure_line
from smimecore.engine.smime import SMIME
from smimecore.engine.status import StatusRecord
from smimecore.trust.validate import REASONS
from tests.conftest import PASSPHRASE, SAMPLE_MESSAGE, vector_path

SIGNER = "rsa2048@test.example"
RANDOM_BYTES = bytes((index * 73 + 41) % 256 for index in range(600))  # no empty line, a ':'


def _globals(pki_dir: Path, *extra: str) -> list[str]:
    return ["--keyring", str(pki_dir / "keyring"), "--passphrase", PASSPHRASE, *extra]


def _signed(pki_dir: Path, tmp_path: Path) -> Path:
    source, signed = tmp_path / "message.eml", tmp_path / "signed.eml"
    source.write_bytes(SAMPLE_MESSAGE)
    assert main([*_globals(pki_dir), "sign", "--signer", SIGNER, "--in", str(source),
                 "--out", str(signed)]) == 0  # fmt: skip
    return signed


def _reading_stdin(process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Wait until ``process`` is blocked in read(0, ...) (Linux: /proc/PID/syscall), or a while."""
    deadline = time.monotonic() + timeout
    syscall = Path(f"/proc/{process.pid}/syscall")
    while time.monotonic() < deadline:
        try:
            fields = syscall.read_text().split()
        except OSError:
            time.sleep(3)
            return
        if fields[:2] == ["0", "0x0"]:  # x86-64 read, file descriptor 0
            return
        time.sleep(0.05)


def test_ctrl_c_while_reading_stdin_is_one_line_and_130(pki_dir: Path) -> None:
    """SIGINT to the real command while it waits on stdin: exit 130, one line, no traceback."""
    process = subprocess.Popen(
        [sys.executable, "-m", "smimecore", *_globals(pki_dir), "verify"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        _reading_stdin(process)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130
    assert stderr == b"smimecore: interrupted\n"
    assert stdout == b""


def test_an_unforeseen_error_is_one_line_and_exit_2(
    pki_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A bug (here: a RuntimeError planted in verify) is one line naming it, exit 2, nothing written."""
    signed = _signed(pki_dir, tmp_path)

    def broken(self: SMIME, message: object) -> object:
        raise RuntimeError("planted\nsecond line")

    monkeypatch.setattr(SMIME, "verify", broken)
    capsys.readouterr()
    out, status = tmp_path / "out.eml", tmp_path / "status.json"
    code = main([*_globals(pki_dir), "--status-json", str(status), "verify", "--in", str(signed),
                 "--out", str(out)])  # fmt: skip
    assert code == 2
    assert capsys.readouterr().err == "smimecore: internal error (RuntimeError): planted\n"
    assert not out.exists() and not status.exists()


def test_unwritable_status_json_leaves_no_out_file(
    pki_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--status-json in a missing directory: exit 2, and --out is neither written nor changed."""
    signed = _signed(pki_dir, tmp_path)
    out = tmp_path / "out.eml"
    out.write_bytes(b"earlier content\n")
    capsys.readouterr()
    code = main([*_globals(pki_dir, "--accept-untrusted-cas"), "--status-json",
                 str(tmp_path / "missing" / "status.json"), "verify", "--in", str(signed),
                 "--out", str(out)])  # fmt: skip
    assert code == 2
    assert out.read_bytes() == b"earlier content\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "message.eml",
        "out.eml",
        "signed.eml",
    ]
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "cannot write" in error and "status.json" in error


def test_unwritable_out_leaves_no_status_json(pki_dir: Path, tmp_path: Path) -> None:
    """The other way round: an --out that cannot be written, and no --status-json appears."""
    signed = _signed(pki_dir, tmp_path)
    status = tmp_path / "status.json"
    code = main([*_globals(pki_dir, "--accept-untrusted-cas"), "--status-json", str(status),
                 "verify", "--in", str(signed), "--out", str(tmp_path / "missing" / "o.eml")])  # fmt: skip
    assert code == 2
    assert not status.exists()


def test_bad_verify_writes_its_status_json_but_no_out(pki_dir: Path, tmp_path: Path) -> None:
    """Exit 1 writes the records (they say why) and nothing else."""
    signed = _signed(pki_dir, tmp_path)
    signed.write_bytes(signed.read_bytes().replace(b"Second line", b"Second LINE"))
    out, status = tmp_path / "out.eml", tmp_path / "status.json"
    code = main([*_globals(pki_dir, "--accept-untrusted-cas"), "--status-json", str(status),
                 "verify", "--in", str(signed), "--out", str(out)])  # fmt: skip
    assert code == 1
    assert json.loads(status.read_text())[0]["Status"] == "BAD"
    assert not out.exists()


def test_out_keeps_the_mode_of_the_file_it_replaces_and_dev_null_works(
    pki_dir: Path, tmp_path: Path
) -> None:
    """The rename keeps an existing file's permissions; a device is written, not replaced."""
    signed = _signed(pki_dir, tmp_path)
    out = tmp_path / "out.eml"
    out.write_bytes(b"")
    out.chmod(0o640)
    arguments = [*_globals(pki_dir, "--accept-untrusted-cas"), "verify", "--in", str(signed)]
    assert main([*arguments, "--out", str(out)]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o640 and b"this is the body" in out.read_bytes()
    assert main([*arguments, "--out", os.devnull]) == 0
    assert Path(os.devnull).is_char_device()


def test_out_through_a_symbolic_link_replaces_the_target(pki_dir: Path, tmp_path: Path) -> None:
    """A link stays a link: the file it points to gets the output."""
    signed = _signed(pki_dir, tmp_path)
    real, link = tmp_path / "real.eml", tmp_path / "link.eml"
    real.write_bytes(b"old\n")
    link.symlink_to(real)
    assert main([*_globals(pki_dir, "--accept-untrusted-cas"), "verify", "--in", str(signed),
                 "--out", str(link)]) == 0  # fmt: skip
    assert link.is_symlink() and b"this is the body" in real.read_bytes()


def test_info_of_a_non_certificate_speaks_our_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """info FILE of a mail: 'not an X.509 certificate: ...', no ParseError internals, exit 1."""
    mail = tmp_path / "mail.eml"
    mail.write_bytes(SAMPLE_MESSAGE)
    assert main(["info", str(mail)]) == 1
    error = capsys.readouterr().err
    assert error.startswith("smimecore: not an X.509 certificate: ") and error.count("\n") == 1
    assert "ParseError" not in error and "Tag {" not in error


def test_encrypt_cert_of_a_non_certificate_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--cert FILE that holds no certificate is a usage error naming FILE, before stdin is read."""
    mail = tmp_path / "mail.eml"
    mail.write_bytes(SAMPLE_MESSAGE)
    assert main(["encrypt", "--cert", str(mail), "--in", str(mail)]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"smimecore: --cert {mail}: not an X.509 certificate: ")
    assert "ParseError" not in error
    empty = tmp_path / "empty.pem"
    empty.write_bytes(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    assert main(["encrypt", "--cert", str(empty), "--in", str(mail)]) == 2
    assert capsys.readouterr().err == f"smimecore: --cert {empty}: no certificate in it\n"


@pytest.mark.parametrize("command", ["sign", "encrypt"])
def test_sign_and_encrypt_refuse_random_bytes(
    pki_dir: Path, tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bytes whose 'header lines' are not fields: exit 1, one line saying so, nothing written."""
    source, out = tmp_path / "random.bin", tmp_path / "out.eml"
    source.write_bytes(RANDOM_BYTES)
    chosen = ["--signer", SIGNER] if command == "sign" else ["--recipient", SIGNER]
    code = main([*_globals(pki_dir), command, *chosen, "--in", str(source), "--out", str(out)])
    assert code == 1
    error = capsys.readouterr().err
    assert error.startswith("smimecore: the message's header section is not RFC 5322: line 1 ")
    assert error.count("\n") == 1 and not out.exists()


def test_process_of_plain_mail_exits_1_and_says_why(
    pki_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Like Result.ok (False without records): exit 1, '[]' in the status JSON, no --out."""
    source, out, status = tmp_path / "plain.eml", tmp_path / "out.eml", tmp_path / "status.json"
    source.write_bytes(SAMPLE_MESSAGE)
    code = main([*_globals(pki_dir), "--status-json", str(status), "process", "--in", str(source),
                 "--out", str(out)])  # fmt: skip
    assert code == 1
    assert capsys.readouterr().err == "smimecore: nothing in the message is signed or encrypted\n"
    assert json.loads(status.read_text()) == [] and not out.exists()


@pytest.mark.vectors
def test_weak_ca_key_is_named_in_the_summary(tmp_path: Path) -> None:
    """RT's mail under RT's 1024-bit demoCA: the reason and the option, on the one line."""
    rt = vector_path("request-tracker")
    done = subprocess.run(
        [sys.executable, "-m", "smimecore", "--keyring", str(rt / "keys"), "--passphrase", "123456",
         "--ca-path", str(rt / "keys" / "demoCA" / "cacert.pem"), "verify",
         "--in", str(rt / "mails" / "1-signed.eml")],
        capture_output=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1 and done.stdout == b""
    assert done.stderr == (
        b"smimecore: Verify BAD: The signing CA was not trusted (the CA key is RSA-1024, below the"
        b" 2048-bit minimum; --allow-weak-algorithms accepts it)\n"
    )


@pytest.mark.vectors
def test_verify_of_incoming_mail_stays_lenient() -> None:
    """The header-section check is for what we protect: RT's mail with a mbox line still verifies."""
    from smimecore import Config

    rt = vector_path("request-tracker")
    mail = (
        b"From sender@example.com Tue Aug 29 10:00:00 2023\n"
        + (rt / "mails" / "1-signed.eml").read_bytes()
    )
    result = SMIME(Config(accept_untrusted_cas=True)).verify(mail)
    assert result.ok


def test_every_trust_reason_has_a_hint() -> None:
    """The hint table covers each reason the validator gives, and RT's 'no CAPath'."""
    assert set(TRUST_HINTS) == {*REASONS, "no-ca-path"}


@pytest.mark.parametrize(
    ("reason", "detail", "hint"),
    [
        ("weak-algorithm", "the RSA key of 'Common Name: Old CA' has 1024 bits; at least 2048 are required",
         "the key of 'Common Name: Old CA' is RSA-1024, below the 2048-bit minimum; --allow-weak-algorithms accepts it"),
        ("weak-algorithm", "... uses the disallowed signature mechanism sha1_rsa. Reason: ...",
         "a certificate of the chain is signed with sha1_rsa; --allow-weak-algorithms accepts it"),
        ("expired", "The path could not be validated because the end-entity certificate expired 2014-11-01 23:59:59Z",
         "the end-entity certificate expired 2014-11-01 23:59:59Z; --validation-time signing checks it at the signing time"),
        ("key-usage", "keyUsage allows none of digital_signature, non_repudiation (needed for signing)",
         "the certificate may not be used for this: keyUsage allows none of digital_signature, non_repudiation (needed for signing)"),
        ("no-path", "", "no chain of certificates leads to a CA of --ca-path; --accept-untrusted-cas accepts the signature as untrusted"),
        ("something-new", "", "trust reason something-new"),
    ],
)  # fmt: skip
def test_failure_line_names_the_reason(reason: str, detail: str, hint: str) -> None:
    """Each reason in words, from the record's TrustReason and TrustDetail."""
    record = StatusRecord("Verify", "BAD", "The signing CA was not trusted", TrustReason=reason,
                          TrustDetail=detail)  # fmt: skip
    assert failure_line(record) == f"smimecore: Verify BAD: The signing CA was not trusted ({hint})"


def test_failure_line_without_a_reason_is_the_message() -> None:
    """No TrustReason: operation, status and message only."""
    record = StatusRecord("Verify", "BAD", "The signature did not verify\n(twice)")
    assert failure_line(record) == "smimecore: Verify BAD: The signature did not verify (twice)"


# -- the engine's part (the lead's): the CLI's view of it, waiting for the engine change ----


def test_missing_passphrase_is_its_own_record(pki_dir: Path, tmp_path: Path) -> None:
    """No passphrase configured for an encrypted key: the record says so (not 'Bad passphrase')."""
    source, status = tmp_path / "message.eml", tmp_path / "status.json"
    source.write_bytes(SAMPLE_MESSAGE)
    code = main(["--keyring", str(pki_dir / "keyring"), "--status-json", str(status), "sign",
                 "--signer", SIGNER, "--in", str(source)])  # fmt: skip
    assert code == 1
    (record,) = json.loads(status.read_text())
    assert record["Message"].startswith(f"No passphrase for the secret key of {SIGNER}")


def test_nesting_beyond_the_limit_has_an_error_record(pki_dir: Path, tmp_path: Path) -> None:
    """MIME nested past the limit: exit 1 with an ERROR record in the status JSON (not '[]')."""
    signed = _signed(pki_dir, tmp_path).read_bytes()
    nested = signed
    for depth in range(80):
        boundary = f"b{depth}".encode()
        nested = (b"Content-Type: multipart/mixed; boundary=" + boundary + b"\n\n--" + boundary
                  + b"\n" + nested + b"\n--" + boundary + b"--\n")  # fmt: skip
    source, status = tmp_path / "nested.eml", tmp_path / "status.json"
    source.write_bytes(b"From: a@example.com\n" + nested)
    code = main([*_globals(pki_dir), "--status-json", str(status), "process", "--in", str(source)])
    assert code == 1
    records = json.loads(status.read_text())
    assert records and records[-1]["Status"] == "ERROR"

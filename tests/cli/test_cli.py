"""The smimecore command: its contract names, exit statuses, status JSON and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from smimecore.cli.main import main
from tests.conftest import PASSPHRASE, SAMPLE_MESSAGE

SIGNER = "rsa2048@test.example"


@pytest.fixture
def message_file(tmp_path: Path) -> Path:
    """The sample message on disk."""
    path = tmp_path / "message.eml"
    path.write_bytes(SAMPLE_MESSAGE)
    return path


def _globals(pki_dir: Path, *extra: str) -> list[str]:
    return ["--keyring", str(pki_dir / "keyring"), "--passphrase", PASSPHRASE, *extra]


def _run(*arguments: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "smimecore", *arguments],
        input=stdin,
        capture_output=True,
        check=False,
        timeout=120,
    )


def test_sign_then_verify_with_files_and_status_json(
    pki_dir: Path, message_file: Path, tmp_path: Path
) -> None:
    """sign --in/--out then verify --in/--out; status JSON uses RT's field names."""
    signed, verified = tmp_path / "signed.eml", tmp_path / "verified.eml"
    status = tmp_path / "status.json"
    assert main([*_globals(pki_dir), "--status-json", str(status), "sign", "--signer", SIGNER,
                 "--in", str(message_file), "--out", str(signed)]) == 0  # fmt: skip
    assert json.loads(status.read_text()) == [
        {"Operation": "Sign", "Status": "DONE", "Message": "Signed message"}
    ]
    assert main([*_globals(pki_dir, "--accept-untrusted-cas"), "--status-json", str(status),
                 "verify", "--in", str(signed), "--out", str(verified)]) == 0  # fmt: skip
    (record,) = json.loads(status.read_text())
    assert record["Operation"] == "Verify" and record["Status"] == "DONE"
    assert record["Trust"] == "UNKNOWN" and record["UserString"].endswith("<rsa2048@test.example>")
    assert b"this is the body" in verified.read_bytes()


def test_untrusted_signature_exits_1_without_output(
    pki_dir: Path, message_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """BAD 'The signing CA was not trusted' exits 1, writes no output, says one line on stderr."""
    signed, out = tmp_path / "signed.eml", tmp_path / "out.eml"
    status = tmp_path / "status.json"
    main(
        [
            *_globals(pki_dir),
            "sign",
            "--signer",
            SIGNER,
            "--in",
            str(message_file),
            "--out",
            str(signed),
        ]
    )
    capsys.readouterr()
    code = main(
        [
            *_globals(pki_dir),
            "--status-json",
            str(status),
            "verify",
            "--in",
            str(signed),
            "--out",
            str(out),
        ]
    )
    assert code == 1
    assert not out.exists()
    (record,) = json.loads(status.read_text())
    assert (record["Status"], record["Message"], record["Trust"]) == (
        "BAD",
        "The signing CA was not trusted",
        "NONE",
    )
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "The signing CA was not trusted" in error


def test_tampered_message_exits_1(pki_dir: Path, message_file: Path, tmp_path: Path) -> None:
    """A changed body gives Verify BAD 'The signature did not verify' and exit status 1."""
    signed = tmp_path / "signed.eml"
    status = tmp_path / "status.json"
    main(
        [
            *_globals(pki_dir),
            "sign",
            "--signer",
            SIGNER,
            "--in",
            str(message_file),
            "--out",
            str(signed),
        ]
    )
    signed.write_bytes(signed.read_bytes().replace(b"Second line", b"Second LINE"))
    assert main([*_globals(pki_dir, "--accept-untrusted-cas"), "--status-json", str(status),
                 "verify", "--in", str(signed)]) == 1  # fmt: skip
    assert json.loads(status.read_text())[0]["Message"] == "The signature did not verify"


def test_wrong_passphrase_is_keycheck_and_exit_1(
    pki_dir: Path, message_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A wrong passphrase: KeyCheck record, exit status 1, no output, no traceback."""
    status, out = tmp_path / "status.json", tmp_path / "out.eml"
    code = main(["--keyring", str(pki_dir / "keyring"), "--passphrase", "wrong-one", "--status-json",
                 str(status), "sign", "--signer", SIGNER, "--in", str(message_file), "--out", str(out)])  # fmt: skip
    assert code == 1
    assert not out.exists()
    (record,) = json.loads(status.read_text())
    assert record["Operation"] == "KeyCheck" and record["Status"] == "ERROR"
    error = capsys.readouterr().err
    assert "Traceback" not in error and error.count("\n") == 1 and "wrong-one" not in error


def test_missing_key_is_keycheck_missing(pki_dir: Path, message_file: Path, tmp_path: Path) -> None:
    """An address without a keyring file: KeyCheck MISSING and exit status 1."""
    status = tmp_path / "status.json"
    code = main([*_globals(pki_dir), "--status-json", str(status), "sign", "--signer",
                 "nobody@test.example", "--in", str(message_file)])  # fmt: skip
    assert code == 1
    assert json.loads(status.read_text())[0]["Status"] == "MISSING"


def test_configuration_error_exits_2(
    tmp_path: Path, message_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A keyring that does not exist is a configuration error: exit 2, one line naming the option."""
    code = main(
        [
            "--keyring",
            str(tmp_path / "missing"),
            "sign",
            "--signer",
            SIGNER,
            "--in",
            str(message_file),
        ]
    )
    assert code == 2
    error = capsys.readouterr().err
    assert "keyring" in error and error.count("\n") == 1


def test_usage_errors_exit_2() -> None:
    """No command, or an unknown option, is a usage error (exit 2)."""
    assert _run().returncode == 2
    assert _run("sign", "--no-such-option").returncode == 2


def test_global_options_after_the_command(
    pki_dir: Path, message_file: Path, tmp_path: Path
) -> None:
    """--keyring and friends work after the command too."""
    out = tmp_path / "out.eml"
    assert (
        main(
            [
                "sign",
                *_globals(pki_dir),
                "--signer",
                SIGNER,
                "--in",
                str(message_file),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert b"multipart/signed" in out.read_bytes()


def test_config_file(pki_dir: Path, message_file: Path, tmp_path: Path) -> None:
    """--config reads the [smime] table; command-line options override it."""
    config = tmp_path / "smime.toml"
    config.write_text(f'[smime]\nkeyring = "{pki_dir / "keyring"}"\npassphrase = "{PASSPHRASE}"\n')
    out = tmp_path / "out.eml"
    assert main(["--config", str(config), "sign", "--signer", SIGNER, "--opaque", "--digest", "sha512",
                 "--in", str(message_file), "--out", str(out)]) == 0  # fmt: skip
    assert b"smime-type=signed-data" in out.read_bytes()


def test_stdin_to_stdout_through_the_real_command(pki_dir: Path) -> None:
    """python -m smimecore reads stdin and writes stdout by default; the pipeline verifies."""
    signed = _run(*_globals(pki_dir), "sign", "--signer", SIGNER, stdin=SAMPLE_MESSAGE)
    assert signed.returncode == 0, signed.stderr
    verified = _run(*_globals(pki_dir, "--accept-untrusted-cas"), "verify", stdin=signed.stdout)
    assert verified.returncode == 0, verified.stderr
    assert b"this is the body" in verified.stdout


def test_not_signed_input_exits_1_with_one_line(pki_dir: Path) -> None:
    """Verifying a plain message: ERROR, exit 1, one line on stderr, no traceback."""
    result = _run(*_globals(pki_dir), "verify", stdin=SAMPLE_MESSAGE)
    assert result.returncode == 1
    assert result.stderr.count(b"\n") == 1 and b"Traceback" not in result.stderr


def test_demo_runs() -> None:
    """smimecore demo makes a throwaway PKI and every step behaves."""
    result = _run("demo")
    assert result.returncode == 0, result.stderr
    assert b"every step behaved as expected" in result.stdout


PKITS_POLICY_1 = "2.16.840.1.101.3.2.1.48.1"
PKITS_POLICY_2 = "2.16.840.1.101.3.2.1.48.2"


def _pkits_verify(
    *extra: str, message: str = "SignedAllCertificatesSamePolicyTest1.eml"
) -> tuple[int, dict[str, object]]:
    from tests.conftest import vector_path

    pkits = vector_path("nist-pkits")
    with tempfile.TemporaryDirectory() as scratch:
        status = Path(scratch) / "status.json"
        code = main(
            [
                "--ca-path", str(pkits / "certs" / "TrustAnchorRootCertificate.crt"),
                "--status-json", str(status),
                "verify",
                "--crl-path", str(pkits / "crls"),
                "--revocation-mode", "require",
                "--validation-time", "2011-04-15T12:00:00+00:00",
                "--allow-weak-algorithms",
                *extra,
                "--in", str(pkits / "smime" / message),
                "--out", os.devnull,
            ]
        )  # fmt: skip
        return code, json.loads(status.read_text())[0]


@pytest.mark.vectors
def test_trust_options_pkits_policy_inputs() -> None:
    """PKITS 4.8.1: valid under NIST-test-policy-1 with explicit policy, invalid under policy 2."""
    code, record = _pkits_verify("--require-explicit-policy", "--initial-policy", PKITS_POLICY_1)
    assert code == 0 and record["Trust"] == "FULL"
    code, record = _pkits_verify("--require-explicit-policy", "--initial-policy", PKITS_POLICY_2)
    assert code == 1 and record["Message"] == "The signing CA was not trusted"


@pytest.mark.vectors
def test_trust_options_missing_crl_fails_when_required() -> None:
    """PKITS 4.4.1 (no CRL for the CA) is untrusted with --revocation-mode require."""
    code, record = _pkits_verify(message="SignedMissingCRLTest1.eml")
    assert code == 1
    assert record["TrustReason"] == "revocation-unavailable"


def test_bad_validation_time_is_a_configuration_error(
    pki_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--validation-time must be now, signing or ISO-8601."""
    assert main(["verify", "--validation-time", "last tuesday", "--in", os.devnull]) == 2
    assert "validation_time" in capsys.readouterr().err

"""The ``scan`` command: its options, exit statuses, progress output and summary."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from smimecore.cli.main import main
from tests.conftest import PASSPHRASE, SAMPLE_MESSAGE
from tests.scan.test_scan_vectors import run_cli
from tests.scan_corpus import plain


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "mail"
    root.mkdir()
    for number in range(5):
        (root / f"{number}.eml").write_bytes(plain(number, 2020 + number))
    return root


def test_plain_folder_exits_0_with_a_summary(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scan", str(folder), "--quiet", "--jobs", "1"]) == 0
    captured = capsys.readouterr()
    assert captured.out == (
        "scanned: 5 messages, 0 signed, 0 verified, 0 trusted, 0 encrypted, 0 decrypted, 0 failed\n"
    )
    assert captured.err == ""


def test_signed_and_tampered_mail_exits_1_and_names_the_reason(
    pki_dir: Path, smime: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signed = smime.sign(SAMPLE_MESSAGE, signer="rsa2048@test.example").data  # type: ignore[attr-defined]
    (tmp_path / "good.eml").write_bytes(signed)
    (tmp_path / "bad.eml").write_bytes(signed.replace(b"Second line", b"Second lime"))
    report = tmp_path / "r.jsonl"
    status = main(["--keyring", str(pki_dir / "keyring"), "--passphrase", PASSPHRASE,
                   "--ca-path", str(pki_dir / "ca.pem"), "scan", str(tmp_path), "--quiet",
                   "--report", str(report)])  # fmt: skip
    out = capsys.readouterr().out.splitlines()
    assert status == 1
    assert out[0].startswith("scanned: 2 messages, 2 signed, 1 verified, 1 trusted")
    assert out[1] == "  1 Verify BAD: The signature did not verify"


def test_global_options_may_follow_the_command(pki_dir: Path, folder: Path) -> None:
    assert main(["scan", "--keyring", str(pki_dir / "keyring"), str(folder), "--quiet"]) == 0


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["scan", "/nonexistent/mail"], "no such file or directory"),
        (["scan", "{folder}", "--report", "{folder}/r.pdf"], "extension must be one of"),
        (["scan", "{folder}", "--resume"], "--resume needs --results DB"),
        (["scan"], "nothing to scan"),
        (
            ["--keyring", "/nonexistent", "scan", "{folder}"],
            "configuration error: configuration option 'keyring'",
        ),
    ],
)
def test_usage_errors_exit_2(
    folder: Path, arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([a.format(folder=folder) for a in arguments]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


@pytest.mark.parametrize("option", [["--jobs", "0"], ["--timeout", "0"], ["--timeout", "soon"]])
def test_bad_numbers_are_usage_errors(folder: Path, option: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["scan", str(folder), *option])
    assert exit_.value.code == 2


def test_progress_lines_when_stderr_is_not_a_terminal(folder: Path) -> None:
    done = run_cli("scan", str(folder), "--jobs", "1")
    assert done.returncode == 0
    assert done.stderr.splitlines() == [
        "scan: 5 messages, 0 already scanned",
        done.stderr.splitlines()[-1],
    ]
    assert done.stderr.splitlines()[-1].startswith("scan: 5 of 5 messages (100%), ")
    assert done.stderr.splitlines()[-1].endswith(" msg/s")


def test_quiet_shows_no_progress(folder: Path) -> None:
    done = run_cli("scan", str(folder), "--quiet")
    assert done.returncode == 0 and done.stderr == "" and done.stdout.startswith("scanned: 5")


def test_progress_bar_with_rate_and_eta_on_a_terminal(folder: Path) -> None:
    """On a terminal stderr gets tqdm's bar: count, elapsed<remaining, rate."""
    pytest.importorskip("tqdm")
    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "smimecore", "scan", str(folder), "--jobs", "1"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=follower,
            env={**os.environ, "COLUMNS": "100"},
        )
        os.close(follower)
        follower = -1
        output = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed: the process is done
                break
            if not chunk:
                break
            output += chunk
        assert process.wait(timeout=120) == 0
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)
    text = output.decode(errors="replace")
    assert "5/5" in text and "msg/s" in text and "<" in text and "100%" in text


def test_empty_folder_gives_empty_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = [tmp_path / name for name in ("r.jsonl", "r.csv", "r.html")]
    (tmp_path / "mail").mkdir()
    arguments = ["scan", str(tmp_path / "mail"), "--quiet"]
    for report in reports:
        arguments += ["--report", str(report)]
    assert main(arguments) == 0
    assert capsys.readouterr().out.startswith("scanned: 0 messages")
    assert reports[0].read_text() == ""
    assert reports[1].read_text().startswith("source,file,index")
    assert 'data-count="messages">0<' in reports[2].read_text()

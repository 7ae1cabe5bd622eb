"""``--results DB`` and ``--resume``: a scan killed in the middle goes on where it stopped and
ends with the same reports as a scan that was never interrupted."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import vector_path
from tests.scan.test_scan_vectors import run_cli
from tests.scan_corpus import SCAN_OPTIONS, cli_options, plain

pytestmark = pytest.mark.vectors

REPORTS = ("report.jsonl", "report.csv", "report.html")
MESSAGES = 1200


@pytest.fixture(scope="module")
def rt() -> Path:
    return vector_path("request-tracker")


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, rt: Path) -> Path:
    """An mbox of RT's mails and plain ones, long enough to be killed in the middle of."""
    root = tmp_path_factory.mktemp("resume-archive")
    mails = [path.read_bytes() for path in sorted((rt / "mails").glob("*.eml"))]
    mails.append(plain(1, 2024))
    with open(root / "big.mbox", "wb") as stream:
        for number in range(MESSAGES):
            stream.write(b"From sender@example.com Tue Aug 29 19:29:53 2023\n")
            stream.write(mails[number % len(mails)].rstrip(b"\n") + b"\n\n")
    (root / "eml").mkdir()
    (root / "eml" / "last.eml").write_bytes(plain(2, 2024))
    return root


def _scan_arguments(rt: Path, out: Path, *extra: str) -> list[str]:
    reports = [item for name in REPORTS for item in ("--report", str(out / name))]
    return [*cli_options(rt), "scan", *SCAN_OPTIONS, *reports, "--results", str(out / "db"), *extra]


@pytest.fixture(scope="module")
def uninterrupted(archive: Path, rt: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("uninterrupted")
    done = run_cli(*_scan_arguments(rt, out, str(archive), "--jobs", "2"))
    assert done.returncode == 0, done.stderr
    return out


def _results_in(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as connection:
            return int(connection.execute("SELECT COUNT(*) FROM results").fetchone()[0])
    except sqlite3.Error:
        return 0  # not created yet


def _kill_in_the_middle(
    arguments: list[str], db: Path, signum: int
) -> subprocess.CompletedProcess[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "smimecore", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    deadline = time.monotonic() + 120
    while _results_in(db) < 50 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.poll() is None, "the scan ended before it could be interrupted"
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=60)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_resume_after_a_kill_gives_the_same_reports(
    archive: Path, rt: Path, uninterrupted: Path, tmp_path: Path, signum: int
) -> None:
    arguments = _scan_arguments(rt, tmp_path, str(archive), "--jobs", "1")
    killed = _kill_in_the_middle(arguments, tmp_path / "db", signum)
    kept = _results_in(tmp_path / "db")
    assert 0 < kept < MESSAGES + 1
    if signum == signal.SIGTERM:
        assert killed.returncode == 130
        assert "--resume goes on" in killed.stderr and "Traceback" not in killed.stderr
    else:
        assert killed.returncode == -signal.SIGKILL
    resumed = run_cli(
        *_scan_arguments(rt, tmp_path, "--resume", "--jobs", "2")
    )  # paths from the db
    assert resumed.returncode == 0, resumed.stderr
    assert f"{kept:,} already scanned" in resumed.stderr  # only the rest was scanned again
    for name in REPORTS:
        assert (tmp_path / name).read_bytes() == (uninterrupted / name).read_bytes(), name
    assert resumed.stdout == run_cli(*_scan_arguments(rt, uninterrupted, "--resume")).stdout


def test_report_regenerated_from_the_database(
    uninterrupted: Path, rt: Path, tmp_path: Path
) -> None:
    """``--resume`` of a finished scan scans nothing and writes the reports again."""
    again = tmp_path / "again.html"
    done = run_cli(*cli_options(rt), "scan", "--results", str(uninterrupted / "db"), "--resume",
                   "--report", str(again))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"{MESSAGES + 1:,} messages, {MESSAGES + 1:,} already scanned" in done.stderr
    assert again.read_bytes() == (uninterrupted / "report.html").read_bytes()


def test_database_in_use_needs_resume(uninterrupted: Path, archive: Path, rt: Path) -> None:
    done = run_cli(*cli_options(rt), "scan", str(archive), "--results", str(uninterrupted / "db"))
    assert done.returncode == 2 and "already holds a scan" in done.stderr
    other = run_cli(*cli_options(rt), "scan", str(archive / "eml"), "--results",
                    str(uninterrupted / "db"), "--resume")  # fmt: skip
    assert other.returncode == 2 and "other paths" in other.stderr


def test_resume_refuses_an_mbox_that_changed(archive: Path, rt: Path, tmp_path: Path) -> None:
    """The index's offsets would be wrong: the scan says so instead of reading garbage."""
    mbox = tmp_path / "box.mbox"
    mbox.write_bytes(b"From a\nSubject: one\n\nbody\n")
    db = tmp_path / "db"
    assert run_cli("scan", str(mbox), "--results", str(db), "--quiet").returncode == 0
    with open(mbox, "ab") as stream:
        stream.write(b"\nFrom b\nSubject: two\n\nbody\n")
    done = run_cli("scan", "--results", str(db), "--resume", "--quiet")
    assert done.returncode == 2 and "changed since the scan began" in done.stderr


def test_not_a_scan_database(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE t (x)")
    done = run_cli("scan", str(tmp_path), "--results", str(other))
    assert done.returncode == 2 and "something else than a scan" in done.stderr
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not sqlite at all" * 100)
    done = run_cli("scan", str(tmp_path), "--results", str(garbage))
    assert done.returncode == 2 and "not a usable scan database" in done.stderr

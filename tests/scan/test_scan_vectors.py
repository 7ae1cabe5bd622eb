"""``smimecore scan`` over an archive made from the vectors: every message's result is what
``verify_decrypt`` says of it, in every report format, and the HTML report renders in Chromium."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from smimecore.scan.pool import LocalPool
from smimecore.scan.sources import find_messages
from smimecore.scan.summary import Tally
from smimecore.scan.worker import Batch, ScanSpec, scan_location
from tests.conftest import REQUIRE_VECTORS, vector_path
from tests.scan_corpus import (
    SCAN_OPTIONS,
    Archive,
    build_archive,
    cli_options,
    expected_outcome,
    rt_config,
    stored_messages,
)

pytestmark = [pytest.mark.vectors, pytest.mark.interop]


def run_cli(*arguments: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``python -m smimecore ARGUMENTS`` (stderr is a pipe: plain progress lines)."""
    return subprocess.run(
        [sys.executable, "-m", "smimecore", *arguments],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def rt() -> Path:
    return vector_path("request-tracker")


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, rt: Path, openssl: Any) -> Archive:
    thunderbird = vector_path("mimekit", "thunderbird-signed.txt")
    return build_archive(tmp_path_factory.mktemp("archive"), rt, thunderbird, openssl)


@pytest.fixture(scope="module")
def scanned(archive: Archive, rt: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reports of one scan of the whole archive with two worker processes."""
    out = tmp_path_factory.mktemp("reports")
    before = _fingerprint(archive.root)
    done = run_cli(
        *cli_options(rt), "scan", *SCAN_OPTIONS, str(archive.root), "--jobs", "2",
        "--report", str(out / "report.jsonl"), "--report", str(out / "report.csv"),
        "--report", str(out / "report.html"), "--results", str(out / "results.db"),
    )  # fmt: skip
    assert done.returncode == 1, done.stderr  # some messages fail: exit status 1
    assert _fingerprint(archive.root) == before, "the scan changed the archive"
    (out / "stdout.txt").write_text(done.stdout)
    (out / "stderr.txt").write_text(done.stderr)
    return out


def _fingerprint(root: Path) -> dict[str, tuple[str, int]]:
    return {
        str(path): (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _rows(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "report.jsonl").read_text().splitlines()]


def test_every_message_is_found_once(archive: Archive, scanned: Path) -> None:
    """mbox, gzip mbox, Maildir cur/ and new/, nested .eml: all found, tmp/ and notes.txt not."""
    sources = [row["source"] for row in _rows(scanned)]
    assert sorted(sources) == sorted(source for source, _ in stored_messages(archive))
    assert len(sources) == len(set(sources)) == 27
    assert not any("half-delivered" in s or "notes.txt" in s for s in sources)
    kinds = Counter(row["location"]["kind"] for row in _rows(scanned))
    assert kinds == {"mbox": 12, "maildir": 5, "eml": 10}


def test_outcomes_equal_verify_decrypt_on_each_message(
    archive: Archive, scanned: Path, rt: Path
) -> None:
    """The report's records and ok, message by message, are verify_decrypt's."""
    config = rt_config(rt)
    rows = {row["source"]: row for row in _rows(scanned)}
    for source, data in stored_messages(archive):
        expected = expected_outcome(config, data)
        row = rows[source]
        assert row["statuses"] == expected["statuses"], source
        assert row["ok"] is expected["ok"], source


def test_classification_of_known_messages(archive: Archive, scanned: Path) -> None:
    """RT's signed mails are trusted, its encrypted ones decrypted; failures carry reasons."""
    rows = {row["source"]: row for row in _rows(scanned)}
    first = rows[f"{archive.mbox}#0"]  # RT 1-signed
    assert first["outcome"] == "trusted" and first["signer"] == '"sender" <sender@example.com>'
    assert first["trust"] == "FULL" and first["algorithms"] == ["sha512", "rsassa_pkcs1v15"]
    assert first["year"] == 2023 and first["message_id"].startswith("<7134873f")
    encrypted = rows[f"{archive.mbox}#3"]  # RT 4-encrypted-plain
    assert (
        encrypted["outcome"] == "decrypted" and encrypted["encrypted"] and not encrypted["signed"]
    )
    assert "aes-256-cbc" in encrypted["algorithms"]
    nested = rows[str(archive.eml / "rt-9.eml")]  # sign-then-encrypt
    assert nested["outcome"] == "trusted" and nested["decrypted"] and nested["verified"]
    thunderbird = rows[str(archive.eml / "thunderbird.eml")]
    assert thunderbird["outcome"] == "failed" and thunderbird["weak_algorithms"] == ["sha1"]
    assert thunderbird["reason"].startswith("Verify BAD: The signing CA was not trusted")
    empty = rows[str(archive.eml / "empty.eml")]  # verify_decrypt raised: no record
    assert empty["outcome"] == "failed"
    assert [(r["Operation"], r["Status"]) for r in empty["statuses"]] == [
        ("VerifyDecrypt", "ERROR")
    ]
    assert empty["reason"] == (
        "VerifyDecrypt ERROR: There was an error processing the message (MalformedMessageError)"
    )
    tampered = rows[f"{archive.mbox}#6"]
    assert tampered["reason"] == "Verify BAD: The signature did not verify"
    no_key = rows[str(archive.eml / "openssl-5.eml")]
    assert no_key["outcome"] == "failed" and no_key["encrypted"] and not no_key["decrypted"]
    formula = rows[str(archive.eml / "nested" / "formula.eml")]
    assert formula["outcome"] == "plain" and formula["from"].startswith("=HYPERLINK")
    assert rows[str(archive.eml / "nested" / "encoded-from.eml")]["from"] == (
        "Zürich <z@example.ch>"
    )
    # openssl's cleartext signature over a "From " line, quoted by the mbox: no longer verifies
    assert rows[f"{archive.mbox}#4"]["reason"] == "Verify BAD: The signature did not verify"


def test_summary_printed_matches_the_results(scanned: Path) -> None:
    rows = _rows(scanned)
    counts = {
        "messages": len(rows),
        "signed": sum(row["signed"] for row in rows),
        "trusted": sum(row["trusted"] for row in rows),
        "failed": sum(row["outcome"] in ("failed", "error") for row in rows),
    }
    first = (scanned / "stdout.txt").read_text().splitlines()[0]
    for name, count in counts.items():
        assert f"{count:,} {name}" in first
    reasons = Counter(row["reason"] for row in rows if row["reason"])
    for reason, count in reasons.items():
        assert f"  {count:,} {reason}" in (scanned / "stdout.txt").read_text()


def test_csv_holds_the_same_results(scanned: Path) -> None:
    """One CSV row per message, same order; a header field that looks like a formula is quoted."""
    with open(scanned / "report.csv", newline="", encoding="utf-8") as stream:
        table = list(csv.DictReader(stream))
    rows = _rows(scanned)
    assert [line["source"] for line in table] == [row["source"] for row in rows]
    for line, row in zip(table, rows, strict=True):
        assert line["outcome"] == row["outcome"]
        assert json.loads(line["statuses"]) == row["statuses"]
    formula = next(line for line in table if "HYPERLINK" in line["from"])
    assert formula["from"].startswith("'=HYPERLINK")


def test_jobs_do_not_change_the_results(
    archive: Archive, rt: Path, scanned: Path, tmp_path: Path
) -> None:
    """One worker gives the same report, byte for byte, as two."""
    report = tmp_path / "one.jsonl"
    done = run_cli(*cli_options(rt), "scan", *SCAN_OPTIONS, str(archive.root), "--jobs", "1",
                   "--quiet", "--report", str(report))  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert report.read_bytes() == (scanned / "report.jsonl").read_bytes()
    assert done.stderr == ""


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_parent_finishing_messages_changes_no_result(
    archive: Archive, rt: Path, jobs: int
) -> None:
    """Results are the same text whether the workers or the parent do each message's second
    round (the parent does with fewer jobs than cores), and equal scan_location's."""
    spec = ScanSpec(rt_config(rt))
    tasks = list(enumerate(find_messages([archive.root]), 1))
    alone = [scan_location(location, spec) for _, location in tasks]
    expected = {seq: result.to_json_bytes() for (seq, _), result in zip(tasks, alone, strict=True)}
    for finish_in_parent in (False, True):
        texts: dict[int, bytes] = {}
        tallies: Counter[Tally] = Counter()

        def keep(seqs: Sequence[int], batch: Batch) -> None:
            texts.update(zip(seqs, batch.texts, strict=True))  # noqa: B023 - run before the next
            tallies.update(batch.tallies)  # noqa: B023

        LocalPool(spec, jobs, finish_in_parent=finish_in_parent).run(iter(tasks), keep)
        assert texts == expected, finish_in_parent
        assert tallies == Counter(result.tally() for result in alone), finish_in_parent


# -- the HTML report in a real browser ----------------------------------------------------

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def chromium() -> str:
    binary = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    if binary is None:
        if os.environ.get("CI") or REQUIRE_VECTORS:
            pytest.fail("chromium is required for the HTML report test (.ci/run installs it)")
        pytest.skip("chromium not installed")
    return binary


def render(chromium: str, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """Open ``url`` in headless Chromium with a fresh profile."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, url],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )


class _Page(HTMLParser):
    """Collects what the test reads from the DOM Chromium dumps."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: dict[str, int] = {}
        self.rows: list[list[str]] = []
        self.body: dict[str, str | None] = {}
        self.shown = ""
        self.external: list[str] = []
        self._count: str | None = None
        self._in_body_table = False
        self._cell: list[str] | None = None
        self._in_shown = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "body":
            self.body = attributes
        if tag in ("script", "link", "img") and (attributes.get("src") or attributes.get("href")):
            self.external.append(tag)
        if tag == "td" and "data-count" in attributes:
            self._count = attributes["data-count"]
        if tag == "table" and attributes.get("id") == "messages":
            self._in_body_table = True
        if self._in_body_table and tag == "tr":
            self.rows.append([])
        if self._in_body_table and tag == "td":
            self._cell = []
        if tag == "p" and attributes.get("id") == "shown":
            self._in_shown = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None
        if tag == "table":
            self._in_body_table = False
        if tag == "p":
            self._in_shown = False

    def handle_data(self, data: str) -> None:
        if self._count is not None:
            self.counts[self._count] = int(data.replace(",", ""))
            self._count = None
        if self._cell is not None:
            self._cell.append(data)
        if self._in_shown:
            self.shown += data


def _dom(chromium: str, page: Path, fragment: str = "") -> _Page:
    done = render(chromium, page.as_uri() + fragment, "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    parsed = _Page()
    parsed.feed(done.stdout)
    return parsed


def test_html_report_renders_in_chromium(chromium: str, scanned: Path) -> None:
    """The summary shows the right counts; the script ran and the table has every message."""
    rows = _rows(scanned)
    page = _dom(chromium, scanned / "report.html")
    assert page.body.get("data-ready") == "true", "the page's script did not run"
    assert page.shown == f"{len(rows)} messages in the table"
    body_rows = [row for row in page.rows if row]  # the header row has th cells only
    assert len(body_rows) == len(rows)
    assert page.counts == {
        "messages": len(rows),
        "signed": sum(row["signed"] for row in rows),
        "verified": sum(row["verified"] for row in rows),
        "trusted": sum(row["trusted"] for row in rows),
        "encrypted": sum(row["encrypted"] for row in rows),
        "decrypted": sum(row["decrypted"] for row in rows),
        "failed": sum(row["outcome"] in ("failed", "error") for row in rows),
    }
    assert [cells[0] for cells in body_rows] == [row["source"] for row in rows]
    assert page.external == []


def test_html_table_sorts_in_chromium(chromium: str, scanned: Path) -> None:
    """``#sort=-source`` sorts the table by source, descending, when the page opens."""
    rows = _rows(scanned)
    page = _dom(chromium, scanned / "report.html", "#sort=-source")
    sources = [cells[0] for cells in page.rows if cells]
    assert sources == sorted((row["source"] for row in rows), reverse=True)
    by_outcome = _dom(chromium, scanned / "report.html", "#sort=outcome")
    outcomes = [cells[4] for cells in by_outcome.rows if cells]
    assert outcomes == sorted(outcomes)


def test_html_report_needs_no_network(scanned: Path) -> None:
    """No address to load anything from, and a policy that forbids loading."""
    html = (scanned / "report.html").read_text()
    assert "default-src 'none'" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html)


def test_html_screenshot(chromium: str, scanned: Path, tmp_path: Path) -> None:
    """Chromium draws the page (charts included) to a PNG."""
    shot = tmp_path / "report.png"
    done = render(
        chromium,
        (scanned / "report.html").as_uri(),
        f"--screenshot={shot}",
        "--window-size=1400,1800",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 20_000

"""A mail archive for the scan tests, made from the vectors: an mbox, a gzip mbox, a Maildir
and a folder of .eml files, holding RT's Thunderbird mails, MimeKit's Thunderbird message,
openssl-made signed and encrypted mail, broken mail and plain mail.

The expected outcome of every message is ``verify_decrypt`` on it, each message read back with
the standard library's ``mailbox`` (not smimecore's reader) and given a fresh engine.
"""

from __future__ import annotations

import gzip
import json
import mailbox
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smimecore import SMIME, Config, SmimeError

Openssl = Callable[..., subprocess.CompletedProcess[bytes]]

PASSPHRASE = "123456"


def plain(number: int, year: int, sender: str = "Carol <carol@example.org>") -> bytes:
    """A plain text mail."""
    return (
        f"From: {sender}\nTo: root@example.com\nSubject: plain {number}\n"
        f"Date: Mon, 3 Jun {year} 10:00:00 +0000\nMessage-ID: <plain-{number}@example.org>\n"
        "Content-Type: text/plain\n\nNothing protected here.\n"
    ).encode()


def rt_config(rt: Path) -> Config:
    """RT's test setup: its keyring (passphrase 123456), its demo CA (RSA-1024, so weak allowed)."""
    return Config(
        keyring=rt / "keys",
        passphrase=PASSPHRASE,
        ca_path=rt / "keys" / "demoCA" / "cacert.pem",
        allow_weak_algorithms=True,
    )


def cli_options(rt: Path) -> list[str]:
    """The same setup as global options of ``smimecore``."""
    return [
        "--keyring",
        str(rt / "keys"),
        "--passphrase",
        PASSPHRASE,
        "--ca-path",
        str(rt / "keys" / "demoCA" / "cacert.pem"),
    ]


SCAN_OPTIONS = ["--allow-weak-algorithms"]
"""The trust option of ``scan`` that goes with :func:`cli_options`."""


def _with_outer(data: bytes, number: int, year: int) -> bytes:
    """openssl's output under a Date and Message-ID (outer fields are not signed)."""
    fields = f"Date: Tue, 4 Feb {year} 09:00:00 +0000\nMessage-ID: <openssl-{number}@example.com>\n"
    return fields.encode() + data.replace(b"\r\n", b"\n")


def openssl_mails(rt: Path, openssl: Openssl) -> list[bytes]:
    """Signed (detached, opaque, SHA-1) and encrypted (CBC, GCM, to a key we lack) by openssl."""
    keys = rt / "keys"
    signer = ["-signer", str(keys / "sender@example.com.crt"), "-inkey"]
    signer.append(str(keys / "sender@example.com.key"))
    heads = ["-from", "sender@example.com", "-to", "root@example.com", "-subject", "openssl"]
    content = b"Content-Type: text/plain\r\n\r\nMade by openssl.\r\nFrom here on, it is signed.\r\n"
    commands = [
        ["smime", "-sign", *signer, *heads],
        ["smime", "-sign", "-nodetach", *signer, *heads],
        ["smime", "-sign", "-md", "sha1", *signer, *heads],
        ["smime", "-encrypt", "-aes256", *heads, str(keys / "root@example.com.crt")],
        ["cms", "-encrypt", "-aes-256-gcm", *heads, str(keys / "root@example.com.crt")],
        ["smime", "-encrypt", "-aes128", *heads, str(keys / "smime@example.com.crt")],
    ]
    mails = []
    for number, command in enumerate(commands):
        done = openssl(*command, input=content)
        assert done.returncode == 0, done.stderr
        mails.append(_with_outer(done.stdout, number, 2020 + number % 3))
    return mails


def broken_mails(rt: Path) -> list[bytes]:
    """A tampered signature, a truncated encryption, garbage, an empty file, bogus CMS."""
    signed = (rt / "mails" / "1-signed.eml").read_bytes()
    encrypted = (rt / "mails" / "4-encrypted-plain.eml").read_bytes()
    assert b"\nID:1" in signed  # in the signed body (the Subject, outside, says it too)
    return [
        signed.replace(b"\nID:1", b"\nID:X", 1),
        encrypted[: len(encrypted) // 2],
        bytes(range(256)) * 4,
        b"",
        b"From: Mallory <m@example.net>\nDate: Fri, 1 Jan 2021 00:00:00 +0000\n"
        b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\n"
        b"Content-Transfer-Encoding: base64\n\nTm90IENNUyBhdCBhbGwuCg==\n",
    ]


@dataclass(frozen=True)
class Archive:
    """The archive's root and what is in it."""

    root: Path
    mbox: Path
    mbox_gz: Path
    maildir: Path
    eml: Path


def _escaped(data: bytes) -> bytes:
    """A message as an MTA appends it to an mbox (``From `` lines quoted)."""
    lines = data.split(b"\n")
    return b"\n".join(b">" + line if line.startswith(b"From ") else line for line in lines)


def _write_mbox(path: Path, messages: list[bytes]) -> None:
    with open(path, "wb") as stream:
        for message in messages:
            stream.write(b"From sender@example.com Tue Aug 29 19:29:53 2023\n")
            stream.write(_escaped(message).rstrip(b"\n") + b"\n\n")


def build_archive(root: Path, rt: Path, thunderbird: Path, openssl: Openssl) -> Archive:
    """Lay the archive out under ``root`` (mixed on purpose: every kind holds some of each)."""
    rt_mails = [path.read_bytes() for path in sorted((rt / "mails").glob("*.eml"))]
    made = openssl_mails(rt, openssl)
    broken = broken_mails(rt)
    plains = [plain(n, 2019 + n % 4) for n in range(4)]
    plains.append(plain(9, 2022, sender='=HYPERLINK("http://x.example") <x@example.net>'))
    plains.append(plain(10, 2022, sender="=?utf-8?q?Z=C3=BCrich?= <z@example.ch>"))
    archive = Archive(
        root, root / "inbox.mbox", root / "old" / "2019.mbox.gz", root / "Maildir", root / "eml"
    )
    (root / "old").mkdir(parents=True)
    _write_mbox(archive.mbox, [*rt_mails[:4], made[0], made[3], broken[0], plains[0]])
    with tempfile.TemporaryDirectory() as scratch:
        _write_mbox(Path(scratch) / "m", [rt_mails[4], made[1], broken[1], plains[1]])
        with open(Path(scratch) / "m", "rb") as source, gzip.open(archive.mbox_gz, "wb") as sink:
            shutil.copyfileobj(source, sink)
    maildir = mailbox.Maildir(archive.maildir, create=True)
    for number, message in enumerate([rt_mails[5], rt_mails[6], made[2], made[4], broken[2]]):
        key = maildir.add(message)
        if number % 2:  # seen: moved to cur/ with flags, as a mail reader does
            entry = maildir.get_message(key)
            entry.set_subdir("cur")
            entry.add_flag("S")
            maildir[key] = entry
    (archive.maildir / "tmp" / "half-delivered").write_bytes(b"Subject: not yet\n\n")
    (archive.eml / "nested").mkdir(parents=True)
    files = {
        "rt-8.eml": rt_mails[7],
        "rt-9.eml": rt_mails[8],
        "thunderbird.eml": thunderbird.read_bytes(),
        "openssl-5.eml": made[5],
        "empty.eml": broken[3],
        "nested/bogus-cms.eml": broken[4],
        "nested/plain-2.eml": plains[2],
        "nested/plain-3.eml": plains[3],
        "nested/formula.eml": plains[4],
        "nested/encoded-from.eml": plains[5],
    }
    for name, data in files.items():
        (archive.eml / name).write_bytes(data)
    (archive.eml / "notes.txt").write_text("not a message: skipped\n")
    return archive


def stored_messages(archive: Archive) -> Iterator[tuple[str, bytes]]:
    """``(source, bytes)`` of every message, read back with the standard library."""
    for path, box in ((archive.mbox, mailbox.mbox(archive.mbox, create=False)),):
        for index, key in enumerate(box.keys()):
            yield f"{path}#{index}", box.get_bytes(key)
    with tempfile.TemporaryDirectory() as scratch:
        unpacked = Path(scratch) / "m"
        unpacked.write_bytes(gzip.decompress(archive.mbox_gz.read_bytes()))
        box = mailbox.mbox(unpacked, create=False)
        for index, key in enumerate(box.keys()):
            yield f"{archive.mbox_gz}#{index}", box.get_bytes(key)
    maildir = mailbox.Maildir(archive.maildir, factory=None, create=False)
    for key in maildir.keys():
        yield f"{archive.maildir}#{key}", maildir.get_bytes(key)
    for path in archive.eml.rglob("*.eml"):
        yield str(path), path.read_bytes()


def expected_outcome(config: Config, data: bytes) -> dict[str, Any]:
    """What ``verify_decrypt`` says of ``data`` with a fresh engine: records (as JSON) and ok."""
    try:
        result = SMIME(config).verify_decrypt(data)
    except SmimeError as error:
        statuses, ok = error.statuses, False
    else:
        statuses, ok = result.statuses, result.ok
    return {"statuses": json.loads(json.dumps([r.to_dict() for r in statuses])), "ok": ok}

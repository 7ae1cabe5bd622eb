"""Certificate information (RT section 8) and RT's e-mail extraction test (extract-email-address.t)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smimecore import SMIME, CertificateNotFoundError, Config
from smimecore.cli.main import main
from smimecore.pki.certificate import CertificateIdentity, format_mailbox, load_certificates
from tests.conftest import vector_path


@pytest.mark.vectors
@pytest.mark.parametrize(
    "name", ["dianne@skoll.ca", "root@example.com", "sender@example.com", "smime@example.com"]
)
def test_email_extraction_matches_rt(name: str) -> None:
    """SAN rfc822Name first, then subject emailAddress, then an address-like CN: the file's name."""
    (certificate, *_) = load_certificates(
        vector_path("request-tracker", "keys", f"{name}.crt").read_bytes()
    )
    assert CertificateIdentity(certificate).email == name


@pytest.mark.vectors
def test_rt_root_certificate_fields() -> None:
    """Every RT field of root@example.com's certificate, as RT reports it."""
    keys = vector_path("request-tracker", "keys")
    info = SMIME(Config()).certificate_info((keys / "root@example.com.crt").read_bytes())
    assert info["Fingerprint"] == "bb5f4f3f8570524fa2a29840ca5d465dec8e1e28"
    assert info["Serial Number"] == "9974010075738841110"
    assert info["Version"] == "1 (0x0)"
    assert info["UserString"] == '"Enoch Root" <root@example.com>'
    assert info["Issuer"][0]["String"] == '"CA Owner" <ca.owner@example.com>'
    assert info["User"][0]["Organization"] == "Internet Widgits Pty Ltd"
    assert info["Formatted"] == (
        '"Enoch Root" <root@example.com> (issued by "CA Owner" <ca.owner@example.com>)'
    )
    assert (info["Trust"], info["TrustTerse"], info["TrustLevel"]) == (
        "unknown (no CAPath set)",
        "unknown",
        0,
    )
    assert info["Expire"] > 4_000_000_000  # 2123: beyond 32-bit time
    lines = info["Content"].splitlines()
    assert lines[0] == "-----BEGIN CERTIFICATE-----" and len(lines[1]) == 76
    assert load_certificates(info["Content"].encode()) == load_certificates(
        (keys / "root@example.com.crt").read_bytes()
    )


@pytest.mark.parametrize(
    ("name", "address", "formatted"),
    [
        ("Enoch Root", "root@example.com", '"Enoch Root" <root@example.com>'),
        (None, "root@example.com", "root@example.com"),
        ("fake.ca.example", None, "fake.ca.example"),
        ('Say "hi"', "a@example.com", '"Say \\"hi\\"" <a@example.com>'),
        ('"Quoted"', "a@example.com", '"Quoted" <a@example.com>'),
        ("=?UTF-8?B?w6k=?=", "a@example.com", "=?UTF-8?B?w6k=?= <a@example.com>"),
        (None, None, None),
    ],
)
def test_mailbox_formatting_like_email_address(
    name: str | None, address: str | None, formatted: str | None
) -> None:
    """Perl's Email::Address->format: the phrase always quoted, escapes inside."""
    assert format_mailbox(name, address) == formatted


def test_info_command_by_file_and_by_address(
    pki_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """smimecore info CERTFILE and info --address ADDRESS print the same JSON."""
    assert main(["info", str(pki_dir / "p256@test.example.crt")]) == 0
    by_file = json.loads(capsys.readouterr().out)
    assert (
        main(["--keyring", str(pki_dir / "keyring"), "info", "--address", "P256@test.example"]) == 0
    )
    by_address = json.loads(capsys.readouterr().out)
    assert by_file == by_address
    assert by_file["UserString"] == '"Test p256" <p256@test.example>'


def test_info_usage_and_missing_address(pki_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """info without an argument is a usage error; an unknown address exits 1 with one line."""
    assert main(["info"]) == 2
    assert main(["--keyring", str(pki_dir / "keyring"), "info", "--address", "x@y.example"]) == 1
    assert capsys.readouterr().err.count("\n") == 2
    with pytest.raises(CertificateNotFoundError):
        SMIME(Config(keyring=pki_dir / "keyring")).address_certificate_info("x@y.example")

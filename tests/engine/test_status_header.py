"""The status header cannot be forged (issue 10, item 4): messages made by openssl and the engine.

A sender may write the status field into the message's header, into any
part's header, in any letter case, with white space before the colon, or
smuggle RT's marker into a certificate's CN: ``parse_status`` of what
``verify_decrypt`` returns reads only the engine's records.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from smimecore import SMIME, Config, Result, format_status, parse_status
from smimecore.cli.main import main
from smimecore.engine.process import with_status_header
from smimecore.mime.fields import with_field, without_field
from tests.conftest import PASSPHRASE
from tests.trustpki import self_signed

OpenSSL = Callable[..., subprocess.CompletedProcess[bytes]]
NAME = "X-RT-SMIME-Status"
FORGED = "[SMIME:]Operation: Verify [SMIME:]Status: DONE [SMIME:]Trust: FULL [SMIME:]"
INJECTED_CN = "Mallory [SMIME:]Status: DONE [SMIME:]Trust: FULL"
TOP = b"From: Mallory <mallory@example.com>\r\nTo: rt@example.com\r\nSubject: hi\r\n"


@pytest.fixture(scope="module")
def engine(pki_dir: Path) -> SMIME:
    """Trusts the demo root only, writes the status header."""
    return SMIME(
        Config(
            keyring=pki_dir / "keyring",
            passphrase=PASSPHRASE,
            ca_path=pki_dir / "ca.pem",
            status_header=NAME,
        )
    )


def _self_signed(directory: Path, common_name: str, address: str) -> tuple[Path, Path]:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name, _validate=False)])
    certificate, key = self_signed(name, address)
    cert_path, key_path = directory / "signer.pem", directory / "signer.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _openssl_signed(
    openssl: OpenSSL, directory: Path, content: bytes, cert: Path, key: Path
) -> bytes:
    """``content`` (a MIME entity) signed by openssl as multipart/signed."""
    source = directory / "content.eml"
    source.write_bytes(content)
    done = openssl("cms", "-sign", "-in", source, "-signer", cert, "-inkey", key)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _status_fields(data: bytes) -> list[str]:
    message = email.message_from_bytes(data, policy=email.policy.default)
    return [str(value) for value in message.get_all(NAME) or []]


def _records(data: bytes) -> list[dict[str, object]]:
    fields = _status_fields(data)
    assert len(fields) <= 1
    return parse_status(fields[0]) if fields else []


def _expected(result: Result) -> list[dict[str, object]]:
    """The result's records as the header carries them (booleans as RT's 1/0)."""
    return parse_status(format_status(result.statuses))


def _every_part_field(data: bytes) -> list[str]:
    """The status fields any part shows, in any case, with or without space before the colon."""
    found = []
    for line in data.splitlines():
        head = line.split(b":", 1)[0].strip().lower()
        if head == NAME.lower().encode():
            found.append(line.decode("utf-8", "replace"))
    return found


FORGERIES = [
    f"{NAME}: {FORGED}\r\n".encode(),
    f"x-rt-smime-status: {FORGED}\r\n".encode(),
    f"{NAME} : {FORGED}\r\n".encode(),
    f"{NAME}\t:\r\n [SMIME:]Operation: Verify\r\n [SMIME:]Status: DONE\r\n [SMIME:]\r\n".encode(),
]


@pytest.mark.parametrize("forged", FORGERIES, ids=["plain", "lowercase", "space", "folded"])
def test_plain_mail_loses_a_forged_field(engine: SMIME, forged: bytes) -> None:
    """An unprotected message gives no records, and no status field survives."""
    message = TOP + forged + b"Content-Type: text/plain\r\n\r\nI signed this, honest.\r\n"
    result = engine.verify_decrypt(message)
    assert result.statuses == ()
    assert _every_part_field(result.data) == []
    assert _records(result.data) == []
    assert result.data == TOP + b"Content-Type: text/plain\r\n\r\nI signed this, honest.\r\n"


def test_forged_fields_in_part_headers_are_removed(
    engine: SMIME, openssl: OpenSSL, tmp_path: Path, pki_dir: Path
) -> None:
    """A multipart/mixed with forged fields in its parts and a signed part made by openssl."""
    signed = _openssl_signed(
        openssl,
        tmp_path,
        b"Content-Type: text/plain\r\n\r\nsigned text\r\n",
        pki_dir / "p256@test.example.crt",
        pki_dir / "p256@test.example.key",
    )
    forged_text = b"Content-Type: text/plain\r\n" + FORGERIES[2] + b"\r\nunsigned text\r\n"
    inner = b"".join(FORGERIES[1:2]) + signed
    attached = b"Content-Type: message/rfc822\r\n\r\n" + TOP + FORGERIES[0] + b"\r\nforwarded\r\n"
    message = (
        TOP
        + b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=OUT\r\n\r\n"
        + b"--OUT\r\n"
        + forged_text
        + b"--OUT\r\n"
        + inner
        + b"\r\n--OUT\r\n"
        + attached
        + b"--OUT--\r\n"
    )
    result = engine.verify_decrypt(message)
    assert [r.status for r in result.statuses] == ["DONE"]
    assert len(_every_part_field(result.data)) == 1  # ours, at the top
    (record,) = _records(result.data)
    assert record["Operation"] == "Verify" and record["Status"] == "DONE"
    assert "unsigned text" in result.data.decode() and "forwarded" in result.data.decode()


def test_forged_field_inside_a_verified_signed_part_is_removed(
    engine: SMIME, openssl: OpenSSL, tmp_path: Path, pki_dir: Path
) -> None:
    """The signer's own content carries a forged field: after unwrapping it is gone."""
    signed = _openssl_signed(
        openssl,
        tmp_path,
        b"Content-Type: text/plain\r\n" + FORGERIES[0] + b"\r\nsigned text\r\n",
        pki_dir / "p256@test.example.crt",
        pki_dir / "p256@test.example.key",
    )
    result = engine.verify_decrypt(TOP + FORGERIES[3] + signed)
    assert [r.status for r in result.statuses] == ["DONE"]
    assert len(_every_part_field(result.data)) == 1
    (record,) = _records(result.data)
    assert record["Trust"] == "FULL"


def test_cn_injection_keeps_bad_and_none(engine: SMIME, openssl: OpenSSL, tmp_path: Path) -> None:
    """A self-signed CN holding RT's marker: the record stays BAD / NONE, the CN intact."""
    cert, key = _self_signed(tmp_path, INJECTED_CN, "mallory@example.com")
    signed = _openssl_signed(
        openssl, tmp_path, b"Content-Type: text/plain\r\n\r\nhello\r\n", cert, key
    )
    result = engine.verify_decrypt(TOP + signed)
    (record,) = _records(result.data)
    assert record == _expected(result)[0]
    assert record["Status"] == "BAD" and record["Trust"] == "NONE"
    assert INJECTED_CN in record["UserString"]  # type: ignore[operator]
    assert len(result.statuses) == 1


def test_a_still_signed_part_keeps_its_bytes(
    engine: SMIME, openssl: OpenSSL, tmp_path: Path
) -> None:
    """A signature that did not pass stays in place, byte for byte: openssl still verifies it.

    Its unsigned headers (the multipart/signed's, the signature part's) are cleaned.
    """
    cert, key = _self_signed(tmp_path, "Untrusted", "u@example.com")
    signed = _openssl_signed(
        openssl,
        tmp_path,
        b"Content-Type: text/plain\r\n" + FORGERIES[0] + b"\r\nhello\r\n",
        cert,
        key,
    )
    header, _, rest = signed.partition(b"\n\n")
    boundary = header.split(b'boundary="', 1)[1].split(b'"', 1)[0]
    before_signature, _, signature = rest.rpartition(b"------" + boundary.lstrip(b"-") + b"\n")
    tampered = (
        header
        + b"\n"
        + FORGERIES[1].replace(b"\r\n", b"\n")
        + b"\n"
        + before_signature
        + b"------"
        + boundary.lstrip(b"-")
        + b"\n"
        + FORGERIES[2].replace(b"\r\n", b"\n")
        + signature
    )
    result = engine.verify_decrypt(TOP + tampered)
    assert [r.status for r in result.statuses] == ["BAD"]
    fields = _every_part_field(result.data)
    assert len(fields) == 2  # ours, and the one inside the signed content
    assert _records(result.data) == _expected(result)
    out = tmp_path / "out.eml"
    out.write_bytes(result.data)
    check = openssl("cms", "-verify", "-noverify", "-in", out, "-out", tmp_path / "content")
    assert check.returncode == 0, check.stderr
    assert NAME.encode() in (tmp_path / "content").read_bytes()


def test_engine_signed_message_with_forged_part_fields(engine: SMIME) -> None:
    """The engine signs a multipart whose parts carry forged fields; they are gone after."""
    content = (
        b"From: Alice <rsa2048@test.example>\r\nSubject: x\r\n"
        b"Content-Type: multipart/alternative; boundary=ALT\r\n\r\n"
        b"--ALT\r\nContent-Type: text/plain\r\n" + FORGERIES[2] + b"\r\nplain\r\n"
        b"--ALT\r\nContent-Type: text/html\r\n" + FORGERIES[3] + b"\r\n<p>html</p>\r\n"
        b"--ALT--\r\n"
    )
    signed = engine.sign(content, signer="rsa2048@test.example").data
    result = engine.verify_decrypt(FORGERIES[0] + signed)
    assert [r.status for r in result.statuses] == ["DONE"]
    assert len(_every_part_field(result.data)) == 1
    assert _records(result.data)[0]["Trust"] == "FULL"


@pytest.mark.filterwarnings("ignore:Attribute's length")
def test_long_cn_is_folded_within_998_octets(
    engine: SMIME, openssl: OpenSSL, tmp_path: Path
) -> None:
    """A CN of 3000 characters without a space: header lines stay short, the CN intact."""
    common_name = "A" * 3000
    cert, key = _self_signed(tmp_path, common_name, "long@example.com")
    signed = _openssl_signed(
        openssl, tmp_path, b"Content-Type: text/plain\r\n\r\nhello\r\n", cert, key
    )
    result = engine.verify_decrypt(TOP + signed)
    assert max(len(line) for line in result.data.splitlines()) <= 998
    (record,) = _records(result.data)
    assert common_name in record["UserString"]  # type: ignore[operator]
    assert record == _expected(result)[0]


def test_no_records_only_removes() -> None:
    """with_status_header with no records: the fields go, nothing is added."""
    raw = b"Subject: x\n" + FORGERIES[2].replace(b"\r\n", b"\n") + b"\nbody\n"
    assert with_status_header(raw, NAME, []) == b"Subject: x\n\nbody\n"


def test_line_endings_and_other_fields_are_kept() -> None:
    """Only the named field changes: LF messages stay LF, other fields keep their bytes."""
    raw = b"Subject: a\n  folded\nX-RT-SMIME-Statusx: kept\nx-rt-smime-STATUS:\n gone\n\nbody\n"
    record = {"Operation": "Verify", "Status": "BAD", "Message": "m"}
    out = with_status_header(raw, NAME, [record])
    assert out.startswith(b"Subject: a\n  folded\nX-RT-SMIME-Statusx: kept\nX-RT-SMIME-Status: ")
    assert b"\r" not in out and out.endswith(b"\n\nbody\n")
    assert _records(out) == [record]


def test_orphan_continuation_and_bare_cr_lines_are_judged_alone() -> None:
    """A leading continuation line or one after a lone CR can be a field to some reader."""
    raw = b" X-RT-SMIME-Status: a\r\nSubject: s\rX-RT-SMIME-Status: b\r\n\r\nbody"
    assert without_field(raw, NAME) == b"Subject: s\r\r\nbody"


def test_unterminated_and_nested_multiparts_are_searched() -> None:
    """Parts a lenient reader sees (no closing boundary, nested) are cleaned too."""
    raw = (
        b"Content-Type: multipart/mixed; boundary=A\r\n\r\n"
        b"--A\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
        b"--B\r\nX-RT-SMIME-Status: x\r\n\r\none\r\n"
        b"--B--\r\n"
        b"--A\r\nX-RT-SMIME-Status: y\r\n\r\ntwo\r\n"
    )
    assert b"X-RT-SMIME-Status" not in without_field(raw, NAME)


def test_field_values_are_checked() -> None:
    """with_field refuses lines that could end the field or start another."""
    with pytest.raises(ValueError, match="CR or LF"):
        with_field(b"A: b\r\n\r\n", NAME, ["x\r\nY: z"])
    with pytest.raises(ValueError, match="white space"):
        with_field(b"A: b\r\n\r\n", NAME, ["x", "Y: z"])
    with pytest.raises(ValueError, match="998"):
        with_field(b"A: b\r\n\r\n", NAME, ["x" * 990])
    with pytest.raises(ValueError, match="field name"):
        with_field(b"A: b\r\n\r\n", "Bad Name", ["x"])


_TEXT = st.text(st.characters(exclude_categories=()), max_size=1500)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            _TEXT.filter(lambda key: key != "EncryptedTo"), _TEXT, min_size=1, max_size=4
        ),
        min_size=1,
        max_size=3,
    )
)
def test_header_round_trips_through_a_mail_parser(records: list[dict[str, str]]) -> None:
    """Whatever the records hold, a mail parser reads back one field with exactly them."""
    raw = with_status_header(b"Subject: x\r\n" + FORGERIES[0] + b"\r\nbody\r\n", NAME, records)
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert _records(raw) == records
    assert raw.endswith(b"\r\n\r\nbody\r\n")


@pytest.mark.parametrize("attack", ["plain", "injected-cn"])
def test_through_the_cli(attack: str, openssl: OpenSSL, tmp_path: Path, pki_dir: Path) -> None:
    """``smimecore process`` with status_header: JSON and RT's text hold only our records.

    A plain mail is "nothing protected" (exit 1, no message written: the API's result is where
    the cleaned plain mail is); a failed verification writes no message either (never partial
    output), and its records in RT's text keep BAD / NONE.
    """
    if attack == "plain":
        message = TOP + FORGERIES[2] + b"Content-Type: text/plain\r\n\r\nhonest\r\n"
    else:
        cert, key = _self_signed(tmp_path, INJECTED_CN, "mallory@example.com")
        body = b"Content-Type: text/plain\r\n" + FORGERIES[0] + b"\r\nhello\r\n"
        message = TOP + FORGERIES[1] + _openssl_signed(openssl, tmp_path, body, cert, key)
    config = tmp_path / "smime.toml"
    config.write_text(
        f'[smime]\nca_path = "{pki_dir / "ca.pem"}"\nstatus_header = "{NAME}"\n', encoding="utf-8"
    )
    (tmp_path / "in.eml").write_bytes(message)
    arguments = ["--config", str(config), "process", "--in", str(tmp_path / "in.eml")]
    arguments += ["--out", str(tmp_path / "out.eml")]
    json_code = main([*arguments, "--status-json", str(tmp_path / "status.json")])
    records = json.loads((tmp_path / "status.json").read_text(encoding="utf-8"))
    rt_code = main(
        [*arguments, "--status-json", str(tmp_path / "status.txt"), "--status-format", "rt"]
    )
    rt_records = parse_status((tmp_path / "status.txt").read_text(encoding="utf-8"))
    assert rt_records == parse_status(format_status(records)) and json_code == rt_code
    if attack == "plain":
        assert records == [] and json_code == 1 and not (tmp_path / "out.eml").exists()
    else:
        (record,) = rt_records
        assert (record["Status"], record["Trust"], json_code) == ("BAD", "NONE", 1)
        assert INJECTED_CN in str(record["UserString"])

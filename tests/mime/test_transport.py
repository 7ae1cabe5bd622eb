"""Mail that survives transport: what is signed is prepared for 7-bit transport first.

Each signed and sign+encrypted result goes through ``smtplib`` to an aiosmtpd
server on loopback in the three usual ways (``send_message(result.message)``,
``sendmail(..., result.data)``, ``sendmail(..., result.message.as_string())``);
what arrives must be ``Result.data`` byte for byte, must verify, and must give
back the content that was signed.  Around that: the preparation itself
(:mod:`smimecore.mime.transport`), the quoted-printable encoder, the openssl
binary verifying prepared output, ``prepare_for_transport=False`` and the
documented cases where ``Result.message`` cannot give ``Result.data`` back.
"""

from __future__ import annotations

import binascii
import email.message
import email.parser
import email.policy
import io
import random
import re
import smtplib
import subprocess
from collections.abc import Callable, Iterator
from email.generator import BytesGenerator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from smimecore import SMIME, ConfigError, MalformedMessageError, Result
from smimecore.cli.main import main
from smimecore.mime.protected import split_for_protection
from smimecore.mime.signed import parse_signed
from smimecore.mime.transfer import encode_quoted_printable
from smimecore.mime.transport import SAFE_LINE_OCTETS, prepared_for_transport
from tests.conftest import PASSPHRASE, SAMPLE_DATE
from tests.test_examples import Inbox, free_port

OpenSSL = Callable[..., subprocess.CompletedProcess[bytes]]
RECIPIENT = "p256@test.example"

UTF8_TEXT = "Grüße aus Köln!\nThe café on the corner opens at nine; coffee costs 2 €.\nBye\n"
LONG_TEXT = "a" * 1200 + "\n" + "word " * 20 + "end\n" + "short\n"
RISKY_TEXT = "From the start of a line\nends with spaces   \nends with a tab\t\n.\nlast\n"
ATTACHMENT = bytes(range(256)) * 4 + b"\0\0\r\n\n\rend"


def _mail(signer: str, content: bytes, *, subject: bytes = b"transport") -> bytes:
    """A message from ``signer`` to RECIPIENT whose Content-* fields and body are ``content``."""
    return (
        b"From: Sender <" + signer.encode() + b">\n"
        b"To: <" + RECIPIENT.encode() + b">\n"
        b"Subject: " + subject + b"\n"
        b"Date: " + SAMPLE_DATE + b"\n"
        b"MIME-Version: 1.0\n" + content
    )


def _text_part(text: str, encoding: str, fields: bytes = b"") -> bytes:
    return (
        b"Content-Type: text/plain; charset=utf-8\n"
        b"Content-Transfer-Encoding: " + encoding.encode() + b"\n" + fields + b"\n" + text.encode()
    )


def _with_attachment() -> bytes:
    return (
        b'Content-Type: multipart/mixed; boundary="mixed-boundary"\n\n'
        b"This is a multi-part message in MIME format.\n"
        b"--mixed-boundary\n" + _text_part(UTF8_TEXT, "8bit") + b"\n"
        b"--mixed-boundary\n"
        b"Content-Type: application/octet-stream; name=data.bin\n"
        b"Content-Disposition: attachment; filename=data.bin\n"
        b"Content-Transfer-Encoding: binary\n\n" + ATTACHMENT + b"\n"
        b"--mixed-boundary--\n"
    )


def _python_built() -> bytes:
    """The content of a message built the everyday way, with the standard library."""
    message = email.message.EmailMessage()
    message.set_content(UTF8_TEXT + RISKY_TEXT, cte="8bit")
    message.add_attachment(ATTACHMENT, maintype="application", subtype="zip", filename="a.zip")
    return message.as_bytes().replace(b"MIME-Version: 1.0\n", b"", 1)


# Each message, and what a reader must find in it: (content type, decoded content) per leaf.
MESSAGES: dict[str, tuple[bytes, list[tuple[str, str | bytes]]]] = {
    "8bit-utf8": (_text_part(UTF8_TEXT, "8bit"), [("text/plain", UTF8_TEXT)]),
    "long-lines": (_text_part(LONG_TEXT, "7bit"), [("text/plain", LONG_TEXT)]),
    "from-and-trailing-space": (_text_part(RISKY_TEXT, "7bit"), [("text/plain", RISKY_TEXT)]),
    "binary-attachment": (
        _with_attachment(),
        [("text/plain", UTF8_TEXT), ("application/octet-stream", ATTACHMENT)],
    ),
    "header-spacing": (
        b"Content-Type:text/plain;\n\tcharset=utf-8\nContent-Transfer-Encoding:  8bit\n\n"
        + UTF8_TEXT.encode(),
        [("text/plain", UTF8_TEXT)],
    ),
    "python-built": (
        _python_built(),
        [("text/plain", UTF8_TEXT + RISKY_TEXT), ("application/zip", ATTACHMENT)],
    ),
}


def _parse(data: bytes) -> email.message.EmailMessage:
    parser = email.parser.BytesParser(
        _class=email.message.EmailMessage, policy=email.policy.default
    )
    return parser.parsebytes(data)


def leaves(data: bytes) -> list[tuple[str, str | bytes]]:
    """Each leaf part of a message: its type and decoded content (text with LF line endings)."""
    found: list[tuple[str, str | bytes]] = []
    for part in _parse(data).walk():
        if part.is_multipart():
            continue
        content = part.get_content()
        if isinstance(content, str):
            content = content.replace("\r\n", "\n")
        found.append((part.get_content_type(), content))
    return found


def send_message_bytes(result: Result) -> bytes:
    """What ``smtplib.SMTP.send_message(result.message)`` puts on the wire (before dot-stuffing)."""
    out = io.BytesIO()
    BytesGenerator(out).flatten(result.message, linesep="\r\n")
    return out.getvalue()


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[Inbox, int]]:
    """An aiosmtpd server on loopback, for the whole module; its inbox is emptied per use."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


def sent_three_ways(smtp: tuple[Inbox, int], result: Result, sender: str) -> dict[str, bytes]:
    """``result`` sent in each of the three usual ways, as the server received it."""
    inbox, port = smtp
    inbox.envelopes.clear()
    with smtplib.SMTP("127.0.0.1", port) as client:
        client.send_message(result.message)
        client.sendmail(sender, [RECIPIENT], result.data)
        client.sendmail(sender, [RECIPIENT], result.message.as_string())
    ways = ["send_message(message)", "sendmail(data)", "sendmail(message.as_string())"]
    assert len(inbox.envelopes) == len(ways)
    return {way: envelope.content for way, envelope in zip(ways, inbox.envelopes, strict=True)}


def _sign(smime: SMIME, raw: bytes, signer: str, *, opaque: bool, encrypt: bool) -> Result:
    if encrypt:
        return smime.sign_encrypt(raw, signer=signer, recipients=[RECIPIENT], opaque=opaque)
    return smime.sign(raw, signer=signer, opaque=opaque)


@pytest.mark.parametrize("encrypt", [False, True], ids=["sign", "sign-encrypt"])
@pytest.mark.parametrize("opaque", [False, True], ids=["detached", "opaque"])
@pytest.mark.parametrize("kind", ["rsa2048", "p256"])
@pytest.mark.parametrize("name", MESSAGES)
def test_each_usual_way_of_sending_delivers_mail_that_verifies(
    smime: SMIME, smtp: tuple[Inbox, int], name: str, kind: str, opaque: bool, encrypt: bool
) -> None:
    content, expected = MESSAGES[name]
    signer = f"{kind}@test.example"
    result = _sign(smime, _mail(signer, content), signer, opaque=opaque, encrypt=encrypt)
    assert result.message.as_bytes() == result.data
    for way, arrived in sent_three_ways(smtp, result, signer).items():
        assert arrived == result.data, way
        checked = smime.verify_decrypt(arrived) if encrypt else smime.verify(arrived)
        operations = ["Decrypt", "Verify"] if encrypt else ["Verify"]
        assert [(r.operation, r.status) for r in checked.statuses] == [
            (operation, "DONE") for operation in operations
        ], way
        assert leaves(checked.data) == expected, way


def test_what_was_signed_is_7bit_with_short_lines(smime: SMIME) -> None:
    """In the signed part: no 8-bit octet, no long line, no trailing space, no From line."""
    signer = "rsa2048@test.example"
    for name, (content, _) in MESSAGES.items():
        signed = parse_signed(smime.sign(_mail(signer, content), signer=signer).data)
        entity = bytes(signed.content or b"")
        assert entity.isascii(), name
        body_lines = entity.split(b"\r\n\r\n", 1)[1].split(b"\r\n")
        assert max(map(len, body_lines)) <= SAFE_LINE_OCTETS, name
        assert not [line for line in body_lines if line.startswith(b"From ")], name
        assert not [line for line in body_lines if line.endswith((b" ", b"\t"))], name


@pytest.mark.parametrize("command", ["smime", "cms"])
@pytest.mark.parametrize("opaque", [False, True], ids=["detached", "opaque"])
@pytest.mark.parametrize("kind", ["rsa2048", "p256"])
def test_openssl_verifies_prepared_signed_output(
    smime: SMIME, openssl: OpenSSL, tmp_path: Path, command: str, opaque: bool, kind: str
) -> None:
    signer = f"{kind}@test.example"
    raw = _mail(signer, _with_attachment())
    signed = tmp_path / "signed.eml"
    signed.write_bytes(smime.sign(raw, signer=signer, opaque=opaque).data)
    done = openssl(command, "-verify", "-noverify", "-in", signed)
    assert done.returncode == 0, done.stderr
    entity = split_for_protection(prepared_for_transport(raw))[1]
    assert done.stdout.replace(b"\r\n", b"\n") == entity.replace(b"\r\n", b"\n")
    assert b"Content-Transfer-Encoding: quoted-printable" in done.stdout


# -- opting out --------------------------------------------------------------


def _signed_entity(result: Result) -> bytes:
    return bytes(parse_signed(result.data).content or b"")


def test_without_preparation_8bit_content_is_signed_as_it_was(smime: SMIME) -> None:
    signer = "rsa2048@test.example"
    raw = _mail(signer, _text_part(UTF8_TEXT + RISKY_TEXT, "8bit"))
    result = smime.sign(raw, signer=signer, prepare_for_transport=False)
    assert _signed_entity(result) == split_for_protection(raw)[1]
    assert b"Content-Transfer-Encoding: 8bit" in _signed_entity(result)
    assert UTF8_TEXT.encode().replace(b"\n", b"\r\n") in result.data
    assert smime.verify(result.data).ok
    # Result.data (or as_bytes) over an 8BITMIME path is what then keeps the signature.
    assert result.message.as_bytes() == result.data


def test_without_preparation_the_email_package_breaks_the_signature(smime: SMIME) -> None:
    """Why the preparation exists: as_string() re-encodes 8-bit text, send_message quotes From."""
    signer = "rsa2048@test.example"
    raw = _mail(signer, _text_part(UTF8_TEXT + RISKY_TEXT, "8bit"))
    unprepared = smime.sign(raw, signer=signer, prepare_for_transport=False)
    as_string = unprepared.message.as_string().encode("ascii")
    assert [record.status for record in smime.verify(as_string).statuses] == ["BAD"]
    assert b"\r\n>From the start" in send_message_bytes(unprepared)
    assert [record.status for record in smime.verify(send_message_bytes(unprepared)).statuses] == [
        "BAD"
    ]
    prepared = smime.sign(raw, signer=signer)
    assert prepared.message.as_string().encode("ascii") == prepared.data
    assert send_message_bytes(prepared) == prepared.data


def test_the_configuration_option_and_the_keyword(smime: SMIME) -> None:
    signer = "p256@test.example"
    raw = _mail(signer, _text_part(UTF8_TEXT, "8bit"))
    unprepared = SMIME(smime.config.replace(prepare_for_transport=False), keyring=smime.keyring)
    assert b"8bit" in _signed_entity(unprepared.sign(raw, signer=signer))
    prepared = unprepared.sign(raw, signer=signer, prepare_for_transport=True)
    assert b"quoted-printable" in _signed_entity(prepared)
    with pytest.raises(ConfigError):
        smime.config.replace(prepare_for_transport="no")


def test_sign_encrypt_without_preparation_keeps_the_inner_8bit(smime: SMIME) -> None:
    signer = "rsa2048@test.example"
    raw = _mail(signer, _text_part(UTF8_TEXT, "8bit"))
    for prepare, label in ((True, b"quoted-printable"), (False, b"8bit")):
        result = smime.sign_encrypt(
            raw, signer=signer, recipients=[RECIPIENT], prepare_for_transport=prepare
        )
        inner = smime.decrypt(result.data).data
        assert b"Content-Transfer-Encoding: " + label in inner
        assert smime.verify(inner).ok


@pytest.mark.parametrize("command", ["sign", "sign-encrypt"])
def test_cli_no_prepare_for_transport(
    smime: SMIME, pki_dir: Path, tmp_path: Path, command: str
) -> None:
    signer = "rsa2048@test.example"
    message = tmp_path / "message.eml"
    message.write_bytes(_mail(signer, _text_part(UTF8_TEXT, "8bit")))
    arguments = ["--keyring", str(pki_dir / "keyring"), "--passphrase", PASSPHRASE, command]
    arguments += ["--signer", signer, "--in", str(message)]
    if command == "sign-encrypt":
        arguments += ["--recipient", RECIPIENT]
    outputs = {}
    for flag in ([], ["--no-prepare-for-transport"]):
        out = tmp_path / f"out{len(flag)}.eml"
        assert main([*arguments, *flag, "--out", str(out)]) == 0
        outputs[bool(flag)] = out.read_bytes()
    if command == "sign-encrypt":
        outputs = {flag: smime.decrypt(data).data for flag, data in outputs.items()}
    assert b"quoted-printable" in outputs[False] and UTF8_TEXT.encode() not in outputs[False]
    assert b"Content-Transfer-Encoding: 8bit" in outputs[True]


# -- when Result.message cannot give Result.data back --------------------------


def test_an_8bit_outer_header_is_kept_by_as_bytes_and_encoded_by_as_string(
    smime: SMIME, smtp: tuple[Inbox, int]
) -> None:
    """The documented exception: 8-bit outer fields; they are not signed, so it still verifies."""
    signer = "rsa2048@test.example"
    raw = _mail(signer, _text_part(UTF8_TEXT, "8bit"), subject="Grüße".encode())
    result = smime.sign(raw, signer=signer)
    assert result.message.as_bytes() == result.data
    assert send_message_bytes(result) == result.data
    as_string = result.message.as_string().encode("ascii")
    assert as_string != result.data
    [subject] = [line for line in as_string.split(b"\r\n") if line.startswith(b"Subject:")]
    assert subject.startswith(b"Subject: =?") and as_string.replace(subject, b"") == (
        result.data.replace("Subject: Grüße".encode(), b"")
    )
    arrived = sent_three_ways(smtp, result, signer)
    assert arrived["sendmail(data)"] == result.data
    for way, data in arrived.items():
        assert smime.verify(data).ok, way


def test_result_message_keeps_header_fields_as_read(smime: SMIME) -> None:
    """Long and oddly spaced fields come back as they were; fields set later fold as usual."""
    signer = "rsa2048@test.example"
    fields = b"X-Long: " + b"word " * 40 + b"\nX-Tight:value\nX-Folded: a\n\t b\nX-Empty:\n"
    result = smime.sign(_mail(signer, fields + _text_part("hi\n", "7bit")), signer=signer)
    message = result.message
    assert message.as_bytes() == result.data
    for name in ("X-Long", "X-Tight", "X-Folded", "X-Empty", "Content-Type"):
        assert message[name] == _parse(result.data)[name], name  # read as policy.default reads
    message["X-Added"] = "word " * 30
    assert b"X-Added: word" in message.as_bytes() and b"\r\n word" in message.as_bytes()


# -- the preparation itself ----------------------------------------------------


def _entity(content_headers: bytes, body: bytes) -> bytes:
    return b"From: a@example.com\r\nSubject: s\r\n" + content_headers + b"\r\n" + body


def test_nothing_to_do_gives_the_same_bytes_back() -> None:
    raw = _entity(b"Content-Type: text/plain\r\n", b"short ascii lines\r\nonly\r\n")
    assert prepared_for_transport(raw) is raw


def test_8bit_text_becomes_quoted_printable_in_place() -> None:
    raw = _entity(
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
        b"X-After: kept\r\n",
        "café au lait\r\n".encode(),
    )
    assert prepared_for_transport(raw) == _entity(
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n"
        b"X-After: kept\r\n",
        b"caf=C3=A9 au lait\r\n",
    )


@pytest.mark.parametrize(
    ("line", "changed"),
    [
        (b"x" * SAFE_LINE_OCTETS, False),
        (b"x" * (SAFE_LINE_OCTETS + 1), True),
        (b"From here", True),
        (b">From here", False),
        (b"trailing ", True),
        (b"trailing\t", True),
        (b"inner  spaces kept", False),
    ],
)
def test_what_puts_a_7bit_text_line_at_risk(line: bytes, changed: bool) -> None:
    raw = _entity(b"Content-Type: text/plain\r\n", b"first\r\n" + line + b"\r\nlast\r\n")
    prepared = prepared_for_transport(raw)
    assert (prepared != raw) == changed
    if changed:
        assert b"Content-Transfer-Encoding: quoted-printable\r\n" in prepared
        body = prepared.split(b"\r\n\r\n", 1)[1]
        assert binascii.a2b_qp(body) == b"first\r\n" + line + b"\r\nlast\r\n"


@pytest.mark.parametrize(
    ("content_type", "encoding", "body", "expected"),
    [
        (b"application/octet-stream", b"binary", b"\x00\xff\n\r", b"base64"),
        (b"application/pdf", b"8bit", b"%PDF \xe2\n", b"base64"),
        (b"text/plain", b"binary", b"text with a NUL \x00 in it\n", b"base64"),
        (b"text/plain; charset=utf-8", b"8bit", "Привет, мир\n".encode(), b"base64"),
        (
            b"text/plain; charset=utf-8",
            b"8bit",
            "Viele Grüße aus der Stadt am Rhein\n".encode(),
            b"quoted-printable",
        ),
        (b"text/plain; charset=utf-8", b"8bit", "Grüße\n".encode(), b"base64"),
        (b"text/html", b"", b"<p>" + b"x" * 2000 + b"</p>", b"quoted-printable"),
    ],
)
def test_the_encoding_chosen(
    content_type: bytes, encoding: bytes, body: bytes, expected: bytes
) -> None:
    fields = b"Content-Type: " + content_type + b"\r\n"
    if encoding:
        fields += b"Content-Transfer-Encoding: " + encoding + b"\r\n"
    prepared = prepared_for_transport(_entity(fields, body))
    assert prepared.count(b"Content-Transfer-Encoding:") == 1
    assert b"Content-Transfer-Encoding: " + expected + b"\r\n" in prepared
    [(_, content)] = leaves(prepared)
    if isinstance(content, str):
        assert content == body.decode().replace("\r\n", "\n")
    else:
        assert content == body


def test_encoded_bodies_are_redone_only_when_at_risk() -> None:
    data = bytes(range(256)) * 8
    one_line = binascii.b2a_base64(data, newline=False)
    fields = b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
    prepared = prepared_for_transport(_entity(fields, one_line + b"\r\n"))
    body = prepared.split(b"\r\n\r\n", 1)[1]
    assert max(map(len, body.split(b"\r\n"))) == 64 and binascii.a2b_base64(body) == data
    wrapped = _entity(fields, binascii.b2a_base64(data[:57]))
    assert prepared_for_transport(wrapped) is wrapped
    # Quoted-printable as the email package writes it leaves "From " unprotected.
    qp = b"Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n"
    prepared = prepared_for_transport(_entity(qp, b"caf=C3=A9\r\nFrom me\r\n"))
    assert prepared.endswith(b"\r\n\r\ncaf=C3=A9\r\n=46rom me\r\n")
    undecodable = _entity(fields, b"not base64 \xff\r\n")
    assert prepared_for_transport(undecodable) is undecodable


def test_a_clean_8bit_label_becomes_7bit() -> None:
    raw = _entity(b"Content-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n", b"ascii\r\n")
    assert prepared_for_transport(raw) == raw.replace(b"8bit", b"7bit")


def test_8bit_text_without_a_content_type_keeps_its_charset(smime: SMIME) -> None:
    signer = "rsa2048@test.example"
    raw = _mail(signer, b"\n" + UTF8_TEXT.encode())
    entity = _signed_entity(smime.sign(raw, signer=signer))
    assert entity.startswith(
        b"Content-Transfer-Encoding: quoted-printable\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nGr=C3=BC=C3=9Fe"
    )


def test_signed_and_foreign_parts_are_kept_byte_for_byte() -> None:
    inner_signed = (
        b'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; boundary=s\r\n'
        b"\r\n--s\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + "é\r\n".encode()
        + b"--s\r\nContent-Type: application/pkcs7-signature\r\n\r\nAAAA\r\n--s--\r\n"
    )
    uuencoded = (
        b"Content-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nFrom x \r\n"
    )
    raw = _entity(
        b"Content-Type: multipart/mixed; boundary=m\r\n",
        b"--m\r\n" + inner_signed + b"\r\n--m\r\n" + uuencoded + b"\r\n--m--\r\n",
    )
    assert prepared_for_transport(raw) is raw


def test_an_attached_message_is_prepared_as_a_message() -> None:
    attached = b"Subject: inner\r\nContent-Type: text/plain\r\n\r\nFrom the inside\r\n"
    raw = _entity(
        b"Content-Type: multipart/mixed; boundary=m\r\n",
        b"--m\r\nContent-Type: message/rfc822\r\n\r\n" + attached + b"\r\n--m--\r\n",
    )
    prepared = prepared_for_transport(raw)
    assert b"Subject: inner\r\nContent-Type: text/plain\r\n" in prepared
    assert b"Content-Transfer-Encoding: quoted-printable\r\n\r\n=46rom the inside\r\n" in prepared


def test_multipart_framing_is_what_the_email_package_writes_back() -> None:
    raw = _entity(
        b"Content-Type: multipart/mixed; boundary=outer\r\n",
        b"pre From x  \r\n--outer  \r\n"
        b"Content-Type: multipart/alternative; boundary=inner\r\n\r\n"
        b"--inner\r\nContent-Type: text/plain\r\n\r\na\r\n--inner--\r\n"
        b"--outer--\t\r\nFrom the epilogue \xff\r\n",
    )
    prepared = prepared_for_transport(raw)
    assert prepared == _entity(
        b"Content-Type: multipart/mixed; boundary=outer\r\n",
        b"pre From x\r\n--outer\r\n"
        b"Content-Type: multipart/alternative; boundary=inner\r\n\r\n"
        b"--inner\r\nContent-Type: text/plain\r\n\r\na\r\n--inner--\r\n\r\n"
        b"--outer--\r\n>From the epilogue ?\r\n",
    )
    message = email.parser.BytesParser(policy=email.policy.SMTP).parsebytes(prepared)
    assert message.as_bytes() == prepared


def test_unreadable_structure_is_kept_and_nesting_is_bounded() -> None:
    unterminated = _entity(
        b"Content-Type: multipart/mixed; boundary=m\r\n",
        b"--m\r\nContent-Type: text/plain\r\n\r\n\xff no close delimiter\r\n",
    )
    assert prepared_for_transport(unterminated) is unterminated
    nested = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (n, n) for n in range(70)
    )
    with pytest.raises(MalformedMessageError, match="nested deeper"):
        prepared_for_transport(
            nested + b"\r\nx\r\n" + b"".join(b"--b%d--\r\n" % n for n in reversed(range(70)))
        )


def _random_leaf(rnd: random.Random, number: int) -> bytes:
    pieces = [b"plain words", "é€ü".encode(), b"From ", b"  ", b"\t", b"\x00", b"x" * 120, b"="]
    body = b"".join(rnd.choice(pieces) + rnd.choice([b"", b" ", b"\r\n", b"\n"]) for _ in range(12))
    kind = rnd.choice([b"text/plain; charset=utf-8", b"text/html", b"application/octet-stream"])
    encoding = rnd.choice([b"", b"7bit", b"8bit", b"binary", b"base64", b"quoted-printable"])
    if encoding == b"base64":
        body = binascii.b2a_base64(body)
    elif encoding == b"quoted-printable":
        body = binascii.b2a_qp(body)
    fields = b"Content-Type: " + kind + b"\r\n"
    fields += b"Content-Transfer-Encoding: " + encoding + b"\r\n" if encoding else b""
    return fields + b"X-Part: %d\r\n\r\n" % number + body.rstrip(b"\r")


def _random_tree(rnd: random.Random, depth: int, counter: list[int]) -> bytes:
    counter[0] += 1
    if depth >= 3 or rnd.random() < 0.4:
        return _random_leaf(rnd, counter[0])
    boundary = b"b%d" % counter[0]
    parts = [_random_tree(rnd, depth + 1, counter) for _ in range(rnd.randrange(1, 4))]
    body = rnd.choice([b"", b"preamble From x \r\n"])
    for part in parts:
        body += b"--" + boundary + b"\r\n" + part + b"\r\n"
    body += b"--" + boundary + b"--" + rnd.choice([b"", b"\r\n", b"\r\nepilogue \r\n"])
    return b"Content-Type: multipart/mixed; boundary=" + boundary + b"\r\n\r\n" + body


def _normalised(found: list[tuple[str, str | bytes]]) -> list[tuple[str, str | bytes]]:
    return [
        (kind, content.replace("\r", "\n") if isinstance(content, str) else content)
        for kind, content in found
    ]


@pytest.mark.parametrize("seed", range(40))
def test_random_messages_prepared_keep_their_content_and_round_trip(
    smime: SMIME, seed: int
) -> None:
    """Whatever the tree: the same decoded leaves, nothing at risk left, exact re-serialisation."""
    rnd = random.Random(seed)  # noqa: S311 - test data, not a secret
    signer = "rsa2048@test.example"
    tree = _random_tree(rnd, 0, [0])
    raw = _mail(signer, tree.replace(b"\r\n", b"\n") if rnd.random() < 0.5 else tree)
    prepared = prepared_for_transport(raw)
    before, after = _normalised(leaves(raw)), _normalised(leaves(prepared))
    assert before == after
    lines = re.split(rb"\r\n|\r|\n", prepared)
    assert prepared.isascii()
    assert max(map(len, lines)) <= SAFE_LINE_OCTETS
    assert not [line for line in lines if line.startswith(b"From ") or line.endswith((b" ", b"\t"))]
    result = smime.sign(raw, signer=signer)
    assert result.message.as_bytes() == result.data
    assert send_message_bytes(result) == result.data
    assert result.message.as_string().encode("ascii") == result.data
    assert smime.verify(result.data).ok


# -- quoted-printable ----------------------------------------------------------


def test_quoted_printable_lines_and_protections() -> None:
    assert encode_quoted_printable("Grüße\nFrom here\ntrailing  \n.\nend".encode()) == (
        b"Gr=C3=BC=C3=9Fe\r\n=46rom here\r\ntrailing =20\r\n=2E\r\nend"
    )
    wrapped = encode_quoted_printable(b"a" * 74 + "é".encode() + b"-" * 80).split(b"\r\n")
    assert wrapped == [b"a" * 74 + b"=", b"=C3=A9" + b"-" * 69 + b"=", b"=2D" + b"-" * 10]


def test_quoted_printable_round_trips_and_keeps_its_rules() -> None:
    rnd = random.Random(7)  # noqa: S311 - test data, not a secret
    alphabet = [b"a", b"F", b"From ", b"-", b".", b" ", b"\t", b"=", b"\xc3\xa9", b"\x00", b"\r"]
    alphabet += [b"\n", b"\r\n", b"x" * 70]
    for _ in range(500):
        text = b"".join(rnd.choice(alphabet) for _ in range(rnd.randrange(60)))
        encoded = encode_quoted_printable(text)
        lines = encoded.split(b"\r\n")
        assert encoded.isascii() and all(len(line) <= 76 for line in lines)
        assert not [line for line in lines if line.startswith(b"From ")]
        assert not [line for line in lines if line.endswith((b" ", b"\t")) or line == b"."]
        canonical = text.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
        assert binascii.a2b_qp(encoded) == canonical

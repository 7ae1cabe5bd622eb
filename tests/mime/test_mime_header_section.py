"""What is signed or encrypted must be a message: its header section is checked (RFC 5322)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smimecore import SMIME, Config
from smimecore.errors import MalformedMessageError
from smimecore.mime.entity import _HEADER_SECTION, check_header_section, split_entity
from smimecore.mime.protected import protected_entity_pieces, split_for_protection
from tests.conftest import SAMPLE_MESSAGE, vector_path

GARBAGE = bytes((index * 73 + 41) % 256 for index in range(600))


@pytest.mark.parametrize(
    "raw",
    [
        SAMPLE_MESSAGE,
        b"Subject: folded\n over two lines\n\tand a tab\n\nbody\n",
        b"Subject : obsolete space before the colon\r\n\r\nbody\r\n",
        b"X-Empty:\nContent-Type: text/plain\n\nbody",
        b"\nno header section at all\n",
        b"Subject: header only, no body",
        "Subject: caf\u00e9 (UTF-8, RFC 6532)\n\nbody\n".encode(),
    ],
)
def test_messages_pass(raw: bytes) -> None:
    """Fields, continuations, obsolete spacing, empty and header-only sections all pass."""
    check_header_section(split_entity(raw))


@pytest.mark.parametrize(
    ("raw", "line"),
    [
        (b" starts with a continuation: no field before\n\nbody\n", 1),
        (b"Subject: fine\nFrom: fine\nthis line is no field\n\nbody\n", 3),
        (b"Subject: fine\nBad Name: a space in the field name\n\nbody\n", 2),
        (b"Subject: fine\n: no name\n\nbody\n", 2),
        (b"From sender@example.com Tue Aug 29 10:00:00 2023\nSubject: x\n\nbody\n", 1),
    ],
)
def test_lines_that_are_no_field_are_refused(raw: bytes, line: int) -> None:
    """The error names the first bad line, by number and a short excerpt."""
    with pytest.raises(MalformedMessageError, match=rf"not RFC 5322: line {line} \(b'"):
        check_header_section(split_entity(raw))


def test_random_bytes_are_not_38_header_lines() -> None:
    """Random bytes with a ':' in the first line used to become header fields; now refused."""
    with pytest.raises(MalformedMessageError, match="is neither a 'Name: value' field"):
        protected_entity_pieces(GARBAGE)
    with pytest.raises(MalformedMessageError):
        split_for_protection(GARBAGE)


def test_excerpt_is_short_and_printable() -> None:
    """A long binary line is shown as a bounded repr, never raw bytes."""
    with pytest.raises(MalformedMessageError) as raised:
        check_header_section(split_entity(b"Subject: a\n" + bytes(range(1, 9)) * 40 + b"\n\nb"))
    message = str(raised.value)
    assert message.isprintable() and len(message) < 300 and message.count("...") == 1


@pytest.mark.parametrize("operation", ["sign", "encrypt", "sign_encrypt"])
def test_engine_refuses_to_protect_random_bytes(smime: SMIME, operation: str) -> None:
    """sign, encrypt and sign_encrypt all raise MalformedMessageError for random bytes."""
    calls = {
        "sign": lambda: smime.sign(GARBAGE, signer="rsa2048@test.example"),
        "encrypt": lambda: smime.encrypt(GARBAGE, recipients=["p256@test.example"]),
        "sign_encrypt": lambda: smime.sign_encrypt(
            GARBAGE, signer="rsa2048@test.example", recipients=["p256@test.example"]
        ),
    }
    with pytest.raises(MalformedMessageError, match="not RFC 5322"):
        calls[operation]()


@pytest.mark.vectors
def test_every_vector_mail_passes_and_rt_mails_still_verify_leniently() -> None:
    """Real mail passes the check; verify does not apply it (a garbage line is tolerated)."""
    rt = vector_path("request-tracker")
    for path in sorted((rt / "mails").glob("*.eml")):
        check_header_section(split_entity(path.read_bytes()))
    mail = (rt / "mails" / "1-signed.eml").read_bytes()
    tolerant = mail.replace(b"\nSubject:", b"\nthis is no field\nSubject:", 1)
    with pytest.raises(MalformedMessageError):
        check_header_section(split_entity(tolerant))
    assert SMIME(Config(accept_untrusted_cas=True)).verify(tolerant).ok


def test_a_field_name_reads_the_same_for_every_question() -> None:
    """White space before the colon: the same field for fields() and for the content type."""
    from smimecore.mime.entity import split_entity

    entity = split_entity(
        b'Content-Type : multipart/signed; protocol="application/pkcs7-signature"; boundary=b\r\n'
        b"From : a@example.com\r\nfrom: b@example.com\r\n\r\nbody\r\n"
    )
    assert entity.content_type == "multipart/signed"
    assert entity.parameter("boundary") == "b"
    assert entity.fields("From") == ["a@example.com", "b@example.com"]


_LINES = st.sampled_from(
    [b"Subject: x", b"X-A : y", b" folded", b"\tfolded", b"", b"no colon", b"Bad Name: z",
     b"caf\xc3\xa9: v", b":", b"N:", b" ", b"\r", b"A:\rb", b"\x00: c", b"Z:\xff"]
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.lists(_LINES, max_size=8), st.sampled_from([b"\n", b"\r\n", b"\r"]))
def test_the_check_refuses_exactly_what_the_grammar_refuses(
    lines: list[bytes], line_break: bytes
) -> None:
    """Answered from the entity's fields when they all start with a name, else by the one
    regular expression: the answer and its line number are the grammar's."""
    raw = line_break.join(lines) + line_break * 2 + b"body"
    try:
        entity = split_entity(raw)
    except MalformedMessageError:
        return  # not a message at all: nothing to check
    if not entity.header_block:
        return
    whole = _HEADER_SECTION.match(entity.header_block)
    expected_ok = whole is not None and whole.end() == len(entity.header_block)
    try:
        check_header_section(entity)
    except MalformedMessageError:
        assert not expected_ok
    else:
        assert expected_ok

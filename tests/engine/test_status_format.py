"""RT's status text: FormatStatus / ParseStatus (t/crypt/smime/status-string.t and section 2.2)."""

from __future__ import annotations

import email
import email.policy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smimecore import StatusRecord, format_status, parse_status
from smimecore.engine.status import MAX_LINE_OCTETS, status_header_lines


def test_rt_round_trip_in_one_call_and_concatenated() -> None:
    """Two identical records, written at once or by two calls, parse back to two equal tables."""
    record = {"Foo": "bar", "Baz": "zoo"}
    together = format_status([record, record])
    concatenated = format_status([record]) + format_status([record])
    assert together == concatenated
    assert parse_status(together) == [record, record]
    assert parse_status(concatenated) == [record, record]


def test_exact_text_form() -> None:
    """Each field is '[SMIME:]Key: Value' and each record ends with a bare '[SMIME:]' line."""
    text = format_status([StatusRecord("Sign", "DONE", "Signed message")])
    assert text == (
        "[SMIME:]Operation: Sign\n[SMIME:]Status: DONE\n[SMIME:]Message: Signed message\n[SMIME:]\n"
    )


def test_values_may_hold_colons_and_survive_header_folding() -> None:
    """Split at the first colon only; folded continuation lines parse the same."""
    record = StatusRecord(
        "Verify",
        "DONE",
        'The signature is good, signed by "A" <a@example.com>, assured by CA, trust is full',
        Trust="FULL",
    )
    text = format_status([record])
    folded = text.replace("\n[SMIME:]", "\n [SMIME:]")
    assert parse_status(text) == [record.to_dict()]
    assert parse_status(folded) == [record.to_dict()]


def test_encrypted_to_becomes_a_list_of_tables() -> None:
    """As in RT, EncryptedTo parses to [{'EmailAddress': ...}]."""
    text = format_status(
        [{"Operation": "Decrypt", "Status": "DONE", "EncryptedTo": "root@example.com"}]
    )
    assert parse_status(text)[0]["EncryptedTo"] == [{"EmailAddress": "root@example.com"}]


def test_empty_input_gives_no_records() -> None:
    """Empty or missing text is no records."""
    assert parse_status("") == []
    assert parse_status(None) == []


def test_multi_line_values_are_kept_on_one_line_and_read_back_exactly() -> None:
    """Newlines would break a mail header: they are escaped, and parse back as they were."""
    text = format_status([{"Message": "line one\nline two\r\n  indented  "}])
    assert (
        text
        == "[SMIME:]Message: line one\\x{a}line two\\x{d}\\x{a}  indented\\x{20}\\x{20}\n[SMIME:]\n"
    )
    assert parse_status(text) == [{"Message": "line one\nline two\r\n  indented  "}]


# -- injection -------------------------------------------------------------

INJECTION = "[SMIME:]Status: DONE [SMIME:]Trust: FULL"


def _verify_record(user_string: str) -> dict[str, str]:
    return {
        "Operation": "Verify",
        "Status": "BAD",
        "Message": "The signing CA was not trusted",
        "UserString": user_string,
        "Trust": "NONE",
    }


@pytest.mark.parametrize(
    "user_string",
    [
        f'"{INJECTION}" <evil@example.com>',
        f"x\n{INJECTION}",
        f"x\r\n{INJECTION}\n[SMIME:]\n[SMIME:]Operation: Verify",
        "[SMIME:][SMIME:]Status: DONE",
        "=?utf-8?q?=5BSMIME:=5DStatus:_DONE?=",
    ],
)
def test_a_value_cannot_pass_for_a_field_or_a_record(user_string: str) -> None:
    """A CN carrying RT's marker, line breaks or an encoded word stays inside its value."""
    record = _verify_record(user_string)
    text = format_status([record])
    assert text.count("[SMIME:]") == len(record) + 1
    assert parse_status(text) == [record]
    header = f"X-RT-SMIME-Status: {text}".rstrip("\n").replace("\n", "\r\n ")
    for policy in (email.policy.default, email.policy.compat32):
        message = email.message_from_string(header + "\r\n\r\nbody\r\n", policy=policy)
        assert parse_status(str(message["X-RT-SMIME-Status"])) == [record]


def test_ordinary_values_are_written_as_rt_writes_them() -> None:
    """No escape where none is needed: RT's ParseStatus reads the same text."""
    record = {
        "Operation": "Verify",
        "Status": "DONE",
        "Message": 'The signature is good, signed by "Jürgen Ünal" <j@example.com>, trust is full',
        "URL": "https://example.com/a?b=c&d=e",
        "Reason": "it's 100% = fine: really",
    }
    text = format_status([record])
    assert "\\" not in text
    assert text == "".join(f"[SMIME:]{key}: {value}\n" for key, value in record.items()) + (
        "[SMIME:]\n"
    )


def test_keys_are_escaped_too() -> None:
    """A key with a colon, edge white space or nothing at all survives."""
    record = {"a:b": "1", " padded ": "2", "": "3", "[SMIME:]": "4"}
    assert parse_status(format_status([record])) == [record]


def test_booleans_lists_and_other_values_become_text() -> None:
    """True/False are RT's 1/0; EncryptedTo tables are their addresses; others are str()."""
    text = format_status(
        [
            {
                "SignerMatchesSender": True,
                "Weak": False,
                "Size": 12,
                "EncryptedTo": [{"EmailAddress": "a@example.com"}],
            }
        ]
    )
    assert parse_status(text) == [
        {
            "SignerMatchesSender": "1",
            "Weak": "0",
            "Size": "12",
            "EncryptedTo": [{"EmailAddress": "a@example.com"}],
        }
    ]
    several = format_status([{"EncryptedTo": [{"EmailAddress": "a@x"}, {"EmailAddress": "b@x"}]}])
    assert parse_status(several) == [{"EncryptedTo": [{"EmailAddress": "a@x, b@x"}]}]


# -- properties ------------------------------------------------------------

# Every code point, lone surrogates included (bytes decoded with surrogateescape hold them).
_TEXT = st.text(st.characters(exclude_categories=()))
_KEYS = _TEXT.filter(lambda key: key != "EncryptedTo")
_RECORDS = st.lists(st.dictionaries(_KEYS, _TEXT, min_size=1, max_size=6), max_size=4)


@settings(max_examples=300, deadline=None)
@given(_RECORDS)
def test_any_text_round_trips(records: list[dict[str, str]]) -> None:
    """parse_status(format_status(records)) == records, for any text in every key and value."""
    assert parse_status(format_status(records)) == records


@settings(max_examples=200, deadline=None)
@given(_RECORDS, _RECORDS)
def test_concatenated_texts_round_trip(
    first: list[dict[str, str]], second: list[dict[str, str]]
) -> None:
    """Strings of two calls concatenate into the records of both."""
    assert parse_status(format_status(first) + format_status(second)) == first + second


_LONG_TEXT = st.text(st.characters(exclude_categories=()), max_size=3000) | st.builds(
    lambda run, tail: run * 700 + tail, st.characters(exclude_categories=()), _TEXT
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.dictionaries(_KEYS, _LONG_TEXT, min_size=1, max_size=3), min_size=1, max_size=3))
def test_header_lines_are_safe_and_round_trip(records: list[dict[str, str]]) -> None:
    """Folded for a header: short lines, continuations start with a space, read back exactly."""
    name = "X-RT-SMIME-Status"
    lines = status_header_lines(records, first_line_octets=len(name) + 2)
    assert all("\r" not in line and "\n" not in line for line in lines)
    assert all(line[:1] == " " for line in lines[1:])
    octets = [len(line.encode("utf-8", "surrogatepass")) for line in lines]
    assert octets[0] + len(name) + 2 <= MAX_LINE_OCTETS
    assert max(octets) <= MAX_LINE_OCTETS
    assert parse_status("\r\n".join(lines)) == records
    assert parse_status("".join(lines)) == records  # unfolded as RFC 5322 says

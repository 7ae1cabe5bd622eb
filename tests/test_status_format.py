"""RT's status text: FormatStatus / ParseStatus (t/crypt/smime/status-string.t and section 2.2)."""

from __future__ import annotations

from smimecore import StatusRecord, format_status, parse_status


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


def test_multi_line_values_are_kept_on_one_line() -> None:
    """Newlines in a value would break a mail header; they become spaces."""
    text = format_status([{"Message": "line one\nline two"}])
    assert "\n" not in text.split("[SMIME:]Message: ", 1)[1].rstrip("\n").split("\n[SMIME:]")[0]
    assert parse_status(text) == [{"Message": "line one line two"}]

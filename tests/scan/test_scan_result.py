"""A result's JSON text and summary tally, made in the workers without the dict, are exactly
those of the dict: ``json.dumps`` of :meth:`ScanResult.to_dict`, and ``tally`` of it; the dict
the workers make directly is the result's."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smimecore import Config
from smimecore.scan.result import (
    ScanResult,
    encode,
    encode_bytes,
    error_dict,
    failure,
    from_error,
    from_records,
    header_section,
    message_headers,
    records_dict,
)
from smimecore.scan.sources import Location, find_messages
from smimecore.scan.summary import Summary, tally
from smimecore.scan.worker import Batch, ScanSpec, scan_location
from tests.scan_corpus import plain

# Text a sender controls: quotes, backslashes, control characters, any Unicode.
texts = st.text(max_size=20)
maybe_texts = st.none() | texts
# What records hold: smimecore writes no floats into them (see test_a_float_keeps_its_value).
scalars = st.none() | st.booleans() | st.integers() | texts
records = st.dictionaries(texts, scalars, max_size=6)

locations = st.builds(
    Location,
    kind=st.sampled_from(["mbox", "maildir", "eml"]),
    file=texts,
    index=st.none() | st.integers(min_value=0),
    key=maybe_texts,
    offset=st.integers(min_value=0),
    length=st.integers(min_value=-1),
    compressed=st.booleans(),
)

results = st.builds(
    ScanResult,
    source=texts,
    location=locations,
    message_id=maybe_texts,
    date=maybe_texts,
    year=st.none() | st.integers(min_value=1900, max_value=2200),
    sender=maybe_texts,
    outcome=st.sampled_from(["trusted", "verified", "decrypted", "plain", "failed", "error"]),
    ok=st.booleans(),
    signed=st.booleans(),
    verified=st.booleans(),
    trusted=st.booleans(),
    encrypted=st.booleans(),
    decrypted=st.booleans(),
    signer=maybe_texts,
    trust=maybe_texts,
    coverage=maybe_texts,
    part=maybe_texts,
    authenticated=maybe_texts,
    signing_time=maybe_texts,
    algorithms=st.lists(texts, max_size=3).map(tuple),
    weak_algorithms=st.lists(texts, max_size=2).map(tuple),
    reason=maybe_texts,
    errors=st.lists(texts, max_size=2).map(tuple),
    statuses=st.lists(records | records.map(MappingProxyType), max_size=3).map(tuple),
)


def dumps(data: Mapping[str, Any]) -> str:
    """The JSON text every result had before the workers wrote it themselves."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


@settings(max_examples=400, deadline=None)
@given(results)
def test_json_text_is_that_of_the_dict(result: ScanResult) -> None:
    assert result.to_json() == dumps(result.to_dict()) == encode(result.to_dict())
    assert result.to_json_bytes() == result.to_json().encode("utf-8", "surrogatepass")


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(texts, scalars | st.lists(scalars, max_size=3), max_size=8))
def test_json_text_is_the_standard_librarys_with_or_without_orjson(data: dict[str, Any]) -> None:
    """orjson, when installed, writes the text the standard library writes (and the standard
    library writes what orjson refuses: lone surrogates, integers past 64 bits)."""
    assert encode(data) == dumps(data)
    assert json.loads(encode(data)) == data
    assert encode_bytes(data) == dumps(data).encode("utf-8", "surrogatepass")
    assert json.loads(encode_bytes(data)) == data


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_float_keeps_its_value(number: float) -> None:
    """A finite float, which only a caller's own records could hold, keeps its value (orjson
    may spell it otherwise than ``repr``: ``1e16`` for ``1e+16``)."""
    assert json.loads(encode({"Value": number})) == {"Value": number}


@settings(max_examples=400, deadline=None)
@given(results)
def test_tally_is_that_of_the_dict_and_of_the_stored_text(result: ScanResult) -> None:
    assert result.tally() == tally(result.to_dict()) == tally(json.loads(result.to_json()))


@settings(max_examples=300, deadline=None)
@given(results)
def test_a_result_is_made_again_from_its_dict(result: ScanResult) -> None:
    data = result.to_dict()
    assert ScanResult.from_dict(data).to_dict() == data
    assert ScanResult.from_dict(json.loads(result.to_json())).to_json() == result.to_json()


# Records as verify_decrypt writes them: the fields the classification reads, any values.
verify_records = st.fixed_dictionaries(
    {"Operation": st.sampled_from(["Verify", "Decrypt", "KeyCheck", "Unwrap"])},
    optional={
        key: st.sampled_from(["DONE", "ERROR", "BAD", ""]) | maybe_texts
        for key in ("Status", "Trust", "UserString", "DigestAlgorithm", "SignatureAlgorithm")
    }
    | {key: maybe_texts for key in ("Cipher", "KeyEncryption", "Coverage", "Part", "Authenticated")}
    | {"WeakAlgorithms": st.sampled_from(["", "sha1", "sha1, rc2-40", " ,md5"]) | maybe_texts},
)
headers = st.fixed_dictionaries(
    {"message_id": maybe_texts, "date": maybe_texts, "year": st.none(), "sender": maybe_texts}
)


@settings(max_examples=300, deadline=None)
@given(locations, headers, st.lists(verify_records | records, max_size=4), st.booleans(), texts)
def test_the_dicts_made_directly_are_the_results(
    location: Location,
    fields_: dict[str, Any],
    found: list[dict[str, Any]],
    ok: bool,
    message: str,
) -> None:
    data = records_dict(location, fields_, found, ok)
    assert data == from_records(location, fields_, found, ok).to_dict()
    assert list(data) == list(failure(location, "crash", "gone").to_dict())
    assert data["statuses"] == found  # copies: the caller's records are not the result's
    assert not any(copy is record for copy, record in zip(data["statuses"], found, strict=True))
    assert data["signed"] == any(record.get("Operation") == "Verify" for record in found)
    assert not data["trusted"] or data["verified"]
    assert not data["verified"] or data["signed"]
    assert encode(data) == dumps(data)
    made = error_dict(location, fields_, "MalformedMessageError", message, found)
    assert made == from_error(location, fields_, "MalformedMessageError", message, found).to_dict()
    assert made["outcome"] == "failed" and made["reason"]


def test_an_error_the_records_already_say_is_listed_once() -> None:
    location = Location("eml", "/x.eml")
    record = {
        "Operation": "VerifyDecrypt",
        "Status": "ERROR",
        "Message": "There was an error processing the message: no header section",
    }
    said = error_dict(location, {}, "MalformedMessageError", "no header section", [record])
    assert said["errors"] == [
        "VerifyDecrypt ERROR: There was an error processing the message: no header section"
    ]
    other = error_dict(location, {}, "MalformedMessageError", "too deep", [record])
    assert other["errors"][1:] == ["too deep"]
    assert error_dict(location, {}, "SmimeError", "gone", [])["errors"] == ["gone"]


def test_to_dict_has_every_field_in_order() -> None:
    """``to_dict`` spells the fields out (``to_json`` is made from it): a new field goes there."""
    names = [{"sender": "from"}.get(item.name, item.name) for item in fields(ScanResult)]
    result = failure(Location("eml", "/x.eml"), "crash", "gone")
    assert list(result.to_dict()) == names
    assert list(json.loads(result.to_json())) == names


def test_batch_counts_like_the_summary(tmp_path: Path) -> None:
    """A batch's texts and tallies give the summary of its results' dicts."""
    for number in range(4):
        (tmp_path / f"{number}.eml").write_bytes(plain(number, 2019 + number % 2))
    (tmp_path / "broken.eml").write_bytes(b"\x00\x01 no header at all")
    spec = ScanSpec(Config())
    scanned = [scan_location(location, spec) for location in find_messages([tmp_path])]
    batch = Batch.of(scanned)
    assert batch.texts == [dumps(result.to_dict()).encode() for result in scanned]
    summary = Summary()
    summary.merge(batch.tallies)
    assert summary == Summary.of(result.to_dict() for result in scanned)
    assert sum(batch.tallies.values()) == 5 and Counter(summary.outcomes) == {
        "plain": 4,
        "failed": 1,
    }


_HEADER_CASES = [
    b"From: a@example.org\r\nDate: Mon, 3 Jun 2024 10:00:00 +0000\r\n\r\nbody\r\n",
    b"Message-ID: <1@x>\nFrom: =?utf-8?q?J=C3=B6rg?= <j@x>\n\nbody\n",
    b"no colon on the first line\nFrom: b@example.org\n\nbody\n",
    b"From: header only, no body",
    b"\nFrom: in the body, not a field\n",
    b"",
    b"not a header at all",
    b"From : spaced@example.org\n Folded\n\n",
]


@pytest.mark.parametrize("message", _HEADER_CASES)
def test_header_section_reads_as_the_message(message: bytes) -> None:
    """A worker sends the parent only the header section; it reads as the whole message."""
    assert message_headers(header_section(message)) == message_headers(message)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([b"From: x", b"Date: 1 Jan 2020", b" cont", b"", b"junk", b"\r"])))
def test_header_section_reads_as_the_message_whatever_the_lines(lines: list[bytes]) -> None:
    message = b"\n".join(lines)
    assert message_headers(header_section(message)) == message_headers(message)

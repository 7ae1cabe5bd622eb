"""The DER/BER cursor: definite and indefinite lengths, strings, limits, and its errors."""

from __future__ import annotations

import pytest

from smimecore.errors import MalformedCMSError
from smimecore.pki.der import (
    TAG_INTEGER,
    TAG_OCTET_STRING,
    TAG_SEQUENCE,
    Cursor,
    ReaderLimits,
    encode_tlv,
    tag_name,
)


def _read_sequence_of_integers(data: bytes) -> list[int]:
    cursor = Cursor(data)
    values = []
    cursor.enter(TAG_SEQUENCE, "list")
    while cursor.more():
        values.append(cursor.integer("value"))
    cursor.leave("list")
    cursor.finish("list")
    assert [
        Cursor(child).integer("value") for child in Cursor(data).children(TAG_SEQUENCE, "list")
    ] == values
    return values


@pytest.mark.parametrize(
    "data",
    [
        bytes.fromhex("3006020101020102"),  # DER
        bytes.fromhex("30800201010201020000"),  # indefinite
        bytes.fromhex("308106020101020102"),  # a long form DER would not use
        bytes.fromhex("3084000000060201010201 02".replace(" ", "")),
    ],
)
def test_definite_and_indefinite_lengths_read_alike(data: bytes) -> None:
    assert _read_sequence_of_integers(data) == [1, 2]


def test_nested_indefinite_elements_are_walked_once() -> None:
    inner = b"\x30\x80" + encode_tlv(TAG_INTEGER, b"\x05") + b"\x00\x00"
    outer = b"\x30\x80" + inner + inner + b"\x00\x00"
    cursor = Cursor(outer)
    tag, start, stop = cursor.head("outer")
    assert (tag, start, stop, cursor.pos) == (TAG_SEQUENCE, 2, len(outer) - 2, len(outer))
    cursor = Cursor(outer)
    cursor.enter(TAG_SEQUENCE, "outer")
    for _ in range(2):
        cursor.enter(TAG_SEQUENCE, "inner")
        assert cursor.integer("value") == 5
        cursor.leave("inner")
    cursor.leave("outer")
    cursor.finish("outer")


def test_octets_are_a_view_and_ber_segments_are_joined() -> None:
    data = encode_tlv(TAG_OCTET_STRING, b"abc")
    view = Cursor(data).octets_view("value")
    assert isinstance(view, memoryview) and view.obj is data and bytes(view) == b"abc"
    segments = b"\x24\x80" + encode_tlv(4, b"ab") + b"\x24\x80" + encode_tlv(4, b"c") + b"\x00\x00"
    assert Cursor(segments + b"\x00\x00").octets("value") == b"abc"
    implicit = b"\xa0\x80" + encode_tlv(4, b"xy") + b"\x00\x00"
    assert Cursor(implicit).octets("value", 0x80) == b"xy"


def test_a_definite_length_constructed_string_is_refused() -> None:
    """asn1crypto refuses them too; BER encoders write indefinite lengths."""
    with pytest.raises(MalformedCMSError, match="expected OCTET STRING, got constructed OCTET"):
        Cursor(b"\x24\x03" + encode_tlv(4, b"a")).octets("value")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "^value: missing"),
        (b"\x02", "^value: the data is truncated$"),
        (b"\x02\x05\x01", r"^value: the data is truncated \(longer than its container\)$"),
        (b"\x02\x80\x00\x00", "^value: a primitive element has an indefinite length$"),
        (b"\x02\x00", "^value: an INTEGER has no contents$"),
        (b"\x04\x01\x01", "^value: expected INTEGER, got OCTET STRING$"),
        (b"\x00\x00", r"^value: missing \(end-of-contents found\)$"),
        (b"\x1f\x80\x01\x00", "^value: unreadable tag$"),
        (b"\x1f\x05\x00", "^value: unreadable tag$"),
    ],
)
def test_errors_name_the_field(data: bytes, message: str) -> None:
    with pytest.raises(MalformedCMSError, match=message):
        Cursor(data).integer("value")


def test_leaving_with_fields_left_and_trailing_data_are_refused() -> None:
    cursor = Cursor(bytes.fromhex("3006020101020102"))
    cursor.enter(TAG_SEQUENCE, "pair")
    cursor.integer("first")
    with pytest.raises(MalformedCMSError, match=r"^pair: unexpected INTEGER after its fields$"):
        cursor.leave("pair")
    cursor = Cursor(bytes.fromhex("020101ff"))
    cursor.integer("value")
    with pytest.raises(MalformedCMSError, match=r"^value: unexpected data after its end$"):
        cursor.finish("value")


def test_end_of_contents_missing() -> None:
    with pytest.raises(MalformedCMSError, match="end-of-contents missing"):
        Cursor(b"\x30\x80\x02\x01\x01").head("list")
    cursor = Cursor(b"\x30\x80\x02\x01\x01")
    with pytest.raises(MalformedCMSError, match="end-of-contents missing"):
        cursor.enter(TAG_SEQUENCE, "list")


def test_high_tag_numbers_are_read() -> None:
    data = b"\x9f\x82\x00\x01\x07"  # [256] primitive
    tag, start, stop = Cursor(data).head("value")
    assert (tag_name(tag), bytes(data[start:stop])) == ("[256] (primitive)", b"\x07")


def test_depth_and_counts_are_limited() -> None:
    deep = b"\x30\x80" * 10 + b"\x00\x00" * 10
    Cursor(deep, ReaderLimits(max_depth=10)).head("deep")
    with pytest.raises(MalformedCMSError, match=r"^deep: nested too deeply$"):
        Cursor(deep, ReaderLimits(max_depth=9)).head("deep")
    definite = bytes.fromhex("3004300230") + b"\x00"
    cursor = Cursor(definite[:-1] + b"\x00", ReaderLimits(max_depth=2))
    cursor.enter(TAG_SEQUENCE, "a")
    cursor.enter(TAG_SEQUENCE, "b")
    with pytest.raises(MalformedCMSError, match=r"^c: nested too deeply$"):
        cursor.enter(TAG_SEQUENCE, "c")
    with pytest.raises(MalformedCMSError, match=r"^list: more than 1 elements$"):
        Cursor(bytes.fromhex("3006020101020102")).children(TAG_SEQUENCE, "list", 1)


@pytest.mark.parametrize(
    ("tag", "name"),
    [
        (0x02, "INTEGER"),
        (0x30, "SEQUENCE"),
        (0x10, "primitive SEQUENCE"),
        (0x24, "constructed OCTET STRING"),
        (0xA0, "[0] (constructed)"),
        (0x81, "[1] (primitive)"),
        (0x41, "[APPLICATION 1] (primitive)"),
        (None, "the end of its container"),
    ],
)
def test_tag_names(tag: int | None, name: str) -> None:
    assert tag_name(tag) == name

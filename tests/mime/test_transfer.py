"""Transfer encoding: 64-column base64 across chunk boundaries, and CRLF canonicalisation."""

from __future__ import annotations

import binascii
import os

import pytest

from smimecore.mime.transfer import canonical_crlf, encode_base64_lines

CHUNK = 48 * 4096


@pytest.mark.parametrize("size", [1, 47, 48, 49, 100, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5])
def test_base64_lines_are_64_columns_and_decode_back(size: int) -> None:
    """Every line but the last has 64 columns, lines end in CRLF, and the data comes back."""
    data = os.urandom(size)
    encoded = encode_base64_lines(data)
    lines = encoded.split(b"\r\n")
    assert lines[-1] == b""
    assert all(len(line) == 64 for line in lines[:-2])
    assert 0 < len(lines[-2]) <= 64
    assert binascii.a2b_base64(encoded.replace(b"\r\n", b"")) == data


def test_empty_input_encodes_to_nothing() -> None:
    """No data, no lines."""
    assert encode_base64_lines(b"") == b""


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (b"a\nb\n", b"a\r\nb\r\n"),
        (b"a\r\nb\r\n", b"a\r\nb\r\n"),
        (b"a\rb\r\nc\n", b"a\r\nb\r\nc\r\n"),
        (b"no line end", b"no line end"),
    ],
)
def test_canonical_crlf(given: bytes, expected: bytes) -> None:
    """LF, CR and CRLF all become CRLF; canonical input comes back as is."""
    assert canonical_crlf(given) == expected

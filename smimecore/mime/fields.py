"""Removing and adding header fields in place, in the message and in every MIME part it shows.

Used for fields a reader trusts (the status header): every copy a sender
wrote is removed, wherever a mail reader might find one, before the one
true field is added.  Nothing else changes: the other fields and bodies
keep their exact bytes, line endings included.

A field counts whatever the letter case of its name and with white space
before its colon (RFC 5322's obsolete syntax, which some readers accept),
with its continuation lines.  Lines end at CR LF, a lone LF or a lone CR,
as Python's ``email`` package ends them.  Parts are found by a lenient
reading of the boundaries (every line starting with ``--boundary``
delimits a part, closed or not), so that a part some reader sees is never
missed; ``message/*`` bodies are searched as messages.

Content that is still signed is left byte for byte: the first part of a
``multipart/signed`` that is still in the message (its signature did not
verify, or was never checked) keeps its fields, so that the signature can
still be checked by whoever receives the message; a verified one is no
longer there, since the message then shows its unwrapped content.  The
header of the ``multipart/signed`` itself and of its signature part are
not signed, and are cleaned.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from smimecore.errors import MalformedMessageError
from smimecore.mime.entity import split_entity
from smimecore.mime.signed import multipart_spans
from smimecore.mime.walk import MAX_MULTIPART_DEPTH

__all__ = ["with_field", "without_field"]

_Edit = tuple[int, int, bytes]


def without_field(raw: bytes, name: str) -> bytes:
    """``raw`` with every ``name`` field removed from its header and from every part's header."""
    pattern = _field_start(name)
    edits: list[_Edit] = []
    _walk(raw, 0, len(raw), pattern, edits, 0)
    if not edits:
        return raw
    pieces: list[bytes] = []
    position = 0
    for start, end, replacement in edits:
        pieces += [raw[position:start], replacement]
        position = end
    pieces.append(raw[position:])
    return b"".join(pieces)


def with_field(raw: bytes, name: str, lines: Sequence[str]) -> bytes:
    """``raw`` with a ``name`` field added at the end of its header, holding ``lines``.

    ``lines`` are the field's lines after ``name: ``: every one but the
    first must start with a space or a tab, none may hold CR or LF, and
    none may exceed RFC 5322's 998 octets (``ValueError`` otherwise).  The
    field's line endings are those of the message's header.
    """
    encoded = [line.encode("utf-8") for line in lines] or [b""]
    encoded[0] = _field_start_bytes(name) + b": " + encoded[0]
    for index, line in enumerate(encoded):
        if b"\r" in line or b"\n" in line:
            raise ValueError("a header line may not hold CR or LF")
        if len(line) > 998:
            raise ValueError(f"a header line of {len(line)} octets exceeds 998")
        if index and line[:1] not in (b" ", b"\t"):
            raise ValueError("a continuation line must start with white space")
    header = split_entity(raw).header_block
    newline = _line_ending(header or raw[:2])
    lead = newline if header and not header.endswith((b"\n", b"\r")) else b""
    field = lead + newline.join(encoded) + newline
    return raw[: len(header)] + field + raw[len(header) :]


def _line_ending(sample: bytes) -> bytes:
    """The line ending ``sample`` ends (a header) or starts (an empty header's blank line) with."""
    if sample.endswith(b"\r\n") or sample.startswith(b"\r\n"):
        return b"\r\n"
    return b"\n" if sample.endswith(b"\n") or sample.startswith(b"\n") else b"\r\n"


def _field_start_bytes(name: str) -> bytes:
    encoded = name.encode("ascii")
    if not encoded or not all(33 <= octet <= 126 and octet != ord(":") for octet in encoded):
        raise ValueError(f"{name!r} is not a header field name")
    return encoded


def _field_start(name: str) -> re.Pattern[bytes]:
    """A line that starts a ``name`` field (white space around the name allowed)."""
    return re.compile(rb"[ \t]*" + re.escape(_field_start_bytes(name)) + rb"[ \t]*:", re.I)


def _walk(
    raw: bytes,
    start: int,
    end: int,
    pattern: re.Pattern[bytes],
    edits: list[_Edit],
    depth: int,
) -> None:
    if depth > MAX_MULTIPART_DEPTH:
        raise MalformedMessageError(f"parts are nested deeper than {MAX_MULTIPART_DEPTH}")
    try:
        entity = split_entity(memoryview(raw)[start:end])
    except MalformedMessageError:
        if depth == 0:
            raise
        return  # a part without a header has no field to remove
    cleaned = _without_in_header(entity.header_block, pattern)
    if cleaned is not None:
        edits.append((start, start + len(entity.header_block), cleaned))
    body_start = start + entity.body_start
    content_type = entity.content_type
    if content_type.startswith("message/"):
        _walk(raw, body_start, end, pattern, edits, depth + 1)
        return
    boundary = entity.parameter("boundary") if content_type.startswith("multipart/") else None
    if not boundary:
        return
    delimiter = boundary.encode("utf-8", "surrogateescape")
    signed = _signed_content(raw, delimiter, body_start, end, content_type)
    for part_start, part_end in _lenient_parts(raw, delimiter, body_start, end):
        if signed is not None and signed[0] <= part_start and part_end <= signed[1]:
            continue
        _walk(raw, part_start, part_end, pattern, edits, depth + 1)


def _without_in_header(block: bytes, pattern: re.Pattern[bytes]) -> bytes | None:
    """The header block without the fields ``pattern`` starts; ``None`` when there is none."""
    kept: list[bytes] = []
    dropping = changed = False
    field_open = False
    for line in block.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and field_open:
            pass  # a continuation line goes with its field
        else:
            # A field's first line, or a continuation with no field before it (after the
            # start or an empty line): readers differ on those, so they are judged alone.
            dropping = pattern.match(line) is not None
            field_open = line.strip(b"\r\n") != b""
        if dropping:
            changed = True
        else:
            kept.append(line)
    return b"".join(kept) if changed else None


def _lenient_parts(raw: bytes, boundary: bytes, start: int, end: int) -> list[tuple[int, int]]:
    """Every span between lines starting with ``--boundary`` (and after the last one)."""
    lines = list(_delimiter_lines(raw, b"--" + boundary, start, end))
    spans = []
    for index, (_, line_end) in enumerate(lines):
        if index + 1 < len(lines):
            part_end = lines[index + 1][0]
            part_end -= 2 if raw[part_end - 2 : part_end] == b"\r\n" else 1
        else:
            part_end = end
        if part_end > line_end:
            spans.append((line_end, part_end))
    return spans


def _delimiter_lines(
    raw: bytes, delimiter: bytes, start: int, end: int
) -> Iterator[tuple[int, int]]:
    """Where each line that starts with ``delimiter`` starts, and where the line after it does."""
    position = start
    while (found := raw.find(delimiter, position, end)) >= 0:
        position = found + len(delimiter)
        if raw[found - 1 : found] not in (b"\r", b"\n"):
            continue  # a multipart body starts after a line break, so found > 0 always
        line_break = _LINE_BREAK.search(raw, position, end)
        position = line_break.end() if line_break is not None else end
        yield found, position


_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


def _signed_content(
    raw: bytes, boundary: bytes, start: int, end: int, content_type: str
) -> tuple[int, int] | None:
    """Where a ``multipart/signed``'s signed first part is, as a verifier reads it."""
    if content_type != "multipart/signed":
        return None
    try:
        spans = multipart_spans(raw, boundary, start, end)
    except MalformedMessageError:
        return None  # no verifier accepts it: nothing there is signed
    return spans[0] if spans else None

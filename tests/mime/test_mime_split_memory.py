"""``split_entity`` remembers the last ``bytes`` it split: the same object gives the same
entity (so ``verify_decrypt`` and the scan read a message's header fields once), anything else
is split afresh."""

from __future__ import annotations

import pytest

from smimecore.errors import MalformedMessageError
from smimecore.mime.entity import split_entity

MESSAGE = b"From: a@example.org\nSubject: one\n\nbody\n"


def test_the_same_bytes_give_the_same_entity() -> None:
    first = split_entity(MESSAGE)
    assert split_entity(MESSAGE) is first
    assert first.field("Subject") == "one"


def test_other_bytes_are_split_afresh() -> None:
    split_entity(MESSAGE)
    other = MESSAGE.replace(b"one", b"two")
    assert split_entity(other).field("Subject") == "two"
    equal = bytes(bytearray(MESSAGE))  # equal, but another object
    assert equal is not MESSAGE
    again = split_entity(equal)
    assert again.header_block == split_entity(MESSAGE).header_block
    assert split_entity(MESSAGE).field("Subject") == "one"


def test_a_memoryview_is_never_remembered() -> None:
    buffer = bytearray(MESSAGE)
    view = memoryview(buffer)
    assert split_entity(view).field("Subject") == "one"
    buffer[buffer.index(b"one") : buffer.index(b"one") + 3] = b"six"  # the bytes behind it change
    assert split_entity(view).field("Subject") == "six"


def test_a_message_without_a_header_section_fails_every_time() -> None:
    for _ in range(2):
        with pytest.raises(MalformedMessageError, match="no header section"):
            split_entity(b"no header at all")

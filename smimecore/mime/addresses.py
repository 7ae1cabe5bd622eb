"""Addresses in header fields, and which of them name the sender.

The sender of a message is named by its top-level ``From:`` addresses, every
one of them, in every ``From:`` field; ``Sender:`` counts only when there is
no ``From:`` at all (Thunderbird's rule).  A signed part's own header
fields never count: whoever writes the mail writes them.
"""

from __future__ import annotations

import email.utils
import functools

from smimecore.mime.entity import RawEntity

__all__ = ["header_addresses", "sender_addresses"]


def header_addresses(entity: RawEntity, *names: str) -> list[str]:
    """The addresses in the given header fields of ``entity``, in order."""
    return list(_addresses_in(tuple(value for name in names for value in entity.fields(name))))


def sender_addresses(entity: RawEntity) -> tuple[str, ...]:
    """The lowercased, distinct sender addresses of a message's top-level header."""
    found = header_addresses(entity, "From") or header_addresses(entity, "Sender")
    return tuple(dict.fromkeys(address.lower() for address in found))


@functools.lru_cache(maxsize=256)
def _addresses_in(fields: tuple[str, ...]) -> tuple[str, ...]:
    """The addresses in address fields (the same senders write again and again)."""
    return tuple(address for _, address in email.utils.getaddresses(list(fields)) if address)

"""Passphrase lookup, following RT's ``GetPassphrase`` (RT::Crypt::Role).

Differences from RT, on purpose: addresses in a table match
case-insensitively, like keyring file names.
"""

from __future__ import annotations

from collections.abc import Mapping

from smimecore.config import PassphraseSpec, Purpose

__all__ = ["resolve_passphrase"]


def resolve_passphrase(spec: PassphraseSpec, address: str, purpose: Purpose) -> str | None:
    """The passphrase for ``address``'s key used for ``purpose``, or ``None``.

    A table entry that is itself a table is looked up by purpose, then
    ``""``, with no fallback to the top table's ``""`` entry (as in RT).
    Empty values fall through to the next fallback, as with Perl's ``||``.
    """
    if spec is None:
        return None
    if isinstance(spec, str):
        return spec or None
    if isinstance(spec, Mapping):
        entry = _lookup(spec, address)
        if isinstance(entry, Mapping):
            by_purpose = _lookup(entry, purpose)
            fallback = entry.get("")
            return _text(by_purpose) or _text(fallback)
        return _text(entry) or _top_fallback(spec)
    return spec(address, purpose) or None


def _lookup(table: Mapping[str, object], key: str) -> str | Mapping[str, str] | None:
    if key in table:
        value = table[key]
    else:
        folded = key.casefold()
        value = next((v for k, v in table.items() if k.casefold() == folded), None)
    if isinstance(value, str | Mapping):
        return value
    return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _top_fallback(table: Mapping[str, object]) -> str | None:
    fallback = table.get("")
    return fallback if isinstance(fallback, str) and fallback else None

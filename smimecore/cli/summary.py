"""The one line the command prints on stderr when a status record is not ``DONE``.

A record that says why its certificate was not trusted (``TrustReason``,
``TrustDetail``) gets the reason in words and, where one exists, the
option that accepts it::

    smimecore: Verify BAD: The signing CA was not trusted (the CA key is RSA-1024,
    below the 2048-bit minimum; --allow-weak-algorithms accepts it)

:data:`TRUST_HINTS` is the one table of those reasons.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["TRUST_HINTS", "failure_line", "one_line", "partial_line", "trust_hint"]


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) made one space."""
    return " ".join(text.split())


_PYHANKO_KEY_SIZE = re.compile(
    r"Key size (?P<bits>\d+) for algorithm (?P<algorithm>\w+).*?>= (?P<minimum>\d+)"
)
_OUR_KEY_SIZE = re.compile(
    r"the (?P<family>\w+) key of (?P<who>.+?) has (?P<bits>\d+) bits; "
    r"at least (?P<minimum>\d+) are required"
)
_MECHANISM = re.compile(r"disallowed signature mechanism (?P<mechanism>\w+)")
_VALIDITY = re.compile(
    r"because (?P<which>the .+?) (?P<what>expired|is not valid until) (?P<when>\S+ \S+)"
)


def _key_family(algorithm: str) -> str:
    for family in ("rsa", "dsa", "ec"):
        if family in algorithm.lower():
            return family.upper()
    return algorithm


def _weak_algorithm(detail: str) -> str:
    found = _PYHANKO_KEY_SIZE.search(detail)
    if found is not None:
        # pyhanko names the signature on a certificate: that signature is its issuer's.
        problem = (
            f"the CA key is {_key_family(found['algorithm'])}-{found['bits']}, "
            f"below the {found['minimum']}-bit minimum"
        )
    elif (ours := _OUR_KEY_SIZE.search(detail)) is not None:
        problem = (
            f"the key of {ours['who']} is {ours['family']}-{ours['bits']}, "
            f"below the {ours['minimum']}-bit minimum"
        )
    elif (mechanism := _MECHANISM.search(detail)) is not None:
        problem = f"a certificate of the chain is signed with {mechanism['mechanism']}"
    else:
        problem = "the chain uses a weak algorithm"
    return f"{problem}; --allow-weak-algorithms accepts it"


def _validity(default: str) -> Callable[[str], str]:
    def hint(detail: str) -> str:
        found = _VALIDITY.search(detail)
        problem = (
            f"{found['which']} {found['what']} {found['when']}"
            if found
            else f"a certificate of the chain {default}"
        )
        return f"{problem}; --validation-time signing checks it at the signing time"

    return hint


def _fixed(text: str) -> Callable[[str], str]:
    return lambda detail: text


def _with_detail(text: str) -> Callable[[str], str]:
    return lambda detail: f"{text}: {detail}" if detail else text


TRUST_HINTS: Mapping[str, Callable[[str], str]] = {
    "weak-algorithm": _weak_algorithm,
    "expired": _validity("has expired"),
    "not-yet-valid": _validity("is not valid yet"),
    "no-path": _fixed(
        "no chain of certificates leads to a CA of --ca-path; "
        "--accept-untrusted-cas accepts the signature as untrusted"
    ),
    "no-ca-path": _fixed(
        "no --ca-path is set; --accept-untrusted-cas accepts the signature as of unknown trust"
    ),
    "bad-chain-signature": _fixed("a certificate's signature in the chain does not verify"),
    "revoked": _fixed("the certificate is revoked"),
    "key-usage": _with_detail("the certificate may not be used for this"),
    "revocation-unavailable": _fixed(
        "whether the certificate is revoked could not be checked; "
        "--revocation-mode soft-fail accepts that"
    ),
}
"""Each ``TrustReason`` a record can carry, and how to say it (from its ``TrustDetail``)."""


def trust_hint(record: Mapping[str, Any]) -> str | None:
    """Why the record's certificate was not trusted, in words; ``None`` without a reason."""
    reason = record.get("TrustReason")
    if not reason:
        return None
    hint = TRUST_HINTS.get(str(reason))
    if hint is None:
        return f"trust reason {reason}"
    return hint(one_line(str(record.get("TrustDetail") or "")))


def failure_line(record: Mapping[str, Any]) -> str:
    """``smimecore: <Operation> <Status>: <Message> (<why>)`` for a record that is not DONE."""
    message = one_line(str(record["Message"]))
    line = f"smimecore: {record['Operation']} {record['Status']}: {message}"
    hint = trust_hint(record)
    return f"{line} ({hint})" if hint else line


def partial_line(statuses: Sequence[Mapping[str, Any]]) -> str:
    """The stderr line for a message of which only some parts are protected."""
    kinds = {"Verify": "signed", "Decrypt": "encrypted"}
    covered = [
        f"part {record.get('Part', '')} is {kinds.get(str(record.get('Operation')), 'protected')}"
        for record in statuses
        if record.get("Coverage") == "part"
    ]
    return (
        f"smimecore: {'; '.join(covered)}; the rest of the message is not protected "
        "(--accept-partial-protection accepts it)"
    )

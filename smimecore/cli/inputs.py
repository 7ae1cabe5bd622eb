"""What a command reads: its input (a file or stdin), certificate files, and usage errors."""

from __future__ import annotations

import sys
from pathlib import Path

from cryptography import x509

from smimecore.errors import MalformedCMSError
from smimecore.pki.certificate import load_certificates

__all__ = ["UsageError", "read_certificate", "read_input"]


class UsageError(Exception):
    """A problem with the command line itself (exit status 2)."""


def read_input(path: str | None) -> bytes:
    """The bytes of ``path``, or of stdin for ``None`` and ``-``; unreadable: a usage error."""
    if path is None or path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None


def read_certificate(path: str) -> x509.Certificate:
    """The first certificate of a ``--cert`` file; a file without one is a usage error."""
    try:
        found = load_certificates(read_input(path))
    except MalformedCMSError as exc:
        raise UsageError(f"--cert {path}: {exc}") from None
    if not found:
        raise UsageError(f"--cert {path}: no certificate in it")
    return found[0]

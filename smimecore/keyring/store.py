"""Users' certificates: what RT keeps in ``Users.SMIMECertificate``, but several per address.

A verified signer's certificate is stored; an untrusted certificate never
displaces what an address already has (RT section 3.6).  Encryption picks
the valid certificate with the latest notAfter.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from smimecore.errors import ConfigError
from smimecore.pki.certificate import load_certificates

__all__ = [
    "CertificateStore",
    "DirectoryCertificateStore",
    "MemoryCertificateStore",
    "StoredCertificate",
    "best_for_encryption",
]


@dataclass(frozen=True)
class StoredCertificate:
    """A stored certificate and whether it was trusted when stored."""

    certificate: x509.Certificate
    trusted: bool


class CertificateStore(Protocol):
    """Where users' certificates are kept, by e-mail address (case-insensitive)."""

    def get(self, address: str) -> Sequence[StoredCertificate]:
        """Every certificate stored for ``address``, oldest first."""
        ...

    def put(self, address: str, certificate: x509.Certificate, trusted: bool) -> bool:
        """Store ``certificate`` for ``address``; returns whether anything changed."""
        ...


def _admit(
    current: list[StoredCertificate], certificate: x509.Certificate, trusted: bool
) -> list[StoredCertificate] | None:
    """The new list for an address, or ``None`` when nothing changes (RT section 3.6)."""
    for index, stored in enumerate(current):
        if stored.certificate == certificate:
            if trusted and not stored.trusted:
                return [
                    *current[:index],
                    StoredCertificate(certificate, True),
                    *current[index + 1 :],
                ]
            return None
    if current and not trusted:
        return None  # never let an untrusted certificate in beside the ones already known
    return [*current, StoredCertificate(certificate, trusted)]


class MemoryCertificateStore:
    """A certificate store in memory (the default)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, list[StoredCertificate]] = {}

    def get(self, address: str) -> Sequence[StoredCertificate]:
        """Every certificate stored for ``address``, oldest first."""
        return tuple(self._entries.get(address.casefold(), ()))

    def put(self, address: str, certificate: x509.Certificate, trusted: bool) -> bool:
        """Store ``certificate`` for ``address``; returns whether anything changed."""
        with self._lock:
            updated = _admit(self._entries.get(address.casefold(), []), certificate, trusted)
            if updated is None:
                return False
            self._entries[address.casefold()] = updated
            return True


class DirectoryCertificateStore:
    """A certificate store in a directory: ``<address>.json`` per address (PEM inside)."""

    def __init__(self, directory: Path) -> None:
        if not directory.is_dir() or not os.access(directory, os.R_OK | os.W_OK | os.X_OK):
            raise ConfigError("certificate_store", f"{directory} is not a writable directory")
        self.directory = directory
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"DirectoryCertificateStore({str(self.directory)!r})"

    def _path(self, address: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "@.-_+" else "_" for c in address.casefold())
        return self.directory / f"{safe}.json"

    def get(self, address: str) -> Sequence[StoredCertificate]:
        """Every certificate stored for ``address``, oldest first."""
        try:
            entries = json.loads(self._path(address).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return ()
        found = []
        for entry in entries if isinstance(entries, list) else []:
            try:
                (certificate, *_) = load_certificates(str(entry["certificate"]).encode())
            except (KeyError, TypeError, ValueError):
                continue
            found.append(StoredCertificate(certificate, bool(entry.get("trusted"))))
        return tuple(found)

    def put(self, address: str, certificate: x509.Certificate, trusted: bool) -> bool:
        """Store ``certificate`` for ``address`` (atomically); returns whether anything changed."""
        with self._lock:
            updated = _admit(list(self.get(address)), certificate, trusted)
            if updated is None:
                return False
            document = [
                {
                    "certificate": stored.certificate.public_bytes(Encoding.PEM).decode(),
                    "trusted": stored.trusted,
                    "sha256": stored.certificate.fingerprint(hashes.SHA256()).hex(),
                }
                for stored in updated
            ]
            handle, temporary = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(document, stream, indent=1)
            os.replace(temporary, self._path(address))
            return True


def best_for_encryption(stored: Sequence[StoredCertificate]) -> x509.Certificate | None:
    """The currently valid certificate with the latest notAfter, or ``None``."""
    now = datetime.now(UTC)
    valid = [
        entry.certificate
        for entry in stored
        if entry.certificate.not_valid_before_utc <= now <= entry.certificate.not_valid_after_utc
    ]
    return max(valid, key=lambda c: c.not_valid_after_utc, default=None)

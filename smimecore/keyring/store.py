"""Users' certificates: what RT keeps in ``Users.SMIMECertificate``, but several per address.

Who may store what is the engine's decision; the store keeps these rules
whoever calls it:

- a trusted certificate always wins: storing one removes every untrusted
  certificate of the address, and encryption prefers trusted ones;
- an untrusted certificate enters only an address that has nothing yet,
  and never displaces (or joins) what an address already has (RT 3.6);
- addresses are compared with ASCII letters folded to lower case only
  (Unicode case folding would merge a long s, U+017F, into ``s``); an empty
  address or one longer than :data:`MAX_ADDRESS_LENGTH` is refused: ``put``
  stores nothing and answers ``False``, ``get`` finds nothing.

Encryption picks a currently valid certificate, trusted before untrusted
(untrusted only when asked, as under ``accept_untrusted_cas``), the latest
notAfter first.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import string
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import sha256
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from smimecore.errors import ConfigError
from smimecore.pki.certificate import load_certificates

__all__ = [
    "MAX_ADDRESS_LENGTH",
    "CertificateStore",
    "DirectoryCertificateStore",
    "MemoryCertificateStore",
    "StoredCertificate",
    "best_for_encryption",
    "encryption_candidates",
    "store_key",
]

log = logging.getLogger("smimecore.keyring.store")

MAX_ADDRESS_LENGTH = 254
"""The longest address stored (RFC 5321's 256-octet path less its angle brackets)."""


@dataclass(frozen=True)
class StoredCertificate:
    """A stored certificate and whether it was trusted when stored."""

    certificate: x509.Certificate
    trusted: bool


class CertificateStore(Protocol):
    """Where users' certificates are kept, by e-mail address (ASCII case-insensitive)."""

    def get(self, address: str) -> Sequence[StoredCertificate]:
        """Every certificate stored for ``address``, oldest first (none for a refused address)."""
        ...

    def put(self, address: str, certificate: x509.Certificate, trusted: bool) -> bool:
        """Store ``certificate`` for ``address``; returns whether anything changed."""
        ...


def store_key(address: str) -> str | None:
    """How the store files ``address``: ASCII letters lowercased; ``None`` when refused."""
    if not address or len(address) > MAX_ADDRESS_LENGTH:
        return None
    if address.isascii():  # the usual case: str.translate looks up every character
        return address.lower()
    return address.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _refused(address: str) -> bool:
    log.info("certificate store: refused an address of %d characters", len(address))
    return False


def _admit(
    current: Sequence[StoredCertificate], certificate: x509.Certificate, trusted: bool
) -> list[StoredCertificate] | None:
    """The new list for an address, or ``None`` when nothing changes."""
    if not trusted:
        return None if current else [StoredCertificate(certificate, False)]
    if _all_trusted_with(current, certificate):
        return None  # the usual case: a known signer seen again
    updated = [
        StoredCertificate(stored.certificate, True)
        for stored in current
        if stored.trusted or stored.certificate == certificate
    ]
    if certificate not in (stored.certificate for stored in updated):
        updated.append(StoredCertificate(certificate, True))
    return None if updated == list(current) else updated


def _all_trusted_with(current: Sequence[StoredCertificate], certificate: x509.Certificate) -> bool:
    """Whether every stored certificate is trusted and ``certificate`` is one of them."""
    found = False
    for stored in current:
        if not stored.trusted:
            return False
        found = found or stored.certificate is certificate or stored.certificate == certificate
    return found


class MemoryCertificateStore:
    """A certificate store in memory (the default)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, list[StoredCertificate]] = {}

    def get(self, address: str) -> Sequence[StoredCertificate]:
        """Every certificate stored for ``address``, oldest first."""
        key = store_key(address)
        return tuple(self._entries.get(key, ())) if key is not None else ()

    def put(self, address: str, certificate: x509.Certificate, trusted: bool) -> bool:
        """Store ``certificate`` for ``address``; returns whether anything changed."""
        key = store_key(address)
        if key is None:
            return _refused(address)
        with self._lock:
            updated = _admit(self._entries.get(key, []), certificate, trusted)
            if updated is None:
                return False
            self._entries[key] = updated
            return True


class DirectoryCertificateStore:
    """A certificate store in a directory: one ``<address>.json`` per address (PEM inside).

    Writes are atomic (a temporary file renamed over the old one) and
    serialised between threads and processes by an ``flock`` on
    ``.lock``.  A store that cannot be written or read (permissions, a full
    disk, a file replaced by a directory...) never raises ``OSError``: the
    problem is logged, ``put`` answers ``False`` and ``get`` finds nothing,
    and no temporary file is left behind (those a crash left are removed
    when the store is opened, once an hour old).
    """

    _TEMPORARY_PREFIX = ".smimecore-"
    _TEMPORARY_SUFFIX = ".tmp"
    _STALE_SECONDS = 3600

    def __init__(self, directory: Path) -> None:
        if not directory.is_dir() or not os.access(directory, os.R_OK | os.W_OK | os.X_OK):
            raise ConfigError("certificate_store", f"{directory} is not a writable directory")
        self.directory = directory
        self._lock = threading.Lock()
        self._remove_stale_temporaries()

    def __repr__(self) -> str:
        return f"DirectoryCertificateStore({str(self.directory)!r})"

    def _path(self, key: str) -> Path:
        """The file of a key: percent-encoded (so distinct keys never share one), or hashed."""
        name = quote(key, safe="@.-_+", encoding="utf-8", errors="surrogatepass")
        if len(name) > 200:
            name = "sha256-" + sha256(name.encode("ascii")).hexdigest()
        return self.directory / f"{name}.json"

    def get(self, address: str) -> Sequence[StoredCertificate]:
        """Every certificate stored for ``address``, oldest first."""
        key = store_key(address)
        return self._read(self._path(key)) if key is not None else ()

    def put(self, address: str, certificate: x509.Certificate, trusted: bool) -> bool:
        """Store ``certificate`` for ``address`` (atomically); returns whether anything changed."""
        key = store_key(address)
        if key is None:
            return _refused(address)
        path = self._path(key)
        try:
            with self._lock, self._directory_lock():
                updated = _admit(self._read(path), certificate, trusted)
                return updated is not None and self._write(path, _document(updated))
        except OSError as exc:
            log.warning("certificate store %s is not usable: %s", self.directory, _reason(exc))
            return False

    def _read(self, path: Path) -> tuple[StoredCertificate, ...]:
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return ()
        except (OSError, ValueError) as exc:
            log.warning("certificate store file %s cannot be read: %s", path.name, _reason(exc))
            return ()
        found = []
        for entry in entries if isinstance(entries, list) else []:
            try:
                (certificate, *_) = load_certificates(str(entry["certificate"]).encode())
            except (KeyError, TypeError, ValueError):
                continue
            found.append(StoredCertificate(certificate, entry.get("trusted") is True))
        return tuple(found)

    def _write(self, path: Path, text: str) -> bool:
        """Replace ``path`` by ``text`` atomically; ``False`` (logged) when it cannot be done."""
        temporary: str | None = None
        try:
            handle, temporary = tempfile.mkstemp(
                dir=self.directory, prefix=self._TEMPORARY_PREFIX, suffix=self._TEMPORARY_SUFFIX
            )
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(text)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, path)
            temporary = None
            return True
        except OSError as exc:
            log.warning("certificate store file %s cannot be written: %s", path.name, _reason(exc))
            return False
        finally:
            if temporary is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)

    @contextlib.contextmanager
    def _directory_lock(self) -> Iterator[None]:
        descriptor = os.open(self.directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)

    def _remove_stale_temporaries(self) -> None:
        limit = time.time() - self._STALE_SECONDS
        pattern = f"{self._TEMPORARY_PREFIX}*{self._TEMPORARY_SUFFIX}"
        with contextlib.suppress(OSError):
            for leftover in self.directory.glob(pattern):
                with contextlib.suppress(OSError):
                    if leftover.stat().st_mtime < limit:
                        leftover.unlink()


def _document(entries: Sequence[StoredCertificate]) -> str:
    return json.dumps(
        [
            {
                "certificate": stored.certificate.public_bytes(Encoding.PEM).decode(),
                "trusted": stored.trusted,
                "sha256": stored.certificate.fingerprint(hashes.SHA256()).hex(),
            }
            for stored in entries
        ],
        indent=1,
    )


def _reason(exc: Exception) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__


def encryption_candidates(
    stored: Sequence[StoredCertificate],
    *,
    include_untrusted: bool = False,
    now: datetime | None = None,
) -> list[x509.Certificate]:
    """The certificates encryption may use, best first.

    Only those valid at ``now`` (default: now); trusted ones first, then,
    with ``include_untrusted`` (``accept_untrusted_cas``), untrusted ones;
    the latest notAfter first within each.
    """
    moment = now or datetime.now(UTC)

    def valid(entry: StoredCertificate) -> bool:
        certificate = entry.certificate
        return certificate.not_valid_before_utc <= moment <= certificate.not_valid_after_utc

    usable = [entry for entry in stored if valid(entry) and (entry.trusted or include_untrusted)]
    usable.sort(key=lambda entry: (entry.trusted, entry.certificate.not_valid_after_utc))
    return [entry.certificate for entry in reversed(usable)]


def best_for_encryption(
    stored: Sequence[StoredCertificate], *, include_untrusted: bool = False
) -> x509.Certificate | None:
    """The first of :func:`encryption_candidates`, or ``None``."""
    found = encryption_candidates(stored, include_untrusted=include_untrusted)
    return found[0] if found else None

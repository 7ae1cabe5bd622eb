"""Certificate files that are re-read when they change on disk."""

from __future__ import annotations

import threading
from pathlib import Path

from cryptography import x509

from smimecore.errors import ConfigError, MalformedCMSError
from smimecore.pki.certificate import load_certificates

__all__ = ["CertificateFile"]


class CertificateFile:
    """The certificates of one PEM or DER file, cached until the file changes.

    ``option`` names the configuration option the file came from, for errors.
    """

    def __init__(self, path: Path, option: str) -> None:
        self.path = path
        self.option = option
        self._lock = threading.Lock()
        self._cached: tuple[tuple[int, int, int], tuple[x509.Certificate, ...]] | None = None

    def certificates(self) -> tuple[x509.Certificate, ...]:
        """The file's certificates; a missing or unreadable file is a :class:`ConfigError`."""
        try:
            stat = self.path.stat()
            signature = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
            cached = self._cached
            if cached is not None and cached[0] == signature:
                return cached[1]
            found = tuple(load_certificates(self.path.read_bytes()))
        except OSError as exc:
            raise ConfigError(self.option, f"cannot read {self.path}: {exc.strerror}") from None
        except MalformedCMSError as exc:
            raise ConfigError(self.option, f"{self.path}: {exc}") from None
        with self._lock:
            self._cached = (signature, found)
        return found

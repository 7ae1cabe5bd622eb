"""Trust anchors and offline CRLs read from ``ca_path`` and ``crl_path``.

``ca_path`` is what RT calls CAPath: one PEM bundle, a directory laid out
by ``c_rehash`` (``<hash>.<n>`` certificates, ``<hash>.r<n>`` CRLs) or a
plain directory of ``.pem``/``.crt``/``.cer`` files, PEM or DER.  Only
these certificates are trusted; the operating system's store never is.

The parsed anchors and the pyhanko-certvalidator trust manager built from
them are kept until a file changes (size, mtime or inode of the file, or of
any relevant entry of the directory), so a changed CA file is picked up
without a restart and an unchanged one costs a few ``stat`` calls.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from pyhanko_certvalidator.authority import Authority, TrustAnchor
from pyhanko_certvalidator.registry import SimpleTrustManager, TrustManager

from smimecore.errors import ConfigError, MalformedCMSError
from smimecore.pki.pem import find_pem_blocks
from smimecore.trust.received import ReceivedCertificate, ReceivedCertificateList

__all__ = [
    "AnchorSet",
    "AnchorSource",
    "CRLSource",
    "IndexedTrustManager",
    "RevocationList",
    "parse_pki_objects",
]

logger = logging.getLogger(__name__)

_CERTIFICATE_LABELS = frozenset({"CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE"})
_CRL_LABELS = frozenset({"X509 CRL"})
_REHASH_CERTIFICATE = re.compile(r"^[0-9a-f]{8}\.[0-9]+$")
_REHASH_CRL = re.compile(r"^[0-9a-f]{8}\.r[0-9]+$")
_CERTIFICATE_SUFFIXES = (".pem", ".crt", ".cer", ".der")
_CRL_SUFFIXES = (".pem", ".crl", ".der")

RevocationList = asn1_crl.CertificateList
"""A parsed CRL (asn1crypto), as pyhanko-certvalidator takes it."""


@dataclass(frozen=True)
class PKIObjects:
    """Certificates and CRLs found in some bytes or files."""

    certificates: tuple[asn1_x509.Certificate, ...] = ()
    crls: tuple[asn1_crl.CertificateList, ...] = ()


def parse_pki_objects(data: bytes) -> PKIObjects:
    """Every certificate and CRL in ``data``: PEM blocks, or a single DER object.

    Raises :class:`MalformedCMSError` when something that claims to be a
    certificate or CRL cannot be read.
    """
    blocks = find_pem_blocks(data)
    if not blocks and b"-----BEGIN" not in data:
        return _parse_der_object(data)
    certificates = [
        # A TRUSTED CERTIFICATE block carries OpenSSL's trust settings after the certificate.
        _load_certificate(b.der(), strict=b.label != "TRUSTED CERTIFICATE")
        for b in blocks
        if b.label in _CERTIFICATE_LABELS
    ]
    crls = [_load_crl(b.der()) for b in blocks if b.label in _CRL_LABELS]
    return PKIObjects(tuple(certificates), tuple(crls))


def _parse_der_object(der: bytes) -> PKIObjects:
    try:
        return PKIObjects(certificates=(_load_certificate(der),))
    except MalformedCMSError:
        pass
    try:
        return PKIObjects(crls=(_load_crl(der),))
    except MalformedCMSError:
        raise MalformedCMSError("neither a PEM file nor a DER certificate or CRL") from None


def _load_certificate(der: bytes, *, strict: bool = True) -> asn1_x509.Certificate:
    try:
        certificate = ReceivedCertificate.load(der, strict=strict)
        # asn1crypto parses lazily: touch what path building needs so that
        # garbage is refused here rather than in the middle of a validation.
        _ = certificate.subject, certificate.public_key, certificate.not_valid_after
    except (ValueError, TypeError) as exc:
        raise MalformedCMSError(f"not a readable X.509 certificate: {exc}") from None
    return certificate


def _load_crl(der: bytes) -> asn1_crl.CertificateList:
    try:
        revocation_list = ReceivedCertificateList.load(der, strict=True)
        _ = revocation_list.issuer, revocation_list["tbs_cert_list"]["this_update"].native
    except (ValueError, TypeError) as exc:
        raise MalformedCMSError(f"not a readable CRL: {exc}") from None
    return revocation_list


@dataclass(frozen=True)
class AnchorSet:
    """One snapshot of ``ca_path``: the anchors, the CRLs beside them, a trust manager.

    ``fingerprint`` identifies the snapshot's content (a digest of the
    anchors' and CRLs' DER), for cache keys.
    """

    certificates: tuple[asn1_x509.Certificate, ...]
    crls: tuple[asn1_crl.CertificateList, ...]
    trust_manager: IndexedTrustManager = field(repr=False, compare=False)
    fingerprint: bytes

    @classmethod
    def build(cls, objects: PKIObjects) -> AnchorSet:
        """Deduplicate ``objects`` and build the reusable trust manager."""
        certificates = tuple(_unique(objects.certificates))
        crls = tuple(_unique(objects.crls))
        digest = hashlib.sha256()
        for item in (*certificates, *crls):
            digest.update(hashlib.sha256(item.dump()).digest())
        manager = IndexedTrustManager(certificates)
        return cls(certificates, crls, manager, digest.digest())


class IndexedTrustManager(TrustManager):
    """pyhanko's trust manager for a set of roots, found by subject name.

    A :class:`SimpleTrustManager` given to a ``ValidationContext`` has every
    one of its roots registered into that context's certificate registry, so
    each validation costs time in proportion to the number of anchors (a
    system bundle, a CAPath of a thousand roots).  This manager answers the
    same questions through a ``SimpleTrustManager`` it wraps but is not one,
    so nothing is copied; :meth:`roots_named` gives the few roots a
    validation may need in its registry (issuers of the certificates and
    CRLs it looks at), which the caller registers instead.
    """

    def __init__(self, certificates: Iterable[asn1_x509.Certificate]) -> None:
        roots = list(certificates)
        self._inner = SimpleTrustManager.build(trust_roots=roots)
        self._by_subject: dict[str, list[asn1_x509.Certificate]] = {}
        for root in roots:
            self._by_subject.setdefault(root.subject.hashable, []).append(root)

    def is_root(self, cert: asn1_x509.Certificate) -> bool:
        """Whether ``cert`` is one of the roots."""
        return bool(self._inner.is_root(cert))

    def as_trust_anchor(self, authority: Authority) -> TrustAnchor | None:
        """The trust anchor for ``authority``, if it is one of the roots."""
        anchor: TrustAnchor | None = self._inner.as_trust_anchor(authority)
        return anchor

    def find_potential_issuers(self, cert: asn1_x509.Certificate) -> Iterator[TrustAnchor]:
        """The roots that may have issued ``cert``."""
        found: Iterator[TrustAnchor] = self._inner.find_potential_issuers(cert)
        return found

    def iter_certs(self) -> Iterator[asn1_x509.Certificate]:
        """Every root certificate."""
        found: Iterator[asn1_x509.Certificate] = self._inner.iter_certs()
        return found

    def roots_named(self, name: asn1_x509.Name) -> list[asn1_x509.Certificate]:
        """The roots whose subject is ``name``."""
        return list(self._by_subject.get(name.hashable, ()))


_Item = TypeVar("_Item", asn1_x509.Certificate, asn1_crl.CertificateList)


def _unique(items: Iterable[_Item]) -> Iterable[_Item]:
    seen: set[bytes] = set()
    for item in items:
        key = hashlib.sha256(item.dump()).digest()
        if key not in seen:
            seen.add(key)
            yield item


_Snapshot = TypeVar("_Snapshot")
_StatSignature = tuple[Any, ...]
RESCAN_SECONDS = 1.0
"""How stale a ``ca_path`` directory's per-file view may get while the directory is unchanged."""


class _WatchedPath(Generic[_Snapshot]):
    """A file or directory whose parsed content is rebuilt when ``stat`` says it changed."""

    def __init__(
        self,
        path: Path,
        option: str,
        wanted: Callable[[str], bool],
        build: Callable[[PKIObjects], _Snapshot],
    ) -> None:
        self.path = path
        self.option = option
        self._wanted = wanted
        self._build = build
        self._lock = threading.Lock()
        self._cached: tuple[_StatSignature, _Snapshot] | None = None
        self._scanned: tuple[tuple[int, int, int], float, _StatSignature] | None = None

    def current(self) -> _Snapshot:
        """The snapshot for the path as it is now; :class:`ConfigError` if it cannot be read."""
        signature = self._signature()
        cached = self._cached
        if cached is not None and cached[0] == signature:
            return cached[1]
        with self._lock:
            cached = self._cached
            if cached is not None and cached[0] == signature:
                return cached[1]
            snapshot = self._build(self._load())
            self._cached = (signature, snapshot)
            return snapshot

    def _signature(self) -> _StatSignature:
        """What the path looks like now: a file's stat, or a directory's and its entries'.

        A directory's entries are re-read at most every :data:`RESCAN_SECONDS`
        while the directory itself is unchanged (a file added, removed or
        renamed changes it at once); a file rewritten in place is therefore
        seen within that time, without a stat per anchor on every call.
        """
        try:
            top = os.stat(self.path)
            top_key = (top.st_mtime_ns, top.st_size, top.st_ino)
            if not stat.S_ISDIR(top.st_mode):
                return (top_key,)
            now = time.monotonic()
            scanned = self._scanned
            if scanned is not None and scanned[0] == top_key and now - scanned[1] < RESCAN_SECONDS:
                return scanned[2]
            entries = tuple(sorted((name, _stat_of(self.path / name)) for name in self._entries()))
            signature = (top_key, *entries)
            self._scanned = (top_key, now, signature)
            return signature
        except OSError as exc:
            raise ConfigError(self.option, f"cannot read {self.path}: {exc.strerror}") from None

    def _entries(self) -> list[str]:
        with os.scandir(self.path) as scan:
            return [entry.name for entry in scan if self._wanted(entry.name)]

    def _load(self) -> PKIObjects:
        if not self.path.is_dir():
            try:
                return parse_pki_objects(self.path.read_bytes())
            except OSError as exc:
                raise ConfigError(self.option, f"cannot read {self.path}: {exc.strerror}") from None
            except MalformedCMSError as exc:
                raise ConfigError(self.option, f"{self.path}: {exc}") from None
        certificates: list[asn1_x509.Certificate] = []
        crls: list[asn1_crl.CertificateList] = []
        for name in sorted(self._entries()):
            objects = self._load_entry(self.path / name)
            certificates.extend(objects.certificates)
            crls.extend(objects.crls)
        return PKIObjects(tuple(certificates), tuple(crls))

    def _load_entry(self, path: Path) -> PKIObjects:
        # One unreadable file in a directory is skipped (as openssl's -CApath
        # does) rather than taking every other anchor down with it.
        try:
            if not path.is_file():
                return PKIObjects()
            return parse_pki_objects(path.read_bytes())
        except (OSError, MalformedCMSError) as exc:
            logger.warning("%s: skipping unreadable file %s: %s", self.option, path, exc)
            return PKIObjects()


def _stat_of(path: Path) -> tuple[int, int, int]:
    found = os.stat(path)
    return (found.st_mtime_ns, found.st_size, found.st_ino)


def _is_anchor_file(name: str) -> bool:
    lowered = name.lower()
    return bool(
        _REHASH_CERTIFICATE.match(lowered)
        or _REHASH_CRL.match(lowered)
        or lowered.endswith(_CERTIFICATE_SUFFIXES)
    )


def _is_crl_file(name: str) -> bool:
    lowered = name.lower()
    return bool(_REHASH_CRL.match(lowered) or lowered.endswith(_CRL_SUFFIXES))


class AnchorSource:
    """The trust anchors of ``ca_path``, re-read when the file or directory changes."""

    def __init__(self, path: Path | str, option: str = "ca_path") -> None:
        self._watched = _WatchedPath(Path(path), option, _is_anchor_file, self._snapshot)

    @property
    def path(self) -> Path:
        """The ``ca_path`` file or directory."""
        return self._watched.path

    def current(self) -> AnchorSet:
        """The anchors as the files are now (cached while they do not change).

        Raises :class:`ConfigError` when ``ca_path`` cannot be read or holds
        no certificate.
        """
        return self._watched.current()

    def _snapshot(self, objects: PKIObjects) -> AnchorSet:
        if not objects.certificates:
            raise ConfigError(self._watched.option, f"no certificate found in {self.path}")
        return AnchorSet.build(objects)


class CRLSource:
    """The CRLs of ``crl_path`` (a file or a directory, PEM or DER), re-read when they change."""

    def __init__(self, path: Path | str, option: str = "crl_path") -> None:
        self._watched = _WatchedPath(Path(path), option, _is_crl_file, self._snapshot)

    @property
    def path(self) -> Path:
        """The ``crl_path`` file or directory."""
        return self._watched.path

    def current(self) -> tuple[asn1_crl.CertificateList, ...]:
        """The CRLs as the files are now; :class:`ConfigError` when unreadable."""
        return self._watched.current()

    @staticmethod
    def _snapshot(objects: PKIObjects) -> tuple[asn1_crl.CertificateList, ...]:
        return tuple(_unique(objects.crls))

"""RT's keyring: a directory of ``<address>.pem`` files holding key and certificates.

Lookup for a purpose tries ``<address>.<purpose>.pem`` before
``<address>.pem`` (RT section 5), then the same names with ``.p12`` and
``.pfx``.  Unlike RT, file names match the address case-insensitively.

Loaded files are cached by path and reloaded when the file changes (its
size, modification time or inode), so the expensive key load happens once.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

from smimecore.cms.signed import SigningIdentity
from smimecore.config import PassphraseSpec, Purpose
from smimecore.errors import KeyLoadError, MalformedCMSError, SecretKeyNotFoundError
from smimecore.keyring.base import DecryptionIdentity, signing_identity_of
from smimecore.keyring.loading import (
    KeyMaterial,
    address_certificates,
    load_pem_material,
    load_pkcs12_material,
    pick_certificate,
)
from smimecore.keyring.passphrase import resolve_passphrase
from smimecore.pki.certificate import load_certificates

__all__ = ["DirectoryKeyring", "KeyFile"]

log = logging.getLogger("smimecore.keyring")

_KEY_SUFFIXES = (".pem", ".p12", ".pfx")
_LISTING_LIFETIME = 1.0  # seconds a full certificate listing is reused
_MAX_REMEMBERED = 4096  # lookups remembered per keyring (forgotten all at once beyond)
_PKCS12_SUFFIXES = (".p12", ".pfx")
_CERTIFICATE_SUFFIXES = (".pem", ".crt", ".cer", *_PKCS12_SUFFIXES)

# Cache entries remember which passphrase opened a key only as a keyed hash
# under a per-process random key, so nothing in memory reveals it.
_PASSPHRASE_TAG_KEY = secrets.token_bytes(32)


def _passphrase_tag(passphrase: str | None) -> bytes:
    if passphrase is None:
        return b""
    return hashlib.blake2b(passphrase.encode("utf-8"), key=_PASSPHRASE_TAG_KEY).digest()


@dataclass(frozen=True)
class KeyFile:
    """What one keyring file holds: maybe a private key, its certificate, and other certificates."""

    path: Path
    private_key: Any = field(repr=False)
    certificate: x509.Certificate | None
    chain: tuple[x509.Certificate, ...] = ()

    def __repr__(self) -> str:
        return f"KeyFile(path={str(self.path)!r}, has_private_key={self.private_key is not None})"

    @classmethod
    def of(cls, path: Path, material: KeyMaterial) -> KeyFile:
        """The key file at ``path`` holding ``material``."""
        return cls(path, material.private_key, material.certificate, material.chain)


_FileSignature = tuple[int, int, int]


def _signature(stat: os.stat_result) -> _FileSignature:
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


class DirectoryKeyring:
    """An RT-style keyring directory (``Keyring`` in RT's ``%SMIME``).

    Symbolic links whose target lies outside the directory are ignored (and
    logged) unless ``follow_links`` is true: a link planted in the keyring
    must not make smimecore read, or hand out, files from elsewhere.
    """

    def __init__(
        self,
        directory: Path | None,
        passphrase: PassphraseSpec = None,
        *,
        follow_links: bool = False,
    ) -> None:
        self.directory = directory
        self._passphrase = passphrase
        self._follow_links = follow_links
        self._lock = threading.Lock()
        # The directory's names by their casefolded form, with the lookups made in it
        # (find_file's answers, the address lists), all valid while its mtime holds.
        self._index: _Index | None = None
        self._loaded: dict[Path, tuple[_FileSignature, bytes, KeyFile]] = {}
        self._all_certificates: tuple[int, float, tuple[x509.Certificate, ...]] | None = None
        self._certificates_loaded: dict[Path, tuple[_FileSignature, KeyFile]] = {}
        # certificate_for's choice among a file's certificates, kept with the KeyFile it
        # was made from (a reloaded file is a new KeyFile, so the choice is made again).
        self._picked: dict[tuple[Path, str], tuple[KeyFile, x509.Certificate | None]] = {}
        # encryption_certificates' answer, kept the same way.
        self._listed: dict[tuple[Path, str], tuple[KeyFile, tuple[x509.Certificate, ...]]] = {}
        # Within one operation (see one_look) each path is stat()ed once, per thread.
        self._looks = _Looks()
        self._one_look = _OneLook(self._looks)

    def __repr__(self) -> str:
        return f"DirectoryKeyring({str(self.directory)!r})"

    def one_look(self) -> _OneLook:
        """A context within which the directory and each file are looked at (``stat``) once.

        An operation that asks about several addresses, or first for a
        certificate and then for the key of the same file, sees the keyring
        as it was when first looked at; the next operation looks again, so
        files changed in between are still reloaded.  Per thread; may nest.
        """
        return self._one_look

    def _stat(self, path: Path) -> os.stat_result:
        seen = self._looks.seen
        if seen is None:
            return os.stat(path)
        found = seen.get(path)
        if found is None:
            try:
                found = os.stat(path)
            except OSError as exc:
                found = exc
            seen[path] = found
        if isinstance(found, OSError):
            raise found
        return found

    # -- finding files ---------------------------------------------------

    def find_file(self, address: str, purpose: Purpose | None = None) -> Path | None:
        """The keyring file for ``address`` and ``purpose``, by RT's order, or ``None``."""
        if self.directory is None or not address:
            return None
        index = self._current_index()
        if index is None:
            return None
        key = (address, purpose)
        if key in index.found:
            return index.found[key]
        found = self._search(index.names, address, purpose)
        if len(index.found) >= _MAX_REMEMBERED:
            index.found.clear()
        index.found[key] = found
        return found

    def _search(self, names: dict[str, str], address: str, purpose: Purpose | None) -> Path | None:
        if self.directory is None:
            return None
        stems = [f"{address}.{purpose}", address] if purpose else [address]
        for stem in stems:
            for suffix in _KEY_SUFFIXES:
                name = names.get(f"{stem}{suffix}".casefold())
                if name is not None:
                    return self.directory / name
        return None

    def _names(self) -> dict[str, str]:
        index = self._current_index()
        return index.names if index is not None else {}

    def _current_index(self) -> _Index | None:
        if self.directory is None:
            return None
        try:
            modified = self._stat(self.directory).st_mtime_ns
        except OSError:
            return None
        cached = self._index
        if cached is not None and cached.modified == modified:
            return cached
        names = {name.casefold(): name for name in self._usable_names(self.directory)}
        index = _Index(modified, names)
        self._index = index
        return index

    def _usable_names(self, directory: Path) -> Iterator[str]:
        """The names of the directory's regular files (links only when allowed, see the class)."""
        try:
            names = os.listdir(directory)
        except OSError as exc:
            log.warning("keyring directory %s cannot be listed: %s", directory, exc.strerror)
            return
        inside = os.path.realpath(directory)
        for name in names:
            path = directory / name
            if not path.is_file():
                continue
            if path.is_symlink() and not self._follow_links:
                target = os.path.realpath(path)
                if os.path.dirname(target) != inside:
                    log.warning(
                        "keyring file %s is a link to %s, outside the keyring: ignored "
                        "(follow_keyring_links allows it)",
                        path,
                        target,
                    )
                    continue
            yield name

    def _read(self, path: Path, seen: os.stat_result) -> tuple[os.stat_result, bytes]:
        """The bytes of ``path`` as of one state of the file: read again if it changed meanwhile."""
        for _ in range(2):
            try:
                with path.open("rb") as stream:
                    data = stream.read()
                    after = os.fstat(stream.fileno())
            except FileNotFoundError:
                raise KeyLoadError(str(path), "disappeared while being read") from None
            except OSError as exc:
                raise KeyLoadError(str(path), exc.strerror or "cannot be read") from None
            if _signature(after) == _signature(seen) and len(data) == after.st_size:
                return after, data
            seen = after
        raise KeyLoadError(str(path), "keeps changing while being read")

    # -- loading ---------------------------------------------------------

    def load(self, path: Path, address: str, purpose: Purpose | None) -> KeyFile:
        """Load a keyring file (cached until it changes), opening its key with the passphrase."""
        try:
            stat = self._stat(path)
        except OSError as exc:
            raise KeyLoadError(str(path), exc.strerror or "cannot be read") from None
        passphrase = resolve_passphrase(self._passphrase, address, purpose or "")
        tag = _passphrase_tag(passphrase)
        cached = self._loaded.get(path)
        if cached is not None and cached[0] == _signature(stat) and cached[1] == tag:
            return cached[2]
        stat, data = self._read(path, stat)
        load = (
            load_pkcs12_material if path.suffix.lower() in _PKCS12_SUFFIXES else load_pem_material
        )
        key_file = KeyFile.of(path, load(str(path), data, passphrase))
        with self._lock:
            self._loaded[path] = (_signature(stat), tag, key_file)
        return key_file

    def signing_identity(self, address: str) -> SigningIdentity:
        """The key, certificate and chain ``address`` signs with.

        Raises :class:`SecretKeyNotFoundError` when the keyring has no file
        with a private key for the address, :class:`PassphraseError` when
        the key cannot be opened.
        """
        key_file, certificate = self._private_key_file(address, "signing")
        return signing_identity_of(key_file.private_key, certificate, key_file.chain)

    def certificate_for(self, address: str, purpose: Purpose | None) -> x509.Certificate | None:
        """The certificate ``address`` uses for ``purpose``, or ``None`` without a keyring file.

        Without a purpose only ``<address>.pem`` (or ``.p12``/``.pfx``) is looked at, as RT's
        key-information boxes do.

        The private key is not opened: a certificate-only file serves, and
        of several certificates the one naming the address is preferred.
        """
        path = self.find_file(address, purpose)
        if path is None:
            return None
        key_file = self._certificates_only(path, address)
        key = (path, address.casefold())
        picked = self._picked.get(key)
        if picked is not None and picked[0] is key_file:
            return picked[1]
        candidates = [c for c in (key_file.certificate, *key_file.chain) if c is not None]
        certificate = pick_certificate(candidates, address)
        with self._lock:
            if len(self._picked) >= _MAX_REMEMBERED:
                self._picked.clear()
            self._picked[key] = (key_file, certificate)
        return certificate

    def encryption_certificates(self, address: str) -> list[x509.Certificate]:
        """The certificates of ``address``'s encryption file that name it, the one
        :meth:`certificate_for` picks first (a file may hold a classical and an ML-KEM one)."""
        path = self.find_file(address, "encryption")
        if path is None:
            return []
        key_file = self._certificates_only(path, address)
        key = (path, address.casefold())
        listed = self._listed.get(key)
        if listed is not None and listed[0] is key_file:
            return list(listed[1])
        first = self.certificate_for(address, "encryption")
        if first is None:
            return []
        candidates = [c for c in (key_file.certificate, *key_file.chain) if c is not None]
        found = (first, *(c for c in address_certificates(candidates, address) if c is not first))
        with self._lock:
            if len(self._listed) >= _MAX_REMEMBERED:
                self._listed.clear()
            self._listed[key] = (key_file, found)
        return list(found)

    def decryption_identity(self, address: str) -> DecryptionIdentity:
        """The key ``address`` decrypts with (``.encryption`` file first, then the plain one).

        Raises :class:`SecretKeyNotFoundError` without one, and
        :class:`PassphraseError` when its key cannot be opened.
        """
        key_file, certificate = self._private_key_file(address, "encryption")
        return DecryptionIdentity(key_file.private_key, certificate)

    def decryption_candidates(self, named: Callable[[x509.Certificate], bool]) -> Iterator[str]:
        """The addresses whose encryption certificate satisfies ``named`` (no key is opened),
        one at a time: a decryption that succeeds with the first does not look at the rest
        of a large keyring.

        Files that cannot be read are skipped (and logged at debug level):
        one damaged file must not stop decryption by everyone else.
        """
        for address in self.addresses("encryption"):
            try:
                certificate = self.certificate_for(address, "encryption")
            except (KeyLoadError, MalformedCMSError) as exc:
                log.debug("keyring certificate of %s cannot be read: %s", address, exc)
                continue
            if certificate is not None and named(certificate):
                yield address

    def _private_key_file(self, address: str, purpose: Purpose) -> tuple[KeyFile, x509.Certificate]:
        path = self.find_file(address, purpose)
        if path is None:
            raise SecretKeyNotFoundError(address)
        key_file = self.load(path, address, purpose)
        if key_file.private_key is None or key_file.certificate is None:
            raise SecretKeyNotFoundError(address, f"{path.name} holds no private key")
        return key_file, key_file.certificate

    def addresses(self, purpose: Purpose) -> list[str]:
        """The addresses that have a keyring file usable for ``purpose``, in name order.

        ``<address>.signing.pem`` serves only signing and
        ``<address>.encryption.pem`` only encryption; ``<address>.pem`` both.
        """
        index = self._current_index()
        if index is None:
            return []
        listed = index.addresses.get(purpose)
        if listed is None:
            listed = index.addresses[purpose] = _addresses(index.names, purpose)
        return list(listed)

    def certificates(self) -> tuple[x509.Certificate, ...]:
        """Every certificate the keyring holds; unreadable files are skipped (and logged).

        The list is kept for up to a second while the directory is unchanged,
        so verifying many messages does not stat every keyring file each time.
        """
        if self.directory is None:
            return ()
        try:
            modified = self.directory.stat().st_mtime_ns
        except OSError:
            return ()
        cached = self._all_certificates
        now = time.monotonic()
        if cached is not None and cached[0] == modified and now - cached[1] < _LISTING_LIFETIME:
            return cached[2]
        found = tuple(self._read_certificates(self.directory))
        self._all_certificates = (modified, now, found)
        return found

    def _read_certificates(self, directory: Path) -> Iterator[x509.Certificate]:
        for name in sorted(self._names().values()):
            if not name.lower().endswith(_CERTIFICATE_SUFFIXES):
                continue
            path = directory / name
            address = name.split(".pem")[0].split(".p12")[0].split(".pfx")[0]
            try:
                key_file = self._certificates_only(path, address)
            except (KeyLoadError, MalformedCMSError) as exc:
                log.debug("keyring file %s skipped: %s", path, exc)
                continue
            if key_file.certificate is not None:
                yield key_file.certificate
            yield from key_file.chain

    def _certificates_only(self, path: Path, address: str) -> KeyFile:
        if path.suffix.lower() in _PKCS12_SUFFIXES:
            return self.load(path, address, None)
        cached = self._loaded.get(path)
        try:
            stat = self._stat(path)
        except OSError as exc:
            raise KeyLoadError(str(path), exc.strerror or "cannot be read") from None
        signature = _signature(stat)
        if cached is not None and cached[0] == signature:
            return cached[2]
        # Certificate-only reads are cached apart (no private key, so no passphrase tag):
        # verification and decryption ask for every keyring certificate on each message.
        parsed = self._certificates_loaded.get(path)
        if parsed is not None and parsed[0] == signature:
            return parsed[1]
        stat, data = self._read(path, stat)
        signature = _signature(stat)
        certificates = load_certificates(data)
        if not certificates:
            key_file = KeyFile(path, None, None)
        else:
            key_file = KeyFile(path, None, certificates[0], tuple(certificates[1:]))
        with self._lock:
            self._certificates_loaded[path] = (signature, key_file)
        return key_file


class _Looks(threading.local):
    """A keyring's :meth:`~DirectoryKeyring.one_look` state, per thread.

    The class attributes are every thread's start (``getattr`` with a default would build and
    drop an ``AttributeError`` at each look of a thread outside ``one_look``).
    """

    seen: dict[Path, os.stat_result | OSError] | None = None
    depth: int = 0


class _OneLook:
    """:meth:`DirectoryKeyring.one_look`: one object per keyring, its state per thread."""

    def __init__(self, looks: _Looks) -> None:
        self._looks = looks

    def __enter__(self) -> None:
        looks = self._looks
        depth = looks.depth
        if not depth:
            looks.seen = {}
        looks.depth = depth + 1

    def __exit__(self, *_: object) -> None:
        looks = self._looks
        looks.depth -= 1
        if not looks.depth:
            looks.seen = None


def _addresses(names: dict[str, str], purpose: Purpose) -> tuple[str, ...]:
    other = "signing" if purpose == "encryption" else "encryption"
    found: dict[str, str] = {}
    for name in sorted(names.values()):
        stem, dot, suffix = name.rpartition(".")
        if not dot or f".{suffix.lower()}" not in _KEY_SUFFIXES:
            continue
        address, dot, role = stem.rpartition(".")
        if dot and role.lower() == other:
            continue
        if not (dot and role.lower() == purpose):
            address = stem
        if "@" in address:
            found.setdefault(address.casefold(), address)
    return tuple(found.values())


@dataclass
class _Index:
    """A keyring directory's file names (casefolded -> real) at one mtime, and lookups in them."""

    modified: int
    names: dict[str, str]
    found: dict[tuple[str, Purpose | None], Path | None] = field(default_factory=dict)
    addresses: dict[Purpose, tuple[str, ...]] = field(default_factory=dict)

"""A keyring of keys and certificates an application already holds, without any directory.

Identities are added as ``cryptography`` objects, PEM bytes or PKCS#12
bytes; each is found by the addresses its certificate names (subject
``emailAddress`` and SAN rfc822Name) or by addresses given explicitly.
Keys are opened when added, so a wrong passphrase fails there, not in the
middle of signing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from smimecore.cms.signed import SigningIdentity
from smimecore.config import Purpose
from smimecore.errors import KeyLoadError, SecretKeyNotFoundError
from smimecore.keyring.base import DecryptionIdentity, signing_identity_of
from smimecore.keyring.loading import KeyMaterial, load_pem_material, load_pkcs12_material
from smimecore.pki.certificate import identity_of, load_certificates

__all__ = ["MemoryKeyring"]

PURPOSES: tuple[Purpose, ...] = ("signing", "encryption")


@dataclass(frozen=True)
class _Entry:
    """One identity (or, without a key, one recipient certificate) and what it serves."""

    private_key: Any = field(repr=False)
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    purposes: frozenset[Purpose]


class MemoryKeyring:
    """Keys and certificates held in memory; implements :class:`~smimecore.keyring.base.Keyring`.

    ``MemoryKeyring.from_pkcs12(data, passphrase)`` is the one-line start;
    :meth:`add_identity`, :meth:`add_pem`, :meth:`add_pkcs12` and
    :meth:`add_certificate` add more.  The latest entry added for an
    address and purpose wins.  Safe to share between threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_address: dict[str, list[_Entry]] = {}
        self._certificates: list[x509.Certificate] = []

    def __repr__(self) -> str:
        return f"MemoryKeyring(addresses={sorted(self._by_address)!r})"

    @classmethod
    def from_pkcs12(
        cls, data: bytes, passphrase: str | None = None, *, addresses: Iterable[str] | None = None
    ) -> MemoryKeyring:
        """A keyring holding the identity of one PKCS#12 file."""
        keyring = cls()
        keyring.add_pkcs12(data, passphrase, addresses=addresses)
        return keyring

    # -- adding ----------------------------------------------------------

    def add_identity(
        self,
        private_key: Any,
        certificate: x509.Certificate,
        chain: Sequence[x509.Certificate] = (),
        *,
        addresses: Iterable[str] | None = None,
        purposes: Iterable[Purpose] = PURPOSES,
    ) -> None:
        """Add a private key with its certificate (and chain) for signing and/or decryption.

        ``addresses`` default to those the certificate names; a certificate
        that names none needs them given.
        """
        if private_key is None:
            raise KeyLoadError("identity", "a private key is required (use add_certificate)")
        self._add(_Entry(private_key, certificate, tuple(chain), _purposes(purposes)), addresses)

    def add_certificate(
        self, certificate: x509.Certificate | bytes, *, addresses: Iterable[str] | None = None
    ) -> None:
        """Add a recipient's certificate (PEM or DER bytes, or a ``cryptography`` object)."""
        if not isinstance(certificate, x509.Certificate):
            found = load_certificates(certificate)
            if not found:
                raise KeyLoadError("certificate", "holds no certificate")
            certificate = found[0]
        self._add(_Entry(None, certificate, (), frozenset({"encryption"})), addresses)

    def add_pem(
        self,
        data: bytes,
        passphrase: str | None = None,
        *,
        addresses: Iterable[str] | None = None,
        purposes: Iterable[Purpose] = PURPOSES,
        source: str = "PEM data",
    ) -> None:
        """Add what PEM text holds: a key with its certificate and chain, or certificates only."""
        self._add_material(load_pem_material(source, data, passphrase), addresses, purposes)

    def add_pkcs12(
        self,
        data: bytes,
        passphrase: str | None = None,
        *,
        addresses: Iterable[str] | None = None,
        purposes: Iterable[Purpose] = PURPOSES,
        source: str = "PKCS#12 data",
    ) -> None:
        """Add the key, certificate and chain of a PKCS#12 file."""
        self._add_material(load_pkcs12_material(source, data, passphrase), addresses, purposes)

    def _add_material(
        self,
        material: KeyMaterial,
        addresses: Iterable[str] | None,
        purposes: Iterable[Purpose],
    ) -> None:
        if material.certificate is None:
            raise KeyLoadError("key material", "holds no certificate")
        if material.private_key is None:
            self.add_certificate(material.certificate, addresses=addresses)
            self._remember(material.chain)
            return
        self.add_identity(
            material.private_key,
            material.certificate,
            material.chain,
            addresses=addresses,
            purposes=purposes,
        )

    def _add(self, entry: _Entry, addresses: Iterable[str] | None) -> None:
        wanted = (
            sorted(identity_of(entry.certificate).addresses)
            if addresses is None
            else [address for address in addresses if address]
        )
        if not wanted:
            raise KeyLoadError(
                "certificate", "names no e-mail address: give the addresses it serves"
            )
        with self._lock:
            for address in wanted:
                self._by_address.setdefault(address.casefold(), []).append(entry)
        self._remember((entry.certificate, *entry.chain))

    def _remember(self, certificates: Iterable[x509.Certificate]) -> None:
        with self._lock:
            for certificate in certificates:
                if certificate not in self._certificates:
                    self._certificates.append(certificate)

    # -- the Keyring protocol ----------------------------------------------

    def _latest(self, address: str, purpose: Purpose, *, with_key: bool) -> _Entry | None:
        for entry in reversed(self._by_address.get(address.casefold(), ())):
            if purpose in entry.purposes and (entry.private_key is not None or not with_key):
                return entry
        return None

    def signing_identity(self, address: str) -> SigningIdentity:
        """The key, certificate and chain ``address`` signs with."""
        entry = self._latest(address, "signing", with_key=True)
        if entry is None:
            raise SecretKeyNotFoundError(address)
        return signing_identity_of(entry.private_key, entry.certificate, entry.chain)

    def decryption_identity(self, address: str) -> DecryptionIdentity:
        """The key ``address`` decrypts with."""
        entry = self._latest(address, "encryption", with_key=True)
        if entry is None:
            raise SecretKeyNotFoundError(address)
        return DecryptionIdentity(entry.private_key, entry.certificate)

    def decryption_candidates(self, named: Callable[[x509.Certificate], bool]) -> list[str]:
        """The addresses with a decryption key whose certificate satisfies ``named``."""
        return [
            address
            for address, entries in self._by_address.items()
            if any(
                entry.private_key is not None
                and "encryption" in entry.purposes
                and named(entry.certificate)
                for entry in entries
            )
        ]

    def certificate_for(self, address: str, purpose: Purpose | None) -> x509.Certificate | None:
        """The certificate ``address`` uses for ``purpose`` (any purpose when ``None``)."""
        for wanted in (purpose,) if purpose else PURPOSES:
            entry = self._latest(address, wanted, with_key=False)
            if entry is not None:
                return entry.certificate
        return None

    def encryption_certificates(self, address: str) -> list[x509.Certificate]:
        """Every certificate added for encrypting to ``address``, the latest first."""
        found: list[x509.Certificate] = []
        for entry in reversed(self._by_address.get(address.casefold(), ())):
            if "encryption" in entry.purposes and entry.certificate not in found:
                found.append(entry.certificate)
        return found

    def certificates(self) -> tuple[x509.Certificate, ...]:
        """Every certificate held (identities', chains', recipients')."""
        return tuple(self._certificates)

    def one_look(self) -> AbstractContextManager[None]:
        """Nothing to look at twice in memory: a context that does nothing."""
        return nullcontext()


def _purposes(purposes: Iterable[Purpose]) -> frozenset[Purpose]:
    chosen = frozenset(purposes)
    unknown = chosen - set(PURPOSES)
    if not chosen or unknown:
        raise KeyLoadError("identity", f"purposes must be among {', '.join(PURPOSES)}")
    return chosen

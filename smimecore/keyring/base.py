"""The keyring protocol: what the engine asks of any source of keys and certificates.

Two keyrings implement it: :class:`~smimecore.keyring.directory.DirectoryKeyring`
(RT's ``<address>.pem`` directory) and
:class:`~smimecore.keyring.memory.MemoryKeyring` (keys and certificates an
application already holds).  Addresses match case-insensitively.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography import x509

from smimecore.algorithms.signatures import signing_key_kind
from smimecore.cms.signed import SigningIdentity
from smimecore.config import Purpose
from smimecore.errors import UnsupportedAlgorithmError

__all__ = ["DecryptionIdentity", "Keyring", "signing_identity_of"]


@dataclass(frozen=True)
class DecryptionIdentity:
    """A private key that decrypts, with the certificate RecipientInfos name it by."""

    private_key: Any = field(repr=False)
    certificate: x509.Certificate

    def __repr__(self) -> str:
        return f"DecryptionIdentity(certificate={self.certificate.subject.rfc4514_string()!r})"


class Keyring(Protocol):
    """Signing identities and decryption keys by address, recipient certificates by address."""

    def signing_identity(self, address: str) -> SigningIdentity:
        """The key, certificate and chain ``address`` signs with.

        Raises :class:`~smimecore.errors.SecretKeyNotFoundError` without a
        private key for the address, :class:`~smimecore.errors.PassphraseError`
        when it cannot be opened, :class:`~smimecore.errors.KeyLoadError` or
        :class:`~smimecore.errors.UnsupportedAlgorithmError` when it cannot be used.
        """
        ...

    def decryption_identity(self, address: str) -> DecryptionIdentity:
        """The key ``address`` decrypts with (errors as :meth:`signing_identity`)."""
        ...

    def decryption_candidates(self, named: Callable[[x509.Certificate], bool]) -> Iterable[str]:
        """The addresses whose decryption certificate satisfies ``named``.

        ``named`` is an EnvelopedData's test "does a RecipientInfo name this
        certificate?": this is the lookup by recipient identifier.  No
        private key is opened.  The caller stops at the first address whose
        key decrypts, so an implementation may find them one at a time.
        """
        ...

    def certificate_for(self, address: str, purpose: Purpose | None) -> x509.Certificate | None:
        """The certificate ``address`` uses for ``purpose`` (``None``: its main one), if any.

        Raises :class:`~smimecore.errors.KeyLoadError` (or
        :class:`~smimecore.errors.MalformedCMSError`) when what the keyring
        holds for the address cannot be read.
        """
        ...

    def encryption_certificates(self, address: str) -> Sequence[x509.Certificate]:
        """Every certificate the keyring holds to encrypt to ``address`` (a classical and a
        post-quantum one, say), the one :meth:`certificate_for` gives first; empty without any.

        Raises what :meth:`certificate_for` raises.  Which of them is used is
        the engine's choice (:attr:`~smimecore.Config.prefer_post_quantum`).
        """
        ...

    def certificates(self) -> Sequence[x509.Certificate]:
        """Every certificate the keyring holds (signers without embedded certificates, chains)."""
        ...

    def one_look(self) -> AbstractContextManager[None]:
        """A context within which the keyring is looked at once (a consistent view)."""
        ...


def signing_identity_of(
    private_key: Any, certificate: x509.Certificate, chain: Sequence[x509.Certificate] = ()
) -> SigningIdentity:
    """A :class:`SigningIdentity`; :class:`UnsupportedAlgorithmError` for a key that cannot sign."""
    if signing_key_kind(private_key) is None:
        raise UnsupportedAlgorithmError(
            type(private_key).__name__.lstrip("_"), "keys cannot sign S/MIME"
        )
    return SigningIdentity(private_key, certificate, tuple(chain))

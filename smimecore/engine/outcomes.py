"""Typed outcomes of the context's work: what was checked, and what was decided.

The context (:mod:`smimecore.engine.context`) answers in these; RT's status
records are made from them by :mod:`smimecore.engine.records`.  A verdict is
a field here, never something read back from a record's text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

from cryptography import x509

from smimecore.cms.enveloped import DecryptedContent
from smimecore.cms.signed import SignerCheck
from smimecore.errors import SmimeError
from smimecore.pki.certificate import CertificateIdentity
from smimecore.trust.base import TrustVerdict

__all__ = [
    "DecryptionOutcome",
    "DecryptionStage",
    "Origin",
    "RecipientChoice",
    "RecipientOutcome",
    "Refusal",
    "SenderMatch",
    "SignatureOutcome",
]


class Refusal(StrEnum):
    """Why a signature is not accepted (``None`` on an outcome: it is)."""

    ERROR = "error"
    """The signer could not be checked at all (unknown algorithm, no certificate...)."""
    NOT_VALID = "not-valid"
    """The content is not what was signed, or the signature does not verify."""
    NOT_MAIL = "not-mail"
    """What was signed is not a mail message (its eContentType is not id-data)."""
    FUTURE_SIGNING_TIME = "future-signing-time"
    """The signingTime is further in the future than ``max_clock_skew``."""
    SIGNING_TIME_MISMATCH = "signing-time-mismatch"
    """The signingTime and the ``Date:`` header differ by more than ``max_signing_time_drift``
    (or the ``Date:`` cannot be read)."""
    UNTRUSTED = "untrusted"
    """The signer's certificate is not trusted and untrusted CAs are not accepted."""
    SENDER_MISMATCH = "sender-mismatch"
    """The signer is not the sender and ``require_sender_match`` is set."""


@dataclass(frozen=True)
class Origin:
    """What the top-level header says about who sent a message, and when.

    ``senders``: the lowercased ``From:`` addresses (``Sender:`` only when
    there is no ``From:``); ``date``: the ``Date:`` field as written, if any.
    A signed part's own header fields never count.
    """

    senders: tuple[str, ...] = ()
    date: str | None = None


@dataclass(frozen=True)
class SenderMatch:
    """Which of the message's sender addresses the signer's certificate names.

    ``senders`` are the top-level ``From:`` addresses (``Sender:`` only when
    there is no ``From:``), lowercased; ``unmatched`` those the certificate
    does not name.  The signer matches only when it names every sender.
    """

    senders: tuple[str, ...]
    unmatched: tuple[str, ...]

    @classmethod
    def of(cls, senders: tuple[str, ...], signer_addresses: frozenset[str]) -> SenderMatch:
        """The match of ``senders`` against a certificate's (lowercased) addresses."""
        return cls(senders, tuple(s for s in senders if s not in signer_addresses))

    @property
    def matches(self) -> bool:
        """Whether there is a sender and the signer names every one."""
        return bool(self.senders) and not self.unmatched


@dataclass(frozen=True)
class SignatureOutcome:
    """One SignerInfo judged: the cryptographic check, the trust verdict and the decision."""

    check: SignerCheck
    sender: SenderMatch
    refusal: Refusal | None
    identity: CertificateIdentity | None = None
    verdict: TrustVerdict | None = None
    error: SmimeError | None = None
    """Set with :attr:`Refusal.ERROR`: what prevented the check."""

    @property
    def accepted(self) -> bool:
        """Whether the signature is accepted (reported ``DONE``)."""
        return self.refusal is None

    @property
    def intact(self) -> bool:
        """Whether the content is the one that was signed."""
        return self.check.intact

    @property
    def valid(self) -> bool:
        """Whether the signature verifies under the signer certificate's key."""
        return self.check.ok

    @property
    def trusted(self) -> bool:
        """Whether the signer's certificate is fully trusted."""
        return self.verdict is not None and self.verdict.trusted

    @property
    def signer(self) -> x509.Certificate | None:
        """The signer's certificate, when it was found."""
        return self.check.certificate

    @property
    def signing_time(self) -> datetime | None:
        """The signingTime attribute, when the signature has one."""
        return self.check.signing_time

    @property
    def trust_reason(self) -> str | None:
        """Why the signer is not fully trusted (RT's ``TrustReason``, such as ``no-path``)."""
        return self.verdict.reason if self.verdict is not None else None

    @property
    def digest_algorithm(self) -> str | None:
        """The SignerInfo's digest algorithm (``sha256``...), when it is known."""
        return self.check.digest.name if self.check.digest is not None else None

    @property
    def signature_algorithm(self) -> str | None:
        """The signature scheme (``rsassa_pkcs1v15``, ``ecdsa``, ``ml_dsa_65``...), when known."""
        return self.check.scheme.name if self.check.scheme is not None else None


DecryptionStage = Literal["done", "unauthenticated", "content", "key", "decrypt", "no-key"]
"""Where decryption ended: ``done``; decrypted but ``unauthenticated`` while
``require_authenticated_encryption`` is set (the plaintext is not shown); the
``content`` cannot be decrypted by anyone (absent, unknown cipher); a ``key``
could not be opened; decryption with a fitting key failed (``decrypt``);
``no-key`` in the keyring fits."""


@dataclass(frozen=True)
class DecryptionOutcome:
    """How decryption with the keyring went.

    ``address`` is the keyring address whose key was used (or could not be
    opened); ``content`` is set when ``stage`` is ``done``, ``error`` otherwise.
    """

    stage: DecryptionStage
    address: str | None = None
    content: DecryptedContent | None = None
    error: SmimeError | None = None


RecipientProblem = Literal["Key not found", "Key expired", "Key not trusted"]
"""RT's reasons for an unusable recipient (its wording is the contract)."""


@dataclass(frozen=True)
class RecipientChoice:
    """The certificate chosen to encrypt to an address, and where it came from.

    ``encrypt``, ``check_recipients`` and ``keys_for_encryption`` all start
    from this one choice, so they cannot disagree about an address.
    """

    address: str
    certificate: x509.Certificate | None
    source: Literal["keyring", "store", "none"]
    problem: RecipientProblem | None = None


@dataclass(frozen=True)
class RecipientOutcome:
    """A recipient judged for RT's ``CheckRecipients``: the choice and its trust verdict."""

    choice: RecipientChoice
    verdict: TrustVerdict | None
    problem: RecipientProblem | None

    @property
    def usable(self) -> bool:
        """Whether the address can be encrypted to."""
        return self.problem is None

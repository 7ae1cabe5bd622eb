"""The S/MIME context: a keyring, a trust evaluator and a certificate store, answering in outcomes.

After MimeKit's ``SecureMimeContext``: the context knows where keys and
certificates are and how to judge them; it returns typed outcomes
(:mod:`smimecore.engine.outcomes`) and never words a status record.  The
policy decisions of :class:`~smimecore.Config` (accept untrusted CAs,
require the signer to be the sender, which certificate to encrypt to, what
enters the store) are taken here, each in one place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

from cryptography import x509

from smimecore.cms.enveloped import EnvelopedMessage, check_decryptable, decrypt_enveloped
from smimecore.cms.signed import SignedData, SignerCheck, SigningIdentity
from smimecore.config import Config, Purpose
from smimecore.engine.outcomes import (
    DecryptionOutcome,
    RecipientChoice,
    RecipientOutcome,
    Refusal,
    SenderMatch,
    SignatureOutcome,
)
from smimecore.errors import (
    KeyLoadError,
    MalformedCMSError,
    NoMatchingRecipientError,
    RecipientError,
    SecretKeyNotFoundError,
    SmimeError,
    UnsupportedAlgorithmError,
)
from smimecore.keyring.base import Keyring
from smimecore.keyring.store import CertificateStore, StoredCertificate
from smimecore.mime.transfer import canonical_crlf
from smimecore.pki.certificate import CertificateIdentity, identity_of
from smimecore.pki.files import CertificateFile
from smimecore.trust.base import TrustEvaluator, TrustVerdict

__all__ = ["SmimeContext", "distinct_addresses"]

log = logging.getLogger("smimecore.engine")


class SmimeContext:
    """What the engine knows about keys, certificates and trust, for one configuration.

    Safe to share between threads (the keyring, trust evaluator and store are).
    """

    def __init__(
        self,
        config: Config,
        keyring: Keyring,
        trust: TrustEvaluator,
        store: CertificateStore,
    ) -> None:
        self.config = config
        self.keyring = keyring
        self.trust = trust
        self.store = store
        other = config.other_certificates_to_send
        self._other_certificates = (
            CertificateFile(other, "other_certificates_to_send") if other is not None else None
        )

    def __repr__(self) -> str:
        return f"SmimeContext(keyring={self.keyring!r}, trust={self.trust!r})"

    # -- signing ---------------------------------------------------------

    def signing_identity(self, address: str) -> SigningIdentity:
        """The identity ``address`` signs with (the keyring's errors pass through)."""
        return self.keyring.signing_identity(address)

    def certificates_to_send(self) -> tuple[x509.Certificate, ...]:
        """``other_certificates_to_send``: added to every signature."""
        return self._other_certificates.certificates() if self._other_certificates else ()

    # -- verifying -------------------------------------------------------

    def judge_signatures(
        self,
        signed_data: SignedData,
        content: bytes | memoryview,
        senders: tuple[str, ...],
    ) -> list[SignatureOutcome]:
        """Check and judge every SignerInfo of ``signed_data`` over ``content``.

        ``senders`` are the message's sender addresses (see
        :func:`smimecore.mime.addresses.sender_addresses`).
        """
        checks = signed_data.check_signers(_ContentCandidates(content), self.keyring.certificates)
        return [self._judge(check, signed_data, senders) for check in checks]

    def _judge(
        self, check: SignerCheck, signed_data: SignedData, senders: tuple[str, ...]
    ) -> SignatureOutcome:
        nobody = SenderMatch(senders, senders)
        if check.error is not None:
            return SignatureOutcome(check, nobody, Refusal.ERROR, error=check.error)
        if not check.ok:
            return SignatureOutcome(check, nobody, Refusal.NOT_VALID)
        if check.certificate is None:  # a verified signer always has one
            problem = MalformedCMSError("no signer certificate")
            return SignatureOutcome(check, nobody, Refusal.ERROR, error=problem)
        identity = identity_of(check.certificate)
        verdict = self.trust.evaluate(
            check.certificate,
            self._intermediates(signed_data.certificates, identity),
            purpose="signing",
            signing_time=check.signing_time,
            crls=signed_data.crls,
        )
        sender = SenderMatch.of(senders, identity.addresses)
        refusal = None
        if not verdict.trusted and not self.config.accept_untrusted_cas:
            refusal = Refusal.UNTRUSTED
        elif self.config.require_sender_match and not sender.matches:
            refusal = Refusal.SENDER_MISMATCH
        return SignatureOutcome(check, sender, refusal, identity, verdict)

    def _intermediates(
        self, carried: Sequence[x509.Certificate], identity: CertificateIdentity
    ) -> list[x509.Certificate]:
        """Chain candidates: the message's, the keyring's and the signer's stored certificates."""
        address = identity.email
        stored = [entry.certificate for entry in self.store.get(address)] if address else []
        return [*carried, *self.keyring.certificates(), *stored]

    def remember_signers(self, outcomes: Iterable[SignatureOutcome]) -> None:
        """Store the certificate of every accepted signer, under the addresses it names."""
        for outcome in outcomes:
            if outcome.accepted and outcome.signer is not None and outcome.identity is not None:
                for address in _own_addresses(outcome.identity):
                    self.store.put(address, outcome.signer, outcome.trusted)

    def remember_certificates(self, certificates: Iterable[x509.Certificate]) -> None:
        """Store certificates that came without a signature (certificates-only parts), untrusted."""
        for certificate in certificates:
            for address in _own_addresses(identity_of(certificate)):
                self.store.put(address, certificate, False)

    # -- encrypting ------------------------------------------------------

    def choose_recipient(self, address: str) -> RecipientChoice:
        """The certificate to encrypt to ``address``: the keyring's, else the store's best.

        The keyring file wins over the store (RT section 5).  From the store,
        the currently valid certificate with the latest notAfter.
        """
        certificate = self.keyring_certificate(address, "encryption")
        if certificate is not None:
            if certificate.not_valid_after_utc < datetime.now(UTC):
                return RecipientChoice(address, certificate, "keyring", "Key expired")
            return RecipientChoice(address, certificate, "keyring")
        stored = self.stored_for_encryption(address)
        if stored:
            return RecipientChoice(address, stored[0], "store")
        return RecipientChoice(address, None, "none", "Key not found")

    def stored_for_encryption(self, address: str) -> list[x509.Certificate]:
        """The store's usable certificates for ``address``, the one to use first.

        Only currently valid ones; untrusted ones (learned from mail whose
        signer was not trusted) only under ``accept_untrusted_cas``, and
        after every trusted one.  Then the latest notAfter first.
        """
        now = datetime.now(UTC)
        usable = [
            entry
            for entry in self.store.get(address)
            if _valid_at(entry, now) and (entry.trusted or self.config.accept_untrusted_cas)
        ]
        usable.sort(key=lambda e: (e.trusted, e.certificate.not_valid_after_utc), reverse=True)
        return [entry.certificate for entry in usable]

    def recipient_certificates(
        self, addresses: Sequence[str], given: Sequence[x509.Certificate] = ()
    ) -> list[x509.Certificate]:
        """One certificate per address, then ``given``; all or nothing, as in RT.

        Raises :class:`RecipientError` listing every address that has no
        usable certificate (``unusable``).  Trust is not required here, as in
        RT's mail path; :meth:`judge_recipient` is the place for it.
        """
        chosen: list[x509.Certificate] = []
        unusable: list[tuple[str, str]] = []
        with self.keyring.one_look():
            for address in distinct_addresses(addresses):
                choice = self.choose_recipient(address)
                if choice.problem is not None or choice.certificate is None:
                    unusable.append((address, choice.problem or "Key not found"))
                else:
                    chosen.append(choice.certificate)
        if unusable:
            names = ", ".join(address for address, _ in unusable)
            raise RecipientError(f"cannot encrypt to {names}", unusable=unusable)
        chosen.extend(certificate for certificate in given if certificate not in chosen)
        if not chosen:
            raise RecipientError("no recipients to encrypt to")
        return chosen

    def judge_recipient(self, address: str) -> RecipientOutcome:
        """RT's ``CheckRecipients`` test for one address: a usable certificate that is trusted.

        Under ``accept_untrusted_cas`` any trust will do.
        """
        choice = self.choose_recipient(address)
        if choice.problem is not None or choice.certificate is None:
            return RecipientOutcome(choice, None, choice.problem or "Key not found")
        verdict = self.trust_of(choice.certificate, "encryption")
        if not verdict.trusted and not self.config.accept_untrusted_cas:
            return RecipientOutcome(choice, verdict, "Key not trusted")
        return RecipientOutcome(choice, verdict, None)

    def keyring_certificate(
        self, address: str, purpose: Purpose | None, level: int = logging.WARNING
    ) -> x509.Certificate | None:
        """``address``'s keyring certificate, or ``None`` without one or when it is unreadable.

        An unreadable file (damaged, or a PKCS#12 file the passphrase does not
        open) is logged at ``level`` and treated as absent, so that one bad
        file does not stop encryption to, or decryption by, everyone else.
        """
        try:
            return self.keyring.certificate_for(address, purpose)
        except (KeyLoadError, MalformedCMSError) as exc:
            log.log(level, "keyring certificate of %s cannot be read: %s", address, exc)
            return None

    # -- decrypting ------------------------------------------------------

    def decrypt(
        self, message: EnvelopedMessage, candidates: Callable[[], Sequence[str]]
    ) -> DecryptionOutcome:
        """Decrypt with the first keyring key that fits.

        Keys whose certificate a RecipientInfo names are used first; then
        the keys of the ``candidates()`` addresses are tried against every
        RecipientInfo (asked for only then).
        """
        try:
            check_decryptable(message)
        except SmimeError as exc:
            return DecryptionOutcome("content", error=exc)
        with self.keyring.one_look():
            for address in self.keyring.decryption_candidates(message.names):
                outcome = self._attempt(message, address, try_all=False)
                if outcome is not None:
                    return outcome
            tried = distinct_addresses(candidates())
            for address in tried:
                outcome = self._attempt(message, address, try_all=True)
                if outcome is not None:
                    return outcome
        missing = SecretKeyNotFoundError(", ".join(tried) or "any recipient", "no keyring key fits")
        return DecryptionOutcome("no-key", error=missing)

    def _attempt(
        self, message: EnvelopedMessage, address: str, *, try_all: bool
    ) -> DecryptionOutcome | None:
        try:
            identity = self.keyring.decryption_identity(address)
        except SecretKeyNotFoundError:
            return None
        except (KeyLoadError, UnsupportedAlgorithmError) as exc:
            return DecryptionOutcome("key", address, error=exc)
        try:
            content = decrypt_enveloped(
                message, identity.private_key, identity.certificate, try_all=try_all
            )
        except NoMatchingRecipientError:
            return None
        except SmimeError as exc:
            return DecryptionOutcome("decrypt", address, error=exc)
        return DecryptionOutcome("done", address, content)

    # -- trust -----------------------------------------------------------

    def trust_of(self, certificate: x509.Certificate, purpose: Purpose) -> TrustVerdict:
        """The trust verdict on ``certificate`` for ``purpose``, chained through the keyring."""
        return self.trust.evaluate(certificate, list(self.keyring.certificates()), purpose=purpose)


def distinct_addresses(addresses: Iterable[str]) -> list[str]:
    """Addresses without case-insensitive repeats, first spelling kept."""
    seen: dict[str, str] = {}
    for address in addresses:
        if address:
            seen.setdefault(address.casefold(), address)
    return list(seen.values())


def _own_addresses(identity: CertificateIdentity) -> list[str]:
    """The addresses a certificate names (its RFC 5750 address when it names none otherwise)."""
    if identity.addresses:
        return sorted(identity.addresses)
    return [identity.email] if identity.email else []


def _valid_at(entry: StoredCertificate, moment: datetime) -> bool:
    certificate = entry.certificate
    return certificate.not_valid_before_utc <= moment <= certificate.not_valid_after_utc


class _ContentCandidates:
    """The content as received, then (only if asked for, and if different) in canonical CRLF."""

    def __init__(self, content: bytes | memoryview) -> None:
        self._content = content
        self._canonical: bytes | None = None

    def __call__(self, index: int) -> bytes | memoryview | None:
        if index == 0:
            return self._content
        if index == 1:
            if self._canonical is None:
                self._canonical = canonical_crlf(bytes(self._content))
            return None if self._canonical == self._content else self._canonical
        return None

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
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509

from smimecore.algorithms.kem import kem_for_certificate
from smimecore.cms.enveloped import EnvelopedMessage, check_decryptable, decrypt_enveloped
from smimecore.cms.signed import SignedData, SignerCheck, SigningIdentity
from smimecore.config import Config, Purpose
from smimecore.engine.outcomes import (
    DecryptionOutcome,
    Origin,
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
from smimecore.keyring.loading import is_ca
from smimecore.keyring.store import CertificateStore, encryption_candidates
from smimecore.mime.dates import parse_date
from smimecore.mime.transfer import canonical_crlf
from smimecore.mime.walk import MimeLimits
from smimecore.pki.certificate import CertificateIdentity, identity_of
from smimecore.pki.der import ReaderLimits
from smimecore.pki.files import CertificateFile
from smimecore.trust.base import TrustEvaluator, TrustVerdict

__all__ = ["ID_DATA", "SmimeContext", "StoreBudget", "distinct_addresses"]

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
        self.reader_limits = ReaderLimits(
            max_depth=config.max_ber_depth,
            max_recipient_infos=config.max_recipient_infos,
            max_signer_infos=config.max_signer_infos,
            max_certificates=config.max_certificates,
        )
        """What one CMS object may hold (``max_ber_depth``, ``max_recipient_infos``...)."""
        self.mime_limits = MimeLimits(
            config.max_mime_depth, config.max_mime_parts, config.max_header_size
        )
        """What walking one message may cost (``max_mime_depth``, ``max_mime_parts``...)."""
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
        self, signed_data: SignedData, content: bytes | memoryview, origin: Origin
    ) -> list[SignatureOutcome]:
        """Check and judge every SignerInfo of ``signed_data`` over ``content``.

        ``origin`` is what the top-level header says (senders, date).
        """
        checks = signed_data.check_signers(_ContentCandidates(content), self.keyring.certificates)
        return [self._judge(check, signed_data, origin) for check in checks]

    def _judge(
        self, check: SignerCheck, signed_data: SignedData, origin: Origin
    ) -> SignatureOutcome:
        if check.error is not None or not check.ok or check.certificate is None:
            return _unverified(check, origin)
        identity = identity_of(check.certificate)
        verdict = self.trust.evaluate(
            check.certificate,
            self._intermediates(signed_data.certificates, identity),
            purpose="signing",
            signing_time=check.signing_time,
            crls=signed_data.crls,
        )
        sender = SenderMatch.of(origin.senders, identity.addresses)
        refusal = self._refusal(signed_data, check.signing_time, origin)
        if refusal is None and not verdict.trusted and not self.config.accept_untrusted_cas:
            refusal = Refusal.UNTRUSTED
        if refusal is None and self.config.require_sender_match and not sender.matches:
            refusal = Refusal.SENDER_MISMATCH
        return SignatureOutcome(check, sender, refusal, identity, verdict)

    def _refusal(
        self, signed_data: SignedData, signing_time: datetime | None, origin: Origin
    ) -> Refusal | None:
        """What refuses an intact, valid signature before trust: its content type, its time."""
        if signed_data.content_type_oid != ID_DATA:
            return Refusal.NOT_MAIL
        if signing_time is None:
            return None
        if signing_time - datetime.now(UTC) > timedelta(seconds=self.config.max_clock_skew):
            return Refusal.FUTURE_SIGNING_TIME
        drift = self.config.max_signing_time_drift
        if drift is None or origin.date is None:
            return None
        sent = parse_date(origin.date)
        if sent is None or abs(signing_time - sent) > timedelta(seconds=drift):
            return Refusal.SIGNING_TIME_MISMATCH
        return None

    def _intermediates(
        self, carried: Sequence[x509.Certificate], identity: CertificateIdentity
    ) -> list[x509.Certificate]:
        """Chain candidates: the message's, the keyring's and the signer's stored certificates."""
        address = identity.email
        stored = [entry.certificate for entry in self.store.get(address)] if address else []
        return [*carried, *self.keyring.certificates(), *stored]

    def store_budget(self) -> StoreBudget:
        """How many certificates one message may add to the store."""
        return StoreBudget(self.config.max_stored_certificates_per_message)

    def remember_signers(
        self,
        outcomes: Sequence[SignatureOutcome],
        carried: Sequence[x509.Certificate],
        budget: StoreBudget,
    ) -> None:
        """Store what an accepted signature vouches for.

        Each accepted signer's certificate, under the addresses it names
        (trusted or not, as judged); the other end-entity certificates the
        signature carried only when they are trusted on their own.
        """
        signers = []
        for outcome in outcomes:
            if outcome.accepted and outcome.signer is not None and outcome.identity is not None:
                self._store(outcome.identity, outcome.signer, outcome.trusted, budget)
                signers.append(outcome.signer)
        # By identity: the signers are the very objects the SignedData carries (certificates
        # hash and compare by their DER, a microsecond each).
        signer_ids = {id(signer) for signer in signers}
        others = [c for c in carried if id(c) not in signer_ids]
        if signers and others:
            self.remember_certificates(others, budget)

    def remember_certificates(
        self, certificates: Iterable[x509.Certificate], budget: StoreBudget
    ) -> None:
        """Store the end-entity certificates that chain to ``ca_path`` (certificates-only parts).

        Anyone can send a certificate: one that is not trusted is never
        stored, so it can never be chosen to encrypt to.
        """
        for certificate in certificates:
            if is_ca(certificate):
                continue
            identity = identity_of(certificate)
            if identity.own_addresses and self.trust_of(certificate, "encryption").trusted:
                self._store(identity, certificate, True, budget)

    def _store(
        self,
        identity: CertificateIdentity,
        certificate: x509.Certificate,
        trusted: bool,
        budget: StoreBudget,
    ) -> None:
        for address in identity.own_addresses:
            if not budget.take():
                log.warning(
                    "certificate for %s not stored: the message's store budget is spent", address
                )
                return
            try:
                self.store.put(address, certificate, trusted)
            except SmimeError as exc:
                log.warning("certificate for %s not stored: %s", address, exc)

    # -- encrypting ------------------------------------------------------

    def choose_recipient(self, address: str) -> RecipientChoice:
        """The certificate to encrypt to ``address``: the keyring's, else the store's best.

        The keyring file wins over the store (RT section 5).  From the store,
        the currently valid certificate with the latest notAfter.  Between a
        classical and an ML-KEM certificate of the same source,
        ``prefer_post_quantum`` decides (:meth:`_in_preferred_order`); of the
        keyring's, one that has not expired comes first.
        """
        held = self._keyring_encryption_certificates(address)
        if held:
            now = datetime.now(UTC)
            ordered = self._in_preferred_order(held)
            current = [c for c in ordered if c.not_valid_after_utc >= now]
            if not current:
                return RecipientChoice(address, ordered[0], "keyring", "Key expired")
            return RecipientChoice(address, current[0], "keyring")
        stored = self.stored_for_encryption(address)
        if stored:
            return RecipientChoice(address, stored[0], "store")
        return RecipientChoice(address, None, "none", "Key not found")

    def stored_for_encryption(self, address: str) -> list[x509.Certificate]:
        """The store's usable certificates for ``address``, the one to use first.

        Untrusted ones (learned from mail whose signer was not trusted) only
        under ``accept_untrusted_cas``, and after every trusted one; then
        ``prefer_post_quantum`` orders classical and ML-KEM certificates.
        """
        return self._in_preferred_order(
            encryption_candidates(
                self.store.get(address), include_untrusted=self.config.accept_untrusted_cas
            )
        )

    def _in_preferred_order(
        self, certificates: Sequence[x509.Certificate]
    ) -> list[x509.Certificate]:
        """``certificates`` with the kind ``prefer_post_quantum`` wants first (otherwise in order).

        ``True``: ML-KEM certificates first; ``False``: classical ones first;
        ``None`` (the default): the ML-KEM certificates that are trusted for
        encryption first.  Only a mix of both kinds is reordered.
        """
        post_quantum = [c for c in certificates if kem_for_certificate(c) is not None]
        if not post_quantum or len(post_quantum) == len(certificates):
            return list(certificates)
        prefer = self.config.prefer_post_quantum
        if prefer is None:
            first = [c for c in post_quantum if self.trust_of(c, "encryption").trusted]
        elif prefer:
            first = post_quantum
        else:
            first = [c for c in certificates if c not in post_quantum]
        return [*first, *(c for c in certificates if c not in first)]

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

    def _keyring_encryption_certificates(self, address: str) -> list[x509.Certificate]:
        """Every certificate the keyring holds to encrypt to ``address`` (none when unreadable).

        An unreadable file (damaged, or a PKCS#12 file the passphrase does not
        open) is logged and treated as absent, so that one bad file does not
        stop encryption to everyone else.
        """
        try:
            return list(self.keyring.encryption_certificates(address))
        except (KeyLoadError, MalformedCMSError, UnsupportedAlgorithmError) as exc:
            log.warning("keyring certificate of %s cannot be read: %s", address, exc)
            return []

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

    def decrypt_with_key(
        self,
        message: EnvelopedMessage,
        private_key: Any,
        certificate: x509.Certificate | None,
        label: str,
    ) -> DecryptionOutcome:
        """Decrypt with one key the caller holds, not the keyring's.

        The RecipientInfos naming ``certificate`` are used first, then every
        RecipientInfo the key can use (all of them without a certificate).
        ``label`` stands for the key in the outcome (as an address does).
        """
        try:
            check_decryptable(message)
        except SmimeError as exc:
            return DecryptionOutcome("content", error=exc)
        try:
            return self._decrypt_with(message, label, private_key, certificate, try_all=True)
        except NoMatchingRecipientError as exc:
            return DecryptionOutcome("no-key", label, error=exc)

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
            return self._decrypt_with(
                message, address, identity.private_key, identity.certificate, try_all=try_all
            )
        except NoMatchingRecipientError:
            return None

    def _decrypt_with(
        self,
        message: EnvelopedMessage,
        address: str,
        private_key: Any,
        certificate: x509.Certificate | None,
        *,
        try_all: bool,
    ) -> DecryptionOutcome:
        """One key's attempt; :class:`NoMatchingRecipientError` when no RecipientInfo fits it."""
        try:
            content = decrypt_enveloped(
                message,
                private_key,
                certificate,
                try_all=try_all,
                max_attempts=self.config.max_decryption_attempts,
            )
        except NoMatchingRecipientError:
            raise
        except SmimeError as exc:
            return DecryptionOutcome("decrypt", address, error=exc)
        if self.config.require_authenticated_encryption and not content.authenticated:
            return DecryptionOutcome("unauthenticated", address, content)
        return DecryptionOutcome("done", address, content)

    # -- trust -----------------------------------------------------------

    def trust_of(self, certificate: x509.Certificate, purpose: Purpose) -> TrustVerdict:
        """The trust verdict on ``certificate`` for ``purpose``, chained through the keyring."""
        return self.trust.evaluate(certificate, list(self.keyring.certificates()), purpose=purpose)


ID_DATA = "1.2.840.113549.1.7.1"
"""id-data: the eContentType of S/MIME content (RFC 8551 section 3.1)."""


def distinct_addresses(addresses: Iterable[str]) -> list[str]:
    """Addresses without case-insensitive repeats, first spelling kept."""
    seen: dict[str, str] = {}
    for address in addresses:
        if address:
            seen.setdefault(address.casefold(), address)
    return list(seen.values())


def _unverified(check: SignerCheck, origin: Origin) -> SignatureOutcome:
    """The outcome of a SignerInfo that could not be checked or did not verify."""
    nobody = SenderMatch(origin.senders, origin.senders)
    if check.error is not None:
        return SignatureOutcome(check, nobody, Refusal.ERROR, error=check.error)
    if not check.ok:
        return SignatureOutcome(check, nobody, Refusal.NOT_VALID)
    # A verified signer always has a certificate.
    problem = MalformedCMSError("no signer certificate")
    return SignatureOutcome(check, nobody, Refusal.ERROR, error=problem)


class StoreBudget:
    """How many more certificates one message may still add to the certificate store."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def take(self) -> bool:
        """Use one place; ``False`` when none is left."""
        if self.left <= 0:
            return False
        self.left -= 1
        return True


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

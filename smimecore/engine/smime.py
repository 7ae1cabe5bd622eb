"""The high-level engine: RT::Crypt::SMIME's operations, in-process.

``SMIME(config).sign(message, signer=...)`` and ``.verify(message)`` return
a :class:`Result` whose status records carry RT's exact wording.  Failures
that leave no verdict to report (no key, a wrong passphrase, malformed
input) raise a :class:`~smimecore.errors.SmimeError` that carries the same
records in ``statuses``; the caller's message is never modified.

This module joins the pieces: MIME in and out (:mod:`smimecore.mime`), the
context's outcomes (:mod:`smimecore.engine.context`) and RT's records made
from them (:mod:`smimecore.engine.records`).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Concatenate, NoReturn, ParamSpec, TypeVar

from cryptography import x509

from smimecore.algorithms.ciphers import content_cipher_by_name
from smimecore.algorithms.digests import SIGNING_DIGESTS, DigestAlgorithm, digest_by_name
from smimecore.algorithms.signatures import scheme_for_key
from smimecore.cms.enveloped import EncryptionRecipient, enveloped_pieces, parse_enveloped
from smimecore.cms.signed import SigningIdentity, build_signed_data, parse_signed_data
from smimecore.config import CIPHERS, Config
from smimecore.engine import records
from smimecore.engine.context import SmimeContext, StoreBudget, distinct_addresses
from smimecore.engine.crosscheck import ask_openssl
from smimecore.engine.outcomes import Origin, Refusal, SignatureOutcome
from smimecore.engine.process import Unwrapper, with_status_header
from smimecore.engine.status import Result, StatusRecord
from smimecore.errors import (
    CertificateNotFoundError,
    ConfigError,
    DisabledError,
    KeyLoadError,
    MalformedCMSError,
    NotProtectedError,
    RecipientError,
    SecretKeyNotFoundError,
    SmimeError,
    UnsupportedAlgorithmError,
)
from smimecore.keyring.base import Keyring
from smimecore.keyring.directory import DirectoryKeyring
from smimecore.keyring.store import (
    CertificateStore,
    DirectoryCertificateStore,
    MemoryCertificateStore,
)
from smimecore.mime.addresses import header_addresses, sender_addresses
from smimecore.mime.entity import MessageInput, RawEntity, message_bytes, split_entity
from smimecore.mime.enveloped import parse_encrypted
from smimecore.mime.protected import (
    build_pkcs7_mime,
    build_pkcs7_mime_pieces,
    protected_entity_pieces,
    reinsert,
    split_protected_parts,
)
from smimecore.mime.signed import build_detached, parse_signed
from smimecore.mime.transport import prepared_for_transport
from smimecore.pki.certificate import identity_of, key_algorithm_name, load_certificates
from smimecore.trust.base import TrustEvaluator
from smimecore.trust.capath import build_trust_evaluator
from smimecore.trust.policy import TrustPolicy

__all__ = ["SMIME", "first_certificate", "require_enabled", "signing_digest"]

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _recorded(
    operation: str,
) -> Callable[[Callable[Concatenate[SMIME, _P], _R]], Callable[Concatenate[SMIME, _P], _R]]:
    """Every SmimeError leaving the method carries a record of ``operation`` saying why.

    Errors that already carry the operation's records keep them; one that
    stopped it before any record was made (a malformed message, a refused
    option) gets ``<operation>``/``ERROR`` "There was an error ...".
    """

    def decorate(
        method: Callable[Concatenate[SMIME, _P], _R],
    ) -> Callable[Concatenate[SMIME, _P], _R]:
        def run(self: SMIME, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
            try:
                return method(self, *args, **kwargs)
            except SmimeError as exc:
                if not exc.statuses:
                    exc.with_statuses([records.failed(operation, exc)])
                raise

        functools.update_wrapper(run, method)
        return run

    return decorate


class SMIME:
    """An S/MIME engine bound to one :class:`Config` (RT's ``%SMIME``).

    ``keyring`` replaces the keyring directory of the configuration (for
    example a :class:`~smimecore.keyring.MemoryKeyring`); ``store`` (also
    accepted as ``certificate_store``) the users' certificate store, and
    ``trust`` the trust evaluator derived from the configuration.  An
    instance is safe to share between threads and caches loaded keys.
    """

    def __init__(
        self,
        config: Config | None = None,
        keyring: Keyring | None = None,
        store: CertificateStore | None = None,
        *,
        trust: TrustEvaluator | None = None,
        certificate_store: CertificateStore | None = None,
    ) -> None:
        if store is not None and certificate_store is not None:
            raise ConfigError(
                "certificate_store", "is given twice (as store and certificate_store)"
            )
        self.config = config if config is not None else Config()
        self.context = SmimeContext(
            self.config,
            keyring if keyring is not None else _keyring_for(self.config),
            trust
            if trust is not None
            else build_trust_evaluator(TrustPolicy.from_config(self.config)),
            store or certificate_store or _store_for(self.config),
        )

    def __repr__(self) -> str:
        return f"SMIME({self.config!r})"

    @property
    def keyring(self) -> Keyring:
        """Where keys and certificates come from."""
        return self.context.keyring

    @property
    def trust(self) -> TrustEvaluator:
        """The trust evaluator."""
        return self.context.trust

    @property
    def certificate_store(self) -> CertificateStore:
        """The users' certificate store."""
        return self.context.store

    # -- signing ---------------------------------------------------------

    @_recorded("Sign")
    def sign(
        self,
        message: MessageInput,
        *,
        signer: str,
        opaque: bool = False,
        digest: str = "sha256",
        pss: bool = False,
        use_subject_key_identifier: bool = False,
        prepare_for_transport: bool | None = None,
    ) -> Result:
        """Sign ``message`` with ``signer``'s keyring key.

        The result is ``multipart/signed`` (or, with ``opaque``,
        ``application/pkcs7-mime; smime-type=signed-data``); From, To,
        Subject and the other outer fields stay outside the signed part.
        ``pss`` signs with RSASSA-PSS instead of PKCS#1 v1.5.

        Before signing, every part a 7-bit transport could change (8-bit or
        binary content, long lines, trailing white space, lines starting
        ``From ``) is re-encoded as quoted-printable or base64
        (:mod:`smimecore.mime.transport`), unless ``prepare_for_transport``
        (default: the configuration's, true) is false: the result must then
        travel over an 8BITMIME (or BINARYMIME) path as :attr:`Result.data`.
        """
        self._require_enabled()
        digest_algorithm = signing_digest(digest)
        raw = message_bytes(message)
        identity = self.signing_identity(signer)
        if (
            self.config.prepare_for_transport
            if prepare_for_transport is None
            else prepare_for_transport
        ):
            raw = prepared_for_transport(raw)
        outer_headers, entity = protected_entity_pieces(raw)  # hashed, then written out
        try:
            signed_data = build_signed_data(
                entity,
                identity,
                digest=digest_algorithm,
                detached=not opaque,
                pss=pss,
                use_subject_key_identifier=use_subject_key_identifier,
                extra_certificates=self.context.certificates_to_send(),
            )
        except SmimeError as exc:
            raise exc.with_statuses([records.sign_failed(exc)]) from None
        if opaque:
            output = build_pkcs7_mime(outer_headers, signed_data, "signed-data")
        else:
            micalg = scheme_for_key(identity.key, digest_algorithm, pss=pss).digest.micalg
            output = build_detached(outer_headers, entity, signed_data, micalg)
        return Result(output, (records.signed(),))

    def signing_identity(self, signer: str) -> SigningIdentity:
        """The key, certificate and chain ``signer`` signs with, from the keyring.

        A key that cannot be found or opened raises its
        :class:`~smimecore.errors.SmimeError` carrying RT's ``KeyCheck`` record.
        """
        try:
            return self.context.signing_identity(signer)
        except (SecretKeyNotFoundError, KeyLoadError, UnsupportedAlgorithmError) as exc:
            raise exc.with_statuses([records.key_check(signer, exc)]) from None

    # -- verifying -------------------------------------------------------

    @_recorded("Verify")
    def verify(self, message: MessageInput) -> Result:
        """Verify a signed message: every SignerInfo gets its own ``Verify`` record.

        When every record is ``DONE`` the result is the signed content put
        back under the outer header fields (RT's re-insertion); otherwise
        it is the message unchanged.  A signature that does not verify, or
        a signer that is not trusted, is a ``BAD`` record; a message that
        cannot be checked at all raises.  The signer is matched against the
        message's own ``From:`` addresses.
        """
        self._require_enabled()
        # The message given is the signed one: its signatures cover all of it.
        return self._verify(message_bytes(message), None, self.context.store_budget(), "")

    def _verify(
        self, raw: bytes, origin: Origin | None, budget: StoreBudget, path: str | None = None
    ) -> Result:
        """:meth:`verify`; ``origin`` comes from the top-level message when ``raw`` is a part.

        The records of a result say what they cover when ``path`` (the part's MIME path) is
        given; the MIME walk says it otherwise.
        """
        try:
            signed_message = parse_signed(raw)
            signed_data = parse_signed_data(signed_message.signature, self.context.reader_limits)
        except SmimeError as exc:
            _raise_verify_error(exc)
        if not signed_data.signer_infos:
            _raise_verify_error(NotProtectedError("the signed-data has no signers (certs-only?)"))
        content = signed_message.content if signed_message.is_detached else signed_data.content
        if content is None:
            _raise_verify_error(
                MalformedCMSError("the signed-data carries no content and none is attached")
            )
        if origin is None:
            origin = _origin(signed_message.outer)
        outcomes = self.context.judge_signatures(signed_data, content, origin)
        statuses = tuple(records.signature(outcome) for outcome in outcomes)
        if self.config.cross_check and self.config.openssl:
            statuses = self._with_cross_check(str(self.config.openssl), raw, outcomes, statuses)
        errors = [outcome.error for outcome in outcomes if outcome.error is not None]
        if errors:
            raise errors[0].with_statuses(statuses)
        self.context.remember_signers(outcomes, signed_data.certificates, budget)
        if path is not None:
            statuses = tuple(records.with_coverage(record, path) for record in statuses)
        if all(outcome.accepted for outcome in outcomes):
            return Result(reinsert(signed_message.outer, content), statuses)
        return Result(raw, statuses)

    def _with_cross_check(
        self,
        binary: str,
        raw: bytes,
        outcomes: Sequence[SignatureOutcome],
        statuses: tuple[StatusRecord, ...],
    ) -> tuple[StatusRecord, ...]:
        opinion = ask_openssl(binary, raw, self.config.ca_path)
        judged_trust = self.config.ca_path is not None
        ours = all(_accepted_by_openssl_rules(outcome, judged_trust) for outcome in outcomes)
        if opinion.accepted is None:
            verdict = f"UNAVAILABLE ({opinion.detail})"
        elif opinion.accepted == ours:
            verdict = "AGREE"
        else:
            said = "accepted" if opinion.accepted else "refused"
            verdict = f"DISAGREE (openssl {said}: {opinion.detail})"
        return tuple(record.with_fields(CrossCheck=verdict) for record in statuses)

    # -- encrypting and decrypting -----------------------------------------

    @_recorded("Encrypt")
    def encrypt(
        self,
        message: MessageInput,
        *,
        recipients: Sequence[str],
        cipher: str | None = None,
        certificates: Sequence[x509.Certificate | bytes] = (),
        oaep: bool = False,
    ) -> Result:
        """Encrypt ``message`` to every recipient's certificate (and ``certificates``).

        A recipient's certificate is its keyring file's, else the best one
        in the certificate store.  The result is ``application/pkcs7-mime;
        smime-type=enveloped-data`` (``authEnveloped-data`` for AES-GCM and
        ChaCha20-Poly1305); outer fields such as From, To and Subject stay
        readable.  A recipient without a usable certificate raises
        :class:`RecipientError` and nothing is encrypted.  ``oaep`` uses
        RSA-OAEP (SHA-256) key transport.
        """
        self._require_enabled()
        raw = message_bytes(message)
        to_self = (
            header_addresses(split_entity(raw), "From")[:1] if self.config.encrypt_to_self else []
        )

        def chosen() -> list[x509.Certificate]:
            # Looked up once the message has split: a malformed message is reported first.
            return self.recipient_certificates([*recipients, *to_self], certificates)

        output = encrypt_entity(raw, chosen, cipher=self._cipher(cipher), oaep=oaep)
        return Result(output, (records.encrypted(),))

    @_recorded("Encrypt")
    def sign_encrypt(
        self,
        message: MessageInput,
        *,
        signer: str,
        recipients: Sequence[str],
        cipher: str | None = None,
        certificates: Sequence[x509.Certificate | bytes] = (),
        digest: str = "sha256",
        opaque: bool = False,
        oaep: bool = False,
        prepare_for_transport: bool | None = None,
    ) -> Result:
        """Sign with ``signer``'s key, then encrypt the signed entity (RT's order).

        Recipients are checked before anything is signed.  Decrypting the
        result gives the signed message, which :meth:`verify` then checks.
        ``prepare_for_transport`` is :meth:`sign`'s.
        """
        self._require_enabled()
        extra = [signer] if self.config.encrypt_to_self else []
        chosen = self.recipient_certificates([*recipients, *extra], certificates)
        signed = self.sign(
            message,
            signer=signer,
            digest=digest,
            opaque=opaque,
            prepare_for_transport=prepare_for_transport,
        )
        output = encrypt_entity(signed.data, chosen, cipher=self._cipher(cipher), oaep=oaep)
        return Result(output, (*signed.statuses, records.encrypted()))

    @_recorded("Decrypt")
    def decrypt(self, message: MessageInput, *, recipients: Sequence[str] = ()) -> Result:
        """Decrypt with the keyring: RT's ``Decrypt`` record, the plaintext under the outer fields.

        Keys are found by matching each RecipientInfo against the keyring's
        certificates; ``recipients`` (then the message's To and Cc) are the
        addresses whose keys are tried when no certificate matches.
        """
        self._require_enabled()
        raw = message_bytes(message)
        try:
            encrypted = parse_encrypted(raw)
            enveloped = parse_enveloped(encrypted.cms, self.context.reader_limits)
        except SmimeError as exc:
            raise exc.with_statuses([records.decryption_failed(exc)]) from None
        outer = encrypted.outer

        def candidates() -> list[str]:
            # Only needed when no keyring certificate is named by a RecipientInfo.
            return [*recipients, *header_addresses(outer, "To", "Cc")]

        outcome = self.context.decrypt(enveloped, candidates)
        record = records.decryption(outcome)
        if outcome.content is None:
            error = outcome.error or SmimeError("decryption failed")
            raise error.with_statuses([record]) from None
        record = records.with_coverage(record, "")  # the message given is all encrypted
        if outcome.stage == "unauthenticated":
            return Result(raw, (record,))  # a verdict: the plaintext is not shown
        plaintext = outcome.content.plaintext
        # The DER (and the ciphertext viewed in it) is not needed any more: free it
        # before the result is made, so the two do not coexist.
        del encrypted, enveloped, outcome
        return Result(reinsert(outer, plaintext), (record,))

    def recipient_certificates(
        self, addresses: Sequence[str], given: Sequence[x509.Certificate | bytes] = ()
    ) -> list[x509.Certificate]:
        """The certificates :meth:`encrypt` encrypts to: one per address, then ``given``.

        An address without a usable certificate raises :class:`RecipientError`
        with one ``RecipientsCheck`` record per unusable address.
        """
        loaded = [c if isinstance(c, x509.Certificate) else first_certificate(c) for c in given]
        try:
            return self.context.recipient_certificates(addresses, loaded)
        except RecipientError as exc:
            raise exc.with_statuses(records.unusable_recipients(exc.unusable)) from None

    def _cipher(self, cipher: str | None) -> str:
        if cipher is None:
            return self.config.cipher
        if cipher.lower() not in CIPHERS:
            raise ConfigError("cipher", f"{cipher!r} is not one of {', '.join(CIPHERS)}")
        return cipher.lower()

    # -- whole messages --------------------------------------------------

    @_recorded("VerifyDecrypt")
    def verify_decrypt(self, message: MessageInput) -> Result:
        """RT's ``VerifyDecrypt``: unwrap every protected part, layer after layer.

        Encrypted parts are decrypted and signed parts verified wherever
        they are in the message, each result put back under its part's
        outer fields; certificates-only parts give their certificates
        (``Result.certificates``, also stored as untrusted) and compressed
        parts are decompressed.  A failure stops the recursion, as in RT.
        Signers are matched against the top-level ``From:`` addresses and
        keys tried for its To and Cc.  The records of every layer come back
        in order; with ``status_header`` set they are also written into that
        header field.  A message with nothing protected gives no records.
        """
        self._require_enabled()
        raw = message_bytes(message)
        top = split_entity(raw)
        origin = _origin(top)
        budget = self.context.store_budget()
        unwrapper = Unwrapper(
            verify=lambda data: self._verify(data, origin, budget),
            decrypt=lambda data: self.decrypt(data, recipients=header_addresses(top, "To", "Cc")),
            store_certificates=lambda found: self.context.remember_certificates(found, budget),
            max_depth=self.config.max_depth,
            decompressed_limit=self.config.max_decompressed_size,
            reader_limits=self.context.reader_limits,
            output_limit=self.config.max_output_size,
            mime_limits=self.context.mime_limits,
            accepts_partial_protection=self.config.accept_partial_protection,
        )
        result = unwrapper.run(raw)
        if self.config.status_header:
            data = with_status_header(result.data, self.config.status_header, result.statuses)
            return dataclasses.replace(result, data=data)
        return result

    # -- keys ------------------------------------------------------------

    @_recorded("KeyCheck")
    def keys_for_signing(self, address: str) -> list[dict[str, Any]]:
        """RT's ``GetKeysForSigning``: the certificate information of ``address``'s signing key.

        Only keyring files holding a private key count (RT also returns a
        user's public certificate here, which cannot sign).
        """
        self._require_enabled()
        try:
            identity = self.context.signing_identity(address)
        except (SecretKeyNotFoundError, KeyLoadError, UnsupportedAlgorithmError):
            return []
        return [self.certificate_info(identity.certificate)]

    @_recorded("KeyCheck")
    def keys_for_encryption(self, address: str) -> list[dict[str, Any]]:
        """RT's ``GetKeysForEncryption``: usable certificates of ``address``, expired ones dropped.

        The keyring file wins over the certificate store (RT section 5);
        from the store, every usable certificate is listed, the one
        encryption would pick first.
        """
        self._require_enabled()
        choice = self.context.choose_recipient(address)
        if choice.source == "keyring":
            candidates = [] if choice.problem else [choice.certificate]
        else:
            candidates = list(self.context.stored_for_encryption(address))
        return [self.certificate_info(certificate) for certificate in candidates if certificate]

    # -- certificate information -----------------------------------------

    @_recorded("KeyCheck")
    def certificate_info(self, certificate: bytes | x509.Certificate) -> dict[str, Any]:
        """RT's ``GetCertificateInfo`` (section 8) for a PEM or DER certificate, with trust.

        Fields: ``Content`` (76-column PEM), ``Fingerprint`` (lowercase
        SHA-1), ``Serial Number`` (decimal), ``Created``/``Expire`` and
        ``CreatedTimestamp``/``ExpireTimestamp`` (epoch seconds), ``Version``,
        ``Issuer`` and ``User`` (one table each), ``UserString``, ``Trust``,
        ``TrustTerse``, ``TrustLevel``, ``TrustReason``, ``Formatted`` and
        ``KeyAlgorithm`` (``RSA-2048``, ``EC P-256``, ``ML-DSA-65``, ``ML-KEM-768``...;
        not in RT).
        """
        if not isinstance(certificate, x509.Certificate):
            certificate = first_certificate(certificate)
        identity = identity_of(certificate)
        verdict = self.context.trust_of(certificate, "signing")
        return {
            "Content": identity.pem(),
            "Fingerprint": identity.fingerprint,
            "Serial Number": identity.serial,
            "Created": int(identity.created_timestamp),
            "Expire": int(identity.expire_timestamp),
            "CreatedTimestamp": identity.created_timestamp,
            "ExpireTimestamp": identity.expire_timestamp,
            "Version": identity.version,
            "Issuer": [identity.issuer_parts()],
            "User": [identity.subject_parts()],
            "UserString": identity.user_string,
            "Trust": verdict.description,
            "TrustTerse": verdict.terse,
            "TrustLevel": verdict.level,
            "TrustReason": verdict.reason,
            "Formatted": f"{identity.user_string} (issued by {identity.issuer_string})",
            "KeyAlgorithm": key_algorithm_name(certificate),
        }

    @_recorded("KeyCheck")
    def address_certificate_info(self, address: str) -> dict[str, Any]:
        """:meth:`certificate_info` for the certificate of ``address``'s keyring file."""
        self._require_enabled()
        certificate = self.keyring.certificate_for(address, None)
        if certificate is None:
            raise CertificateNotFoundError(f"no keyring certificate for {address}")
        return self.certificate_info(certificate)

    # -- recipients ------------------------------------------------------

    @_recorded("KeyCheck")
    def check_recipients(self, addresses: Iterable[str]) -> list[StatusRecord]:
        """RT's ``CheckRecipients``: one ``RecipientsCheck`` record per distinct address.

        A recipient is usable with a certificate (the one encryption would
        use) that has not expired and is trusted for encryption (or any
        trust under ``accept_untrusted_cas``).  Addresses are de-duplicated
        case-insensitively, keeping the first spelling.
        """
        self._require_enabled()
        return [
            records.recipient(self.context.judge_recipient(address))
            for address in distinct_addresses(addresses)
        ]

    # -- common ----------------------------------------------------------

    def _require_enabled(self) -> None:
        require_enabled(self.config)


def require_enabled(config: Config) -> None:
    """Raise :class:`DisabledError` when ``config`` turns S/MIME off (``enable = false``)."""
    if not config.enable:
        raise DisabledError("S/MIME is disabled in the configuration (enable = false)")


def signing_digest(name: str) -> DigestAlgorithm:
    """The digest called ``name``, when signatures are made with it (``SIGNING_DIGESTS``)."""
    digest = digest_by_name(name)
    if digest.name not in SIGNING_DIGESTS:
        raise UnsupportedAlgorithmError(
            name, f"is not used to sign (use {', '.join(SIGNING_DIGESTS)})"
        )
    return digest


def _keyring_for(config: Config) -> Keyring:
    return DirectoryKeyring(
        config.keyring, config.passphrase, follow_links=config.follow_keyring_links
    )


def _store_for(config: Config) -> CertificateStore:
    if config.certificate_store is not None:
        return DirectoryCertificateStore(config.certificate_store)
    return MemoryCertificateStore()


def _accepted_by_openssl_rules(outcome: SignatureOutcome, judged_trust: bool) -> bool:
    """Our answer to openssl's question: a good signature, and a trusted chain if judged."""
    if outcome.refusal in (Refusal.ERROR, Refusal.NOT_VALID):
        return False
    return outcome.trusted if judged_trust else True


def encrypt_entity(
    message: bytes,
    certificates: Sequence[x509.Certificate] | Callable[[], Sequence[x509.Certificate]],
    *,
    cipher: str,
    oaep: bool = False,
) -> bytes:
    """The ``application/pkcs7-mime`` message encrypting ``message`` for ``certificates``.

    ``certificates`` may be a function giving them, called once the message
    has been split (so that a malformed message is reported before any
    recipient problem).  The protected entity (``Content-*`` fields and
    canonical body) is encrypted in its two parts, one after the other, and
    the ciphertext is base64-encoded a step at a time as it is made,
    straight into the result; the outer fields stay readable.
    """
    outer_headers, entity_length, entity = split_protected_parts(message)
    if callable(certificates):
        certificates = certificates()
    recipients = [EncryptionRecipient(certificate, rsa_oaep=oaep) for certificate in certificates]
    chosen = content_cipher_by_name(cipher, for_encryption=True)
    length, pieces = enveloped_pieces(entity, entity_length, recipients, cipher=chosen.name)
    smime_type = "authEnveloped-data" if chosen.authenticated else "enveloped-data"
    return build_pkcs7_mime_pieces(outer_headers, pieces, length, smime_type)


def _origin(entity: RawEntity) -> Origin:
    """What a message's own header says about who sent it, and when."""
    dates = entity.fields("Date")
    return Origin(sender_addresses(entity), dates[0] if dates else None)


def first_certificate(data: bytes) -> x509.Certificate:
    """The first certificate in PEM or DER ``data``; :class:`MalformedCMSError` without one."""
    found = load_certificates(data)
    if not found:
        raise MalformedCMSError("no certificate found in the data given")
    return found[0]


def _raise_verify_error(exc: SmimeError) -> NoReturn:
    raise exc.with_statuses([records.verify_failed(exc)])

"""The high-level engine: RT::Crypt::SMIME's operations, in-process.

``SMIME(config).sign(message, signer=...)`` and ``.verify(message)`` return
a :class:`Result` whose status records carry RT's exact wording.  Failures
that leave no verdict to report (no key, a wrong passphrase, malformed
input) raise a :class:`~smimecore.errors.SmimeError` that carries the same
records in ``statuses``; the caller's message is never modified.
"""

from __future__ import annotations

import email.utils
import functools
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, NoReturn

from cryptography import x509

from smimecore.algorithms.digests import SIGNING_DIGESTS, digest_by_name
from smimecore.algorithms.signatures import scheme_for_key
from smimecore.cms.enveloped import parse_enveloped
from smimecore.cms.signed import (
    SignedData,
    SignerCheck,
    SigningIdentity,
    build_signed_data,
    parse_signed_data,
)
from smimecore.config import CIPHERS, Config
from smimecore.engine.crosscheck import ask_openssl
from smimecore.engine.envelope import (
    RecipientFinder,
    decrypt_with_keyring,
    distinct_addresses,
    encrypt_entity,
    header_addresses,
    readable_encryption_certificate,
    unusable_recipient,
)
from smimecore.engine.process import Unwrapper, with_status_header
from smimecore.engine.status import BAD, DONE, ERROR, MISSING, Result, StatusRecord
from smimecore.errors import (
    CertificateNotFoundError,
    ConfigError,
    DisabledError,
    KeyLoadError,
    MalformedCMSError,
    NotProtectedError,
    PassphraseError,
    SecretKeyNotFoundError,
    SmimeError,
    UnsupportedAlgorithmError,
)
from smimecore.keyring.directory import DirectoryKeyring
from smimecore.keyring.store import (
    CertificateStore,
    DirectoryCertificateStore,
    MemoryCertificateStore,
    best_for_encryption,
)
from smimecore.mime.entity import MessageInput, RawEntity, message_bytes, split_entity
from smimecore.mime.enveloped import parse_encrypted
from smimecore.mime.protected import build_pkcs7_mime, protected_entity_pieces, reinsert
from smimecore.mime.signed import build_detached, parse_signed
from smimecore.mime.transfer import canonical_crlf
from smimecore.pki.certificate import identity_of, load_certificates
from smimecore.pki.files import CertificateFile
from smimecore.trust.base import TrustEvaluator, TrustVerdict
from smimecore.trust.capath import build_trust_evaluator
from smimecore.trust.policy import TrustPolicy

__all__ = ["SMIME"]


class SMIME:
    """An S/MIME engine bound to one :class:`Config` (RT's ``%SMIME``).

    ``trust`` replaces the trust evaluator derived from the configuration.
    An instance is safe to share between threads and caches loaded keys.
    """

    def __init__(
        self,
        config: Config | None = None,
        *,
        trust: TrustEvaluator | None = None,
        certificate_store: CertificateStore | None = None,
    ) -> None:
        self.config = config if config is not None else Config()
        self.keyring = DirectoryKeyring(self.config.keyring, self.config.passphrase)
        self.trust: TrustEvaluator = trust if trust is not None else _trust_for(self.config)
        self.certificate_store: CertificateStore = (
            certificate_store if certificate_store is not None else _store_for(self.config)
        )
        other = self.config.other_certificates_to_send
        self._other_certificates = (
            CertificateFile(other, "other_certificates_to_send") if other is not None else None
        )

    def __repr__(self) -> str:
        return f"SMIME({self.config!r})"

    # -- signing ---------------------------------------------------------

    def sign(
        self,
        message: MessageInput,
        *,
        signer: str,
        opaque: bool = False,
        digest: str = "sha256",
        pss: bool = False,
        use_subject_key_identifier: bool = False,
    ) -> Result:
        """Sign ``message`` with ``signer``'s keyring key.

        The result is ``multipart/signed`` (or, with ``opaque``,
        ``application/pkcs7-mime; smime-type=signed-data``); From, To,
        Subject and the other outer fields stay outside the signed part.
        ``pss`` signs with RSASSA-PSS instead of PKCS#1 v1.5.
        """
        self._require_enabled()
        digest_algorithm = digest_by_name(digest)
        if digest_algorithm.name not in SIGNING_DIGESTS:
            raise UnsupportedAlgorithmError(
                digest, f"is not used to sign (use {', '.join(SIGNING_DIGESTS)})"
            )
        raw = message_bytes(message)
        identity = self._signing_identity(signer)
        outer_headers, entity = protected_entity_pieces(raw)  # hashed, then written out
        try:
            signed_data = build_signed_data(
                entity,
                identity,
                digest=digest_algorithm,
                detached=not opaque,
                pss=pss,
                use_subject_key_identifier=use_subject_key_identifier,
                extra_certificates=self._certificates_to_send(),
            )
        except SmimeError as exc:
            statuses = [StatusRecord("Sign", ERROR, f"There was an error signing: {exc}")]
            raise exc.with_statuses(statuses) from None
        if opaque:
            output = build_pkcs7_mime(outer_headers, signed_data, "signed-data")
        else:
            micalg = scheme_for_key(identity.key, digest_algorithm, pss=pss).digest.micalg
            output = build_detached(outer_headers, entity, signed_data, micalg)
        return Result(output, (StatusRecord("Sign", DONE, "Signed message"),))

    def _signing_identity(self, signer: str) -> SigningIdentity:
        try:
            return self.keyring.signing_identity(signer)
        except SecretKeyNotFoundError as exc:
            raise exc.with_statuses(
                [
                    StatusRecord(
                        "KeyCheck",
                        MISSING,
                        f"Secret key for {signer} is not available",
                        Key=signer,
                        KeyType="secret",
                    )
                ]
            ) from None
        except PassphraseError as exc:
            raise exc.with_statuses(
                [
                    StatusRecord(
                        "KeyCheck",
                        ERROR,
                        f"Bad passphrase for the secret key of {signer}",
                        Key=signer,
                        KeyType="secret",
                        Reason="bad passphrase",
                    )
                ]
            ) from None
        except (KeyLoadError, UnsupportedAlgorithmError) as exc:
            raise exc.with_statuses(
                [
                    StatusRecord(
                        "KeyCheck",
                        ERROR,
                        f"Secret key for {signer} cannot be used: {exc}",
                        Key=signer,
                        KeyType="secret",
                    )
                ]
            ) from None

    def _certificates_to_send(self) -> tuple[x509.Certificate, ...]:
        return self._other_certificates.certificates() if self._other_certificates else ()

    # -- verifying -------------------------------------------------------

    def verify(self, message: MessageInput) -> Result:
        """Verify a signed message: every SignerInfo gets its own ``Verify`` record.

        When every record is ``DONE`` the result is the signed content put
        back under the outer header fields (RT's re-insertion); otherwise
        it is the message unchanged.  A signature that does not verify, or
        a signer that is not trusted, is a ``BAD`` record; a message that
        cannot be checked at all raises.
        """
        self._require_enabled()
        raw = message_bytes(message)
        try:
            signed_message = parse_signed(raw)
            signed_data = parse_signed_data(signed_message.signature)
        except SmimeError as exc:
            _raise_verify_error(exc)
        if not signed_data.signer_infos:
            _raise_verify_error(NotProtectedError("the signed-data has no signers (certs-only?)"))
        content = signed_message.content if signed_message.is_detached else signed_data.content
        if content is None:
            _raise_verify_error(
                MalformedCMSError("the signed-data carries no content and none is attached")
            )
        checks = signed_data.check_signers(_ContentCandidates(content), self._known_certificates)
        senders = _sender_addresses(signed_message.outer)
        statuses = tuple(self._verify_record(check, signed_data, senders) for check in checks)
        if self.config.cross_check and self.config.openssl:
            statuses = self._with_cross_check(str(self.config.openssl), raw, statuses)
        errors = [check.error for check in checks if check.error is not None]
        if errors:
            raise errors[0].with_statuses(statuses)
        if all(record.status == DONE for record in statuses):
            return Result(reinsert(signed_message.outer, content), statuses)
        return Result(raw, statuses)

    def _intermediates(
        self, carried: Sequence[x509.Certificate], address: str | None
    ) -> list[x509.Certificate]:
        """Chain candidates: the message's, the keyring's and the address's stored certificates."""
        stored = (
            [entry.certificate for entry in self.certificate_store.get(address)] if address else []
        )
        return [*carried, *self.keyring.certificates(), *stored]

    def _with_cross_check(
        self, binary: str, raw: bytes, statuses: tuple[StatusRecord, ...]
    ) -> tuple[StatusRecord, ...]:
        opinion = ask_openssl(binary, raw, self.config.ca_path)
        ours = all(_accepted_by_us(record, self.config.ca_path is not None) for record in statuses)
        if opinion.accepted is None:
            verdict = f"UNAVAILABLE ({opinion.detail})"
        elif opinion.accepted == ours:
            verdict = "AGREE"
        else:
            said = "accepted" if opinion.accepted else "refused"
            verdict = f"DISAGREE (openssl {said}: {opinion.detail})"
        return tuple(record.with_fields(CrossCheck=verdict) for record in statuses)

    def _known_certificates(self) -> Iterable[x509.Certificate]:
        return self.keyring.certificates()

    def _verify_record(
        self, check: SignerCheck, signed_data: SignedData, senders: frozenset[str]
    ) -> StatusRecord:
        if check.error is not None:
            return StatusRecord("Verify", ERROR, f"There was an error verifying: {check.error}")
        algorithms = _algorithm_fields(check)
        if not check.ok:
            return StatusRecord("Verify", BAD, "The signature did not verify", **algorithms)
        if (
            check.certificate is None
        ):  # a verified signer always has one; keep mypy and readers sure
            return StatusRecord(
                "Verify", ERROR, "There was an error verifying: no signer certificate"
            )
        identity = identity_of(check.certificate)
        verdict = self.trust.evaluate(
            check.certificate,
            self._intermediates(signed_data.certificates, identity.email),
            purpose="signing",
            signing_time=check.signing_time,
            crls=signed_data.crls,
        )
        signer_matches_sender = bool(senders & identity.addresses)
        certificate_fields = {
            "Serial": identity.serial,
            "UserString": identity.user_string,
            "ExpireTimestamp": identity.expire_timestamp,
            "CreatedTimestamp": identity.created_timestamp,
            "SignerMatchesSender": signer_matches_sender,
        }
        if not verdict.trusted and not self.config.accept_untrusted_cas:
            return StatusRecord(
                "Verify",
                BAD,
                "The signing CA was not trusted",
                **certificate_fields,
                Trust="NONE",
                **_trust_reason(verdict),
                **algorithms,
            )
        if self.config.require_sender_match and not signer_matches_sender:
            return StatusRecord(
                "Verify",
                BAD,
                f"The signer {identity.user_string} is not the sender "
                f"({', '.join(sorted(senders)) or 'no From address'})",
                **certificate_fields,
                Trust=verdict.trust_field,
                Issuer=identity.issuer_string,
                **_trust_reason(verdict),
                **algorithms,
            )
        if identity.email:
            self.certificate_store.put(identity.email, check.certificate, verdict.trusted)
        return StatusRecord(
            "Verify",
            DONE,
            f"The signature is good, signed by {identity.user_string}, "
            f"assured by {identity.issuer_string}, trust is {verdict.terse}",
            **certificate_fields,
            Trust=verdict.trust_field,
            Issuer=identity.issuer_string,
            **_trust_reason(verdict),
            **algorithms,
        )

    # -- encrypting and decrypting -----------------------------------------

    def encrypt(
        self,
        message: MessageInput,
        *,
        recipients: Sequence[str],
        cipher: str | None = None,
        certificates: Sequence[x509.Certificate | bytes] = (),
        oaep: bool = False,
    ) -> Result:
        """Encrypt ``message`` to every recipient's keyring certificate (and ``certificates``).

        The result is ``application/pkcs7-mime; smime-type=enveloped-data``
        (``authEnveloped-data`` for AES-GCM and ChaCha20-Poly1305); outer
        fields such as From, To and Subject stay readable.  A recipient
        without a usable certificate raises :class:`RecipientError` and
        nothing is encrypted.  ``oaep`` uses RSA-OAEP (SHA-256) key transport.
        """
        self._require_enabled()
        raw = message_bytes(message)
        to_self = _first_address(split_entity(raw), "From") if self.config.encrypt_to_self else None
        addresses = [*recipients, *filter(None, [to_self])]

        def chosen() -> list[x509.Certificate]:
            # Looked up once the message has split: a malformed message is reported first.
            return self._recipient_certificates(addresses, certificates)

        output = encrypt_entity(raw, chosen, cipher=self._cipher(cipher), oaep=oaep)
        return Result(output, (StatusRecord("Encrypt", DONE, "Data has been encrypted"),))

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
    ) -> Result:
        """Sign with ``signer``'s key, then encrypt the signed entity (RT's order).

        Recipients are checked before anything is signed.  Decrypting the
        result gives the signed message, which :meth:`verify` then checks.
        """
        self._require_enabled()
        extra = [signer] if self.config.encrypt_to_self else []
        chosen = self._recipient_certificates([*recipients, *extra], certificates)
        signed = self.sign(message, signer=signer, digest=digest, opaque=opaque)
        output = encrypt_entity(signed.data, chosen, cipher=self._cipher(cipher), oaep=oaep)
        encrypted = StatusRecord("Encrypt", DONE, "Data has been encrypted")
        return Result(output, (*signed.statuses, encrypted))

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
            enveloped = parse_enveloped(encrypted.cms)
        except SmimeError as exc:
            raise exc.with_statuses(
                [StatusRecord("Decrypt", ERROR, f"Decryption failed: {exc}")]
            ) from None
        outer = encrypted.outer

        def candidates() -> list[str]:
            # Only needed when no keyring certificate is named by a RecipientInfo.
            return [*recipients, *header_addresses(outer, "To", "Cc")]

        decrypted, record = decrypt_with_keyring(self.keyring, enveloped, candidates)
        # The DER (and the ciphertext viewed in it) is not needed any more: free it
        # before the result is made, so the two do not coexist.
        del encrypted, enveloped
        return Result(reinsert(outer, decrypted.plaintext), (record,))

    def _recipient_certificates(
        self, addresses: Sequence[str], given: Sequence[x509.Certificate | bytes]
    ) -> list[x509.Certificate]:
        loaded = [c if isinstance(c, x509.Certificate) else _first_certificate(c) for c in given]
        from_keyring: list[str] = []
        with self.keyring.one_look():
            for address in addresses:
                stored = None
                if self.keyring.find_file(address, "encryption") is None:
                    stored = best_for_encryption(self.certificate_store.get(address))
                if stored is None:
                    from_keyring.append(address)
                else:
                    loaded.append(stored)
            return RecipientFinder(self.keyring).certificates(from_keyring, loaded)

    def _cipher(self, cipher: str | None) -> str:
        if cipher is None:
            return self.config.cipher
        if cipher.lower() not in CIPHERS:
            raise ConfigError("cipher", f"{cipher!r} is not one of {', '.join(CIPHERS)}")
        return cipher.lower()

    # -- whole messages --------------------------------------------------

    def verify_decrypt(self, message: MessageInput) -> Result:
        """RT's ``VerifyDecrypt``: unwrap every protected part, layer after layer.

        Encrypted parts are decrypted and signed parts verified wherever
        they are in the message, each result put back under its part's
        outer fields; certificates-only parts give their certificates
        (``Result.certificates``, also stored as untrusted) and compressed
        parts are decompressed.  A failure stops the recursion, as in RT.
        The records of every layer come back in order; with
        ``status_header`` set they are also written into that header field.
        A message with nothing protected gives no records.
        """
        self._require_enabled()
        raw = message_bytes(message)
        unwrapper = Unwrapper(
            verify=self.verify,
            decrypt=lambda data: self.decrypt(data, recipients=_top_recipients(raw)),
            store_certificates=self._store_untrusted,
            max_depth=self.config.max_depth,
            decompressed_limit=self.config.max_decompressed_size,
        )
        result = unwrapper.run(raw)
        if self.config.status_header:
            data = with_status_header(result.data, self.config.status_header, result.statuses)
            return Result(data, result.statuses, result.certificates)
        return result

    def _store_untrusted(self, certificates: Sequence[x509.Certificate]) -> None:
        for certificate in certificates:
            address = identity_of(certificate).email
            if address:
                self.certificate_store.put(address, certificate, False)

    # -- keys ------------------------------------------------------------

    def keys_for_signing(self, address: str) -> list[dict[str, Any]]:
        """RT's ``GetKeysForSigning``: the certificate information of ``address``'s signing key.

        Only keyring files holding a private key count (RT also returns a
        user's public certificate here, which cannot sign).
        """
        self._require_enabled()
        try:
            identity = self.keyring.signing_identity(address)
        except (SecretKeyNotFoundError, KeyLoadError, UnsupportedAlgorithmError):
            return []
        return [self.certificate_info(identity.certificate)]

    def keys_for_encryption(self, address: str) -> list[dict[str, Any]]:
        """RT's ``GetKeysForEncryption``: usable certificates of ``address``, expired ones dropped.

        The keyring file wins over the certificate store (RT section 5);
        from the store, every unexpired certificate is listed, the one
        encryption would pick (latest notAfter) first.
        """
        self._require_enabled()
        now = datetime.now(UTC)
        from_keyring = readable_encryption_certificate(self.keyring, address)
        if from_keyring is not None:
            candidates = [from_keyring]
        else:
            stored = [entry.certificate for entry in self.certificate_store.get(address)]
            candidates = sorted(stored, key=lambda c: c.not_valid_after_utc, reverse=True)
        return [
            self.certificate_info(certificate)
            for certificate in candidates
            if certificate.not_valid_after_utc >= now
        ]

    # -- certificate information -----------------------------------------

    def certificate_info(self, certificate: bytes | x509.Certificate) -> dict[str, Any]:
        """RT's ``GetCertificateInfo`` (section 8) for a PEM or DER certificate, with trust.

        Fields: ``Content`` (76-column PEM), ``Fingerprint`` (lowercase
        SHA-1), ``Serial Number`` (decimal), ``Created``/``Expire`` and
        ``CreatedTimestamp``/``ExpireTimestamp`` (epoch seconds), ``Version``,
        ``Issuer`` and ``User`` (one table each), ``UserString``, ``Trust``,
        ``TrustTerse``, ``TrustLevel``, ``TrustReason`` and ``Formatted``.
        """
        if not isinstance(certificate, x509.Certificate):
            found = load_certificates(certificate)
            if not found:
                raise MalformedCMSError("no certificate found in the data given")
            certificate = found[0]
        identity = identity_of(certificate)
        verdict = self.trust.evaluate(
            certificate, list(self.keyring.certificates()), purpose="signing"
        )
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
        }

    def address_certificate_info(self, address: str) -> dict[str, Any]:
        """:meth:`certificate_info` for the certificate of ``address``'s keyring file."""
        self._require_enabled()
        certificate = self.keyring.certificate_for(address, None)
        if certificate is None:
            raise CertificateNotFoundError(f"no keyring certificate for {address}")
        return self.certificate_info(certificate)

    # -- recipients ------------------------------------------------------

    def check_recipients(self, addresses: Iterable[str]) -> list[StatusRecord]:
        """RT's ``CheckRecipients``: one ``RecipientsCheck`` record per distinct address.

        A recipient is usable with a keyring certificate that has not
        expired and is trusted for encryption (or any trust under
        ``accept_untrusted_cas``).  Addresses are de-duplicated
        case-insensitively, keeping the first spelling.
        """
        self._require_enabled()
        return [self._recipient_record(address) for address in distinct_addresses(addresses)]

    def _recipient_record(self, address: str) -> StatusRecord:
        certificate = readable_encryption_certificate(self.keyring, address)
        if certificate is None:
            return unusable_recipient(address, "Key not found")
        if certificate.not_valid_after_utc < datetime.now(UTC):
            return unusable_recipient(address, "Key expired")
        verdict = self.trust.evaluate(
            certificate, list(self.keyring.certificates()), purpose="encryption"
        )
        if not verdict.trusted and not self.config.accept_untrusted_cas:
            return unusable_recipient(address, "Key not trusted", **_trust_reason(verdict))
        return StatusRecord(
            "RecipientsCheck",
            DONE,
            f"Recipient '{address}' is usable",
            Recipient=address,
            Trust=verdict.trust_field,
            **_trust_reason(verdict),
        )

    # -- common ----------------------------------------------------------

    def _require_enabled(self) -> None:
        if not self.config.enable:
            raise DisabledError("S/MIME is disabled in the configuration (enable = false)")


def _trust_for(config: Config) -> TrustEvaluator:
    return build_trust_evaluator(TrustPolicy.from_config(config))


def _accepted_by_us(record: StatusRecord, judged_trust: bool) -> bool:
    """Our answer to openssl's question: a good signature, and a trusted chain if judged."""
    if record.status == ERROR or record.message == "The signature did not verify":
        return False
    return record.get("Trust") == "FULL" if judged_trust else True


def _store_for(config: Config) -> CertificateStore:
    if config.certificate_store is not None:
        return DirectoryCertificateStore(config.certificate_store)
    return MemoryCertificateStore()


def _top_recipients(raw: bytes) -> list[str]:
    """The top-level To and Cc addresses: RT's candidates for nested encrypted parts too."""
    return header_addresses(split_entity(raw), "To", "Cc")


def _first_certificate(data: bytes) -> x509.Certificate:
    found = load_certificates(data)
    if not found:
        raise MalformedCMSError("no certificate found in the recipient certificate given")
    return found[0]


def _first_address(entity: RawEntity, name: str) -> str | None:
    addresses = header_addresses(entity, name)
    return addresses[0] if addresses else None


def _sender_addresses(outer: RawEntity) -> frozenset[str]:
    """The lowercased addresses of the From and Sender fields."""
    return _addresses_in((*outer.fields("From"), *outer.fields("Sender")))


@functools.lru_cache(maxsize=256)
def _addresses_in(fields: tuple[str, ...]) -> frozenset[str]:
    """The lowercased addresses in address fields (the same senders write again and again)."""
    return frozenset(
        address.lower() for _, address in email.utils.getaddresses(list(fields)) if address
    )


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


def _algorithm_fields(check: SignerCheck) -> dict[str, str]:
    fields = {}
    if check.digest is not None:
        fields["DigestAlgorithm"] = check.digest.name
    if check.scheme is not None:
        fields["SignatureAlgorithm"] = check.scheme.name
    if check.weak_algorithms:
        fields["WeakAlgorithms"] = ", ".join(check.weak_algorithms)
    return fields


def _trust_reason(verdict: TrustVerdict) -> dict[str, str]:
    fields = {"TrustReason": verdict.reason} if verdict.reason else {}
    if verdict.reason and verdict.detail:
        fields["TrustDetail"] = verdict.detail
    return fields


def _raise_verify_error(exc: SmimeError) -> NoReturn:
    raise exc.with_statuses([StatusRecord("Verify", ERROR, f"There was an error verifying: {exc}")])

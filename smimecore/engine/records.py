"""RT's status records, made from outcomes: every ``Operation``/``Status``/``Message`` wording.

Pure functions, no I/O: an outcome (or an error, and what it concerns) in,
a :class:`~smimecore.engine.status.StatusRecord` out.  The field names and
message texts are RT's (RT::Crypt::SMIME), and a contract.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from smimecore.cms.signed import SignerCheck
from smimecore.engine.outcomes import (
    DecryptionOutcome,
    RecipientOutcome,
    Refusal,
    SignatureOutcome,
)
from smimecore.engine.status import BAD, DONE, ERROR, MISSING, StatusRecord
from smimecore.errors import (
    DecryptionError,
    MissingPassphraseError,
    PassphraseError,
    SecretKeyNotFoundError,
    SmimeError,
)
from smimecore.trust.base import TrustVerdict

__all__ = [
    "certificates_only",
    "decompressed",
    "decryption",
    "decryption_failed",
    "encrypted",
    "failed",
    "key_check",
    "limit_exceeded",
    "nested_too_deeply",
    "recipient",
    "sign_failed",
    "signature",
    "signed",
    "unknown_smime_type",
    "unusable_recipient",
    "unwrap_failed",
    "verify_failed",
    "with_coverage",
]


# -- signing and encrypting ---------------------------------------------------


_FAILED = {
    "Sign": "signing",
    "Verify": "verifying",
    "Encrypt": "encrypting",
    "Decrypt": "decrypting",
    "VerifyDecrypt": "processing the message",
    "KeyCheck": "reading the certificate",
}


def failed(operation: str, error: SmimeError) -> StatusRecord:
    """``<operation>``/``ERROR`` "There was an error <doing it>: <reason>", for an error that
    stops an operation before any of its own records was made; ``Reason`` names its kind."""
    if operation == "Sign":
        record = sign_failed(error)
    elif operation == "Verify":
        record = verify_failed(error)
    elif operation == "Decrypt":
        record = decryption_failed(error)
    else:
        record = StatusRecord(operation, ERROR, f"There was an error {_FAILED[operation]}: {error}")
    return record.with_fields(Reason=type(error).__name__)


def signed() -> StatusRecord:
    """``Sign``/``DONE``."""
    return StatusRecord("Sign", DONE, "Signed message")


def sign_failed(error: SmimeError) -> StatusRecord:
    """``Sign``/``ERROR``: the signature could not be made."""
    return StatusRecord("Sign", ERROR, f"There was an error signing: {error}")


def encrypted() -> StatusRecord:
    """``Encrypt``/``DONE``."""
    return StatusRecord("Encrypt", DONE, "Data has been encrypted")


def key_check(address: str, error: SmimeError) -> StatusRecord:
    """``KeyCheck``: why ``address``'s secret key cannot be used."""
    fields = {"Key": address, "KeyType": "secret"}
    if isinstance(error, SecretKeyNotFoundError):
        return StatusRecord(
            "KeyCheck", MISSING, f"Secret key for {address} is not available", **fields
        )
    if isinstance(error, MissingPassphraseError):
        return StatusRecord(
            "KeyCheck",
            ERROR,
            f"No passphrase for the secret key of {address}",
            Reason="no passphrase",
            **fields,
        )
    if isinstance(error, PassphraseError):
        return StatusRecord(
            "KeyCheck",
            ERROR,
            f"Bad passphrase for the secret key of {address}",
            Reason="bad passphrase",
            **fields,
        )
    return StatusRecord(
        "KeyCheck", ERROR, f"Secret key for {address} cannot be used: {error}", **fields
    )


# -- verifying ----------------------------------------------------------------


def verify_failed(error: SmimeError) -> StatusRecord:
    """``Verify``/``ERROR``: the message or a signer could not be checked at all."""
    return StatusRecord("Verify", ERROR, f"There was an error verifying: {error}")


def signature(outcome: SignatureOutcome) -> StatusRecord:
    """RT's ``Verify`` record for one judged SignerInfo."""
    if outcome.refusal is Refusal.ERROR:
        return verify_failed(outcome.error or SmimeError("the signer could not be checked"))
    algorithms = _algorithm_fields(outcome.check)
    if outcome.signing_time is not None:
        algorithms["SigningTime"] = _iso_utc(outcome.signing_time)
    identity, verdict = outcome.identity, outcome.verdict
    if outcome.refusal is Refusal.NOT_VALID or identity is None or verdict is None:
        return StatusRecord("Verify", BAD, "The signature did not verify", **algorithms)
    certificate_fields = {
        "Serial": identity.serial,
        "UserString": identity.user_string,
        "ExpireTimestamp": identity.expire_timestamp,
        "CreatedTimestamp": identity.created_timestamp,
        "SignerMatchesSender": outcome.sender.matches,
    }
    if outcome.refusal is Refusal.UNTRUSTED:
        return StatusRecord(
            "Verify",
            BAD,
            "The signing CA was not trusted",
            **certificate_fields,
            Trust="NONE",
            **trust_reason(verdict),
            **algorithms,
        )
    trust_fields = {
        "Trust": verdict.trust_field,
        "Issuer": identity.issuer_string,
        **trust_reason(verdict),
        **algorithms,
    }
    if outcome.refusal is Refusal.SENDER_MISMATCH:
        unmatched = ", ".join(outcome.sender.unmatched) or "no From address"
        return StatusRecord(
            "Verify",
            BAD,
            f"The signer {identity.user_string} is not the sender ({unmatched})",
            **certificate_fields,
            **trust_fields,
        )
    refused = _REFUSALS.get(outcome.refusal) if outcome.refusal is not None else None
    if refused is not None:
        return StatusRecord("Verify", BAD, refused, **certificate_fields, **trust_fields)
    return StatusRecord(
        "Verify",
        DONE,
        f"The signature is good, signed by {identity.user_string}, "
        f"assured by {identity.issuer_string}, trust is {verdict.terse}",
        **certificate_fields,
        **trust_fields,
    )


_REFUSALS = {
    Refusal.NOT_MAIL: "The signed content is not a mail message",
    Refusal.FUTURE_SIGNING_TIME: "The signing time is in the future",
    Refusal.SIGNING_TIME_MISMATCH: "The signing time does not match the Date header",
}


def _iso_utc(moment: datetime) -> str:
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def _algorithm_fields(check: SignerCheck) -> dict[str, str]:
    fields = {}
    if check.digest is not None:
        fields["DigestAlgorithm"] = check.digest.name
    if check.scheme is not None:
        fields["SignatureAlgorithm"] = check.scheme.name
    if check.weak_algorithms:
        fields["WeakAlgorithms"] = ", ".join(check.weak_algorithms)
    return fields


def trust_reason(verdict: TrustVerdict) -> dict[str, str]:
    """``TrustReason`` (and ``TrustDetail``) when a certificate is not fully trusted."""
    fields = {"TrustReason": verdict.reason} if verdict.reason else {}
    if verdict.reason and verdict.detail:
        fields["TrustDetail"] = verdict.detail
    return fields


# -- decrypting ---------------------------------------------------------------


def decryption(outcome: DecryptionOutcome) -> StatusRecord:
    """RT's record for how decryption went: ``Decrypt`` (DONE or ERROR) or ``KeyCheck``."""
    content, address, error = outcome.content, outcome.address, outcome.error
    if outcome.stage in ("done", "unauthenticated") and content is not None and address:
        fields: dict[str, object] = {
            "EncryptedTo": _encrypted_to(address),
            "Cipher": content.cipher,
            "KeyEncryption": content.key_encryption,
            "Authenticated": content.authenticated,
        }
        if content.weak:
            fields["WeakAlgorithms"] = content.cipher
        if outcome.stage == "unauthenticated":
            return StatusRecord("Decrypt", BAD, "The content was not integrity-protected", **fields)
        return StatusRecord("Decrypt", DONE, "Decryption process succeeded", **fields)
    problem = error or SmimeError("decryption failed")
    if outcome.stage == "no-key":
        return StatusRecord("KeyCheck", MISSING, "Secret key is not available", KeyType="secret")
    if outcome.stage == "key" and address is not None:
        return key_check(address, problem)
    return decryption_failed(problem, address)


def decryption_failed(error: SmimeError, address: str | None = None) -> StatusRecord:
    """``Decrypt``/``ERROR``; after a key was used, only ever the uniform "Decryption failed"."""
    message = (
        "Decryption failed" if isinstance(error, DecryptionError) else f"Decryption failed: {error}"
    )
    encrypted_to = _encrypted_to(address) if address else None
    return StatusRecord("Decrypt", ERROR, message, EncryptedTo=encrypted_to)


def _encrypted_to(address: str) -> list[dict[str, str]]:
    return [{"EmailAddress": address}]


# -- recipients ---------------------------------------------------------------


def unusable_recipient(address: str, reason: str, **fields: str) -> StatusRecord:
    """RT's ``RecipientsCheck``/``ERROR`` record for a recipient that cannot be used."""
    return StatusRecord(
        "RecipientsCheck",
        ERROR,
        f"Recipient '{address}' is unusable, the reason is '{reason}'",
        Recipient=address,
        Reason=reason,
        **fields,
    )


def unusable_recipients(unusable: Sequence[tuple[str, str]]) -> list[StatusRecord]:
    """One ``RecipientsCheck``/``ERROR`` record per ``(address, reason)``."""
    return [unusable_recipient(address, reason) for address, reason in unusable]


def recipient(outcome: RecipientOutcome) -> StatusRecord:
    """RT's ``RecipientsCheck`` record for one judged recipient."""
    address = outcome.choice.address
    verdict = outcome.verdict
    reasons = trust_reason(verdict) if verdict is not None else {}
    if outcome.problem is not None:
        return unusable_recipient(address, outcome.problem, **reasons)
    return StatusRecord(
        "RecipientsCheck",
        DONE,
        f"Recipient '{address}' is usable",
        Recipient=address,
        Trust=verdict.trust_field if verdict is not None else None,
        **reasons,
    )


# -- whole messages -----------------------------------------------------------


def with_coverage(record: StatusRecord, path: str) -> StatusRecord:
    """A ``Verify`` or ``Decrypt`` record with what its protection covers.

    ``Coverage`` is ``whole`` when the protected part is the whole message
    (``path`` ``""``), else ``part``, with ``Part`` the MIME path; a good
    partial signature or decryption says so in its message.  Other records
    are returned as they are.
    """
    if record.operation not in ("Verify", "Decrypt"):
        return record
    coverage = "whole" if not path else "part"
    message = record.message
    if path and record.status == DONE:
        message = f"{message}, covering part {path} only"
    return record.with_fields(Message=message, Coverage=coverage, Part=path)


def unwrap_failed(message: str) -> StatusRecord:
    """``VerifyDecrypt``/``ERROR``: a protected part could not be unwrapped."""
    return StatusRecord("VerifyDecrypt", ERROR, message)


def limit_exceeded(error: SmimeError) -> StatusRecord:
    """``VerifyDecrypt``/``ERROR``: the message would cost more than a configured limit."""
    return unwrap_failed(f"The message exceeds a limit: {error}")


def unknown_smime_type(smime_type: str | None) -> StatusRecord:
    """``VerifyDecrypt``/``ERROR`` for a protected part of a kind we do not know."""
    return unwrap_failed(f"Unknown smime-type '{smime_type}' of a protected part")


def nested_too_deeply(max_depth: int) -> StatusRecord:
    """``VerifyDecrypt``/``ERROR`` when protected parts nest deeper than ``max_depth``."""
    return unwrap_failed(f"Protected parts are nested deeper than {max_depth} layers")


def decompressed(size: int) -> StatusRecord:
    """``Decompress``/``DONE`` for an RFC 3274 compressed part."""
    return StatusRecord("Decompress", DONE, "Decompressed message", Size=str(size))


def certificates_only(count: int) -> StatusRecord:
    """``Certificates``/``DONE`` for a certificates-only part."""
    return StatusRecord(
        "Certificates",
        DONE,
        f"Certificates-only part with {count} certificate(s)",
        Count=str(count),
    )

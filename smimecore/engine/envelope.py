"""Encryption and decryption behind :class:`smimecore.SMIME` (RT sections 3.4, 3.9, 7).

Recipients' certificates come from the keyring (``<address>.encryption.pem``
then ``<address>.pem``); a recipient without one, or with an expired one,
stops the whole encryption, as in RT.  Decryption first matches each
RecipientInfo against the keyring's certificates, and only then tries the
keys of candidate addresses, without RT's trial and error.
"""

from __future__ import annotations

import email.utils
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509

from smimecore.algorithms.ciphers import content_cipher_by_name
from smimecore.cms.enveloped import (
    DecryptedContent,
    EncryptionRecipient,
    EnvelopedMessage,
    check_decryptable,
    decrypt_enveloped,
    enveloped_pieces,
)
from smimecore.engine.status import DONE, ERROR, MISSING, StatusRecord
from smimecore.errors import (
    DecryptionError,
    KeyLoadError,
    MalformedCMSError,
    NoMatchingRecipientError,
    PassphraseError,
    RecipientError,
    SecretKeyNotFoundError,
    SmimeError,
)
from smimecore.keyring.directory import DirectoryKeyring
from smimecore.mime.entity import RawEntity
from smimecore.mime.protected import build_pkcs7_mime_pieces, split_protected_parts

__all__ = [
    "RecipientFinder",
    "decrypt_with_keyring",
    "encrypt_entity",
    "readable_encryption_certificate",
    "unusable_recipient",
]

log = logging.getLogger("smimecore.engine")


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


def distinct_addresses(addresses: Iterable[str]) -> list[str]:
    """Addresses without case-insensitive repeats, first spelling kept."""
    seen: dict[str, str] = {}
    for address in addresses:
        if address:
            seen.setdefault(address.casefold(), address)
    return list(seen.values())


@dataclass(frozen=True)
class RecipientFinder:
    """Finds encryption certificates for addresses in a keyring."""

    keyring: DirectoryKeyring

    def certificates(
        self, addresses: Sequence[str], extra: Sequence[x509.Certificate] = ()
    ) -> list[x509.Certificate]:
        """One certificate per address, plus ``extra``; all-or-nothing like RT.

        Raises :class:`RecipientError` with one ``RecipientsCheck`` record per
        address that has no certificate ("Key not found"; also when its
        keyring file cannot be read, as RT's ``openssl x509`` then gives
        nothing) or an expired one ("Key expired").  Trust is not required
        here, as in RT's mail path; :meth:`smimecore.SMIME.check_recipients`
        is the place for it.
        """
        problems: list[StatusRecord] = []
        found: list[x509.Certificate] = []
        now = datetime.now(UTC)
        with self.keyring.one_look():
            for address in distinct_addresses(addresses):
                certificate = readable_encryption_certificate(
                    self.keyring, address, logging.WARNING
                )
                if certificate is None:
                    problems.append(unusable_recipient(address, "Key not found"))
                elif certificate.not_valid_after_utc < now:
                    problems.append(unusable_recipient(address, "Key expired"))
                else:
                    found.append(certificate)
        if problems:
            names = ", ".join(record["Recipient"] for record in problems)
            raise RecipientError(f"cannot encrypt to {names}", statuses=problems)
        found.extend(certificate for certificate in extra if certificate not in found)
        if not found:
            raise RecipientError("no recipients to encrypt to")
        return found


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


def header_addresses(outer: RawEntity, *names: str) -> list[str]:
    """The addresses in the given header fields of ``outer``, in order."""
    values = [value for name in names for value in outer.fields(name)]
    return [address for _, address in email.utils.getaddresses(values) if address]


def decrypt_with_keyring(
    keyring: DirectoryKeyring,
    message: EnvelopedMessage,
    candidates: Sequence[str] | Callable[[], Sequence[str]],
) -> tuple[DecryptedContent, StatusRecord]:
    """Decrypt with the first keyring key that fits, and RT's ``Decrypt`` record.

    Keys whose certificate a RecipientInfo names are used first; then the
    keys of ``candidates`` are tried against every RecipientInfo
    (``candidates`` may be a function giving them, called only then).  Raises
    :class:`DecryptionError` with a ``Decrypt``/``ERROR`` record when a key
    was right for a RecipientInfo but decryption failed, and
    :class:`SecretKeyNotFoundError` with RT's ``KeyCheck``/``MISSING`` record
    when no key fits.  Content that could not be decrypted with any key
    (absent, or under an unknown cipher) raises first, with a
    ``Decrypt``/``ERROR`` record naming the problem.
    """
    try:
        check_decryptable(message)
    except SmimeError as exc:
        failed = StatusRecord("Decrypt", ERROR, f"Decryption failed: {exc}")
        raise exc.with_statuses([failed]) from None
    with keyring.one_look():
        found = _by_certificate(keyring, message)
        if found is not None:
            return found
        if callable(candidates):
            candidates = candidates()
        for address in distinct_addresses(candidates):
            if keyring.find_file(address, "encryption") is None:
                continue
            found = _attempt(keyring, message, address, try_all=True)
            if found is not None:
                return found
    missing = StatusRecord("KeyCheck", MISSING, "Secret key is not available", KeyType="secret")
    raise SecretKeyNotFoundError(
        ", ".join(candidates) or "any recipient", "no keyring key fits"
    ).with_statuses([missing])


def _by_certificate(
    keyring: DirectoryKeyring, message: EnvelopedMessage
) -> tuple[DecryptedContent, StatusRecord] | None:
    """Decrypt with the key of a keyring certificate that a RecipientInfo names, if any."""
    for address in keyring.addresses("encryption"):
        certificate = readable_encryption_certificate(keyring, address, logging.DEBUG)
        if certificate is not None and message.names(certificate):
            found = _attempt(keyring, message, address, try_all=False)
            if found is not None:
                return found
    return None


def readable_encryption_certificate(
    keyring: DirectoryKeyring, address: str, level: int = logging.WARNING
) -> x509.Certificate | None:
    """``address``'s encryption certificate, or ``None`` without one or when its file is unreadable.

    An unreadable file (damaged, or a PKCS#12 file the passphrase does not
    open) is logged at ``level`` and treated as absent, so that one bad
    file does not stop encryption to, or decryption by, everyone else.
    """
    try:
        return keyring.certificate_for(address, "encryption")
    except (KeyLoadError, MalformedCMSError) as exc:
        log.log(level, "keyring certificate of %s cannot be read: %s", address, exc)
        return None


def _attempt(
    keyring: DirectoryKeyring, message: EnvelopedMessage, address: str, *, try_all: bool
) -> tuple[DecryptedContent, StatusRecord] | None:
    encrypted_to = [{"EmailAddress": address}]
    try:
        key_file = keyring.decryption_key(address)
    except SecretKeyNotFoundError:
        return None
    except (PassphraseError, KeyLoadError) as exc:
        record = StatusRecord(
            "KeyCheck",
            ERROR,
            f"Secret key for {address} cannot be used: {exc}",
            Key=address,
            KeyType="secret",
        )
        raise exc.with_statuses([record]) from None
    try:
        decrypted = decrypt_enveloped(
            message, key_file.private_key, key_file.certificate, try_all=try_all
        )
    except NoMatchingRecipientError:
        return None
    except DecryptionError as exc:
        failed = StatusRecord("Decrypt", ERROR, "Decryption failed", EncryptedTo=encrypted_to)
        raise exc.with_statuses([failed]) from None
    except SmimeError as exc:
        failed = StatusRecord(
            "Decrypt", ERROR, f"Decryption failed: {exc}", EncryptedTo=encrypted_to
        )
        raise exc.with_statuses([failed]) from None
    fields: dict[str, object] = {
        "EncryptedTo": encrypted_to,
        "Cipher": decrypted.cipher,
        "KeyEncryption": decrypted.key_encryption,
    }
    if decrypted.weak:
        fields["WeakAlgorithms"] = decrypted.cipher
    record = StatusRecord("Decrypt", DONE, "Decryption process succeeded", **fields)
    return decrypted, record

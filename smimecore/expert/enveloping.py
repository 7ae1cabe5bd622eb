"""EnvelopedData and AuthEnvelopedData without MIME: :func:`encrypt_data`, :func:`decrypt_data`.

The same builder, reader, context and RT records as :meth:`SMIME.encrypt`
and :meth:`SMIME.decrypt`; only the MIME around the CMS object is missing.
"""

from __future__ import annotations

from collections.abc import Sequence

from smimecore.algorithms.ciphers import content_cipher_by_name
from smimecore.cms.enveloped import (
    DecryptedContent,
    EncryptionRecipient,
    EnvelopedMessage,
    build_enveloped,
    parse_enveloped,
)
from smimecore.config import Config
from smimecore.engine import records
from smimecore.engine.context import SmimeContext
from smimecore.engine.outcomes import DecryptionOutcome
from smimecore.engine.smime import SMIME, require_enabled
from smimecore.engine.status import StatusRecord
from smimecore.errors import ConfigError, NotProtectedError, RecipientError, SmimeError
from smimecore.expert.context import key_context
from smimecore.expert.forms import CMSForm, CMSInput, cms_der, write_cms
from smimecore.expert.keys import CertificateInput, KeyInput, as_certificates, load_key
from smimecore.pki.certificate import identity_of
from smimecore.pki.der import Bytes

__all__ = ["DecryptedData", "decrypt_data", "encrypt_data"]


def encrypt_data(
    content: Bytes,
    recipients: Sequence[CertificateInput],
    *,
    cipher: str = "aes-256-cbc",
    oaep: bool = False,
    outform: CMSForm = "der",
) -> bytes:
    """``content`` encrypted for each recipient certificate: ``openssl cms -encrypt -binary``.

    ``recipients`` are certificates (``cryptography`` objects, PEM or DER):
    RSA keys get key transport (PKCS#1 v1.5, or RSA-OAEP with SHA-256 when
    ``oaep``), EC, X25519 and X448 keys ECDH key agreement.  ``cipher`` is
    ``aes-128-cbc``, ``aes-192-cbc``, ``aes-256-cbc`` (EnvelopedData),
    ``aes-128-gcm``, ``aes-256-gcm`` or ``chacha20-poly1305``
    (AuthEnvelopedData).  ``outform`` is ``der`` or ``pem``.

    Raises :class:`~smimecore.errors.RecipientError` without recipients and
    :class:`~smimecore.errors.UnsupportedAlgorithmError` for a cipher or a
    recipient key that cannot be used.
    """
    certificates = [as_certificates(value, "recipient certificate")[0] for value in recipients]
    if not certificates:
        raise RecipientError("no recipients to encrypt to")
    chosen = content_cipher_by_name(cipher, for_encryption=True)
    to = [EncryptionRecipient(certificate, rsa_oaep=oaep) for certificate in certificates]
    return write_cms(build_enveloped(content, to, cipher=chosen.name), outform)


class DecryptedData(bytes):
    """The decrypted content (this object is those bytes), with how it was protected."""

    cipher: str
    """The content cipher (``aes-256-cbc``, ``aes-128-gcm``, ``des-ede3-cbc``...)."""
    authenticated: bool
    """Whether the content was integrity-protected (AuthEnvelopedData)."""
    weak: bool
    """Whether the cipher is a weak one (3DES, RC2)."""
    key_encryption: str
    """How the content key reached the recipient (``rsaes-oaep-sha256``...)."""
    statuses: tuple[StatusRecord, ...]
    """RT's ``Decrypt`` record (the same as :meth:`SMIME.decrypt` gives)."""

    def __new__(cls, content: DecryptedContent, statuses: Sequence[StatusRecord]) -> DecryptedData:
        """The plaintext of ``content``, with its details and ``statuses``."""
        decrypted = super().__new__(cls, content.plaintext)
        decrypted.cipher = content.cipher
        decrypted.authenticated = content.authenticated
        decrypted.weak = content.weak
        decrypted.key_encryption = content.key_encryption
        decrypted.statuses = tuple(statuses)
        return decrypted

    def __repr__(self) -> str:
        # The plaintext stays out of reprs and logs, as everywhere in smimecore.
        return (
            f"DecryptedData(<{len(self)} bytes>, cipher={self.cipher!r}, "
            f"authenticated={self.authenticated!r})"
        )

    __str__ = __repr__


def decrypt_data(
    cms: CMSInput,
    key: KeyInput | SMIME,
    cert: CertificateInput | None = None,
    *,
    passphrase: str | None = None,
    recipients: Sequence[str] = (),
    config: Config | None = None,
) -> DecryptedData:
    """The content of a CMS EnvelopedData or AuthEnvelopedData: ``openssl cms -decrypt``.

    ``cms`` is DER, BER or PEM.  ``key`` is the recipient's private key (a
    ``cryptography`` object, or the bytes of a PEM, PKCS#12 or DER PKCS#8
    key file, opened with ``passphrase``) and ``cert`` its certificate
    (``-recip``): the RecipientInfos naming it are used first, then every
    RecipientInfo the key can use (all of them without a certificate).
    ``key`` may instead be an :class:`~smimecore.SMIME`, whose keyring is
    searched as :meth:`SMIME.decrypt` searches it (``recipients`` are the
    addresses whose keys are tried when no certificate matches).
    ``config`` (not with an ``SMIME``) sets the reader's limits and
    ``require_authenticated_encryption``.

    Raises :class:`~smimecore.errors.DecryptionError` ("Decryption failed",
    whatever the cause, once a key was used), :class:`~smimecore.errors.NoMatchingRecipientError`
    when no RecipientInfo is for the key (:class:`~smimecore.errors.SecretKeyNotFoundError`
    when the keyring has none that fits), :class:`~smimecore.errors.MalformedCMSError`,
    :class:`~smimecore.errors.UnsupportedAlgorithmError`,
    :class:`~smimecore.errors.KeyLoadError`, and
    :class:`~smimecore.errors.NotProtectedError` for content without
    integrity protection under ``require_authenticated_encryption``.
    Each error's ``statuses`` hold RT's record.
    """
    if isinstance(key, SMIME):
        if cert is not None or passphrase is not None or config is not None:
            raise ConfigError("key", "an SMIME decrypts with its own keyring and configuration")
        require_enabled(key.config)
        context = key.context
    elif recipients:
        raise ConfigError("recipients", "are addresses of an SMIME's keyring, not of a key")
    else:
        context = key_context(config)
    message = _parsed(cms, context)  # malformed data is reported before any key is opened
    if isinstance(key, SMIME):
        return _decrypted(context.decrypt(message, lambda: list(recipients)))
    material = load_key(key, cert, passphrase=passphrase, source="decryption key")
    label = identity_of(material.certificate).email if material.certificate else None
    outcome = context.decrypt_with_key(
        message, material.private_key, material.certificate, label or "the given key"
    )
    return _decrypted(outcome)


def _parsed(cms: CMSInput, context: SmimeContext) -> EnvelopedMessage:
    try:
        return parse_enveloped(cms_der(cms), context.reader_limits)
    except SmimeError as exc:
        raise exc.with_statuses([records.decryption_failed(exc)]) from None


def _decrypted(outcome: DecryptionOutcome) -> DecryptedData:
    record = records.decryption(outcome)
    if outcome.stage == "unauthenticated":
        raise NotProtectedError(
            "the content was not integrity-protected (require_authenticated_encryption)"
        ).with_statuses([record])
    if outcome.content is None:
        raise (outcome.error or SmimeError("decryption failed")).with_statuses([record])
    return DecryptedData(outcome.content, [record])

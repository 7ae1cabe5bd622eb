"""The exceptions smimecore raises.

Every error derives from :class:`SmimeError`.  An error raised by an
operation of :class:`smimecore.SMIME` carries the RT-style status records
that describe it in :attr:`SmimeError.statuses`, so a caller that reports
statuses (as RT does) loses nothing by catching the exception.

Messages never contain secrets: no key material, no passphrase, no
content-encryption key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smimecore.engine.status import StatusRecord

__all__ = [
    "CertificateNotFoundError",
    "ConfigError",
    "DecryptionError",
    "DisabledError",
    "KeyLoadError",
    "MalformedCMSError",
    "MalformedMessageError",
    "MissingPassphraseError",
    "NoMatchingRecipientError",
    "NoUsableRecipientError",
    "NotProtectedError",
    "PassphraseError",
    "RecipientError",
    "ResourceLimitError",
    "ScanError",
    "SecretKeyNotFoundError",
    "SmimeError",
    "UnsupportedAlgorithmError",
    "first_line",
]


def first_line(error: Exception, default: str | None = None) -> str:
    """The first line of a library error's message (asn1crypto appends a parse trace).

    An empty message gives ``default``, or the exception's class name.
    """
    text = str(error).strip()
    return text.splitlines()[0] if text else (default or type(error).__name__)


class SmimeError(Exception):
    """Root of every smimecore error.

    ``statuses`` holds the status records of the failed operation (empty
    when the error happened outside an operation, for example in
    configuration).
    """

    def __init__(self, message: str, *, statuses: Sequence[StatusRecord] = ()) -> None:
        super().__init__(message)
        self.statuses: tuple[StatusRecord, ...] = tuple(statuses)

    def with_statuses(self, statuses: Sequence[StatusRecord]) -> SmimeError:
        """Attach the status records of the operation that failed; returns ``self``."""
        self.statuses = tuple(statuses)
        return self


class ConfigError(SmimeError, ValueError):
    """A configuration option is unknown, mistyped or points at nothing usable.

    ``option`` names the offending option.
    """

    def __init__(self, option: str, problem: str) -> None:
        super().__init__(f"configuration option {option!r}: {problem}")
        self.option = option


class DisabledError(SmimeError):
    """S/MIME is disabled (``enable = false``); every operation refuses."""


class MalformedMessageError(SmimeError, ValueError):
    """The MIME message cannot be read as the S/MIME structure it claims to be."""


class MalformedCMSError(SmimeError, ValueError):
    """The CMS (PKCS#7) DER/BER data is broken, truncated or inconsistent."""


class ResourceLimitError(SmimeError):
    """Input would cost more than a configured limit allows (a bomb, or a message too large).

    ``option`` names the :class:`~smimecore.Config` option that sets the
    limit (``None`` when the limit is not configurable).
    """

    def __init__(self, problem: str, *, option: str | None = None) -> None:
        hint = f" (the {option} option sets the limit)" if option else ""
        super().__init__(f"{problem}{hint}")
        self.problem = problem
        self.option = option

    def for_option(self, option: str) -> ResourceLimitError:
        """The same error, naming the option that sets its limit."""
        return ResourceLimitError(self.problem, option=option)


class NotProtectedError(SmimeError, ValueError):
    """The message is not signed (or not protected in the way the operation needs)."""


class UnsupportedAlgorithmError(SmimeError):
    """An algorithm the operation needs is unknown to smimecore or refused as unsafe.

    ``algorithm`` is its name or dotted OID.
    """

    def __init__(self, algorithm: str, problem: str = "is not supported") -> None:
        super().__init__(f"algorithm {algorithm} {problem}")
        self.algorithm = algorithm


class SecretKeyNotFoundError(SmimeError, LookupError):
    """No private key for the address exists in the keyring.

    ``address`` is the address that was looked up.
    """

    def __init__(self, address: str, detail: str = "") -> None:
        super().__init__(
            f"secret key for {address} is not available" + (f": {detail}" if detail else "")
        )
        self.address = address


class CertificateNotFoundError(SmimeError, LookupError):
    """A certificate the operation needs (for example a signer's) cannot be found."""


class KeyLoadError(SmimeError):
    """A key file exists but cannot be read (damaged, or in a format we do not read).

    ``path`` is the file concerned.
    """

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"cannot load key file {path}: {problem}")
        self.path = path


class PassphraseError(KeyLoadError):
    """The private key is encrypted and the passphrase is missing or wrong."""


class MissingPassphraseError(PassphraseError):
    """The private key is encrypted and no passphrase is configured for it."""


class DecryptionError(SmimeError):
    """Decryption failed: wrong key, tampered data, bad padding or tag.

    The message is always ``"Decryption failed"``; no detail is given on
    purpose (RFC 3218: no oracle).
    """

    def __init__(self) -> None:
        super().__init__("Decryption failed")


class NoMatchingRecipientError(SmimeError, LookupError):
    """No RecipientInfo is for the given certificate (OpenSSL: "no recipient matches")."""


class NoUsableRecipientError(NoMatchingRecipientError):
    """No RecipientInfo is of a kind we can use with the given key (KEK, password, other)."""


class RecipientError(SmimeError, LookupError):
    """One or more recipients cannot be encrypted to (no certificate, or an expired one).

    Nothing is encrypted for the others either; ``unusable`` lists each
    unusable recipient with RT's reason (``"Key not found"``, ``"Key expired"``),
    and ``statuses`` has one ``RecipientsCheck`` record for each.
    """

    def __init__(
        self,
        message: str,
        *,
        statuses: Sequence[StatusRecord] = (),
        unusable: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(message, statuses=statuses)
        self.unusable: tuple[tuple[str, str], ...] = tuple(unusable)


class ScanError(SmimeError):
    """A scan cannot start or go on: an input that does not exist, a results database in the way."""

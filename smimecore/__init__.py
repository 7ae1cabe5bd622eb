"""smimecore: S/MIME signing, verification, encryption and decryption, in-process.

Start with :class:`SMIME` and :class:`Config`::

    from smimecore import SMIME, Config

    smime = SMIME(Config(keyring="/etc/smime/keys", ca_path="/etc/smime/ca.pem"))
    signed = smime.sign(raw_message, signer="queue@example.com")
    checked = smime.verify(signed.data)
    incoming = smime.verify_decrypt(raw_incoming)   # every protected layer, RT's records
"""

import importlib.metadata

from smimecore.config import Config
from smimecore.engine.smime import SMIME
from smimecore.engine.status import Result, StatusRecord, format_status, parse_status
from smimecore.errors import (
    CertificateNotFoundError,
    ConfigError,
    DecryptionError,
    DisabledError,
    KeyLoadError,
    MalformedCMSError,
    MalformedMessageError,
    MissingPassphraseError,
    NoMatchingRecipientError,
    NotProtectedError,
    PassphraseError,
    RecipientError,
    ResourceLimitError,
    SecretKeyNotFoundError,
    SmimeError,
    UnsupportedAlgorithmError,
)


def _installed_version() -> str:
    """The version of the installed distribution; ``0+unknown`` for an uninstalled source tree."""
    try:
        return importlib.metadata.version("smimecore")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


__version__ = _installed_version()
"""The installed version of smimecore (``smimecore --version`` prints it)."""

__all__ = [
    "SMIME",
    "CertificateNotFoundError",
    "Config",
    "ConfigError",
    "DecryptionError",
    "DisabledError",
    "KeyLoadError",
    "MalformedCMSError",
    "MalformedMessageError",
    "MissingPassphraseError",
    "NoMatchingRecipientError",
    "NotProtectedError",
    "PassphraseError",
    "RecipientError",
    "ResourceLimitError",
    "Result",
    "SecretKeyNotFoundError",
    "SmimeError",
    "StatusRecord",
    "UnsupportedAlgorithmError",
    "__version__",
    "format_status",
    "parse_status",
]

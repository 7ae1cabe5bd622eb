"""Key material: which private keys and certificates belong to which address."""

from smimecore.keyring.directory import DirectoryKeyring, KeyFile
from smimecore.keyring.passphrase import resolve_passphrase

__all__ = ["DirectoryKeyring", "KeyFile", "resolve_passphrase"]

"""Key material: which private keys and certificates belong to which address."""

from smimecore.keyring.base import DecryptionIdentity, Keyring
from smimecore.keyring.directory import DirectoryKeyring, KeyFile
from smimecore.keyring.memory import MemoryKeyring
from smimecore.keyring.passphrase import resolve_passphrase

__all__ = [
    "DecryptionIdentity",
    "DirectoryKeyring",
    "KeyFile",
    "Keyring",
    "MemoryKeyring",
    "resolve_passphrase",
]

"""Find PEM blocks in text that may hold other things too.

Keyring files written by ``openssl x509 -text`` start with a human-readable
dump; RT's own test files do.  Blocks are located by scanning, and their
BEGIN/END lines may carry trailing whitespace or a carriage return.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass

from smimecore.errors import MalformedCMSError

__all__ = ["PemBlock", "find_pem_blocks"]

_PEM_BLOCK = re.compile(
    rb"-----BEGIN (?P<label>[A-Z0-9 ]+)-----[ \t\r]*\n"
    rb"(?P<body>.*?)"
    rb"-----END (?P=label)-----[ \t\r]*(?:\n|$)",
    re.DOTALL,
)


@dataclass(frozen=True)
class PemBlock:
    """One PEM block: its label (``CERTIFICATE``, ``PRIVATE KEY``...) and its full text."""

    label: str
    text: bytes

    @property
    def is_encrypted(self) -> bool:
        """Whether the block is an encrypted private key (PKCS#8 or legacy ``Proc-Type``)."""
        return self.label == "ENCRYPTED PRIVATE KEY" or b"Proc-Type: 4,ENCRYPTED" in self.text

    @property
    def is_private_key(self) -> bool:
        """Whether the block holds a private key of any kind."""
        return self.label.endswith("PRIVATE KEY")

    def der(self) -> bytes:
        """The base64 body decoded to DER (headers such as ``Proc-Type`` are skipped)."""
        lines = self.text.splitlines()[1:-1]
        body = b"".join(line.strip() for line in lines if b":" not in line)
        try:
            return binascii.a2b_base64(body)
        except binascii.Error as exc:
            raise MalformedCMSError(f"PEM block {self.label} has broken base64: {exc}") from None


def find_pem_blocks(data: bytes) -> list[PemBlock]:
    """Every PEM block in ``data``, in file order; text around them is ignored."""
    return [
        PemBlock(match["label"].decode("ascii"), match.group(0).rstrip() + b"\n")
        for match in _PEM_BLOCK.finditer(data)
    ]

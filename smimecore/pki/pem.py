"""Find PEM blocks in text that may hold other things too.

Keyring files written by ``openssl x509 -text`` start with a human-readable
dump; RT's own test files do.  Blocks are located by scanning, and their
BEGIN/END lines may carry trailing whitespace or a carriage return.
"""

from __future__ import annotations

import binascii
import bisect
import re
from dataclasses import dataclass

from smimecore.errors import MalformedCMSError

__all__ = ["PemBlock", "find_pem_blocks"]

_BEGIN = re.compile(rb"-----BEGIN (?P<label>[A-Z0-9 ]+)-----[ \t\r]*\n")
_END = re.compile(rb"-----END (?P<label>[A-Z0-9 ]+)-----[ \t\r]*(?:\n|\Z)")


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
    """Every PEM block in ``data``, in file order; text around them is ignored.

    A block runs from a BEGIN line to the first END line of the same label
    after it.  The END lines are found in one pass first, so text made of
    BEGIN lines that never end costs linear time (a regular expression
    looking for each one's END would scan the rest of the text each time).
    """
    ends: dict[bytes, list[re.Match[bytes]]] = {}
    for found in _END.finditer(data):
        ends.setdefault(found["label"], []).append(found)
    starts = {label: [end.start() for end in found] for label, found in ends.items()}
    blocks = []
    position = 0
    for begin in _BEGIN.finditer(data):
        label = begin["label"]
        if begin.start() < position or label not in ends:
            continue  # inside the block found last, or a label that never ends
        index = bisect.bisect_left(starts[label], begin.end())
        if index == len(starts[label]):
            continue
        end = ends[label][index]
        text = data[begin.start() : end.end()].rstrip() + b"\n"
        blocks.append(PemBlock(label.decode("ascii"), text))
        position = end.end()
    return blocks

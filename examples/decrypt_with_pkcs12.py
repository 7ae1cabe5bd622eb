"""Decrypt with a PKCS#12 file: an encrypted mail, or a bare CMS object (.p7m, DER or PEM).

    python examples/decrypt_with_pkcs12.py --p12 demo/bob@example.com.p12 encrypted.eml
    python examples/decrypt_with_pkcs12.py --p12 demo/bob@example.com.p12 report.pdf.p7m \\
        --out report.pdf

No keyring directory is needed: a mail is decrypted by an ``SMIME`` whose keyring is a
``MemoryKeyring`` holding the PKCS#12 identity; a bare CMS object by ``smimecore.expert``'s
``decrypt_data``, handed the PKCS#12 bytes.  The file's passphrase comes from
$SMIMECORE_PASSPHRASE.  Prints RT's Decrypt record; writes the plaintext to --out (or stdout).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from smimecore import SMIME, SmimeError, StatusRecord
from smimecore.expert import decrypt_data
from smimecore.keyring import MemoryKeyring


def is_bare_cms(data: bytes) -> bool:
    """Whether ``data`` is a CMS object (DER starts with a SEQUENCE; PEM says CMS), not a mail."""
    return data[:1] == b"\x30" or b"-----BEGIN CMS-----" in data


def decrypt(data: bytes, p12: bytes, passphrase: str | None) -> tuple[bytes, StatusRecord]:
    """The plaintext and RT's Decrypt record (a mail keeps its outer header fields)."""
    if is_bare_cms(data):
        plain = decrypt_data(data, p12, passphrase=passphrase)
        return bytes(plain), plain.statuses[0]
    smime = SMIME(keyring=MemoryKeyring.from_pkcs12(p12, passphrase))
    result = smime.decrypt(data)
    return result.data, result.statuses[0]


def main(argv: list[str] | None = None) -> int:
    """Decrypt the file given with the PKCS#12 identity; exit 0 when it decrypted."""
    parser = argparse.ArgumentParser(description="Decrypt with a PKCS#12 file.")
    parser.add_argument("encrypted", type=Path, help="an encrypted mail or a CMS .p7m file")
    parser.add_argument("--p12", type=Path, required=True, help="the recipient's PKCS#12 file")
    parser.add_argument("--out", type=Path, help="where to write the plaintext (default stdout)")
    arguments = parser.parse_args(argv)

    try:
        plain, record = decrypt(
            arguments.encrypted.read_bytes(),
            arguments.p12.read_bytes(),
            os.environ.get("SMIMECORE_PASSPHRASE"),
        )
    except SmimeError as error:  # a wrong passphrase, not for this key, tampered data...
        print(f"not decrypted: {error}", file=sys.stderr)
        return 1
    print(f"{record.operation} {record.status}: {record.message}", file=sys.stderr)
    if arguments.out:
        arguments.out.write_bytes(plain)
    else:
        sys.stdout.buffer.write(plain)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

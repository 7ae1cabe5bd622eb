"""Check an incoming message as RT does: verify every signature, decrypt every encrypted part.

    python examples/verify_incoming.py --keyring demo/keyring --ca-path demo/ca.pem mail.eml

Prints one line per status record and exits 0 when every record is DONE, 1 otherwise.  With
``--out FILE`` the unwrapped message is written there.  Decryption keys' passphrases come from
$SMIMECORE_PASSPHRASE.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from smimecore import SMIME, Config, SmimeError, StatusRecord


def show(records: tuple[StatusRecord, ...] | list[StatusRecord]) -> None:
    """One line per status record: operation, status and RT's message."""
    for record in records:
        print(f"{record.operation} {record.status}: {record.message}")


def main(argv: list[str] | None = None) -> int:
    """Verify and decrypt the message; report its status records."""
    parser = argparse.ArgumentParser(description="Verify and decrypt an incoming message.")
    parser.add_argument("message", type=Path, help="the message as received (an .eml file)")
    parser.add_argument("--keyring", help="RT keyring directory (keys to decrypt with)")
    parser.add_argument("--ca-path", help="CA certificates that signers must chain to")
    parser.add_argument("--out", type=Path, help="where to write the unwrapped message")
    arguments = parser.parse_args(argv)

    smime = SMIME(
        Config(
            keyring=arguments.keyring,
            ca_path=arguments.ca_path,
            passphrase=os.environ.get("SMIMECORE_PASSPHRASE"),
        )
    )
    try:
        result = smime.verify_decrypt(arguments.message.read_bytes())
    except SmimeError as error:  # the message could not be checked at all
        print(f"cannot check the message: {error}", file=sys.stderr)
        show(error.statuses)
        return 1
    if not result.statuses:
        print("the message is neither signed nor encrypted")
        return 1
    show(result.statuses)
    if arguments.out:
        arguments.out.write_bytes(result.data)
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

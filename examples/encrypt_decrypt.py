"""Encrypt a message to a recipient's certificate, then decrypt it with the recipient's key.

    python examples/encrypt_decrypt.py --keyring demo/keyring --to bob@example.com

The keyring holds the recipient's certificate (to encrypt) and key (to decrypt); in real use the
two sides have different keyrings.  The key's passphrase comes from $SMIMECORE_PASSPHRASE.
"""

from __future__ import annotations

import argparse
import os
import sys
from email.message import EmailMessage

from smimecore import SMIME, Config, SmimeError


def main(argv: list[str] | None = None) -> int:
    """Encrypt, decrypt, and show both status records."""
    parser = argparse.ArgumentParser(description="Encrypt a message and decrypt it again.")
    parser.add_argument("--keyring", required=True, help="RT keyring directory")
    parser.add_argument("--to", dest="recipient", required=True)
    parser.add_argument("--cipher", default="aes-256-gcm", help="content cipher")
    arguments = parser.parse_args(argv)

    message = EmailMessage()
    message["From"] = "sender@example.com"
    message["To"] = arguments.recipient
    message["Subject"] = "For your eyes only"
    message.set_content("The meeting moved to Thursday.\n")

    smime = SMIME(
        Config(keyring=arguments.keyring, passphrase=os.environ.get("SMIMECORE_PASSPHRASE"))
    )
    try:
        encrypted = smime.encrypt(
            message, recipients=[arguments.recipient], cipher=arguments.cipher
        )
    except SmimeError as error:  # e.g. RecipientError: no certificate for the address
        print(f"not encrypted: {error}", file=sys.stderr)
        for failure in error.statuses:
            print(f"{failure.operation} {failure.status}: {failure.message}", file=sys.stderr)
        return 1
    print(f"Encrypt {encrypted.statuses[0].status}: {encrypted.statuses[0].message}")

    # decrypt() finds the key by the certificates the message names; no address is needed.
    decrypted = smime.decrypt(encrypted.data)
    record = decrypted.statuses[0]
    print(f"Decrypt {record.status}: {record.message} (encrypted to {record['EncryptedTo']})")
    print(decrypted.message.get_content(), end="")
    return 0 if encrypted.ok and decrypted.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Sign a message with the sender's keyring key and send it with smtplib.

    python examples/sign_and_send.py --keyring demo/keyring --from alice@example.com \\
        --to bob@example.com --smtp localhost:8025

The key's passphrase comes from $SMIMECORE_PASSPHRASE.  To watch what is sent, run a local
debugging server first: ``python -m aiosmtpd -n -l localhost:8025``.
"""

from __future__ import annotations

import argparse
import os
import smtplib
from email.message import EmailMessage

from smimecore import SMIME, Config


def compose(sender: str, recipient: str) -> EmailMessage:
    """The message to sign, built with the standard library."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = "Signed with smimecore"
    message.set_content("Hello,\n\nthis message carries an S/MIME signature.\n")
    return message


def main(argv: list[str] | None = None) -> int:
    """Sign, then hand the signed bytes to the SMTP server."""
    parser = argparse.ArgumentParser(description="Sign a message and send it over SMTP.")
    parser.add_argument("--keyring", required=True, help="RT keyring directory")
    parser.add_argument("--from", dest="sender", required=True, help="signer and sender")
    parser.add_argument("--to", dest="recipient", required=True)
    parser.add_argument("--smtp", default="localhost:25", help="HOST:PORT of the SMTP server")
    arguments = parser.parse_args(argv)

    smime = SMIME(
        Config(keyring=arguments.keyring, passphrase=os.environ.get("SMIMECORE_PASSPHRASE"))
    )
    signed = smime.sign(compose(arguments.sender, arguments.recipient), signer=arguments.sender)

    host, _, port = arguments.smtp.rpartition(":")
    with smtplib.SMTP(host, int(port)) as smtp:
        # signed.data, the exact bytes that were signed; smtp.send_message(signed.message)
        # sends the same bytes (docs/transport.md).
        smtp.sendmail(arguments.sender, [arguments.recipient], signed.data)
    print(f"{signed.statuses[0].message}; sent to {arguments.recipient} via {arguments.smtp}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Make a throwaway CA and two identities to try the other examples with.

    python examples/make_demo_keys.py demo

writes demo/ca.pem (the CA, a ``ca_path``) and an RT keyring demo/keyring/ holding
alice@example.com.pem (RSA) and bob@example.com.pem (P-256), each the certificate followed by its
private key, encrypted with the passphrase in $SMIMECORE_PASSPHRASE (default ``demo``); and
demo/bob@example.com.p12, Bob's identity again as a PKCS#12 file with the same passphrase.
For trying things only: real keys come from your CA.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from smimecore.demo.pki import DemoPKI


def main(argv: list[str] | None = None) -> int:
    """Write the demo CA and keyring into the directory given."""
    parser = argparse.ArgumentParser(description="Make a throwaway CA and keyring.")
    parser.add_argument("directory", type=Path)
    arguments = parser.parse_args(argv)

    pki = DemoPKI()
    alice = pki.issue("alice@example.com", "rsa2048", common_name="Alice")
    bob = pki.issue("bob@example.com", "p256", common_name="Bob")
    passphrase = os.environ.get("SMIMECORE_PASSPHRASE", "demo")
    pki.write_keyring(arguments.directory / "keyring", [alice, bob], passphrase=passphrase)
    (arguments.directory / "ca.pem").write_bytes(pki.root_pem())
    (arguments.directory / f"{bob.address}.p12").write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"Bob",
            bob.key,  # type: ignore[arg-type]  # a P-256 key, which PKCS#12 holds
            bob.certificate,
            None,
            serialization.BestAvailableEncryption(passphrase.encode()),
        )
    )
    print(f"CA in {arguments.directory / 'ca.pem'}, keyring in {arguments.directory / 'keyring'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

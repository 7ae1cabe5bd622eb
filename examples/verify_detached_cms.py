"""Verify a detached CMS signature (a .p7s file, DER or PEM) over the file it signs.

    python examples/verify_detached_cms.py --ca-path demo/ca.pem report.pdf report.pdf.p7s

What ``openssl cms -verify -binary -content report.pdf -in report.pdf.p7s -inform DER`` does,
with ``smimecore.expert``'s ``verify_data``: one line per signer (whether the file is the one
signed, whether the signature verifies, whether the signer is trusted and why not, who signed,
when and with what), exit 0 when every signature is accepted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from smimecore import SmimeError
from smimecore.expert import SignatureOutcome, verify_data


def describe(number: int, outcome: SignatureOutcome) -> str:
    """One signer in one line."""
    if not outcome.intact:
        return f"signature {number}: the file is not the one signed"
    if not outcome.valid or outcome.identity is None:
        return f"signature {number}: the signature does not verify"
    who = outcome.identity.user_string
    trust = "trusted" if outcome.trusted else f"NOT trusted ({outcome.trust_reason})"
    when = f" on {outcome.signing_time:%Y-%m-%d %H:%M} UTC" if outcome.signing_time else ""
    algorithms = f"{outcome.signature_algorithm} with {outcome.digest_algorithm}"
    return f"signature {number}: good, by {who}{when}, {trust}; {algorithms}"


def main(argv: list[str] | None = None) -> int:
    """Verify the signature file over the signed file; one line per signer."""
    parser = argparse.ArgumentParser(description="Verify a detached CMS signature.")
    parser.add_argument("content", type=Path, help="the file that was signed")
    parser.add_argument("signature", type=Path, help="its detached signature (.p7s, DER or PEM)")
    parser.add_argument("--ca-path", help="CA certificates that signers must chain to")
    arguments = parser.parse_args(argv)

    try:
        checked = verify_data(
            arguments.signature.read_bytes(),
            content=arguments.content.read_bytes(),
            trust=arguments.ca_path,
        )
    except SmimeError as error:  # not a signature, an algorithm we do not support...
        print(f"cannot verify: {error}", file=sys.stderr)
        return 1
    for number, outcome in enumerate(checked, start=1):
        print(describe(number, outcome))
    return 0 if checked.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

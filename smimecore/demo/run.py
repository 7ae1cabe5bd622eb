"""``smimecore demo``: a throwaway CA, two identities, and a sign -> verify round trip."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from smimecore.config import Config
from smimecore.demo.pki import DemoPKI
from smimecore.engine.smime import SMIME
from smimecore.engine.status import Result

__all__ = ["run_demo"]

_DEMO_PASSPHRASE = "demo-passphrase"  # noqa: S105 - a throwaway key in a temporary directory

_MESSAGE = (
    b"From: Alice <alice@demo.example>\r\n"
    b"To: Bob <bob@demo.example>\r\n"
    b"Subject: smimecore demo\r\n"
    b"\r\n"
    b"Hello Bob,\r\n\r\nthis message was signed in-process, without the openssl binary.\r\n"
)


def _show(title: str, result: Result) -> None:
    print(f"== {title}")
    for record in result.statuses:
        print(json.dumps(record.to_dict(), ensure_ascii=False))


def run_demo() -> int:
    """Run the demo in a temporary directory; returns 0 when every step succeeded."""
    with tempfile.TemporaryDirectory(prefix="smimecore-demo-") as scratch:
        root = Path(scratch)
        pki = DemoPKI()
        alice = pki.issue("alice@demo.example", "rsa2048", common_name="Alice")
        bob = pki.issue("bob@demo.example", "p256", common_name="Bob")
        pki.write_keyring(root / "keyring", [alice, bob], passphrase=_DEMO_PASSPHRASE)
        (root / "ca.pem").write_bytes(pki.root_pem())
        print(
            f"demo PKI in {root}: CA {pki.root.subject.rfc4514_string()}, "
            "identities alice (RSA), bob (P-256)"
        )

        config = Config(
            keyring=root / "keyring",
            ca_path=root / "ca.pem",
            accept_untrusted_cas=True,
            passphrase={"": _DEMO_PASSPHRASE},
        )
        smime = SMIME(config)
        steps = []
        for signer, opaque in (("alice@demo.example", False), ("bob@demo.example", True)):
            signed = smime.sign(_MESSAGE, signer=signer, opaque=opaque)
            _show(f"sign as {signer} ({'opaque' if opaque else 'detached'})", signed)
            verified = smime.verify(signed.data)
            _show("verify", verified)
            steps += [signed.ok, verified.ok]
            tampered = signed.data.replace(b"in-process", b"in-PROCESS")
            if tampered != signed.data:
                bad = smime.verify(tampered)
                _show("verify after tampering (expected BAD)", bad)
                steps.append(not bad.ok)
        ok = all(steps)
        print("demo:", "every step behaved as expected" if ok else "a step FAILED")
        return 0 if ok else 1

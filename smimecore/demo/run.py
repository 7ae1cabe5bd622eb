"""``smimecore demo``: a throwaway CA, two identities, and round trips through every operation."""

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
        encrypted = smime.encrypt(_MESSAGE, recipients=["bob@demo.example"], cipher="aes-256-gcm")
        _show("encrypt to bob@demo.example (AES-256-GCM, ECDH P-256)", encrypted)
        decrypted = smime.decrypt(encrypted.data)
        _show("decrypt", decrypted)
        steps += [encrypted.ok, decrypted.ok, b"without the openssl binary" in decrypted.data]
        both = smime.sign_encrypt(
            _MESSAGE, signer="alice@demo.example", recipients=["bob@demo.example"]
        )
        _show("sign as alice, then encrypt to bob (AES-128-CBC, RT's default)", both)
        opened = smime.decrypt(both.data)
        _show("decrypt", opened)
        checked = smime.verify(opened.data)
        _show("verify the decrypted signed message", checked)
        steps += [both.ok, opened.ok, checked.ok]
        ok = all(steps)
        print("demo:", "every step behaved as expected" if ok else "a step FAILED")
        return 0 if ok else 1

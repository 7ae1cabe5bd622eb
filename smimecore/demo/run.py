"""``smimecore demo``: a throwaway CA, two identities, and round trips through every operation.

Then the post-quantum round trip: an ML-DSA-65 root, an ML-DSA-65 signer and an ML-KEM-768
recipient; a message signed with ML-DSA (RFC 9882) and encrypted with ML-KEM (RFC 9629
KEMRecipientInfo), decrypted and verified again.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from smimecore.config import Config
from smimecore.demo.pki import DemoIdentity, DemoPKI
from smimecore.engine.smime import SMIME
from smimecore.engine.status import Result

__all__ = ["run_demo"]

_DEMO_PASSPHRASE = "demo-passphrase"  # noqa: S105 - a throwaway key in a temporary directory

_PQC_MESSAGE = (
    b"From: Carol <carol@demo.example>\r\n"
    b"To: Dave <dave@demo.example>\r\n"
    b"Subject: smimecore post-quantum demo\r\n"
    b"\r\n"
    b"Hello Dave,\r\n\r\nsigned with ML-DSA-65 and encrypted with ML-KEM-768.\r\n"
)

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
        smime = _engine(
            root,
            pki,
            [
                pki.issue("alice@demo.example", "rsa2048", common_name="Alice"),
                pki.issue("bob@demo.example", "p256", common_name="Bob"),
            ],
            "demo PKI",
            "identities alice (RSA), bob (P-256)",
        )
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
        steps += _post_quantum_round_trip(root / "pqc")
        ok = all(steps)
        print("demo:", "every step behaved as expected" if ok else "a step FAILED")
        return 0 if ok else 1


def _engine(
    root: Path, pki: DemoPKI, identities: list[DemoIdentity], title: str, who: str
) -> SMIME:
    """The identities' keyring and the CA in ``root``, and an engine over them."""
    pki.write_keyring(root / "keyring", identities, passphrase=_DEMO_PASSPHRASE)
    (root / "ca.pem").write_bytes(pki.root_pem())
    print(f"{title} in {root}: CA {pki.root.subject.rfc4514_string()}, {who}")
    return SMIME(
        Config(
            keyring=root / "keyring",
            ca_path=root / "ca.pem",
            passphrase={"": _DEMO_PASSPHRASE},
        )
    )


def _post_quantum_round_trip(root: Path) -> list[bool]:
    """Sign with ML-DSA-65, encrypt with ML-KEM-768, decrypt, verify; and a tampered copy."""
    pki = DemoPKI("smimecore Demo ML-DSA Root CA", kind="mldsa65")
    smime = _engine(
        root,
        pki,
        [
            pki.issue("carol@demo.example", "mldsa65", common_name="Carol"),
            pki.issue("dave@demo.example", "mlkem768", common_name="Dave"),
        ],
        "post-quantum PKI",
        "an ML-DSA-65 key; identities carol (ML-DSA-65, signs), dave (ML-KEM-768, receives)",
    )
    both = smime.sign_encrypt(
        _PQC_MESSAGE,
        signer="carol@demo.example",
        recipients=["dave@demo.example"],
        cipher="aes-256-gcm",
    )
    _show("sign as carol (ML-DSA-65), then encrypt to dave (ML-KEM-768, AES-256-GCM)", both)
    opened = smime.decrypt(both.data)
    _show("decrypt (KEMRecipientInfo)", opened)
    checked = smime.verify(opened.data)
    _show("verify the ML-DSA signature", checked)
    tampered = smime.verify(opened.data.replace(b"ML-KEM-768.", b"ML-KEM-512."))
    _show("verify after tampering (expected BAD)", tampered)
    return [both.ok, opened.ok, checked.ok, not tampered.ok, b"ML-KEM-768" in opened.data]

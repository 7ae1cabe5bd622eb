"""The default path never starts a process: every operation with every way to spawn one blocked."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from smimecore import SMIME, Config
from tests.conftest import PASSPHRASE, SAMPLE_MESSAGE

_SPAWNERS = [
    (subprocess, "Popen"),
    (subprocess, "run"),
    (subprocess, "call"),
    (subprocess, "check_call"),
    (subprocess, "check_output"),
    (subprocess, "getoutput"),
    (subprocess, "getstatusoutput"),
    (os, "system"),
    (os, "popen"),
    (os, "fork"),
    (os, "forkpty"),
    *[(os, name) for name in dir(os) if name.startswith(("exec", "spawn", "posix_spawn"))],
]


def _refuse(*args: object, **kwargs: object) -> None:
    raise AssertionError("smimecore tried to start a process")


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch, pki_dir: Path) -> SMIME:
    """An engine made (and then used) with every process-spawning function patched to raise."""
    for module, name in _SPAWNERS:
        if hasattr(module, name):
            monkeypatch.setattr(module, name, _refuse)
    return SMIME(
        Config(keyring=pki_dir / "keyring", passphrase=PASSPHRASE, accept_untrusted_cas=True)
    )


def test_sign_and_verify_start_no_process(engine: SMIME) -> None:
    """subprocess, os.fork, os.exec*, os.spawn* and os.posix_spawn* all raise; both operations work."""
    for signer, opaque in (("rsa2048@test.example", False), ("p256@test.example", True)):
        signed = engine.sign(SAMPLE_MESSAGE, signer=signer, opaque=opaque)
        assert signed.ok
        assert engine.verify(signed.data).ok
    with pytest.raises(AssertionError, match="tried to start a process"):
        subprocess.run(["true"], check=False)


def test_encrypt_sign_encrypt_and_decrypt_start_no_process(engine: SMIME) -> None:
    """encrypt, sign_encrypt and decrypt (RSA and EC, CBC and GCM) work with spawning blocked."""
    recipients = ["rsa2048@test.example", "p256@test.example"]
    for cipher in ("aes-128-cbc", "aes-256-gcm"):
        encrypted = engine.encrypt(SAMPLE_MESSAGE, recipients=recipients, cipher=cipher)
        assert engine.decrypt(encrypted.data).ok
    both = engine.sign_encrypt(SAMPLE_MESSAGE, signer="p384@test.example", recipients=recipients)
    decrypted = engine.decrypt(both.data)
    assert decrypted.ok and engine.verify(decrypted.data).ok
    with pytest.raises(AssertionError, match="tried to start a process"):
        os.system("true")  # noqa: S605

"""The default path never starts a process: sign and verify with every way to spawn one blocked."""

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


def test_sign_and_verify_start_no_process(monkeypatch: pytest.MonkeyPatch, pki_dir: Path) -> None:
    """subprocess, os.fork, os.exec*, os.spawn* and os.posix_spawn* all raise; both operations work."""
    for module, name in _SPAWNERS:
        if hasattr(module, name):
            monkeypatch.setattr(module, name, _refuse)
    engine = SMIME(
        Config(keyring=pki_dir / "keyring", passphrase=PASSPHRASE, accept_untrusted_cas=True)
    )
    for signer, opaque in (("rsa2048@test.example", False), ("p256@test.example", True)):
        signed = engine.sign(SAMPLE_MESSAGE, signer=signer, opaque=opaque)
        assert signed.ok
        assert engine.verify(signed.data).ok
    with pytest.raises(AssertionError, match="tried to start a process"):
        subprocess.run(["true"], check=False)

"""The optional OpenSSL cross-check (RT's ``OpenSSL`` option): a second opinion from the binary.

Only used when ``cross_check = true`` and ``openssl`` names the binary.
It runs ``openssl cms -verify`` with the same CA file or directory (and
none of OpenSSL's default trust stores) and says whether OpenSSL agrees.
This module is the only place smimecore ever starts a process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from smimecore.config import StrPath

__all__ = ["OpenSSLOpinion", "ask_openssl"]

_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class OpenSSLOpinion:
    """What the binary said: ``accepted`` is ``None`` when it could not be asked."""

    accepted: bool | None
    detail: str


def ask_openssl(binary: str, message: bytes, ca_path: StrPath | None) -> OpenSSLOpinion:
    """Run ``openssl cms -verify`` on ``message`` (only the signature without ``ca_path``)."""
    import subprocess  # kept out of the default path on purpose

    arguments = [binary, "cms", "-verify", "-out", os.devnull, "-purpose", "smimesign"]
    if ca_path is None:
        arguments.append("-noverify")
    else:
        arguments += ["-no-CAfile", "-no-CApath", "-no-CAstore"]
        arguments += ["-CApath" if os.path.isdir(ca_path) else "-CAfile", os.fspath(ca_path)]
    try:
        done = subprocess.run(
            arguments, input=message, capture_output=True, timeout=_TIMEOUT_SECONDS, check=False
        )
    except FileNotFoundError:
        return OpenSSLOpinion(None, f"openssl binary not found at {binary}")
    except PermissionError:
        return OpenSSLOpinion(None, f"openssl binary at {binary} cannot be run")
    except subprocess.TimeoutExpired:
        return OpenSSLOpinion(None, f"openssl did not answer within {_TIMEOUT_SECONDS} s")
    except OSError as exc:
        return OpenSSLOpinion(None, f"openssl could not be started: {exc.strerror}")
    said = " ".join(done.stderr.decode("utf-8", "replace").split())
    if done.returncode == 0:
        return OpenSSLOpinion(True, said or "Verification successful")
    if not said:
        silent = f"openssl exited with status {done.returncode} and said nothing"
        return OpenSSLOpinion(None, silent)
    return OpenSSLOpinion(False, _first_error(said))


def _first_error(stderr: str) -> str:
    """OpenSSL's stderr, trimmed to its message (it repeats long internal error strings)."""
    for marker in ("Verify error:", "verify error:", "error:"):
        if marker in stderr:
            return stderr[stderr.index(marker) :][:200]
    return stderr[:200]

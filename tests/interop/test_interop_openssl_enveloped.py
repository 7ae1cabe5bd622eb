"""EnvelopedData / AuthEnvelopedData against the openssl binary, in both directions.

us -> openssl: what :func:`build_enveloped` makes decrypts with
``openssl cms -decrypt -inform DER`` to the same bytes.
openssl -> us: what ``openssl cms -encrypt`` makes (CBC, 3DES, GCM
AuthEnvelopedData, OAEP, ECDH with its default SHA-1 KDF and others,
SKI recipients, streamed BER) decrypts with :func:`decrypt_enveloped`.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from smimecore.cms.enveloped import EncryptionRecipient, build_enveloped, decrypt_enveloped
from tests.envpki import Recipient

pytestmark = pytest.mark.interop

OpenSSL = Callable[..., subprocess.CompletedProcess[bytes]]
CONTENT = b"Content-Type: text/plain\r\n\r\nHello from the interop test.\r\n" + os.urandom(300)


@pytest.fixture(scope="module")
def files(
    people: dict[str, Recipient], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Path, Path]]:
    directory = tmp_path_factory.mktemp("envelope-peers")
    return {kind: people[kind].write(directory, kind) for kind in ("rsa2048", "p256", "p384")}


def _run_ok(openssl: OpenSSL, *arguments: str | Path, input: bytes = b"") -> bytes:
    completed = openssl(*arguments, input=input)
    assert completed.returncode == 0, completed.stderr.decode(errors="replace")
    return completed.stdout


@pytest.mark.parametrize("cipher", ["aes-128-cbc", "aes-192-cbc", "aes-256-cbc", "aes-256-gcm"])
@pytest.mark.parametrize("kind", ["rsa2048", "rsa-oaep", "p256", "p256-ski"])
def test_ours_decrypts_with_openssl(
    openssl: OpenSSL,
    people: dict[str, Recipient],
    files: dict[str, tuple[Path, Path]],
    cipher: str,
    kind: str,
) -> None:
    base = {"rsa-oaep": "rsa2048", "p256-ski": "p256"}.get(kind, kind)
    spec = EncryptionRecipient(
        people[base].certificate,
        rsa_oaep=kind == "rsa-oaep",
        use_subject_key_identifier=kind.endswith("ski"),
    )
    der = build_enveloped(CONTENT, [spec], cipher=cipher)
    cert, key = files[base]
    plain = _run_ok(
        openssl,
        "cms",
        "-decrypt",
        "-inform",
        "DER",
        "-recip",
        cert,
        "-inkey",
        key,
        "-binary",
        input=der,
    )
    assert plain == CONTENT


def test_ours_two_recipients_with_openssl(
    openssl: OpenSSL, people: dict[str, Recipient], files: dict[str, tuple[Path, Path]]
) -> None:
    specs = [EncryptionRecipient(people[kind].certificate) for kind in ("p384", "rsa2048")]
    der = build_enveloped(CONTENT, specs, cipher="aes-256-cbc")
    for kind in ("rsa2048", "p384"):
        cert, key = files[kind]
        plain = _run_ok(
            openssl,
            "cms",
            "-decrypt",
            "-inform",
            "DER",
            "-recip",
            cert,
            "-inkey",
            key,
            "-binary",
            input=der,
        )
        assert plain == CONTENT


OPENSSL_CASES = {
    "aes-128-cbc": ("rsa2048", ["-aes-128-cbc"], "aes-128-cbc"),
    "aes-192-cbc": ("rsa2048", ["-aes-192-cbc"], "aes-192-cbc"),
    "aes-256-cbc": ("rsa2048", ["-aes-256-cbc"], "aes-256-cbc"),
    "des3": ("rsa2048", ["-des3"], "des-ede3-cbc"),
    "aes-128-gcm": ("rsa2048", ["-aes-128-gcm"], "aes-128-gcm"),
    "aes-256-gcm": ("p256", ["-aes-256-gcm"], "aes-256-gcm"),
    "oaep-sha256": (
        "rsa2048",
        ["-aes-256-cbc", "-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha256"],
        "aes-256-cbc",
    ),
    "oaep-default": (
        "rsa2048",
        ["-aes-128-cbc", "-keyopt", "rsa_padding_mode:oaep"],
        "aes-128-cbc",
    ),
    "ecdh-p256-sha1kdf": ("p256", ["-aes-128-cbc"], "aes-128-cbc"),
    "ecdh-p384-sha1kdf": ("p384", ["-aes-256-cbc"], "aes-256-cbc"),
    "ecdh-p256-sha256kdf": (
        "p256",
        ["-aes-256-cbc", "-keyopt", "ecdh_kdf_md:sha256"],
        "aes-256-cbc",
    ),
    "ecdh-p384-cofactor": (
        "p384",
        ["-aes-192-cbc", "-keyopt", "ecdh_cofactor_mode:1"],
        "aes-192-cbc",
    ),
    "rsa-keyid": ("rsa2048", ["-aes-128-cbc", "-keyid"], "aes-128-cbc"),
    "ec-keyid": ("p256", ["-aes-128-gcm", "-keyid"], "aes-128-gcm"),
    "stream-ber": ("rsa2048", ["-aes-256-cbc", "-stream"], "aes-256-cbc"),
}


@pytest.mark.parametrize("case", sorted(OPENSSL_CASES))
def test_openssl_decrypts_with_ours(
    openssl: OpenSSL,
    people: dict[str, Recipient],
    files: dict[str, tuple[Path, Path]],
    case: str,
) -> None:
    kind, options, cipher = OPENSSL_CASES[case]
    cert, _ = files[kind]
    # -keyopt applies to the -recip before it.
    keyopts = options[1:] if "-keyopt" in options else []
    others = options[:1] if keyopts else options
    der = _run_ok(
        openssl,
        "cms",
        "-encrypt",
        "-binary",
        "-outform",
        "DER",
        *others,
        "-recip",
        cert,
        *keyopts,
        input=CONTENT,
    )
    if case == "stream-ber":
        assert der[1] == 0x80  # indefinite length
    result = decrypt_enveloped(der, people[kind].key, people[kind].certificate)
    assert result.content == CONTENT
    assert result.cipher == cipher
    assert result.weak == (cipher == "des-ede3-cbc")
    assert result.matched_by_identifier


def test_openssl_two_recipients(
    openssl: OpenSSL, people: dict[str, Recipient], files: dict[str, tuple[Path, Path]]
) -> None:
    certs = [files[kind][0] for kind in ("rsa2048", "p256", "p384")]
    der = _run_ok(
        openssl,
        "cms",
        "-encrypt",
        "-binary",
        "-outform",
        "DER",
        "-aes-256-cbc",
        *certs,
        input=CONTENT,
    )
    for kind in ("rsa2048", "p256", "p384"):
        assert decrypt_enveloped(der, people[kind].key, people[kind].certificate).content == CONTENT

"""The expert layer against the openssl binary, both ways, in DER, PEM and BER.

us -> openssl: what sign_data and encrypt_data write, ``openssl cms -verify``
(``-content`` for a detached signature) and ``-decrypt`` read, with
``-binary`` so that neither side changes line endings.
openssl -> us: what ``openssl cms -sign``/``-encrypt -outform DER|PEM``
(``-stream``: BER with indefinite lengths) writes, verify_data and
decrypt_data read.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from smimecore.demo.pki import DemoIdentity
from smimecore.expert import decrypt_data, encrypt_data, sign_data, verify_data
from smimecore.expert.forms import CMSForm
from tests.envpki import Recipient

pytestmark = pytest.mark.interop

OpenSSL = Callable[..., subprocess.CompletedProcess[bytes]]

CONTENT = b"bare content\nwith LF lines\r\nand CRLF ones\n\x00\x01\xfe\xff" * 20
"""Bytes that text canonicalisation would change: only -binary keeps them."""


def _run_ok(openssl: OpenSSL, *arguments: str | Path, input: bytes = b"") -> bytes:
    completed = openssl(*arguments, input=input)
    assert completed.returncode == 0, completed.stderr.decode(errors="replace")
    return completed.stdout


@pytest.fixture(scope="module")
def content_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("expert-openssl") / "content.bin"
    path.write_bytes(CONTENT)
    return path


@pytest.fixture(scope="module")
def peers(
    people: dict[str, Recipient], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Path, Path]]:
    """Certificate and key files of the recipients openssl 3.0 can decrypt for."""
    directory = tmp_path_factory.mktemp("expert-peers")
    return {kind: people[kind].write(directory, kind) for kind in ("rsa2048", "p256", "p384")}


# -- us -> openssl --------------------------------------------------------------


@pytest.mark.parametrize("outform", ["der", "pem"])
@pytest.mark.parametrize("detached", [True, False], ids=["detached", "nodetach"])
@pytest.mark.parametrize("signer", ["rsa2048", "rsa2048-pss", "p256", "p384"])
def test_our_signature_verifies_with_openssl(
    openssl: OpenSSL,
    pki_dir: Path,
    identities: dict[str, DemoIdentity],
    content_file: Path,
    signer: str,
    detached: bool,
    outform: CMSForm,
) -> None:
    identity = identities[signer.removesuffix("-pss")]
    signed = sign_data(
        CONTENT,
        identity.key,
        identity.certificate,
        detached=detached,
        pss=signer.endswith("-pss"),
        digest="sha384",
        outform=outform,
    )
    arguments: list[str | Path] = ["cms", "-verify", "-binary", "-inform", outform.upper()]
    arguments += ["-CAfile", pki_dir / "ca.pem"]
    if detached:
        arguments += ["-content", content_file]
    assert _run_ok(openssl, *arguments, input=signed) == CONTENT


def test_openssl_refuses_our_signature_over_other_content(
    openssl: OpenSSL, pki_dir: Path, identities: dict[str, DemoIdentity], tmp_path: Path
) -> None:
    """The check above is real: openssl fails the same signature over changed content."""
    identity = identities["rsa2048"]
    other = tmp_path / "other.bin"
    other.write_bytes(CONTENT + b"!")
    signed = sign_data(CONTENT, identity.key, identity.certificate)
    refused = openssl("cms", "-verify", "-binary", "-inform", "DER", "-content", other,
                      "-CAfile", pki_dir / "ca.pem", input=signed)  # fmt: skip
    assert refused.returncode != 0


@pytest.mark.parametrize("outform", ["der", "pem"])
@pytest.mark.parametrize("cipher", ["aes-128-cbc", "aes-256-cbc", "aes-256-gcm"])
@pytest.mark.parametrize("kind", ["rsa2048", "rsa-oaep", "p256"])
def test_our_envelope_decrypts_with_openssl(
    openssl: OpenSSL,
    people: dict[str, Recipient],
    peers: dict[str, tuple[Path, Path]],
    kind: str,
    cipher: str,
    outform: CMSForm,
) -> None:
    base = "rsa2048" if kind == "rsa-oaep" else kind
    envelope = encrypt_data(
        CONTENT,
        [people[base].certificate, people["p384"].certificate],
        cipher=cipher,
        oaep=kind == "rsa-oaep",
        outform=outform,
    )
    for who in (base, "p384"):
        cert, key = peers[who]
        plain = _run_ok(openssl, "cms", "-decrypt", "-binary", "-inform", outform.upper(),
                        "-recip", cert, "-inkey", key, input=envelope)  # fmt: skip
        assert plain == CONTENT


# -- openssl -> us --------------------------------------------------------------

# (outform, openssl options): -stream writes BER with indefinite lengths.
OPENSSL_FORMS = [("DER", ()), ("PEM", ()), ("DER", ("-stream",))]


# openssl -stream -outform DER always encapsulates the content: BER is tried attached only.
OPENSSL_SIGNATURES = [
    pytest.param(outform, extra, detached, id=f"{name}-{'detached' if detached else 'nodetach'}")
    for (outform, extra), name in zip(OPENSSL_FORMS, ("der", "pem", "ber"), strict=True)
    for detached in ((False,) if extra else (True, False))
]


@pytest.mark.parametrize(("outform", "extra", "detached"), OPENSSL_SIGNATURES)
@pytest.mark.parametrize("kind", ["rsa2048", "p256"])
def test_openssl_signature_verifies_here(
    openssl: OpenSSL,
    pki_dir: Path,
    identities: dict[str, DemoIdentity],
    content_file: Path,
    kind: str,
    detached: bool,
    outform: str,
    extra: tuple[str, ...],
) -> None:
    identity = identities[kind]
    arguments: list[str | Path] = ["cms", "-sign", "-binary", "-in", content_file, "-md", "sha512"]
    arguments += ["-signer", pki_dir / f"{identity.address}.crt"]
    arguments += ["-inkey", pki_dir / f"{identity.address}.key", "-outform", outform, *extra]
    if not detached:
        arguments.append("-nodetach")
    signed = _run_ok(openssl, *arguments)
    if extra:
        assert signed[1] == 0x80  # indefinite length: BER

    checked = verify_data(signed, content=CONTENT if detached else None, trust=pki_dir / "ca.pem")

    assert checked.ok and checked.content == CONTENT
    (outcome,) = checked
    assert (outcome.intact, outcome.valid, outcome.trusted) == (True, True, True)
    assert outcome.signer == identity.certificate
    assert outcome.digest_algorithm == "sha512"
    assert outcome.signature_algorithm == ("ecdsa" if kind == "p256" else "rsassa_pkcs1v15")
    assert checked.statuses[0]["Trust"] == "FULL"


def test_openssl_detached_signature_over_other_content_is_bad(
    openssl: OpenSSL, pki_dir: Path, identities: dict[str, DemoIdentity], content_file: Path
) -> None:
    identity = identities["rsa2048"]
    signed = _run_ok(openssl, "cms", "-sign", "-binary", "-in", content_file, "-outform", "DER",
                     "-signer", pki_dir / f"{identity.address}.crt",
                     "-inkey", pki_dir / f"{identity.address}.key")  # fmt: skip
    (outcome,) = verify_data(signed, content=CONTENT.replace(b"\n", b"\r\n"))
    assert not outcome.intact and not outcome.valid


@pytest.mark.parametrize(("outform", "extra"), OPENSSL_FORMS, ids=["der", "pem", "ber"])
@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("rsa2048", ("-aes-256-cbc",)),
        ("rsa2048", ("-aes-128-gcm",)),
        ("rsa2048", ("-aes-128-cbc", "-keyopt", "rsa_padding_mode:oaep")),  # after -recip
        ("p256", ("-aes-192-cbc",)),
    ],
    ids=["rsa-cbc", "rsa-gcm", "rsa-oaep", "ecdh"],
)
def test_openssl_envelope_decrypts_here(
    openssl: OpenSSL,
    peers: dict[str, tuple[Path, Path]],
    content_file: Path,
    kind: str,
    options: tuple[str, ...],
    outform: str,
    extra: tuple[str, ...],
) -> None:
    cert, key = peers[kind]
    cipher, *key_options = options
    envelope = _run_ok(openssl, "cms", "-encrypt", "-binary", "-in", content_file, cipher,
                       "-outform", outform, *extra, "-recip", cert, *key_options)  # fmt: skip
    if extra:
        assert envelope[1] == 0x80  # indefinite length: BER

    decrypted = decrypt_data(envelope, key.read_bytes(), cert.read_bytes())

    assert decrypted == CONTENT
    assert decrypted.authenticated is ("-aes-128-gcm" in options)
    if "rsa_padding_mode:oaep" in options:
        assert decrypted.key_encryption.startswith("rsaes-oaep")

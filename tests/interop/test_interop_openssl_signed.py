"""Signing and verification against the openssl binary, in both directions.

openssl -> us: messages made at test time by ``openssl smime -sign`` and
``openssl cms -sign`` must verify with :meth:`SMIME.verify`.
us -> openssl: :meth:`SMIME.sign` output must verify with ``openssl cms
-verify`` (and ``openssl smime -verify``), and what openssl extracts must be
exactly the entity we signed.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509

from smimecore import SMIME, Config
from smimecore.demo.pki import DemoIdentity
from smimecore.engine.status import BAD
from smimecore.mime.protected import split_for_protection
from smimecore.mime.signed import parse_signed
from tests.conftest import PASSPHRASE, SAMPLE_MESSAGE

pytestmark = pytest.mark.interop

OpenSSL = Callable[..., subprocess.CompletedProcess[bytes]]

SIGNED_BODY = b"this is the body."
SIGNED_ENTITY = split_for_protection(SAMPLE_MESSAGE)[1]


def _run_ok(openssl: OpenSSL, *arguments: str | Path, input: bytes = b"") -> bytes:
    """Run openssl and return its standard output; fail the test with its stderr otherwise."""
    completed = openssl(*arguments, input=input)
    assert completed.returncode == 0, completed.stderr.decode(errors="replace")
    return completed.stdout


def _hex_dump_bytes(printed: bytes) -> str:
    """The bytes of an openssl ``-print`` hex dump as one hex string (offsets, text dropped)."""
    rows = re.findall(r"^\s*[0-9a-f]{4} - ((?:[0-9a-f]{2}[ -])+)", printed.decode(), re.M)
    return re.sub(r"[^0-9a-f]", "", "".join(rows))


def _openssl_version(openssl: OpenSSL) -> tuple[int, int]:
    match = re.match(rb"OpenSSL (\d+)\.(\d+)", _run_ok(openssl, "version"))
    assert match is not None
    return int(match[1]), int(match[2])


# -- openssl -> us ----------------------------------------------------------

# (command, key kind, PSS padding): `openssl smime` has no -keyopt, so PSS is cms-only.
OPENSSL_SIGNERS = [
    ("smime", "rsa2048", False),
    ("smime", "p256", False),
    ("cms", "rsa2048", False),
    ("cms", "rsa2048", True),
    ("cms", "p256", False),
]


def _signer_id(signer: tuple[str, str, bool]) -> str:
    command, kind, pss = signer
    return f"{command}-{kind}{'-pss' if pss else ''}"


def _openssl_sign(
    openssl: OpenSSL,
    pki_dir: Path,
    identity: DemoIdentity,
    *,
    command: str,
    pss: bool,
    digest: str,
    opaque: bool,
) -> bytes:
    """Sign SAMPLE_MESSAGE's MIME entity with the openssl binary; returns the whole message."""
    arguments: list[str | Path] = [
        command,
        "-sign",
        "-signer",
        pki_dir / f"{identity.address}.crt",
        "-inkey",
        pki_dir / f"{identity.address}.key",
        "-md",
        digest,
        "-from",
        identity.address,
        "-to",
        "p384@test.example",
        "-subject",
        "openssl interop",
    ]
    if pss:
        arguments += ["-keyopt", "rsa_padding_mode:pss"]
    if opaque:
        arguments.append("-nodetach")
    return _run_ok(openssl, *arguments, input=SIGNED_ENTITY)


@pytest.mark.parametrize("opaque", [False, True], ids=["detached", "opaque"])
@pytest.mark.parametrize("digest", ["sha256", "sha512"])
@pytest.mark.parametrize("signer", OPENSSL_SIGNERS, ids=_signer_id)
def test_openssl_signed_message_verifies(
    openssl: OpenSSL,
    pki_dir: Path,
    identities: dict[str, DemoIdentity],
    smime: SMIME,
    signer: tuple[str, str, bool],
    digest: str,
    opaque: bool,
) -> None:
    """A message signed by openssl smime/cms verifies, with the signed body in the result."""
    command, kind, pss = signer
    message = _openssl_sign(
        openssl,
        pki_dir,
        identities[kind],
        command=command,
        pss=pss,
        digest=digest,
        opaque=opaque,
    )
    assert parse_signed(message).is_detached is not opaque

    result = smime.verify(message)

    assert result.ok, result.statuses
    assert [record.operation for record in result.statuses] == ["Verify"]
    record = result.statuses[0]
    assert record["DigestAlgorithm"] == digest
    assert record["SignatureAlgorithm"] == (
        "rsassa_pss" if pss else "rsassa_pkcs1v15" if kind.startswith("rsa") else "ecdsa"
    )
    assert record["UserString"] == f'"Test {kind}" <{kind}@test.example>'
    assert SIGNED_BODY in result.data
    assert result.message.get_content_type() == "text/plain"
    assert result.message["Subject"] == "openssl interop"


def test_openssl_streamed_ber_message_verifies(
    openssl: OpenSSL,
    pki_dir: Path,
    identities: dict[str, DemoIdentity],
    smime: SMIME,
) -> None:
    """``openssl cms -sign -nodetach -stream`` writes BER with indefinite lengths and the
    content in chunks; it verifies and the chunks are joined into the signed entity."""
    identity = identities["rsa2048"]
    message = _run_ok(
        openssl,
        "cms",
        "-sign",
        "-nodetach",
        "-stream",
        "-signer",
        pki_dir / f"{identity.address}.crt",
        "-inkey",
        pki_dir / f"{identity.address}.key",
        input=SIGNED_ENTITY,
    )
    der = parse_signed(message).signature
    assert der[1] == 0x80  # indefinite length: really BER

    result = smime.verify(message)

    assert result.ok, result.statuses
    assert SIGNED_BODY in result.data
    assert result.data.endswith(SIGNED_ENTITY.split(b"\r\n\r\n", 1)[1])


@pytest.mark.parametrize("command", ["smime", "cms"])
def test_tampered_openssl_signed_message_is_bad(
    openssl: OpenSSL,
    pki_dir: Path,
    identities: dict[str, DemoIdentity],
    smime: SMIME,
    command: str,
) -> None:
    """Changing one byte of openssl-signed content gives Verify/BAD, not an exception."""
    message = _openssl_sign(
        openssl,
        pki_dir,
        identities["rsa2048"],
        command=command,
        pss=False,
        digest="sha256",
        opaque=False,
    )
    assert message.count(SIGNED_BODY) == 1
    tampered = message.replace(SIGNED_BODY, b"this is the b0dy.")

    result = smime.verify(tampered)

    assert not result.ok
    assert [(record.operation, record.status, record.message) for record in result.statuses] == [
        ("Verify", BAD, "The signature did not verify")
    ]
    assert result.data == tampered  # a failed verification hands the message back as it came


# -- us -> openssl ----------------------------------------------------------

# (key kind, PSS): every kind we sign with that OpenSSL 3.0 can verify.
OUR_SIGNERS = [
    ("rsa2048", False),
    ("rsa2048", True),
    ("p256", False),
    ("p384", False),
    ("p521", False),
]


def _write(directory: Path, name: str, data: bytes) -> Path:
    path = directory / name
    path.write_bytes(data)
    return path


def _openssl_cms_verify(
    openssl: OpenSSL, pki_dir: Path, message_file: Path, *extra: str | Path
) -> subprocess.CompletedProcess[bytes]:
    return openssl("cms", "-verify", "-in", message_file, "-CAfile", pki_dir / "ca.pem", *extra)


@pytest.mark.parametrize("opaque", [False, True], ids=["detached", "opaque"])
@pytest.mark.parametrize("digest", ["sha256", "sha384", "sha512"])
@pytest.mark.parametrize(
    "signer", OUR_SIGNERS, ids=lambda signer: f"{signer[0]}{'-pss' if signer[1] else ''}"
)
def test_our_signature_verifies_with_openssl_cms(
    openssl: OpenSSL,
    pki_dir: Path,
    tmp_path: Path,
    smime: SMIME,
    signer: tuple[str, bool],
    digest: str,
    opaque: bool,
) -> None:
    """SMIME.sign output verifies with openssl cms -verify, which outputs our signed entity."""
    kind, pss = signer
    signed = smime.sign(
        SAMPLE_MESSAGE, signer=f"{kind}@test.example", opaque=opaque, digest=digest, pss=pss
    )
    message_file = _write(tmp_path, "signed.eml", signed.data)

    completed = _openssl_cms_verify(openssl, pki_dir, message_file)

    assert completed.returncode == 0, completed.stderr.decode(errors="replace")
    assert b"Verification successful" in completed.stderr
    assert completed.stdout == SIGNED_ENTITY
    if not opaque:
        micalg = {"sha256": "sha-256", "sha384": "sha-384", "sha512": "sha-512"}[digest]
        assert parse_signed(signed.data).micalg == micalg


def test_our_detached_rsa_signature_verifies_with_openssl_smime(
    openssl: OpenSSL, pki_dir: Path, tmp_path: Path, smime: SMIME
) -> None:
    """The legacy openssl smime -verify (RT's own command) accepts our detached RSA signature."""
    signed = smime.sign(SAMPLE_MESSAGE, signer="rsa2048@test.example")
    message_file = _write(tmp_path, "signed.eml", signed.data)

    output = _run_ok(
        openssl, "smime", "-verify", "-in", message_file, "-CAfile", pki_dir / "ca.pem"
    )

    assert output == SIGNED_ENTITY


def test_openssl_detects_tampering_with_our_signature(
    openssl: OpenSSL, pki_dir: Path, tmp_path: Path, smime: SMIME
) -> None:
    """openssl rejects our signed message once the signed body is changed (the check is real)."""
    signed = smime.sign(SAMPLE_MESSAGE, signer="rsa2048@test.example")
    tampered = signed.data.replace(SIGNED_BODY, b"this is the b0dy.")
    assert tampered != signed.data
    message_file = _write(tmp_path, "tampered.eml", tampered)

    completed = _openssl_cms_verify(openssl, pki_dir, message_file)

    assert completed.returncode != 0
    assert b"content verify error" in completed.stderr


def test_signer_identified_by_subject_key_identifier_verifies_with_openssl(
    openssl: OpenSSL,
    pki_dir: Path,
    tmp_path: Path,
    smime: SMIME,
    identities: dict[str, DemoIdentity],
) -> None:
    """A SignerInfo v3 naming its signer by subjectKeyIdentifier verifies with openssl and us."""
    signed = smime.sign(SAMPLE_MESSAGE, signer="p256@test.example", use_subject_key_identifier=True)
    message_file = _write(tmp_path, "signed.eml", signed.data)

    printed = _run_ok(openssl, "cms", "-cmsout", "-print", "-in", message_file)
    completed = _openssl_cms_verify(openssl, pki_dir, message_file)

    certificate = identities["p256"].certificate
    ski = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    sid_dump = printed.split(b"d.subjectKeyIdentifier:", 1)[1].split(b"digestAlgorithm:", 1)[0]
    assert _hex_dump_bytes(sid_dump) == ski.digest.hex()
    assert completed.returncode == 0, completed.stderr.decode(errors="replace")
    assert completed.stdout == SIGNED_ENTITY
    assert smime.verify(signed.data).ok


def test_other_certificates_to_send_end_up_in_the_signature(
    openssl: OpenSSL,
    pki_dir: Path,
    tmp_path: Path,
    identities: dict[str, DemoIdentity],
) -> None:
    """Certificates of other_certificates_to_send travel in the SignedData, seen by openssl."""
    extra = [identities["p384"], identities["p521"]]
    bundle = _write(tmp_path, "extra.pem", b"".join(i.certificate_pem() for i in extra))
    engine = SMIME(
        Config(
            keyring=pki_dir / "keyring",
            passphrase=PASSPHRASE,
            accept_untrusted_cas=True,
            other_certificates_to_send=bundle,
        )
    )
    signed = engine.sign(SAMPLE_MESSAGE, signer="rsa2048@test.example")
    message_file = _write(tmp_path, "signed.eml", signed.data)
    signature_file = _write(tmp_path, "smime.p7s", parse_signed(signed.data).signature)
    certs_out = tmp_path / "certsout.pem"

    printed = _run_ok(openssl, "pkcs7", "-inform", "DER", "-in", signature_file, "-print_certs")
    completed = _openssl_cms_verify(openssl, pki_dir, message_file, "-certsout", certs_out)

    assert completed.returncode == 0, completed.stderr.decode(errors="replace")
    for identity in (identities["rsa2048"], *extra):
        assert f"CN = Test {identity.address.split('@')[0]}".encode() in printed
        assert identity.certificate_pem() in certs_out.read_bytes()
    assert identities["p256"].certificate_pem() not in certs_out.read_bytes()


# -- Ed25519 ------------------------------------------------------------------


def test_our_ed25519_signature_verifies_with_us(smime: SMIME) -> None:
    """Ed25519 (RFC 8419, SHA-512 message digest) signatures round-trip through our verify."""
    for opaque in (False, True):
        signed = smime.sign(SAMPLE_MESSAGE, signer="ed25519@test.example", opaque=opaque)
        result = smime.verify(signed.data)
        assert result.ok, result.statuses
        assert result.statuses[0]["SignatureAlgorithm"] == "ed25519"
        assert result.statuses[0]["DigestAlgorithm"] == "sha512"
        assert SIGNED_BODY in result.data


def test_openssl_30_refuses_ed25519_signer_infos_with_signed_attributes(
    openssl: OpenSSL, pki_dir: Path, tmp_path: Path, smime: SMIME
) -> None:
    """Documented limitation: OpenSSL 3.0 cannot verify Ed25519 SignerInfos that carry
    signed attributes (openssl#11915), so it refuses our (correct) Ed25519 signature."""
    if _openssl_version(openssl) >= (3, 2):
        pytest.skip("OpenSSL >= 3.2 may verify Ed25519 with signed attributes (openssl#11915)")
    signed = smime.sign(SAMPLE_MESSAGE, signer="ed25519@test.example")
    message_file = _write(tmp_path, "signed.eml", signed.data)

    completed = _openssl_cms_verify(openssl, pki_dir, message_file)

    assert completed.returncode != 0
    assert b"Verification successful" not in completed.stderr
    assert b"invalid digest" in completed.stderr or b"unsupported" in completed.stderr.lower()

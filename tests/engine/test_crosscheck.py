"""The OpenSSL cross-check shim (RT's OpenSSL option): AGREE, DISAGREE and an unusable binary."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from smimecore import SMIME, Config, ConfigError
from tests.conftest import PASSPHRASE, SAMPLE_MESSAGE

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def openssl_binary() -> str:
    """The real binary (the peer)."""
    binary = shutil.which("openssl")
    if binary is None:
        pytest.fail("the openssl binary is required as a test peer")
    return binary


def _engine(pki_dir: Path, binary: str, **options: object) -> SMIME:
    return SMIME(
        Config(
            keyring=pki_dir / "keyring",
            passphrase=PASSPHRASE,
            accept_untrusted_cas=True,
            openssl=binary,
            cross_check=True,
            **options,  # type: ignore[arg-type]
        )
    )


def test_agree_on_a_good_signature(pki_dir: Path, openssl_binary: str, smime: SMIME) -> None:
    """Both accept a good RSA signature: CrossCheck AGREE."""
    signed = smime.sign(SAMPLE_MESSAGE, signer="rsa2048@test.example").data
    (record,) = _engine(pki_dir, openssl_binary).verify(signed).statuses
    assert record["CrossCheck"] == "AGREE"


def test_agree_on_a_tampered_message(pki_dir: Path, openssl_binary: str, smime: SMIME) -> None:
    """Both refuse a changed body: still AGREE, and our record stays BAD."""
    signed = smime.sign(SAMPLE_MESSAGE, signer="p256@test.example").data
    tampered = signed.replace(b"Second line", b"Second LINE")
    (record,) = _engine(pki_dir, openssl_binary).verify(tampered).statuses
    assert record["Status"] == "BAD"
    assert record["CrossCheck"] == "AGREE"


def test_disagree_when_openssl_cannot_verify_ed25519(
    pki_dir: Path, openssl_binary: str, smime: SMIME
) -> None:
    """OpenSSL 3.0 refuses Ed25519 with signed attributes (openssl#11915); we accept: DISAGREE."""
    version = subprocess.run([openssl_binary, "version"], capture_output=True, check=True).stdout
    if not version.startswith(b"OpenSSL 3.0") and not version.startswith(b"OpenSSL 3.1"):
        pytest.skip(f"this openssl may verify Ed25519 ({version.decode().strip()})")
    signed = smime.sign(SAMPLE_MESSAGE, signer="ed25519@test.example").data
    (record,) = _engine(pki_dir, openssl_binary).verify(signed).statuses
    assert record["Status"] == "DONE"
    assert record["CrossCheck"].startswith("DISAGREE (openssl refused: ")


def test_missing_binary_is_a_status_not_an_exception(pki_dir: Path, smime: SMIME) -> None:
    """A binary that does not exist gives CrossCheck UNAVAILABLE and the verdict stands."""
    signed = smime.sign(SAMPLE_MESSAGE, signer="rsa2048@test.example").data
    result = _engine(pki_dir, str(pki_dir / "no-such-openssl")).verify(signed)
    assert result.ok
    assert result.statuses[0]["CrossCheck"].startswith("UNAVAILABLE (openssl binary not found")


def test_failing_binary_is_a_status(pki_dir: Path, smime: SMIME) -> None:
    """A 'binary' that is not openssl is reported, not raised."""
    signed = smime.sign(SAMPLE_MESSAGE, signer="rsa2048@test.example").data
    (record,) = _engine(pki_dir, "/bin/false").verify(signed).statuses
    assert record["CrossCheck"] == "UNAVAILABLE (openssl exited with status 1 and said nothing)"


def test_cross_check_needs_the_binary() -> None:
    """cross_check without openssl is a configuration error naming cross_check."""
    with pytest.raises(ConfigError) as caught:
        Config(cross_check=True)
    assert caught.value.option == "cross_check"


def test_off_by_default_no_field(smime: SMIME) -> None:
    """Without cross_check nothing runs and no CrossCheck field appears."""
    signed = smime.sign(SAMPLE_MESSAGE, signer="rsa2048@test.example").data
    assert "CrossCheck" not in smime.verify(signed).statuses[0]

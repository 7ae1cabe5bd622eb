"""The certificate wrapper under hostile input: only smimecore errors, worded without parser internals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtensionOID, NameOID, ObjectIdentifier

from smimecore import SMIME, Config
from smimecore.errors import MalformedCMSError
from smimecore.pki.certificate import (
    identity_of,
    load_certificates,
    load_der_certificate,
    parse_problem,
    subject_key_identifier,
)

_KEY = ec.generate_private_key(ec.SECP256R1())
_FIRST, _SECOND = ObjectIdentifier("1.2.3.4.1"), ObjectIdentifier("1.2.3.4.2")


def _certificate(extensions: list[x509.ExtensionType], email: str = "someone@example.com") -> bytes:
    """A self-signed certificate (CN "Someone", emailAddress) with the given extensions, DER."""
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "Someone"),
            x509.NameAttribute(NameOID.EMAIL_ADDRESS, email),
        ]
    )
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(_KEY.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
    )
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    return builder.sign(_KEY, hashes.SHA256()).public_bytes(Encoding.DER)


def _duplicated() -> bytes:
    """Two extensions of the same OID (made apart, then the second OID patched to the first)."""
    der = _certificate(
        [
            x509.UnrecognizedExtension(_FIRST, b"\x05\x00"),
            x509.UnrecognizedExtension(_SECOND, b"\x05\x00"),
        ]
    )
    return der.replace(b"\x06\x04\x2a\x03\x04\x02", b"\x06\x04\x2a\x03\x04\x01")


def _broken_san() -> bytes:
    """A SubjectAlternativeName whose inner rfc822Name runs past its end."""
    return _certificate(
        [x509.UnrecognizedExtension(ExtensionOID.SUBJECT_ALTERNATIVE_NAME, b"\x30\x03\x81\x05a")]
    )


def _san(address: str) -> x509.SubjectAlternativeName:
    return x509.SubjectAlternativeName([x509.RFC822Name(address)])


def test_duplicate_extension_is_refused_at_load() -> None:
    """DuplicateExtension never escapes: the certificate is refused, naming the extension."""
    der = _duplicated()
    with pytest.raises(MalformedCMSError, match=r"extension 1\.2\.3\.4\.1 appears twice"):
        load_der_certificate(der)
    with pytest.raises(MalformedCMSError, match="appears twice"):
        SMIME(Config()).certificate_info(der)


def test_malformed_subject_alternative_name_is_refused_at_load() -> None:
    """A SAN whose inner encoding is broken is a MalformedCMSError, not a bare ValueError."""
    with pytest.raises(MalformedCMSError, match="an extension is malformed") as raised:
        load_der_certificate(_broken_san())
    assert "ParseError" not in str(raised.value)


def test_identity_of_a_certificate_built_elsewhere_survives_bad_extensions() -> None:
    """An x509.Certificate given to the API unchecked: the SAN is ignored, the subject still read."""
    for broken in (_duplicated(), _broken_san()):
        certificate = x509.load_der_x509_certificate(broken)
        identity = identity_of(certificate)
        assert identity.email == "someone@example.com"
        assert identity.addresses == frozenset({"someone@example.com"})
        assert identity.user_string == '"Someone" <someone@example.com>'
        assert len(subject_key_identifier(certificate)) in (0, 20)


def test_san_is_still_preferred_when_readable() -> None:
    """The guard changes nothing for a good certificate: SAN first (RFC 5750)."""
    identity = identity_of(load_der_certificate(_certificate([_san("first@example.com")])))
    assert identity.email == "first@example.com"
    assert identity.addresses == frozenset({"first@example.com", "someone@example.com"})


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x30\x03\x02\x01\x01", "an unexpected ASN.1 element (at tbs_cert)"),
        (b"hello, this is not a certificate", "the data is truncated"),
        (b"\x30\x82\x01\x00\x30", "the data is truncated"),
    ],
)
def test_non_certificates_are_named_in_words(data: bytes, reason: str) -> None:
    """'not an X.509 certificate: <reason>', never the Rust parser's ParseError { kind: ... }."""
    with pytest.raises(MalformedCMSError) as raised:
        load_certificates(data)
    assert str(raised.value) == f"not an X.509 certificate: {reason}"


def test_trailing_data_is_named() -> None:
    """Bytes after the certificate's end are said to be there."""
    with pytest.raises(MalformedCMSError, match="data follows its end"):
        load_certificates(_certificate([]) + b"\x00")


def test_info_and_encrypt_cert_of_a_non_certificate_in_the_api(tmp_path: Path) -> None:
    """certificate_info and encrypt(certificates=[...]) of a mail: smimecore's words only."""
    engine = SMIME(Config())
    with pytest.raises(MalformedCMSError, match=r"^not an X\.509 certificate: ") as raised:
        engine.certificate_info(b"From: a@example.com\n\nhello\n")
    assert "ParseError" not in str(raised.value)
    with pytest.raises(MalformedCMSError, match=r"^not an X\.509 certificate: "):
        engine.encrypt(b"From: a@example.com\n\nhello\n", recipients=[], certificates=[b"\x30\x00"])


def test_parse_problem_keeps_other_messages() -> None:
    """A message that is not the Rust parser's is kept as it is (first line)."""
    assert parse_problem(ValueError("Unknown version\nmore")) == "Unknown version"
    assert (
        parse_problem(ValueError("error parsing asn1 value: ParseError { kind: Mystery }"))
        == "malformed ASN.1"
    )


def test_email_address_as_bit_string_is_refused_at_load() -> None:
    """An emailAddress encoded as a BIT STRING: cryptography's TypeError becomes ours."""
    der = _certificate([], email="zz").replace(b"\x16\x02zz", b"\x03\x02\x00\xff")
    with pytest.raises(MalformedCMSError, match=r"^not an X\.509 certificate: .*BitString"):
        load_der_certificate(der)

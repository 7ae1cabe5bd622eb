"""Signed messages made by other implementations: they must verify (or fail as documented).

Every vector is read in place under ``../shared/vectors`` (see each folder's
SOURCE.md for where it came from and what is expected).  Raw CMS ``.bin`` /
``.p7m`` / ``.cms`` objects are wrapped into S/MIME messages by
:func:`opaque_message` and :func:`detached_message` so they go through
:meth:`SMIME.verify` like mail does.
"""

from __future__ import annotations

import base64
import copy
import email.message
import email.policy
import hashlib
import re
import shutil
from pathlib import Path

import pytest

from smimecore import (
    SMIME,
    CertificateNotFoundError,
    Config,
    MalformedCMSError,
    MalformedMessageError,
    NotProtectedError,
    SmimeError,
    UnsupportedAlgorithmError,
)
from smimecore.algorithms.digests import digest_by_micalg
from smimecore.engine.status import DONE, ERROR, Result
from smimecore.mime.signed import parse_signed
from tests.conftest import VECTORS, vector_path

pytestmark = pytest.mark.vectors

SAMPLE_CONTENT = b"This is some sample content."
"""The content of every RFC 4134 and RFC 9216 example (RFC 4134's ExContent.bin)."""


# -- helpers ----------------------------------------------------------------


def opaque_message(der: bytes, subject: str = "wrapped CMS") -> bytes:
    """A DER SignedData as an ``application/pkcs7-mime; smime-type=signed-data`` message."""
    return (
        f"Subject: {subject}\r\n".encode()
        + b"MIME-Version: 1.0\r\n"
        + b"Content-Type: application/pkcs7-mime; smime-type=signed-data; name=smime.p7m\r\n"
        + b"Content-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(der)
    )


def detached_message(der: bytes, content: bytes, subject: str = "wrapped CMS") -> bytes:
    """A ``multipart/signed`` message whose first part is exactly ``content``."""
    boundary = b"smimecore-test-boundary"
    assert boundary not in content
    return b"".join(
        (
            f"Subject: {subject}\r\n".encode(),
            b"MIME-Version: 1.0\r\n",
            b'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; ',
            b'micalg=sha-256; boundary="' + boundary + b'"\r\n\r\n',
            b"--" + boundary + b"\r\n",
            content,
            b"\r\n--" + boundary + b"\r\n",
            b"Content-Type: application/pkcs7-signature; name=smime.p7s\r\n",
            b"Content-Transfer-Encoding: base64\r\n\r\n",
            base64.encodebytes(der),
            b"\r\n--" + boundary + b"--\r\n",
        )
    )


def pem_body(path: Path) -> bytes:
    """The DER inside a PEM file (the first block)."""
    text = path.read_bytes()
    match = re.search(rb"-----BEGIN [A-Z0-9 ]+-----\r?\n(.*?)-----END", text, re.S)
    assert match is not None, path
    return base64.b64decode(match[1])


def assert_verified(result: Result, signers: int = 1) -> None:
    """``signers`` Verify records, all DONE."""
    assert result.ok, result.statuses
    assert [record.operation for record in result.statuses] == ["Verify"] * signers


def assert_verify_error(error: SmimeError, records: int = 1) -> None:
    """The exception carries Verify records, at least one of them ERROR."""
    assert len(error.statuses) == records
    assert all(record.operation == "Verify" for record in error.statuses)
    assert any(record.status == ERROR for record in error.statuses)
    error_messages = [record.message for record in error.statuses if record.status == ERROR]
    assert all(message.startswith("There was an error verifying: ") for message in error_messages)


@pytest.fixture(scope="module")
def plain_smime() -> SMIME:
    """An engine without keyring or CA: signature-only verification (trust UNKNOWN)."""
    return SMIME(Config(accept_untrusted_cas=True))


# -- Request Tracker: real Thunderbird mail ---------------------------------


@pytest.fixture(scope="module")
def rt_smime() -> SMIME:
    """RT's own test configuration over its keyring."""
    return SMIME(
        Config(
            keyring=vector_path("request-tracker", "keys"),
            passphrase="123456",
            accept_untrusted_cas=True,
        )
    )


def _attachment(result: Result, filename: str) -> email.message.EmailMessage:
    for part in result.message.walk():
        if part.get_filename() == filename:
            assert isinstance(part, email.message.EmailMessage)
            return part
    raise AssertionError(f"no attachment {filename} in the verified message")


def _check_rt_record(result: Result) -> None:
    record = result.statuses[0]
    assert record["UserString"] == '"sender" <sender@example.com>'
    assert record["Issuer"] == '"CA Owner" <ca.owner@example.com>'
    assert record["Serial"] == "9974010075738841109"
    assert record["DigestAlgorithm"] == "sha512"
    assert record["Trust"] == "UNKNOWN"
    assert "WeakAlgorithms" not in record


@pytest.mark.parametrize(
    ("number", "name"), [(1, "1-signed"), (2, "2-signed-attachment"), (3, "3-signed-binary")]
)
def test_rt_thunderbird_mail_verifies(rt_smime: SMIME, number: int, name: str) -> None:
    """RT's real Thunderbird-signed mails 1-3 verify as realmail.t expects."""
    raw = vector_path("request-tracker", "mails", f"{name}.eml").read_bytes()

    result = rt_smime.verify(raw)

    assert_verified(result)
    _check_rt_record(result)
    assert result.message["Subject"] == f"Test Email ID:{number}"
    body = result.message.get_body(preferencelist=("plain",))
    assert body is not None
    assert f"ID:{number}" in body.get_content()
    if number == 2:
        assert "zanzibar" in _attachment(result, "text-attachment.txt").get_content()
    if number == 3:
        png = _attachment(result, "favicon.png").get_content()
        assert hashlib.md5(png).hexdigest() == "1e35f1aa90c98ca2bab85c26ae3e1ba7"  # noqa: S324


@pytest.mark.parametrize("name", ["1-signed", "2-signed-attachment", "3-signed-binary"])
def test_rt_mail_given_as_email_message_verifies_and_is_not_modified(
    rt_smime: SMIME, name: str
) -> None:
    """An EmailMessage (policy default) verifies too, and the caller's object is left as it was."""
    raw = vector_path("request-tracker", "mails", f"{name}.eml").read_bytes()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    before = message.as_bytes()
    snapshot = copy.deepcopy(message)

    result = rt_smime.verify(message)

    assert_verified(result)
    _check_rt_record(result)
    assert message.as_bytes() == before
    assert message.items() == snapshot.items()
    assert message.get_content_type() == "multipart/signed"


# -- RFC 4134 -----------------------------------------------------------------


def _rfc4134(name: str) -> Path:
    return vector_path("rfc4134", name)


def _check_rfc4134_signer(result: Result, signature_algorithm: str) -> None:
    for record in result.statuses:
        assert record["DigestAlgorithm"] == "sha1"
        assert record["WeakAlgorithms"] == "sha1"
        assert record["SignatureAlgorithm"] == signature_algorithm
    assert result.statuses[0]["UserString"].endswith("@example.com>")


@pytest.mark.parametrize(
    ("name", "signature_algorithm"),
    [
        ("4.1.bin", "dsa"),
        ("4.2.bin", "rsassa_pkcs1v15"),
        ("4.4.bin", "dsa"),  # signed + unsigned attributes, countersignature, CRL
        ("4.5.bin", "rsassa_pkcs1v15"),  # BER, indefinite lengths, chunked eContent
        ("4.7.bin", "dsa"),  # signer named by subjectKeyIdentifier
        ("4.10.bin", "dsa"),  # unknown signed attributes must be tolerated
    ],
)
def test_rfc4134_encapsulated_signed_data_verifies(
    plain_smime: SMIME, name: str, signature_algorithm: str
) -> None:
    """RFC 4134 opaque SignedData examples verify, content = ExContent, SHA-1 reported weak."""
    der = _rfc4134(name).read_bytes()

    result = plain_smime.verify(opaque_message(der, subject=f"RFC 4134 {name}"))

    assert_verified(result)
    _check_rfc4134_signer(result, signature_algorithm)
    assert result.message["Subject"] == f"RFC 4134 {name}"
    assert result.message.get_payload(decode=True) == SAMPLE_CONTENT
    assert result.data.endswith(b"\r\n\r\n" + SAMPLE_CONTENT)


def test_rfc4134_detached_signed_data_verifies_with_excontent(plain_smime: SMIME) -> None:
    """RFC 4134 4.3 (detached DSA) verifies when ExContent.bin is the first part."""
    content = _rfc4134("ExContent.bin").read_bytes()
    assert content == SAMPLE_CONTENT

    result = plain_smime.verify(detached_message(_rfc4134("4.3.bin").read_bytes(), content))

    assert_verified(result)
    _check_rfc4134_signer(result, "dsa")
    assert result.message.get_payload(decode=True) == SAMPLE_CONTENT


def test_rfc4134_detached_signature_over_other_content_is_bad(plain_smime: SMIME) -> None:
    """RFC 4134 4.3 over different content gives Verify/BAD (the detached check is real)."""
    result = plain_smime.verify(
        detached_message(_rfc4134("4.3.bin").read_bytes(), b"This is some sample content!")
    )

    assert [(record.status, record.message) for record in result.statuses] == [
        ("BAD", "The signature did not verify")
    ]


@pytest.mark.parametrize("name", ["4.8.eml", "4.9.eml"])
def test_rfc4134_smime_messages_verify(plain_smime: SMIME, name: str) -> None:
    """RFC 4134 4.8 (multipart/signed) and 4.9 (pkcs7-mime signed-data) verify."""
    result = plain_smime.verify(_rfc4134(name).read_bytes())

    assert_verified(result)
    _check_rfc4134_signer(result, "dsa")
    assert result.statuses[0]["UserString"] == '"AliceDSS" <AliceDSS@example.com>'
    assert SAMPLE_CONTENT in result.data


def test_rfc4134_two_signers_reports_dsa_parameter_inheritance_as_unsupported(
    plain_smime: SMIME,
) -> None:
    """RFC 4134 4.6: Alice's signer verifies; Diane's key inherits its DSA parameters from
    Carl's certificate, which neither cryptography nor OpenSSL 3.0 can load.

    Documented behaviour: Diane's signer is an ERROR record, so verify raises
    UnsupportedAlgorithmError whose ``.statuses`` hold both records (Alice DONE,
    Diane ERROR) -- the caller still learns Alice's good signature.
    """
    der = _rfc4134("4.6.bin").read_bytes()

    with pytest.raises(UnsupportedAlgorithmError, match="inherited parameters") as raised:
        plain_smime.verify(opaque_message(der))

    alice, diane = raised.value.statuses
    assert (alice.operation, alice.status) == ("Verify", DONE)
    assert alice["UserString"] == '"AliceDSS" <AliceDSS@example.com>'
    assert (diane.operation, diane.status) == ("Verify", ERROR)
    assert "DianeDSS" in diane.message
    assert "DSA with inherited parameters" in diane.message


# -- RFC 9216 (draft-ireland-examples-cms) ------------------------------------


def _rfc9216(name: str) -> bytes:
    return vector_path("rfc9216", "cms-examples", "binary", f"{name}.p7m").read_bytes()


@pytest.mark.parametrize(
    ("name", "user", "signature_algorithm", "digest"),
    [
        ("signedByAliceRSA", "Alice Lovelace", "rsassa_pkcs1v15", "sha256"),
        ("signedByAliceRSAPSS", "Alice Lovelace", "rsassa_pss", "sha256"),
        ("signedByCarlosEd25519", "Carlos Turing", "ed25519", "sha512"),
    ],
)
def test_rfc9216_encapsulated_signed_data_verifies(
    plain_smime: SMIME, name: str, user: str, signature_algorithm: str, digest: str
) -> None:
    """CryptoSys-made RSA, RSA-PSS and Ed25519 SignedData with the RFC 9216 keys verify."""
    result = plain_smime.verify(opaque_message(_rfc9216(name)))

    assert_verified(result)
    record = result.statuses[0]
    assert record["UserString"].startswith(f'"{user}" <')
    assert record["SignatureAlgorithm"] == signature_algorithm
    assert record["DigestAlgorithm"] == digest
    assert result.message.get_payload(decode=True) == SAMPLE_CONTENT


def test_rfc9216_detached_ed25519_verifies(plain_smime: SMIME) -> None:
    """Carlos's detached Ed25519 signature verifies over the sample content."""
    result = plain_smime.verify(
        detached_message(_rfc9216("signedByCarlosDetached"), SAMPLE_CONTENT)
    )

    assert_verified(result)
    assert result.statuses[0]["SignatureAlgorithm"] == "ed25519"
    assert result.message.get_payload(decode=True) == SAMPLE_CONTENT


def test_rfc9216_signers_without_embedded_certificates_are_found_in_keyring_where_rt_fails(
    tmp_path: Path, plain_smime: SMIME
) -> None:
    """Two signers, no certificates in the message: the keyring's cert-only
    ``<address>.pem`` files supply them (RT, passing no -certfile, cannot verify this)."""
    keyring = tmp_path / "keyring"
    keyring.mkdir()
    keys = vector_path("rfc9216", "keys")
    shutil.copyfile(keys / "lamps-alice.crt", keyring / "alice@smime.example.pem")
    shutil.copyfile(keys / "lamps-carlos.crt", keyring / "carlos@smime.example.pem")
    message = opaque_message(_rfc9216("signedByAliceAndCarlosNoCerts"))

    result = SMIME(Config(keyring=keyring, accept_untrusted_cas=True)).verify(message)

    assert_verified(result, signers=2)
    assert sorted(record["UserString"] for record in result.statuses) == [
        '"Alice Lovelace" <alice@smime.example>',
        '"Carlos Turing" <carlos@smime.example>',
    ]
    assert result.message.get_payload(decode=True) == SAMPLE_CONTENT
    with pytest.raises(CertificateNotFoundError) as raised:
        plain_smime.verify(message)  # without the keyring: both signers unknown
    assert_verify_error(raised.value, records=2)


# -- NIST PKITS: signature-only ------------------------------------------------

PKITS_DSA_INHERITANCE = "SignedValidDSAParameterInheritanceTest5.eml"
_PKITS_FOLDER = VECTORS / "nist-pkits" / "smime"
PKITS_MESSAGES = sorted(path.name for path in _PKITS_FOLDER.glob("*.eml")) or ["(missing)"]


@pytest.fixture(scope="module")
def pkits_smime() -> SMIME:
    """One engine shared by the whole PKITS sweep."""
    return SMIME(Config(accept_untrusted_cas=True))


# PKITS 4.4.14/4.4.15 use negative serial numbers on purpose; cryptography warns about them.
@pytest.mark.filterwarnings("ignore:Parsed a serial number which wasn't positive")
@pytest.mark.parametrize("name", PKITS_MESSAGES)
def test_pkits_message_signature_verifies(pkits_smime: SMIME, name: str) -> None:
    """Every PKITS message's CMS signature verifies (trust UNKNOWN: no ca_path), except the
    DSA-parameter-inheritance one, whose EE key cannot be loaded (documented: unsupported)."""
    raw = vector_path("nist-pkits", "smime", name).read_bytes()
    if name == PKITS_DSA_INHERITANCE:
        with pytest.raises(UnsupportedAlgorithmError, match="DSA with inherited parameters") as e:
            pkits_smime.verify(raw)
        assert_verify_error(e.value)
        return

    result = pkits_smime.verify(raw)

    assert_verified(result)
    record = result.statuses[0]
    assert record["Trust"] == "UNKNOWN"
    assert record["DigestAlgorithm"] == digest_by_micalg(parse_signed(raw).micalg or "").name
    assert b"This is a sample signed message." in result.data


def test_pkits_sweep_is_complete() -> None:
    """All 224 PKITS messages are present, so the sweep above really covers the suite."""
    assert len(list(vector_path("nist-pkits", "smime").glob("*.eml"))) == 224
    assert PKITS_DSA_INHERITANCE in PKITS_MESSAGES


# -- MimeKit --------------------------------------------------------------------


def test_mimekit_thunderbird_message_signature_verifies(plain_smime: SMIME) -> None:
    """Thunderbird 24's SHA-1 signed mail (expired StartCom cert; trust not checked here)."""
    raw = vector_path("mimekit", "thunderbird-signed.txt").read_bytes()

    result = plain_smime.verify(raw)

    assert_verified(result)
    record = result.statuses[0]
    assert record["UserString"] == '"fejj@gnome.org" <fejj@gnome.org>'
    assert record["Issuer"] == "StartCom Class 1 Primary Intermediate Client CA"
    assert record["WeakAlgorithms"] == "sha1"
    assert result.message["From"] == "Jeffrey Stedfast <fejj@gnome.org>"


def test_mimekit_binary_signature_over_mixed_line_endings_verifies(plain_smime: SMIME) -> None:
    """AS2-style multipart/signed: raw DER signature part (no transfer encoding) over an
    octet-stream with mixed CRLF/LF endings; OpenSSL 3.0 cannot parse it, MimeKit verifies it."""
    raw = vector_path("mimekit", "octet-stream-with-mixed-line-endings.dat").read_bytes()

    result = plain_smime.verify(raw)

    assert_verified(result)
    assert result.statuses[0]["UserString"] == '"Open Text" <certificateexchange@opentext.com>'
    assert result.message.get_content_type() == "application/octet-stream"
    assert result.message.get_payload(decode=True) == (
        b"This is a test from OT GXS. Please ignore.\n"
    )


# -- OpenSSL's negative SignedData tests -----------------------------------------


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("bad_signtime_attr.cms", "signing_time attribute must not be an unsigned attribute"),
        ("no_ct_attr.cms", "contentType signed attribute is missing"),
        ("no_md_attr.cms", "messageDigest signed attribute is missing"),
        ("ct_multiple_attr.cms", "content_type signed attribute must have exactly one value"),
    ],
)
def test_openssl_malformed_signed_attributes_are_refused(
    plain_smime: SMIME, name: str, problem: str
) -> None:
    """OpenSSL's 80-test_cms attribute cases raise MalformedCMSError with a Verify ERROR."""
    der = vector_path("openssl-cms-tests", "80-test_cms_data", name).read_bytes()

    with pytest.raises(MalformedCMSError, match=problem) as raised:
        plain_smime.verify(opaque_message(der))

    assert_verify_error(raised.value)


def test_openssl_empty_digest_set_is_refused(plain_smime: SMIME) -> None:
    """A SignedData whose digestAlgorithms SET is empty fails cleanly (as OpenSSL's does)."""
    raw = vector_path("openssl-cms-tests", "smime-eml", "pkcs7-empty-digest-set.eml").read_bytes()

    with pytest.raises(
        MalformedCMSError, match="not listed in the SignedData digestAlgorithms"
    ) as e:
        plain_smime.verify(raw)

    assert_verify_error(e.value)


def test_openssl_md4_signature_is_refused(plain_smime: SMIME) -> None:
    """A PKCS#7 signed with MD4 is refused as insecure, never verified."""
    der = pem_body(vector_path("openssl-cms-tests", "80-test_cms_data", "pkcs7-md4.pem"))

    with pytest.raises(UnsupportedAlgorithmError, match="md4 is refused as insecure") as raised:
        plain_smime.verify(opaque_message(der))

    assert_verify_error(raised.value)


# -- malformed input in general --------------------------------------------------


def _valid_signed_data() -> bytes:
    return _rfc9216("signedByAliceRSA")


def test_truncated_der_is_malformed_cms(plain_smime: SMIME) -> None:
    """Every truncation of a real SignedData raises MalformedCMSError, never a bare exception."""
    der = _valid_signed_data()
    for length in range(0, len(der), 37):
        with pytest.raises(MalformedCMSError) as raised:
            plain_smime.verify(opaque_message(der[:length] or b"\x30"))
        assert_verify_error(raised.value)


def test_garbage_base64_is_malformed_message(plain_smime: SMIME) -> None:
    """A signed-data body that is not base64 raises MalformedMessageError."""
    message = opaque_message(b"")
    message = message.replace(b"\r\n\r\n", b"\r\n\r\n@@@ not base64 at all @@@\r\n", 1)

    with pytest.raises(MalformedMessageError, match="not valid base64") as raised:
        plain_smime.verify(message)

    assert_verify_error(raised.value)


def test_base64_of_non_cms_bytes_is_malformed_cms(plain_smime: SMIME) -> None:
    """Base64 that decodes to something other than DER raises MalformedCMSError."""
    with pytest.raises(MalformedCMSError) as raised:
        plain_smime.verify(opaque_message(b"this is not DER, just text"))

    assert_verify_error(raised.value)


def test_multipart_signed_without_boundary_is_malformed(plain_smime: SMIME) -> None:
    """multipart/signed with no boundary parameter raises MalformedMessageError."""
    message = detached_message(_valid_signed_data(), SAMPLE_CONTENT).replace(
        b'; boundary="smimecore-test-boundary"', b""
    )

    with pytest.raises(MalformedMessageError, match="no boundary") as raised:
        plain_smime.verify(message)

    assert_verify_error(raised.value)


def test_multipart_signed_with_one_part_is_malformed(plain_smime: SMIME) -> None:
    """multipart/signed with only the content part raises MalformedMessageError."""
    message = (
        b'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; '
        b'micalg=sha-256; boundary="b"\r\n\r\n--b\r\n' + SAMPLE_CONTENT + b"\r\n--b--\r\n"
    )

    with pytest.raises(MalformedMessageError, match="exactly 2 parts, this one has 1") as raised:
        plain_smime.verify(message)

    assert_verify_error(raised.value)


def test_plain_message_is_not_protected(plain_smime: SMIME) -> None:
    """A message that is not S/MIME at all raises NotProtectedError."""
    message = b"From: a@example.com\r\nContent-Type: text/plain\r\n\r\nhello\r\n"

    with pytest.raises(NotProtectedError, match="not S/MIME signed") as raised:
        plain_smime.verify(message)

    assert_verify_error(raised.value)


def test_certs_only_signed_data_is_not_protected(plain_smime: SMIME) -> None:
    """RFC 4134 4.11 (certs-only SignedData: no content, no signers) is not a signed message."""
    der = _rfc4134("4.11.bin").read_bytes()

    with pytest.raises(SmimeError) as raised:
        plain_smime.verify(opaque_message(der))

    assert_verify_error(raised.value)
    assert isinstance(raised.value, NotProtectedError), type(raised.value)


def test_detached_signed_data_sent_as_opaque_is_malformed(plain_smime: SMIME) -> None:
    """A detached SignedData (RFC 4134 4.3) sent as pkcs7-mime has no content to verify."""
    der = _rfc4134("4.3.bin").read_bytes()

    with pytest.raises(SmimeError, match="no content") as raised:
        plain_smime.verify(opaque_message(der))

    assert_verify_error(raised.value)
    assert isinstance(raised.value, MalformedCMSError), type(raised.value)

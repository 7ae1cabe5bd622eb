"""The hand-written SignedData readers against asn1crypto's reading of the same bytes.

``parse_signed_data`` reads the usual DER in one pass and anything else with
the TLV reader; every field either returns must be what asn1crypto finds, on
third-party objects (RFC 4134, RFC 9216, pyca, OpenSSL, NIST PKITS mails)
and on our own, both readings must agree on mangled input, and anything cut
short or mangled must be a :class:`MalformedCMSError`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography.hazmat.primitives.serialization import Encoding

from smimecore import SMIME, MalformedCMSError, SmimeError
from smimecore.cms import signed
from smimecore.cms.attributes import read_signing_time, signing_time_attribute
from smimecore.cms.signed import SignedData, SignerIdentifier, SignerInfo, parse_signed_data
from smimecore.mime.signed import parse_signed
from smimecore.pki.der import UnusualEncodingError
from tests.conftest import vector_path


@pytest.fixture(params=["one-pass", "tlv-reader"])
def reading(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """A test that takes it runs with the one-pass reading on, then with only the TLV reader."""
    if request.param == "tlv-reader":
        _one_pass_off(monkeypatch)
    return str(request.param)


def _one_pass_off(monkeypatch: pytest.MonkeyPatch) -> None:
    def unusual(*_: object) -> None:
        raise UnusualEncodingError()

    monkeypatch.setattr(signed, "_read_usual_signed_data", unusual)
    monkeypatch.setattr(signed, "_usual_attributes", unusual)


_RAW_FOLDERS = ("rfc4134", "rfc9216", "pyca-cryptography-pkcs7", "openssl-cms-tests")
_RAW_SUFFIXES = (".bin", ".der", ".p7b", ".p7s", ".p7m", ".cms")


def _signed_objects(root: Path) -> list[Path]:
    found = []
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in _RAW_SUFFIXES or not path.is_file():
            continue
        try:
            info = cms.ContentInfo.load(path.read_bytes(), strict=False)
            if info["content_type"].native == "signed_data":
                signed_data = info["content"]
                # only what asn1crypto itself reads can be compared with it
                signed_data["signer_infos"].native  # noqa: B018
                signed_data["encap_content_info"]["content"].native  # noqa: B018
                [choice.name for choice in signed_data["certificates"] or []]
                found.append(path)
        except (ValueError, TypeError, KeyError):
            continue
    return found


def _expected_signer(signer: cms.SignerInfo) -> SignerInfo:
    sid = signer["sid"]
    signed = signer["signed_attrs"]
    unsigned = signer["unsigned_attrs"]
    return SignerInfo(
        version=int.from_bytes(signer["version"].contents, "big", signed=True),
        signer_id=_expected_sid(sid),
        digest_algorithm=signer["digest_algorithm"]["algorithm"].dotted,
        signed_attributes=None if not signed.contents else bytes(signed.dump()),
        signature_algorithm=bytes(signer["signature_algorithm"].dump()),
        signature=bytes(signer["signature"].native),
        unsigned_attributes=None if not unsigned.contents else bytes(unsigned.dump()),
    )


def _expected_sid(sid: cms.SignerIdentifier) -> SignerIdentifier:
    if sid.name == "subject_key_identifier":
        return SignerIdentifier(key_identifier=sid.chosen.native)
    return SignerIdentifier(
        issuer=bytes(sid.chosen["issuer"].dump()), serial=sid.chosen["serial_number"].native
    )


def _assert_same_as_asn1crypto(data: bytes, parsed: SignedData) -> None:
    signed_data = cms.ContentInfo.load(data, strict=False)["content"]
    encapsulated = signed_data["encap_content_info"]
    assert parsed.content_type_oid == encapsulated["content_type"].dotted
    assert parsed.content_type == encapsulated["content_type"].native
    content = encapsulated["content"]
    expected_content = None if content.native is None else bytes(content.__bytes__())
    assert parsed.content == expected_content
    certificates = [
        bytes(choice.chosen.dump())
        for choice in signed_data["certificates"] or []
        if choice.name == "certificate"
    ]
    found = [c.public_bytes(Encoding.DER) for c in parsed.certificates]
    found += [bytes(c.dump()) for c in parsed.unreadable_certificates]
    assert sorted(found) == sorted(certificates)
    crls = [
        bytes(choice.chosen.dump()) for choice in signed_data["crls"] or [] if choice.name == "crl"
    ]
    assert list(parsed.crls) == crls
    assert parsed.digest_algorithms == frozenset(
        algorithm["algorithm"].dotted for algorithm in signed_data["digest_algorithms"]
    )
    assert list(parsed.signer_infos) == [
        _expected_signer(signer) for signer in signed_data["signer_infos"]
    ]


@pytest.mark.vectors
@pytest.mark.parametrize("folder", _RAW_FOLDERS)
def test_third_party_signed_data_reads_as_asn1crypto_reads_it(folder: str, reading: str) -> None:
    paths = _signed_objects(vector_path(folder))
    assert paths, f"no SignedData found under {folder}"
    for path in paths:
        data = path.read_bytes()
        _assert_same_as_asn1crypto(data, parse_signed_data(data))


@pytest.mark.vectors
def test_pkits_mails_read_as_asn1crypto_reads_them(reading: str) -> None:
    mails = sorted(vector_path("nist-pkits", "smime").glob("*.eml"))[:40]
    assert mails
    for mail in mails:
        signature = parse_signed(mail.read_bytes()).signature
        _assert_same_as_asn1crypto(signature, parse_signed_data(signature))


def test_own_signature_reads_as_asn1crypto_reads_it(smime: SMIME, reading: str) -> None:
    for opaque in (False, True):
        signed = smime.sign(
            b"Subject: t\r\n\r\nhello\r\n", signer="rsa2048@test.example", opaque=opaque
        )
        signature = parse_signed(signed.data).signature
        parsed = parse_signed_data(signature)
        _assert_same_as_asn1crypto(signature, parsed)
        assert parsed.is_detached is not opaque


def _own_signature(smime: SMIME) -> bytes:
    signed = smime.sign(b"Subject: t\r\n\r\nhello\r\n", signer="rsa2048@test.example")
    return parse_signed(signed.data).signature


def test_every_truncation_is_a_malformed_cms_error(smime: SMIME, reading: str) -> None:
    signature = _own_signature(smime)
    for length in range(len(signature)):
        with pytest.raises(MalformedCMSError):
            parse_signed_data(signature[:length])


def test_mangled_bytes_never_raise_anything_but_malformed_cms_error(
    smime: SMIME, reading: str
) -> None:
    """Each byte flipped in turn."""
    signature = _own_signature(smime)
    for position in range(len(signature)):
        mangled = bytearray(signature)
        mangled[position] ^= 0x41
        try:
            parse_signed_data(bytes(mangled))
        except MalformedCMSError:
            continue


def test_other_content_types_are_named() -> None:
    enveloped = cms.ContentInfo({"content_type": "enveloped_data", "content": None}).dump()
    with pytest.raises(MalformedCMSError, match="expected CMS signed-data, found enveloped_data"):
        parse_signed_data(enveloped)


@pytest.mark.parametrize(
    "moment",
    [
        datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2026, 11, 24, 1, 2, 3, tzinfo=UTC),
        datetime(2049, 1, 1, tzinfo=UTC),
        datetime(2050, 1, 1, tzinfo=UTC),
        datetime(2150, 6, 7, 8, 9, 10, tzinfo=UTC),
    ],
)
def test_signing_time_reads_back_in_both_encodings(moment: datetime) -> None:
    attribute = signing_time_attribute(moment)
    value = attribute[-15:] if moment.year < 2050 else attribute[-17:]
    assert read_signing_time(value) == moment
    assert read_signing_time(value) == cms.Time.load(value).native


def test_signing_time_with_an_offset_goes_through_asn1crypto() -> None:
    value = b"\x17\x11" + b"990101000000+0100"
    assert read_signing_time(value) == cms.Time.load(value).native


@pytest.mark.parametrize(
    "value", [b"\x17\x0d9913320000Z", b"\x17\x0dXXXXXXXXXXXXZ", b"\x17\x05abcde", b"\x04\x00", b""]
)
def test_unreadable_signing_times_are_none(value: bytes) -> None:
    assert read_signing_time(value) is None


def _outcome(data: bytes) -> object:
    try:
        parsed = parse_signed_data(data)
    except MalformedCMSError:
        return "malformed"
    unreadable = [bytes(c.dump()) for c in parsed.unreadable_certificates]
    return (replace(parsed, unreadable_certificates=()), unreadable)


def test_both_readings_agree_on_every_truncation_and_flip(
    smime: SMIME, monkeypatch: pytest.MonkeyPatch
) -> None:
    signature = _own_signature(smime)
    variants = [signature[:length] for length in range(0, len(signature), 7)]
    for position in range(len(signature)):
        mangled = bytearray(signature)
        mangled[position] ^= 0x41
        variants.append(bytes(mangled))
    one_pass = [_outcome(variant) for variant in variants]
    _one_pass_off(monkeypatch)
    assert [_outcome(variant) for variant in variants] == one_pass


def test_usual_der_is_read_in_one_pass(smime: SMIME) -> None:
    signature = _own_signature(smime)
    assert signed._read_usual_signed_data(signature) == parse_signed_data(signature)


def test_ber_goes_to_the_tlv_reader() -> None:
    """Thunderbird's signed mails are indefinite-length BER."""
    mails = sorted(vector_path("request-tracker", "mails").glob("*"))
    ber = []
    for mail in mails:
        try:
            signature = parse_signed(mail.read_bytes()).signature
        except SmimeError:
            continue
        if signature[1] == 0x80:  # indefinite length
            ber.append(signature)
    assert ber
    for signature in ber:
        with pytest.raises(UnusualEncodingError):
            signed._read_usual_signed_data(signature)
        _assert_same_as_asn1crypto(signature, parse_signed_data(signature))


@pytest.mark.vectors
def test_both_readings_index_the_same_attributes(
    monkeypatch: pytest.MonkeyPatch, smime: SMIME
) -> None:
    encodings = []
    sources = [_own_signature(smime)]
    for folder in _RAW_FOLDERS:
        sources += [path.read_bytes() for path in _signed_objects(vector_path(folder))]
    for source in sources:
        for info in parse_signed_data(source).signer_infos:
            encodings += [info.signed_attributes, info.unsigned_attributes]
    encodings = [encoding for encoding in encodings if encoding is not None]
    assert len(encodings) >= 10

    def index(encoding: bytes) -> object:
        try:
            return signed._AttributeIndex.of(encoding).values
        except MalformedCMSError:
            return "malformed"

    one_pass = [index(encoding) for encoding in encodings]
    cut = [encoding[: len(encoding) // 2] for encoding in encodings]
    one_pass_cut = [index(encoding) for encoding in cut]
    _one_pass_off(monkeypatch)
    assert [index(encoding) for encoding in encodings] == one_pass
    assert [index(encoding) for encoding in cut] == one_pass_cut

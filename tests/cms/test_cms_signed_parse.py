"""SignedData reading: strict where CMS is strict, every malformed input a MalformedCMSError.

The fields read are compared with asn1crypto's reading in
``test_cms_reader_oracle.py``; here are the rules the reader adds, the
limits, and what anything cut short or mangled gives.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from asn1crypto import cms

from smimecore import SMIME, MalformedCMSError
from smimecore.cms.attributes import read_signing_time, signing_time_attribute
from smimecore.cms.signed import parse_signed_data
from smimecore.mime.entity import split_entity
from smimecore.mime.protected import decode_body
from smimecore.mime.signed import parse_signed
from smimecore.pki.der import Cursor, ReaderLimits


def _own_signature(smime: SMIME) -> bytes:
    signed = smime.sign(b"Subject: t\r\n\r\nhello\r\n", signer="rsa2048@test.example")
    return parse_signed(signed.data).signature


def _signed_data(smime: SMIME) -> cms.ContentInfo:
    return cms.ContentInfo.load(_own_signature(smime))


def test_every_truncation_is_a_malformed_cms_error(smime: SMIME) -> None:
    signature = _own_signature(smime)
    for length in range(len(signature)):
        with pytest.raises(MalformedCMSError):
            parse_signed_data(signature[:length])


def test_mangled_bytes_never_raise_anything_but_malformed_cms_error(smime: SMIME) -> None:
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


def test_a_version_that_is_not_an_integer_is_refused(smime: SMIME) -> None:
    """The one-pass reader of old never looked at SignedData.version."""
    der = _signed_data(smime).dump()
    at = der.index(b"\x02\x01\x01")  # the first INTEGER is SignedData.version
    mangled = der[:at] + b"\x04\x01\x01" + der[at + 3 :]
    with pytest.raises(
        MalformedCMSError, match=r"^SignedData.version: expected INTEGER, got OCTET STRING$"
    ):
        parse_signed_data(mangled)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("signed", 2, r"^SignedData.version: expected 1 or 3 or 4 or 5, got 2$"),
        ("signer", 2, r"^SignerInfo.version: expected 1 or 3, got 2$"),
    ],
)
def test_versions_outside_cms_are_refused(
    smime: SMIME, field: str, value: int, message: str
) -> None:
    info = _signed_data(smime)
    if field == "signed":
        info["content"]["version"] = value
    else:
        info["content"]["signer_infos"][0]["version"] = value
    with pytest.raises(MalformedCMSError, match=message):
        parse_signed_data(info.dump(force=True))


def test_nothing_may_follow_the_content_info(smime: SMIME) -> None:
    signature = _own_signature(smime)
    with pytest.raises(MalformedCMSError, match=r"^ContentInfo: unexpected data after its end$"):
        parse_signed_data(signature + b"\x00")


def test_empty_signed_attributes_are_refused(smime: SMIME) -> None:
    info = _signed_data(smime)
    signer = info["content"]["signer_infos"][0]
    signer["signed_attrs"] = cms.CMSAttributes([])
    der = info.dump(force=True)
    assert b"\xa0\x00" in der
    with pytest.raises(MalformedCMSError, match=r"^SignerInfo.signedAttrs: empty"):
        parse_signed_data(der)


def test_counts_and_depth_are_limited(smime: SMIME) -> None:
    signature = _own_signature(smime)
    assert parse_signed_data(signature).signer_infos
    with pytest.raises(MalformedCMSError, match=r"^SignedData.signerInfos: more than 0 elements$"):
        parse_signed_data(signature, ReaderLimits(max_signer_infos=0))
    with pytest.raises(MalformedCMSError, match=r"^SignedData.certificates: more than 0"):
        parse_signed_data(signature, ReaderLimits(max_certificates=0))
    with pytest.raises(MalformedCMSError, match="nested too deeply"):
        parse_signed_data(signature, ReaderLimits(max_depth=4))


def test_the_content_stays_a_view_on_the_input(smime: SMIME) -> None:
    signed = smime.sign(
        b"Subject: t\r\n\r\n" + b"x" * 100_000, signer="rsa2048@test.example", opaque=True
    )
    der = decode_body(split_entity(signed.data), "the signed part")
    content = parse_signed_data(der).content
    assert isinstance(content, memoryview) and content.obj is der


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


def _with_signature(content: bytes, signature: bytes) -> bytes:
    """A multipart/signed message of ``content`` (a MIME part) and ``signature``."""
    return b"\r\n".join(
        [
            b'Content-Type: multipart/signed; protocol="application/pkcs7-signature";'
            b' micalg=sha-256; boundary="b"',
            b"",
            b"--b",
            content,
            b"--b",
            b"Content-Type: application/pkcs7-signature; name=smime.p7s",
            b"Content-Transfer-Encoding: base64",
            b"",
            base64.encodebytes(signature).replace(b"\n", b"\r\n"),
            b"--b--",
            b"",
        ]
    )


def _attributes_reversed(signature: bytes) -> bytes:
    """``signature`` with its signed attributes sent in the reverse order (the same length)."""
    encoding = parse_signed_data(signature).signer_infos[0].signed_attributes.encoding
    elements = Cursor(encoding).children(0xA0, "signedAttrs")
    header = encoding[: len(encoding) - sum(map(len, elements))]
    reversed_encoding = header + b"".join(reversed(elements))
    assert reversed_encoding != encoding and len(reversed_encoding) == len(encoding)
    return signature.replace(encoding, reversed_encoding)


def test_a_signature_over_the_der_of_attributes_sent_in_another_order(smime: SMIME) -> None:
    """Some signers send their signed attributes out of DER order but sign their DER: the
    signature is checked over the attributes as received, then over their DER."""
    signed = parse_signed(
        smime.sign(b"Subject: t\r\n\r\nhello\r\n", signer="rsa2048@test.example").data
    )
    assert signed.content is not None
    content = bytes(signed.content)
    reordered = _attributes_reversed(signed.signature)
    good = smime.verify(_with_signature(content, reordered))
    assert [record.status for record in good.statuses] == ["DONE"]
    broken = bytearray(reordered)
    broken[-1] ^= 1  # the signature value ends the SignerInfo: over neither encoding now
    bad = smime.verify(_with_signature(content, bytes(broken)))
    assert [(r.status, r.message) for r in bad.statuses] == [
        ("BAD", "The signature did not verify")
    ]

"""asn1crypto objects handed to pyhanko dump the DER they came from and compare their names as
asn1crypto does; policies in pyhanko's spelling."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from hypothesis import given, settings
from hypothesis import strategies as st

from smimecore.trust.policy import ANY_POLICY, validator_policy_name
from smimecore.trust.received import ReceivedCertificate, ReceivedCertificateList, ReceivedName
from tests.conftest import vector_path


def test_uid_certificate_keeps_its_bytes() -> None:
    """UIDCACert (896 octets of contents: 30 82 03 80) dumps as read, however it is used."""
    der = vector_path("nist-pkits", "certs", "UIDCACert.crt").read_bytes()
    assert der[:4] == bytes.fromhex("30820380")
    certificate = ReceivedCertificate.load(der)
    _ = certificate.subject, certificate.sha256, certificate["tbs_certificate"]["subject_unique_id"]
    assert certificate.dump() == der
    tbs = certificate["tbs_certificate"].dump()
    assert tbs in der and der.index(tbs) == 4
    assert certificate.dump() == der


def test_a_changed_certificate_is_re_encoded() -> None:
    """Only unchanged objects dump as received: a change is written out."""
    der = vector_path("nist-pkits", "certs", "GoodCACert.crt").read_bytes()
    certificate = ReceivedCertificate.load(der)
    certificate["tbs_certificate"]["serial_number"] = 12345
    changed = certificate.dump()
    assert changed != der
    assert ReceivedCertificate.load(changed)["tbs_certificate"]["serial_number"].native == 12345


@pytest.mark.parametrize(
    ("folder", "kind"), [("certs", ReceivedCertificate), ("crls", ReceivedCertificateList)]
)
def test_every_pkits_object_dumps_as_read(
    folder: str, kind: type[ReceivedCertificate] | type[ReceivedCertificateList]
) -> None:
    """All 405 certificates and 173 CRLs of PKITS, fingerprinted then dumped, are unchanged."""
    paths = sorted(Path(vector_path("nist-pkits", folder)).iterdir())
    assert len(paths) > 100
    for path in paths:
        der = path.read_bytes()
        parsed = kind.load(der)
        _ = parsed.sha256
        assert parsed.dump() == der, path.name


def test_policies_in_the_validators_spelling() -> None:
    """anyPolicy is asn1crypto's name; other OIDs stay dotted."""
    assert validator_policy_name(ANY_POLICY) == "any_policy"
    assert validator_policy_name("2.16.840.1.101.3.2.1.48.1") == "2.16.840.1.101.3.2.1.48.1"


def _pkits_names() -> tuple[list[ReceivedName], list[asn1_x509.Name]]:
    """Every distinct issuer and subject of PKITS (its name-chaining tests differ only by case,
    spaces and string type), as received and as asn1crypto reads them."""
    received: dict[bytes, ReceivedName] = {}
    plain: dict[bytes, asn1_x509.Name] = {}
    for path in sorted(Path(vector_path("nist-pkits", "certs")).iterdir()):
        der = path.read_bytes()
        ours, theirs = ReceivedCertificate.load(der), asn1_x509.Certificate.load(der)
        for field in ("issuer", "subject"):
            key = theirs["tbs_certificate"][field].dump()
            received.setdefault(key, ours["tbs_certificate"][field])
            plain.setdefault(key, theirs["tbs_certificate"][field])
    return list(received.values()), list(plain.values())


def test_received_names_compare_as_asn1crypto_compares_them() -> None:
    """Over every pair of PKITS names: equal exactly when asn1crypto's are, with the same
    normalised form, whichever side is received."""
    received, plain = _pkits_names()
    assert len(received) > 50 and all(isinstance(name, ReceivedName) for name in received)
    equal_pairs = 0
    for (ours_a, plain_a), (ours_b, plain_b) in itertools.combinations(
        zip(received, plain, strict=True), 2
    ):
        expected = plain_a == plain_b
        assert (ours_a == ours_b) is expected
        assert (ours_a == plain_b) is expected and (plain_a == ours_b) is expected
        equal_pairs += expected
    assert equal_pairs > 0  # names that differ only by case or spaces are among them
    for ours, theirs in zip(received, plain, strict=True):
        assert ours.hashable == theirs.hashable
        assert ours == theirs and ours != theirs.chosen


def test_a_crl_issuer_is_received() -> None:
    """A CRL's issuer is a received name too, equal to the certificate of its issuer's."""
    crl = ReceivedCertificateList.load(
        vector_path("nist-pkits", "crls", "GoodCACRL.crl").read_bytes()
    )
    ca = ReceivedCertificate.load(vector_path("nist-pkits", "certs", "GoodCACert.crt").read_bytes())
    assert isinstance(crl.issuer, ReceivedName) and crl.issuer == ca.subject
    assert not isinstance(asn1_crl.CertificateList.load(crl.dump()).issuer, ReceivedName)


_ATTRIBUTE_TYPES = ("common_name", "organization_name", "organizational_unit_name")
_STRING_TYPES = ("utf8_string", "bmp_string")
_ATTRIBUTES = st.tuples(
    st.sampled_from(_ATTRIBUTE_TYPES),
    st.sampled_from(_STRING_TYPES),
    st.text(alphabet="aAbB  \u00e9\t", max_size=4),
)
_RDNS = st.lists(_ATTRIBUTES, min_size=1, max_size=3)
_RDN = list[tuple[str, str, str]]


def _name(rdns: list[_RDN], kind: type[asn1_x509.Name]) -> asn1_x509.Name:
    sequence = asn1_x509.RDNSequence(
        [
            asn1_x509.RelativeDistinguishedName(
                [
                    asn1_x509.NameTypeAndValue(
                        {
                            "type": attribute,
                            "value": asn1_x509.DirectoryString(name=string_type, value=value),
                        }
                    )
                    for attribute, string_type, value in rdn
                ]
            )
            for rdn in rdns
        ]
    )
    return kind.load(asn1_x509.Name(name="", value=sequence).dump())


@settings(max_examples=300, deadline=None)
@given(st.lists(_RDNS, max_size=3), st.lists(_RDNS, max_size=3))
def test_any_two_names_compare_as_asn1crypto_compares_them(
    first: list[_RDN], second: list[_RDN]
) -> None:
    """Multi-valued RDNs, a type twice in one RDN, string types, case and spaces: the same
    answers."""
    ours_a, ours_b = _name(first, ReceivedName), _name(second, ReceivedName)
    plain_a, plain_b = _name(first, asn1_x509.Name), _name(second, asn1_x509.Name)
    assert (ours_a == ours_b) is (plain_a == plain_b)
    assert ours_a.hashable == plain_a.hashable

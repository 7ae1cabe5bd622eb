"""asn1crypto objects handed to pyhanko dump the DER they came from; policies in pyhanko's spelling."""

from __future__ import annotations

from pathlib import Path

import pytest

from smimecore.trust.policy import ANY_POLICY, validator_policy_name
from smimecore.trust.received import ReceivedCertificate, ReceivedCertificateList
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

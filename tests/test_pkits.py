"""NIST PKITS (2011 edition): every row of ``expected-results.csv`` through smimecore's validator.

Each row's end-entity certificate is validated against
``TrustAnchorRootCertificate.crt`` alone, with the certificates carried by
the row's signed message plus those of the PKITS path as intermediates, the
row's CRLs with revocation required for every certificate, the row's four
initial policy inputs and a validation time of 2011-04-15 (as BoringSSL).
The vectors are read in place; nothing is copied into the repository.
"""

from __future__ import annotations

import csv
import email
import email.policy
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

import pytest
from asn1crypto import cms as asn1_cms
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from pyhanko_certvalidator.policy_decl import PKIXValidationParams
from pyhanko_certvalidator.registry import SimpleTrustManager

from smimecore.trust.loop import run_coroutine
from smimecore.trust.validate import REASONS, ChainCheck, ChainOutcome, check_chain
from tests.conftest import VECTORS, vector_path

pytestmark = pytest.mark.vectors

PKITS = VECTORS / "nist-pkits"
MOMENT = datetime(2011, 4, 15, 12, 0, tzinfo=UTC)
ANY_POLICY = "any_policy"
NIST_POLICY_PREFIX = "2.16.840.1.101.3.2.1.48."

# Rows whose expected outcome pyhanko-certvalidator 0.33 cannot reach, with why.
KNOWN_LIMITATIONS: dict[str, str] = {
    "4.1.5": (
        "pyhanko-certvalidator 0.33 applies DSA parameter inheritance to the certificates of"
        " the path but not to the CRL issuer's key: the CRL signed by"
        " DSAParametersInheritedCACert (a DSA key without parameters) fails with"
        " 'CRL signature could not be verified'"
    ),
    "4.3.6": (
        "asn1crypto 1.5.1 types subjectUniqueID as an OctetBitString: the 3-bit unique ID of"
        " UIDCACert (05 20) is re-encoded as 00 20 when pyhanko first dumps the certificate,"
        " so the trust anchor's signature over it no longer verifies"
    ),
}


@dataclass(frozen=True)
class Row:
    """One PKITS test (sub)part."""

    test_id: str
    subpart: str
    expected_valid: bool
    message: str
    ee_cert: str
    path: tuple[str, ...]
    crls: tuple[str, ...]
    params: PKIXValidationParams

    @property
    def name(self) -> str:
        return f"{self.test_id}.{self.subpart}" if self.subpart else self.test_id


def _policy_set(cell: str) -> frozenset[str]:
    policies = set()
    for name in cell.split(","):
        name = name.strip()
        if name == "anyPolicy":
            policies.add(ANY_POLICY)
        else:
            policies.add(NIST_POLICY_PREFIX + name.rsplit("-", 1)[1])
    return frozenset(policies)


def _row(cells: dict[str, str]) -> Row:
    return Row(
        test_id=cells["test_id"],
        subpart=cells["subpart"],
        expected_valid=cells["expected"] == "valid",
        message=cells["smime_files"],
        ee_cert=cells["ee_cert"],
        path=tuple(name.strip() for name in cells["path_trust_anchor_to_ee"].split(">")),
        crls=tuple(name for name in cells["crls"].split(";") if name),
        params=PKIXValidationParams(
            user_initial_policy_set=_policy_set(cells["initial_policy_set"]),
            initial_explicit_policy=cells["initial_explicit_policy"] == "true",
            initial_policy_mapping_inhibit=cells["initial_policy_mapping_inhibit"] == "true",
            initial_any_policy_inhibit=cells["initial_inhibit_any_policy"] == "true",
        ),
    )


def _rows() -> list[Row]:
    table = PKITS / "expected-results.csv"
    if not table.exists():
        return []
    with table.open(newline="", encoding="utf-8") as handle:
        return [_row(cells) for cells in csv.DictReader(handle)]


ROWS = _rows()


@cache
def certificate(name: str) -> asn1_x509.Certificate:
    """A PKITS certificate by file name (with or without ``.crt``), parsed once per session."""
    file_name = name if name.endswith(".crt") else f"{name}.crt"
    return asn1_x509.Certificate.load((PKITS / "certs" / file_name).read_bytes())


@cache
def revocation_list(name: str) -> asn1_crl.CertificateList:
    """A PKITS CRL by name, parsed once per session."""
    return asn1_crl.CertificateList.load((PKITS / "crls" / f"{name}.crl").read_bytes())


@cache
def message_certificates(file_name: str) -> tuple[asn1_x509.Certificate, ...]:
    """The certificates inside a PKITS message's SignedData."""
    message = email.message_from_bytes(
        (PKITS / "smime" / file_name).read_bytes(), policy=email.policy.compat32
    )
    for part in message.walk():
        if part.get_content_type() in (
            "application/pkcs7-signature",
            "application/x-pkcs7-signature",
        ):
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            signed_data = asn1_cms.ContentInfo.load(payload)["content"]
            return tuple(choice.chosen for choice in signed_data["certificates"])
    raise AssertionError(f"{file_name} has no signature part")


@cache
def anchor_manager() -> SimpleTrustManager:
    """The trust manager holding the PKITS trust anchor only (built once)."""
    return SimpleTrustManager.build(trust_roots=[certificate("TrustAnchorRootCertificate")])


def validate_row(row: Row) -> ChainOutcome:
    """Validate a row the way smimecore validates a signer (revocation required)."""
    leaf = certificate(row.ee_cert)
    intermediates = {
        c.sha256: c for c in (*message_certificates(row.message), *map(certificate, row.path[1:-1]))
    }
    intermediates.pop(leaf.sha256, None)
    check = ChainCheck(
        certificate=leaf,
        intermediates=tuple(intermediates.values()),
        trust_manager=anchor_manager(),
        crls=tuple(map(revocation_list, row.crls)),
        moment=MOMENT,
        revocation_mode="require",
        # PKITS 2011 uses DSA-1024 and SHA-1 in places; algorithm strength is not under test.
        allow_weak_algorithms=True,
        pkix_params=row.params,
    )
    return run_coroutine(check_chain(check))


def _param(row: Row) -> object:
    marks = []
    if row.name in KNOWN_LIMITATIONS:
        marks.append(pytest.mark.xfail(reason=KNOWN_LIMITATIONS[row.name], strict=True))
    return pytest.param(row, id=row.name, marks=marks)


@pytest.mark.parametrize("row", [_param(row) for row in ROWS] or [None])
def test_pkits(row: Row | None) -> None:
    vector_path("nist-pkits", "expected-results.csv")
    assert row is not None
    outcome = validate_row(row)
    assert outcome.valid is row.expected_valid, outcome.detail
    if not outcome.valid:
        assert outcome.reason in REASONS


def test_pkits_has_every_row() -> None:
    vector_path("nist-pkits", "expected-results.csv")
    assert len(ROWS) == 249


def test_pkits_signers_are_in_the_messages() -> None:
    """The message-carried certificates really include each row's end-entity certificate."""
    vector_path("nist-pkits", "smime")
    mismatched = [
        row.name
        for row in ROWS
        if certificate(row.ee_cert).sha256
        not in {c.sha256 for c in message_certificates(row.message)}
    ]
    # SignedValidonlySomeReasonsTest18.eml is signed by the Test19 EE (a NIST data error).
    assert mismatched == ["4.14.18"]

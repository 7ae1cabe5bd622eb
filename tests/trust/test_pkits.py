"""NIST PKITS (2011 edition): every row of ``expected-results.csv`` through ``smimecore verify``.

Each row's signed message is verified by an :class:`~smimecore.SMIME` engine
whose :class:`~smimecore.Config` holds that row's inputs, the path
``smimecore verify`` takes (``TrustPolicy.from_config`` and
``build_trust_evaluator``): ``ca_path`` is ``TrustAnchorRootCertificate.crt``
alone, revocation is required for every certificate with the CRLs the
message carries, the validation time is 2011-04-15 (as BoringSSL's), and
the row's four initial policy inputs are options (policies as dotted OIDs,
anyPolicy as ``2.5.29.32.0``).  PKITS 2011 uses DSA-1024 and SHA-1 in
places; algorithm strength is not under test, so weak algorithms are
allowed.  A valid row must give ``Verify``/``DONE`` with trust ``FULL``, an
invalid one ``Verify``/``BAD`` with trust ``NONE`` and a reason token.  A
handful of rows also run through the CLI with ``--status-json``.  The
vectors are read in place; nothing is copied into the repository.
"""

from __future__ import annotations

import csv
import email
import email.policy
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms as asn1_cms
from asn1crypto import x509 as asn1_x509

from smimecore import SMIME, Config, SmimeError
from smimecore.cli.main import main
from smimecore.trust import REASONS
from smimecore.trust.policy import ANY_POLICY
from tests.conftest import VECTORS, vector_path

pytestmark = pytest.mark.vectors

PKITS = VECTORS / "nist-pkits"
ANCHOR = PKITS / "certs" / "TrustAnchorRootCertificate.crt"
MOMENT = datetime(2011, 4, 15, 12, 0, tzinfo=UTC)
NIST_POLICY_PREFIX = "2.16.840.1.101.3.2.1.48."

# Rows whose expected outcome smimecore cannot reach, with why.
KNOWN_LIMITATIONS: dict[str, str] = {
    "4.1.5": (
        "DSA parameter inheritance: the end-entity key of DSAParametersInheritedCACert's"
        " path has no DSA parameters of its own. smimecore's CMS check refuses such a signer"
        " key (ERROR 'DSA with inherited parameters is not supported'), and behind it"
        " pyhanko-certvalidator 0.33 applies the inheritance to the path's certificates but not"
        " to the CRL issuer's key, so the CRL signed by DSAParametersInheritedCACert fails with"
        " 'CRL signature could not be verified'"
    ),
}


@dataclass(frozen=True)
class PolicyInputs:
    """RFC 5280's initial inputs of one row, as Config options."""

    initial_policies: tuple[str, ...]
    require_explicit_policy: bool
    inhibit_policy_mapping: bool
    inhibit_any_policy: bool

    def cli_options(self) -> list[str]:
        """The same inputs as ``smimecore verify`` options."""
        options = [f"--initial-policy={oid}" for oid in self.initial_policies]
        switches = {
            "--require-explicit-policy": self.require_explicit_policy,
            "--inhibit-policy-mapping": self.inhibit_policy_mapping,
            "--inhibit-any-policy": self.inhibit_any_policy,
        }
        return options + [option for option, on in switches.items() if on]


@dataclass(frozen=True)
class Row:
    """One PKITS test (sub)part."""

    test_id: str
    subpart: str
    expected_valid: bool
    message: str
    ee_cert: str
    inputs: PolicyInputs

    @property
    def name(self) -> str:
        return f"{self.test_id}.{self.subpart}" if self.subpart else self.test_id

    @property
    def message_path(self) -> Path:
        return PKITS / "smime" / self.message


def _policy_oids(cell: str) -> tuple[str, ...]:
    """A cell such as ``NIST-test-policy-1,NIST-test-policy-2`` as sorted dotted OIDs."""
    oids = set()
    for name in cell.split(","):
        name = name.strip()
        oids.add(ANY_POLICY if name == "anyPolicy" else NIST_POLICY_PREFIX + name.rsplit("-")[-1])
    return tuple(sorted(oids))


def _row(cells: dict[str, str]) -> Row:
    return Row(
        test_id=cells["test_id"],
        subpart=cells["subpart"],
        expected_valid=cells["expected"] == "valid",
        message=cells["smime_files"],
        ee_cert=cells["ee_cert"],
        inputs=PolicyInputs(
            initial_policies=_policy_oids(cells["initial_policy_set"]),
            require_explicit_policy=cells["initial_explicit_policy"] == "true",
            inhibit_policy_mapping=cells["initial_policy_mapping_inhibit"] == "true",
            inhibit_any_policy=cells["initial_inhibit_any_policy"] == "true",
        ),
    )


def _rows() -> list[Row]:
    table = PKITS / "expected-results.csv"
    if not table.exists():
        return []
    with table.open(newline="", encoding="utf-8") as handle:
        return [_row(cells) for cells in csv.DictReader(handle)]


ROWS = _rows()
ROWS_BY_NAME = {row.name: row for row in ROWS}


@cache
def engine(inputs: PolicyInputs) -> SMIME:
    """The engine for one set of initial inputs (rows that share them share it)."""
    return SMIME(
        Config(
            ca_path=ANCHOR,
            validation_time=MOMENT,
            revocation_mode="require",
            allow_weak_algorithms=True,
            initial_policies=inputs.initial_policies,
            require_explicit_policy=inputs.require_explicit_policy,
            inhibit_policy_mapping=inputs.inhibit_policy_mapping,
            inhibit_any_policy=inputs.inhibit_any_policy,
        )
    )


def verify_row(row: Row) -> tuple[dict[str, Any], ...]:
    """The Verify records of a row's message, as ``smimecore verify`` gives them."""
    try:
        result = engine(row.inputs).verify(row.message_path.read_bytes())
    except SmimeError as exc:
        return tuple(record.to_dict() for record in exc.statuses) or (
            {"Status": "ERROR", "Message": str(exc)},
        )
    return tuple(record.to_dict() for record in result.statuses)


def assert_outcome(row: Row, records: tuple[dict[str, Any], ...] | list[dict[str, Any]]) -> None:
    """A valid row: DONE and FULL; an invalid one: BAD, NONE and a reason token."""
    (record,) = records
    assert record["Operation"] == "Verify"
    if row.expected_valid:
        assert (record["Status"], record["Trust"]) == ("DONE", "FULL"), record
    else:
        assert record["Status"] == "BAD", record
        assert record["Trust"] in ("NONE", "NONE (REVOKED CERTIFICATE)"), record
        assert record["TrustReason"] in REASONS, record


def _param(row: Row) -> object:
    marks = []
    if row.name in KNOWN_LIMITATIONS:
        marks.append(pytest.mark.xfail(reason=KNOWN_LIMITATIONS[row.name], strict=True))
    return pytest.param(row, id=row.name, marks=marks)


@pytest.mark.parametrize("row", [_param(row) for row in ROWS] or [None])
def test_pkits(row: Row | None) -> None:
    """Each row through the engine with the row's Config."""
    vector_path("nist-pkits", "expected-results.csv")
    assert row is not None
    assert_outcome(row, verify_row(row))


CLI_ROWS = [
    "4.1.2",  # a CA's signature is bad
    "4.3.6",  # subjectUniqueID: the DER must reach pyhanko as received
    "4.4.3",  # a revoked end-entity certificate
    "4.8.1.1",  # require explicit policy with anyPolicy (issue 10, item 8)
    "4.8.1.3",  # require explicit policy, NIST-test-policy-2 only: invalid
    "4.8.1.4",  # two initial policies
    "4.10.1.3",  # inhibit policy mapping
    "4.12.3.2",  # inhibit anyPolicy
]


@pytest.mark.parametrize("name", CLI_ROWS)
def test_pkits_through_the_cli(name: str, tmp_path: Path) -> None:
    """``smimecore verify --status-json`` with the row's options gives the row's outcome."""
    vector_path("nist-pkits", "expected-results.csv")
    row = ROWS_BY_NAME[name]
    status = tmp_path / "status.json"
    code = main(
        [
            "--ca-path",
            str(ANCHOR),
            "--status-json",
            str(status),
            "verify",
            "--in",
            str(row.message_path),
            "--out",
            str(tmp_path / "out.eml"),
            "--validation-time",
            MOMENT.isoformat(),
            "--revocation-mode",
            "require",
            "--allow-weak-algorithms",
            *row.inputs.cli_options(),
        ]
    )
    records = json.loads(status.read_text(encoding="utf-8"))
    assert_outcome(row, records)
    assert code == (0 if row.expected_valid else 1)


def test_unique_ids_verify_every_time() -> None:
    """4.3.6 twice: the first validation must not re-encode the shared UIDCACert object."""
    vector_path("nist-pkits", "expected-results.csv")
    row = ROWS_BY_NAME["4.3.6"]
    config = engine(row.inputs).config
    for _ in range(3):  # fresh engines (no verdict cache) share the parsed certificates
        result = SMIME(config).verify(row.message_path.read_bytes())
        assert_outcome(row, [record.to_dict() for record in result.statuses])


def test_any_policy_reaches_the_validator_in_its_spelling() -> None:
    """4.8.1 subpart 1 (explicit policy, anyPolicy) is valid: anyPolicy is not lost."""
    vector_path("nist-pkits", "expected-results.csv")
    row = ROWS_BY_NAME["4.8.1.1"]
    assert row.inputs.initial_policies == (ANY_POLICY,) and row.inputs.require_explicit_policy
    assert_outcome(row, verify_row(row))


@cache
def certificate(name: str) -> asn1_x509.Certificate:
    """A PKITS certificate by file name (with or without ``.crt``), parsed once per session."""
    file_name = name if name.endswith(".crt") else f"{name}.crt"
    return asn1_x509.Certificate.load((PKITS / "certs" / file_name).read_bytes())


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

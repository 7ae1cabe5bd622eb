"""The trust policy: which anchors, at what time, with which revocation and policy checks.

:class:`TrustPolicy` is declared once, in :mod:`smimecore.config`, as the
trust part of :class:`smimecore.Config` (which derives from it); it is
re-exported here for the trust layer, with the spelling pyhanko-certvalidator
expects for policy OIDs.
"""

from __future__ import annotations

from asn1crypto import x509 as asn1_x509

from smimecore.config import (
    ANY_POLICY,
    REVOCATION_MODES,
    RevocationMode,
    TrustPolicy,
    ValidationTime,
)

__all__ = [
    "ANY_POLICY",
    "REVOCATION_MODES",
    "RevocationMode",
    "TrustPolicy",
    "ValidationTime",
    "validator_policy_name",
]


def validator_policy_name(oid: str) -> str:
    """A dotted policy OID as pyhanko-certvalidator compares it.

    pyhanko matches the initial policy set against asn1crypto's ``.native``
    of each certificate's policy identifiers, which is a name for the OIDs
    asn1crypto knows (anyPolicy is ``any_policy``) and the dotted form for
    the others.  A dotted ``2.5.29.32.0`` would match nothing: with
    ``require_explicit_policy`` every path would fail.
    """
    return str(asn1_x509.PolicyIdentifier.map(oid))

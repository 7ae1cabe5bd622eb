"""Trust: whether a certificate chains to an anchor of ``ca_path``.

The engine asks a :class:`TrustEvaluator` for a :class:`TrustVerdict`; RT's
wording of the outcome ("Signed by trusted CA ...") is part of the verdict.
:func:`build_trust_evaluator` makes the evaluator a :class:`TrustPolicy`
describes.
"""

from smimecore.trust.base import (
    NoCAPathTrust,
    TrustEvaluator,
    TrustVerdict,
)
from smimecore.trust.capath import CAPathTrust, build_trust_evaluator, verdict_for
from smimecore.trust.policy import REVOCATION_MODES, RevocationMode, TrustPolicy, ValidationTime
from smimecore.trust.validate import REASONS

__all__ = [
    "REASONS",
    "REVOCATION_MODES",
    "CAPathTrust",
    "NoCAPathTrust",
    "RevocationMode",
    "TrustEvaluator",
    "TrustPolicy",
    "TrustVerdict",
    "ValidationTime",
    "build_trust_evaluator",
    "verdict_for",
]

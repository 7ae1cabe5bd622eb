"""Trust: whether a certificate chains to an anchor of ``ca_path``.

The engine asks a :class:`TrustEvaluator` for a :class:`TrustVerdict`; RT's
wording of the outcome ("Signed by trusted CA ...") is part of the verdict.
"""

from smimecore.trust.base import (
    NoCAPathTrust,
    TrustEvaluator,
    TrustVerdict,
)

__all__ = ["NoCAPathTrust", "TrustEvaluator", "TrustVerdict"]

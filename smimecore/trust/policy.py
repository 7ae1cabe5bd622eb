"""The trust policy: which anchors, at what time, with which revocation and policy checks.

:class:`TrustPolicy` is declared once, in :mod:`smimecore.config`, as the
trust part of :class:`smimecore.Config` (which derives from it); it is
re-exported here for the trust layer.
"""

from __future__ import annotations

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
]

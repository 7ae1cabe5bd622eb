"""The trust seam: what the engine asks, what a trust evaluator answers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from cryptography import x509

from smimecore.config import Purpose

__all__ = ["NoCAPathTrust", "TrustEvaluator", "TrustVerdict"]


@dataclass(frozen=True)
class TrustVerdict:
    """RT's three trust facts about a certificate, plus a machine-readable reason.

    ``level`` is RT's TrustLevel: 2 (trusted), 0 (unknown) or -1
    (untrusted or revoked).  ``terse`` is RT's TrustTerse (``full``,
    ``none``, ``none (revoked certificate)``, ``unknown``) and
    ``description`` its Trust text ("Signed by trusted CA ...").  ``reason``
    is ``None`` when trusted, else a short token such as ``no-path``.
    ``detail`` says in words why (for logs and diagnostics; never secret).
    """

    level: int
    terse: str
    description: str
    reason: str | None = None
    detail: str | None = None

    @property
    def trusted(self) -> bool:
        """Whether the certificate is fully trusted (TrustLevel > 0)."""
        return self.level > 0

    @property
    def trust_field(self) -> str:
        """The ``Trust`` field of a status record: TrustTerse upper-cased."""
        return self.terse.upper()


class TrustEvaluator(Protocol):
    """Decides whether a certificate is trusted for a purpose."""

    def evaluate(
        self,
        certificate: x509.Certificate,
        intermediates: Sequence[x509.Certificate],
        *,
        purpose: Purpose,
        signing_time: datetime | None = None,
        crls: Sequence[bytes] = (),
    ) -> TrustVerdict:
        """The verdict on ``certificate`` for ``purpose`` (``"signing"`` or ``"encryption"``).

        ``intermediates`` are candidate chain certificates (from the message
        and the keyring), ``signing_time`` the signingTime attribute if any,
        ``crls`` DER CRLs that came with the message.
        """
        ...


UNKNOWN_NO_CA_PATH = TrustVerdict(0, "unknown", "unknown (no CAPath set)", "no-ca-path")


class NoCAPathTrust:
    """The evaluator used when ``ca_path`` is unset: every certificate is of unknown trust."""

    def evaluate(
        self,
        certificate: x509.Certificate,
        intermediates: Sequence[x509.Certificate],
        *,
        purpose: Purpose,
        signing_time: datetime | None = None,
        crls: Sequence[bytes] = (),
    ) -> TrustVerdict:
        """Always RT's "unknown (no CAPath set)"."""
        return UNKNOWN_NO_CA_PATH

"""Path validation with pyhanko-certvalidator, reduced to a reason token.

:func:`check_chain` is the one place that drives pyhanko; the ``ca_path``
evaluator calls it (with the PKIX policy inputs when they are not the defaults).
It never raises for a certificate that fails validation; it answers a
:class:`ChainOutcome` whose ``reason`` is ``None`` when the path is valid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography.exceptions import InvalidSignature
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    DisallowedAlgorithmError,
    ExpiredError,
    InsufficientRevinfoError,
    NotYetValidError,
    PathBuildingError,
    PathError,
    RevokedError,
    ValidationError,
)
from pyhanko_certvalidator.fetchers.api import FetcherBackend
from pyhanko_certvalidator.path import ValidationPath
from pyhanko_certvalidator.policy_decl import (
    AcceptAllAlgorithms,
    AlgorithmUsagePolicy,
    CertRevTrustPolicy,
    DisallowWeakAlgorithmsPolicy,
    PKIXValidationParams,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)
from pyhanko_certvalidator.registry import TrustManager

from smimecore.config import Purpose
from smimecore.trust.anchors import IndexedTrustManager
from smimecore.trust.policy import RevocationMode

__all__ = [
    "REASONS",
    "ChainCheck",
    "ChainOutcome",
    "algorithm_policy",
    "check_chain",
    "reason_for",
]

REASONS = (
    "expired",
    "not-yet-valid",
    "no-path",
    "bad-chain-signature",
    "revoked",
    "key-usage",
    "weak-algorithm",
    "revocation-unavailable",
)
"""Every ``TrustVerdict.reason`` a failed validation can carry."""

MINIMUM_RSA_BITS = 2048
WEAK_DIGESTS = frozenset({"md2", "md4", "md5", "sha1"})

_PURPOSE_KEY_USAGES: dict[str, frozenset[str]] = {
    "signing": frozenset({"digital_signature", "non_repudiation"}),
    "encryption": frozenset({"key_encipherment", "key_agreement"}),
}
_MAIL_EXTENDED_USAGES = frozenset({"email_protection", "any_extended_key_usage"})

_STRICT = RevocationCheckingRule.CRL_OR_OCSP_REQUIRED
_LENIENT_RULES: dict[RevocationMode, RevocationCheckingRule] = {
    "off": RevocationCheckingRule.NO_CHECK,
    "soft-fail": RevocationCheckingRule.CHECK_IF_DECLARED_SOFT,
    "hard-fail": RevocationCheckingRule.CHECK_IF_DECLARED,
    "require": _STRICT,
}


@dataclass(frozen=True)
class ChainCheck:
    """Everything one validation needs.

    ``moment`` ``None`` means now.  ``fetcher_backend`` ``None`` means
    offline.  ``purpose`` ``None`` skips the key-usage check (PKITS).
    ``retroactive_revinfo`` lets a CRL issued after ``moment`` speak for
    ``moment`` (validation at signing time with today's CRLs).
    """

    certificate: asn1_x509.Certificate
    intermediates: Sequence[asn1_x509.Certificate]
    trust_manager: TrustManager
    crls: Sequence[asn1_crl.CertificateList] = ()
    moment: datetime | None = None
    revocation_mode: RevocationMode = "off"
    allow_weak_algorithms: bool = False
    purpose: Purpose | None = None
    pkix_params: PKIXValidationParams | None = None
    fetcher_backend: FetcherBackend | None = None
    retroactive_revinfo: bool = False


@dataclass(frozen=True)
class ChainOutcome:
    """The result: ``reason`` ``None`` when valid, else a token of :data:`REASONS`.

    ``detail`` is pyhanko's (or our) explanation, free of secrets.
    ``path`` is the validated path, anchor first, when there is one.
    """

    reason: str | None
    detail: str | None = None
    path: tuple[asn1_x509.Certificate, ...] = ()

    @property
    def valid(self) -> bool:
        """Whether the certificate validated."""
        return self.reason is None


def algorithm_policy(allow_weak_algorithms: bool) -> AlgorithmUsagePolicy:
    """The algorithm policy: MD5, SHA-1 and RSA/DSA keys under 2048 bits refused unless allowed."""
    if allow_weak_algorithms:
        return AcceptAllAlgorithms()
    return DisallowWeakAlgorithmsPolicy(  # type: ignore[no-untyped-call]
        weak_hash_algos=WEAK_DIGESTS,
        rsa_key_size_threshold=MINIMUM_RSA_BITS,
        dsa_key_size_threshold=MINIMUM_RSA_BITS,
    )


async def check_chain(check: ChainCheck) -> ChainOutcome:
    """Validate ``check.certificate`` to an anchor of ``check.trust_manager``."""
    context = _validation_context(check)
    validator = CertificateValidator(
        check.certificate,
        intermediate_certs=list(check.intermediates),
        validation_context=context,
        pkix_params=check.pkix_params,
    )
    try:
        path = await validator.async_validate_path()
    except (PathError, ValidationError) as exc:
        return ChainOutcome(reason_for(exc), str(exc))
    certificates = _path_certificates(path)
    problem = _weak_key(certificates, check.allow_weak_algorithms)
    if problem is not None:
        return ChainOutcome("weak-algorithm", problem, certificates)
    problem = _usage_problem(check.certificate, check.purpose)
    if problem is not None:
        return ChainOutcome("key-usage", problem, certificates)
    return ChainOutcome(None, None, certificates)


def reason_for(exc: Exception) -> str:
    """The reason token for a pyhanko-certvalidator exception.

    pyhanko signals an unbuildable path with :class:`PathBuildingError`,
    which is not a :class:`ValidationError`; both families land here.
    """
    if isinstance(exc, RevokedError):
        return "revoked"
    if isinstance(exc, InsufficientRevinfoError):  # includes StaleRevinfoError
        return "revocation-unavailable"
    if isinstance(exc, ExpiredError):
        return "expired"
    if isinstance(exc, NotYetValidError):
        return "not-yet-valid"
    if isinstance(exc, DisallowedAlgorithmError):
        return "weak-algorithm"
    if isinstance(exc, PathBuildingError):
        return "no-path"
    # pyhanko re-raises a failed signature check from inside its handler
    if isinstance(exc.__context__, InvalidSignature):
        return "bad-chain-signature"
    # name constraints, policies, basic constraints, a self-signed leaf...
    return "no-path"


def _validation_context(check: ChainCheck) -> ValidationContext:
    return ValidationContext(
        trust_manager=check.trust_manager,
        other_certs=[*check.intermediates, *_relevant_roots(check)],
        moment=check.moment,
        # a list, even empty: None plus a strict policy is a ValueError in pyhanko
        crls=list(check.crls),
        revinfo_policy=CertRevTrustPolicy(
            _revocation_policy(check), retroactive_revinfo=check.retroactive_revinfo
        ),
        allow_fetching=check.fetcher_backend is not None,
        fetcher_backend=check.fetcher_backend,
        algorithm_usage_policy=algorithm_policy(check.allow_weak_algorithms),
    )


def _relevant_roots(check: ChainCheck) -> list[asn1_x509.Certificate]:
    """The anchors pyhanko may look up in the context's registry, for an indexed manager.

    pyhanko copies every root of a ``SimpleTrustManager`` into each context's
    registry; an :class:`~smimecore.trust.anchors.IndexedTrustManager` is
    not copied, so the roots that can matter are registered here: those
    named as issuer by the leaf, an intermediate or a CRL.
    """
    manager = check.trust_manager
    if not isinstance(manager, IndexedTrustManager):
        return []
    names = [check.certificate.issuer, *(c.issuer for c in check.intermediates)]
    names += [revocation_list.issuer for revocation_list in check.crls]
    found: dict[bytes, asn1_x509.Certificate] = {}
    for name in names:
        for root in manager.roots_named(name):
            found.setdefault(root.sha256, root)
    return list(found.values())


def _revocation_policy(check: ChainCheck) -> RevocationCheckingPolicy:
    """pyhanko's per-position rules for our mode.

    pyhanko's soft/hard modes look at a certificate only if it names a CRL
    distribution point or OCSP responder, even when a CRL for it was given
    offline.  So the end-entity certificate is checked strictly whenever a
    given CRL comes from its issuer: a revoked certificate is refused in
    every mode that checks revocation.
    """
    lenient = _LENIENT_RULES[check.revocation_mode]
    ee_rule = lenient
    if check.revocation_mode != "off" and _has_crl_from(check.crls, check.certificate.issuer):
        ee_rule = _STRICT
    return RevocationCheckingPolicy(ee_certificate_rule=ee_rule, intermediate_ca_cert_rule=lenient)


def _has_crl_from(crls: Sequence[asn1_crl.CertificateList], issuer: asn1_x509.Name) -> bool:
    return any(revocation_list.issuer == issuer for revocation_list in crls)


def _path_certificates(path: ValidationPath) -> tuple[asn1_x509.Certificate, ...]:
    return tuple(path.iter_certs(include_root=True))


def _weak_key(certificates: Sequence[asn1_x509.Certificate], allowed: bool) -> str | None:
    """An RSA key under 2048 bits anywhere in the path (pyhanko checks only signing keys)."""
    if allowed:
        return None
    for certificate in certificates:
        key = certificate.public_key
        if key.algorithm == "rsa" and key.bit_size < MINIMUM_RSA_BITS:
            return (
                f"the RSA key of {certificate.subject.human_friendly!r} has {key.bit_size} bits;"
                f" at least {MINIMUM_RSA_BITS} are required"
            )
    return None


def _usage_problem(certificate: asn1_x509.Certificate, purpose: Purpose | None) -> str | None:
    """Why the leaf cannot serve ``purpose``: keyUsage first, then extendedKeyUsage."""
    if purpose is None:
        return None
    wanted = _PURPOSE_KEY_USAGES.get(purpose)
    if wanted is None:
        raise ValueError(f"unknown purpose {purpose!r}")
    key_usage = certificate.key_usage_value
    if key_usage is not None and not (set(key_usage.native) & wanted):
        return f"keyUsage allows none of {', '.join(sorted(wanted))} (needed for {purpose})"
    extended = certificate.extended_key_usage_value
    if extended is not None and not (set(extended.native) & _MAIL_EXTENDED_USAGES):
        return "extendedKeyUsage has neither emailProtection nor anyExtendedKeyUsage"
    return None

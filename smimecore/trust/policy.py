"""The trust policy: which anchors, at what time, with which revocation and policy checks."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import x509 as asn1_x509

from smimecore.config import (
    REVOCATION_MODES,
    Config,
    RevocationMode,
    ValidationTime,
    check_bool,
    check_revocation_mode,
    check_timeout,
    check_validation_time,
)
from smimecore.errors import ConfigError

__all__ = [
    "ANY_POLICY",
    "REVOCATION_MODES",
    "RevocationMode",
    "TrustPolicy",
    "ValidationTime",
    "validator_policy_name",
]

ANY_POLICY = "2.5.29.32.0"
"""The anyPolicy OID: the default initial policy set (RFC 5280 section 6.1.1)."""


def validator_policy_name(oid: str) -> str:
    """A dotted policy OID as pyhanko-certvalidator compares it.

    pyhanko matches the initial policy set against asn1crypto's ``.native``
    of each certificate's policy identifiers, which is a name for the OIDs
    asn1crypto knows (anyPolicy is ``any_policy``) and the dotted form for
    the others.  A dotted ``2.5.29.32.0`` would match nothing: with
    ``require_explicit_policy`` every path would fail.
    """
    return str(asn1_x509.PolicyIdentifier.map(oid))


@dataclass(frozen=True)
class TrustPolicy:
    """How certificates are judged; the field names are those of :class:`smimecore.Config`.

    ``ca_path``: a PEM bundle, a ``c_rehash`` directory or a directory of
    PEM/DER certificates; ``None`` means RT's "unknown (no CAPath set)".
    ``validation_time``: ``"now"``, ``"signing"`` (falls back to now when a
    signature has no signingTime) or an aware datetime.
    ``allow_weak_algorithms``: accept MD5, SHA-1 and RSA keys under 2048 bits.
    ``revocation_mode``: ``off``, ``soft-fail`` (revoked certificates are
    refused, missing revocation data is not), ``hard-fail`` (a certificate
    whose declared CRL/OCSP cannot be checked is refused) or ``require``
    (every certificate of the path needs revocation data).
    ``crl_path``: a CRL file or directory (PEM or DER), used offline.
    ``allow_fetching``: download CRLs and OCSP responses named in certificates.
    ``revocation_timeout``: seconds allowed for that network work.
    ``initial_policies``, ``require_explicit_policy``,
    ``inhibit_policy_mapping``, ``inhibit_any_policy``: RFC 5280's initial
    inputs to path validation (the PKITS settings).
    """

    ca_path: Path | None = None
    validation_time: ValidationTime = "now"
    allow_weak_algorithms: bool = False
    revocation_mode: RevocationMode = "off"
    crl_path: Path | None = None
    allow_fetching: bool = False
    revocation_timeout: float = 30.0
    initial_policies: tuple[str, ...] = (ANY_POLICY,)
    require_explicit_policy: bool = False
    inhibit_policy_mapping: bool = False
    inhibit_any_policy: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "ca_path", _optional_path("ca_path", self.ca_path))
        object.__setattr__(self, "crl_path", _optional_path("crl_path", self.crl_path))
        check_validation_time(self.validation_time)
        for switch in (
            "allow_weak_algorithms",
            "allow_fetching",
            "require_explicit_policy",
            "inhibit_policy_mapping",
            "inhibit_any_policy",
        ):
            check_bool(switch, getattr(self, switch))
        check_revocation_mode(self.revocation_mode)
        object.__setattr__(
            self, "revocation_timeout", check_timeout("revocation_timeout", self.revocation_timeout)
        )
        object.__setattr__(self, "initial_policies", _policy_oids(self.initial_policies))

    @classmethod
    def from_config(cls, config: Config) -> TrustPolicy:
        """The trust policy a configuration describes."""
        return cls(
            ca_path=config.ca_path,
            validation_time=config.validation_time,
            allow_weak_algorithms=config.allow_weak_algorithms,
            revocation_mode=config.revocation_mode,
            crl_path=config.crl_path,
            allow_fetching=config.allow_fetching,
            revocation_timeout=config.revocation_timeout,
            initial_policies=config.initial_policies,
            require_explicit_policy=config.require_explicit_policy,
            inhibit_policy_mapping=config.inhibit_policy_mapping,
            inhibit_any_policy=config.inhibit_any_policy,
        )

    @property
    def checks_revocation(self) -> bool:
        """Whether revocation is checked at all."""
        return self.revocation_mode != "off"

    @property
    def has_default_policy_inputs(self) -> bool:
        """Whether the RFC 5280 initial inputs are the defaults (anyPolicy, nothing inhibited)."""
        return (
            self.initial_policies == (ANY_POLICY,)
            and not self.require_explicit_policy
            and not self.inhibit_policy_mapping
            and not self.inhibit_any_policy
        )


def _optional_path(option: str, value: object) -> Path | None:
    if value is None:
        return None
    if isinstance(value, str | os.PathLike):
        path = Path(value)
        if str(path) in ("", "."):
            raise ConfigError(option, "is empty")
        return path
    raise ConfigError(option, f"expected a path, got {type(value).__name__}")


def _policy_oids(value: object) -> tuple[str, ...]:
    oids = (value,) if isinstance(value, str) else value
    if not isinstance(oids, tuple | list) or not oids:
        raise ConfigError("initial_policies", "must be a non-empty list of policy OIDs")
    for oid in oids:
        parts = oid.split(".") if isinstance(oid, str) else []
        if len(parts) < 2 or not all(part.isdigit() for part in parts):
            raise ConfigError("initial_policies", f"{oid!r} is not a dotted OID")
    return tuple(oids)

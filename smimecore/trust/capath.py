"""The ``ca_path`` trust evaluator: RT's ``openssl verify -CAfile/-CApath``, in process.

:func:`build_trust_evaluator` turns a :class:`TrustPolicy` into the
evaluator the engine asks.  Outcomes are worded exactly as RT words them
(``Signed by trusted CA ...``, ``UNTRUSTED signing CA ...``, ``REVOKED
certificate from CA ...``); the ``reason`` token says why.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko_certvalidator.fetchers.api import FetcherBackend
from pyhanko_certvalidator.policy_decl import PKIXValidationParams

from smimecore.config import Purpose
from smimecore.errors import ConfigError, MalformedCMSError
from smimecore.pki.certificate import CertificateIdentity, certificate_key
from smimecore.trust.anchors import AnchorSet, AnchorSource, CRLSource, parse_pki_objects
from smimecore.trust.base import NoCAPathTrust, TrustEvaluator, TrustVerdict
from smimecore.trust.loop import LoopTimeoutError, run_coroutine, run_offline
from smimecore.trust.policy import TrustPolicy, validator_policy_name
from smimecore.trust.received import ReceivedCertificate
from smimecore.trust.validate import ChainCheck, ChainOutcome, check_chain

__all__ = ["CAPathTrust", "build_trust_evaluator", "verdict_for"]

logger = logging.getLogger(__name__)

# What pyhanko-certvalidator's aiohttp fetchers import: the ``fetch`` extra.
FETCH_MODULES = ("aiohttp", "certifi")

CACHE_SIZE = 1024
CACHE_LIFETIME = timedelta(minutes=5)
PARSED_CERTIFICATES = 512


def build_trust_evaluator(policy: TrustPolicy) -> TrustEvaluator:
    """The evaluator for ``policy``: RT's "no CAPath" one when ``ca_path`` is unset.

    Reads ``ca_path`` (and ``crl_path``) once now, so that a missing or
    empty one is a :class:`ConfigError` at start-up rather than at the
    first message.
    """
    if policy.ca_path is None:
        return NoCAPathTrust()
    if policy.has_default_policy_inputs:
        return CAPathTrust(policy)
    return CAPathTrust(policy, pkix_params=_pkix_parameters(policy))


def _pkix_parameters(policy: TrustPolicy) -> PKIXValidationParams:
    return PKIXValidationParams(
        user_initial_policy_set=frozenset(map(validator_policy_name, policy.initial_policies)),
        initial_explicit_policy=policy.require_explicit_policy,
        initial_policy_mapping_inhibit=policy.inhibit_policy_mapping,
        initial_any_policy_inhibit=policy.inhibit_any_policy,
    )


def _require_fetchers() -> None:
    missing = [name for name in FETCH_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigError(
            "allow_fetching",
            f"needs {', '.join(missing)}: install smimecore[fetch] (or turn fetching off)",
        )


def verdict_for(certificate: x509.Certificate, outcome: ChainOutcome) -> TrustVerdict:
    """RT's TrustLevel, TrustTerse and Trust text for a validation outcome."""
    issuer = CertificateIdentity(certificate).issuer_string
    if outcome.reason is None:
        return TrustVerdict(2, "full", f"Signed by trusted CA {issuer}")
    if outcome.reason == "revoked":
        return TrustVerdict(
            -1,
            "none (revoked certificate)",
            f"REVOKED certificate from CA {issuer}",
            "revoked",
            outcome.detail,
        )
    return TrustVerdict(
        -1, "none", f"UNTRUSTED signing CA {issuer}", outcome.reason, outcome.detail
    )


class CAPathTrust:
    """Trusts what chains to an anchor of ``policy.ca_path``, and nothing else.

    Safe to share between threads.  ``pkix_params`` (initial policy set,
    explicit policy, mapping and anyPolicy inhibition) are an advanced
    option with PKIX defaults.  Call :meth:`close` when done if
    ``allow_fetching`` is set (it owns an HTTP session).
    """

    def __init__(
        self,
        policy: TrustPolicy,
        *,
        pkix_params: PKIXValidationParams | None = None,
        cache_size: int = CACHE_SIZE,
    ) -> None:
        if policy.ca_path is None:
            raise ConfigError("ca_path", "is not set")
        if policy.allow_fetching and policy.checks_revocation:
            _require_fetchers()
        self.policy = policy
        self.pkix_params = pkix_params
        self._anchors = AnchorSource(policy.ca_path)
        self._offline_crls = CRLSource(policy.crl_path) if policy.crl_path else None
        self._anchors.current()
        if self._offline_crls is not None:
            self._offline_crls.current()
        self._cache = _VerdictCache(cache_size)
        self._fetcher_lock = threading.Lock()
        self._fetcher: FetcherBackend | None = None

    def __repr__(self) -> str:
        return f"CAPathTrust({self.policy!r})"

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

        ``intermediates`` are candidate chain certificates (message and
        keyring), ``crls`` DER CRLs carried by the message.  A ``ca_path``
        that has become unreadable makes every certificate untrusted
        (reason ``no-path``), as ``openssl verify`` would.
        """
        try:
            anchors = self._anchors.current()
            revocation_lists = self._revocation_lists(anchors, crls)
        except ConfigError as exc:
            logger.warning("trust anchors unavailable: %s", exc)
            return verdict_for(certificate, ChainOutcome("no-path", str(exc)))
        moment = self._moment(signing_time)
        key = self._cache_key(
            certificate, intermediates, anchors, revocation_lists, moment, purpose
        )
        cached = self._cache.get(key) if key is not None else None
        if cached is not None:
            return cached
        check = ChainCheck(
            certificate=_to_asn1(certificate),
            intermediates=_distinct_asn1(certificate, intermediates),
            trust_manager=anchors.trust_manager,
            crls=revocation_lists,
            moment=moment,
            revocation_mode=self.policy.revocation_mode,
            allow_weak_algorithms=self.policy.allow_weak_algorithms,
            purpose=purpose,
            pkix_params=self.pkix_params,
            retroactive_revinfo=self.policy.validation_time != "now",
        )
        outcome = self._validate(check)
        verdict = verdict_for(certificate, outcome)
        if key is not None and verdict.trusted:
            self._cache.put(key, verdict, _cache_expiry(check, outcome))
        logger.debug(
            "trust %s: %s %s",
            CertificateIdentity(certificate).serial,
            verdict.reason,
            verdict.detail,
        )
        return verdict

    def close(self) -> None:
        """Release the HTTP session used for fetching, if one was opened."""
        with self._fetcher_lock:
            fetcher, self._fetcher = self._fetcher, None
        if fetcher is not None:
            run_coroutine(fetcher.close())  # type: ignore[no-untyped-call]

    def __enter__(self) -> CAPathTrust:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------

    def _revocation_lists(
        self, anchors: AnchorSet, message_crls: Sequence[bytes]
    ) -> tuple[asn1_crl.CertificateList, ...]:
        if not self.policy.checks_revocation:
            return ()
        offline = self._offline_crls.current() if self._offline_crls is not None else ()
        return (*anchors.crls, *offline, *_parse_crls(message_crls))

    def _moment(self, signing_time: datetime | None) -> datetime | None:
        chosen = self.policy.validation_time
        if isinstance(chosen, datetime):
            return chosen
        if chosen == "signing" and signing_time is not None:
            return (
                signing_time
                if signing_time.utcoffset() is not None
                else signing_time.replace(tzinfo=UTC)
            )
        return None

    def _validate(self, check: ChainCheck) -> ChainOutcome:
        try:
            if not self.policy.allow_fetching or not self.policy.checks_revocation:
                return run_offline(lambda: check_chain(check))
            return self._validate_online(check)
        except Exception as exc:
            # Fail closed: a certificate pyhanko cannot process is not trusted.
            logger.exception("certificate validation failed unexpectedly")
            return ChainOutcome("no-path", f"validation failed: {type(exc).__name__}")

    def _validate_online(self, check: ChainCheck) -> ChainOutcome:
        online = replace(check, fetcher_backend=self._fetcher_backend())
        try:
            return run_coroutine(check_chain(online), timeout=self.policy.revocation_timeout)
        except LoopTimeoutError:
            seconds = self.policy.revocation_timeout
            if self.policy.revocation_mode == "soft-fail":
                logger.info("revocation fetching timed out after %s s; checking offline", seconds)
                return run_offline(lambda: check_chain(check))
            return ChainOutcome(
                "revocation-unavailable", f"revocation data not obtained within {seconds} s"
            )

    def _fetcher_backend(self) -> FetcherBackend:
        with self._fetcher_lock:
            if self._fetcher is None:
                from pyhanko_certvalidator.fetchers.aiohttp_fetchers import (
                    AIOHttpFetcherBackend,
                )

                self._fetcher = AIOHttpFetcherBackend(
                    per_request_timeout=self.policy.revocation_timeout
                )
            return self._fetcher

    def _cache_key(
        self,
        certificate: x509.Certificate,
        intermediates: Sequence[x509.Certificate],
        anchors: AnchorSet,
        crls: Sequence[asn1_crl.CertificateList],
        moment: datetime | None,
        purpose: Purpose,
    ) -> Hashable | None:
        """What a verdict depends on: the chain candidates, the anchors, the CRLs, the moment.

        Made from the certificates as loaded (they compare by DER), so that a
        hit costs no conversion to asn1crypto.
        """
        if self.policy.allow_fetching and self.policy.checks_revocation:
            return None  # what the network says may change at any time
        key = certificate_key(certificate)
        return (
            key,
            frozenset(map(certificate_key, intermediates)) - {key},
            anchors.fingerprint,
            frozenset(_digest(c) for c in crls),
            moment,
            purpose,
        )


class _VerdictCache:
    """A bounded LRU of trusted verdicts, each with an expiry time.

    Only trusted verdicts are stored, so the cache can never make an
    untrusted certificate trusted; an entry expires when a certificate of
    its path or a CRL it relied on does, or after :data:`CACHE_LIFETIME`.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, tuple[TrustVerdict, datetime]] = OrderedDict()

    def get(self, key: Hashable) -> TrustVerdict | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if datetime.now(UTC) >= entry[1]:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key: Hashable, verdict: TrustVerdict, expires: datetime) -> None:
        if self._size <= 0:
            return
        with self._lock:
            self._entries[key] = (verdict, expires)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


def _cache_expiry(check: ChainCheck, outcome: ChainOutcome) -> datetime:
    expiry = datetime.now(UTC) + CACHE_LIFETIME
    if check.moment is not None:
        return expiry
    deadlines: list[datetime] = [certificate.not_valid_after for certificate in outcome.path]
    deadlines.extend(_next_updates(check.crls))
    return min([expiry, *deadlines])


def _next_updates(crls: Sequence[asn1_crl.CertificateList]) -> list[datetime]:
    found: list[datetime] = []
    for revocation_list in crls:
        next_update: Any = revocation_list["tbs_cert_list"]["next_update"].native
        if isinstance(next_update, datetime):
            found.append(next_update)
    return found


class _ParsedCertificates:
    """A bounded LRU of asn1crypto certificates by DER.

    asn1crypto computes the normalised forms of names lazily and keeps them
    on the object; re-parsing a certificate each time costs ~1 ms of
    stringprep, reusing it almost nothing.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[bytes, asn1_x509.Certificate] = OrderedDict()

    def get(self, certificate: x509.Certificate) -> asn1_x509.Certificate:
        der = certificate.public_bytes(Encoding.DER)
        with self._lock:
            parsed = self._entries.get(der)
            if parsed is not None:
                self._entries.move_to_end(der)
                return parsed
        parsed = ReceivedCertificate.load(der)
        with self._lock:
            self._entries[der] = parsed
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return parsed


_parsed = _ParsedCertificates(PARSED_CERTIFICATES)


def _to_asn1(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return _parsed.get(certificate)


def _distinct_asn1(
    leaf: x509.Certificate, candidates: Sequence[x509.Certificate]
) -> tuple[asn1_x509.Certificate, ...]:
    seen = {leaf}
    distinct: list[asn1_x509.Certificate] = []
    for candidate in candidates:
        if candidate not in seen:
            seen.add(candidate)
            distinct.append(_to_asn1(candidate))
    return tuple(distinct)


def _parse_crls(ders: Sequence[bytes]) -> list[asn1_crl.CertificateList]:
    parsed: list[asn1_crl.CertificateList] = []
    for der in ders:
        try:
            parsed.extend(parse_pki_objects(der).crls)
        except MalformedCMSError as exc:
            logger.info("ignoring an unreadable CRL carried by the message: %s", exc)
    return parsed


def _digest(item: asn1_x509.Certificate | asn1_crl.CertificateList) -> bytes:
    # asn1crypto computes .sha256 once per object, and certificates come from the parse cache.
    digest: bytes = item.sha256
    return digest

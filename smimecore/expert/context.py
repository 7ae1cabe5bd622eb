"""The :class:`~smimecore.engine.context.SmimeContext` an expert function works in.

The same context :class:`~smimecore.SMIME` uses, so that a bare CMS object
is judged exactly as a mail's signature is: ``trust`` says whose.

* an :class:`~smimecore.SMIME` instance: its configuration, keyring (signer
  certificates and chains), trust evaluator and certificate store (accepted
  signers are remembered there, as :meth:`SMIME.verify` does);
* a path: the ``ca_path`` (a PEM bundle, a ``c_rehash`` directory or a
  directory of certificates) of ``config``'s other options;
* a :class:`~smimecore.trust.TrustEvaluator` of your own;
* ``None``: ``config``'s ``ca_path``; without one, every signer's trust is
  ``unknown`` (``TrustReason`` ``no-ca-path``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager

from cryptography import x509

from smimecore.cms.signed import SigningIdentity
from smimecore.config import Config, Purpose
from smimecore.engine.context import SmimeContext
from smimecore.engine.smime import SMIME, require_enabled
from smimecore.errors import ConfigError
from smimecore.keyring.base import DecryptionIdentity, Keyring
from smimecore.keyring.memory import MemoryKeyring
from smimecore.keyring.store import MemoryCertificateStore
from smimecore.trust.base import NoCAPathTrust, TrustEvaluator
from smimecore.trust.capath import build_trust_evaluator
from smimecore.trust.policy import TrustPolicy

__all__ = ["TrustInput", "key_context", "trust_context"]

TrustInput = str | os.PathLike[str] | TrustEvaluator | SMIME | None
"""Whose trust judges a signer: an :class:`SMIME`, a ``ca_path``, an evaluator, or ``None``."""


def trust_context(
    trust: TrustInput,
    config: Config | None = None,
    certificates: Sequence[x509.Certificate] = (),
) -> SmimeContext:
    """The context that judges signers with ``trust``; ``certificates`` are extra candidates
    for signer certificates and chains (``openssl cms -certfile``)."""
    if isinstance(trust, SMIME):
        if config is not None:
            raise ConfigError("config", "is given twice: the SMIME given as trust has its own")
        base = trust.context
        require_enabled(base.config)
        if not certificates:
            return base
        keyring = _WithCertificates(base.keyring, certificates)
        return SmimeContext(base.config, keyring, base.trust, base.store)
    config = config if config is not None else Config()
    if isinstance(trust, str | os.PathLike):
        config, trust = config.replace(ca_path=trust), None
    require_enabled(config)
    evaluator = (
        _evaluator(trust)
        if trust is not None
        else build_trust_evaluator(TrustPolicy.from_config(config))
    )
    keyring = _WithCertificates(MemoryKeyring(), certificates)
    return SmimeContext(config, keyring, evaluator, MemoryCertificateStore())


def key_context(config: Config | None) -> SmimeContext:
    """The context for a key the caller holds: ``config``'s limits, no keyring, no trust."""
    config = config if config is not None else Config()
    require_enabled(config)
    return SmimeContext(config, MemoryKeyring(), NoCAPathTrust(), MemoryCertificateStore())


def _evaluator(trust: object) -> TrustEvaluator:
    if not callable(getattr(trust, "evaluate", None)):
        raise ConfigError(
            "trust",
            f"a {type(trust).__name__} is neither an SMIME, a ca_path nor a trust evaluator",
        )
    return trust  # type: ignore[return-value]


class _WithCertificates:
    """A keyring that also knows ``extra`` certificates (signers', intermediates)."""

    def __init__(self, keyring: Keyring, extra: Sequence[x509.Certificate]) -> None:
        self._keyring = keyring
        self._extra = tuple(extra)

    def signing_identity(self, address: str) -> SigningIdentity:
        return self._keyring.signing_identity(address)

    def decryption_identity(self, address: str) -> DecryptionIdentity:
        return self._keyring.decryption_identity(address)

    def decryption_candidates(self, named: Callable[[x509.Certificate], bool]) -> Iterable[str]:
        return self._keyring.decryption_candidates(named)

    def certificate_for(self, address: str, purpose: Purpose | None) -> x509.Certificate | None:
        return self._keyring.certificate_for(address, purpose)

    def encryption_certificates(self, address: str) -> Sequence[x509.Certificate]:
        return self._keyring.encryption_certificates(address)

    def certificates(self) -> Sequence[x509.Certificate]:
        return (*self._keyring.certificates(), *self._extra)

    def one_look(self) -> AbstractContextManager[None]:
        return self._keyring.one_look()

"""SignedData without MIME: :func:`sign_data` and :func:`verify_data`.

The same builder, reader, context and RT records as :meth:`SMIME.sign` and
:meth:`SMIME.verify`; only the MIME around the CMS object is missing.  The
content is signed and checked exactly as given (``openssl cms -binary``):
no line endings are changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from cryptography import x509

from smimecore.cms.signed import SignedData, build_signed_data, parse_signed_data
from smimecore.config import Config
from smimecore.engine import records
from smimecore.engine.outcomes import Origin, SignatureOutcome
from smimecore.engine.smime import signing_digest
from smimecore.engine.status import StatusRecord
from smimecore.errors import KeyLoadError, MalformedCMSError, NotProtectedError, SmimeError
from smimecore.expert.context import TrustInput, trust_context
from smimecore.expert.forms import CMSForm, CMSInput, cms_der, write_cms
from smimecore.expert.keys import CertificateInput, KeyInput, as_certificates, load_key
from smimecore.keyring.base import signing_identity_of
from smimecore.pki.der import Bytes

__all__ = ["Verification", "sign_data", "verify_data"]


def sign_data(
    content: Bytes,
    signer_key: KeyInput,
    signer_cert: CertificateInput | None = None,
    *,
    detached: bool = True,
    digest: str = "sha256",
    pss: bool = False,
    signing_time: datetime | None = None,
    use_subject_key_identifier: bool = False,
    chain: Sequence[CertificateInput] = (),
    passphrase: str | None = None,
    outform: CMSForm = "der",
) -> bytes:
    """A CMS SignedData over ``content``, by ``signer_key``: ``openssl cms -sign -binary``.

    ``signer_key`` is a ``cryptography`` private key or the bytes of a key
    file (PEM, PKCS#12, DER PKCS#8; ``passphrase`` opens it);
    ``signer_cert`` its certificate, needed unless the key file holds it.
    ``detached`` (the default, as in openssl) leaves the content out of
    the SignedData; ``False`` encapsulates it (``-nodetach``).  ``digest``
    is ``sha256``, ``sha384`` or ``sha512``; ``pss`` signs RSA keys with
    RSASSA-PSS.  The signed attributes are contentType, messageDigest,
    signingTime (``signing_time``, default now), smimeCapabilities and
    signingCertificateV2; ``use_subject_key_identifier`` names the signer
    by its subjectKeyIdentifier (``-keyid``).  The certificates sent are
    the signer's, its chain from the key file and ``chain``.
    ``outform`` is ``der`` or ``pem``.

    Raises :class:`~smimecore.errors.KeyLoadError` (and its
    :class:`~smimecore.errors.PassphraseError`) for a key that cannot be
    read, :class:`~smimecore.errors.UnsupportedAlgorithmError` for a key or
    digest that does not sign.
    """
    digest_algorithm = signing_digest(digest)
    material = load_key(signer_key, signer_cert, passphrase=passphrase, source="signer key")
    if material.certificate is None:
        raise KeyLoadError("signer key", "its certificate is needed (give signer_cert)")
    extra = [certificate for value in chain for certificate in as_certificates(value, "chain")]
    identity = signing_identity_of(
        material.private_key, material.certificate, [*material.chain, *extra]
    )
    try:
        der = build_signed_data(
            [content],
            identity,
            digest=digest_algorithm,
            detached=detached,
            pss=pss,
            use_subject_key_identifier=use_subject_key_identifier,
            signing_time=signing_time,
        )
    except SmimeError as exc:
        raise exc.with_statuses([records.sign_failed(exc)]) from None
    return write_cms(der, outform)


class Verification(tuple[SignatureOutcome, ...]):
    """What :func:`verify_data` found: one :class:`SignatureOutcome` per SignerInfo, in order.

    Each outcome says whether the content is the one signed (``intact``),
    whether the signature verifies (``valid``), whether the signer is
    trusted (``trusted``; ``trust_reason`` says why not), who signed
    (``signer``, ``identity``), when (``signing_time``) and with what
    (``digest_algorithm``, ``signature_algorithm``); ``accepted`` applies
    the configuration's policy on top (``accept_untrusted_cas``...).
    """

    content: bytes
    """The signed content: the encapsulated one, or the one given for a detached signature."""
    statuses: tuple[StatusRecord, ...]
    """RT's ``Verify`` record for each outcome (the same as :meth:`SMIME.verify` gives)."""
    certificates: tuple[x509.Certificate, ...]
    """The certificates the SignedData carries."""

    def __new__(
        cls,
        outcomes: Iterable[SignatureOutcome],
        content: bytes,
        statuses: Iterable[StatusRecord],
        certificates: Iterable[x509.Certificate] = (),
    ) -> Verification:
        """The ``outcomes``, with the signed ``content``, ``statuses`` and ``certificates``."""
        verification = super().__new__(cls, outcomes)
        verification.content = content
        verification.statuses = tuple(statuses)
        verification.certificates = tuple(certificates)
        return verification

    @property
    def ok(self) -> bool:
        """Whether there is a signer and every signature is accepted (every record ``DONE``)."""
        return bool(self) and all(outcome.accepted for outcome in self)


def verify_data(
    cms: CMSInput,
    *,
    content: Bytes | None = None,
    trust: TrustInput = None,
    certificates: Sequence[CertificateInput] = (),
    config: Config | None = None,
) -> Verification:
    """Check every SignerInfo of a CMS SignedData: ``openssl cms -verify -binary``.

    ``cms`` is DER, BER or PEM.  ``content`` is the signed content of a
    detached signature (``-content FILE``); an encapsulated one carries
    its own.  ``trust`` judges the signers: an :class:`~smimecore.SMIME`
    (its keyring, trust and certificate store), a ``ca_path``, a
    :class:`~smimecore.trust.TrustEvaluator`, or ``None`` for ``config``'s
    ``ca_path`` (see :mod:`smimecore.expert.context`).  ``certificates``
    are more candidates for signer certificates and their chains
    (``-certfile``).  ``config`` (not with an ``SMIME``) sets the policy
    and the reader's limits.

    A signature that does not verify, or a signer that is not trusted, is an
    outcome, not an error.  A SignedData that cannot be read at all raises
    :class:`~smimecore.errors.MalformedCMSError`; one without signers (a
    certificates-only one), :class:`~smimecore.errors.NotProtectedError`;
    a signer that cannot be checked (an unsupported algorithm such as
    SLH-DSA, a certificate that cannot be found), that signer's error,
    whose ``statuses`` hold every signer's record.
    """
    extra = [certificate for value in certificates for certificate in as_certificates(value)]
    context = trust_context(trust, config, extra)
    try:
        signed_data = parse_signed_data(cms_der(cms), context.reader_limits)
        signed = _signed_content(signed_data, content)
    except SmimeError as exc:
        raise exc.with_statuses([records.verify_failed(exc)]) from None
    outcomes = context.judge_signatures(signed_data, signed, Origin())
    statuses = [records.signature(outcome) for outcome in outcomes]
    errors = [outcome.error for outcome in outcomes if outcome.error is not None]
    if errors:
        raise errors[0].with_statuses(statuses)
    context.remember_signers(outcomes, signed_data.certificates, context.store_budget())
    return Verification(outcomes, bytes(signed), statuses, signed_data.certificates)


def _signed_content(signed_data: SignedData, detached: Bytes | None) -> bytes | memoryview:
    if not signed_data.signer_infos:
        raise NotProtectedError("the signed-data has no signers (certs-only?)")
    if signed_data.content is None:
        if detached is None:
            raise MalformedCMSError(
                "the signature is detached: its content must be given (content=, --content FILE)"
            )
        return memoryview(detached)
    if detached is not None:
        raise MalformedCMSError("the signed-data carries its content: no other may be given")
    return signed_data.content

"""The expert layer: bare CMS objects (DER, BER, PEM) signed, verified, encrypted, decrypted.

What :class:`~smimecore.SMIME` does to mail, done to a CMS object without
any MIME around it, as ``openssl cms -binary -inform/-outform DER|PEM``
does (pyca's "hazmat" idea: sharper tools, fewer guard rails, for callers
who know CMS)::

    from smimecore.expert import sign_data, verify_data, encrypt_data, decrypt_data

    signature = sign_data(data, key, certificate)               # detached, DER
    checked = verify_data(signature, content=data, trust="ca.pem")
    checked[0].valid, checked[0].trusted, checked[0].trust_reason
    envelope = encrypt_data(data, [bob_certificate], cipher="aes-256-gcm", outform="pem")
    assert decrypt_data(envelope, bob_pkcs12, passphrase="secret") == data

The content is taken exactly as given: no line endings are changed, no
header is kept outside.  Underneath are the very builders, readers,
:class:`~smimecore.engine.context.SmimeContext` (trust, policy, limits) and
RT status records that :class:`SMIME` uses; an outcome reads as
:meth:`SMIME.verify`'s, and every error is a
:class:`~smimecore.errors.SmimeError` carrying RT's records in ``statuses``.

``trust`` (of :func:`verify_data`) is an :class:`~smimecore.SMIME` instance,
a ``ca_path``, a :class:`~smimecore.trust.TrustEvaluator` or ``None``
(:mod:`smimecore.expert.context`).  Keys are ``cryptography`` objects, or
the bytes of a PEM, PKCS#12 or DER PKCS#8 file (:mod:`smimecore.expert.keys`).
"""

from smimecore.engine.outcomes import Refusal, SignatureOutcome
from smimecore.expert.context import TrustInput
from smimecore.expert.enveloping import DecryptedData, decrypt_data, encrypt_data
from smimecore.expert.forms import CMSForm, cms_der, write_cms
from smimecore.expert.keys import CertificateInput, KeyInput
from smimecore.expert.signing import Verification, sign_data, verify_data
from smimecore.pki.certificate import CertificateIdentity

__all__ = [
    "CMSForm",
    "CertificateIdentity",
    "CertificateInput",
    "DecryptedData",
    "KeyInput",
    "Refusal",
    "SignatureOutcome",
    "TrustInput",
    "Verification",
    "cms_der",
    "decrypt_data",
    "encrypt_data",
    "sign_data",
    "verify_data",
    "write_cms",
]

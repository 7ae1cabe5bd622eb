"""The command line as ``openssl cms`` users expect it: CMS forms and key files.

``--inform`` and ``--outform`` (``smime``, ``der`` or ``pem``) give the form
of what a command reads and writes.  The CMS side (what ``sign`` and
``encrypt`` write, what ``verify`` and ``decrypt`` read) is a MIME message
(``smime``, the default) or a bare CMS object (``der``, ``pem``); the
content side follows it: a MIME message goes with a MIME message, bare
content (the bytes exactly, ``openssl cms -binary``) with a bare CMS
object.  So on ``sign`` and ``encrypt`` ``--inform`` (and on ``verify`` and
``decrypt`` ``--outform``) can only say what the other form implies, and
anything else is a usage error.

``verify --content FILE`` is the content of a detached signature given
bare.  ``--key FILE`` (PEM or PKCS#12, opened with ``--passphrase``) and
``--cert FILE`` sign or decrypt without a keyring: they become a
:class:`~smimecore.keyring.MemoryKeyring` that replaces it.  The bare
forms run the expert layer (:mod:`smimecore.expert`), the ``smime`` form
:class:`~smimecore.SMIME` as before; both answer in RT's status records.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from cryptography import x509

from smimecore.cli.inputs import UsageError, read_input
from smimecore.config import Config, Purpose
from smimecore.engine import records
from smimecore.engine.smime import SMIME
from smimecore.engine.status import Result
from smimecore.expert import decrypt_data, encrypt_data, sign_data, verify_data
from smimecore.expert.forms import CMSForm
from smimecore.expert.keys import load_key
from smimecore.keyring.memory import MemoryKeyring
from smimecore.keyring.passphrase import resolve_passphrase
from smimecore.pki.certificate import identity_of

__all__ = ["FORMS", "add_form_options", "add_key_options", "prepare", "run_bare"]

FORMS = ("smime", "der", "pem")
"""The forms ``--inform`` and ``--outform`` name (case does not matter: ``DER`` is ``der``)."""

_WRITES_CMS = ("sign", "encrypt")
_COMMANDS = (*_WRITES_CMS, "verify", "decrypt")
_KEY_PURPOSES: dict[str, Purpose] = {"sign": "signing", "decrypt": "encryption"}


def add_form_options(parser: argparse.ArgumentParser, command: str) -> None:
    """``--inform`` and ``--outform`` (and ``verify``'s ``--content``) on ``command``'s parser."""
    cms_side = "--outform" if command in _WRITES_CMS else "--inform"
    for option in ("--inform", "--outform"):
        says = (
            "the CMS object: smime (a MIME message, the default), der or pem"
            if option == cms_side
            else "the content, as the CMS object: smime (a MIME message), der or pem (bare)"
        )
        parser.add_argument(option, type=str.lower, choices=FORMS, help=says)
    if command == "verify":
        parser.add_argument(
            "--content",
            metavar="FILE",
            help="the signed content of a detached signature (with --inform der|pem)",
        )


def add_key_options(parser: argparse.ArgumentParser) -> None:
    """``--key FILE`` and ``--cert FILE``: a key to sign or decrypt with, instead of a keyring."""
    parser.add_argument(
        "--key",
        metavar="FILE",
        help="private key (PEM or PKCS#12, opened with --passphrase) instead of the keyring",
    )
    parser.add_argument(
        "--cert",
        dest="key_certificate",
        metavar="FILE",
        help="the certificate of --key (and its chain), unless FILE holds it",
    )


def prepare(arguments: argparse.Namespace, config: Config) -> MemoryKeyring | None:
    """Check the form options before anything is read; the keyring ``--key``/``--cert`` make.

    ``None`` without ``--key``.  The identity is filed under ``--signer``
    (for ``sign``), else the certificate's address, else the key file's
    name; that address becomes the signer (or the first recipient tried,
    for ``decrypt``).
    """
    if arguments.command in _COMMANDS:
        _cms_form(arguments)
    path = getattr(arguments, "key", None)
    certificate_path = getattr(arguments, "key_certificate", None)
    signer = getattr(arguments, "signer", None)
    if path is None:
        if certificate_path is not None:
            raise UsageError("--cert FILE names the certificate of --key FILE")
        if arguments.command == "sign" and not signer:
            raise UsageError("sign needs --signer ADDRESS or --key FILE")
        return None
    passphrase = resolve_passphrase(
        config.passphrase, signer or "", _KEY_PURPOSES[arguments.command]
    )
    material = load_key(
        read_input(path),
        read_input(certificate_path) if certificate_path else None,
        passphrase=passphrase,
        source=path,
    )
    if material.certificate is None:
        raise UsageError(f"--key {path}: its certificate is needed (in the file, or --cert FILE)")
    address = signer or identity_of(material.certificate).email or path
    keyring = MemoryKeyring()
    keyring.add_identity(
        material.private_key, material.certificate, material.chain, addresses=[address]
    )
    if arguments.command == "sign":
        arguments.signer = address
    else:
        arguments.recipients = [address, *arguments.recipients]
    return keyring


def run_bare(
    arguments: argparse.Namespace,
    smime: SMIME,
    data: bytes,
    certificates: Sequence[x509.Certificate],
) -> Result | None:
    """The command run on a bare CMS object, or ``None`` when it is a MIME one (``smime``)."""
    if arguments.command not in _COMMANDS:
        return None
    form = _cms_form(arguments)
    if form is None:
        return None
    command = arguments.command
    if command == "sign":
        return _sign(arguments, smime, data, form)
    if command == "encrypt":
        chosen = smime.recipient_certificates(arguments.recipients, certificates)
        cipher = arguments.cipher or smime.config.cipher
        encrypted = encrypt_data(data, chosen, cipher=cipher, oaep=arguments.oaep, outform=form)
        return Result(encrypted, (records.encrypted(),))
    if command == "verify":
        content = read_input(arguments.content) if arguments.content else None
        verification = verify_data(data, content=content, trust=smime)
        return Result(verification.content, verification.statuses)
    decrypted = decrypt_data(data, smime, recipients=arguments.recipients)
    return Result(bytes(decrypted), decrypted.statuses)


def _sign(arguments: argparse.Namespace, smime: SMIME, data: bytes, form: CMSForm) -> Result:
    identity = smime.signing_identity(arguments.signer)
    signed = sign_data(
        data,
        identity.key,
        identity.certificate,
        detached=not arguments.opaque,
        digest=arguments.digest,
        pss=arguments.pss,
        chain=[*identity.chain, *smime.context.certificates_to_send()],
        outform=form,
    )
    return Result(signed, (records.signed(),))


def _cms_form(arguments: argparse.Namespace) -> CMSForm | None:
    """The form of the CMS side (``None``: a MIME message); usage errors for what does not fit."""
    command = arguments.command
    if command in _WRITES_CMS:
        cms_side, content_side = arguments.outform, arguments.inform
    else:
        cms_side, content_side = arguments.inform, arguments.outform
    bare = cms_side not in (None, "smime")
    if content_side is not None and (content_side != "smime") != bare:
        cms_option = "--outform" if command in _WRITES_CMS else "--inform"
        content = "bare content" if bare else "a MIME message"
        raise UsageError(
            f"{command} with {cms_option} {cms_side or 'smime'} takes {content}: "
            f"--{'in' if command in _WRITES_CMS else 'out'}form {content_side} does not fit"
        )
    if getattr(arguments, "content", None) and not bare:
        raise UsageError("--content FILE is for a bare detached signature: add --inform der|pem")
    if not bare:
        return None
    return "der" if cms_side == "der" else "pem"

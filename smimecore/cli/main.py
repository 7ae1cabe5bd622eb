"""The ``smimecore`` command.

Its names are a contract::

    smimecore --version
    smimecore [--config FILE] [--keyring DIR] [--ca-path PATH] [--accept-untrusted-cas]
              [--passphrase TEXT] [--status-json FILE] COMMAND ...

    sign (--signer ADDRESS | --key FILE [--cert FILE]) [--opaque] [--digest sha256|sha384|sha512]
         [--pss] [--no-prepare-for-transport] [--outform smime|der|pem] [--in FILE] [--out FILE]
    verify [--crl-path PATH] [--revocation-mode MODE] [--validation-time WHEN]
           [--require-sender-match] [--accept-partial-protection]
           [--require-authenticated-encryption] [--allow-weak-algorithms] [--initial-policy OID ...]
           [--require-explicit-policy] [--inhibit-policy-mapping] [--inhibit-any-policy]
           [--openssl PATH --cross-check] [--inform smime|der|pem [--content FILE]]
           [--in FILE] [--out FILE]
    encrypt --recipient ADDRESS [--recipient ...] [--cipher NAME] [--cert FILE ...] [--oaep]
            [--outform smime|der|pem]
    sign-encrypt --signer ADDRESS --recipient ADDRESS [...] [--cipher NAME] [--cert FILE ...]
                 [--no-prepare-for-transport]
    decrypt [--recipient ADDRESS ...] [--key FILE [--cert FILE]] [--inform smime|der|pem]

    (sign, verify, encrypt and decrypt take both --inform and --outform; the form
    of the content follows the CMS object's: cli/forms.py)
    process [trust options of verify] [--status-format json|rt]
    info CERTFILE | info --address ADDRESS
    demo
    scan PATH... [--report FILE] [--results DB [--resume]] [--jobs N] [--dask ADDRESS] (cli/scan.py)

Exit status (docs/cli.md says what each one writes): 0 when every status
record is ``DONE``; 1 when any is ``BAD``, ``ERROR`` or ``MISSING``, when
the operation failed, or when ``process`` finds nothing signed or
encrypted; 2 for usage and configuration errors, an output that cannot be
written, and errors nobody foresaw; 130 on Ctrl-C.  Errors are one line on
stderr, never a traceback.  Output files are written all or nothing
(:mod:`smimecore.cli.outputs`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from smimecore import __version__
from smimecore.algorithms.digests import SIGNING_DIGESTS
from smimecore.cli.forms import add_form_options, add_key_options, prepare, run_bare
from smimecore.cli.inputs import UsageError, read_certificate, read_input
from smimecore.cli.outputs import OutputError, Outputs
from smimecore.cli.summary import failure_line, one_line, partial_line
from smimecore.config import CIPHERS, REVOCATION_MODES, Config
from smimecore.engine.smime import SMIME
from smimecore.engine.status import DONE, Result, StatusRecord, format_status
from smimecore.errors import ConfigError, SmimeError, first_line

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _add_global_options(parser: argparse.ArgumentParser, *, in_subcommand: bool) -> None:
    # Global options may also follow the command; there they must not reset earlier values.
    default: Any = argparse.SUPPRESS if in_subcommand else None
    parser.add_argument(
        "--config", metavar="FILE", default=default, help="TOML file with an [smime] table"
    )
    parser.add_argument("--keyring", metavar="DIR", default=default, help="keyring directory")
    parser.add_argument(
        "--ca-path", metavar="PATH", default=default, help="trusted CA file or directory"
    )
    parser.add_argument(
        "--accept-untrusted-cas",
        action="store_true",
        default=argparse.SUPPRESS if in_subcommand else False,
        help="accept signatures whose CA is not trusted (reported with trust NONE/UNKNOWN)",
    )
    parser.add_argument(
        "--passphrase", metavar="TEXT", default=default, help="passphrase for every key"
    )
    parser.add_argument(
        "--passphrase-file", metavar="FILE", default=default, help="read the passphrase from FILE"
    )
    parser.add_argument(
        "--status-json", metavar="FILE", default=default, help="write the status records as JSON"
    )


def _add_trust_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--crl-path", metavar="PATH", help="CRL file or directory (PEM or DER)")
    parser.add_argument("--revocation-mode", choices=REVOCATION_MODES, help="default off")
    parser.add_argument(
        "--validation-time", metavar="now|signing|ISO-8601", help="when chains must be valid"
    )
    parser.add_argument("--require-sender-match", action="store_true", default=None)
    parser.add_argument(
        "--accept-partial-protection",
        action="store_true",
        default=None,
        help="accept a message of which only some parts are signed or encrypted",
    )
    parser.add_argument(
        "--require-authenticated-encryption",
        action="store_true",
        default=None,
        help="refuse encrypted content without integrity protection (CBC)",
    )
    parser.add_argument("--allow-weak-algorithms", action="store_true", default=None)
    parser.add_argument(
        "--initial-policy",
        action="append",
        metavar="OID",
        dest="initial_policies",
        help="acceptable certificate policy (repeatable; default anyPolicy)",
    )
    parser.add_argument("--require-explicit-policy", action="store_true", default=None)
    parser.add_argument("--inhibit-policy-mapping", action="store_true", default=None)
    parser.add_argument("--inhibit-any-policy", action="store_true", default=None)
    parser.add_argument("--openssl", metavar="PATH", help="openssl binary for --cross-check")
    parser.add_argument(
        "--cross-check", action="store_true", default=None, help="ask openssl for a second opinion"
    )


_TRUST_OPTIONS = (
    "crl_path",
    "revocation_mode",
    "require_sender_match",
    "accept_partial_protection",
    "require_authenticated_encryption",
    "allow_weak_algorithms",
    "initial_policies",
    "require_explicit_policy",
    "inhibit_policy_mapping",
    "inhibit_any_policy",
    "openssl",
    "cross_check",
)


def _validation_time(text: str) -> str | datetime:
    if text in ("now", "signing"):
        return text
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError("validation_time", f"{text!r} is not now, signing or ISO-8601") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _add_encryption_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--recipient",
        action="append",
        default=[],
        metavar="ADDRESS",
        dest="recipients",
        help="encrypt to ADDRESS's keyring certificate (repeatable)",
    )
    parser.add_argument("--cipher", choices=CIPHERS, help="content cipher (default from config)")
    parser.add_argument(
        "--cert",
        action="append",
        default=[],
        metavar="FILE",
        dest="certificates",
        help="also encrypt to the certificate in FILE (repeatable)",
    )
    parser.add_argument("--oaep", action="store_true", help="RSA-OAEP (SHA-256) key transport")


def _add_io_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--in", dest="input", metavar="FILE", help="input message (default stdin)")
    parser.add_argument(
        "--out", dest="output", metavar="FILE", help="output message (default stdout)"
    )


def _add_transport_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-prepare-for-transport",
        dest="prepare_for_transport",
        action="store_false",
        default=None,
        help="sign 8-bit and binary parts as they are (for an 8BITMIME/BINARYMIME path)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="smimecore",
        description="S/MIME sign and verify, in-process (RT::Crypt::SMIME compatible).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_global_options(parser, in_subcommand=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    sign = commands.add_parser("sign", help="sign a message")
    _add_global_options(sign, in_subcommand=True)
    sign.add_argument("--signer", metavar="ADDRESS", help="keyring address to sign as")
    sign.add_argument("--opaque", action="store_true", help="application/pkcs7-mime signed-data")
    sign.add_argument("--digest", choices=SIGNING_DIGESTS, default="sha256")
    sign.add_argument("--pss", action="store_true", help="RSASSA-PSS instead of PKCS#1 v1.5")
    _add_transport_option(sign)
    add_key_options(sign)
    add_form_options(sign, "sign")
    _add_io_options(sign)

    verify = commands.add_parser("verify", help="verify a signed message")
    _add_global_options(verify, in_subcommand=True)
    _add_trust_options(verify)
    add_form_options(verify, "verify")
    _add_io_options(verify)

    encrypt = commands.add_parser("encrypt", help="encrypt a message")
    _add_global_options(encrypt, in_subcommand=True)
    _add_encryption_options(encrypt)
    add_form_options(encrypt, "encrypt")
    _add_io_options(encrypt)

    sign_encrypt = commands.add_parser("sign-encrypt", help="sign, then encrypt a message")
    _add_global_options(sign_encrypt, in_subcommand=True)
    sign_encrypt.add_argument("--signer", required=True, metavar="ADDRESS")
    sign_encrypt.add_argument("--digest", choices=SIGNING_DIGESTS, default="sha256")
    sign_encrypt.add_argument("--opaque", action="store_true", help="sign as signed-data inside")
    _add_transport_option(sign_encrypt)
    _add_encryption_options(sign_encrypt)
    _add_io_options(sign_encrypt)

    decrypt = commands.add_parser("decrypt", help="decrypt a message with the keyring")
    _add_global_options(decrypt, in_subcommand=True)
    decrypt.add_argument(
        "--recipient",
        action="append",
        default=[],
        metavar="ADDRESS",
        dest="recipients",
        help="address whose key to try when no certificate matches (repeatable)",
    )
    add_key_options(decrypt)
    add_form_options(decrypt, "decrypt")
    _add_io_options(decrypt)

    process = commands.add_parser(
        "process", help="unwrap every protected part of a message (RT's VerifyDecrypt)"
    )
    _add_global_options(process, in_subcommand=True)
    _add_trust_options(process)
    process.add_argument(
        "--recipient",
        action="append",
        default=[],
        metavar="ADDRESS",
        dest="recipients",
        help="(accepted for symmetry with decrypt; the message's To/Cc are used)",
    )
    process.add_argument(
        "--status-format",
        choices=("json", "rt"),
        default="json",
        help="format of the status records: JSON, or RT's [SMIME:] text "
        "(written to --status-json FILE, else to stderr)",
    )
    _add_io_options(process)

    info = commands.add_parser("info", help="certificate information as JSON (RT's fields)")
    _add_global_options(info, in_subcommand=True)
    info.add_argument("certificate", nargs="?", metavar="CERTFILE", help="a PEM or DER certificate")
    info.add_argument("--address", metavar="ADDRESS", help="the keyring certificate of ADDRESS")

    demo = commands.add_parser("demo", help="sign and verify with a throwaway PKI")
    _add_global_options(demo, in_subcommand=True)
    from smimecore.cli.scan import add_scan_command  # imported here: it imports this module

    add_scan_command(commands)
    return parser


def _config_from(arguments: argparse.Namespace) -> Config:
    config = Config.from_toml(arguments.config) if arguments.config else Config()
    changes: dict[str, Any] = {}
    if arguments.keyring is not None:
        changes["keyring"] = arguments.keyring
    if arguments.ca_path is not None:
        changes["ca_path"] = arguments.ca_path
    if arguments.accept_untrusted_cas:
        changes["accept_untrusted_cas"] = True
    if arguments.passphrase is not None:
        changes["passphrase"] = arguments.passphrase
    for option in _TRUST_OPTIONS:
        value = getattr(arguments, option, None)
        if value is not None:
            changes[option] = tuple(value) if option == "initial_policies" else value
    if getattr(arguments, "validation_time", None) is not None:
        changes["validation_time"] = _validation_time(arguments.validation_time)
    if arguments.passphrase_file is not None:
        try:
            changes["passphrase"] = Path(arguments.passphrase_file).read_text().rstrip("\r\n")
        except OSError as exc:
            raise ConfigError("passphrase_file", f"cannot read it: {exc.strerror}") from None
    return config.replace(**changes) if changes else config


def _add_statuses(
    outputs: Outputs, path: str | None, statuses: Sequence[StatusRecord], status_format: str
) -> None:
    """The status records, to ``--status-json`` (RT's text goes to stderr without one)."""
    if status_format == "rt":
        text = format_status(statuses)
        if path is None:
            outputs.add_stderr(text)
        else:
            outputs.add(path, text.encode("utf-8"))
    elif path is not None:
        records = [record.to_dict() for record in statuses]
        outputs.add(path, (json.dumps(records, indent=2, ensure_ascii=False) + "\n").encode())


def _run_operation(arguments: argparse.Namespace, smime: SMIME) -> Result:
    if arguments.command in ("encrypt", "sign-encrypt") and not (
        arguments.recipients or arguments.certificates
    ):
        raise UsageError(f"{arguments.command} needs --recipient ADDRESS or --cert FILE")
    certificates = [read_certificate(path) for path in getattr(arguments, "certificates", ())]
    data = read_input(arguments.input)
    bare = run_bare(arguments, smime, data, certificates)
    if bare is not None:
        return bare
    if arguments.command == "sign":
        return smime.sign(
            data,
            signer=arguments.signer,
            opaque=arguments.opaque,
            digest=arguments.digest,
            pss=arguments.pss,
            prepare_for_transport=arguments.prepare_for_transport,
        )
    if arguments.command == "encrypt":
        return smime.encrypt(
            data,
            recipients=arguments.recipients,
            cipher=arguments.cipher,
            certificates=certificates,
            oaep=arguments.oaep,
        )
    if arguments.command == "sign-encrypt":
        return smime.sign_encrypt(
            data,
            signer=arguments.signer,
            recipients=arguments.recipients,
            cipher=arguments.cipher,
            certificates=certificates,
            digest=arguments.digest,
            opaque=arguments.opaque,
            oaep=arguments.oaep,
            prepare_for_transport=arguments.prepare_for_transport,
        )
    if arguments.command == "decrypt":
        return smime.decrypt(data, recipients=arguments.recipients)
    if arguments.command == "process":
        return smime.verify_decrypt(data)
    return smime.verify(data)


def _show_info(arguments: argparse.Namespace, smime: SMIME, outputs: Outputs) -> None:
    if (arguments.certificate is None) == (arguments.address is None):
        raise UsageError("info needs either CERTFILE or --address ADDRESS")
    if arguments.address is not None:
        info = smime.address_certificate_info(arguments.address)
    else:
        info = smime.certificate_info(read_input(arguments.certificate))
    outputs.add(None, (json.dumps(info, indent=2, ensure_ascii=False) + "\n").encode())


def _status_format(arguments: argparse.Namespace) -> str:
    return str(getattr(arguments, "status_format", "json"))


def _first_failure(statuses: Sequence[StatusRecord]) -> StatusRecord | None:
    return next((record for record in statuses if record.status != DONE), None)


NOTHING_PROTECTED = "nothing in the message is signed or encrypted"


def _operate(arguments: argparse.Namespace, smime: SMIME, outputs: Outputs) -> tuple[int, str]:
    """Run the command, collect what it writes; the exit status and the stderr line, if any.

    Exit 0 writes the result (``--out`` or stdout) and the records;
    exit 1 (a record that is not ``DONE``, or ``process`` finding nothing
    protected) writes only the records.
    """
    if arguments.command == "info":
        _show_info(arguments, smime, outputs)
        return EXIT_OK, ""
    result = _run_operation(arguments, smime)
    statuses = result.statuses
    _add_statuses(outputs, arguments.status_json, statuses, _status_format(arguments))
    if not statuses:
        return EXIT_FAILED, f"smimecore: {NOTHING_PROTECTED}"
    failure = _first_failure(statuses)
    if failure is not None:
        return EXIT_FAILED, failure_line(failure)
    if not result.ok:  # every record DONE, yet only some parts are protected
        return EXIT_FAILED, partial_line(result.statuses)
    outputs.add(arguments.output, result.data)
    return EXIT_OK, ""


def _operation_failed(arguments: argparse.Namespace, exc: SmimeError) -> int:
    """An operation raised: its records still go to ``--status-json``; exit 1."""
    outputs = Outputs()
    _add_statuses(outputs, arguments.status_json, exc.statuses, _status_format(arguments))
    try:
        outputs.commit()
    except OutputError as write_error:
        print(f"smimecore: {one_line(str(write_error))}", file=sys.stderr)
        return EXIT_USAGE
    print(f"smimecore: {one_line(str(exc))}", file=sys.stderr)
    return EXIT_FAILED


def _run(arguments: argparse.Namespace) -> int:
    outputs = Outputs()
    try:
        if arguments.command == "scan":
            from smimecore.cli.scan import run_scan_command

            return run_scan_command(arguments)
        config = _config_from(arguments)
        smime = SMIME(config, keyring=prepare(arguments, config))
        code, line = _operate(arguments, smime, outputs)
        outputs.commit()
    except ConfigError as exc:
        print(f"smimecore: configuration error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except (UsageError, OutputError) as exc:
        print(f"smimecore: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except SmimeError as exc:
        return _operation_failed(arguments, exc)
    if line:
        print(line, file=sys.stderr)
    return code


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    arguments = build_parser().parse_args(argv)
    for name in ("config", "keyring", "ca_path", "passphrase", "passphrase_file", "status_json"):
        if not hasattr(arguments, name):
            setattr(arguments, name, None)
    return arguments


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (see the module's docstring).

    Never a traceback: Ctrl-C is one line and exit 130; an error nobody
    foresaw is one line naming it and exit 2 (and a bug to fix at its root).
    """
    try:
        arguments = _parse(argv)
        if arguments.command == "demo":
            from smimecore.demo.run import run_demo

            return run_demo()
        return _run(arguments)
    except KeyboardInterrupt:
        print("smimecore: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # the last line of defence; each cause is fixed where it arises
        print(
            f"smimecore: internal error ({type(exc).__name__}): {one_line(first_line(exc))}",
            file=sys.stderr,
        )
        return EXIT_USAGE

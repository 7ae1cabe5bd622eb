"""The fuzz targets: plain ``target(data: bytes) -> None`` functions, and their seeds.

atheris (``tests/fuzz/run.py``, ``make fuzz``) and hypothesis
(``tests/fuzz/test_fuzz.py``) call the same functions.  A target returns
normally when smimecore handled the input, a :class:`~smimecore.errors.SmimeError`
included; any other exception is a finding.  The verifying target also
raises :class:`ForgedContentError` when a message verifies ``DONE`` with
signed content that none of the seeds has: a signature check let a change
through.

Seeds are read in place from the vectors folder (never copied here); the
keys and certificates the targets decrypt and match with come from there
too.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from smimecore import SMIME, Config
from smimecore.cms.enveloped import decrypt_enveloped, parse_enveloped
from smimecore.cms.signed import parse_signed_data
from smimecore.engine.status import StatusRecord, format_status, parse_status
from smimecore.errors import SmimeError
from smimecore.keyring.directory import DirectoryKeyring
from smimecore.mime.entity import check_header_section, split_entity
from smimecore.mime.protected import decode_body
from smimecore.mime.signed import parse_signed
from smimecore.mime.transfer import canonical_crlf
from smimecore.mime.walk import find_protected_parts
from smimecore.pki.certificate import identity_of, load_certificates
from smimecore.pki.pem import find_pem_blocks
from tests.conftest import VECTORS

__all__ = ["TARGETS", "ForgedContentError", "seeds"]

RT = VECTORS / "request-tracker"
RT_PASSPHRASE = "123456"


class ForgedContentError(AssertionError):
    """A mutated message verified ``DONE`` with signed content no seed has."""


# -- MIME ----------------------------------------------------------------------


def mime_entity(data: bytes) -> None:
    """split_entity and everything read from its header section."""
    try:
        entity = split_entity(data)
        _ = entity.content_type, entity.header_lines(), entity.body_length
        _ = entity.field("content-transfer-encoding"), entity.fields("from")
        _ = entity.parameter("boundary"), entity.parameter("filename", "content-disposition")
        _ = entity.outer_header_lines, entity.content_header_lines
        check_header_section(entity)
    except SmimeError:
        pass


def mime_walk(data: bytes) -> None:
    """find_protected_parts: RT's rules for which parts are protected, over the whole tree."""
    try:
        find_protected_parts(data)
    except SmimeError:
        pass


def mime_signed(data: bytes) -> None:
    """parse_signed: multipart/signed and opaque signed-data taken apart."""
    try:
        signed = parse_signed(data)
        _ = signed.outer.outer_header_lines, signed.is_detached, signed.micalg
    except SmimeError:
        pass


# -- CMS -----------------------------------------------------------------------


def cms_signed(data: bytes) -> None:
    """parse_signed_data, every signer checked, every certificate's identity read."""
    try:
        signed = parse_signed_data(data)
    except SmimeError:
        return
    content = signed.content if signed.content is not None else _detached_content()
    signed.check_signers(lambda index: content if index == 0 else None)
    for certificate in signed.certificates:
        _read_identity(certificate)


def _detached_content() -> bytes:
    return b"This is some sample content."  # RFC 4134's ExContent.bin, for detached seeds


def _read_identity(certificate: x509.Certificate) -> None:
    identity = identity_of(certificate)
    _ = identity.email, identity.addresses, identity.user_string, identity.issuer_string
    _ = identity.serial, identity.created_timestamp, identity.expire_timestamp
    _ = identity.fingerprint, identity.version, identity.pem()
    _ = identity.subject_parts(), identity.issuer_parts()


def cms_enveloped(data: bytes) -> None:
    """parse_enveloped, recipients matched and decrypted with every known key."""
    try:
        message = parse_enveloped(data)
    except SmimeError:
        return
    for certificate, key in _decryption_keys():
        try:
            message.names(certificate)
            decrypt_enveloped(message, key, certificate).content  # noqa: B018
        except SmimeError:
            pass


@functools.cache
def _decryption_keys() -> tuple[tuple[x509.Certificate, Any], ...]:
    """(certificate, private key) of the vectors' recipients: RFC 4134 Bob, RFC 9216 Bob, Dana."""
    pairs = [
        ("rfc4134/BobRSASignByCarl.cer", "rfc4134/BobPrivRSAEncrypt.pri"),
        ("rfc9216/keys/lamps-bob.encrypt.crt", "rfc9216/keys/lamps-bob.decrypt.p8.pem"),
        ("rfc9216/keys/lamps-dana.encrypt.crt", "rfc9216/keys/lamps-dana.decrypt.p8.pem"),
        ("pyca-cryptography-pkcs7/ca/rsa_ca.pem", "pyca-cryptography-pkcs7/ca/rsa_key.pem"),
        ("openssl-cms-tests/smime-certs/smec3.pem", "openssl-cms-tests/smime-certs/smec3.pem"),
    ]
    found = []
    for certificate_name, key_name in pairs:
        certificate_path, key_path = VECTORS / certificate_name, VECTORS / key_name
        if certificate_path.exists() and key_path.exists():
            found.append((load_certificates(certificate_path.read_bytes())[0], _key(key_path)))
    return tuple(found)


def _key(path: Path) -> Any:
    data = path.read_bytes()
    blocks = [block for block in find_pem_blocks(data) if block.is_private_key]
    if blocks:
        return serialization.load_pem_private_key(blocks[0].text, None)
    return serialization.load_der_private_key(data, None)


# -- keyring and status --------------------------------------------------------

_KEYRING_SUFFIXES = (".pem", ".p12", ".pfx", ".crt")
_KEYRING_PASSPHRASES = (RT_PASSPHRASE, "no.secret", "password")
_KEYRING_ADDRESS = "fuzz@example.com"


def keyring_file(data: bytes) -> None:
    """A keyring directory holding one fuzzed file, read through DirectoryKeyring's methods.

    The first byte picks the file's suffix and the passphrase (see
    :func:`keyring_seed`); the rest is the file.
    """
    if not data:
        return
    suffix = _KEYRING_SUFFIXES[data[0] % len(_KEYRING_SUFFIXES)]
    passphrase = _KEYRING_PASSPHRASES[(data[0] // len(_KEYRING_SUFFIXES)) % 3]
    with tempfile.TemporaryDirectory(prefix="smimecore-fuzz-") as directory:
        (Path(directory) / f"{_KEYRING_ADDRESS}{suffix}").write_bytes(data[1:])
        keyring = DirectoryKeyring(Path(directory), passphrase)
        for call in (
            lambda: keyring.certificate_for(_KEYRING_ADDRESS, None),
            lambda: keyring.certificate_for(_KEYRING_ADDRESS, "encryption"),
            keyring.certificates,
            lambda: keyring.signing_identity(_KEYRING_ADDRESS),
            lambda: keyring.decryption_identity(_KEYRING_ADDRESS),
            lambda: keyring.addresses("signing"),
        ):
            try:
                call()
            except SmimeError:
                pass


def keyring_seed(path: Path) -> bytes:
    """A keyring file as :func:`keyring_file` reads it: suffix and passphrase byte, then the file."""
    suffix = path.suffix.lower() if path.suffix.lower() in _KEYRING_SUFFIXES else ".pem"
    passphrase = 1 if "mimekit" in path.parts else 2 if "nist-pkits" in path.parts else 0
    selector = _KEYRING_SUFFIXES.index(suffix) + passphrase * len(_KEYRING_SUFFIXES)
    return bytes([selector]) + path.read_bytes()


def status_text(data: bytes) -> None:
    """parse_status of any text (bytes read as UTF-8, undecodable ones replaced)."""
    try:
        parse_status(data.decode("utf-8", "replace"))
    except SmimeError:
        pass


# -- the engine, end to end ------------------------------------------------------


@functools.cache
def _engine() -> SMIME:
    """RT's test configuration (keyring, passphrases, demoCA), weak keys and untrusted CAs accepted.

    Accepting untrusted CAs lets every intact signature verify ``DONE``,
    which is what the forged-content check needs.
    """
    return SMIME(
        Config(
            keyring=RT / "keys",
            passphrase={"root@example.com": RT_PASSPHRASE, "sender@example.com": RT_PASSPHRASE},
            ca_path=RT / "keys" / "demoCA" / "cacert.pem",
            allow_weak_algorithms=True,
            accept_untrusted_cas=True,
            status_header="X-RT-SMIME-Status",
        )
    )


def verify_decrypt(data: bytes) -> None:
    """SMIME.verify_decrypt; a DONE verification must give the content of a seed."""
    try:
        result = _engine().verify_decrypt(data)
    except SmimeError:
        return
    if not (result.ok and _verified(result.statuses)):
        return
    parts = find_protected_parts(data)
    if not parts or (parts[0].start, parts[0].end) != (0, len(data)):
        return  # the protected part is inside: the rest of the message is not signed
    content = signed_content(result.data)
    if content not in _seed_contents():
        raise ForgedContentError(f"verified DONE with content no seed has: {content[:200]!r}")


def _verified(statuses: tuple[StatusRecord, ...]) -> bool:
    return any(record.operation == "Verify" for record in statuses)


def signed_content(data: bytes) -> bytes:
    """What a signature vouches for in an unwrapped message: Content-* fields and body, CRLF."""
    entity = split_entity(data)
    return canonical_crlf(b"\r\n".join(entity.content_header_lines) + b"\r\n\r\n" + entity.body)


@functools.cache
def _seed_contents() -> frozenset[bytes]:
    contents = set()
    for seed in seeds("verify_decrypt"):
        try:
            result = _engine().verify_decrypt(seed)
        except SmimeError:
            continue
        if result.ok and _verified(result.statuses):
            contents.add(signed_content(result.data))
    return frozenset(contents)


# -- seeds -----------------------------------------------------------------------


def _files(*patterns: str) -> Iterator[Path]:
    for pattern in patterns:
        yield from sorted(path for path in VECTORS.glob(pattern) if path.is_file())


_MAIL_PATTERNS = (
    "request-tracker/mails/*.eml",
    "rfc4134/*.eml",
    "mimekit/thunderbird-signed.txt",
    "mimekit/octet-stream-with-mixed-line-endings.dat",
    "openssl-cms-tests/smime-eml/*.eml",
    "nist-pkits/smime/*Valid*Test1*.eml",
)
_CMS_PATTERNS = (
    "rfc4134/*.bin",
    "rfc9216/cms-examples/binary/*.p7m",
    "openssl-cms-tests/80-test_cms_data/*",
    "openssl-cms-tests/cms-msg/*",
    "pyca-cryptography-pkcs7/*.der",
    "pyca-cryptography-pkcs7/*.pem",
    "pyca-cryptography-pkcs7/*.p7b",
    "pqc/lamps-cms-ml-dsa/*.pem",
)
_KEYRING_PATTERNS = (
    "request-tracker/keys/*.pem",
    "request-tracker/keys/*.crt",
    "request-tracker/keys/*.key",
    "mimekit/*.pfx",
    "mimekit/rsa/*",
    "mimekit/ec/*",
    "openssl-cms-tests/smime-certs/*.pem",
    "rfc9216/certs/*.pem",
    "pyca-cryptography-pkcs7/*san.pem",
    "nist-pkits/pkcs12/GoodCACert.p12",
    "nist-pkits/pkcs12/ValidCertificatePathTest1EE.p12",
)


def _mails() -> list[bytes]:
    return [path.read_bytes() for path in _files(*_MAIL_PATTERNS)]


def _cms_objects() -> list[bytes]:
    """DER CMS objects: the files (PEM ones decoded) and those inside the mails."""
    found = []
    for path in _files(*_CMS_PATTERNS):
        data = path.read_bytes()
        blocks = find_pem_blocks(data)
        found.extend(block.der() for block in blocks) if blocks else found.append(data)
    for mail in _mails():
        try:
            signed = parse_signed(mail)
            found.append(signed.signature)
        except SmimeError:
            try:
                found.append(decode_body(split_entity(mail), "the mail"))
            except SmimeError:
                pass
    return found


def _status_texts() -> list[bytes]:
    records = [
        StatusRecord("Verify", "DONE", "The signature is good", Trust="FULL", Serial="1"),
        StatusRecord("Decrypt", "ERROR", "Decryption failed", EncryptedTo="a@example.com"),
        StatusRecord("KeyCheck", "MISSING", "Secret key is not available", Key="x@example.com"),
    ]
    return [format_status(records).encode(), format_status(records[:1]).encode()]


_SEEDS: dict[str, Callable[[], list[bytes]]] = {
    "mime_entity": _mails,
    "mime_walk": _mails,
    "mime_signed": _mails,
    "cms_signed": _cms_objects,
    "cms_enveloped": _cms_objects,
    "keyring_file": lambda: [keyring_seed(path) for path in _files(*_KEYRING_PATTERNS)],
    "status_text": _status_texts,
    "verify_decrypt": _mails,
}


@functools.cache
def _cached_seeds(target: str) -> tuple[bytes, ...]:
    return tuple(_SEEDS[target]())


def seeds(target: str) -> tuple[bytes, ...]:
    """The seed inputs of ``target`` (empty when the vectors are absent)."""
    return _cached_seeds(target) if VECTORS.is_dir() else ()


TARGETS: dict[str, Callable[[bytes], None]] = {
    "mime_entity": mime_entity,
    "mime_walk": mime_walk,
    "mime_signed": mime_signed,
    "cms_signed": cms_signed,
    "cms_enveloped": cms_enveloped,
    "keyring_file": keyring_file,
    "status_text": status_text,
    "verify_decrypt": verify_decrypt,
}
"""Every target by name (the crash corpus has one folder per name)."""

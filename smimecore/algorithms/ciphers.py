"""Content-encryption ciphers of CMS: names, OIDs, parameters, and the ciphers themselves.

We encrypt with AES-CBC (EnvelopedData, RFC 3565), AES-GCM (RFC 5084) and
ChaCha20-Poly1305 (RFC 8103) (both AuthEnvelopedData, RFC 5083).  We also
decrypt 3DES-CBC and RC2-CBC (RFC 3370), reported as weak.

Every way decryption can go wrong once a key is in hand (bad padding, bad
tag, wrong key) raises :class:`DecryptionError` with the one message
``"Decryption failed"``, so that failures cannot be told apart.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.decrepit.ciphers.algorithms import RC2, TripleDES
from cryptography.hazmat.primitives.ciphers import (
    AEADEncryptionContext,
    Cipher,
    CipherAlgorithm,
    CipherContext,
    modes,
)
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.ciphers.algorithms import AES

from smimecore.algorithms.rc2 import rc2_cbc_decrypt
from smimecore.errors import DecryptionError, MalformedCMSError, UnsupportedAlgorithmError
from smimecore.pki.der import TAG_SEQUENCE, Cursor

__all__ = [
    "CONTENT_CIPHERS",
    "ENCRYPTION_CIPHERS",
    "ContentCipher",
    "ContentEncryptor",
    "ContentParameters",
    "content_cipher_by_name",
    "content_cipher_by_oid",
    "decrypt_content",
    "decrypt_content_view",
    "encrypt_content",
    "parse_parameters",
]

Mode = Literal["cbc", "gcm", "chacha20-poly1305"]
Bytes = bytes | bytearray | memoryview


@dataclass(frozen=True)
class ContentCipher:
    """A content-encryption algorithm by its OpenSSL-style ``name`` and OID."""

    name: str
    oid: str
    key_size: int
    mode: Mode
    block_size: int = 16
    weak: bool = False
    encrypts: bool = True

    @property
    def authenticated(self) -> bool:
        """An AEAD cipher, carried in AuthEnvelopedData."""
        return self.mode != "cbc"


@dataclass(frozen=True)
class ContentParameters:
    """The parameters read from a content-encryption AlgorithmIdentifier."""

    iv: bytes
    tag_length: int = 16
    effective_bits: int | None = None
    """RC2 only: the effective key length in bits."""

    def key_size(self, cipher: ContentCipher) -> int:
        """The content key length to expect (RC2 keys are as long as their effective bits)."""
        if self.effective_bits is not None:
            return (self.effective_bits + 7) // 8
        return cipher.key_size


CONTENT_CIPHERS: tuple[ContentCipher, ...] = (
    ContentCipher("aes-128-cbc", "2.16.840.1.101.3.4.1.2", 16, "cbc"),
    ContentCipher("aes-192-cbc", "2.16.840.1.101.3.4.1.22", 24, "cbc"),
    ContentCipher("aes-256-cbc", "2.16.840.1.101.3.4.1.42", 32, "cbc"),
    ContentCipher("aes-128-gcm", "2.16.840.1.101.3.4.1.6", 16, "gcm"),
    ContentCipher("aes-192-gcm", "2.16.840.1.101.3.4.1.26", 24, "gcm", encrypts=False),
    ContentCipher("aes-256-gcm", "2.16.840.1.101.3.4.1.46", 32, "gcm"),
    ContentCipher("chacha20-poly1305", "1.2.840.113549.1.9.16.3.18", 32, "chacha20-poly1305"),
    ContentCipher(
        "des-ede3-cbc", "1.2.840.113549.3.7", 24, "cbc", block_size=8, weak=True, encrypts=False
    ),
    ContentCipher(
        "rc2-cbc", "1.2.840.113549.3.2", 16, "cbc", block_size=8, weak=True, encrypts=False
    ),
)
"""Every content cipher we can decrypt."""

ENCRYPTION_CIPHERS: tuple[str, ...] = tuple(c.name for c in CONTENT_CIPHERS if c.encrypts)
"""Names of the ciphers we encrypt with."""

_BY_NAME = {cipher.name: cipher for cipher in CONTENT_CIPHERS}
_BY_OID = {cipher.oid: cipher for cipher in CONTENT_CIPHERS}
_ALIASES = {"des3": "des-ede3-cbc", "3des": "des-ede3-cbc", "rc2": "rc2-cbc"}

# RFC 3370 section 5.2 (from RFC 2268): rc2ParameterVersion -> effective key bits.
_RC2_VERSIONS = {160: 40, 120: 64, 58: 128}


def content_cipher_by_name(name: str, *, for_encryption: bool = False) -> ContentCipher:
    """The cipher called ``name`` (``aes-256-cbc``, ``AES-128-GCM``, ``des3``...)."""
    key = name.lower().replace("_", "-")
    cipher = _BY_NAME.get(_ALIASES.get(key, key))
    if cipher is None:
        raise UnsupportedAlgorithmError(name, "is not a supported content cipher")
    if for_encryption and not cipher.encrypts:
        raise UnsupportedAlgorithmError(name, "is only accepted when decrypting")
    return cipher


def content_cipher_by_oid(oid: str) -> ContentCipher | None:
    """The cipher with the dotted ``oid``, or ``None`` when we do not know it."""
    return _BY_OID.get(oid)


def parse_parameters(cipher: ContentCipher, parameters: bytes | None) -> ContentParameters:
    """Read the AlgorithmIdentifier parameters (``None`` if absent) of ``cipher``."""
    what = f"{cipher.name} parameters"
    if parameters is None:
        raise MalformedCMSError(f"{what} are missing")
    cursor = Cursor(parameters)
    if cipher.mode == "gcm":
        found = _gcm_parameters(cursor, what)
    elif cipher.name == "rc2-cbc":
        found = _rc2_parameters(cursor, what)
    else:
        found = ContentParameters(cursor.octets(what))
    cursor.finish(what)
    expected = 12 if cipher.mode == "chacha20-poly1305" else cipher.block_size
    if cipher.mode != "gcm" and len(found.iv) != expected:
        raise MalformedCMSError(f"{cipher.name} IV/nonce must be {expected} bytes")
    return found


def _gcm_parameters(cursor: Cursor, what: str) -> ContentParameters:
    """GCMParameters (RFC 5084): { aes-nonce OCTET STRING, aes-ICVlen INTEGER DEFAULT 12 }."""
    cursor.enter(TAG_SEQUENCE, what)
    nonce = cursor.octets(f"{what}.aes-nonce")
    tag_length = cursor.integer(f"{what}.aes-ICVlen") if cursor.more() else 12
    cursor.leave(what)
    if not 12 <= tag_length <= 16 or not 8 <= len(nonce) <= 64:
        raise MalformedCMSError("GCM nonce or ICV length is out of range (RFC 5084)")
    return ContentParameters(nonce, tag_length)


def _rc2_parameters(cursor: Cursor, what: str) -> ContentParameters:
    # RFC 3370 section 5.2: rc2ParameterVersion is mandatory (unlike RFC 8018,
    # where an absent version means 32 bits), so a bare IV is malformed.
    cursor.enter(TAG_SEQUENCE, what)
    version = cursor.integer(f"{what}.rc2ParameterVersion")
    iv = cursor.octets(f"{what}.iv")
    cursor.leave(what)
    bits = version if version >= 256 else _RC2_VERSIONS.get(version)
    if bits is None or bits > 1024:
        raise UnsupportedAlgorithmError(f"rc2-cbc version {version}", "is not supported")
    return ContentParameters(iv, effective_bits=bits)


def _encode_parameters(cipher: ContentCipher, iv: bytes) -> bytes:
    # DER by hand (what asn1crypto writes): OCTET STRING iv, or GCMParameters with a
    # 12-byte nonce and icv_len 16 (not the default 12, so it is written).
    octets = b"\x04" + bytes((len(iv),)) + iv
    if cipher.mode == "gcm":
        return b"\x30" + bytes((len(octets) + 3,)) + octets + b"\x02\x01\x10"
    return octets


def _block_algorithm(cipher: ContentCipher, key: bytes) -> CipherAlgorithm:
    if cipher.name == "des-ede3-cbc":
        return TripleDES(key)
    if cipher.name == "rc2-cbc":
        return RC2(key)
    return AES(key)


def encrypt_content(
    cipher: ContentCipher, key: bytes, content: Bytes
) -> tuple[bytes, memoryview, bytes | None]:
    """Encrypt ``content``; returns (DER parameters, ciphertext, tag or ``None``).

    A fresh IV / 12-byte nonce is drawn for each call.  The ciphertext is a
    view on the one buffer it was written to (no further copy).
    """
    encryptor = ContentEncryptor(cipher, key)
    buffer = bytearray(encryptor.ciphertext_length(len(content)))
    written = 0
    for piece in encryptor.update(content):
        buffer[written : written + len(piece)] = piece
        written += len(piece)
    last, tag = encryptor.finalize()
    buffer[written : written + len(last)] = last
    return encryptor.parameters, memoryview(buffer), tag


_PIECE = 256 * 1024  # content bytes encrypted per step of a stream: stays in cache for base64


class ContentEncryptor:
    """Encrypts content given in any number of pieces, a bounded step at a time.

    ``parameters`` is the DER of the algorithm parameters (with the fresh IV
    or nonce); :meth:`update` yields the ciphertext as views on one reused
    buffer (each valid until the next is taken); :meth:`finalize` gives the
    last ciphertext bytes (CBC padding included) and the tag of an AEAD.
    """

    def __init__(self, cipher: ContentCipher, key: bytes) -> None:
        if len(key) != cipher.key_size:
            raise ValueError("content-encryption key has the wrong length")
        self.cipher = cipher
        self._length = 0
        self._buffer = bytearray()
        self._pending: list[bytes] = []
        self._chacha: ChaCha20Poly1305 | None = None
        self._context: CipherContext | None = None
        self._gcm: AEADEncryptionContext | None = None
        if cipher.mode == "chacha20-poly1305":
            self._iv = os.urandom(12)
            self._chacha = ChaCha20Poly1305(key)
        elif cipher.mode == "gcm":
            self._iv = os.urandom(12)
            self._gcm = Cipher(AES(key), modes.GCM(self._iv)).encryptor()
            self._context = self._gcm
        else:
            self._iv = os.urandom(cipher.block_size)
            self._context = Cipher(_block_algorithm(cipher, key), modes.CBC(self._iv)).encryptor()
        self.parameters = _encode_parameters(cipher, self._iv)

    def __repr__(self) -> str:
        return f"ContentEncryptor({self.cipher.name})"

    def ciphertext_length(self, length: int) -> int:
        """How long the ciphertext of ``length`` content bytes is (tag not included)."""
        if self.cipher.mode == "cbc":
            return length + self.cipher.block_size - length % self.cipher.block_size
        return length

    def update(self, data: Bytes) -> Iterator[memoryview]:
        """Encrypt ``data``; the views yielded are reused, so use each before the next."""
        view = memoryview(data).cast("B")
        self._length += len(view)
        if self._context is None:
            self._pending.append(bytes(view))
            return
        if not view:
            return
        step = min(len(view), _PIECE)
        if len(self._buffer) < step + 15:
            self._buffer = bytearray(step + 15)
        out = memoryview(self._buffer)
        for start in range(0, len(view), step):
            written = self._context.update_into(view[start : start + step], self._buffer)
            if written:
                yield out[:written]

    def finalize(self) -> tuple[bytes, bytes | None]:
        """The last ciphertext bytes and the tag (``None`` for CBC); the key is dropped."""
        if self._chacha is not None:
            sealed = self._chacha.encrypt(self._iv, b"".join(self._pending), None)
            self._pending.clear()
            self._chacha = None
            return sealed[:-16], sealed[-16:]
        context, gcm = self._context, self._gcm
        if context is None:
            raise ValueError("the encryptor is finalized")
        self._context = self._gcm = None
        if gcm is not None:
            last = gcm.finalize()
            return last, gcm.tag
        block = self.cipher.block_size
        pad = block - self._length % block
        return context.update(bytes((pad,)) * pad) + context.finalize(), None


def decrypt_content(
    cipher: ContentCipher,
    key: bytes,
    parameters: ContentParameters,
    ciphertext: Bytes,
    *,
    tag: Bytes | None = None,
    aad: bytes | None = None,
) -> bytes:
    """Decrypt and check ``ciphertext``; raises :class:`DecryptionError` on any failure.

    For the AEAD ciphers nothing is returned before the tag has verified.
    """
    return bytes(decrypt_content_view(cipher, key, parameters, ciphertext, tag=tag, aad=aad))


def decrypt_content_view(
    cipher: ContentCipher,
    key: bytes,
    parameters: ContentParameters,
    ciphertext: Bytes,
    *,
    tag: Bytes | None = None,
    aad: bytes | None = None,
) -> memoryview:
    """:func:`decrypt_content`, the plaintext as a view on the buffer it was decrypted into."""
    if len(key) != parameters.key_size(cipher):
        raise DecryptionError()
    if cipher.mode == "cbc":
        return _decrypt_cbc(cipher, key, parameters, ciphertext)
    if tag is None or len(tag) != parameters.tag_length:
        raise DecryptionError()
    if cipher.mode == "gcm":
        return _decrypt_gcm(key, parameters.iv, ciphertext, bytes(tag), aad)
    try:
        opened = ChaCha20Poly1305(key).decrypt(parameters.iv, b"".join((ciphertext, tag)), aad)
    except InvalidTag:
        raise DecryptionError() from None
    return memoryview(opened)


def _decrypt_gcm(
    key: bytes, nonce: bytes, ciphertext: Bytes, tag: bytes, aad: bytes | None
) -> memoryview:
    decryptor = Cipher(AES(key), modes.GCM(nonce, tag, min_tag_length=len(tag))).decryptor()
    if aad is not None:
        decryptor.authenticate_additional_data(aad)
    buffer = bytearray(len(ciphertext) + 15)
    written = decryptor.update_into(ciphertext, buffer)
    try:
        decryptor.finalize()
    except InvalidTag:
        raise DecryptionError() from None
    return memoryview(buffer)[:written]


def _decrypt_cbc(
    cipher: ContentCipher, key: bytes, parameters: ContentParameters, ciphertext: Bytes
) -> memoryview:
    block = cipher.block_size
    if not ciphertext or len(ciphertext) % block:
        raise DecryptionError()
    bits = parameters.effective_bits
    if bits is not None and (bits != 128 or len(key) != 16):
        buffer = bytearray(rc2_cbc_decrypt(key, bits, parameters.iv, bytes(ciphertext)))
        written = len(buffer)
    else:
        decryptor = Cipher(_block_algorithm(cipher, key), modes.CBC(parameters.iv)).decryptor()
        buffer = bytearray(len(ciphertext) + block - 1)
        written = decryptor.update_into(ciphertext, buffer)
        decryptor.finalize()
    # PKCS#7 padding, checked on the last block as one integer with the same steps
    # whatever the padding byte is (no early exit to time); every failure is the
    # one DecryptionError.
    tail = int.from_bytes(buffer[written - block : written], "big")
    pad = tail & 0xFF
    mask, pattern = _PADDING_CHECKS[block][pad]
    if tail & mask != pattern:
        raise DecryptionError()
    return memoryview(buffer)[: written - pad]


def _padding_checks(block: int) -> tuple[tuple[int, int], ...]:
    """Per last byte: (mask, value) the last block must give; (0, 1) never matches."""
    return tuple(
        ((1 << 8 * pad) - 1, int.from_bytes(bytes((pad,)) * pad, "big"))
        if 1 <= pad <= block
        else (0, 1)
        for pad in range(256)
    )


_PADDING_CHECKS = {block: _padding_checks(block) for block in (8, 16)}

"""The DER written by hand agrees with asn1crypto and openssl, and the streamed forms with the whole.

The DER written by hand (parameters, SharedInfo, originator,
keyEncryptionAlgorithm) is what asn1crypto writes and reads back; the
streamed builder, base64 writer and MIME splitting give what the one-piece
forms give; the binary decrypts the streamed output.  (What the reader
reads is compared with asn1crypto in ``test_cms_reader_oracle.py``.)
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from asn1crypto import cms, core
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from smimecore import SMIME
from smimecore.algorithms import keyagreement
from smimecore.algorithms.ciphers import (
    ContentEncryptor,
    _encode_parameters,
    content_cipher_by_name,
    decrypt_content,
    parse_parameters,
)
from smimecore.cms.enveloped import (
    EncryptionRecipient,
    build_enveloped,
    decrypt_enveloped,
    enveloped_pieces,
)
from smimecore.demo.pki import DemoIdentity
from smimecore.errors import MalformedMessageError
from smimecore.mime.entity import split_entity
from smimecore.mime.protected import (
    split_for_protection,
    split_header,
    split_protected_parts,
)
from smimecore.mime.transfer import (
    base64_lines_length,
    encode_base64_lines,
    join_base64_lines,
    write_base64_lines,
)
from smimecore.pki.der import Cursor
from tests.envpki import CONTENT, Recipient


class _GcmParameters(core.Sequence):  # type: ignore[misc]
    """GCMParameters (RFC 5084) as asn1crypto declares structures."""

    _fields = [  # noqa: RUF012 - asn1crypto's declaration style
        ("nonce", core.OctetString),
        ("icv_len", core.Integer, {"default": 12}),
    ]


class _SharedInfo(core.Sequence):  # type: ignore[misc]
    """ECC-CMS-SharedInfo (RFC 5753 section 7.2)."""

    _fields = [  # noqa: RUF012
        ("key_info", core.Any),
        ("entity_u_info", core.OctetString, {"explicit": 0, "optional": True}),
        ("supp_pub_info", core.OctetString, {"explicit": 2}),
    ]


@pytest.mark.parametrize("kind", ["rsa2048", "p256", "p384"])
@pytest.mark.parametrize("options", [[], ["-keyid"], ["-aes-256-gcm"]])
def test_openssl_output_decrypts(
    people: dict[str, Recipient],
    kind: str,
    options: list[str],
    tmp_path: Path,
    openssl: Callable[..., subprocess.CompletedProcess[bytes]],
) -> None:
    certificate = tmp_path / "recipient.pem"
    certificate.write_bytes(people[kind].certificate.public_bytes(Encoding.PEM))
    cipher = [] if "-aes-256-gcm" in options else ["-aes256"]
    made = openssl(
        "cms", "-encrypt", "-binary", "-outform", "DER", *cipher, *options,
        "-recip", str(certificate), input=CONTENT,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    result = decrypt_enveloped(made.stdout, people[kind].key, people[kind].certificate)
    assert result.content == CONTENT


# ------------------------------------------------------------------ DER written by hand


@pytest.mark.parametrize("name", ["aes-128-cbc", "aes-256-cbc", "aes-256-gcm", "chacha20-poly1305"])
def test_parameters_are_what_asn1crypto_writes_and_reads(name: str) -> None:
    cipher = content_cipher_by_name(name)
    iv = os.urandom(12 if cipher.mode != "cbc" else 16)
    written = _encode_parameters(cipher, iv)
    if cipher.mode == "gcm":
        assert written == _GcmParameters({"nonce": iv, "icv_len": 16}).dump()
    else:
        assert written == core.OctetString(iv).dump()
    assert parse_parameters(cipher, written).iv == iv


def test_gcm_parameters_with_the_default_icv_length() -> None:
    cipher = content_cipher_by_name("aes-128-gcm")
    nonce = os.urandom(12)
    for given in (
        {"nonce": nonce},
        {"nonce": nonce, "icv_len": 12},
        {"nonce": nonce, "icv_len": 14},
    ):
        parsed = parse_parameters(cipher, _GcmParameters(given).dump(force=True))
        assert (parsed.iv, parsed.tag_length) == (nonce, given.get("icv_len", 12))


@pytest.mark.parametrize("kind", ["p256", "p384", "x25519"])
def test_key_agreement_der_is_what_asn1crypto_reads(
    people: dict[str, Recipient], kind: str
) -> None:
    public_key = people[kind].certificate.public_key()
    key = os.urandom(32)
    originator, algorithm, encrypted = keyagreement.agree_and_wrap(public_key, key)  # type: ignore[arg-type]
    parsed_originator = cms.OriginatorIdentifierOrKey.load(originator)
    parsed_algorithm = cms.KeyEncryptionAlgorithm.load(algorithm)
    assert parsed_originator.dump(force=True) == originator
    assert parsed_algorithm.dump(force=True) == algorithm
    read = Cursor(algorithm).algorithm("keyEncryptionAlgorithm")
    agreement = keyagreement.key_agreement(read)
    expected_hash = {"p256": "sha256", "p384": "sha384", "x25519": "sha256"}[kind]
    expected_kdf = "hkdf" if kind == "x25519" else "x963"
    assert agreement.name == f"ecdh-{expected_kdf}-{expected_hash}+aes256-wrap"
    assert agreement.wrap_der == parsed_algorithm["parameters"].dump()
    key_info = parsed_originator.chosen
    point = (key_info["algorithm"]["algorithm"].dotted, key_info["public_key"].contents[1:])
    private_key = people[kind].key
    assert keyagreement.originator_fits(private_key, point)  # type: ignore[arg-type]
    unwrapped = keyagreement.unwrap_agreed(private_key, agreement, point, None, encrypted)  # type: ignore[arg-type]
    assert unwrapped == key


@pytest.mark.parametrize("ukm", [None, b"user keying material"])
@pytest.mark.parametrize("size", [16, 24, 32])
def test_shared_info_is_what_asn1crypto_writes(
    ukm: bytes | None, size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bytes] = []

    def kdf(hash_name: str, shared: bytes, shared_info: bytes, length: int) -> bytes:
        seen.append(shared_info)
        return bytes(length)

    monkeypatch.setattr(keyagreement, "_x963_kdf", kdf)
    wrap = keyagreement._WRAP_DER[size]
    scheme = keyagreement._SCHEMES["1.3.132.1.11.1"]
    keyagreement._derive(scheme, b"secret", wrap, size, ukm)
    fields: dict[str, object] = {
        "key_info": core.Any.load(wrap),
        "supp_pub_info": (size * 8).to_bytes(4, "big"),
    }
    if ukm is not None:
        fields["entity_u_info"] = ukm
    assert seen == [bytes(_SharedInfo(fields).dump())]


# ------------------------------------------------------------------ streaming


@pytest.mark.parametrize("name", ["aes-256-cbc", "aes-128-gcm", "chacha20-poly1305"])
@pytest.mark.parametrize("sizes", [[0], [1, 15, 16, 17], [300_000, 5, 700_001]])
def test_encryptor_in_pieces_decrypts(name: str, sizes: list[int]) -> None:
    cipher = content_cipher_by_name(name)
    key = os.urandom(cipher.key_size)
    parts = [os.urandom(size) for size in sizes]
    encryptor = ContentEncryptor(cipher, key)
    pieces = [bytes(piece) for part in parts for piece in encryptor.update(part)]
    last, tag = encryptor.finalize()
    ciphertext = b"".join([*pieces, last])
    assert len(ciphertext) == encryptor.ciphertext_length(sum(sizes))
    parameters = parse_parameters(cipher, encryptor.parameters)
    assert decrypt_content(cipher, key, parameters, ciphertext, tag=tag) == b"".join(parts)


def test_pieces_join_to_the_built_der(people: dict[str, Recipient]) -> None:
    content = os.urandom(600_000)
    spec = [EncryptionRecipient(people["rsa2048"].certificate)]
    length, pieces = enveloped_pieces([content[:10], content[10:]], len(content), spec)
    der = b"".join(bytes(piece) for piece in pieces)
    assert len(der) == length
    person = people["rsa2048"]
    assert decrypt_enveloped(der, person.key, person.certificate).content == content
    assert len(build_enveloped(content, spec)) == length


def test_wrong_content_length_is_caught(people: dict[str, Recipient]) -> None:
    spec = [EncryptionRecipient(people["rsa2048"].certificate)]
    _, pieces = enveloped_pieces([b"abc"], 20, spec)  # 16 bytes of ciphertext, not 32
    with pytest.raises(RuntimeError):
        list(pieces)


@pytest.mark.parametrize("sizes", [[0], [5], [48 * 1024 - 1, 2], [100, 48 * 1024 * 3 + 7, 33, 1]])
def test_base64_of_pieces_is_base64_of_the_whole(sizes: list[int]) -> None:
    parts = [os.urandom(size) for size in sizes]
    whole = b"".join(parts)
    out: list[bytes] = []
    write_base64_lines(out.append, parts)
    assert b"".join(out) == encode_base64_lines(whole)
    joined = join_base64_lines(b"head\r\n", parts, len(whole))
    assert joined == b"head\r\n" + encode_base64_lines(whole)
    assert len(encode_base64_lines(whole)) == base64_lines_length(len(whole))
    # a wrong size only sizes the buffer: the result is the same
    assert join_base64_lines(b"", parts, len(whole) + 1000) == encode_base64_lines(whole)


# ------------------------------------------------------------------ MIME splitting

MESSAGES = [
    b"From: a@b\nTo: c@d\nSubject: x\n\nbody\nline\n",
    b"From: a@b\r\nContent-Type: text/plain\r\n\r\nbody\r\nline\r\n",
    b"From: a@b\nContent-Type: text/plain\n\nmixed\r\nline\rend\n",
    b"From: a@b\nSubject: folded\n  more\n\n",
    b"\nbody only\n",
    b"\r\nbody only\r\n",
    b"From: a@b\nX: y",
    b"From: a@b\n\n" + b"x" * 600_000 + b"\n" + "\u00e9".encode() * 10,
    b"From: a@b\r\n\r\n" + b"line\r\n" * 100_000,
]


@pytest.mark.parametrize("raw", MESSAGES, ids=range(len(MESSAGES)))
def test_split_header_is_split_entity(raw: bytes) -> None:
    expected = split_entity(raw)
    headers, start = split_header(raw)
    assert headers.header_block == expected.header_block
    assert raw[start:] == expected.body
    view_headers, view_start = split_header(memoryview(raw))
    assert (view_headers.header_block, view_start) == (headers.header_block, start)


@pytest.mark.parametrize("raw", MESSAGES, ids=range(len(MESSAGES)))
def test_protected_parts_join_to_the_protected_entity(raw: bytes) -> None:
    outer, entity = split_for_protection(raw)
    parts_outer, length, pieces = split_protected_parts(raw)
    joined = b"".join(bytes(piece) for piece in pieces)
    assert (parts_outer, joined, length) == (outer, entity, len(entity))


def test_malformed_message_is_reported_before_recipients(smime: SMIME) -> None:
    with pytest.raises(MalformedMessageError):
        smime.encrypt(b"no header section at all", recipients=["nobody@example.org"])


@pytest.mark.parametrize(
    "raw", [MESSAGES[7], MESSAGES[8], MESSAGES[2]], ids=["lf", "crlf", "mixed"]
)
def test_large_messages_decrypt_with_openssl(
    smime: SMIME,
    raw: bytes,
    tmp_path: Path,
    openssl: Callable[..., subprocess.CompletedProcess[bytes]],
    identities: dict[str, DemoIdentity],
) -> None:
    """The streamed output (several chunks, a straddling DER header) is what the binary reads."""
    identity = identities["rsa2048"]
    key = tmp_path / "key.pem"
    key.write_bytes(
        identity.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())  # type: ignore[union-attr]
    )
    certificate = tmp_path / "cert.pem"
    certificate.write_bytes(identity.certificate.public_bytes(Encoding.PEM))
    encrypted = smime.encrypt(raw, recipients=[], certificates=[identity.certificate]).data
    done = openssl(
        "cms", "-decrypt", "-binary", "-recip", str(certificate), "-inkey", str(key),
        input=encrypted,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == split_for_protection(raw)[1]

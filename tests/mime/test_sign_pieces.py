"""Signing a message in pieces: the canonical entity is hashed and written without being joined.

The pieces must be exactly the entity :func:`split_for_protection` makes (the
reference), the multipart boundary must not occur anywhere in them (also
across two pieces), and large signed messages must verify with openssl.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from smimecore import SMIME
from smimecore.mime.protected import protected_entity_pieces, split_for_protection
from smimecore.mime.signed import _occurs_in, parse_signed
from tests.cms.test_enveloped_fast_paths import MESSAGES

OpenSSL = Callable[..., subprocess.CompletedProcess[bytes]]
SIGNER = "rsa2048@test.example"


@pytest.mark.parametrize("raw", MESSAGES, ids=range(len(MESSAGES)))
def test_pieces_join_to_the_protected_entity(raw: bytes) -> None:
    outer, entity = split_for_protection(raw)
    pieces_outer, pieces = protected_entity_pieces(raw)
    assert pieces_outer == outer
    assert b"".join(bytes(piece) for piece in pieces) == entity


def test_a_needle_across_two_pieces_is_found() -> None:
    needle = b"----smimecore-boundary"
    text = b"x" * 100 + needle + b"y" * 100
    for cut in range(95, 125):
        assert _occurs_in(needle, [text[:cut], memoryview(text)[cut:]])
        assert _occurs_in(needle, [text[:cut], b"", text[cut:]])
    assert _occurs_in(needle, [b"ab", needle[:3], needle[3:10], needle[10:], b"cd"])
    assert not _occurs_in(needle, [text.replace(needle, b"-" * len(needle))])
    assert not _occurs_in(needle, [needle[:-1], b"X" + needle[-1:]])


@pytest.mark.parametrize("opaque", [False, True], ids=["detached", "opaque"])
@pytest.mark.parametrize(
    "raw",
    [MESSAGES[7], MESSAGES[8], MESSAGES[2] + b"mixed\r\nand\rbare\n" * 50_000],
    ids=["lf", "crlf", "mixed"],
)
def test_large_signed_messages_verify_with_openssl(
    smime: SMIME, openssl: OpenSSL, pki_dir: Path, raw: bytes, opaque: bool, tmp_path: Path
) -> None:
    # Unprepared, so that the entity signed in pieces is the reference split (the 8-bit long
    # line of MESSAGES[7] would otherwise be re-encoded first).
    signed = smime.sign(raw, signer=SIGNER, opaque=opaque, prepare_for_transport=False).data
    message_file = tmp_path / "signed.eml"
    message_file.write_bytes(signed)
    done = openssl("smime", "-verify", "-in", str(message_file), "-CAfile", str(pki_dir / "ca.pem"))
    assert done.returncode == 0, done.stderr
    entity = split_for_protection(raw)[1]
    assert done.stdout.replace(b"\r\n", b"\n") == entity.replace(b"\r\n", b"\n")
    if not opaque:
        assert bytes(parse_signed(signed).content or b"") == entity
    assert smime.verify(signed).ok

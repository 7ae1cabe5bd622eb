"""Hostile CMS input (issue 11): only smimecore errors, and work linear in the input.

Each small input below made the readers of old raise an exception that was
not smimecore's (found by fuzzing); RecipientInfos naming the recipient
by the thousand cost time linear in their number and a bounded number of
private-key operations.
"""

from __future__ import annotations

import gc
import os
import time

import pytest
from asn1crypto import algos, cms, core

from smimecore.algorithms.digests import digest_by_name
from smimecore.algorithms.keytransport import key_transport
from smimecore.cms.enveloped import (
    MAX_DECRYPTION_ATTEMPTS,
    EncryptionRecipient,
    build_enveloped,
    decrypt_enveloped,
    parse_enveloped,
)
from smimecore.cms.signed import SigningIdentity, build_signed_data, parse_signed_data
from smimecore.demo.pki import DemoIdentity
from smimecore.errors import (
    DecryptionError,
    MalformedCMSError,
    NoUsableRecipientError,
    UnsupportedAlgorithmError,
)
from smimecore.pki.der import TAG_SEQUENCE, TAG_SET, Cursor, ReaderLimits, encode_tlv
from tests.cms.test_cms_reader_oracle import replace_element
from tests.envpki import CONTENT, Recipient


def _with_kekri(der: bytes) -> cms.ContentInfo:
    """``der``'s EnvelopedData with a kekri beside its ktri (the old readers then handed the
    whole SET to asn1crypto, whose lazy parsing raised when decrypting)."""
    info = cms.ContentInfo.load(der)
    ktri = info["content"]["recipient_infos"][0]
    kekri = cms.RecipientInfo(
        name="kekri",
        value={
            "version": "v4",
            "kekid": {"key_identifier": b"kek"},
            "key_encryption_algorithm": {"algorithm": "aes128_wrap"},
            "encrypted_key": os.urandom(24),
        },
    )
    info["content"]["recipient_infos"] = cms.RecipientInfos([ktri, kekri])
    return info


def test_a_kekri_beside_a_ktri_is_identified_and_the_ktri_decrypts(
    people: dict[str, Recipient],
) -> None:
    rsa = people["rsa2048"]
    info = _with_kekri(build_enveloped(CONTENT, [EncryptionRecipient(rsa.certificate)]))
    parsed = parse_enveloped(info.dump(force=True))
    assert [entry.kind for entry in parsed.recipients] == ["ktri", "kekri"]
    kek = parsed.recipients[1]
    assert (kek.key_encryption, kek.supported, kek.other) == (
        "2.16.840.1.101.3.4.1.5",
        False,
        b"kek",
    )
    assert decrypt_enveloped(parsed, rsa.key, rsa.certificate).content == CONTENT


def test_a_ktri_encrypted_key_that_is_not_an_octet_string(people: dict[str, Recipient]) -> None:
    """Was ValueError from cms/enveloped.py (key transport)."""
    rsa = people["rsa2048"]
    info = _with_kekri(build_enveloped(CONTENT, [EncryptionRecipient(rsa.certificate)]))
    der = info.dump(force=True)
    encrypted_key = info["content"]["recipient_infos"][0].chosen["encrypted_key"].dump()
    broken = der.replace(encrypted_key, b"\x05" + encrypted_key[1:])
    with pytest.raises(
        MalformedCMSError,
        match=r"^KeyTransRecipientInfo.encryptedKey: expected OCTET STRING, got NULL$",
    ):
        decrypt_enveloped(broken, rsa.key, rsa.certificate)


def test_oaep_with_a_hash_cryptography_refuses_for_oaep(people: dict[str, Recipient]) -> None:
    """Was cryptography's UnsupportedAlgorithm from algorithms/keytransport.py."""
    rsa = people["rsa2048"]
    info = cms.ContentInfo.load(
        build_enveloped(CONTENT, [EncryptionRecipient(rsa.certificate, rsa_oaep=True)])
    )
    sha3 = {"algorithm": "sha3_256", "parameters": None}
    algorithm = info["content"]["recipient_infos"][0].chosen["key_encryption_algorithm"]
    algorithm["parameters"] = algos.RSAESOAEPParams(
        {"hash_algorithm": sha3, "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": sha3}}
    )
    message = parse_enveloped(info.dump(force=True))
    (entry,) = message.recipients
    assert not entry.supported and entry.key_encryption == "1.2.840.113549.1.1.7"
    with pytest.raises(NoUsableRecipientError):
        decrypt_enveloped(message, rsa.key, rsa.certificate)
    assert entry.algorithm is not None
    with pytest.raises(UnsupportedAlgorithmError, match="RSAES-OAEP with sha3_256"):
        key_transport(entry.algorithm)


# A fuzzed RSASSA-PSS signatureAlgorithm: the MGF1 hash's OID is cut, asn1crypto's ``.native``
# of what follows raised AttributeError ("'ObjectDescriptor' object has no attribute 'native'").
_FUZZED_PSS = bytes.fromhex(
    "304106092a864886f70d01010a3034a00f300d06096086480165030402010500a11c301a06092a864886f70d"
    "010108300d06026086480165030402010500a203020120"
)
_PSS = core.ObjectIdentifier("1.2.840.113549.1.1.10").dump()
_SHA256_RSA = core.ObjectIdentifier("1.2.840.113549.1.1.11").dump()


@pytest.mark.parametrize(
    ("algorithm", "problem"),
    [
        (_FUZZED_PSS, "maskGenAlgorithm.parameters.algorithm: malformed OBJECT IDENTIFIER"),
        (encode_tlv(TAG_SEQUENCE, _PSS, b"\x09\x01\x00"), "RSASSA-PSS-params: expected SEQUENCE"),
        (encode_tlv(TAG_SEQUENCE, _PSS, b"\x04\x01\x00"), "PSS-params: expected SEQUENCE, got OCT"),
        (encode_tlv(TAG_SEQUENCE, _PSS, b"\x30\x03\x02\x01\x00"), "unexpected INTEGER after"),
        (encode_tlv(TAG_SEQUENCE, _SHA256_RSA, b"\x09\x01\x00"), "must be absent or NULL"),
        (encode_tlv(TAG_SEQUENCE, _SHA256_RSA, b"\x28\x00"), "must be absent or NULL"),
    ],
    ids=["fuzzed", "pss-real", "pss-octets", "pss-integer-inside", "rsa-real", "rsa-instance-of"],
)
def test_signature_algorithm_parameters_of_another_type(
    identities: dict[str, DemoIdentity], algorithm: bytes, problem: str
) -> None:
    """Were AttributeError from cms/signed.py (asn1crypto's ``.native`` of them)."""
    rsa = identities["rsa2048"]
    identity = SigningIdentity(rsa.key, rsa.certificate)  # type: ignore[arg-type]
    der = build_signed_data(CONTENT, identity, digest=digest_by_name("sha256"), detached=False)
    old = cms.ContentInfo.load(der)["content"]["signer_infos"][0]["signature_algorithm"].dump()
    mangled = replace_element(der, old, algorithm)
    (check,) = parse_signed_data(mangled).check_signers(
        lambda index: CONTENT if index == 0 else None
    )
    assert isinstance(check.error, MalformedCMSError)
    assert not check.ok
    with pytest.raises(MalformedCMSError, match=problem):
        raise check.error


# ------------------------------------------------------------------ linear work


def _many_recipient_infos(people: dict[str, Recipient], count: int, *, same: bool) -> bytes:
    """An EnvelopedData whose ``count`` ktris all name the RSA recipient, with encrypted keys
    that are all different (``same``: all equal), none of them the real one."""
    rsa = people["rsa2048"]
    der = build_enveloped(CONTENT, [EncryptionRecipient(rsa.certificate)])
    info = cms.ContentInfo.load(der)
    ktri = info["content"]["recipient_infos"][0].dump()
    encrypted_key = info["content"]["recipient_infos"][0].chosen["encrypted_key"].native
    fixed = os.urandom(len(encrypted_key))
    entries = [
        ktri.replace(encrypted_key, fixed if same else os.urandom(len(encrypted_key)))
        for _ in range(count)
    ]
    old_set = info["content"]["recipient_infos"].dump()
    return replace_element(der, old_set, encode_tlv(TAG_SET, *entries))


def _time_to_fail(people: dict[str, Recipient], der: bytes) -> float:
    # CPU time of this process (another process loading the machine does not count), without
    # the garbage collector, whose passes cost what the whole test session holds, not this work.
    rsa = people["rsa2048"]
    limits = ReaderLimits(max_recipient_infos=20_000)
    gc.collect()
    gc.disable()
    try:
        start = time.process_time()
        message = parse_enveloped(der, limits)
        with pytest.raises(DecryptionError, match=r"^Decryption failed$"):
            decrypt_enveloped(message, rsa.key, rsa.certificate)
        elapsed = time.process_time() - start
    finally:
        gc.enable()
    assert message.attempts.failed == MAX_DECRYPTION_ATTEMPTS
    return elapsed


def test_recipient_info_matching_is_linear(people: dict[str, Recipient]) -> None:
    """16,000 RecipientInfos naming the recipient cost under 20x what 1,000 do (linear: 16x)."""
    small = _many_recipient_infos(people, 1_000, same=False)
    large = _many_recipient_infos(people, 16_000, same=False)
    _time_to_fail(people, small)  # warm up
    small_time = min(_time_to_fail(people, small) for _ in range(5))
    large_time = min(_time_to_fail(people, large) for _ in range(3))
    assert large_time < 20 * small_time, (small_time, large_time)


def test_equal_recipient_infos_cost_one_private_key_operation(
    people: dict[str, Recipient],
) -> None:
    rsa = people["rsa2048"]
    message = parse_enveloped(_many_recipient_infos(people, 500, same=True))
    with pytest.raises(DecryptionError, match=r"^Decryption failed$"):
        decrypt_enveloped(message, rsa.key, rsa.certificate)
    assert message.attempts.failed == 1


def test_the_attempts_are_counted_per_message_whatever_the_key(
    people: dict[str, Recipient],
) -> None:
    """Once ``max_attempts`` have failed, no key is tried on the message, not even the right one."""
    rsa = people["rsa2048"]
    der = build_enveloped(CONTENT, [EncryptionRecipient(rsa.certificate)])
    message = parse_enveloped(der)
    other = people["p256"]  # a kari recipient is not in this message: nothing is tried
    with pytest.raises(NoUsableRecipientError):
        decrypt_enveloped(message, other.key, other.certificate)
    wrong = parse_enveloped(_many_recipient_infos(people, 3, same=False))
    for _ in range(2):
        with pytest.raises(DecryptionError):
            decrypt_enveloped(wrong, rsa.key, rsa.certificate, max_attempts=4)
    assert wrong.attempts.failed == 4
    assert decrypt_enveloped(message, rsa.key, rsa.certificate, max_attempts=1).content == CONTENT
    assert decrypt_enveloped(message, rsa.key, rsa.certificate, max_attempts=1).content == CONTENT


def test_cursor_depth_is_limited() -> None:
    nested = b"\x30\x80" * 40 + b"\x00\x00" * 40
    with pytest.raises(MalformedCMSError, match="nested too deeply"):
        Cursor(nested, ReaderLimits(max_depth=32)).head("deep")

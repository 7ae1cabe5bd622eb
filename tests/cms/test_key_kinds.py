"""A decryption key's kind, found once per key class, decides what it may decrypt.

The kinds are remembered by class (``kind_of_class``) rather than asked of
each key with ``isinstance``: these tests pin the answers, including for
keys of a kind no RecipientInfo takes and for a repeated question.
"""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519

from smimecore.algorithms import keyagreement
from smimecore.cms.enveloped import EncryptionRecipient, build_enveloped, decrypt_enveloped
from smimecore.errors import NoUsableRecipientError, UnsupportedAlgorithmError
from smimecore.lazy import kind_of_class
from tests.envpki import CONTENT, Recipient

_EC_OID = "1.2.840.10045.2.1"
_X25519_OID = "1.3.101.110"


def test_kind_of_class_takes_the_first_base_and_remembers_it() -> None:
    class Base:
        pass

    class Derived(Base):
        pass

    known: dict[type, str | None] = {}
    kinds = (("base", Base), ("object", object))
    assert kind_of_class(Derived, kinds, known) == "base"
    assert kind_of_class(int, (("base", Base),), known) is None
    assert known == {Derived: "base", int: None}
    assert kind_of_class(Derived, (), known) == "base"  # remembered, not asked again


def test_originator_fits_by_key_kind() -> None:
    p256 = ec.generate_private_key(ec.SECP256R1())
    x_key = x25519.X25519PrivateKey.generate()
    for _ in range(2):  # the second answer comes from the remembered kind
        assert keyagreement.originator_fits(p256, (_EC_OID, b""))
        assert not keyagreement.originator_fits(p256, (_X25519_OID, b""))
        assert keyagreement.originator_fits(x_key, (_X25519_OID, b""))
        assert not keyagreement.originator_fits(x_key, (_EC_OID, b""))
        assert not keyagreement.originator_fits(x_key, None)


def test_a_key_of_no_agreement_kind_is_refused_by_the_exchange() -> None:
    """Any other key is taken for an EC key by the originator test, then refused."""
    other = ed25519.Ed25519PrivateKey.generate()
    assert keyagreement.originator_fits(other, (_EC_OID, b""))  # type: ignore[arg-type]
    agreement = keyagreement.KeyAgreement(
        keyagreement._SCHEMES["1.3.132.1.11.1"], keyagreement._WRAP_DER[32], 32
    )
    with pytest.raises(UnsupportedAlgorithmError, match="does not match the recipient's key type"):
        keyagreement.unwrap_agreed(other, agreement, (_EC_OID, b"\x04"), None, b"")  # type: ignore[arg-type]


def test_cofactor_schemes_need_a_nist_curve_key() -> None:
    cofactor = next(iter(keyagreement._COFACTOR_OIDS))
    agreement = keyagreement.KeyAgreement(
        keyagreement._SCHEMES[cofactor], keyagreement._WRAP_DER[32], 32
    )
    x_key = x25519.X25519PrivateKey.generate()
    with pytest.raises(UnsupportedAlgorithmError, match="only supported on NIST curves"):
        keyagreement.unwrap_agreed(x_key, agreement, (_X25519_OID, bytes(32)), None, b"")


@pytest.mark.parametrize(("sent_to", "key_of"), [("p256", "rsa2048"), ("rsa2048", "p256")])
def test_a_key_of_another_kind_finds_no_usable_recipient(
    people: dict[str, Recipient], sent_to: str, key_of: str
) -> None:
    message = build_enveloped(CONTENT, [EncryptionRecipient(people[sent_to].certificate)])
    for _ in range(2):
        with pytest.raises(NoUsableRecipientError):
            decrypt_enveloped(message, people[key_of].key)
    assert bytes(decrypt_enveloped(message, people[sent_to].key).plaintext) == CONTENT


def test_each_kind_decrypts_its_own(people: dict[str, Recipient]) -> None:
    for kind in ("rsa2048", "p256", "x25519"):
        message = build_enveloped(
            CONTENT + os.urandom(4), [EncryptionRecipient(people[kind].certificate)]
        )
        content = decrypt_enveloped(message, people[kind].key, people[kind].certificate)
        assert content.matched_by_identifier

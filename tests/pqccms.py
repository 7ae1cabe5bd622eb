"""Minimal readers for the post-quantum CMS vectors, independent of smimecore's CMS layer.

They pull out just what the algorithm-level tests need (signed attributes,
signature, signer certificate; KEMRecipientInfo fields and encrypted
content) with asn1crypto's generic CMS types.  Certificates are handed to
``cryptography`` as DER: asn1crypto cannot parse ML-DSA public keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from asn1crypto import cms, core, pem
from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric import mlkem
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap

from smimecore.algorithms.digests import DigestAlgorithm, digest_by_name
from smimecore.algorithms.kem import KemWrapped


def content_info(path: Path | bytes) -> cms.ContentInfo:
    """The ContentInfo of a PEM or DER file (or of its bytes)."""
    data = path if isinstance(path, bytes) else path.read_bytes()
    if pem.detect(data):
        _, _, data = pem.unarmor(data)
    return cms.ContentInfo.load(data)


@dataclass(frozen=True)
class SignedParts:
    """What checking one SignerInfo's signature takes."""

    signature_algorithm: cms.SignedDigestAlgorithm
    digest: DigestAlgorithm
    signed_attributes: bytes  # DER, with the SET OF tag (RFC 5652 section 5.4)
    signature: bytes
    message_digest: bytes
    content: bytes
    certificates: tuple[x509.Certificate, ...]


def signed_parts(path: Path | bytes) -> SignedParts:
    """The first SignerInfo of a SignedData file (or bytes), and its content and certificates."""
    signed_data = content_info(path)["content"]
    signer = signed_data["signer_infos"][0]
    attributes = signer["signed_attrs"]
    message_digest = next(
        attribute["values"][0].native
        for attribute in attributes
        if attribute["type"].native == "message_digest"
    )
    certificates = tuple(
        x509.load_der_x509_certificate(choice.chosen.dump())
        for choice in signed_data["certificates"] or ()
    )
    return SignedParts(
        signature_algorithm=signer["signature_algorithm"],
        digest=digest_by_name(signer["digest_algorithm"]["algorithm"].dotted),
        signed_attributes=b"\x31" + attributes.dump()[1:],
        signature=signer["signature"].native,
        message_digest=message_digest,
        content=signed_data["encap_content_info"]["content"].native,
        certificates=certificates,
    )


class _AlgorithmIdentifier(core.Sequence):  # type: ignore[misc]
    _fields = [  # noqa: RUF012
        ("algorithm", core.ObjectIdentifier),
        ("parameters", core.Any, {"optional": True}),
    ]


class KEMRecipientInfo(core.Sequence):  # type: ignore[misc]
    """RFC 9629 section 3."""

    _fields = [  # noqa: RUF012
        ("version", core.Integer),
        ("rid", cms.RecipientIdentifier),
        ("kem", _AlgorithmIdentifier),
        ("kemct", core.OctetString),
        ("kdf", _AlgorithmIdentifier),
        ("kek_length", core.Integer),
        ("ukm", core.OctetString, {"explicit": 0, "optional": True}),
        ("wrap", _AlgorithmIdentifier),
        ("encrypted_key", core.OctetString),
    ]


class _GcmParameters(core.Sequence):  # type: ignore[misc]
    """GCMParameters (RFC 5084)."""

    _fields = [  # noqa: RUF012
        ("nonce", core.OctetString),
        ("icv_length", core.Integer, {"default": 12}),
    ]


@dataclass(frozen=True)
class KemMessage:
    """One KEMRecipientInfo of an (auth-)enveloped file, and how to open its content."""

    recipient: KemWrapped
    authenticated: bool
    encrypted_content_info: cms.EncryptedContentInfo
    mac: bytes | None

    def decrypt(self, content_key: bytes) -> bytes:
        """The content, decrypted with ``content_key`` (AES-CBC, or AES-GCM when authenticated)."""
        algorithm = self.encrypted_content_info["content_encryption_algorithm"]
        ciphertext = self.encrypted_content_info["encrypted_content"].native
        if self.authenticated:
            nonce = _GcmParameters.load(algorithm["parameters"].dump())["nonce"].native
            assert self.mac is not None
            return AESGCM(content_key).decrypt(nonce, ciphertext + self.mac, None)
        iv = algorithm["parameters"].native
        decryptor = Cipher(algorithms.AES(content_key), modes.CBC(iv)).decryptor()
        padded = decryptor.update(ciphertext) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        return unpadder.update(padded) + unpadder.finalize()


def kem_message(path: Path) -> KemMessage:
    """The first RecipientInfo of an EnvelopedData or AuthEnvelopedData file, a KEMRecipientInfo."""
    data = path.read_bytes()
    assert cms.ContentInfo.load(data)["content"]["recipient_infos"][0].name == "ori"
    return kem_messages(data)[0]


class _OtherInfo(core.Sequence):  # type: ignore[misc]
    """CMSORIforKEMOtherInfo (RFC 9629 section 5), declared here apart from smimecore's."""

    _fields = [  # noqa: RUF012
        ("wrap", _AlgorithmIdentifier),
        ("kek_length", core.Integer),
        ("ukm", core.OctetString, {"explicit": 0, "optional": True}),
    ]


_HKDF_HASHES = {
    "1.2.840.113549.1.9.16.3.28": hashes.SHA256,
    "1.2.840.113549.1.9.16.3.29": hashes.SHA384,
    "1.2.840.113549.1.9.16.3.30": hashes.SHA512,
}


def independent_unwrap(
    private_key: mlkem.MLKEM768PrivateKey | mlkem.MLKEM1024PrivateKey, recipient: KemWrapped
) -> bytes:
    """The content key of a KEMRecipientInfo, by RFC 9629 with ``cryptography`` alone:
    Decaps, HKDF(salt empty, info = CMSORIforKEMOtherInfo), AES key unwrap."""
    shared_secret = private_key.decapsulate(recipient.kemct)
    fields: dict[str, object] = {
        "wrap": {"algorithm": recipient.wrap_oid},
        "kek_length": recipient.kek_length,
    }
    if recipient.ukm is not None:
        fields["ukm"] = recipient.ukm
    kek = HKDF(
        algorithm=_HKDF_HASHES[recipient.kdf_oid](),
        length=recipient.kek_length,
        salt=b"",
        info=_OtherInfo(fields).dump(),
    ).derive(shared_secret)
    return aes_key_unwrap(kek, recipient.encrypted_key)


def kem_messages(data: bytes) -> list[KemMessage]:
    """Every KEMRecipientInfo of an (auth-)enveloped DER object, each with its content."""
    info = cms.ContentInfo.load(data)
    body = info["content"]
    authenticated = info["content_type"].native == "authenticated_enveloped_data"
    found = []
    for choice in body["recipient_infos"]:
        if choice.name != "ori" or choice.chosen["ori_type"].dotted != "1.2.840.113549.1.9.16.13.3":
            continue
        fields = KEMRecipientInfo.load(choice.chosen["ori_value"].dump())
        found.append(
            KemMessage(
                recipient=KemWrapped(
                    kem_oid=fields["kem"]["algorithm"].dotted,
                    kemct=fields["kemct"].native,
                    kdf_oid=fields["kdf"]["algorithm"].dotted,
                    kek_length=fields["kek_length"].native,
                    ukm=fields["ukm"].native,
                    wrap_oid=fields["wrap"]["algorithm"].dotted,
                    encrypted_key=fields["encrypted_key"].native,
                ),
                authenticated=authenticated,
                encrypted_content_info=(
                    body["auth_encrypted_content_info"]
                    if authenticated
                    else body["encrypted_content_info"]
                ),
                mac=body["mac"].native if authenticated else None,
            )
        )
    return found

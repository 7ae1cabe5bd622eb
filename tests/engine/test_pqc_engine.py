"""Post-quantum S/MIME end to end: ML-DSA signatures and ML-KEM recipients through SMIME.

Third-party objects (OpenSSL 3.5's ML-DSA signed-data, the LAMPS examples, the
hackathon ML-KEM messages) verify with trust FULL and decrypt through the
keyrings; our own signatures and messages round-trip, are checked by the
independent readers of :mod:`tests.pqccms`, and are refused when tampered.
"""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import mldsa, mlkem
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from smimecore import SMIME, Config
from smimecore.cms.enveloped import parse_enveloped
from smimecore.demo.pki import DemoIdentity
from smimecore.engine.status import BAD, DONE, ERROR, Result
from smimecore.errors import ConfigError, SmimeError, UnsupportedAlgorithmError
from smimecore.keyring.memory import MemoryKeyring
from smimecore.keyring.store import MemoryCertificateStore
from smimecore.mime.enveloped import parse_encrypted
from smimecore.mime.signed import parse_signed
from smimecore.pki.pem import find_pem_blocks
from tests.conftest import VECTORS, vector_path
from tests.pqccms import independent_unwrap, kem_messages, signed_parts
from tests.pqcpki import DUAL, certificate_pem, pem, pkcs12_file, pqc_pki

PASSPHRASE = "pqc passphrase"
OSSL35 = ("pqc", "hackathon-ossl35")
REDHOUND = ("pqc", "hackathon-carl-redhound")
ML_DSA_FILES = sorted(p.name for p in VECTORS.joinpath(*OSSL35).glob("ml-dsa-*.der")) or ["-"]
SLH_DSA_FILES = sorted(p.name for p in VECTORS.joinpath(*OSSL35).glob("slh-dsa-*.der")) or ["-"]
KEM_FILES = sorted(
    p.name
    for p in VECTORS.joinpath(*REDHOUND).glob("mlkem*_kemri*.der")
    if not p.name.startswith("mlkem512")
) or ["-"]
MESSAGE = (
    b"From: Alice <mldsa65@pqc.example>\r\n"
    b"To: Bob <mlkem768@pqc.example>\r\n"
    b"Subject: post-quantum\r\n"
    b"\r\n"
    b"Signed with ML-DSA, encrypted with ML-KEM.\r\n"
)


# -- helpers ----------------------------------------------------------------------------


def _opaque(der: bytes, smime_type: bytes = b"signed-data", *, binary: bool = False) -> bytes:
    """A DER CMS object as an application/pkcs7-mime message (base64, or binary)."""
    body = der if binary else base64.encodebytes(der)
    encoding = b"binary" if binary else b"base64"
    return (
        b"From: Someone <someone@pqc.example>\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: application/pkcs7-mime; smime-type=" + smime_type + b"; name=smime.p7m\r\n"
        b"Content-Transfer-Encoding: " + encoding + b"\r\n\r\n" + body
    )


def _detached(der: bytes, content: bytes) -> bytes:
    """A multipart/signed message: ``content`` as the first part, ``der`` as the signature."""
    boundary = b"pqc-boundary"
    return b"".join(
        (
            b'MIME-Version: 1.0\r\nContent-Type: multipart/signed; protocol="application/'
            b'pkcs7-signature"; micalg=sha-512; boundary="' + boundary + b'"\r\n\r\n',
            b"--" + boundary + b"\r\n" + content + b"\r\n--" + boundary + b"\r\n",
            b"Content-Type: application/pkcs7-signature; name=smime.p7s\r\n",
            b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(der),
            b"\r\n--" + boundary + b"--\r\n",
        )
    )


def _without_content(der: bytes) -> tuple[bytes, bytes]:
    """The same SignedData with its content removed (detached), and the content."""
    info = cms.ContentInfo.load(der)
    encapsulated = info["content"]["encap_content_info"]
    content = bytes(encapsulated["content"].native)
    info["content"]["encap_content_info"] = {"content_type": "data"}
    return bytes(info.dump()), content


def _anchor(directory: Path, der: bytes) -> Path:
    path = directory / "ca.pem"
    path.write_bytes(x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM))
    return path


def _verify_error(smime: SMIME, message: bytes) -> SmimeError:
    with pytest.raises(SmimeError) as caught:
        smime.verify(message)
    return caught.value


def _flip_signature(der: bytes) -> bytes:
    """``der`` with one octet of the (first) SignerInfo's signature changed."""
    signature = bytes(cms.ContentInfo.load(der)["content"]["signer_infos"][0]["signature"].native)
    middle = len(signature) // 2
    changed = signature[:middle] + bytes([signature[middle] ^ 0x40]) + signature[middle + 1 :]
    assert der.count(signature) == 1
    return der.replace(signature, changed)


# -- ML-DSA: the vectors ----------------------------------------------------------------


@pytest.fixture(scope="module")
def ossl35(tmp_path_factory: pytest.TempPathFactory) -> SMIME:
    """An engine trusting the hackathon's ML-DSA-44 trust anchor ``ta.der``."""
    ta = vector_path(*OSSL35, "ta.der").read_bytes()
    return SMIME(Config(ca_path=_anchor(tmp_path_factory.mktemp("ta"), ta)))


@pytest.mark.vectors
@pytest.mark.parametrize("name", ML_DSA_FILES)
@pytest.mark.parametrize("form", ["opaque", "binary", "detached"])
def test_openssl35_ml_dsa_verifies_with_full_trust(ossl35: SMIME, name: str, form: str) -> None:
    """OpenSSL 3.5's ML-DSA-44/65/87 signed-data verifies, its chain to ta.der FULL, as an
    opaque (base64 and binary) pkcs7-mime and, its content taken out, as multipart/signed."""
    der = vector_path(*OSSL35, name).read_bytes()
    if form == "detached":
        detached, content = _without_content(der)
        message = _detached(detached, content)
    else:
        message = _opaque(der, binary=form == "binary")
    result = ossl35.verify(message)
    (record,) = result.statuses
    assert (record.status, record["Trust"]) == (DONE, "FULL"), record.message
    level = name.split("-")[2]
    assert record["SignatureAlgorithm"] == f"ml_dsa_{level}"
    assert result.data.endswith(vector_path(*OSSL35, "expected_plaintext.txt").read_bytes())


@pytest.mark.vectors
@pytest.mark.parametrize("name", ML_DSA_FILES)
def test_tampered_ml_dsa_signature_is_bad(ossl35: SMIME, name: str) -> None:
    """One octet of an ML-DSA signature changed: BAD, never DONE."""
    der = _flip_signature(vector_path(*OSSL35, name).read_bytes())
    (record,) = ossl35.verify(_opaque(der)).statuses
    assert record.status == BAD


@pytest.mark.vectors
@pytest.mark.parametrize("name", SLH_DSA_FILES)
def test_slh_dsa_is_an_error_naming_it(ossl35: SMIME, name: str) -> None:
    """SLH-DSA signed-data: a Verify/ERROR record naming SLH-DSA, never a verdict."""
    error = _verify_error(ossl35, _opaque(vector_path(*OSSL35, name).read_bytes()))
    assert isinstance(error, UnsupportedAlgorithmError)
    (record,) = error.statuses
    assert (record.operation, record.status) == ("Verify", ERROR)
    assert "SLH-DSA" in record.message


LAMPS_SEED = bytes(range(32))  # RFC 9881 appendix C's example keys
LAMPS_SERIAL = 0x159FFE6F22FD5CC42C524DF6FD5E28D0DE38F34E
LAMPS_KEYS = {
    "44": mldsa.MLDSA44PrivateKey,
    "65": mldsa.MLDSA65PrivateKey,
    "87": mldsa.MLDSA87PrivateKey,
}


def _lamps_signer(level: str) -> tuple[x509.Certificate, x509.Certificate]:
    """A CA named as the examples' signer's issuer (O=IETF, CN=LAMPS WG) and, issued by it,
    a certificate with the examples' serial number and RFC 9881's example public key."""
    name = x509.Name(
        [
            x509.NameAttribute(
                NameOID.ORGANIZATION_NAME, "IETF", _type=x509.name._ASN1Type.PrintableString
            ),
            x509.NameAttribute(
                NameOID.COMMON_NAME, "LAMPS WG", _type=x509.name._ASN1Type.PrintableString
            ),
        ]
    )
    ca_key = mldsa.MLDSA44PrivateKey.generate()
    now = datetime.now(UTC)

    def issue(subject: x509.Name, key: object, serial: int, *, ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(name)
            .public_key(key)  # type: ignore[arg-type]
            .serial_number(serial)
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
            )
        return builder.sign(ca_key, None)

    root = issue(name, ca_key.public_key(), 1, ca=True)
    public_key = LAMPS_KEYS[level].from_seed_bytes(LAMPS_SEED).public_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"LAMPS ML-DSA-{level} example")])
    return root, issue(subject, public_key, LAMPS_SERIAL, ca=False)


@pytest.mark.vectors
@pytest.mark.parametrize("level", sorted(LAMPS_KEYS))
def test_lamps_example_verifies_with_a_derived_certificate(level: str, tmp_path: Path) -> None:
    """The LAMPS examples carry no certificate: one is derived (the signer's issuer name and
    serial number, RFC 9881's example key), issued by a test CA; the example verifies FULL."""
    root, signer = _lamps_signer(level)
    ca = tmp_path / "ca.pem"
    ca.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    keyring = MemoryKeyring()
    keyring.add_certificate(signer, addresses=["lamps@example.org"])
    smime = SMIME(Config(ca_path=ca), keyring=keyring)
    (der,) = _pem_ders(vector_path("pqc", "lamps-cms-ml-dsa", f"mldsa{level}-signed-attrs.pem"))
    result = smime.verify(_opaque(der))
    (record,) = result.statuses
    assert (record.status, record["Trust"], record["DigestAlgorithm"]) == (DONE, "FULL", "sha512")
    assert result.data.endswith(
        f"ML-DSA-{level} signed-data example with signed attributes".encode()
    )
    other = SMIME(Config(ca_path=ca), keyring=MemoryKeyring())
    assert isinstance(_verify_error(other, _opaque(der)), SmimeError)  # no certificate: no verdict


def _pem_ders(path: Path) -> list[bytes]:
    return [block.der() for block in find_pem_blocks(path.read_bytes())]


# -- ML-DSA: our own signatures ---------------------------------------------------------


@pytest.fixture(scope="module")
def pqc_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A keyring of every PQC test identity (keys encrypted), the dual recipient's two
    certificates in one file, and ``ca.pem``."""
    root = tmp_path_factory.mktemp("pqc")
    keyring = root / "keyring"
    keyring.mkdir()
    test_pki = pqc_pki()
    for identity in test_pki.identities.values():
        (keyring / f"{identity.address}.pem").write_bytes(pem(identity, PASSPHRASE))
    (keyring / f"{DUAL}.pem").write_bytes(certificate_pem(*test_pki.dual))
    test_pki.write_ca(root)
    return root


def _engine(pqc_dir: Path, **options: object) -> SMIME:
    return SMIME(
        Config(
            keyring=pqc_dir / "keyring",
            ca_path=pqc_dir / "ca.pem",
            passphrase=PASSPHRASE,
            **options,
        )  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("kind", ["mldsa44", "mldsa65", "mldsa87"])
@pytest.mark.parametrize("opaque", [False, True])
def test_sign_with_ml_dsa_keyring_key_round_trips(pqc_dir: Path, kind: str, opaque: bool) -> None:
    """An ML-DSA key of the directory keyring signs (micalg sha-512); the signature verifies
    FULL through the ML-DSA root, and an independent check of it passes."""
    smime = _engine(pqc_dir)
    address = f"{kind}@pqc.example"
    message = MESSAGE.replace(b"mldsa65@", address.split("@")[0].encode() + b"@")
    signed = smime.sign(message, signer=address, opaque=opaque)
    if not opaque:
        assert b"micalg=sha-512" in signed.data
    (record,) = smime.verify(signed.data).statuses
    assert (record.status, record["Trust"]) == (DONE, "FULL"), record.message
    assert record["SignatureAlgorithm"] == f"ml_dsa_{kind[-2:]}"
    assert record["SignerMatchesSender"] is True
    _check_independently(signed, pqc_pki().identities[kind])


def _check_independently(signed: Result, identity: DemoIdentity) -> None:
    """The SignedData read by asn1crypto's generic types, its signature checked by cryptography."""
    part = parse_signed(signed.data)
    parts = signed_parts(bytes(part.signature))
    assert parts.digest.name == "sha512"
    content = bytes(part.content) if part.is_detached else parts.content
    assert parts.digest.digest(content) == parts.message_digest
    public_key = identity.certificate.public_key()
    assert isinstance(
        public_key, mldsa.MLDSA44PublicKey | mldsa.MLDSA65PublicKey | mldsa.MLDSA87PublicKey
    )
    public_key.verify(parts.signature, parts.signed_attributes)
    assert identity.certificate in parts.certificates


def test_tampered_own_ml_dsa_message_is_bad(pqc_dir: Path) -> None:
    """Our ML-DSA signature over changed content, or with a changed signature: BAD."""
    smime = _engine(pqc_dir)
    signed = smime.sign(MESSAGE, signer="mldsa65@pqc.example")
    changed = signed.data.replace(b"encrypted with ML-KEM", b"encrypted with ML-KEX")
    assert smime.verify(changed).statuses[0].status == BAD
    opaque = smime.sign(MESSAGE, signer="mldsa65@pqc.example", opaque=True)
    der = parse_signed(opaque.data).signature
    assert smime.verify(_opaque(_flip_signature(bytes(der)))).statuses[0].status == BAD


def test_hash_ml_dsa_is_an_error_naming_it(pqc_dir: Path) -> None:
    """A SignerInfo claiming HashML-DSA-44 (its OID patched into our signature): ERROR."""
    smime = _engine(pqc_dir)
    der = bytes(
        parse_signed(smime.sign(MESSAGE, signer="mldsa44@pqc.example", opaque=True).data).signature
    )
    pure = bytes.fromhex("0609608648016503040311")  # id-ml-dsa-44
    at = der.rindex(pure)  # the SignerInfo's signatureAlgorithm (the certificates come before)
    hashed = der[:at] + bytes.fromhex("0609608648016503040320") + der[at + len(pure) :]
    error = _verify_error(smime, _opaque(hashed))
    assert isinstance(error, UnsupportedAlgorithmError)
    (record,) = error.statuses
    assert record.status == ERROR and "HashML-DSA-44" in record.message


def test_memory_keyring_signs_with_ml_dsa(pqc_dir: Path) -> None:
    """MemoryKeyring.add_pem with an encrypted ML-DSA key, then sign and verify."""
    identity = pqc_pki().identities["mldsa87"]
    keyring = MemoryKeyring()
    keyring.add_pem(pem(identity, PASSPHRASE), PASSPHRASE)
    smime = SMIME(Config(ca_path=pqc_dir / "ca.pem"), keyring=keyring)
    signed = smime.sign(MESSAGE, signer=identity.address)
    assert smime.verify(signed.data).statuses[0]["Trust"] == "FULL"


def test_signing_certificate_v2_names_the_ml_dsa_certificate(pqc_dir: Path) -> None:
    """The ESS signingCertificateV2 attribute hashes the signer's certificate and names its
    issuer and serial (written without asn1crypto's certificate parsing)."""
    identity = pqc_pki().identities["mldsa65"]
    signed = _engine(pqc_dir).sign(MESSAGE, signer=identity.address, opaque=True)
    info = cms.ContentInfo.load(bytes(parse_signed(signed.data).signature))
    attributes = info["content"]["signer_infos"][0]["signed_attrs"]
    (value,) = next(a["values"] for a in attributes if a["type"].native == "signing_certificate_v2")
    (cert_id,) = value["certs"]
    der = identity.certificate.public_bytes(serialization.Encoding.DER)
    assert cert_id["cert_hash"].native == hashlib.sha256(der).digest()
    assert cert_id["issuer_serial"]["serial_number"].native == identity.certificate.serial_number


# -- ML-KEM: the vectors through the keyring --------------------------------------------


def _key_pem(der: bytes) -> bytes:
    body = base64.encodebytes(der)
    return b"-----BEGIN PRIVATE KEY-----\n" + body + b"-----END PRIVATE KEY-----\n"


def _vector_keyring(tmp_path: Path, prefix: str, form: str) -> SMIME:
    """A directory keyring holding the vector's recipient (certificate and key of ``form``)."""
    keyring = tmp_path / "keyring"
    keyring.mkdir(exist_ok=True)
    certificate = x509.load_der_x509_certificate(
        vector_path(*REDHOUND, f"{prefix}_ee.der").read_bytes()
    )
    key = vector_path(*REDHOUND, f"{prefix}_{form}_priv.der").read_bytes()
    (keyring / "recipient@pqc.example.pem").write_bytes(
        certificate.public_bytes(serialization.Encoding.PEM) + _key_pem(key)
    )
    return SMIME(Config(keyring=keyring))


@pytest.mark.vectors
@pytest.mark.parametrize("form", ["seed", "both"])
@pytest.mark.parametrize("name", KEM_FILES)
def test_ml_kem_vectors_decrypt_through_the_directory_keyring(
    tmp_path: Path, name: str, form: str
) -> None:
    """Every ML-KEM-768/1024 message decrypts with the recipient's <address>.pem (seed and
    'both' key forms); the Decrypt record names the KEM, KDF and key wrap."""
    smime = _vector_keyring(tmp_path, name.split("_")[0], form)
    smime_type = b"authEnveloped-data" if "_auth_" in name else b"enveloped-data"
    result = smime.decrypt(_opaque(vector_path(*REDHOUND, name).read_bytes(), smime_type))
    (record,) = result.statuses
    assert record.status == DONE
    assert re.fullmatch(
        r"ml-kem-(768|1024)\+hkdf-sha256\+aes(128|256)-wrap", record["KeyEncryption"]
    )
    assert record["EncryptedTo"] == [{"EmailAddress": "recipient@pqc.example"}]
    assert result.data.endswith(vector_path(*REDHOUND, "expected_plaintext.txt").read_bytes())


@pytest.mark.vectors
@pytest.mark.parametrize(
    ("prefix", "form", "reason"),
    [
        ("mlkem768-2.16.840.1.101.3.4.4.2", "expandedkey", "only the expanded key"),
        ("mlkem512-2.16.840.1.101.3.4.4.1", "seed", "ML-KEM-512 is not supported"),
    ],
)
def test_unusable_vector_keys_say_why(tmp_path: Path, prefix: str, form: str, reason: str) -> None:
    """The expanded-only form and ML-KEM-512: a KeyCheck/ERROR record giving the reason."""
    smime = _vector_keyring(tmp_path, prefix, form)
    name = f"{prefix}_kemri_id-alg-hkdf-with-sha256.der"
    with pytest.raises(SmimeError) as caught:
        smime.decrypt(_opaque(vector_path(*REDHOUND, name).read_bytes(), b"enveloped-data"))
    (record,) = caught.value.statuses
    assert (record.operation, record.status) == ("KeyCheck", ERROR)
    assert reason in record.message


# -- ML-KEM: our own messages -----------------------------------------------------------


def test_encrypt_to_ml_kem_rsa_and_ecdh_recipients(pqc_dir: Path) -> None:
    """One message to ML-KEM-768, ML-KEM-1024, RSA and P-256 recipients: each decrypts it,
    the ML-KEM ones reported as such; the independent reader opens the KEM recipients."""
    smime = _engine(pqc_dir)
    kinds = ("mlkem768", "mlkem1024", "rsa2048", "p256")
    encrypted = smime.encrypt(
        MESSAGE, recipients=[f"{kind}@pqc.example" for kind in kinds], cipher="aes-256-gcm"
    )
    der = parse_encrypted(encrypted.data).cms
    assert len(kem_messages(bytes(der))) == 2
    for kind in kinds:
        identity = pqc_pki().identities[kind]
        keyring = MemoryKeyring()
        keyring.add_identity(identity.key, identity.certificate)
        result = SMIME(Config(), keyring=keyring).decrypt(encrypted.data)
        (record,) = result.statuses
        assert record.status == DONE and result.data.endswith(b"encrypted with ML-KEM.\r\n")
        if kind.startswith("mlkem"):
            assert record["KeyEncryption"] == f"ml-kem-{kind[5:]}+hkdf-sha256+aes256-wrap"


def test_sign_with_ml_dsa_then_encrypt_with_ml_kem(pqc_dir: Path) -> None:
    """sign_encrypt: ML-DSA-65 signs, ML-KEM-768 encrypts; decrypt then verify (FULL)."""
    smime = _engine(pqc_dir)
    both = smime.sign_encrypt(
        MESSAGE, signer="mldsa65@pqc.example", recipients=["mlkem768@pqc.example"]
    )
    opened = smime.decrypt(both.data)
    assert opened.statuses[0]["KeyEncryption"] == "ml-kem-768+hkdf-sha256+aes256-wrap"
    (record,) = smime.verify(opened.data).statuses
    assert (record.status, record["Trust"]) == (DONE, "FULL")
    unwrapped = smime.verify_decrypt(both.data)
    assert [r.operation for r in unwrapped.statuses] == ["Decrypt", "Verify"]
    assert all(r.status == DONE for r in unwrapped.statuses)


def _tamper_message(smime: SMIME, how: str) -> tuple[bytes, MemoryKeyring]:
    identity = pqc_pki().identities["mlkem768"]
    encrypted = smime.encrypt(MESSAGE, recipients=[identity.address])
    der = bytes(parse_encrypted(encrypted.data).cms)
    (entry,) = parse_enveloped(der).recipients
    keyring = MemoryKeyring()
    key: object = identity.key
    if how == "kemct":
        kemct = entry.method.kemct  # type: ignore[union-attr]
        der = der.replace(kemct, kemct[:99] + bytes([kemct[99] ^ 1]) + kemct[100:])
    elif how == "wrong key":
        key = mlkem.MLKEM768PrivateKey.generate()
    keyring.add_identity(key, identity.certificate)
    return _opaque(der, b"enveloped-data"), keyring


@pytest.mark.parametrize("how", ["kemct", "wrong key"])
def test_engine_reports_the_uniform_decryption_failure(pqc_dir: Path, how: str) -> None:
    """A tampered kemct, a wrong key: the same Decrypt/ERROR 'Decryption failed', nothing more."""
    message, keyring = _tamper_message(_engine(pqc_dir), how)
    with pytest.raises(SmimeError) as caught:
        SMIME(Config(), keyring=keyring).decrypt(message)
    (record,) = caught.value.statuses
    assert (record.operation, record.status, record.message) == (
        "Decrypt",
        ERROR,
        "Decryption failed",
    )


def test_independent_unwrap_of_engine_output(pqc_dir: Path) -> None:
    """The engine's ML-KEM-1024 recipient, unwrapped with cryptography alone."""
    identity = pqc_pki().identities["mlkem1024"]
    encrypted = _engine(pqc_dir).encrypt(
        MESSAGE, recipients=[identity.address], cipher="aes-256-cbc"
    )
    (kem,) = kem_messages(bytes(parse_encrypted(encrypted.data).cms))
    content = kem.decrypt(independent_unwrap(identity.key, kem.recipient))  # type: ignore[arg-type]
    assert content.endswith(b"encrypted with ML-KEM.\r\n")


# -- certificates, recipients, the choice between classical and post-quantum -----------


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("mldsa44", "ML-DSA-44"),
        ("mldsa65", "ML-DSA-65"),
        ("mldsa87", "ML-DSA-87"),
        ("mlkem768", "ML-KEM-768"),
        ("mlkem1024", "ML-KEM-1024"),
        ("rsa2048", "RSA-2048"),
        ("p256", "EC P-256"),
    ],
)
def test_certificate_info_names_the_key_algorithm(pqc_dir: Path, kind: str, name: str) -> None:
    """certificate_info's KeyAlgorithm; ML-DSA signers are FULL through the ML-DSA root."""
    info = _engine(pqc_dir).certificate_info(pqc_pki().identities[kind].certificate)
    assert info["KeyAlgorithm"] == name
    if kind.startswith("mldsa"):
        assert info["TrustTerse"] == "full"


@pytest.mark.vectors
def test_certificate_info_of_an_ml_kem_512_certificate() -> None:
    """A key cryptography cannot load is still named."""
    der = vector_path(*REDHOUND, "mlkem512-2.16.840.1.101.3.4.4.1_ee.der").read_bytes()
    assert SMIME(Config()).certificate_info(der)["KeyAlgorithm"] == "ML-KEM-512"


def _kinds_in(smime: SMIME, encrypted: bytes) -> list[str]:
    return sorted(
        entry.kind for entry in parse_enveloped(bytes(parse_encrypted(encrypted).cms)).recipients
    )


@pytest.mark.parametrize(
    ("prefer", "trusted", "expected"),
    [
        (None, True, "ML-KEM-768"),  # the default: the ML-KEM certificate, when it is trusted
        (None, False, "RSA-2048"),
        (True, False, "ML-KEM-768"),
        (False, True, "RSA-2048"),
    ],
)
def test_prefer_post_quantum_chooses_among_keyring_certificates(
    pqc_dir: Path, prefer: bool | None, trusted: bool, expected: str
) -> None:
    """A recipient file with an RSA and an ML-KEM certificate: encrypt, check_recipients and
    keys_for_encryption agree on the one prefer_post_quantum picks."""
    options: dict[str, object] = {"prefer_post_quantum": prefer}
    if trusted:
        smime = _engine(pqc_dir, **options)
    else:
        smime = SMIME(
            Config(
                keyring=pqc_dir / "keyring",
                passphrase=PASSPHRASE,
                accept_untrusted_cas=True,
                **options,
            )
        )  # type: ignore[arg-type]
    listed = smime.keys_for_encryption(DUAL)
    assert [info["KeyAlgorithm"] for info in listed] == [expected]
    (check,) = smime.check_recipients([DUAL])
    assert check.status == DONE
    encrypted = smime.encrypt(MESSAGE, recipients=[DUAL])
    assert _kinds_in(smime, encrypted.data) == (
        ["ori"] if expected.startswith("ML-KEM") else ["ktri"]
    )


def test_prefer_post_quantum_orders_the_store_too(pqc_dir: Path) -> None:
    """Certificates learned into the store: the trusted ML-KEM one first by default,
    the RSA one first with prefer_post_quantum false; keys_for_encryption lists both."""
    rsa, kem = pqc_pki().dual
    for prefer, first in ((None, "ML-KEM-768"), (False, "RSA-2048")):
        store = MemoryCertificateStore()
        store.put(DUAL, rsa.certificate, True)
        store.put(DUAL, kem.certificate, True)
        smime = SMIME(
            Config(ca_path=pqc_dir / "ca.pem", prefer_post_quantum=prefer),
            keyring=MemoryKeyring(),
            store=store,
        )
        listed = [info["KeyAlgorithm"] for info in smime.keys_for_encryption(DUAL)]
        assert listed[0] == first and sorted(listed) == ["ML-KEM-768", "RSA-2048"]
        encrypted = smime.encrypt(MESSAGE, recipients=[DUAL])
        assert _kinds_in(smime, encrypted.data) == (
            ["ori"] if first.startswith("ML-KEM") else ["ktri"]
        )


def test_keys_for_encryption_lists_an_ml_kem_certificate(pqc_dir: Path) -> None:
    """An ML-KEM-only recipient is listed for encryption, not for signing."""
    smime = _engine(pqc_dir)
    (info,) = smime.keys_for_encryption("mlkem1024@pqc.example")
    assert info["KeyAlgorithm"] == "ML-KEM-1024"
    assert smime.keys_for_signing("mlkem1024@pqc.example") == []
    assert [i["KeyAlgorithm"] for i in smime.keys_for_signing("mldsa44@pqc.example")] == [
        "ML-DSA-44"
    ]


def test_prefer_post_quantum_must_be_a_bool_or_none() -> None:
    """The option is true, false or unset (None: ML-KEM when trusted)."""
    with pytest.raises(ConfigError, match="prefer_post_quantum"):
        Config(prefer_post_quantum="yes")  # type: ignore[arg-type]
    assert Config.from_mapping({"prefer_post_quantum": False}).prefer_post_quantum is False


# -- PKCS#12 files ----------------------------------------------------------------------


Openssl = Callable[..., subprocess.CompletedProcess[bytes]]


def test_pkcs12_keyring_files_with_post_quantum_keys(
    tmp_path: Path, openssl: Openssl, pqc_dir: Path
) -> None:
    """<address>.p12 files with an ML-DSA and an ML-KEM key (laid out as OpenSSL 3 writes
    them, their MAC and structure checked by the openssl binary): sign, encrypt, decrypt."""
    test_pki = pqc_pki()
    keyring = tmp_path / "keyring"
    keyring.mkdir()
    for kind in ("mldsa65", "mlkem768"):
        identity = test_pki.identities[kind]
        data = pkcs12_file(identity, PASSPHRASE, chain=(test_pki.pki.root,))
        path = keyring / f"{identity.address}.p12"
        path.write_bytes(data)
        checked = openssl("pkcs12", "-in", path, "-nokeys", "-passin", f"pass:{PASSPHRASE}")
        assert checked.returncode == 0, checked.stderr
        assert identity.certificate_pem().strip() in checked.stdout.replace(b"\r\n", b"\n")
    smime = SMIME(Config(keyring=keyring, ca_path=pqc_dir / "ca.pem", passphrase=PASSPHRASE))
    signed = smime.sign(MESSAGE, signer="mldsa65@pqc.example")
    assert smime.verify(signed.data).statuses[0]["Trust"] == "FULL"
    encrypted = smime.encrypt(MESSAGE, recipients=["mlkem768@pqc.example"])
    assert smime.decrypt(encrypted.data).statuses[0]["KeyEncryption"].startswith("ml-kem-768")
    wrong = SMIME(Config(keyring=keyring, passphrase="wrong"))
    with pytest.raises(SmimeError) as caught:
        wrong.sign(MESSAGE, signer="mldsa65@pqc.example")
    assert (
        caught.value.statuses[0].message
        == "Bad passphrase for the secret key of mldsa65@pqc.example"
    )
    assert "passphrase does not open the PKCS#12 file" in str(caught.value)


def test_memory_keyring_from_a_post_quantum_pkcs12() -> None:
    """MemoryKeyring.from_pkcs12 reads the ML-KEM key and its certificate."""
    identity = pqc_pki().identities["mlkem1024"]
    keyring = MemoryKeyring.from_pkcs12(pkcs12_file(identity, PASSPHRASE), PASSPHRASE)
    decryption = keyring.decryption_identity(identity.address)
    assert isinstance(decryption.private_key, mlkem.MLKEM1024PrivateKey)
    assert decryption.certificate == identity.certificate

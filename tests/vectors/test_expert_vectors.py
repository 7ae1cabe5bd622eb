"""The raw CMS objects of RFC 4134, RFC 9216 and the post-quantum examples, through smimecore.expert.

No MIME wrapping: each ``.bin``/``.p7m``/``.der``/``.pem`` file goes to
verify_data or decrypt_data as it is.  Expected outcomes are those of each
folder's SOURCE.md; algorithms we do not support give a clear
UnsupportedAlgorithmError naming them, structures that are not the one
asked for a MalformedCMSError naming what was found.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import mldsa

from smimecore import (
    CertificateNotFoundError,
    Config,
    MalformedCMSError,
    NotProtectedError,
    UnsupportedAlgorithmError,
)
from smimecore.cms.signed import parse_signed_data
from smimecore.engine.status import DONE, ERROR
from smimecore.errors import NoUsableRecipientError
from smimecore.expert import cms_der, decrypt_data, verify_data, write_cms
from tests.conftest import VECTORS, vector_path

pytestmark = pytest.mark.vectors

EX_CONTENT = b"This is some sample content."


# -- RFC 4134 -------------------------------------------------------------------


def _rfc4134(name: str) -> bytes:
    return vector_path("rfc4134", name).read_bytes()


@pytest.fixture(scope="module")
def carl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Carl's RSA and DSA roots as one ca_path file."""
    path = tmp_path_factory.mktemp("rfc4134") / "carl.pem"
    path.write_bytes(
        b"".join(
            x509.load_der_x509_certificate(_rfc4134(name)).public_bytes(serialization.Encoding.PEM)
            for name in ("CarlRSASelf.cer", "CarlDSSSelf.cer")
        )
    )
    return path


WEAK_ALLOWED = Config(allow_weak_algorithms=True)
"""RFC 4134's keys are 1024-bit and its signatures SHA-1 (weak today, valid then)."""


@pytest.mark.parametrize(
    ("name", "signature_algorithm"),
    [
        ("4.1.bin", "dsa"),
        ("4.2.bin", "rsassa_pkcs1v15"),
        ("4.4.bin", "dsa"),
        ("4.5.bin", "rsassa_pkcs1v15"),  # BER
        ("4.7.bin", "dsa"),  # subjectKeyIdentifier
        ("4.10.bin", "dsa"),  # unknown signed attributes
    ],
)
def test_rfc4134_signed_data_verifies_and_chains_to_carl(
    carl: Path, name: str, signature_algorithm: str
) -> None:
    checked = verify_data(_rfc4134(name), trust=carl, config=WEAK_ALLOWED)

    assert checked.ok and checked.content == EX_CONTENT
    (outcome,) = checked
    assert (outcome.intact, outcome.valid, outcome.trusted) == (True, True, True)
    assert (outcome.digest_algorithm, outcome.signature_algorithm) == ("sha1", signature_algorithm)
    assert checked.statuses[0]["WeakAlgorithms"] == "sha1"


def test_rfc4134_weak_chain_is_untrusted_by_default(carl: Path) -> None:
    """Without allow_weak_algorithms the signature is valid, its trust refused as weak."""
    (outcome,) = verify_data(_rfc4134("4.2.bin"), trust=carl)
    assert outcome.valid and not outcome.trusted and outcome.trust_reason == "weak-algorithm"


def test_rfc4134_pem_form_of_a_ber_object(carl: Path) -> None:
    """4.5 (BER) armoured as PEM verifies the same."""
    pem = write_cms(_rfc4134("4.5.bin"), "pem")
    assert verify_data(pem, trust=carl, config=WEAK_ALLOWED).ok


def test_rfc4134_detached_with_its_content(carl: Path) -> None:
    """4.3 (detached DSA) verifies with ExContent.bin; over other content it is not intact."""
    content = _rfc4134("ExContent.bin")
    checked = verify_data(_rfc4134("4.3.bin"), content=content, trust=carl, config=WEAK_ALLOWED)
    assert checked.ok and checked.content == EX_CONTENT
    (other,) = verify_data(_rfc4134("4.3.bin"), content=content + b" ")
    assert not other.intact and not other.valid
    with pytest.raises(MalformedCMSError, match="detached"):
        verify_data(_rfc4134("4.3.bin"))


def test_rfc4134_two_signers_one_unsupported() -> None:
    """4.6: Diane's DSA key inherits its parameters; the error keeps Alice's good record."""
    with pytest.raises(UnsupportedAlgorithmError, match="inherited parameters") as raised:
        verify_data(_rfc4134("4.6.bin"), config=Config(accept_untrusted_cas=True))
    alice, diane = raised.value.statuses
    assert (alice["Status"], diane["Status"]) == (DONE, ERROR)


def test_rfc4134_certificates_only_is_not_protected() -> None:
    with pytest.raises(NotProtectedError, match="no signers"):
        verify_data(_rfc4134("4.11.bin"))


@pytest.mark.parametrize(
    ("name", "found"),
    [
        ("3.1.bin", "data"),
        ("3.2.bin", "data"),
        ("6.0.bin", "digested_data"),
        ("7.1.bin", "encrypted_data"),
        ("7.2.bin", "encrypted_data"),
    ],
)
def test_rfc4134_other_content_types_are_named(name: str, found: str) -> None:
    """Data, DigestedData and EncryptedData are neither signed nor enveloped data."""
    with pytest.raises(MalformedCMSError, match=f"expected CMS signed-data, found {found}$"):
        verify_data(_rfc4134(name))
    with pytest.raises(MalformedCMSError, match=f"enveloped-data.*found {found}$"):
        decrypt_data(_rfc4134(name), _rfc4134("BobPrivRSAEncrypt.pri"))


@pytest.mark.parametrize(("name", "cipher"), [("5.1.bin", "des-ede3-cbc"), ("5.2.bin", "rc2-cbc")])
def test_rfc4134_enveloped_decrypts_with_bobs_der_key(name: str, cipher: str) -> None:
    """Bob's DER PKCS#8 key and DER certificate, as files hold them."""
    decrypted = decrypt_data(
        _rfc4134(name), _rfc4134("BobPrivRSAEncrypt.pri"), _rfc4134("BobRSASignByCarl.cer")
    )
    assert decrypted == EX_CONTENT
    assert (decrypted.cipher, decrypted.weak, decrypted.authenticated) == (cipher, True, False)
    assert decrypted.statuses[0]["WeakAlgorithms"] == cipher


# -- RFC 9216 (draft-ireland-examples-cms) ----------------------------------------


def _rfc9216(name: str, form: str = "binary") -> bytes:
    suffix = "p7m" if form == "binary" else "pem"
    return vector_path("rfc9216", "cms-examples", form, f"{name}.{suffix}").read_bytes()


def _rfc9216_file(*parts: str) -> bytes:
    return vector_path("rfc9216", *parts).read_bytes()


@pytest.fixture(scope="module")
def lamps_cas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rfc9216") / "lamps-cas.pem"
    path.write_bytes(
        b"".join(
            _rfc9216_file("certs", f"Sample_LAMPS_{kind}_Certification_Authority.selfsigned.pem")
            for kind in ("RSA", "Ed25519")
        )
    )
    return path


@pytest.mark.parametrize("form", ["binary", "pem"])
@pytest.mark.parametrize(
    ("name", "signature_algorithm", "address"),
    [
        ("signedByAliceRSA", "rsassa_pkcs1v15", "alice@smime.example"),
        ("signedByAliceRSAPSS", "rsassa_pss", "alice@smime.example"),
        ("signedByCarlosEd25519", "ed25519", "carlos@smime.example"),
    ],
)
def test_rfc9216_signed_data_verifies_and_chains(
    lamps_cas: Path, name: str, signature_algorithm: str, address: str, form: str
) -> None:
    checked = verify_data(_rfc9216(name, form), trust=lamps_cas)

    assert checked.ok and checked.content == EX_CONTENT
    (outcome,) = checked
    assert outcome.trusted and outcome.signature_algorithm == signature_algorithm
    assert outcome.identity is not None and outcome.identity.email == address


def test_rfc9216_detached_ed25519(lamps_cas: Path) -> None:
    checked = verify_data(_rfc9216("signedByCarlosDetached"), content=EX_CONTENT, trust=lamps_cas)
    assert checked.ok and checked[0].signature_algorithm == "ed25519"


def test_rfc9216_signers_certificates_given_apart(lamps_cas: Path) -> None:
    """Two signers, no certificates inside: certificates= supplies them (-certfile)."""
    der = _rfc9216("signedByAliceAndCarlosNoCerts")
    with pytest.raises(CertificateNotFoundError) as raised:
        verify_data(der)
    assert len(raised.value.statuses) == 2

    checked = verify_data(
        der,
        trust=lamps_cas,
        certificates=[
            _rfc9216_file("keys", "lamps-alice.crt"),
            _rfc9216_file("keys", "lamps-carlos.crt"),
        ],
    )
    assert checked.ok and len(checked) == 2
    assert {outcome.signature_algorithm for outcome in checked} == {"rsassa_pkcs1v15", "ed25519"}


def _key_pair(who: str) -> tuple[bytes, bytes]:
    return (
        _rfc9216_file("keys", f"lamps-{who}.decrypt.p8.pem"),
        _rfc9216_file("keys", f"lamps-{who}.encrypt.crt"),
    )


@pytest.mark.parametrize("form", ["binary", "pem"])
@pytest.mark.parametrize(
    ("name", "who", "cipher"),
    [
        ("encryptedForBobRSAOaep", "bob", "aes-128-cbc"),
        ("encryptedForBobAndDana", "bob", "aes-128-cbc"),
        ("encryptedForBobAndDana", "dana", "aes-128-cbc"),
        ("authEnvelopedForBobChaCha20Poly1305", "bob", "chacha20-poly1305"),
        ("authEnvelopedForDanaX25519HKDF", "dana", "aes-128-gcm"),
    ],
)
def test_rfc9216_enveloped_decrypts(name: str, who: str, cipher: str, form: str) -> None:
    key, certificate = _key_pair(who)
    decrypted = decrypt_data(_rfc9216(name, form), key, certificate)
    assert decrypted == EX_CONTENT and decrypted.cipher == cipher
    assert decrypted.statuses[0]["EncryptedTo"] == [{"EmailAddress": f"{who}@smime.example"}]


def test_rfc9216_kek_recipient_is_no_use_for_a_private_key() -> None:
    with pytest.raises(NoUsableRecipientError):
        decrypt_data(_rfc9216("encryptedKekri"), *_key_pair("bob"))


# -- post-quantum ---------------------------------------------------------------

OSSL35 = ("pqc", "hackathon-ossl35")
REDHOUND = ("pqc", "hackathon-carl-redhound")


def _names(folder: tuple[str, ...], pattern: str) -> list[str]:
    found = sorted(path.name for path in VECTORS.joinpath(*folder).glob(pattern))
    return found or ["(missing)"]


@pytest.mark.parametrize("name", _names(OSSL35, "ml-dsa-*_signed_attrs.der"))
def test_ml_dsa_signed_data_verifies_and_chains_to_the_trust_anchor(name: str) -> None:
    """OpenSSL 3.5's ML-DSA SignedData: valid, trust FULL against ta.der."""
    checked = verify_data(
        vector_path(*OSSL35, name).read_bytes(), trust=vector_path(*OSSL35, "ta.der")
    )
    assert checked.ok
    (outcome,) = checked
    assert (outcome.intact, outcome.valid, outcome.trusted) == (True, True, True)
    assert outcome.signature_algorithm == "ml_dsa_" + name.split("-")[2]
    assert checked.statuses[0]["Trust"] == "FULL"
    assert checked.content == vector_path(*OSSL35, "expected_plaintext.txt").read_bytes()


@pytest.mark.parametrize("level", ["44", "65", "87"])
def test_lamps_ml_dsa_examples_verify_with_the_example_key(level: str) -> None:
    """The LAMPS examples carry no certificate; one for RFC 9881's example key (seed 00..1f),
    under the issuer and serial the SignerInfo names, is given with certificates=."""
    pem = vector_path("pqc", "lamps-cms-ml-dsa", f"mldsa{level}-signed-attrs.pem").read_bytes()
    sid = parse_signed_data(cms_der(pem)).signer_infos[0].signer_id
    key = getattr(mldsa, f"MLDSA{level}PrivateKey").from_seed_bytes(bytes(range(32)))
    name = x509.Name.from_rfc4514_string("CN=LAMPS WG,O=IETF")
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(sid.serial or 1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, None)
    )

    (outcome,) = verify_data(pem, certificates=[certificate])

    assert outcome.intact and outcome.valid and outcome.signer == certificate
    assert (outcome.signature_algorithm, outcome.digest_algorithm) == (f"ml_dsa_{level}", "sha512")


@pytest.mark.parametrize("name", _names(OSSL35, "slh-dsa-*_signed_attrs.der"))
def test_slh_dsa_is_a_clear_unsupported_algorithm(name: str) -> None:
    with pytest.raises(UnsupportedAlgorithmError, match="SLH-DSA") as raised:
        verify_data(vector_path(*OSSL35, name).read_bytes(), trust=vector_path(*OSSL35, "ta.der"))
    assert raised.value.statuses[0]["Status"] == ERROR


def test_hash_ml_dsa_is_a_clear_unsupported_algorithm() -> None:
    """The ML-DSA-65 SignedData with its signatureAlgorithm turned into HashML-DSA-65."""
    der = vector_path(*OSSL35, "ml-dsa-65-2.16.840.1.101.3.4.3.18_signed_attrs.der").read_bytes()
    pure = bytes.fromhex("0609608648016503040312")  # id-ml-dsa-65
    position = der.rindex(pure)  # the SignerInfo's, after the certificate's key
    hashed = der[:position] + bytes.fromhex("0609608648016503040321") + der[position + len(pure) :]
    with pytest.raises(UnsupportedAlgorithmError, match="HashML-DSA-65"):
        verify_data(hashed)


ML_KEM = {"768": "mlkem768-2.16.840.1.101.3.4.4.2", "1024": "mlkem1024-2.16.840.1.101.3.4.4.3"}
ML_KEM_512 = "mlkem512-2.16.840.1.101.3.4.4.1"


def _kem_files(prefix: str) -> list[str]:
    return _names(REDHOUND, f"{prefix}_kemri_*.der")


@pytest.mark.parametrize(
    "name", [name for prefix in ML_KEM.values() for name in _kem_files(prefix)]
)
def test_ml_kem_enveloped_data_decrypts_with_the_seed_key(name: str) -> None:
    """ML-KEM-768/1024 KEMRecipientInfo (enveloped and auth-enveloped, with and without ukm)."""
    prefix = name.split("_")[0]
    decrypted = decrypt_data(
        vector_path(*REDHOUND, name).read_bytes(),
        vector_path(*REDHOUND, f"{prefix}_seed_priv.der").read_bytes(),
        vector_path(*REDHOUND, f"{prefix}_ee.der").read_bytes(),
    )
    assert decrypted == vector_path(*REDHOUND, "expected_plaintext.txt").read_bytes()
    assert decrypted.authenticated == ("_auth_" in name)


@pytest.mark.parametrize("level", sorted(ML_KEM))
def test_ml_kem_pem_form_without_the_certificate(level: str) -> None:
    prefix = ML_KEM[level]
    der = vector_path(*REDHOUND, f"{prefix}_kemri_id-alg-hkdf-with-sha256.der").read_bytes()
    key = vector_path(*REDHOUND, f"{prefix}_seed_priv.der").read_bytes()
    decrypted = decrypt_data(write_cms(der, "pem"), key)
    assert decrypted == vector_path(*REDHOUND, "expected_plaintext.txt").read_bytes()


@pytest.mark.parametrize("name", _kem_files(ML_KEM_512))
def test_ml_kem_512_is_a_clear_unsupported_algorithm(name: str) -> None:
    with pytest.raises(UnsupportedAlgorithmError, match="ML-KEM-512"):
        decrypt_data(
            vector_path(*REDHOUND, name).read_bytes(),
            vector_path(*REDHOUND, f"{ML_KEM_512}_seed_priv.der").read_bytes(),
            vector_path(*REDHOUND, f"{ML_KEM_512}_ee.der").read_bytes(),
        )

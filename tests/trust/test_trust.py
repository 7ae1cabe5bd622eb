"""The ca_path trust layer: anchors, RT's verdicts, reason tokens, revocation, caching."""

from __future__ import annotations

import asyncio
import os
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from subprocess import CompletedProcess

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from smimecore.errors import ConfigError
from smimecore.pki.certificate import CertificateIdentity
from smimecore.trust import (
    REASONS,
    CAPathTrust,
    NoCAPathTrust,
    TrustPolicy,
    TrustVerdict,
    anchors,
    build_trust_evaluator,
)
from tests.conftest import vector_path
from tests.trustpki import (
    NOW,
    PrivateKey,
    TestCA,
    TrustPKI,
    base_builder,
    build_trust_pki,
    der,
    ec_key,
    pem,
)

# -- fixtures ------------------------------------------------------------


@pytest.fixture(scope="session")
def tpki() -> TrustPKI:
    """The throwaway PKI of the trust tests (made once: RSA keys are slow)."""
    return build_trust_pki()


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory, tpki: TrustPKI) -> Path:
    """A PEM bundle holding the root and the RSA-1024 root (not the other root)."""
    path = tmp_path_factory.mktemp("anchors") / "ca-bundle.pem"
    path.write_bytes(pem(tpki.root.certificate) + pem(tpki.weak_root.certificate))
    return path


@pytest.fixture(scope="session")
def trust(bundle: Path) -> CAPathTrust:
    """The default policy over the bundle: revocation off, weak algorithms refused."""
    return CAPathTrust(TrustPolicy(ca_path=bundle))


@pytest.fixture(scope="session")
def revocation_crl(tpki: TrustPKI) -> x509.CertificateRevocationList:
    """The intermediate's CRL, revoking the ``revoked`` leaf."""
    return tpki.intermediate.crl([tpki.leaves["revoked"].certificate])


def judge(evaluator: CAPathTrust, tpki: TrustPKI, leaf: str, **kwargs: object) -> TrustVerdict:
    certificate, intermediates = tpki.chain(leaf)
    kwargs.setdefault("purpose", "signing")
    return evaluator.evaluate(certificate, intermediates, **kwargs)  # type: ignore[arg-type]


ISSUER = "Trust Test Intermediate"

# -- policy --------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("validation_time", "yesterday"),
        ("validation_time", datetime(2020, 1, 1)),
        ("revocation_mode", "strict"),
        ("revocation_timeout", 0),
        ("revocation_timeout", float("nan")),
        ("revocation_timeout", True),
        ("allow_weak_algorithms", "yes"),
        ("allow_fetching", 1),
        ("ca_path", 42),
        ("crl_path", b"crls.pem"),
    ],
)
def test_bad_policy_values_are_config_errors(option: str, value: object) -> None:
    with pytest.raises(ConfigError) as caught:
        TrustPolicy(**{option: value})  # type: ignore[arg-type]
    assert caught.value.option == option


def test_an_empty_path_means_unset_as_in_config() -> None:
    assert TrustPolicy(crl_path="").crl_path is None


def test_policy_defaults_match_rt() -> None:
    policy = TrustPolicy(ca_path="ca.pem")
    assert policy.ca_path == Path("ca.pem")
    assert policy.validation_time == "now"
    assert policy.revocation_mode == "off"
    assert not policy.allow_weak_algorithms and not policy.allow_fetching
    assert policy.revocation_timeout == 30.0


def test_no_ca_path_is_unknown(tpki: TrustPKI) -> None:
    evaluator = build_trust_evaluator(TrustPolicy())
    assert isinstance(evaluator, NoCAPathTrust)
    verdict = evaluator.evaluate(*tpki.chain("good"), purpose="signing")
    assert (verdict.level, verdict.terse, verdict.reason) == (0, "unknown", "no-ca-path")


def test_missing_or_empty_ca_path_fails_at_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ca_path"):
        build_trust_evaluator(TrustPolicy(ca_path=tmp_path / "absent.pem"))
    (tmp_path / "empty.pem").write_text("no certificates here\n")
    with pytest.raises(ConfigError, match="ca_path"):
        build_trust_evaluator(TrustPolicy(ca_path=tmp_path / "empty.pem"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no certificate"):
        build_trust_evaluator(TrustPolicy(ca_path=tmp_path / "empty"))
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(pem(TestCA("x", ec_key()).certificate))
    with pytest.raises(ConfigError, match="crl_path"):
        build_trust_evaluator(TrustPolicy(ca_path=ca_file, crl_path=tmp_path / "absent"))


# -- RT's outcomes and the reason tokens --------------------------------


def test_trusted_chain_is_full(trust: CAPathTrust, tpki: TrustPKI) -> None:
    verdict = judge(trust, tpki, "good")
    assert verdict == TrustVerdict(2, "full", f"Signed by trusted CA {ISSUER}")
    assert verdict.trusted and verdict.trust_field == "FULL"


@pytest.mark.parametrize(
    ("leaf", "reason"),
    [
        ("expired", "expired"),
        ("not-yet-valid", "not-yet-valid"),
        ("stranger", "no-path"),
        ("forged", "bad-chain-signature"),
        ("server-only", "key-usage"),
        ("encryption", "key-usage"),
        ("sha1", "weak-algorithm"),
        ("rsa1024", "weak-algorithm"),
        ("weak-ca", "weak-algorithm"),
    ],
)
def test_untrusted_reasons(trust: CAPathTrust, tpki: TrustPKI, leaf: str, reason: str) -> None:
    verdict = judge(trust, tpki, leaf)
    issuer = CertificateIdentity(tpki.leaves[leaf].certificate).issuer_string
    assert verdict.level == -1
    assert verdict.terse == "none"
    assert verdict.description == f"UNTRUSTED signing CA {issuer}"
    assert verdict.reason == reason
    assert verdict.detail


def test_weak_ca_says_why(trust: CAPathTrust, tpki: TrustPKI) -> None:
    verdict = judge(trust, tpki, "weak-ca")
    assert verdict.reason == "weak-algorithm"
    assert "1024" in (verdict.detail or "")


def test_allow_weak_algorithms(bundle: Path, tpki: TrustPKI) -> None:
    lenient = CAPathTrust(TrustPolicy(ca_path=bundle, allow_weak_algorithms=True))
    for leaf in ("sha1", "rsa1024", "weak-ca"):
        assert judge(lenient, tpki, leaf).terse == "full", leaf


@pytest.mark.parametrize("leaf", ["no-key-usage", "any-eku", "good"])
def test_usage_that_allows_signing(trust: CAPathTrust, tpki: TrustPKI, leaf: str) -> None:
    assert judge(trust, tpki, leaf).trusted


def test_encryption_purpose(trust: CAPathTrust, tpki: TrustPKI) -> None:
    assert judge(trust, tpki, "encryption", purpose="encryption").trusted
    assert judge(trust, tpki, "good", purpose="encryption").reason == "key-usage"


def test_intermediates_come_from_the_caller(trust: CAPathTrust, tpki: TrustPKI) -> None:
    leaf = tpki.leaves["good"].certificate
    assert trust.evaluate(leaf, [], purpose="signing").reason == "no-path"
    noisy = [tpki.other_root.certificate, leaf, tpki.intermediate.certificate]
    assert trust.evaluate(leaf, noisy, purpose="signing").trusted


def test_an_anchor_in_ca_path_is_trusted_even_without_the_root(
    tmp_path: Path, tpki: TrustPKI
) -> None:
    path = tmp_path / "intermediate.pem"
    path.write_bytes(pem(tpki.intermediate.certificate))
    evaluator = CAPathTrust(TrustPolicy(ca_path=path))
    assert evaluator.evaluate(tpki.leaves["good"].certificate, [], purpose="signing").trusted


def test_every_reason_is_documented() -> None:
    assert set(REASONS) == {
        "expired",
        "not-yet-valid",
        "no-path",
        "bad-chain-signature",
        "revoked",
        "key-usage",
        "weak-algorithm",
        "revocation-unavailable",
    }


# -- validation time -----------------------------------------------------


def test_validation_time_signing(bundle: Path, tpki: TrustPKI) -> None:
    at_signing = CAPathTrust(TrustPolicy(ca_path=bundle, validation_time="signing"))
    while_valid = NOW - timedelta(days=15)
    assert judge(at_signing, tpki, "expired", signing_time=while_valid).trusted
    assert judge(at_signing, tpki, "expired").reason == "expired"  # no signingTime: now
    assert judge(at_signing, tpki, "good", signing_time=NOW - timedelta(days=500)).reason == (
        "not-yet-valid"
    )


def test_validation_time_fixed(bundle: Path, tpki: TrustPKI) -> None:
    fixed = CAPathTrust(TrustPolicy(ca_path=bundle, validation_time=NOW + timedelta(days=20)))
    assert judge(fixed, tpki, "not-yet-valid").trusted
    assert judge(fixed, tpki, "expired").reason == "expired"


# -- revocation ----------------------------------------------------------


def test_revocation_off_ignores_crls(
    trust: CAPathTrust, tpki: TrustPKI, revocation_crl: x509.CertificateRevocationList
) -> None:
    assert judge(trust, tpki, "revoked", crls=[der(revocation_crl)]).trusted


@pytest.mark.parametrize("mode", ["soft-fail", "hard-fail", "require"])
def test_revoked_by_a_crl_in_the_message(
    bundle: Path, tpki: TrustPKI, revocation_crl: x509.CertificateRevocationList, mode: str
) -> None:
    evaluator = CAPathTrust(TrustPolicy(ca_path=bundle, revocation_mode=mode))  # type: ignore[arg-type]
    crls = [der(revocation_crl)]
    if mode == "require":  # every certificate of the path then needs revocation data
        crls.append(der(tpki.root.crl()))
    verdict = judge(evaluator, tpki, "revoked", crls=crls)
    assert verdict == TrustVerdict(
        -1,
        "none (revoked certificate)",
        f"REVOKED certificate from CA {ISSUER}",
        "revoked",
        verdict.detail,
    )
    assert verdict.trust_field == "NONE (REVOKED CERTIFICATE)"
    assert judge(evaluator, tpki, "good", crls=crls).trusted


def test_revoked_by_crl_path_directory(
    tmp_path: Path, bundle: Path, tpki: TrustPKI, revocation_crl: x509.CertificateRevocationList
) -> None:
    (tmp_path / "intermediate.crl").write_bytes(der(revocation_crl))
    (tmp_path / "README").write_text("not a CRL, ignored\n")
    evaluator = CAPathTrust(
        TrustPolicy(ca_path=bundle, crl_path=tmp_path, revocation_mode="soft-fail")
    )
    assert judge(evaluator, tpki, "revoked").reason == "revoked"


def test_revoked_by_c_rehash_crl(
    tmp_path: Path, tpki: TrustPKI, revocation_crl: x509.CertificateRevocationList
) -> None:
    (tmp_path / "0a1b2c3d.0").write_bytes(pem(tpki.root.certificate))
    (tmp_path / "4e5f6a7b.r0").write_bytes(pem(revocation_crl))
    evaluator = CAPathTrust(TrustPolicy(ca_path=tmp_path, revocation_mode="hard-fail"))
    assert judge(evaluator, tpki, "revoked").reason == "revoked"
    assert judge(evaluator, tpki, "good").trusted


def test_require_without_revocation_data(
    bundle: Path, tpki: TrustPKI, revocation_crl: x509.CertificateRevocationList
) -> None:
    evaluator = CAPathTrust(TrustPolicy(ca_path=bundle, revocation_mode="require"))
    assert judge(evaluator, tpki, "good").reason == "revocation-unavailable"
    only_leaf_crl = judge(evaluator, tpki, "good", crls=[der(revocation_crl)])
    assert only_leaf_crl.reason == "revocation-unavailable"  # the intermediate's is missing


def test_declared_crl_missing_offline(bundle: Path, tpki: TrustPKI) -> None:
    soft = CAPathTrust(TrustPolicy(ca_path=bundle, revocation_mode="soft-fail"))
    hard = CAPathTrust(TrustPolicy(ca_path=bundle, revocation_mode="hard-fail"))
    assert judge(soft, tpki, "crl-declared").trusted
    assert judge(hard, tpki, "crl-declared").reason == "revocation-unavailable"
    assert judge(hard, tpki, "good").trusted  # declares nothing: nothing to check


def test_stale_crl_is_revocation_unavailable(bundle: Path, tpki: TrustPKI) -> None:
    stale = tpki.intermediate.crl(
        this_update=NOW - timedelta(days=10), next_update=NOW - timedelta(days=3)
    )
    soft = CAPathTrust(TrustPolicy(ca_path=bundle, revocation_mode="soft-fail"))
    assert judge(soft, tpki, "good", crls=[der(stale)]).reason == "revocation-unavailable"


def test_unreadable_message_crl_is_ignored(bundle: Path, tpki: TrustPKI) -> None:
    soft = CAPathTrust(TrustPolicy(ca_path=bundle, revocation_mode="soft-fail"))
    assert judge(soft, tpki, "good", crls=[b"\x30\x03garbage"]).trusted


@pytest.mark.parametrize(("mode", "trusted"), [("soft-fail", True), ("hard-fail", False)])
def test_fetching_an_unreachable_crl(
    bundle: Path, tpki: TrustPKI, mode: str, trusted: bool
) -> None:
    policy = TrustPolicy(
        ca_path=bundle,
        revocation_mode=mode,  # type: ignore[arg-type]
        allow_fetching=True,
        revocation_timeout=5,
    )
    with CAPathTrust(policy) as evaluator:
        verdict = judge(evaluator, tpki, "crl-declared")
    assert verdict.trusted is trusted
    if not trusted:
        assert verdict.reason == "revocation-unavailable"


# -- anchors -------------------------------------------------------------


def test_c_rehash_directory(tmp_path: Path, tpki: TrustPKI) -> None:
    (tmp_path / "0a1b2c3d.0").write_bytes(pem(tpki.root.certificate))
    (tmp_path / "0a1b2c3d.1").symlink_to(tmp_path / "0a1b2c3d.0")  # duplicates are harmless
    (tmp_path / "notes.txt").write_bytes(pem(tpki.other_root.certificate))  # not an anchor name
    evaluator = CAPathTrust(TrustPolicy(ca_path=tmp_path))
    assert judge(evaluator, tpki, "good").trusted
    assert judge(evaluator, tpki, "stranger").reason == "no-path"


def test_plain_directory_with_der(tmp_path: Path, tpki: TrustPKI) -> None:
    (tmp_path / "root.cer").write_bytes(der(tpki.root.certificate))
    (tmp_path / "broken.crt").write_bytes(b"\x30\x82garbage")  # skipped, not fatal
    evaluator = CAPathTrust(TrustPolicy(ca_path=tmp_path))
    assert judge(evaluator, tpki, "good").trusted


def test_bundle_change_is_picked_up(tmp_path: Path, tpki: TrustPKI) -> None:
    path = tmp_path / "ca.pem"
    path.write_bytes(pem(tpki.other_root.certificate))
    evaluator = CAPathTrust(TrustPolicy(ca_path=path))
    assert judge(evaluator, tpki, "good").reason == "no-path"
    path.write_bytes(pem(tpki.other_root.certificate) + pem(tpki.root.certificate))
    assert judge(evaluator, tpki, "good").trusted
    path.write_bytes(pem(tpki.other_root.certificate))
    assert judge(evaluator, tpki, "good").reason == "no-path"  # the cache does not keep it


def test_directory_change_is_picked_up(tmp_path: Path, tpki: TrustPKI) -> None:
    (tmp_path / "other.pem").write_bytes(pem(tpki.other_root.certificate))
    evaluator = CAPathTrust(TrustPolicy(ca_path=tmp_path))
    assert judge(evaluator, tpki, "good").reason == "no-path"
    (tmp_path / "root.pem").write_bytes(pem(tpki.root.certificate))
    assert judge(evaluator, tpki, "good").trusted
    (tmp_path / "root.pem").unlink()
    assert judge(evaluator, tpki, "good").reason == "no-path"


def test_a_file_rewritten_in_a_directory_is_seen_after_the_rescan_interval(
    tmp_path: Path, tpki: TrustPKI, monkeypatch: pytest.MonkeyPatch
) -> None:
    anchor_file = tmp_path / "anchor.pem"
    anchor_file.write_bytes(pem(tpki.other_root.certificate))
    evaluator = CAPathTrust(TrustPolicy(ca_path=tmp_path))
    assert judge(evaluator, tpki, "good").reason == "no-path"
    monkeypatch.setattr(anchors, "RESCAN_SECONDS", 3600.0)
    anchor_file.write_bytes(pem(tpki.root.certificate))  # in place: the directory is unchanged
    assert judge(evaluator, tpki, "good").reason == "no-path"  # not re-scanned yet
    monkeypatch.setattr(anchors, "RESCAN_SECONDS", 0.0)
    assert judge(evaluator, tpki, "good").trusted


def test_vanished_ca_path_is_untrusted_not_an_exception(tmp_path: Path, tpki: TrustPKI) -> None:
    path = tmp_path / "ca.pem"
    path.write_bytes(pem(tpki.root.certificate))
    evaluator = CAPathTrust(TrustPolicy(ca_path=path))
    assert judge(evaluator, tpki, "good").trusted
    os.unlink(path)
    verdict = judge(evaluator, tpki, "good")
    assert (verdict.level, verdict.reason) == (-1, "no-path")
    assert "ca_path" in (verdict.detail or "")


def test_never_the_os_store(trust: CAPathTrust, tpki: TrustPKI) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        assert judge(trust, tpki, "stranger").reason == "no-path"
        assert judge(trust, tpki, "good").trusted


# -- running contexts and caching ---------------------------------------


def test_evaluate_inside_a_running_event_loop(trust: CAPathTrust, tpki: TrustPKI) -> None:
    async def inside() -> tuple[TrustVerdict, TrustVerdict]:
        asyncio.get_running_loop()
        return judge(trust, tpki, "good"), judge(trust, tpki, "expired")

    good, expired = asyncio.run(inside())
    assert good.trusted
    assert expired.reason == "expired"


def test_cache_never_keeps_trust_when_revocation_data_arrives(
    bundle: Path, tpki: TrustPKI, revocation_crl: x509.CertificateRevocationList
) -> None:
    evaluator = CAPathTrust(TrustPolicy(ca_path=bundle, revocation_mode="soft-fail"))
    assert judge(evaluator, tpki, "revoked").trusted  # no CRL known yet
    assert judge(evaluator, tpki, "revoked").trusted  # from the cache
    assert judge(evaluator, tpki, "revoked", crls=[der(revocation_crl)]).reason == "revoked"


def test_cached_trust_needs_the_same_chain_candidates(bundle: Path, tpki: TrustPKI) -> None:
    evaluator = CAPathTrust(TrustPolicy(ca_path=bundle))
    certificate, intermediates = tpki.chain("good")
    assert intermediates
    assert evaluator.evaluate(certificate, intermediates, purpose="signing").trusted
    assert evaluator.evaluate(certificate, list(intermediates), purpose="signing").trusted
    without = evaluator.evaluate(certificate, [], purpose="signing")
    assert without.reason == "no-path"  # the cached verdict was for another chain


def test_cache_is_bounded(bundle: Path, tpki: TrustPKI) -> None:
    evaluator = CAPathTrust(TrustPolicy(ca_path=bundle), cache_size=2)
    for leaf in ("good", "no-key-usage", "any-eku", "good"):
        assert judge(evaluator, tpki, leaf).trusted
    assert len(evaluator._cache._entries) == 2


def test_repr_names_the_policy_only(trust: CAPathTrust) -> None:
    assert repr(trust).startswith("CAPathTrust(TrustPolicy(ca_path=")


# -- Request Tracker's own keys (t/mail/smime/other-signed.t) -----------


def rt_key(*parts: str) -> Path:
    return vector_path("request-tracker", "keys", *parts)


def rt_sender() -> x509.Certificate:
    return x509.load_pem_x509_certificate(rt_key("sender@example.com.crt").read_bytes())


def test_rt_demo_ca_is_refused_as_weak_by_default() -> None:
    evaluator = build_trust_evaluator(TrustPolicy(ca_path=rt_key("demoCA", "cacert.pem")))
    verdict = evaluator.evaluate(rt_sender(), [], purpose="signing")
    assert verdict.level == -1
    assert verdict.description == 'UNTRUSTED signing CA "CA Owner" <ca.owner@example.com>'
    assert verdict.reason == "weak-algorithm"
    assert "Key size 1024" in (verdict.detail or "")


def test_rt_demo_ca_is_full_with_weak_algorithms_allowed() -> None:
    evaluator = build_trust_evaluator(
        TrustPolicy(ca_path=rt_key("demoCA", "cacert.pem"), allow_weak_algorithms=True)
    )
    for name in ("sender@example.com.crt", "root@example.com.crt"):
        certificate = x509.load_pem_x509_certificate(rt_key(name).read_bytes())
        verdict = evaluator.evaluate(certificate, [], purpose="signing")
        assert verdict == TrustVerdict(
            2, "full", 'Signed by trusted CA "CA Owner" <ca.owner@example.com>'
        )


def test_rt_other_ca_is_not_trusted() -> None:
    evaluator = build_trust_evaluator(
        TrustPolicy(ca_path=rt_key("otherCA", "cacert.pem"), allow_weak_algorithms=True)
    )
    verdict = evaluator.evaluate(rt_sender(), [], purpose="signing")
    assert (verdict.level, verdict.terse) == (-1, "none")
    assert verdict.reason in ("no-path", "bad-chain-signature")
    assert verdict.description == 'UNTRUSTED signing CA "CA Owner" <ca.owner@example.com>'


def test_rt_real_world_certificate_from_an_unknown_ca() -> None:
    certificate = x509.load_pem_x509_certificate(rt_key("dianne@skoll.ca.crt").read_bytes())
    evaluator = build_trust_evaluator(TrustPolicy(ca_path=rt_key("demoCA", "cacert.pem")))
    assert evaluator.evaluate(certificate, [], purpose="signing").reason == "no-path"
    assert datetime.now(UTC) > certificate.not_valid_after_utc


# -- hostile and unusual chains --------------------------------------------


def test_self_signed_leaf_is_untrusted(trust: CAPathTrust) -> None:
    """A self-signed e-mail certificate that is not in ca_path is untrusted (no-path)."""
    lone = TestCA("lone@trust.test", ec_key())
    verdict = trust.evaluate(lone.certificate, [], purpose="signing")
    assert (verdict.level, verdict.reason) == (-1, "no-path")


def test_certificate_loop_is_a_reason_not_an_exception(trust: CAPathTrust) -> None:
    """Two CAs that certify each other (a loop) give a clear TrustReason."""
    key_a, key_b = ec_key(), ec_key()
    name_a = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Loop A")])
    name_b = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Loop B")])
    a_by_b = _ca_certificate(name_a, key_a, name_b, key_b)
    b_by_a = _ca_certificate(name_b, key_b, name_a, key_a)
    verdict = trust.evaluate(a_by_b, [b_by_a, a_by_b], purpose="signing")
    assert verdict.level == -1 and verdict.reason == "no-path"


def test_absurd_chain_length_is_a_reason_not_an_exception(
    trust: CAPathTrust, tpki: TrustPKI
) -> None:
    """Forty intermediates below an untrusted root: untrusted with a reason, quickly."""
    top = TestCA("Deep Root", ec_key())
    chain = [top]
    for depth in range(40):
        chain.append(chain[-1].sub_ca(f"Deep {depth}"))
    leaf = chain[-1].issue("deep@trust.test")
    verdict = trust.evaluate(
        leaf.certificate, [ca.certificate for ca in chain[1:]], purpose="signing"
    )
    assert verdict.level == -1 and verdict.reason == "no-path"


def test_openssl_rehash_directory(
    tmp_path: Path, tpki: TrustPKI, openssl: Callable[..., CompletedProcess[bytes]]
) -> None:
    """A ca_path named by the real `openssl rehash`: only the root's hash file is trusted."""
    (tmp_path / "root.pem").write_bytes(pem(tpki.root.certificate))
    done = openssl("rehash", tmp_path)
    assert done.returncode == 0, done.stderr
    links = sorted(path for path in tmp_path.iterdir() if path.is_symlink())
    assert [link.name[-2:] for link in links] == [".0"]
    (link,) = links
    link.unlink()  # keep only openssl's hash name: the certificate now lives there alone
    link.write_bytes(pem(tpki.root.certificate))
    (tmp_path / "root.pem").unlink()
    evaluator = CAPathTrust(TrustPolicy(ca_path=tmp_path))
    assert judge(evaluator, tpki, "good").trusted
    assert judge(evaluator, tpki, "stranger").reason == "no-path"


def _ca_certificate(
    subject: x509.Name, key: PrivateKey, issuer: x509.Name, issuer_key: PrivateKey
) -> x509.Certificate:
    from cryptography.hazmat.primitives import hashes

    return (
        base_builder(subject, issuer, key, NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )

"""Config: RT's %SMIME options, validation, TOML, and passphrase lookup (RT section 1.3)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from smimecore import Config, ConfigError
from smimecore.keyring.passphrase import resolve_passphrase
from smimecore.trust.policy import TrustPolicy


class TestConfig:
    """Building and validating a Config."""

    def test_defaults_match_rt(self) -> None:
        """Enabled, no keyring or CAPath, untrusted CAs refused, aes-128-cbc as RT's Cipher."""
        config = Config()
        assert config.enable is True
        assert config.keyring is None and config.ca_path is None
        assert config.accept_untrusted_cas is False
        assert config.cipher == "aes-128-cbc"

    def test_paths_given_as_strings_become_paths(self, tmp_path: Path) -> None:
        """String paths are accepted and normalised to Path objects."""
        (tmp_path / "ca.pem").write_text("x")
        config = Config(keyring=str(tmp_path), ca_path=str(tmp_path / "ca.pem"))
        assert config.keyring == tmp_path
        assert config.ca_path == tmp_path / "ca.pem"

    def test_keyring_that_is_not_a_directory_names_the_option(self, tmp_path: Path) -> None:
        """RT silently drops a bad Keyring; we raise a ConfigError naming it."""
        (tmp_path / "file").write_text("x")
        with pytest.raises(ConfigError) as caught:
            Config(keyring=tmp_path / "file")
        assert caught.value.option == "keyring"
        assert "keyring" in str(caught.value)

    def test_missing_ca_path_names_the_option(self, tmp_path: Path) -> None:
        """A ca_path that does not exist is an error, not an ignored option."""
        with pytest.raises(ConfigError) as caught:
            Config(ca_path=tmp_path / "nowhere.pem")
        assert caught.value.option == "ca_path"

    def test_unknown_option_names_it(self) -> None:
        """Unknown keys in a mapping are refused with their name."""
        with pytest.raises(ConfigError) as caught:
            Config.from_mapping({"keyrnig": "/tmp"})
        assert caught.value.option == "keyrnig"

    def test_unknown_cipher_is_refused(self) -> None:
        """Only the ciphers smimecore implements can be configured."""
        with pytest.raises(ConfigError) as caught:
            Config(cipher="rot13")
        assert caught.value.option == "cipher"

    def test_empty_cipher_means_rt_default(self) -> None:
        """RT treats an empty Cipher as aes-128-cbc."""
        assert Config(cipher="").cipher == "aes-128-cbc"

    def test_non_boolean_switch_is_refused(self) -> None:
        """enable = "yes" is a mistake worth reporting."""
        with pytest.raises(ConfigError) as caught:
            Config(enable="yes")  # type: ignore[arg-type]
        assert caught.value.option == "enable"

    def test_rt_option_names_are_accepted(self, tmp_path: Path) -> None:
        """RT's own spelling (CAPath, AcceptUntrustedCAs, Providers...) maps onto our options."""
        (tmp_path / "ca.pem").write_text("x")
        config = Config.from_mapping(
            {
                "Enable": True,
                "Keyring": str(tmp_path),
                "CAPath": str(tmp_path / "ca.pem"),
                "AcceptUntrustedCAs": True,
                "Passphrase": {"": "fallback"},
                "OpenSSL": "/usr/bin/openssl",
                "Cipher": "aes-256-cbc",
                "Providers": ["default", "legacy"],
            }
        )
        assert config.ca_path == tmp_path / "ca.pem"
        assert config.accept_untrusted_cas is True
        assert config.cipher == "aes-256-cbc"
        assert config.providers == ("default", "legacy")

    def test_same_option_under_both_names_is_refused(self, tmp_path: Path) -> None:
        """Giving keyring and Keyring at once is ambiguous."""
        with pytest.raises(ConfigError):
            Config.from_mapping({"keyring": str(tmp_path), "Keyring": str(tmp_path)})

    def test_from_toml_resolves_paths_relative_to_the_file(self, tmp_path: Path) -> None:
        """Relative paths in the [smime] table are relative to the TOML file."""
        (tmp_path / "keys").mkdir()
        (tmp_path / "ca.pem").write_text("x")
        (tmp_path / "smime.toml").write_text(
            '[smime]\nkeyring = "keys"\nca_path = "ca.pem"\naccept_untrusted_cas = true\n'
            '[smime.passphrase]\n"" = "fallback"\n"queue@example.com" = "secret"\n'
        )
        config = Config.from_toml(tmp_path / "smime.toml")
        assert config.keyring == tmp_path / "keys"
        assert config.ca_path == tmp_path / "ca.pem"
        assert resolve_passphrase(config.passphrase, "queue@example.com", "signing") == "secret"

    def test_from_toml_without_smime_table(self, tmp_path: Path) -> None:
        """A TOML file without [smime] is a ConfigError, not an empty config."""
        (tmp_path / "c.toml").write_text("[other]\nx = 1\n")
        with pytest.raises(ConfigError) as caught:
            Config.from_toml(tmp_path / "c.toml")
        assert caught.value.option == "smime"

    def test_broken_toml(self, tmp_path: Path) -> None:
        """Invalid TOML is reported as a configuration error."""
        (tmp_path / "c.toml").write_text("[smime\n")
        with pytest.raises(ConfigError):
            Config.from_toml(tmp_path / "c.toml")

    def test_repr_hides_the_passphrase(self) -> None:
        """Secrets never appear in reprs."""
        config = Config(passphrase="hunter2-secret")
        assert "hunter2-secret" not in repr(config)

    def test_replace_validates_again(self, tmp_path: Path) -> None:
        """replace() builds a new, validated Config."""
        with pytest.raises(ConfigError):
            Config().replace(keyring=tmp_path / "missing")


class TestPassphraseLookup:
    """RT::Crypt::Role::GetPassphrase, with case-insensitive addresses."""

    def test_none_gives_none(self) -> None:
        """No passphrase configured: no passphrase."""
        assert resolve_passphrase(None, "a@example.com", "signing") is None

    def test_string_is_used_for_every_key(self) -> None:
        """A scalar is the passphrase of every address and purpose."""
        assert resolve_passphrase("s3", "a@example.com", "encryption") == "s3"

    def test_table_by_address_with_fallback(self) -> None:
        """A table is looked up by address, with '' as the fallback."""
        table = {"queue@example.com": "queue", "": "fallback"}
        assert resolve_passphrase(table, "queue@example.com", "signing") == "queue"
        assert resolve_passphrase(table, "other@example.com", "signing") == "fallback"

    def test_address_matching_is_case_insensitive(self) -> None:
        """RT matches case-sensitively (a bug); we do not."""
        assert resolve_passphrase({"Queue@Example.com": "q"}, "queue@example.com", "signing") == "q"

    def test_nested_purpose_tables(self) -> None:
        """A nested table is keyed by purpose, with its own '' fallback and no top-level one."""
        table = {
            "queue@example.com": {"signing": "sign-pw", "": "other-pw"},
            "": "global",
        }
        assert resolve_passphrase(table, "queue@example.com", "signing") == "sign-pw"
        assert resolve_passphrase(table, "queue@example.com", "encryption") == "other-pw"
        no_fallback = {"queue@example.com": {"signing": "sign-pw"}, "": "global"}
        assert resolve_passphrase(no_fallback, "queue@example.com", "encryption") is None

    def test_rt_capitalised_purposes(self) -> None:
        """RT writes 'Signing'/'Encryption'; both spellings work."""
        table = {"q@example.com": {"Signing": "s", "Encryption": "e"}}
        assert resolve_passphrase(table, "q@example.com", "encryption") == "e"

    def test_empty_value_falls_through_like_perl_or(self) -> None:
        """An empty entry falls back to '' as Perl's || does."""
        assert (
            resolve_passphrase({"q@example.com": "", "": "fb"}, "q@example.com", "signing") == "fb"
        )

    def test_callable_gets_address_and_purpose(self) -> None:
        """A function is called with (address, purpose)."""
        calls: list[tuple[str, str]] = []

        def lookup(address: str, purpose: str) -> str:
            calls.append((address, purpose))
            return f"{address}/{purpose}"

        assert resolve_passphrase(lookup, "q@example.com", "signing") == "q@example.com/signing"
        assert calls == [("q@example.com", "signing")]

    def test_bad_passphrase_types_are_refused(self) -> None:
        """A passphrase that is neither string, function nor table is a ConfigError."""
        with pytest.raises(ConfigError):
            Config(passphrase=42)  # type: ignore[arg-type]
        with pytest.raises(ConfigError):
            Config(passphrase={"a@example.com": 42})  # type: ignore[dict-item]


class TestTrustOptions:
    """The trust and revocation options, and RT's CheckCRL / CheckOCSP switches."""

    def test_defaults_keep_rt_behaviour(self) -> None:
        """Validation now, no revocation checks, no fetching, 30 s timeout, no sender check."""
        config = Config()
        assert config.validation_time == "now"
        assert config.revocation_mode == "off"
        assert config.allow_fetching is False
        assert config.revocation_timeout == 30.0
        assert config.require_sender_match is False
        assert config.allow_weak_algorithms is False

    @pytest.mark.parametrize(
        ("option", "value"),
        [
            ("revocation_mode", "sometimes"),
            ("validation_time", "yesterday"),
            ("revocation_timeout", -1),
            ("revocation_timeout", "30"),
            ("allow_fetching", "yes"),
            ("require_sender_match", 1),
        ],
    )
    def test_bad_values_name_the_option(self, option: str, value: object) -> None:
        """Every bad value is a ConfigError naming its option."""
        with pytest.raises(ConfigError) as caught:
            Config.from_mapping({option: value})
        assert caught.value.option == option

    def test_naive_validation_time_is_refused(self) -> None:
        """A datetime without a time zone is ambiguous."""
        from datetime import datetime

        with pytest.raises(ConfigError):
            Config(validation_time=datetime(2026, 1, 1))

    def test_missing_crl_path(self, tmp_path: Path) -> None:
        """crl_path must exist, like ca_path."""
        with pytest.raises(ConfigError) as caught:
            Config(crl_path=tmp_path / "none.crl")
        assert caught.value.option == "crl_path"

    def test_rt_check_crl_means_soft_fail_with_fetching(self) -> None:
        """RT's CheckCRL/CheckOCSP download revocation data and tolerate failures."""
        config = Config.from_mapping({"CheckCRL": 1, "CheckRevocationDownloadTimeout": 5})
        assert (config.revocation_mode, config.allow_fetching, config.revocation_timeout) == (
            "soft-fail",
            True,
            5.0,
        )
        assert Config.from_mapping({"CheckOCSP": 0}).revocation_mode == "off"

    def test_toml_datetime_validation_time(self, tmp_path: Path) -> None:
        """A TOML offset datetime is an aware validation time."""
        (tmp_path / "c.toml").write_text("[smime]\nvalidation_time = 2026-01-01T00:00:00Z\n")
        assert Config.from_toml(tmp_path / "c.toml").validation_time.year == 2026  # type: ignore[union-attr]


class TestPathOptions:
    """Every path option takes str or os.PathLike and reads back as a Path (issue 12)."""

    @pytest.mark.parametrize("kind", [str, Path, lambda p: _PathLike(str(p))])
    def test_every_path_option_accepts_str_and_pathlike(
        self, tmp_path: Path, kind: Callable[[Path], object]
    ) -> None:
        bundle = tmp_path / "ca.pem"
        bundle.write_text("")
        config = Config(
            keyring=kind(tmp_path),  # type: ignore[arg-type]
            ca_path=kind(bundle),  # type: ignore[arg-type]
            crl_path=kind(tmp_path),  # type: ignore[arg-type]
            other_certificates_to_send=kind(bundle),  # type: ignore[arg-type]
            certificate_store=kind(tmp_path),  # type: ignore[arg-type]
        )
        assert config.keyring == tmp_path and config.ca_path == bundle
        assert config.crl_path == tmp_path and config.certificate_store == tmp_path
        assert config.other_certificates_to_send == bundle

    def test_a_path_option_of_the_wrong_type_names_the_option(self) -> None:
        with pytest.raises(ConfigError) as raised:
            Config(keyring=42)  # type: ignore[arg-type]
        assert raised.value.option == "keyring"

    def test_the_trust_policy_is_the_configs_own(self, tmp_path: Path) -> None:
        """TrustPolicy is Config's base: its fields are read off a Config, never restated."""
        bundle = tmp_path / "ca.pem"
        bundle.write_text("")
        config = Config(ca_path=str(bundle), allow_weak_algorithms=True, revocation_timeout=5)
        policy = TrustPolicy.from_config(config)
        assert isinstance(config, TrustPolicy) and type(policy) is TrustPolicy
        assert policy.ca_path == bundle and policy.allow_weak_algorithms
        assert policy.revocation_timeout == 5.0


class _PathLike:
    def __init__(self, path: str) -> None:
        self.path = path

    def __fspath__(self) -> str:
        return self.path


def test_the_readme_python_example_passes_mypy_strict(tmp_path: Path) -> None:
    """The README's Python blocks type-check as written (the names it leaves open are bytes)."""
    from mypy import api

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL)
    assert blocks
    code = "\n".join(blocks)
    free = sorted(set(re.findall(r"\b(\w+_bytes)\b", code)))
    prelude = "".join(f'{name} = b""\n' for name in free)
    example = tmp_path / "readme_example.py"
    example.write_text(prelude + code, encoding="utf-8")
    stdout, stderr, status = api.run(
        ["--strict", "--no-incremental", "--cache-dir", os.devnull, str(example)]
    )
    assert status == 0, stdout + stderr

"""Configuration: RT's ``%SMIME`` options as a frozen, validated value.

Every option of RT's ``%SMIME`` has a counterpart here (snake_case; the RT
spelling is accepted too when reading a mapping or a TOML file).  Where RT
silently drops a bad value (a keyring that is not a directory, a CAPath
that does not exist), smimecore raises :class:`ConfigError` naming the
option.
"""

from __future__ import annotations

import inspect
import math
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, overload

from smimecore.errors import ConfigError

__all__ = [
    "ANY_POLICY",
    "CIPHERS",
    "REVOCATION_MODES",
    "Config",
    "PassphraseSpec",
    "Purpose",
    "RevocationMode",
    "StrPath",
    "TrustPolicy",
    "ValidationTime",
]

Purpose = str
"""A key's purpose as RT names it: ``"signing"`` or ``"encryption"``."""

PassphraseSpec = (
    str | Callable[[str, Purpose], str | None] | Mapping[str, "str | Mapping[str, str]"] | None
)
"""A passphrase for every key, a function ``(address, purpose) -> passphrase``, or a table.

A table is looked up by address; an entry may itself be a table keyed by
purpose (``"signing"``, ``"encryption"``, with ``""`` as its fallback).
The ``""`` entry of the top table is the fallback for addresses not listed.
"""

CIPHERS: tuple[str, ...] = (
    "aes-128-cbc",
    "aes-192-cbc",
    "aes-256-cbc",
    "aes-128-gcm",
    "aes-256-gcm",
    "chacha20-poly1305",
)
"""Content-encryption algorithms ``cipher`` may name."""

RevocationMode = Literal["off", "soft-fail", "hard-fail", "require"]
"""``off`` (RT's CheckCRL = 0), ``soft-fail``, ``hard-fail`` or ``require``."""

REVOCATION_MODES: tuple[RevocationMode, ...] = ("off", "soft-fail", "hard-fail", "require")

ANY_POLICY = "2.5.29.32.0"
"""The anyPolicy OID: the default initial policy set (RFC 5280 section 6.1.1)."""

ValidationTime = Literal["now", "signing"] | datetime
"""``"now"`` (as RT), ``"signing"`` (the signingTime attribute) or a fixed aware datetime."""

_RT_NAMES = {
    "Enable": "enable",
    "Keyring": "keyring",
    "CAPath": "ca_path",
    "AcceptUntrustedCAs": "accept_untrusted_cas",
    "Passphrase": "passphrase",
    "OpenSSL": "openssl",
    "Cipher": "cipher",
    "OtherCertificatesToSend": "other_certificates_to_send",
    "Providers": "providers",
    "CheckRevocationDownloadTimeout": "revocation_timeout",
}

# RT's CheckCRL / CheckOCSP download revocation data and carry on when the download fails.
_RT_REVOCATION_SWITCHES = frozenset({"CheckCRL", "CheckOCSP"})

IGNORED_OPTIONS = frozenset({"providers"})
"""Options accepted for RT compatibility that mean nothing without the openssl binary."""


StrPath = str | os.PathLike[str]
"""What a path option accepts: a string or any path-like object."""


class PathOption:
    """A dataclass field holding a path: given as ``str`` or ``os.PathLike``, read as ``Path``.

    ``""`` and ``None`` mean unset.  Anything else is a :class:`ConfigError`
    naming the option.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self._slot = f"_{name}_path"

    @overload
    def __get__(self, instance: None, owner: type) -> None: ...

    @overload
    def __get__(self, instance: object, owner: type) -> Path | None: ...

    def __get__(self, instance: object | None, owner: type) -> Path | None:
        if instance is None:
            return None  # the field's default
        value: Path | None = instance.__dict__.get(self._slot)
        return value

    def __set__(self, instance: object, value: StrPath | None) -> None:
        instance.__dict__[self._slot] = _as_path(self.name, value)


@dataclass(frozen=True)
class TrustPolicy:
    """How certificates are judged: the trust options of :class:`Config`, declared once here.

    ``ca_path``: a PEM bundle, a ``c_rehash`` directory or a directory of
    PEM/DER certificates; ``None`` means RT's "unknown (no CAPath set)".
    ``validation_time``: ``"now"``, ``"signing"`` (falls back to now when a
    signature has no signingTime) or an aware datetime.
    ``allow_weak_algorithms``: accept MD5, SHA-1 and RSA keys under 2048 bits.
    ``revocation_mode``: ``off``, ``soft-fail`` (revoked certificates are
    refused, missing revocation data is not), ``hard-fail`` (a certificate
    whose declared CRL/OCSP cannot be checked is refused) or ``require``
    (every certificate of the path needs revocation data).
    ``crl_path``: a CRL file or directory (PEM or DER), used offline.
    ``allow_fetching``: download CRLs and OCSP responses named in certificates.
    ``revocation_timeout``: seconds allowed for that network work.
    ``initial_policies``, ``require_explicit_policy``,
    ``inhibit_policy_mapping``, ``inhibit_any_policy``: RFC 5280's initial
    inputs to path validation (the PKITS settings).
    """

    ca_path: PathOption = PathOption()
    validation_time: ValidationTime = "now"
    allow_weak_algorithms: bool = False
    revocation_mode: RevocationMode = "off"
    crl_path: PathOption = PathOption()
    allow_fetching: bool = False
    revocation_timeout: float = 30.0
    initial_policies: tuple[str, ...] = (ANY_POLICY,)
    require_explicit_policy: bool = False
    inhibit_policy_mapping: bool = False
    inhibit_any_policy: bool = False

    def __post_init__(self) -> None:
        check_validation_time(self.validation_time)
        for switch in (
            "allow_weak_algorithms",
            "allow_fetching",
            "require_explicit_policy",
            "inhibit_policy_mapping",
            "inhibit_any_policy",
        ):
            check_bool(switch, getattr(self, switch))
        check_revocation_mode(self.revocation_mode)
        object.__setattr__(
            self, "revocation_timeout", check_timeout("revocation_timeout", self.revocation_timeout)
        )
        object.__setattr__(self, "initial_policies", _policy_oids(self.initial_policies))

    @classmethod
    def from_config(cls, config: TrustPolicy) -> TrustPolicy:
        """The trust policy part of a configuration (a :class:`Config` is one already)."""
        return TrustPolicy(
            **{item.name: getattr(config, item.name) for item in fields(TrustPolicy)}
        )

    @property
    def checks_revocation(self) -> bool:
        """Whether revocation is checked at all."""
        return self.revocation_mode != "off"

    @property
    def has_default_policy_inputs(self) -> bool:
        """Whether the RFC 5280 initial inputs are the defaults (anyPolicy, nothing inhibited)."""
        return (
            self.initial_policies == (ANY_POLICY,)
            and not self.require_explicit_policy
            and not self.inhibit_policy_mapping
            and not self.inhibit_any_policy
        )


# mypy types the path options Config inherits (ca_path, crl_path) by what they accept
# (StrPath), not by what they read as (Path); code below treats them as StrPath.
@dataclass(frozen=True)
class Config(TrustPolicy):
    """How smimecore finds keys and judges trust; mirrors RT's ``%SMIME``.

    The trust options are those of :class:`TrustPolicy`.  Paths may be
    given as strings or path-like objects and read back as ``Path``.
    ``passphrase`` is never shown in the repr.
    """

    enable: bool = True
    keyring: PathOption = PathOption()
    follow_keyring_links: bool = False
    accept_untrusted_cas: bool = False
    passphrase: PassphraseSpec = field(default=None, repr=False)
    openssl: str | None = None
    cipher: str = "aes-128-cbc"
    other_certificates_to_send: PathOption = PathOption()
    providers: tuple[str, ...] = ()
    require_sender_match: bool = False
    accept_partial_protection: bool = False
    require_authenticated_encryption: bool = False
    max_clock_skew: float = 3600.0
    max_signing_time_drift: float | None = 3600.0
    max_stored_certificates_per_message: int = 16
    cross_check: bool = False
    encrypt_to_self: bool = False
    prefer_post_quantum: bool | None = None
    prepare_for_transport: bool = True
    certificate_store: PathOption = PathOption()
    status_header: str | None = None
    max_depth: int = 10
    max_decompressed_size: int = 64 * 1024 * 1024
    max_output_size: int = 256 * 1024 * 1024
    max_mime_depth: int = 64
    max_mime_parts: int = 10_000
    max_header_size: int = 1024 * 1024
    max_ber_depth: int = 32
    max_recipient_infos: int = 1024
    max_signer_infos: int = 64
    max_certificates: int = 512
    max_decryption_attempts: int = 8

    def __post_init__(self) -> None:
        super().__post_init__()
        check_bool("enable", self.enable)
        check_bool("accept_untrusted_cas", self.accept_untrusted_cas)
        _check_readable_directory("keyring", self.keyring)
        _check_existing_path("ca_path", self.ca_path)
        _check_existing_path("crl_path", self.crl_path)
        _check_readable_file("other_certificates_to_send", self.other_certificates_to_send)
        _check_readable_directory("certificate_store", self.certificate_store)
        object.__setattr__(self, "cipher", _cipher(self.cipher))
        object.__setattr__(self, "providers", _string_tuple("providers", self.providers))
        _check_passphrase(self.passphrase)
        for switch in (
            "follow_keyring_links",
            "require_sender_match",
            "accept_partial_protection",
            "require_authenticated_encryption",
            "cross_check",
            "encrypt_to_self",
            "prepare_for_transport",
        ):
            check_bool(switch, getattr(self, switch))
        object.__setattr__(
            self, "max_clock_skew", check_timeout("max_clock_skew", self.max_clock_skew)
        )
        if self.max_signing_time_drift is not None:
            object.__setattr__(
                self,
                "max_signing_time_drift",
                check_timeout("max_signing_time_drift", self.max_signing_time_drift),
            )
        _check_positive_int(
            "max_stored_certificates_per_message", self.max_stored_certificates_per_message
        )
        _check_header_name(self.status_header)
        for limit in (
            "max_depth",
            "max_decompressed_size",
            "max_output_size",
            "max_mime_depth",
            "max_mime_parts",
            "max_header_size",
            "max_ber_depth",
            "max_recipient_infos",
            "max_signer_infos",
            "max_certificates",
            "max_decryption_attempts",
        ):
            _check_positive_int(limit, getattr(self, limit))
        if self.prefer_post_quantum is not None:
            check_bool("prefer_post_quantum", self.prefer_post_quantum)
        if self.cross_check and not self.openssl:
            raise ConfigError("cross_check", "needs the openssl option (the binary to ask)")
        if self.openssl is not None and not isinstance(self.openssl, str | os.PathLike):
            raise ConfigError("openssl", "must be the path of the openssl binary")

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any], *, base_dir: Path | None = None) -> Config:
        """Build from a mapping of option names (ours or RT's); unknown names are errors.

        Relative paths are taken relative to ``base_dir`` when given.
        """
        known = {item.name for item in fields(cls)}
        values: dict[str, Any] = {}
        for name, value in options.items():
            if name in _RT_REVOCATION_SWITCHES:
                if value:
                    values.setdefault("revocation_mode", "soft-fail")
                    values["allow_fetching"] = True
                continue
            key = _RT_NAMES.get(name, name)
            if key not in known:
                raise ConfigError(name, "is not a known option")
            if key in values:
                raise ConfigError(name, "is given twice (under RT's name and ours)")
            values[key] = value
        if base_dir is not None:
            for key in _path_options():
                if isinstance(values.get(key), str | os.PathLike):
                    values[key] = base_dir / Path(values[key]).expanduser()
        return cls(**values)

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> Config:
        """Read the ``[smime]`` table of a TOML file; relative paths are relative to the file."""
        location = Path(path)
        try:
            document = tomllib.loads(location.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError("config", f"cannot read {location}: {exc.strerror}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError("config", f"{location} is not valid TOML: {exc}") from None
        table = document.get("smime")
        if not isinstance(table, dict):
            raise ConfigError("smime", f"{location} has no [smime] table")
        return cls.from_mapping(table, base_dir=location.resolve().parent)

    def replace(self, **changes: Any) -> Config:
        """A copy with some options changed (validated again)."""
        values = {item.name: getattr(self, item.name) for item in fields(self)}
        values.update(changes)
        return Config(**values)


def _path_options() -> list[str]:
    """The names of the options that hold paths."""
    return [
        item.name
        for item in fields(Config)
        if isinstance(inspect.getattr_static(Config, item.name, None), PathOption)
    ]


def check_validation_time(value: object) -> None:
    """Raise :class:`ConfigError` unless ``value`` is "now", "signing" or an aware datetime."""
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise ConfigError("validation_time", "a datetime needs a time zone")
        return
    if value not in ("now", "signing"):
        raise ConfigError(
            "validation_time", f"{value!r} is not 'now', 'signing' or an aware datetime"
        )


def check_revocation_mode(value: object) -> None:
    """Raise :class:`ConfigError` unless ``value`` is one of :data:`REVOCATION_MODES`."""
    if value not in REVOCATION_MODES:
        raise ConfigError(
            "revocation_mode", f"{value!r} is not one of {', '.join(REVOCATION_MODES)}"
        )


def check_timeout(option: str, value: object) -> float:
    """A positive, finite number of seconds as a float; anything else is a :class:`ConfigError`."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(option, f"expected a number of seconds, got {value!r}")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(option, f"must be a positive number of seconds, not {value}")
    return seconds


def check_bool(name: str, value: object) -> None:
    """Raise :class:`ConfigError` unless ``value`` is a bool."""
    if not isinstance(value, bool):
        raise ConfigError(name, f"must be true or false, not {value!r}")


def _as_path(name: str, value: object) -> Path | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | os.PathLike):
        raise ConfigError(name, f"must be a path, not {type(value).__name__}")
    path = Path(value).expanduser()
    if str(path) == ".":
        raise ConfigError(name, "is empty")
    return path


def _check_readable_directory(name: str, value: StrPath | None) -> None:
    path = None if value is None else Path(value)
    if path is not None and not (path.is_dir() and os.access(path, os.R_OK | os.X_OK)):
        raise ConfigError(name, f"{path} is not a readable directory")


def _check_existing_path(name: str, value: StrPath | None) -> None:
    path = None if value is None else Path(value)
    if path is not None and not (path.exists() and os.access(path, os.R_OK)):
        raise ConfigError(name, f"{path} does not exist or is not readable")


def _check_readable_file(name: str, value: StrPath | None) -> None:
    path = None if value is None else Path(value)
    if path is not None and not (path.is_file() and os.access(path, os.R_OK)):
        raise ConfigError(name, f"{path} is not a readable file")


def _policy_oids(value: object) -> tuple[str, ...]:
    oids = (value,) if isinstance(value, str) else value
    if not isinstance(oids, tuple | list) or not oids:
        raise ConfigError("initial_policies", "must be a non-empty list of policy OIDs")
    for oid in oids:
        parts = oid.split(".") if isinstance(oid, str) else []
        if len(parts) < 2 or not all(part.isdigit() for part in parts):
            raise ConfigError("initial_policies", f"{oid!r} is not a dotted OID")
    return tuple(oids)


def _cipher(value: object) -> str:
    if value is None or value == "":
        return "aes-128-cbc"
    if not isinstance(value, str) or value.lower() not in CIPHERS:
        raise ConfigError("cipher", f"{value!r} is not one of {', '.join(CIPHERS)}")
    return value.lower()


def _string_tuple(name: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise ConfigError(name, "must be a list of strings")


def _check_header_name(value: object) -> None:
    if value is None:
        return
    if (
        not isinstance(value, str)
        or not value
        or not all(33 <= ord(c) <= 126 and c != ":" for c in value)
    ):
        raise ConfigError("status_header", f"{value!r} is not a mail header field name")


def _check_positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(name, f"must be a positive whole number, not {value!r}")


def _check_passphrase(value: object) -> None:
    if value is None or isinstance(value, str) or callable(value):
        return
    if not isinstance(value, Mapping):
        raise ConfigError("passphrase", "must be a string, a function or a table")
    for address, entry in value.items():
        if not isinstance(address, str):
            raise ConfigError("passphrase", "table keys must be addresses (strings)")
        if isinstance(entry, Mapping):
            if not all(isinstance(k, str) and isinstance(v, str) for k, v in entry.items()):
                raise ConfigError(
                    "passphrase", f"the table for {address!r} must map purposes to strings"
                )
        elif not isinstance(entry, str):
            raise ConfigError(
                "passphrase", f"the entry for {address!r} must be a string or a table"
            )

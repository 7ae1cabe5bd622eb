"""Limits per message, not per part (issue 11): each hit is a ResourceLimitError with an ERROR record,
and what a hostile message costs stays bounded (measured in child processes)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from smimecore import SMIME, Config, SmimeError
from smimecore.errors import ResourceLimitError
from tests.conftest import SAMPLE_MESSAGE
from tests.engine.test_process import _compressed, _pkcs7_part

MiB = 1024 * 1024


def _mixed(parts: list[bytes]) -> bytes:
    boundary = b"LIMITS"
    body = b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts)
    return (
        b"Subject: many parts\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="LIMITS"\r\n\r\n' + body + b"--LIMITS--\r\n"
    )


def _bomb(parts: int, each: int) -> bytes:
    """``parts`` compressed parts that each inflate to ``each`` bytes (one compression, reused)."""
    part = _pkcs7_part(_compressed(b"\0" * each), "compressed-data", "bomb.p7z")
    return _mixed([part] * parts)


def _refused(engine: SMIME, message: bytes) -> ResourceLimitError:
    with pytest.raises(ResourceLimitError) as raised:
        engine.verify_decrypt(message)
    *_, record = raised.value.statuses
    assert (record.operation, record.status) == ("VerifyDecrypt", "ERROR")
    assert "exceeds a limit" in record.message
    return raised.value


def test_the_decompression_budget_is_per_message() -> None:
    """Each part fits under max_decompressed_size; together they do not."""
    engine = SMIME(Config(max_decompressed_size=3 * MiB))
    one = _bomb(1, 2 * MiB)
    assert engine.verify_decrypt(one).ok
    error = _refused(engine, _bomb(2, 2 * MiB))
    assert error.option == "max_decompressed_size"


def test_the_output_budget() -> None:
    engine = SMIME(Config(max_output_size=MiB))
    assert _refused(engine, _bomb(1, 2 * MiB)).option == "max_output_size"


@pytest.mark.parametrize(
    ("options", "message", "words"),
    [
        (
            {"max_mime_parts": 50},
            _mixed([b"Content-Type: text/plain\r\n\r\nx\r\n"] * 60),
            "MIME parts",
        ),
        ({"max_mime_depth": 5}, None, "nested deeper than 5"),
        (
            {"max_header_size": 4096},
            b"X-Padding: " + b"a" * 8000 + b"\r\n" + SAMPLE_MESSAGE,
            "header section",
        ),
    ],
    ids=["parts", "depth", "header"],
)
def test_mime_limits(options: dict[str, int], message: bytes | None, words: str) -> None:
    if message is None:
        message = b"Content-Type: text/plain\r\n\r\ninnermost\r\n"
        for level in range(8):
            boundary = f"level{level}".encode()
            message = (
                b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n--'
                + boundary + b"\r\n" + message + b"\r\n--" + boundary + b"--\r\n"
            )  # fmt: skip
        message = b"Subject: deep\r\nMIME-Version: 1.0\r\n" + message
    error = _refused(SMIME(Config(**options)), message)
    assert words in str(error)


_CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    from pathlib import Path
    from smimecore import SMIME, Config, SmimeError

    message = Path(sys.argv[1]).read_bytes()
    address_space = int(sys.argv[2])
    if address_space:
        with open("/proc/self/status") as status:
            size = next(int(l.split()[1]) * 1024 for l in status if l.startswith("VmSize:"))
        resource.setrlimit(resource.RLIMIT_AS, (size + address_space, size + address_space))
    engine = SMIME(Config())
    started = time.perf_counter()
    try:
        engine.verify_decrypt(message)
        outcome = "ok"
    except SmimeError as error:
        outcome = type(error).__name__
    except MemoryError:
        outcome = "MemoryError"
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"outcome": outcome, "seconds": elapsed, "peak": peak}))
    """
)


def _in_child(tmp_path: Path, message: bytes, address_space: int = 0) -> dict[str, object]:
    (tmp_path / "message.eml").write_bytes(message)
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(tmp_path / "message.eml"), str(address_space)],
        capture_output=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    found: dict[str, object] = json.loads(done.stdout)
    return found


def test_forty_parts_of_sixty_mebibytes_are_refused_quickly_and_cheaply(tmp_path: Path) -> None:
    """The message of issue 11 (40 x 60 MiB, ~3 MB of input): an error in under 2 s, < 512 MiB."""
    message = _bomb(40, 60 * MiB)
    assert len(message) < 4 * MiB
    found = _in_child(tmp_path, message)
    assert found["outcome"] == "ResourceLimitError"
    assert isinstance(found["seconds"], float) and found["seconds"] < 2.0
    assert isinstance(found["peak"], int) and found["peak"] < 512 * MiB


def test_memory_stays_within_a_multiple_of_the_input_plus_the_output_budget(
    tmp_path: Path,
) -> None:
    """Under RLIMIT_AS = what the interpreter holds + 4 x input + the decompression budget + 64 MiB
    of slack, hostile messages end in a SmimeError (or are processed), never in MemoryError."""
    for message in (_bomb(40, 60 * MiB), _bomb(3000, 64 * 1024), _mixed([SAMPLE_MESSAGE] * 5000)):
        budget = 4 * len(message) + Config().max_decompressed_size + 64 * MiB
        found = _in_child(tmp_path, message, budget)
        assert found["outcome"] in ("ok", "ResourceLimitError"), found


def test_cms_limits_come_from_the_configuration(pki_dir: Path) -> None:
    """max_signer_infos, max_certificates, max_ber_depth, max_recipient_infos and
    max_decryption_attempts reach the CMS reader and the decryption."""
    from tests.conftest import PASSPHRASE

    def engine_with(**limits: int) -> SMIME:
        keys = {"keyring": pki_dir / "keyring", "passphrase": PASSPHRASE}
        return SMIME(Config(**keys, accept_untrusted_cas=True, **limits))  # type: ignore[arg-type]

    engine = engine_with()
    signed = engine.sign(SAMPLE_MESSAGE, signer="p256@test.example").data
    assert engine.verify(signed).ok
    strict = engine_with(max_ber_depth=3)
    with pytest.raises(SmimeError) as raised:
        strict.verify(signed)
    assert raised.value.statuses[0]["Status"] == "ERROR" and "deep" in str(raised.value)
    encrypted = engine.encrypt(
        SAMPLE_MESSAGE, recipients=["p256@test.example", "rsa2048@test.example"]
    )
    few = engine_with(max_recipient_infos=1)
    with pytest.raises(SmimeError) as raised:
        few.decrypt(encrypted.data)
    assert "RecipientInfo" in str(raised.value)
    assert engine.context.reader_limits.max_certificates == Config().max_certificates

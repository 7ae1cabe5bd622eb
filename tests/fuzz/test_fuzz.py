"""The fuzz targets without atheris: every committed crash replayed, and a short hypothesis run.

A crash input lives in ``tests/fuzz/crashes/<target>/``.  Replaying it must
raise nothing but a ``SmimeError`` (the target swallows those).  Crashes
whose cause is in a part being rewritten elsewhere are listed in
:data:`PENDING` and expected to fail, strictly: when the fix lands the
test says so, and the entry goes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import vector_path
from tests.fuzz.targets import TARGETS, seeds

CRASHES = Path(__file__).resolve().parent / "crashes"

PENDING: dict[str, str] = {}
"""Crash files (``<target>/<name>``) whose fix belongs to another part, and why they fail."""

HYPOTHESIS_PENDING: dict[str, str] = {}
"""Targets whose hypothesis run finds one of the PENDING crashes (derandomised: always)."""

NEEDS_VECTORS = frozenset({"cms_enveloped", "verify_decrypt"})
"""Targets that decrypt or verify with the vectors' keys: their crashes replay only with them."""


def _crash_files() -> list[str]:
    return sorted(
        f"{path.parent.name}/{path.name}"
        for path in CRASHES.glob("*/*")
        if path.is_file() and path.suffix != ".md"
    )


def _replay_case(name: str) -> object:
    reason = PENDING.get(name)
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(name, marks=marks, id=name)


@pytest.mark.parametrize("name", [_replay_case(name) for name in _crash_files()])
def test_committed_crash_is_handled(name: str) -> None:
    """A past crash input gives only SmimeErrors (the target returns) now."""
    target_name = name.split("/", 1)[0]
    if target_name in NEEDS_VECTORS:
        vector_path()
    TARGETS[target_name]((CRASHES / name).read_bytes())


def test_every_crash_folder_is_a_target_and_every_pending_entry_exists() -> None:
    """The corpus and PENDING name real targets and files (no stale entries)."""
    assert {path.name for path in CRASHES.iterdir() if path.is_dir()} <= set(TARGETS)
    assert set(PENDING) <= set(_crash_files())
    assert set(HYPOTHESIS_PENDING) <= set(TARGETS)


@st.composite
def _mutated(draw: st.DrawFn, pool: tuple[bytes, ...]) -> bytes:
    """A seed with a few of the mutations libFuzzer makes: flips, inserts, cuts, copies."""
    data = bytearray(draw(st.sampled_from(pool)))
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(("flip", "insert", "delete", "truncate", "copy")))
        if kind == "flip" and position < len(data):
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif kind == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[position : position + draw(st.integers(1, 64))]
        elif kind == "truncate":
            del data[position:]
        elif kind == "copy" and data:
            start = draw(st.integers(0, len(data) - 1))
            data[position:position] = data[start : start + draw(st.integers(1, 256))]
    return bytes(data)


def _hypothesis_run(target: Callable[[bytes], None], pool: tuple[bytes, ...]) -> None:
    @settings(
        max_examples=40,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.one_of(_mutated(pool), st.binary(max_size=512)))
    def run(data: bytes) -> None:
        target(data)

    run()


def _hypothesis_case(name: str) -> object:
    reason = HYPOTHESIS_PENDING.get(name)
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(name, marks=marks, id=name)


@pytest.mark.parametrize("name", [_hypothesis_case(name) for name in sorted(TARGETS)])
def test_target_under_hypothesis(name: str) -> None:
    """Mutations of the seeds (and random bytes) raise nothing but SmimeErrors."""
    pool = seeds(name)
    if not pool:
        vector_path()  # skips (or fails under SMIMECORE_REQUIRE_VECTORS) without the vectors
    _hypothesis_run(TARGETS[name], pool)


def test_seeds_pass_and_some_verify() -> None:
    """Each seed runs clean, and the forged-content check has signed contents to compare with."""
    vector_path()
    from tests.fuzz.targets import _seed_contents

    for name, target in TARGETS.items():
        for seed in seeds(name):
            target(seed)
    assert len(_seed_contents()) >= 5


def test_forged_content_check_fires_on_content_no_seed_has(smime: object) -> None:
    """A message that verifies DONE with other content (here: signed by a key of our own)."""
    vector_path()
    from smimecore import SMIME
    from tests.conftest import SAMPLE_MESSAGE
    from tests.fuzz.targets import ForgedContentError, verify_decrypt

    assert isinstance(smime, SMIME)
    signed = smime.sign(SAMPLE_MESSAGE, signer="rsa2048@test.example").data
    with pytest.raises(ForgedContentError):
        verify_decrypt(signed)
    verify_decrypt(seeds("verify_decrypt")[0])  # a seed's own content passes

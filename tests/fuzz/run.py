"""Run the fuzz targets under atheris, and shrink what they find.

::

    python -m tests.fuzz.run fuzz TARGET [--seconds N]   # default: $FUZZ_SECONDS or 60
    python -m tests.fuzz.run minimise TARGET FILE OUT    # the smallest input failing the same way
    python -m tests.fuzz.run list

A finding does not stop the run: each distinct one (exception type and
the innermost smimecore line that raised it) is saved once under
``.fuzz/TARGET/findings/`` with its traceback, and the run goes on, so one
run reports every kind it meets and the number of inputs it ran.
Minimised inputs are committed to ``tests/fuzz/crashes/TARGET/``, where
``tests/fuzz/test_fuzz.py`` replays them.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

WORK = Path(os.environ.get("FUZZ_WORK", Path(__file__).resolve().parents[2] / ".fuzz"))


def signature(error: BaseException) -> str:
    """What makes two findings the same: the type and the innermost smimecore frame."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [frame for frame in frames if "/smimecore/" in frame.filename] or frames
    where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else "?"
    return f"{type(error).__name__} at {where}"


def _failure(target: Callable[[bytes], None], data: bytes) -> BaseException | None:
    try:
        target(data)
    except Exception as error:
        return error
    return None


def fuzz(name: str, seconds: int) -> int:
    """Fuzz ``name`` for ``seconds``; returns the number of distinct findings."""
    import atheris

    with atheris.instrument_imports(include=["smimecore"]):
        from tests.fuzz.targets import TARGETS, seeds
    target = TARGETS[name]
    work = WORK / name
    corpus, findings = work / "corpus", work / "findings"
    corpus.mkdir(parents=True, exist_ok=True)
    findings.mkdir(parents=True, exist_ok=True)
    for seed in seeds(name):
        (corpus / hashlib.sha1(seed).hexdigest()).write_bytes(seed)  # noqa: S324 - a file name
    seen: set[str] = set()

    def one_input(data: bytes) -> None:
        error = _failure(target, data)
        if error is None:
            return
        kind = signature(error)
        if kind in seen:
            return
        seen.add(kind)
        stem = hashlib.sha1(kind.encode()).hexdigest()[:12]  # noqa: S324 - a file name
        (findings / stem).write_bytes(data)
        text = "".join(traceback.format_exception(error))
        (findings / f"{stem}.txt").write_text(f"{kind}\n\n{text}")
        print(f"FINDING {name}: {kind} -> {findings / stem}", flush=True)

    largest = max((len(seed) for seed in seeds(name)), default=4096)
    options = [
        f"-max_total_time={seconds}",
        f"-max_len={max(largest * 2, 4096)}",
        "-timeout=30",
        "-rss_limit_mb=3072",
        "-print_final_stats=1",
        str(corpus),
    ]
    atheris.Setup([sys.argv[0], *options], one_input)
    atheris.Fuzz()
    return len(seen)


def minimise(name: str, source: Path, destination: Path, budget: float = 120.0) -> bytes:
    """The smallest input found (by removing chunks) that fails with the same signature."""
    from tests.fuzz.targets import TARGETS

    target = TARGETS[name]
    data = source.read_bytes()
    first = _failure(target, data)
    if first is None:
        raise SystemExit(f"{source} does not fail {name}")
    wanted = signature(first)
    deadline = time.monotonic() + budget
    chunk = max(len(data) // 2, 1)
    while chunk >= 1 and time.monotonic() < deadline:
        position, shrunk = 0, False
        while position < len(data) and time.monotonic() < deadline:
            candidate = data[:position] + data[position + chunk :]
            error = _failure(target, candidate)
            if error is not None and signature(error) == wanted:
                data, shrunk = candidate, True
            else:
                position += chunk
        if not shrunk:
            chunk //= 2
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_bytes(data)
    print(f"{wanted}: {len(source.read_bytes())} -> {len(data)} bytes, {destination}")
    return data


def main() -> None:
    """The command line (see the module's docstring)."""
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz.run")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("fuzz")
    run.add_argument("target")
    run.add_argument("--seconds", type=int, default=int(os.environ.get("FUZZ_SECONDS", "60")))
    shrink = commands.add_parser("minimise")
    shrink.add_argument("target")
    shrink.add_argument("source", type=Path)
    shrink.add_argument("destination", type=Path)
    commands.add_parser("list")
    arguments = parser.parse_args()
    if arguments.command == "list":
        from tests.fuzz.targets import TARGETS

        print("\n".join(TARGETS))
    elif arguments.command == "fuzz":
        fuzz(arguments.target, arguments.seconds)
    else:
        minimise(arguments.target, arguments.source, arguments.destination)


if __name__ == "__main__":
    main()

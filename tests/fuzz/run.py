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


# A DER element as a tree: (identifier octets, children) or (identifier octets, contents).
_Node = tuple[bytes, "list[_Node] | bytes"]


def _read_elements(data: bytes) -> list[_Node] | None:
    """``data`` as a list of DER/BER elements, or ``None`` if it is not exactly that.

    Indefinite lengths are read too (and come out definite when encoded again).
    """
    nodes, position = _read_until(data, 0, end_of_contents=False)
    return nodes if position == len(data) else None


def _read_until(
    data: bytes, position: int, *, end_of_contents: bool
) -> tuple[list[_Node] | None, int]:
    nodes: list[_Node] = []
    while position < len(data):
        if end_of_contents and data[position : position + 2] == b"\x00\x00":
            return nodes, position + 2
        node, position = _read_element(data, position)
        if node is None:
            return None, position
        nodes.append(node)
    return (None, position) if end_of_contents else (nodes, position)


def _read_element(data: bytes, position: int) -> tuple[_Node | None, int]:
    start = position
    if data[position] & 0x1F == 0x1F:
        position += 1
        while position < len(data) and data[position] & 0x80:
            position += 1
    position += 1
    if position >= len(data):
        return None, position
    identifier, first = data[start:position], data[position]
    position += 1
    if first == 0x80 and identifier[0] & 0x20:
        children, position = _read_until(data, position, end_of_contents=True)
        return ((identifier, children) if children is not None else None), position
    if first > 0x84 or first == 0x80:
        return None, position
    length = first
    if first > 0x80:
        length = int.from_bytes(data[position : position + first - 0x80], "big")
        position += first - 0x80
    if position + length > len(data):
        return None, position
    contents = data[position : position + length]
    children = _read_elements(contents) if identifier[0] & 0x20 and contents else None
    return (identifier, children if children is not None else contents), position + length


def _encode(node: _Node) -> bytes:
    identifier, body = node
    contents = body if isinstance(body, bytes) else b"".join(map(_encode, body))
    size = len(contents)
    if size < 0x80:
        length = bytes([size])
    else:
        octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(octets)]) + octets
    return identifier + length + contents


def _without_one_element(nodes: list[_Node]) -> list[list[_Node]]:
    """Every tree with one element (at any depth) left out, larger removals first."""
    found: list[list[_Node]] = []
    for index, (identifier, body) in enumerate(nodes):
        found.append(nodes[:index] + nodes[index + 1 :])
        if not isinstance(body, bytes):
            for smaller in _without_one_element(body):
                found.append([*nodes[:index], (identifier, smaller), *nodes[index + 1 :]])
    return found


def _shrink_der(data: bytes, fails: Callable[[bytes], bool], deadline: float) -> bytes:
    """Leave out whole DER elements (lengths re-encoded) while the input still fails."""
    nodes = _read_elements(data)
    while nodes is not None and time.monotonic() < deadline:
        for candidate_nodes in _without_one_element(nodes):
            candidate = b"".join(map(_encode, candidate_nodes))
            if time.monotonic() >= deadline:
                return data
            if fails(candidate):
                data, nodes = candidate, candidate_nodes
                break
        else:
            break
    return data


def _shrink_bytes(data: bytes, fails: Callable[[bytes], bool], deadline: float) -> bytes:
    """Remove chunks of bytes, halving the chunk size, while the input still fails."""
    chunk = max(len(data) // 2, 1)
    while chunk >= 1 and time.monotonic() < deadline:
        position, shrunk = 0, False
        while position < len(data) and time.monotonic() < deadline:
            candidate = data[:position] + data[position + chunk :]
            if fails(candidate):
                data, shrunk = candidate, True
            else:
                position += chunk
        if not shrunk:
            chunk //= 2
    return data


def minimise(name: str, source: Path, destination: Path, budget: float = 120.0) -> bytes:
    """The smallest input found that fails with the same signature.

    DER input loses whole elements first (its lengths kept right), then
    any input loses chunks of bytes.
    """
    from tests.fuzz.targets import TARGETS

    target = TARGETS[name]
    data = source.read_bytes()
    first = _failure(target, data)
    if first is None:
        raise SystemExit(f"{source} does not fail {name}")
    wanted = signature(first)

    def fails(candidate: bytes) -> bool:
        error = _failure(target, candidate)
        return error is not None and signature(error) == wanted

    deadline = time.monotonic() + budget
    data = _shrink_der(data, fails, deadline)
    data = _shrink_bytes(data, fails, deadline)
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

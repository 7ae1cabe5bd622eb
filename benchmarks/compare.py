"""Another smimecore tree against this one, in the same run against the openssl binary.

``python benchmarks/compare.py BASELINE [--rounds N] [--large] [--cpu N] [--out FILE]`` answers "is any operation
slower than before the change?" (issue 12: no operation more than 5% slower than the figures
before it, measured in the same run against the binary).  Two ``make bench`` runs, one per
tree, minutes apart, differ by more than that on a shared machine: both the binary's spawn
time and Python's speed drift.  Here each tree runs in a child process of its own
(``compare_child.py`` with the tree's smimecore, public API only), on the same inputs, and
every round times the binary, the baseline and this tree one after the other in a shuffled
order, so drift is shared.  Figures are medians over the rounds; a ratio is binary ÷ smimecore.

Everything runs on one CPU (``--cpu``, default the last this process may use): on a virtual
machine one CPU may be slower than another for minutes at a time, and a child left on it would
lose to the other for reasons that are not its code.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO

from run import CIPHERS, SIZES, Bench, Case
from workload import KIND_LABEL, KINDS, PASSPHRASE, Peer, size_label

CHILD = Path(__file__).with_name("compare_child.py")
CALLS = {SIZES[0]: 100, SIZES[1]: 20, SIZES[2]: 1}
"""Calls per timing, by message size (their mean is the figure)."""
TIMES = "\N{MULTIPLICATION SIGN}"
LIMIT = 5.0
"""The largest slowdown accepted, in percent of the baseline's ratio."""


class Side:
    """One tree's child process."""

    def __init__(self, tree: Path, bench: Bench) -> None:
        setup = bench.setup
        self.process = subprocess.Popen(
            [sys.executable, str(CHILD), str(setup.keyring), str(setup.ca_file), PASSPHRASE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(tree)},
        )

    def time(self, case: Case) -> float:
        """Seconds per call of ``case``."""
        request = {
            "op": case.op,
            "kind": case.kind,
            "cipher": case.cipher,
            "input": str(case.binary_input),
            "count": CALLS[case.size],
        }
        stdin, stdout = self._pipes()
        stdin.write(json.dumps(request) + "\n")
        stdin.flush()
        answer = stdout.readline()
        if not answer:
            raise SystemExit(f"the child for {case.name} stopped (see its error above)")
        return float(json.loads(answer))

    def close(self) -> None:
        """End the child."""
        stdin, _ = self._pipes()
        stdin.close()
        self.process.wait(30)

    def _pipes(self) -> tuple[IO[str], IO[str]]:
        assert self.process.stdin is not None and self.process.stdout is not None
        return self.process.stdin, self.process.stdout


def compare(
    baseline: Path, current: Path, rounds: int, *, large: bool = False, cpu: int | None = None
) -> list[dict[str, object]]:
    """Median times of the binary and both trees for each case at 1 KiB and 100 KiB, and at
    10 MiB when ``large``; this process and its children on ``cpu`` (default the last)."""
    allowed = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {allowed[-1] if cpu is None else cpu})
    binary = shutil.which("openssl")
    if binary is None:
        raise SystemExit("the openssl binary is needed as the peer")
    with tempfile.TemporaryDirectory(prefix="smimecore-compare-") as scratch:
        bench = Bench(Path(scratch), Peer(binary, Path(scratch)), quick=True)
        cases = bench.cases_for(KINDS, SIZES if large else SIZES[:2], CIPHERS)
        sides = {"baseline": Side(baseline, bench), "current": Side(current, bench)}
        times: dict[tuple[int, str], list[float]] = {}
        order = random.Random(rounds)  # noqa: S311 - an order, not a secret
        try:
            for _ in range(rounds):
                for index in order.sample(range(len(cases)), len(cases)):
                    case = cases[index]
                    steps = ["binary", *sides]
                    order.shuffle(steps)
                    for step in steps:
                        seconds = (
                            bench.peer.run(case.binary, case.binary_input).seconds
                            if step == "binary"
                            else sides[step].time(case)
                        )
                        times.setdefault((index, step), []).append(seconds)
        finally:
            for side in sides.values():
                side.close()
        return [_row(case, index, times) for index, case in enumerate(cases)]


def _row(case: Case, index: int, times: dict[tuple[int, str], list[float]]) -> dict[str, object]:
    binary, before, after = (
        statistics.median(times[index, step]) for step in ("binary", "baseline", "current")
    )
    return {
        "operation": case.name,
        "key": KIND_LABEL[case.kind],
        "size": size_label(case.size),
        "binary_ms": binary * 1000,
        "baseline_ms": before * 1000,
        "current_ms": after * 1000,
        "baseline_ratio": binary / before,
        "current_ratio": binary / after,
        "change": (binary / after) / (binary / before) * 100 - 100,
    }


def describe(rows: list[dict[str, object]], rounds: int) -> list[str]:
    """The rows as a Markdown table, and the verdict."""
    lines = [
        f"Medians of {rounds} rounds; ratio = openssl ÷ smimecore; change = the current ratio "
        "against the baseline's.",
        "",
        "| operation | key | size | openssl ms | baseline ms | baseline ratio | current ms "
        "| current ratio | change |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['operation']} | {row['key']} | {row['size']} | {row['binary_ms']:.3f} "
            f"| {row['baseline_ms']:.3f} | {row['baseline_ratio']:.1f}{TIMES} | {row['current_ms']:.3f} "
            f"| {row['current_ratio']:.1f}{TIMES} | {row['change']:+.1f}% |"
        )
    slower = [row for row in rows if float(str(row["change"])) < -LIMIT]
    lines += ["", f"{len(slower)} of {len(rows)} operations more than {LIMIT:g}% slower."]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("baseline", type=Path, help="the other tree (a checkout of smimecore)")
    parser.add_argument("--rounds", type=int, default=15, help="rounds (default 15)")
    parser.add_argument("--out", type=Path, help="also write the table here")
    parser.add_argument("--large", action="store_true", help="the 10 MiB operations too (slow)")
    parser.add_argument("--cpu", type=int, help="the CPU everything runs on (default the last)")
    arguments = parser.parse_args()
    current = Path(__file__).resolve().parent.parent
    rows = compare(
        arguments.baseline.resolve(),
        current,
        arguments.rounds,
        large=arguments.large,
        cpu=arguments.cpu,
    )
    text = "\n".join(describe(rows, arguments.rounds)) + "\n"
    print(text, end="")
    if arguments.out is not None:
        arguments.out.write_text(text)
    return 1 if any(float(str(row["change"])) < -LIMIT for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())

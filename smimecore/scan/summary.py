"""What a scan found, counted: the summary printed at the end and shown in the HTML report."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["COUNTED", "FLAGS", "Summary", "Tally", "tally", "tally_of"]

COUNTED = ("messages", "signed", "verified", "trusted", "encrypted", "decrypted", "failed")
"""The counts of the summary, in the order they are shown."""
FLAGS = COUNTED[1:-1]
"""The counts a result's own flags decide (its ``signed``, ``verified``...), in that order."""
NO_YEAR = "no date"
NO_ALGORITHM = "none"
_FAILED = ("failed", "error")

Tally = tuple[str, tuple[bool, ...], str | None, tuple[str, ...], str, tuple[str, ...]]
"""All a summary counts of one result (see :func:`tally`): results with the same tally are
counted together, so a worker sends the tallies of a batch instead of its results."""


def tally(result: Mapping[str, Any]) -> Tally:
    """What :class:`Summary` counts of ``result`` (a dict of :meth:`ScanResult.to_dict`)."""
    get = result.get
    return tally_of(
        str(result["outcome"]),
        tuple(map(bool, map(get, FLAGS))),
        get("reason"),
        get("weak_algorithms") or (),
        get("year"),
        get("algorithms") or (),
    )


def tally_of(
    outcome: str,
    flags: tuple[bool, ...],
    reason: str | None,
    weak: Iterable[str],
    year: object,
    algorithms: Iterable[object],
) -> Tally:
    """The tally of a result from its fields: its outcome, which of the counts it is in
    (``flags``, in the order of :data:`FLAGS`), the reason it
    failed (``None`` unless it did), its weak algorithms, its year (or ``no date``) and its
    algorithms (or ``none``)."""
    return (
        outcome,
        flags,
        str(reason or outcome) if outcome in _FAILED else None,
        tuple(weak),
        NO_YEAR if year is None else str(year),
        tuple(map(str, algorithms)) or (NO_ALGORITHM,),
    )


@dataclass
class Summary:
    """Counts over results (the dicts of :meth:`ScanResult.to_dict`)."""

    counts: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    weak: Counter[str] = field(default_factory=Counter)
    by_year: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    by_algorithm: defaultdict[str, Counter[str]] = field(
        default_factory=lambda: defaultdict(Counter)
    )

    @classmethod
    def of(cls, results: Iterable[Mapping[str, Any]]) -> Summary:
        """The summary of ``results``."""
        summary = cls()
        for result in results:
            summary.add(result)
        return summary

    def add(self, result: Mapping[str, Any]) -> None:
        """Count one result."""
        self.count(tally(result))

    def count(self, counted: Tally, times: int = 1) -> None:
        """Count ``times`` results whose :func:`tally` is ``counted``."""
        outcome, flags, reason, weak, year, algorithms = counted
        self.counts["messages"] += times
        for name, flag in zip(FLAGS, flags, strict=True):
            self.counts[name] += times if flag else 0
        self.counts["failed"] += times if reason is not None else 0
        if reason is not None:
            self.reasons[reason] += times
        self.outcomes[outcome] += times
        for name in weak:
            self.weak[name] += times
        self.by_year[year][outcome] += times
        for algorithm in algorithms:
            self.by_algorithm[algorithm][outcome] += times

    def merge(self, tallies: Mapping[Tally, int]) -> None:
        """Count results by their tallies (how often each was seen)."""
        for counted, times in tallies.items():
            self.count(counted, times)

    def years(self) -> list[tuple[str, Counter[str]]]:
        """Outcomes per year, oldest first (messages without a date last)."""
        return sorted(self.by_year.items(), key=lambda item: (item[0] == NO_YEAR, item[0]))

    def algorithms(self) -> list[tuple[str, Counter[str]]]:
        """Outcomes per algorithm, the most used first."""
        return sorted(self.by_algorithm.items(), key=lambda item: (-item[1].total(), item[0]))

    def lines(self) -> list[str]:
        """The short text printed at the end of a scan."""
        counts = ", ".join(f"{self.counts[name]:,} {name}" for name in COUNTED)
        lines = [f"scanned: {counts}"]
        lines.extend(f"  {count:,} {reason}" for reason, count in _most_first(self.reasons))
        if self.weak:
            weak = ", ".join(f"{name} in {count:,}" for name, count in _most_first(self.weak))
            lines.append(f"weak algorithms: {weak}")
        return lines


def _most_first(counter: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))

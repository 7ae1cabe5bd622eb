"""What a scan found, counted: the summary printed at the end and shown in the HTML report."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["COUNTED", "Summary"]

COUNTED = ("messages", "signed", "verified", "trusted", "encrypted", "decrypted", "failed")
"""The counts of the summary, in the order they are shown."""
NO_YEAR = "no date"
NO_ALGORITHM = "none"


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
        outcome = str(result["outcome"])
        failed = outcome in ("failed", "error")
        self.counts["messages"] += 1
        for name in COUNTED[1:-1]:
            self.counts[name] += bool(result.get(name))
        self.counts["failed"] += failed
        if failed:
            self.reasons[str(result.get("reason") or outcome)] += 1
        self.outcomes[outcome] += 1
        self.weak.update(result.get("weak_algorithms") or ())
        year = result.get("year")
        self.by_year[str(year) if year is not None else NO_YEAR][outcome] += 1
        for algorithm in result.get("algorithms") or (NO_ALGORITHM,):
            self.by_algorithm[str(algorithm)][outcome] += 1

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

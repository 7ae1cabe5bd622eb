# ruff: noqa: RUF001 - the report prints multiplication signs and dashes on purpose
"""``docs/benchmarks.md`` and its chart from the measurements of ``run.py``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from workload import MiB, size_label

Row = Mapping[str, Any]


def _mib(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value / MiB:.1f}"


def _verdict(met: bool | None) -> str:
    return "" if met is None else ("met" if met else "**missed**")


def _missed(row: Row) -> str:
    return (
        f"{row['op']} {row['kind']} {size_label(row['size'])}"
        f" ({row['ratio']:.1f}× < {row['target']:g}×)"
    )


def _ms(value: float) -> str:
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def ratio_table(rows: Sequence[Row]) -> list[str]:
    lines = [
        "| operation | key | size | openssl | openssl ms | smimecore ms | ratio | target | result "
        "| smimecore first call ms | ratio (first call) |",
        "|---|---|---|---|---:|---:|---:|---:|---|---:|---:|",
    ]
    for row in rows:
        target = "" if row["target"] is None else f"≥ {row['target']:g}×"
        lines.append(
            f"| {row['op']} | {row['kind']} | {size_label(row['size'])} | `{row['binary_command']}` "
            f"| {_ms(row['binary_ms'])} | {_ms(row['ours_ms'])} | {row['ratio']:.1f}× | {target} "
            f"| {_verdict(row['met'])} | {_ms(row['first_ms'])} | {row['first_ratio']:.1f}× |"
        )
    return lines


def memory_table(rows: Sequence[Row], factor: int, baseline: int) -> list[str]:
    lines = [
        f"| operation | key | size | openssl peak RSS MiB (Δ over `openssl version`) "
        f"| smimecore peak RSS over baseline MiB | smimecore tracemalloc peak MiB "
        f"| target ≤ {factor}× size | result |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        memory = row["memory"]
        if memory is None:
            continue
        binary = row["binary_rss"]
        binary_text = (
            "–" if binary is None else f"{_mib(binary)} ({_mib(max(binary - baseline, 0))})"
        )
        limit = f"{factor * row['size'] / MiB:.0f}" if row["memory_met"] is not None else ""
        lines.append(
            f"| {row['op']} | {row['kind']} | {size_label(row['size'])} | {binary_text} "
            f"| {_mib(memory['rss'])} | {_mib(memory['heap'])} | {limit} "
            f"| {_verdict(row['memory_met'])} |"
        )
    return lines


def chart(path: Path, rows: Sequence[Row], sweep: Sequence[Row]) -> None:
    """Three panels: ratios at the three sizes, time against size, memory against size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (ratios, times, memory) = plt.subplots(1, 3, figsize=(18, 5.5))
    labels = sorted({(r["op"], r["kind"]) for r in rows}, key=lambda k: (k[1], k[0]))
    sizes = sorted({r["size"] for r in rows})
    width = 0.8 / len(sizes)
    for offset, size in enumerate(sizes):
        values = []
        for op, kind in labels:
            found = [
                r["ratio"] for r in rows if (r["op"], r["kind"], r["size"]) == (op, kind, size)
            ]
            values.append(found[0] if found else 0)
        positions = [i + offset * width for i in range(len(labels))]
        ratios.bar(positions, values, width, label=size_label(size))
    ratios.set_xticks([i + width for i in range(len(labels))])
    ratios.set_xticklabels(
        [f"{op}\n{kind}" for op, kind in labels], rotation=75, fontsize=7, ha="right"
    )
    ratios.set_yscale("log")
    ratios.axhline(1, color="black", linewidth=0.8)
    ratios.set_ylabel("openssl binary ÷ smimecore (×, log)")
    ratios.set_title("Speed-up over one openssl process per operation")
    ratios.legend()
    ops = sorted({r["op"] for r in sweep})
    colors = dict(zip(ops, ["tab:blue", "tab:orange", "tab:green", "tab:red"], strict=False))
    for op in ops:
        points = sorted((r["size"], r) for r in sweep if r["op"] == op)
        xs = [size / MiB for size, _ in points]
        times.plot(
            xs, [r["ours_ms"] for _, r in points], "o-", color=colors[op], label=f"smimecore {op}"
        )
        times.plot(
            xs, [r["binary_ms"] for _, r in points], "s--", color=colors[op], label=f"openssl {op}"
        )
        with_memory = [(size, r) for size, r in points if r["memory"] is not None]
        memory.plot(
            [size / MiB for size, _ in with_memory],
            [max(r["memory"]["rss"], 1) / MiB for _, r in with_memory],
            "o-",
            color=colors[op],
            label=f"smimecore {op} (RSS over baseline)",
        )
        memory.plot(
            [size / MiB for size, r in with_memory if r["binary_rss"]],
            [r["binary_rss"] / MiB for _, r in with_memory if r["binary_rss"]],
            "s--",
            color=colors[op],
            label=f"openssl {op} (peak RSS)",
        )
    for axis, title, unit in (
        (times, "Time against message size (RSA-2048, AES-256-CBC)", "median ms"),
        (memory, "Peak memory against message size", "MiB"),
    ):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("message size (MiB)")
        axis.set_ylabel(unit)
        axis.set_title(title)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def scan_section(scan: Mapping[str, float]) -> list[str]:
    """``smimecore scan`` throughput against the plain loop, with the targets."""
    from scan_bench import LOOP_TARGET, SPEEDUP_TARGET, spread

    def verdict(met: bool) -> str:
        return "met" if met else "**missed**"

    def row(label: str, name: str, judged: str = "") -> str:
        return f"| {label} | {scan[name]:,.0f} | {spread(scan, name)} | {judged} |"

    rows = [
        row("`verify_decrypt` loop (messages in memory)", "loop"),
        row(
            "`scan --jobs 1`",
            "jobs1",
            f"{scan['vs_loop']:.2f}× the loop "
            f"(target ≥ {LOOP_TARGET}: {verdict(scan['vs_loop'] >= LOOP_TARGET)})",
        ),
        row(
            "`scan --jobs 2`",
            "jobs2",
            f"{scan['speedup']:.2f}× 1 job "
            f"(target ≥ {SPEEDUP_TARGET}: {verdict(scan['speedup'] >= SPEEDUP_TARGET)})",
        ),
    ]
    if "dask" in scan:
        label = "`scan --dask` (LocalCluster, 2 worker processes"
        rows.append(row(f"{label}, median of {int(scan.get('dask_rounds', 0))})", "dask"))
    return [
        "## Scan throughput",
        "",
        f"`smimecore scan` over an mbox of {int(scan['count']):,} distinct signed 1 KiB messages",
        "(RSA-2048, trusted), timed whole: indexing, worker start, the results database and the",
        f"summary (median of {int(scan['rounds'])} alternating runs after a warm-up);",
        "the loop calls `verify_decrypt` on the same messages, already in memory.",
        "",
        "| run | messages/s | slowest to fastest run | |",
        "|---|---:|---|---|",
        *rows,
        "",
    ]


def pqc_section(rows: Sequence[Row]) -> list[str]:
    """The post-quantum rows (``pqc_bench.py``): smimecore against each operation's primitive."""
    return [
        "## Post-quantum",
        "",
        "ML-DSA-65 (RFC 9882) and ML-KEM-768 (RFC 9629 KEMRecipientInfo, RFC 9936) through the",
        "same API, beside RSA-2048 and EC P-256, in the same run.  The openssl 3.0 binary cannot",
        "do ML-DSA or ML-KEM, so there is no binary column: each operation is compared with its",
        "own public-key primitive in `cryptography`, timed in the same rounds (signing ~230",
        "octets, as the DER signed attributes are).  Verify validates the path without the",
        "verdict cache: for ML-DSA that is a second ML-DSA-65 verification (the certificate, under",
        "an ML-DSA-65 root); RSA and P-256 chain to the RSA root.  Encryption is AES-256-GCM.",
        "Every signature was first verified (DONE/FULL) and every message decrypted.",
        "",
        "| operation | key | size | smimecore ms | primitive | primitive ms | primitive share |",
        "|---|---|---|---:|---|---:|---:|",
        *[
            f"| {r['op']} | {r['kind']} | {size_label(r['size'])} | {r['ours_ms']:.3f} "  # type: ignore[arg-type]
            f"| {r['primitive']} | {r['primitive_ms']:.3f} | {r['share']:.0%} |"
            for r in rows
        ],
        "",
    ]


def write_report(
    docs: Path,
    info: Mapping[str, str],
    rows: Sequence[Row],
    sweep: Sequence[Row],
    throughput: Mapping[str, float],
    anchors: Sequence[Row],
    recipients: Sequence[Row],
    factor: int,
    anchor_target: float,
    scan: Mapping[str, float] | None = None,
    pqc: Sequence[Row] | None = None,
) -> list[Path]:
    """Write ``benchmarks.md`` and ``benchmarks.png`` into ``docs``; return their paths."""
    docs.mkdir(parents=True, exist_ok=True)
    picture = docs / "benchmarks.png"
    chart(picture, rows, sweep)
    baseline = int(info["binary_baseline_rss"])
    targeted = [r for r in rows if r["met"] is not None]
    missed = [r for r in targeted if not r["met"]]
    memory_rows = [r for r in rows if r["memory_met"] is not None]
    memory_missed = [r for r in memory_rows if not r["memory_met"]]
    anchor_ratio = anchors[-1]["vs_one"] if anchors else None
    lines = [
        "# Benchmarks: smimecore against the openssl binary",
        "",
        "Generated by `make bench` (`python benchmarks/run.py`); do not edit by hand.",
        f"Mode: {info['mode']}; started {info['started']}, runtime {info['runtime']}.",
        "",
        "## Machine and versions",
        "",
        f"- CPU: {info['cpu']}, {info['cores']} cores (shared with other work: medians, interleaved rounds)",
        f"- Load average (1/5/15 min): {info['load_start']} at the start, {info['load_end']} at the end",
        f"- Platform: {info['platform']}",
        f"- Python {info['python']}; cryptography {info['cryptography']} "
        f"({info['cryptography_openssl']}); hashlib on {info['hashlib_openssl']}",
        f"- openssl binary: {info['openssl_binary']}",
        "",
        "## Method",
        "",
        "- smimecore: the public API (`SMIME(Config(...)).sign/verify/encrypt/decrypt`), in-process,",
        "  message bytes in memory, keys in an RT keyring (`<address>.pem`, passphrase-protected).",
        "- openssl: one process per operation as RT runs it: `openssl smime` (or `openssl cms` for",
        "  AES-GCM and EC key agreement, which `smime` cannot do), the keyring file as `-signer`/",
        "  `-recip` and `-inkey` with `-passin env:SMIME_PASS`, stdin and stdout in files (RT's",
        "  IPC::Run3 buffers both in temporary files); wall time from spawn to exit.",
        "- verify checks trust on both sides: openssl `-CAfile` = the demo root, smimecore",
        "  `ca_path` = the same file, `accept_untrusted_cas = False`; every record DONE with Trust",
        "  FULL.  The `verify` rows use a trust layer without its verdict cache, so each message",
        "  is path-validated; `verify (repeat)` is the default engine, whose bounded cache",
        "  answers for a signer seen before (the binary has no such state: same command).",
        "- Both sides verify and decrypt the same input, made by openssl.  Before anything is",
        "  timed, openssl verifies / decrypts smimecore's outputs and smimecore openssl's, and the",
        "  content is compared; every timed smimecore result must be `ok` and every openssl run",
        "  exit 0.",
        f"- Rounds: {info['rounds']}; the cases run round-robin in a shuffled order, the two",
        "  sides alternating which goes first; figures are medians.",
        "- Each round times one binary run, and on smimecore's side (below 1 MiB) one call right",
        "  after it, then a batch of 20 calls whose mean is that round's figure (as",
        "  perf-baseline.md times in-process work in batches; the GC stays on).  The first call",
        "  runs with the CPU caches the binary's process left behind: it is shown beside the",
        "  ratio as what a single isolated message costs.  The targets are judged on the batch.",
        "- Messages: LF line endings; 1 KiB = text/plain, larger = a base64 attachment.",
        "",
        "## Ratio binary ÷ smimecore",
        "",
        f"{len(targeted) - len(missed)} of {len(targeted)} speed targets met"
        + ("; missed: " + ", ".join(_missed(r) for r in missed) + "." if missed else "."),
        "",
        *ratio_table(rows),
        "",
        "## Peak memory at 10 MiB",
        "",
        "smimecore: a fresh interpreter per operation loads the engine and the input, warms up on",
        "a 1 KiB message, resets the kernel's high-water mark (`/proc/self/clear_refs`) and runs",
        "the operation once: **peak RSS minus the RSS just before** (the input message is part of",
        "the baseline; the result is not).  tracemalloc's peak (Python allocations only) of a",
        "second run is shown beside it.  openssl: `ru_maxrss` from `wait4` of the binary spawned",
        "by a fresh minimal interpreter (a child's figure includes its parent's RSS up to",
        "`exec`, so the floor is that helper's few MiB), median of 3; in brackets the excess",
        f"over `openssl version` measured the same way ({_mib(baseline)} MiB).",
        f"Target: smimecore's peak over the baseline ≤ {factor}× the message size: "
        f"{len(memory_rows) - len(memory_missed)} of {len(memory_rows)} met.",
        "",
        *memory_table([r for r in rows if r["memory"] is not None], factor, baseline),
        "",
        "## Throughput",
        "",
        f"Verifying {int(throughput['count']):,} signed 1 KiB messages (200 distinct, RSA-2048, one",
        "engine shared by the threads, default trust cache):",
        "",
        "| threads | messages/s |",
        "|---:|---:|",
        f"| 1 | {throughput['one']:,.0f} |",
        f"| 2 | {throughput['two']:,.0f} |",
        "",
        f"Speed-up with two threads: {throughput['speedup']:.2f}× (the GIL serialises the",
        "Python work; only the OpenSSL calls run in parallel).",
        "",
        *(scan_section(scan) if scan else []),
        *(pqc_section(pqc) if pqc else []),
        "## Scaling",
        "",
        "Verification (1 KiB, RSA-2048, no verdict cache) against a CAPath of N anchors (one PEM",
        "file: the demo root; the system bundle plus the demo root; the demo root plus throwaway",
        "EC roots):",
        "",
        "| anchors | smimecore ms | × one anchor | openssl ms | ratio |",
        "|---:|---:|---:|---:|---:|",
        *[
            f"| {a['anchors']} | {a['ours_ms']:.3f} | {a['vs_one']:.2f} | {a['binary_ms']:.2f} | {a['ratio']:.1f}× |"
            for a in anchors
        ],
        "",
        f"Target: 1,000 anchors within {anchor_target}× of one anchor: "
        + (
            "–"
            if anchor_ratio is None
            else ("met" if anchor_ratio <= anchor_target else "**missed**")
            + f" ({anchor_ratio:.2f}×)."
        ),
        "",
        "Encryption of 1 KiB (AES-256-CBC, RSA recipients looked up in the keyring) to N recipients:",
        "",
        "| recipients | smimecore ms | openssl ms | ratio |",
        "|---:|---:|---:|---:|",
        *[
            f"| {r['recipients']} | {r['ours_ms']:.3f} | {r['binary_ms']:.2f} | {r['ratio']:.1f}× |"
            for r in recipients
        ],
        "",
        "## Message size",
        "",
        "RSA-2048, AES-256-CBC; memory as above (smimecore: RSS over the baseline; openssl:",
        "peak RSS of the process).",
        "",
        "| operation | size | openssl ms | smimecore ms | ratio | openssl peak MiB | smimecore peak over baseline MiB | tracemalloc MiB |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
        *[
            f"| {r['op']} | {size_label(r['size'])} | {_ms(r['binary_ms'])} | {_ms(r['ours_ms'])} "
            f"| {r['ratio']:.1f}× | {_mib(r['binary_rss'])} "
            f"| {_mib(r['memory']['rss'] if r['memory'] else None)} "
            f"| {_mib(r['memory']['heap'] if r['memory'] else None)} |"
            for r in sweep
        ],
        "",
        f"![ratios, time and memory against size]({picture.name})",
        "",
    ]
    markdown = docs / "benchmarks.md"
    markdown.write_text("\n".join(lines))
    return [markdown, picture]

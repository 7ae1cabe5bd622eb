"""The HTML report: one self-contained page (summary, charts, a sortable table), no network.

Everything in it is written here: inline CSS, inline SVG charts, and a
short inline script that sorts the table (click a column; ``#sort=from``
or ``#sort=-date`` in the address sorts on opening).  A Content Security
Policy forbids every load, and every value from a message (written by its
sender) is HTML-escaped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from html import escape
from typing import Any, TextIO

from smimecore.scan.result import OUTCOMES, parse_date
from smimecore.scan.summary import COUNTED, Summary

__all__ = ["write_html"]

COLOURS = {
    "trusted": "#2e7d32",
    "verified": "#81c784",
    "decrypted": "#1e88e5",
    "unwrapped": "#90caf9",
    "plain": "#bdbdbd",
    "failed": "#e53935",
    "error": "#8e24aa",
}
COLUMNS = (
    ("source", "Source", "text"),
    ("date", "Date", "number"),
    ("from", "From", "text"),
    ("message_id", "Message-ID", "text"),
    ("outcome", "Outcome", "text"),
    ("signer", "Signer", "text"),
    ("trust", "Trust", "text"),
    ("coverage", "Coverage", "text"),
    ("algorithms", "Algorithms", "text"),
    ("errors", "Errors", "text"),
)
_CHART_ROWS = 25
_BAR_WIDTH = 600
_ROW_HEIGHT = 22
_LABEL_WIDTH = 170

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; }
td, th { border: 1px solid #ccc; padding: 3px 6px; text-align: left; vertical-align: top; }
table.counts td { text-align: right; font-variant-numeric: tabular-nums; }
#messages th { background: #f3f3f3; cursor: pointer; user-select: none; position: sticky; top: 0; }
#messages th[aria-sort=ascending]::after { content: " \\25B2"; }
#messages th[aria-sort=descending]::after { content: " \\25BC"; }
#messages td { max-width: 28em; overflow-wrap: anywhere; }
.outcome { font-weight: 600; white-space: nowrap; }
#summary { display: flex; flex-wrap: wrap; gap: 0 2.5em; align-items: flex-start; }
#summary h2 { margin-top: 0.6em; }
.weak { color: #b71c1c; font-weight: 700; }
.legend span { display: inline-block; margin-right: 1em; }
.legend i { display: inline-block; width: 0.9em; height: 0.9em; margin-right: 0.3em; }
svg text { font: 12px system-ui, sans-serif; }
"""

_SCRIPT = """
(function () {
  var table = document.getElementById("messages");
  var body = table.tBodies[0];
  var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
  function value(row, column) {
    var cell = row.cells[column];
    return cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent;
  }
  function sortBy(column, descending) {
    var numeric = headers[column].getAttribute("data-type") === "number";
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = value(a, column), y = value(b, column);
      var order = numeric ? Number(x) - Number(y) : (x < y ? -1 : x > y ? 1 : 0);
      return descending ? -order : order;
    });
    var fragment = document.createDocumentFragment();
    rows.forEach(function (row) { fragment.appendChild(row); });
    body.appendChild(fragment);
    headers.forEach(function (header) { header.removeAttribute("aria-sort"); });
    headers[column].setAttribute("aria-sort", descending ? "descending" : "ascending");
  }
  headers.forEach(function (header, column) {
    header.addEventListener("click", function () {
      sortBy(column, header.getAttribute("aria-sort") === "ascending");
    });
  });
  var wanted = /^#sort=(-?)([a-z_]+)$/.exec(window.location.hash);
  if (wanted) {
    var column = headers.findIndex(function (header) {
      return header.getAttribute("data-key") === wanted[2];
    });
    if (column >= 0) { sortBy(column, wanted[1] === "-"); }
  }
  document.getElementById("shown").textContent = body.rows.length + " messages in the table";
  document.body.setAttribute("data-ready", "true");
})();
"""

Results = Callable[[], Iterator[Mapping[str, Any]]]


def write_html(stream: TextIO, results: Results, summary: Summary, inputs: Sequence[str]) -> None:
    """Write the page for ``results`` (in order) with ``summary`` on top."""
    stream.write(
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>smimecore scan: {summary.counts['messages']:,} messages</title>\n"
        f"<style>{_STYLE}</style></head>\n<body>\n<h1>S/MIME scan report</h1>\n"
    )
    stream.write(_inputs(inputs))
    stream.write(_summary(summary))
    stream.write(_charts(summary))
    stream.write('<h2>Messages</h2>\n<p id="shown"></p>\n<table id="messages"><thead><tr>')
    stream.write(
        "".join(
            f'<th data-key="{key}" data-type="{kind}">{escape(title)}</th>'
            for key, title, kind in COLUMNS
        )
    )
    stream.write("</tr></thead>\n<tbody>\n")
    for result in results():
        stream.write(_row(result))
    stream.write(f"</tbody></table>\n<script>{_SCRIPT}</script>\n</body></html>\n")


def _inputs(inputs: Sequence[str]) -> str:
    if not inputs:
        return ""
    items = "".join(f"<li><code>{escape(path)}</code></li>" for path in inputs)
    return f'<p>Scanned:</p><ul id="inputs">{items}</ul>\n'


def _summary(summary: Summary) -> str:
    cells = "".join(
        f'<tr><th>{name}</th><td data-count="{name}">{summary.counts[name]:,}</td></tr>'
        for name in COUNTED
    )
    outcomes = "".join(
        f"<tr><th>{_swatch(outcome)}{outcome}</th>"
        f'<td data-outcome="{outcome}">{summary.outcomes[outcome]:,}</td></tr>'
        for outcome in OUTCOMES
        if summary.outcomes[outcome]
    )
    parts = [
        '<div id="summary">',
        f'<div><h2>Summary</h2><table class="counts" id="counts">{cells}</table></div>',
        f'<div><h2>Outcomes</h2><table class="counts" id="outcomes">{outcomes}</table></div>',
    ]
    if summary.reasons:
        parts.append(_counter_table("Failures by reason", "reasons", summary.reasons))
    if summary.weak:
        parts.append(_counter_table("Weak algorithms", "weak", summary.weak))
    parts.append("</div>\n")
    return "".join(parts)


def _counter_table(title: str, identifier: str, counter: Counter[str]) -> str:
    rows = "".join(
        f"<tr><th>{escape(name)}</th><td>{count:,}</td></tr>"
        for name, count in sorted(counter.items(), key=lambda item: (-item[1], item[0]))
    )
    return (
        f'<div><h2>{escape(title)}</h2><table class="counts" id="{identifier}">{rows}</table></div>'
    )


def _swatch(outcome: str) -> str:
    return f'<i style="background:{COLOURS[outcome]}"></i>'


def _charts(summary: Summary) -> str:
    legend = "".join(
        f"<span>{_swatch(outcome)}{outcome}</span>"
        for outcome in OUTCOMES
        if summary.outcomes[outcome]
    )
    legend = f'<p class="legend">{legend}</p>'
    return (
        f"<h2>Outcomes by year</h2>{legend}{_bar_chart('chart-years', summary.years())}"
        f"<h2>Outcomes by algorithm</h2>{legend}"
        f"{_bar_chart('chart-algorithms', summary.algorithms())}\n"
    )


def _bar_chart(identifier: str, rows: Sequence[tuple[str, Counter[str]]]) -> str:
    """Horizontal stacked bars, one per row, scaled to the largest total."""
    rows = list(rows)
    if len(rows) > _CHART_ROWS:
        rest: Counter[str] = Counter()
        for _, counts in rows[_CHART_ROWS - 1 :]:
            rest.update(counts)
        rows = [*rows[: _CHART_ROWS - 1], ("others", rest)]
    largest = max((counts.total() for _, counts in rows), default=1) or 1
    height = _ROW_HEIGHT * max(len(rows), 1) + 4
    width = _LABEL_WIDTH + _BAR_WIDTH + 70
    shapes = []
    for number, (label, counts) in enumerate(rows):
        top = number * _ROW_HEIGHT + 2
        shapes.append(
            f'<text x="{_LABEL_WIDTH - 6}" y="{top + 15}" text-anchor="end">{escape(label)}</text>'
        )
        left = float(_LABEL_WIDTH)
        for outcome in OUTCOMES:
            count = counts[outcome]
            if not count:
                continue
            span = _BAR_WIDTH * count / largest
            shapes.append(
                f'<rect x="{left:.1f}" y="{top}" width="{span:.1f}" height="{_ROW_HEIGHT - 4}" '
                f'fill="{COLOURS[outcome]}"><title>{escape(label)}: {count:,} {outcome}</title>'
                "</rect>"
            )
            left += span
        shapes.append(f'<text x="{left + 6:.1f}" y="{top + 15}">{counts.total():,}</text>')
    return (
        f'<svg id="{identifier}" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" role="img">{"".join(shapes)}</svg>'
    )


def _row(result: Mapping[str, Any]) -> str:
    moment = parse_date(result.get("date"))
    date_key = f"{moment.timestamp():.0f}" if moment is not None else "-1e12"
    weak = set(result.get("weak_algorithms") or ())
    algorithms = ", ".join(
        f'<span class="weak" title="weak">{escape(name)}</span>' if name in weak else escape(name)
        for name in result.get("algorithms") or ()
    )
    errors = "<br>".join(escape(error) for error in result.get("errors") or ())
    outcome = str(result.get("outcome"))
    cells = [
        _cell(result.get("source")),
        f'<td data-sort="{date_key}">{escape(str(result.get("date") or ""))}</td>',
        _cell(result.get("from")),
        _cell(result.get("message_id")),
        f'<td class="outcome" style="color:{COLOURS.get(outcome, "#000")}">{escape(outcome)}</td>',
        _cell(result.get("signer")),
        _cell(result.get("trust")),
        _cell(result.get("coverage")),
        f"<td>{algorithms}</td>",
        f"<td>{errors}</td>",
    ]
    return f'<tr data-outcome="{escape(outcome)}">{"".join(cells)}</tr>\n'


def _cell(value: Any) -> str:
    return f"<td>{escape(str(value)) if value is not None else ''}</td>"

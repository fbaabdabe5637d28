"""`DIR/report.html`: the search in one self-contained page.

The page has no external files and makes no network request (its Content
Security Policy forbids any): charts are inline SVG built here, the only script
sorts the trial table. Every string that came from the user or the data -
class names, column names, file names, study names, block arguments - is
HTML-escaped once, where it is written (`_text`).
"""

from __future__ import annotations

import datetime
import html
import json
import math
import os
from typing import Any, Iterable, Optional, Sequence

from search_algo.objective import MAXIMIZE, Objective, resolve

REPORT_FILE = "report.html"
TOP_MODELS = 3
# A palette that stays readable for the common colour-vision deficiencies (Okabe-Ito).
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442", "#000000")
CANDIDATES = ("best_single", "ensemble", "distilled")


def _text(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _number(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


class Metric:
    """The study's objective as the report shows it (search_algo/objective.py)."""

    def __init__(self, objective: Objective):
        self.key = objective.name
        self.label = f"eval {objective.label}"
        self.higher_is_better = objective.direction == MAXIMIZE

    def of(self, trial: dict[str, Any]) -> Optional[float]:
        value = (trial.get("metrics") or {}).get(self.key)
        if trial.get("status") != "completed" or value is None or not math.isfinite(value):
            return None
        return float(value)

    def better(self, a: float, b: float) -> bool:
        return a > b if self.higher_is_better else a < b


# --------------------------------------------------------------------------
# SVG charts


class _Axes:
    """Maps data to an SVG plot area, with ticks; `log_x` for parameter counts."""

    width, height = 640, 320
    left, right, top, bottom = 64, 150, 16, 44

    def __init__(self, xs: Sequence[float], ys: Sequence[float], log_x: bool = False):
        self.log_x = log_x
        tx = [self._tx(x) for x in xs] or [0.0, 1.0]
        self.x0, self.x1 = _padded(min(tx), max(tx))
        self.y0, self.y1 = _padded(min(ys, default=0.0), max(ys, default=1.0))

    def _tx(self, x: float) -> float:
        return math.log10(max(x, 1.0)) if self.log_x else float(x)

    def x(self, value: float) -> float:
        span = self.width - self.left - self.right
        return self.left + (self._tx(value) - self.x0) / (self.x1 - self.x0) * span

    def y(self, value: float) -> float:
        span = self.height - self.top - self.bottom
        return self.height - self.bottom - (value - self.y0) / (self.y1 - self.y0) * span

    def frame(self, x_label: str, y_label: str, integer_x: bool = False) -> list[str]:
        parts = [
            f'<rect class="plot-area" x="{self.left}" y="{self.top}" width="{self.width - self.left - self.right}" '
            f'height="{self.height - self.top - self.bottom}" fill="none" stroke="#999"/>'
        ]
        for tick in _ticks(self.y0, self.y1):
            y = self.y(tick)
            parts.append(f'<line x1="{self.left - 4}" x2="{self.left}" y1="{y:.1f}" y2="{y:.1f}" stroke="#999"/>')
            parts.append(f'<text x="{self.left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:.3g}</text>')
        # Whole decades on a log axis that spans several; otherwise plain steps.
        whole = integer_x or (self.log_x and self.x1 - self.x0 >= 2)
        for tick in _ticks(self.x0, self.x1, integer=whole):
            x = self.left + (tick - self.x0) / (self.x1 - self.x0) * (self.width - self.left - self.right)
            shown = f"{float(f'{10 ** tick:.2g}'):,.0f}" if self.log_x else f"{tick:g}"
            parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{self.height - self.bottom}" '
                         f'y2="{self.height - self.bottom + 4}" stroke="#999"/>')
            parts.append(f'<text x="{x:.1f}" y="{self.height - self.bottom + 16}" text-anchor="middle">{shown}</text>')
        middle = (self.left + self.width - self.right) / 2
        parts.append(f'<text x="{middle:.1f}" y="{self.height - 6}" text-anchor="middle">{_text(x_label)}</text>')
        parts.append(f'<text transform="translate(14 {(self.height - self.bottom) / 2:.1f}) rotate(-90)" '
                     f'text-anchor="middle">{_text(y_label)}</text>')
        return parts


def _padded(low: float, high: float) -> tuple[float, float]:
    if high - low < 1e-12:
        return low - 0.5, high + 0.5
    margin = (high - low) * 0.06
    return low - margin, high + margin


def _ticks(low: float, high: float, integer: bool = False, count: int = 5) -> list[float]:
    step = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(step))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= step)
    if integer:
        step = max(1.0, round(step))
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step) + 1)]


def _svg(title: str, parts: Iterable[str], width: int = _Axes.width, height: int = _Axes.height, css: str = "chart") -> str:
    return (
        f'<svg class="{css}" role="img" aria-label="{_text(title)}" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">' + "".join(parts) + "</svg>"
    )


def _legend(axes: _Axes, entries: Sequence[tuple[str, str]]) -> list[str]:
    parts = []
    for i, (name, colour) in enumerate(entries):
        x, y = axes.width - axes.right + 12, axes.top + 14 + 18 * i
        parts.append(f'<line x1="{x}" x2="{x + 16}" y1="{y - 4}" y2="{y - 4}" stroke="{colour}" stroke-width="2"/>')
        parts.append(f'<text x="{x + 22}" y="{y}">{_text(name)}</text>')
    return parts


def best_so_far_chart(trials: Sequence[dict[str, Any]], metric: Metric) -> str:
    """Best score so far against trial number: one line per algorithm, plus the
    whole search when several algorithms took part (a portfolio)."""
    numbered = [(i + 1, t, metric.of(t)) for i, t in enumerate(trials)]
    scored = [(n, t, v) for n, t, v in numbered if v is not None]
    if not scored:
        return '<p class="empty">No completed trial yet.</p>'
    algorithms = sorted({t.get("algorithm") or "?" for _, t, _ in scored})
    series = [(a, [(n, v) for n, t, v in scored if (t.get("algorithm") or "?") == a]) for a in algorithms]
    if len(algorithms) > 1:
        series.append(("all", [(n, v) for n, _, v in scored]))
    axes = _Axes([1, len(trials)], [v for _, _, v in scored])
    parts = axes.frame("trial number", f"best {metric.label} so far", integer_x=True)
    legend = []
    for index, (name, points) in enumerate(series):
        colour = COLOURS[index % len(COLOURS)]
        best, path = None, []
        for n, value in points:
            best = value if best is None or metric.better(value, best) else best
            path.append((n, best))
        # A step line: the best so far holds until a better trial arrives.
        stepped = [path[0]] + [q for p, c in zip(path, path[1:]) for q in ((c[0], p[1]), c)] + [(len(trials), path[-1][1])]
        coords = " ".join(f"{axes.x(n):.1f},{axes.y(v):.1f}" for n, v in stepped)
        dash = ' stroke-dasharray="5 3"' if name == "all" else ""
        parts.append(f'<polyline class="series" data-series="{_text(name)}" points="{coords}" fill="none" '
                     f'stroke="{colour}" stroke-width="2"{dash}/>')
        if name != "all":
            for n, value in points:
                parts.append(f'<circle class="point" cx="{axes.x(n):.1f}" cy="{axes.y(value):.1f}" r="3" fill="{colour}">'
                             f"<title>{_text(_trial_of(trials, n))}: {value:.4g}</title></circle>")
        legend.append((name, colour))
    parts += _legend(axes, legend)
    return _svg(f"best {metric.label} so far against trial number", parts)


def _trial_of(trials: Sequence[dict[str, Any]], number: int) -> str:
    return trials[number - 1].get("trial_id", "")


def pareto_front(points: Sequence[tuple[float, float, Any]], metric: Metric) -> list[tuple[float, float, Any]]:
    """Points (params, score, key) no other point beats on both size and score,
    smallest first."""
    front: list[tuple[float, float, Any]] = []
    for point in sorted(points, key=lambda p: (p[0], -p[1] if metric.higher_is_better else p[1])):
        if not front or metric.better(point[1], front[-1][1]):
            front.append(point)
    return front


def pareto_chart(trials: Sequence[dict[str, Any]], candidates: Sequence[dict[str, Any]], metric: Metric) -> str:
    points = [(float(t["num_params"]), v, t.get("trial_id")) for t in trials
              if (v := metric.of(t)) is not None and t.get("num_params")]
    if not points:
        return '<p class="empty">No completed trial yet.</p>'
    extra = [(float(c["num_params"]), float(c["eval"][metric.key]), c["name"]) for c in candidates
             if c.get("num_params") and isinstance((c.get("eval") or {}).get(metric.key), (int, float))]
    axes = _Axes([p[0] for p in points + extra], [p[1] for p in points + extra], log_x=True)
    parts = axes.frame("parameters (log scale)", metric.label)
    front = pareto_front(points, metric)
    on_front = {p[2] for p in front}
    coords = " ".join(f"{axes.x(x):.1f},{axes.y(y):.1f}" for x, y, _ in front)
    parts.append(f'<polyline class="pareto" points="{coords}" fill="none" stroke="{COLOURS[4]}" stroke-width="2"/>')
    for x, y, trial_id in points:
        colour = COLOURS[4] if trial_id in on_front else COLOURS[0]
        parts.append(f'<circle class="point" cx="{axes.x(x):.1f}" cy="{axes.y(y):.1f}" r="4" fill="{colour}">'
                     f"<title>{_text(trial_id)}: {int(x):,} parameters, {y:.4g}</title></circle>")
    for x, y, name in extra:
        cx, cy = axes.x(x), axes.y(y)
        parts.append(f'<path class="candidate" d="M{cx:.1f},{cy - 6:.1f} L{cx + 6:.1f},{cy:.1f} L{cx:.1f},{cy + 6:.1f} '
                     f'L{cx - 6:.1f},{cy:.1f} Z" fill="none" stroke="{COLOURS[2]}" stroke-width="2"><title>{_text(name)}: {int(x):,} parameters, '
                     f"{y:.4g}</title></path>")
    parts += _legend(axes, [("trials", COLOURS[0]), ("Pareto front", COLOURS[4]), ("candidates", COLOURS[2])])
    return _svg(f"{metric.label} against parameter count", parts)


def _wrap(text: str, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return lines + ([line] if line else [])


def block_diagram(trial: dict[str, Any], metric: Metric) -> str:
    """The trial's model from input to output: one box per block with its arguments."""
    spec = trial.get("architecture_spec") or {}
    boxes: list[tuple[str, list[str]]] = [("input", [])]
    for block in spec.get("blocks") or []:
        name, args = (block, {}) if isinstance(block, str) else (block.get("name"), block.get("args") or {})
        shown = ", ".join(f"{k}={json.dumps(v) if isinstance(v, str) else v}" for k, v in sorted(args.items()))
        boxes.append((str(name), _wrap(shown, 44)))
    hidden = (spec.get("head") or {}).get("hidden_units") or 0
    boxes.append(("head", [f"dense {hidden} + output" if hidden else "output layer"]))
    width, box_width, y, parts = 340, 300, 8, []
    for index, (name, lines) in enumerate(boxes):
        height = 22 + 14 * len(lines)
        fill = "#eef3fb" if 0 < index < len(boxes) - 1 else "#f4f4f4"
        parts.append(f'<rect class="block" x="20" y="{y}" width="{box_width}" height="{height}" rx="5" '
                     f'fill="{fill}" stroke="{COLOURS[0]}"/>')
        parts.append(f'<text x="{20 + box_width / 2}" y="{y + 16}" text-anchor="middle" font-weight="bold">{_text(name)}</text>')
        for i, line in enumerate(lines):
            parts.append(f'<text x="{20 + box_width / 2}" y="{y + 30 + 14 * i}" text-anchor="middle" '
                         f'class="args">{_text(line)}</text>')
        y += height
        if index < len(boxes) - 1:
            parts.append(f'<line x1="{20 + box_width / 2}" x2="{20 + box_width / 2}" y1="{y}" y2="{y + 14}" '
                         f'stroke="#555" marker-end="url(#arrow)"/>')
            y += 16
    marker = ('<defs><marker id="arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="6" markerHeight="6" '
              'orient="auto"><path d="M0,0 L8,4 L0,8 Z" fill="#555"/></marker></defs>')
    value = metric.of(trial)
    title = f"{trial.get('trial_id')} ({metric.label} {value:.4g})" if value is not None else str(trial.get("trial_id"))
    return (f'<figure class="diagram"><figcaption>{_text(title)}</figcaption>'
            + _svg(f"block diagram of {trial.get('trial_id')}", [marker, *parts], width=width, height=y + 8,
                   css="chart blocks") + "</figure>")


def lineage_chart(trials: Sequence[dict[str, Any]], metric: Metric, highlight: set[str]) -> str:
    """Parent -> child edges of the search; columns are (run, round)."""
    if not trials:
        return '<p class="empty">No trials.</p>'
    columns: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for trial in trials:
        columns.setdefault((trial.get("run_id") or "", int(trial.get("round") or 0)), []).append(trial)
    runs = _run_order(trials)
    order = sorted(columns, key=lambda key: (runs.get(key[0], ""), key[0], key[1]))
    column_width, row_height, node_width = 170, 34, 150
    positions: dict[str, tuple[float, float]] = {}
    for c, key in enumerate(order):
        for r, trial in enumerate(columns[key]):
            positions[trial["trial_id"]] = (16 + c * column_width, 40 + r * row_height)
    width = 32 + len(order) * column_width
    height = 56 + max(len(v) for v in columns.values()) * row_height
    parts = []
    for c, key in enumerate(order):
        parts.append(f'<text x="{16 + c * column_width + node_width / 2}" y="20" text-anchor="middle" '
                     f'font-weight="bold">{_text(key[0])} round {key[1]}</text>')
    for trial in trials:
        parent = trial.get("parent")
        if parent in positions:
            (px, py), (cx, cy) = positions[parent], positions[trial["trial_id"]]
            style = ' stroke-dasharray="4 3"' if trial.get("transfer") == "none" else ""
            parts.append(f'<path class="edge" d="M{px + node_width:.1f},{py + 11:.1f} C{px + node_width + 12:.1f},{py + 11:.1f} '
                         f'{cx - 12:.1f},{cy + 11:.1f} {cx:.1f},{cy + 11:.1f}" fill="none" stroke="#777"{style}>'
                         f"<title>{_text(parent)} to {_text(trial['trial_id'])}</title></path>")
    for trial in trials:
        x, y = positions[trial["trial_id"]]
        value = metric.of(trial)
        failed = trial.get("status") != "completed"
        stroke = COLOURS[4] if trial["trial_id"] in highlight else ("#b00" if failed else COLOURS[0])
        label = f"{trial['trial_id']} {'failed' if failed else (f'{value:.3g}' if value is not None else '')}"
        parts.append(f'<g class="node"><rect x="{x}" y="{y}" width="{node_width}" height="22" rx="11" '
                     f'fill="{"#fbeaea" if failed else "#eef3fb"}" stroke="{stroke}" stroke-width="{2 if trial["trial_id"] in highlight else 1}"/>'
                     f'<text x="{x + node_width / 2}" y="{y + 15}" text-anchor="middle">{_text(label)}</text>'
                     f"<title>{_text(trial['trial_id'])}: {_text(' > '.join(trial.get('architecture') or []))}"
                     f"{'; parent ' + _text(trial.get('parent')) if trial.get('parent') else ''}</title></g>")
    return _svg("lineage of the search", parts, width=width, height=height, css="chart lineage")


def _run_order(trials: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Each run's place in the study: when its first trial started (run ids
    of scheduled runs need not sort by time)."""
    first: dict[str, str] = {}
    for trial in trials:
        run, started = trial.get("run_id") or "", trial.get("started_at") or ""
        first[run] = min(first.get(run, started), started)
    return first


# --------------------------------------------------------------------------
# Tables


def _metric_keys(candidates: Sequence[dict[str, Any]], split: str) -> list[str]:
    keys: list[str] = []
    for candidate in candidates:
        for key, value in (candidate.get(split) or {}).items():
            if isinstance(value, (int, float)) and key not in keys:
                keys.append(key)
    return keys


def candidates_table(leaderboard: dict[str, Any]) -> str:
    candidates = leaderboard.get("candidates") or []
    eval_keys, test_keys = _metric_keys(candidates, "eval"), _metric_keys(candidates, "test")
    head = ["candidate", "models", "parameters", *(f"eval {k}" for k in eval_keys),
            *(f"test {k}" for k in test_keys), "latency (ms)"]
    rows = []
    for candidate in candidates:
        chosen = candidate.get("name") == leaderboard.get("chosen")
        cells = [
            f"{_text(candidate.get('name'))}{' <strong>(chosen)</strong>' if chosen else ''}",
            _text(", ".join(candidate.get("trial_ids") or [])),
            _text(f"{candidate['num_params']:,}" if candidate.get("num_params") else "-"),
            *(_text(_number((candidate.get("eval") or {}).get(k))) for k in eval_keys),
            *(_text(_number((candidate.get("test") or {}).get(k))) for k in test_keys),
            _text(_number(candidate.get("latency_ms"))),
        ]
        row_class = ' class="chosen"' if chosen else ""
        rows.append(f"<tr{row_class}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return ('<table class="candidates"><thead><tr>' + "".join(f"<th>{_text(h)}</th>" for h in head)
            + "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


TRIAL_COLUMNS = ("trial", "round", "algorithm", "architecture", "parameters", "eval", "loss", "epochs",
                 "seconds", "status", "parent")


def trials_table(trials: Sequence[dict[str, Any]], metric: Metric) -> str:
    """Every trial; a click on a header sorts by that column (the inline script)."""
    head = [h if h != "eval" else metric.label for h in TRIAL_COLUMNS]
    numeric = {"round", "parameters", "eval", "loss", "epochs", "seconds"}
    rows = []
    for trial in trials:
        metrics = trial.get("metrics") or {}
        status = trial.get("status") or ""
        values = {
            "trial": trial.get("trial_id"),
            "round": trial.get("round"),
            "algorithm": trial.get("algorithm"),
            "architecture": " > ".join(trial.get("architecture") or []),
            "parameters": trial.get("num_params"),
            "eval": metric.of(trial),
            "loss": metrics.get("loss") if status == "completed" else None,
            "epochs": trial.get("epochs"),
            "seconds": round(trial["train_seconds"], 1) if trial.get("train_seconds") is not None else None,
            "status": status + (f": {trial['error']}" if trial.get("error") else ""),
            "parent": trial.get("parent") or "-",
        }
        cells = []
        for column in TRIAL_COLUMNS:
            value = values[column]
            sort_key = value if value is not None else ""
            shown = f"{value:,}" if column == "parameters" and value is not None else _number(value)
            cell_class = ' class="num"' if column in numeric else ""
            cells.append(f'<td data-sort="{_text(sort_key)}"{cell_class}>{_text(shown)}</td>')
        rows.append(f'<tr class="{_text(status)}">' + "".join(cells) + "</tr>")
    header = "".join(
        f'<th data-type="{"number" if c in numeric else "text"}" tabindex="0" title="sort">{_text(h)}</th>'
        for c, h in zip(TRIAL_COLUMNS, head)
    )
    return f'<table id="trials" class="sortable"><thead><tr>{header}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def dataset_section(spec: Optional[dict[str, Any]]) -> str:
    if not spec:
        return ""
    features = ", ".join(f.get("display_name") or f.get("name") for f in spec.get("features") or [])
    items = [
        ("data", spec.get("name")),
        ("task", spec.get("task")),
        ("input", spec.get("input_kind")),
        ("label", spec.get("label_display_name")),
        ("features", features),
        ("split sizes", ", ".join(f"{k} {v}" for k, v in (spec.get("split_sizes") or {}).items())),
    ]
    if spec.get("class_names"):
        items.insert(4, ("classes", None))
    parts = []
    for key, value in items:
        if key == "classes":
            shown = "".join(f'<li class="class-name">{_text(name)}</li>' for name in spec["class_names"])
            parts.append(f"<dt>classes</dt><dd><ul class=\"classes\">{shown}</ul></dd>")
        else:
            parts.append(f"<dt>{_text(key)}</dt><dd>{_text(value)}</dd>")
    return f'<section><h2>Data</h2><dl class="dataset">{"".join(parts)}</dl></section>'


# --------------------------------------------------------------------------
# The page


STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1180px;color:#222;padding:0 16px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#666}table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #e4e4e4;padding:4px 8px;text-align:left;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums}th{background:#f6f6f6;position:sticky;top:0}
table.sortable th{cursor:pointer;user-select:none}table.sortable th[aria-sort=ascending]::after{content:" \\25B2"}
table.sortable th[aria-sort=descending]::after{content:" \\25BC"}
tr.chosen{background:#eef8f0}tr.failed td{color:#a00}
.chart{font-size:11px;max-width:100%;height:auto}.chart text{fill:#333}.diagrams{display:flex;flex-wrap:wrap;gap:16px}
figure{margin:0}figcaption{font-weight:bold;margin-bottom:4px}.lineage-box{overflow-x:auto}
dl.dataset{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px}dl.dataset dd{margin:0}
ul.classes{margin:0;padding-left:18px}.empty{color:#666}
"""

# Sorts the trial table by the clicked column; numbers numerically, empty cells last.
SCRIPT = """
(function () {
  var table = document.getElementById("trials");
  if (!table) { return; }
  var headers = table.tHead.rows[0].cells;
  function sortBy(index) {
    var header = headers[index];
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    var numeric = header.getAttribute("data-type") === "number";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[index].getAttribute("data-sort"), y = b.cells[index].getAttribute("data-sort");
      if (x === "" || y === "") { return x === y ? 0 : (x === "" ? 1 : -1); }
      var order = numeric ? parseFloat(x) - parseFloat(y) : x.localeCompare(y, undefined, {numeric: true});
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    for (var i = 0; i < headers.length; i++) { headers[i].removeAttribute("aria-sort"); }
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }
  Array.prototype.forEach.call(headers, function (header, index) {
    header.addEventListener("click", function () { sortBy(index); });
    header.addEventListener("keydown", function (event) { if (event.key === "Enter") { sortBy(index); } });
  });
})();
"""

CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


def blessing_table(history: Sequence[dict[str, Any]], metric: Metric) -> str:
    """Each run's chosen model, whether it was blessed against the model in
    production at the time and whether it was pushed (study record validations)."""
    if not history:
        return '<p class="empty">No run has been validated yet.</p>'
    head = ["run", "chosen", "parameters", f"eval {metric.key}", "blessed", "compared with", "pushed to", "when"]
    rows = []
    for entry in history:
        cells = [
            _text(entry.get("run_id")),
            _text(entry.get("candidate") or "-"),
            _text(f"{entry['num_params']:,}" if entry.get("num_params") else "-"),
            _text(_number((entry.get("eval") or {}).get(metric.key))),
            "yes" if entry.get("blessed") else "<strong>no</strong>",
            _text(entry.get("baseline_run") or ("-" if not entry.get("baseline_model") else entry["baseline_model"])),
            _text(entry.get("pushed_to") or "-") if entry.get("pushed") else "not pushed",
            _text((entry.get("written_at") or "")[:19].replace("T", " ")),
        ]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return ('<table class="blessings"><thead><tr>' + "".join(f"<th>{_text(h)}</th>" for h in head)
            + "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def build_report(leaderboard: dict[str, Any], trials: Sequence[dict[str, Any]],
                 dataset_spec: Optional[dict[str, Any]] = None, generated_at: Optional[str] = None,
                 history: Sequence[dict[str, Any]] = ()) -> str:
    """The report page. `trials` are `Trial.summary()` dicts, oldest first;
    `dataset_spec` is a DatasetSpec dict (optional); `history` the study's
    blessing history (`study_access.blessing_history`)."""
    task = leaderboard.get("task") or (dataset_spec or {}).get("task") or "classification"
    metric = Metric(resolve((leaderboard.get("objective") or {}).get("metric"), task))
    # Trial number: the order of the search (runs, then rounds; a round's trials train side by side).
    runs = _run_order(trials)
    trials = sorted(trials, key=lambda t: (runs.get(t.get("run_id") or "", ""), t.get("run_id") or "",
                                           int(t.get("round") or 0),
                                           str(t.get("trial_id"))))
    ranked = sorted((t for t in trials if metric.of(t) is not None),
                    key=lambda t: (-metric.of(t) if metric.higher_is_better else metric.of(t), t.get("num_params") or 0))
    top = ranked[:TOP_MODELS]
    candidates = leaderboard.get("candidates") or []
    chosen = next((c for c in candidates if c.get("name") == leaderboard.get("chosen")), None)
    in_chosen = set(chosen.get("trial_ids") or []) if chosen else set()
    study = leaderboard.get("study") or ""
    generated_at = generated_at or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    completed = sum(t.get("status") == "completed" for t in trials)
    summary = ""
    if chosen:
        size = f"{chosen.get('num_params') or 0:,}"
        score = (chosen.get("test") or {}).get(metric.key)
        summary = (f'<p class="summary">Chosen: <strong>{_text(chosen.get("name"))}</strong> '
                   f"({_text(', '.join(chosen.get('trial_ids') or []))}) - test {_text(metric.key)} "
                   f"{_text(_number(score))} with {_text(size)} parameters. "
                   "Candidates are chosen on the eval split and reported on the test split.</p>")
    body = [
        f"<h1>Model search report: {_text(study)}</h1>",
        f'<p class="meta">{_text(leaderboard.get("run_id"))} · {len(trials)} trials ({completed} completed) · '
        f"generated {_text(generated_at)}</p>",
        "<section><h2>Candidates</h2>", summary, candidates_table(leaderboard), "</section>",
        "<section><h2>Production</h2><p>Each run's chosen model is pushed only if TFX's Evaluator blesses it: at "
        "least as good on the eval split as the model in production at the time.</p>"
        f"{blessing_table(history, metric)}</section>",
        dataset_section(dataset_spec),
        f"<section><h2>Best {_text(metric.label)} so far</h2>{best_so_far_chart(trials, metric)}</section>",
        f"<section><h2>{_text(metric.label[:1].upper() + metric.label[1:])} against size</h2>"
        f"<p>Red: the Pareto front, trials no other trial beats on both size and score. Green diamonds (hollow): the "
        f"ensemble, student and best single model.</p>{pareto_chart(trials, candidates, metric)}</section>",
        f"<section><h2>Top {len(top)} models</h2><div class=\"diagrams\">"
        + "".join(block_diagram(t, metric) for t in top) + "</div></section>",
        "<section><h2>Lineage</h2><p>Each trial starts from its parent (solid: with the parent's weights; "
        "dashed: architecture only). Highlighted: the chosen model's trials.</p>"
        f'<div class="lineage-box">{lineage_chart(trials, metric, in_chosen)}</div></section>',
        f"<section><h2>Every trial</h2><p>Click a column header to sort.</p>{trials_table(trials, metric)}</section>",
    ]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_text(study)} - model search report</title><style>{STYLE}</style></head><body>"
        + "".join(body)
        + f"<script>{SCRIPT}</script></body></html>\n"
    )


def write_report_file(path: str, leaderboard: dict[str, Any], study) -> str:
    """Writes the report of `leaderboard` and the study's trials, data and
    blessing history (a StudyStore or a StudyRecord) to `path`, a local path
    or a URI, atomically; returns the path."""
    from components import files
    from pipeline.study_access import blessing_history

    trials = [t.summary() for t in study.trials()]
    spec = study.dataset_spec()
    page = build_report(leaderboard, trials, spec.to_dict() if spec else None,
                        history=blessing_history(study.validations()))
    files.write_text(path, page)
    return path


def write_report_from_store(output_dir: str, store, leaderboard: dict[str, Any]) -> str:
    """DIR/report.html of a run directory."""
    return write_report_file(os.path.join(output_dir, REPORT_FILE), leaderboard, store)

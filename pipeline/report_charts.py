"""The report's SVG chart kit: pure functions from trials to inline SVG.

Each chart returns `markupsafe.Markup` (or None when there is nothing to
draw), which the page template inserts as is. Every string inside a chart
that came from the user or the data - trial ids, run ids, block names and
arguments, candidate names, the study's metric label - goes through `_e`
(markupsafe.escape) exactly once, where it is written; numbers are formatted
here and need no escaping. Nothing else in a chart is user text, which is what
makes the `Markup` honest.
"""

from __future__ import annotations

import json
import math
from typing import Any, Iterable, Optional, Sequence

from markupsafe import Markup, escape

from search_algo.objective import MAXIMIZE, Objective

# A palette that stays readable for the common colour-vision deficiencies (Okabe-Ito).
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442", "#000000")


def _e(value: Any) -> str:
    """User text, escaped for SVG text and attribute values."""
    return str(escape("" if value is None else str(value)))


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

    def from_score(self, score: float) -> float:
        """The metric's value of an oriented score (`Trial.curve` holds
        scores: higher is better, so a minimized metric is negated)."""
        return float(score) if self.higher_is_better else -float(score)


# --------------------------------------------------------------------------
# Axes


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

    def frame(self, x_label: str, y_label: str, integer_x: bool = False,
              x_ticks: Optional[Sequence[tuple[float, str]]] = None) -> list[str]:
        """The plot area, the axes' ticks and labels; `x_ticks` (value, text)
        replaces the numeric x ticks (runs, by id)."""
        parts = [
            f'<rect class="plot-area" x="{self.left}" y="{self.top}" width="{self.width - self.left - self.right}" '
            f'height="{self.height - self.top - self.bottom}" fill="none" stroke="#999"/>'
        ]
        for tick in _ticks(self.y0, self.y1):
            y = self.y(tick)
            parts.append(f'<line x1="{self.left - 4}" x2="{self.left}" y1="{y:.1f}" y2="{y:.1f}" stroke="#999"/>')
            parts.append(f'<text x="{self.left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:.3g}</text>')
        if x_ticks is None:
            # Whole decades on a log axis that spans several; otherwise plain steps.
            whole = integer_x or (self.log_x and self.x1 - self.x0 >= 2)
            shown_ticks = []
            for tick in _ticks(self.x0, self.x1, integer=whole):
                x = self.left + (tick - self.x0) / (self.x1 - self.x0) * (self.width - self.left - self.right)
                shown_ticks.append((x, f"{float(f'{10 ** tick:.2g}'):,.0f}" if self.log_x else f"{tick:g}"))
        else:
            shown_ticks = [(self.x(value), _e(text)) for value, text in x_ticks]
        for x, shown in shown_ticks:
            parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{self.height - self.bottom}" '
                         f'y2="{self.height - self.bottom + 4}" stroke="#999"/>')
            parts.append(f'<text x="{x:.1f}" y="{self.height - self.bottom + 16}" text-anchor="middle">{shown}</text>')
        middle = (self.left + self.width - self.right) / 2
        parts.append(f'<text x="{middle:.1f}" y="{self.height - 6}" text-anchor="middle">{_e(x_label)}</text>')
        parts.append(f'<text transform="translate(14 {(self.height - self.bottom) / 2:.1f}) rotate(-90)" '
                     f'text-anchor="middle">{_e(y_label)}</text>')
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


def _svg(title: str, parts: Iterable[str], width: int = _Axes.width, height: int = _Axes.height,
         css: str = "chart") -> Markup:
    # Every user string in `parts` was escaped where it was written (`_e`).
    return Markup(
        f'<svg class="{css}" role="img" aria-label="{_e(title)}" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">' + "".join(parts) + "</svg>"
    )


def _legend(axes: _Axes, entries: Sequence[tuple[str, str]], dashed: Sequence[str] = ()) -> list[str]:
    parts = []
    for i, (name, colour) in enumerate(entries):
        x, y = axes.width - axes.right + 12, axes.top + 14 + 18 * i
        dash = ' stroke-dasharray="5 3"' if name in dashed else ""
        parts.append(f'<line x1="{x}" x2="{x + 16}" y1="{y - 4}" y2="{y - 4}" stroke="{colour}" stroke-width="2"{dash}/>')
        parts.append(f'<text x="{x + 22}" y="{y}">{_e(name)}</text>')
    return parts


def _coords(axes: _Axes, points: Iterable[tuple[float, float]]) -> str:
    return " ".join(f"{axes.x(x):.1f},{axes.y(y):.1f}" for x, y in points)


# --------------------------------------------------------------------------
# The search


def best_so_far_chart(trials: Sequence[dict[str, Any]], metric: Metric) -> Optional[Markup]:
    """Best score so far against trial number: one line per algorithm, plus the
    whole search when several algorithms took part (a portfolio)."""
    numbered = [(i + 1, t, metric.of(t)) for i, t in enumerate(trials)]
    scored = [(n, t, v) for n, t, v in numbered if v is not None]
    if not scored:
        return None
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
        dash = ' stroke-dasharray="5 3"' if name == "all" else ""
        parts.append(f'<polyline class="series" data-series="{_e(name)}" points="{_coords(axes, stepped)}" fill="none" '
                     f'stroke="{colour}" stroke-width="2"{dash}/>')
        if name != "all":
            for n, value in points:
                parts.append(f'<circle class="point" cx="{axes.x(n):.1f}" cy="{axes.y(value):.1f}" r="3" fill="{colour}">'
                             f"<title>{_e(trials[n - 1].get('trial_id'))}: {value:.4g}</title></circle>")
        legend.append((name, colour))
    parts += _legend(axes, legend, dashed=("all",) if len(algorithms) > 1 else ())
    return _svg(f"best {metric.label} so far against trial number", parts)


def learning_curves_chart(trials: Sequence[dict[str, Any]], metric: Metric,
                          highlight: Sequence[str] = (), best: Optional[str] = None) -> Optional[Markup]:
    """Each completed trial's eval objective after every epoch (`curve`), one
    line a trial: the chosen model's trials (`highlight`) and the best trial
    (`best`) in colour, the others faint."""
    curves = [(t, [metric.from_score(s) for s in t["curve"] if isinstance(s, (int, float)) and math.isfinite(s)])
              for t in trials if t.get("status") == "completed" and t.get("curve")]
    curves = [(t, values) for t, values in curves if values]
    if not curves:
        return None
    longest = max(len(values) for _, values in curves)
    axes = _Axes([1, longest], [v for _, values in curves for v in values])
    parts = axes.frame("epoch", metric.label, integer_x=True)
    chosen, best_colour, other = COLOURS[4], COLOURS[0], "#888"

    def role(trial: dict[str, Any]) -> int:
        return 2 if trial.get("trial_id") in highlight else (1 if trial.get("trial_id") == best else 0)

    # Faint lines first, so that the highlighted ones are drawn on top.
    for trial, values in sorted(curves, key=lambda c: role(c[0])):
        kind = role(trial)
        colour = (other, best_colour, chosen)[kind]
        css = ("curve", "curve best", "curve chosen")[kind]
        style = (' stroke-width="1.2" stroke-opacity="0.35"', ' stroke-width="2.5"', ' stroke-width="2.5"')[kind]
        points = [(epoch + 1, value) for epoch, value in enumerate(values)]
        stopped = (" (stopped early)" if trial.get("stopped_early") else
                   " (fitted to the search deadline)" if trial.get("shortened_for_budget") else "")
        title = f"<title>{_e(trial.get('trial_id'))}: {values[-1]:.4g} after {len(values)} epoch(s){stopped}</title>"
        parts.append(f'<polyline class="{css}" data-trial="{_e(trial.get("trial_id"))}" points="{_coords(axes, points)}" '
                     f'fill="none" stroke="{colour}"{style}>{title}</polyline>')
        # The last epoch as a dot, so that a one-epoch curve shows too.
        x, y = points[-1]
        opacity = ' fill-opacity="0.5"' if kind == 0 else ""
        parts.append(f'<circle class="curve-end" cx="{axes.x(x):.1f}" cy="{axes.y(y):.1f}" r="{3 if kind else 2}" '
                     f'fill="{colour}"{opacity}>{title}</circle>')
    legend = [("chosen model", chosen)] if highlight else []
    legend += [("best trial", best_colour)] if best and best not in highlight else []
    legend += [("other trials", other)]
    parts += _legend(axes, legend)
    return _svg(f"{metric.label} after each epoch, one line a trial", parts)


def pareto_front(points: Sequence[tuple[float, float, Any]], metric: Metric) -> list[tuple[float, float, Any]]:
    """Points (params, score, key) no other point beats on both size and score,
    smallest first."""
    front: list[tuple[float, float, Any]] = []
    for point in sorted(points, key=lambda p: (p[0], -p[1] if metric.higher_is_better else p[1])):
        if not front or metric.better(point[1], front[-1][1]):
            front.append(point)
    return front


def pareto_chart(trials: Sequence[dict[str, Any]], candidates: Sequence[dict[str, Any]],
                 metric: Metric) -> Optional[Markup]:
    points = [(float(t["num_params"]), v, t.get("trial_id")) for t in trials
              if (v := metric.of(t)) is not None and t.get("num_params")]
    if not points:
        return None
    extra = [(float(c["num_params"]), float(c["eval"][metric.key]), c["name"]) for c in candidates
             if c.get("num_params") and isinstance((c.get("eval") or {}).get(metric.key), (int, float))]
    axes = _Axes([p[0] for p in points + extra], [p[1] for p in points + extra], log_x=True)
    parts = axes.frame("parameters (log scale)", metric.label)
    front = pareto_front(points, metric)
    on_front = {p[2] for p in front}
    parts.append(f'<polyline class="pareto" points="{_coords(axes, ((x, y) for x, y, _ in front))}" fill="none" '
                 f'stroke="{COLOURS[4]}" stroke-width="2"/>')
    for x, y, trial_id in points:
        colour = COLOURS[4] if trial_id in on_front else COLOURS[0]
        parts.append(f'<circle class="point" cx="{axes.x(x):.1f}" cy="{axes.y(y):.1f}" r="4" fill="{colour}">'
                     f"<title>{_e(trial_id)}: {int(x):,} parameters, {y:.4g}</title></circle>")
    for x, y, name in extra:
        cx, cy = axes.x(x), axes.y(y)
        parts.append(f'<path class="candidate" d="M{cx:.1f},{cy - 6:.1f} L{cx + 6:.1f},{cy:.1f} L{cx:.1f},{cy + 6:.1f} '
                     f'L{cx - 6:.1f},{cy:.1f} Z" fill="none" stroke="{COLOURS[2]}" stroke-width="2"><title>{_e(name)}: '
                     f"{int(x):,} parameters, {y:.4g}</title></path>")
    parts += _legend(axes, [("trials", COLOURS[0]), ("Pareto front", COLOURS[4]), ("candidates", COLOURS[2])])
    return _svg(f"{metric.label} against parameter count", parts)


# --------------------------------------------------------------------------
# Models and lineage


def _wrap(text: str, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return lines + ([line] if line else [])


def diagram_caption(trial: dict[str, Any], metric: Metric) -> str:
    """Plain text (the template escapes it): the trial and its score."""
    value = metric.of(trial)
    return f"{trial.get('trial_id')} ({metric.label} {value:.4g})" if value is not None else str(trial.get("trial_id"))


def block_diagram(trial: dict[str, Any]) -> Markup:
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
        parts.append(f'<text x="{20 + box_width / 2}" y="{y + 16}" text-anchor="middle" font-weight="bold">{_e(name)}</text>')
        for i, line in enumerate(lines):
            parts.append(f'<text x="{20 + box_width / 2}" y="{y + 30 + 14 * i}" text-anchor="middle" '
                         f'class="args">{_e(line)}</text>')
        y += height
        if index < len(boxes) - 1:
            parts.append(f'<line x1="{20 + box_width / 2}" x2="{20 + box_width / 2}" y1="{y}" y2="{y + 14}" '
                         f'stroke="#555" marker-end="url(#arrow)"/>')
            y += 16
    marker = ('<defs><marker id="arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="6" markerHeight="6" '
              'orient="auto"><path d="M0,0 L8,4 L0,8 Z" fill="#555"/></marker></defs>')
    return _svg(f"block diagram of {trial.get('trial_id')}", [marker, *parts], width=width, height=y + 8,
                css="chart blocks")


def run_order(trials: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Each run's place in the study: when its first trial started (run ids
    of scheduled runs need not sort by time)."""
    first: dict[str, str] = {}
    for trial in trials:
        run, started = trial.get("run_id") or "", trial.get("started_at") or ""
        first[run] = min(first.get(run, started), started)
    return first


def lineage_chart(trials: Sequence[dict[str, Any]], metric: Metric, highlight: set[str]) -> Optional[Markup]:
    """Parent -> child edges of the search; columns are (run, round)."""
    if not trials:
        return None
    columns: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for trial in trials:
        columns.setdefault((trial.get("run_id") or "", int(trial.get("round") or 0)), []).append(trial)
    runs = run_order(trials)
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
                     f'font-weight="bold">{_e(key[0])} round {key[1]}</text>')
    for trial in trials:
        parent = trial.get("parent")
        if parent in positions:
            (px, py), (cx, cy) = positions[parent], positions[trial["trial_id"]]
            style = ' stroke-dasharray="4 3"' if trial.get("transfer") == "none" else ""
            parts.append(f'<path class="edge" d="M{px + node_width:.1f},{py + 11:.1f} C{px + node_width + 12:.1f},{py + 11:.1f} '
                         f'{cx - 12:.1f},{cy + 11:.1f} {cx:.1f},{cy + 11:.1f}" fill="none" stroke="#777"{style}>'
                         f"<title>{_e(parent)} to {_e(trial['trial_id'])}</title></path>")
    for trial in trials:
        x, y = positions[trial["trial_id"]]
        value = metric.of(trial)
        failed = trial.get("status") != "completed"
        chosen = trial["trial_id"] in highlight
        stroke = COLOURS[4] if chosen else ("#b00" if failed else COLOURS[0])
        label = f"{trial['trial_id']} {'failed' if failed else (f'{value:.3g}' if value is not None else '')}"
        parent = f"; parent {_e(trial.get('parent'))}" if trial.get("parent") else ""
        parts.append(f'<g class="node"><rect x="{x}" y="{y}" width="{node_width}" height="22" rx="11" '
                     f'fill="{"#fbeaea" if failed else "#eef3fb"}" stroke="{stroke}" stroke-width="{2 if chosen else 1}"/>'
                     f'<text x="{x + node_width / 2}" y="{y + 15}" text-anchor="middle">{_e(label)}</text>'
                     f"<title>{_e(trial['trial_id'])}: {_e(' > '.join(trial.get('architecture') or []))}{parent}</title></g>")
    return _svg("lineage of the search", parts, width=width, height=height, css="chart lineage")


# --------------------------------------------------------------------------
# The study across runs


def timeline_chart(runs: Sequence[dict[str, Any]], metric: Metric) -> Optional[Markup]:
    """The eval score of the model in production after each run (a step line:
    it holds until a run's model is pushed), and each run's chosen model as a
    dot - filled if it was pushed, hollow if not. `runs` are the timeline's
    rows, oldest first, with `run_id`, `eval`, `pushed` and `production_eval`."""
    chosen = [(i + 1, r["eval"]) for i, r in enumerate(runs) if r.get("eval") is not None]
    production = [(i + 1, r["production_eval"]) for i, r in enumerate(runs) if r.get("production_eval") is not None]
    if not chosen and not production:
        return None
    axes = _Axes([1, len(runs)], [v for _, v in chosen + production])
    # At most 8 run ids under the axis; every run has its id in its dots' titles.
    every = max(1, math.ceil(len(runs) / 8))
    ticks = [(i + 1, _short(r.get("run_id"), 16)) for i, r in enumerate(runs) if i % every == 0]
    parts = axes.frame("run", metric.label, x_ticks=ticks)
    if production:
        # Steps: the production model's score holds until the next push; its last value reaches the last run.
        stepped = [production[0]] + [q for p, c in zip(production, production[1:]) for q in ((c[0], p[1]), c)]
        stepped.append((len(runs), production[-1][1]))
        parts.append(f'<polyline class="production" points="{_coords(axes, stepped)}" fill="none" '
                     f'stroke="{COLOURS[2]}" stroke-width="2.5"/>')
    for i, run in enumerate(runs):
        if run.get("eval") is None:
            continue
        pushed = bool(run.get("pushed"))
        fill = COLOURS[0] if pushed else "#fff"
        state = "pushed" if pushed else ("not blessed" if run.get("blessed") is False else "not pushed")
        parts.append(f'<circle class="run-score" cx="{axes.x(i + 1):.1f}" cy="{axes.y(run["eval"]):.1f}" r="4" '
                     f'fill="{fill}" stroke="{COLOURS[0]}" stroke-width="1.5"><title>{_e(run.get("run_id"))}: '
                     f'{_e(run.get("candidate"))} {run["eval"]:.4g}, {state}</title></circle>')
    parts += _legend(axes, [("in production", COLOURS[2]), ("run's chosen model", COLOURS[0])])
    return _svg(f"{metric.label} of the model in production after each run", parts)


def _short(text: Any, width: int) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= width else text[: width - 1] + "\u2026"

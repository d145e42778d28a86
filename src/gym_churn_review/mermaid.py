"""mermaid: a changed plot as Markdown that GitHub draws by itself, for a CI job summary.

A job summary cannot show the review's PNGs (they live in a workflow artifact, and GitHub
strips `data:` images), but it renders ```` ```mermaid ```` blocks. So each changed plot also
becomes text: a Mermaid `xychart-beta` with base and workspace overlaid, a table of the
values for categorical plots, and a count table for a confusion matrix. Everything here is
pure: rows (the `data.values` of the dvc plot spec, one dict per point with a `rev` field)
in, Markdown out. The exact charts stay in the PNG/SVG files and plots.html.

xychart draws a numeric x axis as evenly spaced points, so a curve whose x values differ
between revisions (ROC, precision-recall) is resampled on a common grid: the upper envelope
(highest y at each x) linearly interpolated at `GRID_POINTS` points over the x range both
revisions cover. Series sharing the same few x values (k = 2..10) are drawn exactly.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

BASE_COLOUR = "#9e9e9e"
WORKSPACE_COLOUR = "#945dd6"  # the colour dvc gives the workspace in its own plots
GRID_POINTS = 21
EXACT_MAX_POINTS = 25  # up to this many shared x values, drawn as they are

Rows = Sequence[Mapping[str, Any]]


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _fmt(value: float) -> str:
    # four significant digits, never in exponent form: Mermaid cannot read 2.5e-05
    return np.format_float_positional(value, precision=4, unique=True, fractional=False, trim="-")


def _label(text: Any) -> str:
    # Mermaid strings are double-quoted with no escape syntax.
    return '"' + str(text).replace('"', "'").replace("\n", " ") + '"'


def _by_rev(rows: Rows, revs: Sequence[str]) -> dict[str, list[Mapping[str, Any]]]:
    return {rev: [row for row in rows if row.get("rev") == rev] for rev in revs}


def _envelope(rows: Sequence[Mapping[str, Any]], x: str, y: str) -> dict[float, float]:
    """Highest y at each x (a ROC curve has many points at one false-positive rate)."""
    points: dict[float, float] = {}
    for row in rows:
        px, py = _number(row.get(x)), _number(row.get(y))
        if px is not None and py is not None:
            points[px] = max(py, points.get(px, -math.inf))
    return dict(sorted(points.items()))


def _xychart(
    title: str,
    x_axis: str,
    y_axis: str,
    series: Sequence[tuple[str, str, Sequence[float]]],
    horizontal: bool = False,
    height: int = 500,
) -> str:
    """An xychart block; `series` is (kind "line"|"bar", colour, values) in drawing order."""
    init = {
        "xyChart": {"height": height},
        "themeVariables": {"xyChart": {"plotColorPalette": ", ".join(c for _, c, _ in series)}},
    }
    lines = [
        "```mermaid",
        # the init directive is read by every Mermaid version GitHub has shipped
        f"%%{{init: {json.dumps(init)}}}%%",
        "xychart-beta" + (" horizontal" if horizontal else ""),
        f"    title {_label(title)}",
        f"    x-axis {x_axis}",
        f"    y-axis {y_axis}",
    ]
    lines += [f"    {kind} [{', '.join(_fmt(v) for v in values)}]" for kind, _, values in series]
    return "\n".join([*lines, "```"])


def _legend(base: str, workspace: str, shapes: str) -> str:
    return (
        f"Grey {shapes}: `{base}`; purple {shapes}: `{workspace}` (this change). "
        "Exact chart: the PNG/SVG in the review artifact."
    )


def line_chart(
    title: str,
    rows: Rows,
    x: str,
    y: str,
    base: str,
    workspace: str,
    labels: tuple[str | None, str | None] = (None, None),
) -> str | None:
    """Both revisions' y-by-x curves in one chart, or None when they share no x range."""
    x_label, y_label = labels[0] or x, labels[1] or y
    curves = {rev: _envelope(part, x, y) for rev, part in _by_rev(rows, [base, workspace]).items()}
    present = [(rev, curve) for rev, curve in curves.items() if curve]
    if not present:
        return None
    xs = [list(curve) for _, curve in present]
    if all(values == xs[0] for values in xs) and len(xs[0]) <= EXACT_MAX_POINTS:
        grid = np.array(xs[0])
        axis = f"{_label(x_label)} [{', '.join(_fmt(v) for v in grid)}]"
    else:
        low, high = max(v[0] for v in xs), min(v[-1] for v in xs)
        if not low < high:
            return None
        grid = np.linspace(low, high, GRID_POINTS)
        axis = f"{_label(x_label)} {_fmt(low)} --> {_fmt(high)}"
    colours = {base: BASE_COLOUR, workspace: WORKSPACE_COLOUR}
    series = [
        ("line", colours[rev], np.interp(grid, list(curve), list(curve.values())).tolist())
        for rev, curve in present
    ]
    chart = _xychart(title, axis, _label(y_label), series)
    if len(present) == 1:
        (rev, _), colour = present[0], "grey" if present[0][0] == base else "purple"
        return f"{chart}\n\n{colour.capitalize()} line: `{rev}`; the other revision has no data."
    return f"{chart}\n\n{_legend(base, workspace, 'line')}"


def category_chart(
    title: str,
    rows: Rows,
    category: str,
    value: str,
    base: str,
    workspace: str,
    value_label: str | None = None,
) -> str:
    """A pair of bars per category, base (grey) above workspace (purple), and a value table.

    xychart draws the bars of several series on top of each other, so each category gets two
    rows, each showing one series' bar. The other series' value there is below the axis
    range: a bar of negative length, which is not drawn (a zero would still show a stub
    from the plot edge to the axis' zero). Categories keep the workspace's order, then any
    that only the base has; one missing at a revision has no bar and shows as "-".
    """
    parts = _by_rev(rows, [base, workspace])
    values = {
        rev: {str(row.get(category)): _number(row.get(value)) for row in part}
        for rev, part in parts.items()
    }
    names = list(dict.fromkeys([*values[workspace], *values[base]]))
    present = [v for rev in values for v in values[rev].values() if v is not None]
    low, high = min([0.0, *present]), max([0.0, *present])  # bars start at 0: keep it in view
    high = high if high > low else low + 1.0
    hidden = low - (high - low)
    labels, old_bars, new_bars = [], [], []
    for name in names:
        old, new = values[base].get(name), values[workspace].get(name)
        labels += [f"{name} · {base}", name]
        old_bars += [hidden if old is None else old, hidden]
        new_bars += [hidden, hidden if new is None else new]
    chart = _xychart(
        title,
        f"[{', '.join(_label(n) for n in labels)}]",
        f"{_label(value_label or value)} {_fmt(low)} --> {_fmt(high)}",
        [("bar", BASE_COLOUR, old_bars), ("bar", WORKSPACE_COLOUR, new_bars)],
        horizontal=True,
        height=max(500, 24 * len(labels)),
    )

    def cell(number: float | None) -> str:
        return "-" if number is None else _fmt(number)

    table = [f"| {category} | `{base}` | `{workspace}` | change |", "|---|---:|---:|---:|"]
    for n in names:
        old, new = values[base].get(n), values[workspace].get(n)
        change = "-" if old is None or new is None else "+" * (new >= old) + _fmt(new - old)
        table.append(f"| {n.replace('|', '/')} | {cell(old)} | {cell(new)} | {change} |")
    return f"{chart}\n\n{_legend(base, workspace, 'bars')}\n\n" + "\n".join(table)


def confusion_table(rows: Rows, actual: str, predicted: str, base: str, workspace: str) -> str:
    """Counts per (actual, predicted) pair at each revision, as a Markdown table."""
    pairs: dict[tuple[str, str], dict[str, int]] = {}
    for row in rows:
        key = (str(row.get(actual)), str(row.get(predicted)))
        counts = pairs.setdefault(key, {base: 0, workspace: 0})
        if row.get("rev") in counts:
            counts[row["rev"]] += 1
    table = [f"| {actual} | {predicted} | `{base}` | `{workspace}` | change |"]
    table.append("|---|---|---:|---:|---:|")
    for (a, p), counts in sorted(pairs.items()):
        old, new = counts[base], counts[workspace]
        table.append(f"| {a} | {p} | {old} | {new} | {new - old:+d} |")
    return "\n".join(table)


def summary_chart(
    title: str,
    rows: Rows,
    template: str | None,
    x: str | None,
    y: str | None,
    base: str,
    workspace: str,
    labels: tuple[str | None, str | None] = (None, None),
) -> str | None:
    """The Markdown for one changed plot, or None when it cannot be drawn as text.

    `x`/`y` are the plot's fields as dvc.yaml names them, `labels` its axis titles (if set);
    which one is the category for a bar chart follows from the values (numbers on one axis,
    names on the other).
    """
    if not rows or not x or not y:
        return None
    if template == "confusion":
        return confusion_table(rows, x, y, base, workspace)
    x_numeric = all(_number(row.get(x)) is not None for row in rows)
    y_numeric = all(_number(row.get(y)) is not None for row in rows)
    if x_numeric and y_numeric:
        return line_chart(title, rows, x, y, base, workspace, labels)
    if x_numeric:
        return category_chart(title, rows, y, x, base, workspace, labels[0])
    if y_numeric:
        return category_chart(title, rows, x, y, base, workspace, labels[1])
    return None

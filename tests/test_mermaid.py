"""gym_churn_review.mermaid: changed plots as Markdown GitHub draws (Mermaid xychart, tables).

The charts are drawn by the real Mermaid library in tests/test_review.py; these check the
text: the series values, the axes and the tables.
"""

from __future__ import annotations

import re

import pytest

from gym_churn_review.mermaid import (
    GRID_POINTS,
    category_chart,
    confusion_table,
    line_chart,
    summary_chart,
)


def _rows(rev: str, points: list[tuple[object, object]], x: str = "x", y: str = "y") -> list:
    return [{x: str(a), y: str(b), "rev": rev} for a, b in points]


def _series(md: str) -> list[list[float]]:
    return [
        [float(v) for v in values.split(", ")]
        for values in re.findall(r"^    (?:line|bar) \[(.*)\]$", md, flags=re.M)
    ]


def test_line_chart_draws_shared_x_values_exactly() -> None:
    rows = _rows("main", [(2, 0.5), (3, 0.4), (4, 0.3)]) + _rows(
        "ws", [(2, 0.6), (3, 0.4), (4, 0.1)]
    )
    md = line_chart("Silhouette", rows, "x", "y", "main", "ws", labels=("k", None))
    assert md is not None
    assert md.startswith("```mermaid\n%%{init: ")
    assert '    x-axis "k" [2, 3, 4]' in md
    assert '    y-axis "y"' in md
    assert _series(md) == [[0.5, 0.4, 0.3], [0.6, 0.4, 0.1]]
    # base first: the palette's first colour (grey) is the base's
    assert '"plotColorPalette": "#9e9e9e, #945dd6"' in md
    assert "Grey line: `main`; purple line: `ws`" in md


def test_line_chart_resamples_curves_with_different_x_on_a_common_grid() -> None:
    # a ROC-like step: several y at x = 0; the curve is its upper envelope
    base = _rows("main", [(0, 0), (0, 0.5), (0.5, 0.9), (1, 1)])
    work = _rows("ws", [(0, 0), (0, 0.6), (0.25, 0.8), (1, 1)])
    md = line_chart("ROC", base + work, "x", "y", "main", "ws")
    assert md is not None
    assert '    x-axis "x" 0 --> 1' in md
    old, new = _series(md)
    assert len(old) == len(new) == GRID_POINTS
    assert old[0] == 0.5
    assert new[0] == 0.6
    assert old[10] == pytest.approx(0.9)  # x = 0.5
    assert new[5] == pytest.approx(0.8)  # x = 0.25
    assert old[-1] == new[-1] == 1


def test_line_chart_grid_covers_only_the_range_both_revisions_have() -> None:
    rows = _rows("main", [(0, 1), (10, 2)]) + _rows("ws", [(5, 1), (20, 3)])
    md = line_chart("t", rows, "x", "y", "main", "ws")
    assert md is not None
    assert '"x" 5 --> 10' in md
    assert (
        line_chart(
            "t",
            _rows("main", [(0, 1), (1, 2)]) + _rows("ws", [(2, 1), (3, 2)]),
            "x",
            "y",
            "main",
            "ws",
        )
        is None
    )  # no common range: nothing honest to draw


def test_line_chart_of_a_new_plot_draws_the_workspace_alone() -> None:
    md = line_chart("t", _rows("ws", [(1, 2), (2, 3)]), "x", "y", "main", "ws")
    assert md is not None
    assert _series(md) == [[2, 3]]
    assert '"plotColorPalette": "#945dd6"' in md
    assert md.endswith("Purple line: `ws`; the other revision has no data.")


@pytest.mark.parametrize(
    ("value", "text"),
    [(2.5e-05, "0.000025"), (-1.4e-05, "-0.000014"), (123456.0, "123500"), (0.12345, "0.1235")],
)
def test_numbers_never_use_exponent_form(value: float, text: str) -> None:
    # Mermaid's grammar has no exponents: "2.5e-05" is a parse error
    md = line_chart("t", _rows("ws", [(1, value), (2, value)]), "x", "y", "main", "ws")
    assert md is not None
    assert f"line [{text}, {text}]" in md


def test_category_chart_pairs_bars_and_hides_the_other_revision() -> None:
    rows = _rows("main", [(0.2, "Partner"), (0.1, "Age")], x="v", y="name") + _rows(
        "ws", [(0.3, "Partner"), (0.05, "New")], x="v", y="name"
    )
    md = category_chart("Importance", rows, "name", "v", "main", "ws")
    labels = re.search(r"x-axis \[(.*)\]", md).group(1)
    assert labels == '"Partner · main", "Partner", "New · main", "New", "Age · main", "Age"'
    assert '    y-axis "v" 0 --> 0.3' in md
    old, new = _series(md)
    # a bar of the other revision, or of a category a revision lacks, is below the axis
    assert old == [0.2, -0.3, -0.3, -0.3, 0.1, -0.3]
    assert new == [-0.3, 0.3, -0.3, 0.05, -0.3, -0.3]
    assert "| Partner | 0.2 | 0.3 | +0.1 |" in md
    assert "| New | - | 0.05 | - |" in md
    assert "| Age | 0.1 | - | - |" in md


def test_category_chart_keeps_negative_values_in_view() -> None:
    rows = _rows("main", [(-0.01, "a")], x="v", y="n") + _rows("ws", [(0.02, "a")], x="v", y="n")
    md = category_chart("t", rows, "n", "v", "main", "ws")
    assert '"v" -0.01 --> 0.02' in md
    assert _series(md) == [[-0.01, -0.04], [-0.04, 0.02]]
    assert "| a | -0.01 | 0.02 | +0.03 |" in md


def test_labels_with_quotes_stay_one_string() -> None:
    rows = _rows("ws", [(1, 'say "hi"')], x="v", y="n")
    md = category_chart('a "t"', rows, "n", "v", "main", "ws")
    assert "title \"a 't'\"" in md
    assert "\"say 'hi'\"" in md


def test_confusion_table_counts_pairs_per_revision() -> None:
    rows = _rows(
        "main", [("churned", "churned")] * 3 + [("churned", "retained")], "a", "p"
    ) + _rows("ws", [("churned", "churned")] * 4, "a", "p")
    md = confusion_table(rows, "a", "p", "main", "ws")
    assert md.splitlines() == [
        "| a | p | `main` | `ws` | change |",
        "|---|---|---:|---:|---:|",
        "| churned | churned | 3 | 4 | +1 |",
        "| churned | retained | 1 | 0 | -1 |",
    ]


@pytest.mark.parametrize(
    ("template", "rows", "kind"),
    [
        ("confusion", _rows("ws", [("a", "b")]), "table"),
        ("linear", _rows("ws", [(1, 2), (2, 3)]), "line"),
        ("bar_horizontal", _rows("ws", [(0.5, "name")]), "bar"),  # x numeric, y names
        ("bar_horizontal", _rows("ws", [("name", 0.5)]), "bar"),  # x names, y numeric
        ("simple", _rows("ws", [("a", "b")]), None),  # names on both axes: nothing to draw
        ("simple", [], None),
    ],
)
def test_summary_chart_picks_the_form_from_template_and_values(
    template: str, rows: list, kind: str | None
) -> None:
    md = summary_chart("t", rows, template, "x", "y", "main", "ws")
    if kind is None:
        assert md is None
    elif kind == "table":
        assert md is not None
        assert md.startswith("| x | y |")
    else:
        assert md is not None
        assert f"    {kind} [" in md


def test_summary_chart_needs_both_fields() -> None:
    assert summary_chart("t", _rows("ws", [(1, 2)]), "linear", None, "y", "main", "ws") is None

"""Every figure function returns a matplotlib Figure drawn from the data it is given."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from gym_churn import plots
from gym_churn.analysis.tenure import churn_by_tenure
from gym_churn.contract.checks import check_export
from gym_churn.evaluation import metrics
from tests.conftest import make_members, make_other

Y = np.array([1, 0, 1, 0, 0, 1, 0, 0, 0, 1])
P = np.array([0.9, 0.8, 0.7, 0.4, 0.3, 0.6, 0.2, 0.1, 0.15, 0.35])


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plots._pyplot().close("all")


def _legend_texts(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().texts]


def test_roc_figure():
    points = metrics.roc_points(Y, P)

    fig = plots.roc_figure(points, roc_auc=0.8123)

    assert isinstance(fig, Figure)
    assert "model (ROC-AUC 0.812)" in _legend_texts(fig)
    model_line = fig.axes[0].lines[0]
    np.testing.assert_array_equal(model_line.get_xdata(), points["fpr"])
    np.testing.assert_array_equal(model_line.get_ydata(), points["tpr"])


def test_pr_figure():
    fig = plots.pr_figure(metrics.pr_points(Y, P), pr_auc=0.7, base_rate=0.4)

    assert isinstance(fig, Figure)
    texts = _legend_texts(fig)
    assert "model (AP 0.700)" in texts
    assert "churn rate 40.0%" in texts
    assert fig.axes[0].get_ylim() == pytest.approx((0, 1.02))


def test_confusion_figure_counts():
    rows = metrics.confusion_rows(Y, P, threshold=0.5)
    # flagged (p >= 0.5): rows 0, 1, 2, 5 -> tp 3, fp 1; fn 1 (row 9); tn 5

    fig = plots.confusion_figure(rows)

    assert isinstance(fig, Figure)
    annotations = [t.get_text() for t in fig.axes[0].texts]
    # heatmap cells row by row: actual retained (tn, fp), actual churned (fn, tp)
    assert annotations == ["5", "1", "1", "3"]


def test_confusion_figure_with_an_empty_class():
    rows = metrics.confusion_rows(Y, P, threshold=0.95)  # nobody flagged

    fig = plots.confusion_figure(rows)

    assert [t.get_text() for t in fig.axes[0].texts] == ["6", "0", "4", "0"]


def test_calibration_figure():
    points = metrics.calibration_points(Y, P, n_bins=5)

    fig = plots.calibration_figure(points, ece=0.0456)

    assert isinstance(fig, Figure)
    assert "model (ECE 0.046)" in _legend_texts(fig)
    np.testing.assert_array_equal(fig.axes[0].lines[1].get_xdata(), points["mean_predicted"])


def test_gain_figure_starts_at_the_origin():
    points = metrics.cumulative_gain(Y, P, points=20)

    fig = plots.gain_figure(points, top_decile_lift=2.5)

    assert isinstance(fig, Figure)
    assert "model (top-decile lift 2.50)" in _legend_texts(fig)
    line = fig.axes[0].lines[0]
    assert line.get_xdata()[0] == 0
    assert line.get_ydata()[0] == 0
    assert len(line.get_xdata()) == len(points) + 1


def test_importance_figure_has_one_bar_per_group_named_by_its_label():
    # evaluate's importance.csv: one row per group of columns, named in the contract's words
    table = pd.DataFrame(
        {
            "group": ["Lifetime", "Age", "Phone"],
            "columns": ["Lifetime + tenure_bucket", "Age", "Phone"],
            "importance": [0.2, 0.05, -0.01],
            "importance_std": [0.01, 0.02, 0.005],
            "label": ["months as a member", "age", "phone given"],
        }
    )

    fig = plots.importance_figure(table)

    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert len(ax.patches) == 3
    # sorted ascending so that the group the model leans on most is drawn at the top
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["phone given", "age", "months as a member"]
    assert [bar.get_width() for bar in ax.patches] == pytest.approx([-0.01, 0.05, 0.2])


def _tenure_table(gym_contract) -> pd.DataFrame:
    members = make_members(200)
    return churn_by_tenure(members, gym_contract)


def test_tenure_figure_draws_churn_by_month_and_the_running_share(gym_contract):
    table = _tenure_table(gym_contract)
    assert table["cumulative_share_of_churners"].iloc[-1] == pytest.approx(1)

    fig = plots.tenure_figure(table, "time as a member", "months")

    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "time as a member (months)"
    # months after the last churner left are not shown: the running share is flat there
    shown = table[table["cumulative_share_of_churners"].shift(fill_value=0) < 0.999]
    assert 0 < len(shown) <= len(table)
    assert [bar.get_height() for bar in ax.patches] == pytest.approx(shown["churn_rate"].tolist())
    running = ax.lines[-1]
    np.testing.assert_allclose(running.get_ydata(), shown["cumulative_share_of_churners"])
    assert ax.get_ylim() == pytest.approx((0, 1.05))
    assert "share of all churners so far" in _legend_texts(fig)


def test_tenure_figure_without_a_unit_shows_the_label_alone(gym_contract):
    fig = plots.tenure_figure(_tenure_table(gym_contract), "tenure", "")

    assert fig.axes[0].get_xlabel() == "tenure"


def test_tenure_figure_of_an_empty_table_says_why(other_contract):
    no_tenure = other_contract.model_copy(
        update={"features": {c: f for c, f in other_contract.features.items()
                             if f.role != "tenure"}}
    )  # fmt: skip
    table = churn_by_tenure(pd.DataFrame(), no_tenure)
    assert table.empty

    fig = plots.tenure_figure(table, "", "")

    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert not ax.axison
    assert len(ax.patches) == len(ax.lines) == 0
    assert [t.get_text() for t in ax.texts] == ["no tenure column declared in the data contract"]


def test_k_scan_figure():
    scan = pd.DataFrame(
        {
            "k": [2, 3, 4, 5],
            "silhouette": [0.3, 0.35, 0.28, 0.25],
            "inertia": [100.0, 80.0, 70.0, 65.0],
            "stability_ari": [0.9, 0.85, 0.6, 0.5],
        }
    )

    fig = plots.k_scan_figure(scan, chosen_k=3)

    assert isinstance(fig, Figure)
    assert len(fig.axes) == 3
    assert "k = 3" in fig.get_suptitle()
    for ax in fig.axes:
        assert list(ax.lines[0].get_xdata()) == [2, 3, 4, 5]


def test_dendrogram_figure():
    from scipy.cluster.hierarchy import linkage

    points = np.random.default_rng(0).normal(size=(30, 3))

    fig = plots.dendrogram_figure(linkage(points, method="ward"), chosen_k=3, rows=30)

    assert isinstance(fig, Figure)
    assert "cut at k = 3" in _legend_texts(fig)
    assert "30 members" in fig.axes[0].get_title()


def test_segment_heatmap_labels_every_segment():
    z = pd.DataFrame([[0.5, -1.2, 0.0], [-0.3, 0.8, 1.1]], columns=["Age", "Lifetime", "Partner"])

    fig = plots.segment_heatmap(z, ["loyal", "at risk"])

    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["loyal", "at risk"]
    assert [t.get_text() for t in ax.texts] == ["0.5", "-1.2", "0.0", "-0.3", "0.8", "1.1"]


def test_segment_heatmap_names_columns_and_population_in_the_contracts_words():
    z = pd.DataFrame([[0.5, -1.2], [-0.3, 0.8]], columns=["senior", "plan: premium"])

    fig = plots.segment_heatmap(z, ["a", "b"], {"senior": "seniors"}, "customers")

    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["seniors", "plan: premium"]
    assert ax.get_title().endswith("from all customers")
    assert "member" not in ax.get_title()


@pytest.mark.parametrize(
    "columns",
    [
        ["Age"],
        ["Partner", "Contract_period", "Lifetime", "Avg_class_frequency_total", "Age"],
    ],
)
def test_distributions_by_churn_draws_one_visible_panel_per_column(valid_members, columns):
    fig = plots.distributions_by_churn(valid_members, columns, "Churn")

    assert isinstance(fig, Figure)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == columns


def test_distributions_use_the_contract_words_and_draw_text_categories(other_contract):
    members = check_export(make_other(80), other_contract, source="other.csv").members
    columns = other_contract.raw_features
    titles = {c: other_contract.words(c).label for c in columns}

    fig = plots.distributions_by_churn(
        members, columns, other_contract.target.column, titles, "customers"
    )

    visible = [ax for ax in fig.axes if ax.get_visible()]
    # words where the contract has them (plan, seniors), the column name otherwise
    assert [ax.get_title() for ax in visible] == [
        "plan", "region", "seniors", "fee", "tenure_months", "calls",
    ]  # fmt: skip
    assert "customers" in fig.get_suptitle()
    assert [t.get_text() for t in fig.legends[0].texts] == ["retained", "churned"]
    left = plots.distributions_by_churn(
        members, columns[:1], other_contract.target.column, titles, "customers", ("kept", "left")
    )
    assert [t.get_text() for t in left.legends[0].texts] == ["kept", "left"]
    assert left.get_suptitle() == "Each column's values, left vs kept customers"
    plan, region = visible[0], visible[1]
    assert sorted(t.get_text() for t in plan.get_xticklabels()) == ["basic", "plus", "premium"]
    # a category with many levels shows its 12 most common at most, as bars per status
    assert 0 < len(region.get_xticklabels()) <= plots.MAX_LEVELS_SHOWN
    assert len(plan.patches) == 2 * 3


def test_correlation_heatmap_annotates_the_lower_triangle(valid_members):
    columns = ["Age", "Lifetime", "Avg_class_frequency_total", "Contract_period"]

    fig = plots.correlation_heatmap(valid_members, columns)

    assert isinstance(fig, Figure)
    annotations = fig.axes[0].texts
    assert len(annotations) == len(columns) * (len(columns) + 1) // 2
    assert sum(t.get_text() == "1.00" for t in annotations) >= len(columns)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == columns


def test_correlation_heatmap_names_columns_in_the_contracts_words(valid_members):
    columns = ["Age", "Lifetime"]

    fig = plots.correlation_heatmap(valid_members, columns, {"Lifetime": "months as a member"})

    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Age", "months as a member"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Age", "months as a member"]


def test_a_diverging_heatmap_is_centred_on_zero():
    z = pd.DataFrame([[0.5, -1.2], [-0.3, 0.8]], columns=["Age", "Lifetime"])

    fig = plots.segment_heatmap(z, ["loyal", "at risk"])

    # the colour map's middle (white) is "as the base": limits symmetric about 0
    assert fig.axes[0].images[0].get_clim() == (-1.2, 1.2)


def test_drawing_loads_neither_seaborn_nor_scipy():
    # each drawing stage is its own process: seaborn (and the scipy.stats it loads) would
    # cost each ~0.3-0.5 s of start-up for a theme and heatmaps matplotlib draws itself
    script = (
        "import sys\n"
        "import pandas as pd\n"
        "from gym_churn import plots\n"
        "from tests.conftest import make_members\n"
        "m = make_members(60)\n"
        "plots.distributions_by_churn(m, ['Age', 'Partner', 'Lifetime'], 'Churn')\n"
        "plots.correlation_heatmap(m, ['Age', 'Lifetime', 'Churn'])\n"
        "plots.segment_heatmap(pd.DataFrame([[0.5, -1.0]], columns=['a', 'b']), ['s'])\n"
        "rows = pd.DataFrame({'actual': ['churned'], 'predicted': ['retained']})\n"
        "plots.confusion_figure(rows)\n"
        "print(*[m for m in ('seaborn', 'scipy') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1], check=True)  # fmt: skip

    assert out.stdout.split() == []


# --- the marketer's figures (issue 26): takeaway titles, words on the axes, risk colours ----


def test_risk_colours_mean_risk() -> None:
    assert plots.risk_colour(4.1) == plots.RISK["high"]
    assert plots.risk_colour(1.3) == plots.RISK["raised"]
    assert plots.risk_colour(1.0) == plots.RISK["average"]
    assert plots.risk_colour(0.3) == plots.RISK["low"]


def test_ratio_bars_are_coloured_by_risk_with_words_on_the_axis() -> None:
    rows = pd.DataFrame({"text": ["monthly contracts\nvs long contracts", "solo\nvs group"],
                         "ratio": [4.1, 1.0]})  # fmt: skip
    fig = plots.ratio_bars_figure(rows, "times as often (customers)", "Monthly contracts leave")
    ax = fig.axes[0]
    assert ax.get_title() == "Monthly contracts leave"
    assert ax.get_xlabel() == "times as often (customers)"
    colours = {tuple(round(c, 3) for c in bar.get_facecolor()[:3]) for bar in ax.patches}
    assert len(colours) == 2  # the strong link red, the null one grey


def test_the_campaign_figure_marks_the_list_sent() -> None:
    proba = np.r_[np.full(250, 0.8), np.full(750, 0.02)]
    from gym_churn.scoring.campaign import Economics, profit_curve

    curve = profit_curve(proba, Economics(10.0, 100.0, 0.3, 0.1, 0.5))
    words = {"many": "customers", "currency": "USD", "rate": "30%", "low": "10%", "high": "50%"}
    fig = plots.campaign_return_figure(curve, words, {"sent": 225, "best": 250}, "Title")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "customers contacted, riskiest first"
    assert "USD" in ax.get_ylabel()
    legend = " ".join(_legend_texts(fig))
    assert "this month's list: 225 contacted" in legend
    assert "if the offer keeps 10% to 50% of those who would leave" in legend


def test_group_and_tenure_figures_label_their_axes() -> None:
    rows = pd.DataFrame({"text": ["a", "b"], "rate": [0.8, 0.05], "low": [0.7, 0.02],
                         "high": [0.9, 0.1]})  # fmt: skip
    fig = plots.group_rates_figure(rows, 0.26, "share of customers who left", "80% of one left")
    assert fig.axes[0].get_xlabel() == "share of customers who left"
    table = pd.DataFrame({"tenure": [0, 1], "churn_rate": [0.8, 0.4], "low": [0.7, 0.3],
                          "high": [0.9, 0.5]})  # fmt: skip
    fig = plots.tenure_risk_figure(table, "tenure (months)", "Most leave early", 0.26)
    assert fig.axes[0].get_xlabel() == "tenure (months)"
    assert fig.axes[0].get_title() == "Most leave early"

"""Every matplotlib figure of the project. Each function takes data, returns a Figure.

The Agg backend and the theme are set once, on first use, not at import time. The theme is
seaborn's whitegrid look as matplotlib ships it (its seaborn-v0_8 styles), and heatmaps are
matplotlib's imshow: seaborn itself is not imported, which saved each drawing stage ~0.3 s
of start-up (seaborn loads scipy.stats).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pandas as pd

PALETTE = {"retained": "#4C72B0", "churned": "#DD8452"}


@functools.cache
def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # seaborn's set_theme(style="whitegrid", context="notebook") and its "deep" palette
    plt.style.use(["seaborn-v0_8-whitegrid", "seaborn-v0_8-notebook", "seaborn-v0_8-deep"])
    return plt


def _heatmap(
    ax: Any,
    table: pd.DataFrame,
    fmt: str,
    cmap: str,
    *,
    center: float | None = None,
    mask: np.ndarray | None = None,
    colorbar: str | None = None,
) -> None:
    """Cells of `table` coloured by value (`center`: the colour map's middle, symmetric
    limits), each annotated with its value in `fmt`; `mask` True hides a cell; `colorbar`
    labels a colour bar (None: no bar)."""
    values = table.to_numpy(dtype=float)
    shown = np.ma.masked_array(values, mask=mask if mask is not None else np.isnan(values))
    if center is None:
        low, high = shown.min(), shown.max()
    else:
        reach = float(np.abs(shown - center).max()) if shown.count() else 1.0
        low, high = center - reach, center + reach
    image = ax.imshow(shown, cmap=cmap, vmin=low, vmax=high, aspect="auto",
                      interpolation="nearest")  # fmt: skip
    colours = image.cmap(image.norm(values))
    cells = table.to_numpy()  # as given: format "d" needs the int, not its float
    for i, j in np.ndindex(values.shape):
        if np.ma.is_masked(shown[i, j]):
            continue
        r, g, b, _ = colours[i, j]
        # dark text on light cells, light on dark (relative luminance, as seaborn picks it)
        text = "#262626" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.408 else "white"
        ax.text(j, i, format(cells[i, j], fmt), ha="center", va="center", color=text, fontsize=9)
    ax.set_xticks(range(values.shape[1]), [str(c) for c in table.columns])
    ax.set_yticks(range(values.shape[0]), [str(r) for r in table.index])
    ax.grid(False)  # the theme's grid would run through the cells
    if colorbar is not None:
        ax.figure.colorbar(image, ax=ax, label=colorbar)


def _figure(width: float = 6.0, height: float = 4.5) -> tuple[Any, Any]:
    return _pyplot().subplots(figsize=(width, height))


def roc_figure(points: pd.DataFrame, roc_auc: float) -> Any:
    fig, ax = _figure(5.0, 5.0)
    ax.plot(points["fpr"], points["tpr"], label=f"model (ROC-AUC {roc_auc:.3f})")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="random")
    ax.set(xlabel="False positive rate", ylabel="True positive rate", title="ROC curve (test)")
    ax.legend(loc="lower right")
    return fig


def pr_figure(points: pd.DataFrame, pr_auc: float, base_rate: float) -> Any:
    fig, ax = _figure(5.0, 5.0)
    ax.plot(points["recall"], points["precision"], label=f"model (AP {pr_auc:.3f})")
    ax.axhline(base_rate, ls="--", color="grey", label=f"churn rate {base_rate:.1%}")
    ax.set(xlabel="Recall", ylabel="Precision", title="Precision-recall curve (test)")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower left")
    return fig


def confusion_figure(rows: pd.DataFrame) -> Any:
    order = ["retained", "churned"]
    matrix = pd.crosstab(rows["actual"], rows["predicted"]).reindex(
        index=order, columns=order, fill_value=0
    )
    fig, ax = _figure(4.5, 4.0)
    _heatmap(ax, matrix, "d", "Blues")
    ax.set(xlabel="Predicted", ylabel="Actual", title="Confusion matrix at the threshold (test)")
    return fig


def calibration_figure(points: pd.DataFrame, ece: float) -> Any:
    fig, ax = _figure(5.0, 5.0)
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    ax.plot(
        points["mean_predicted"],
        points["observed_churn_rate"],
        "o-",
        label=f"model (ECE {ece:.3f})",
    )
    if "members" in points:
        for x, y, n in zip(points["mean_predicted"], points["observed_churn_rate"],
                           points["members"], strict=True):  # fmt: skip
            ax.annotate(f"n={n}", (x, y), textcoords="offset points", xytext=(4, -10),
                        fontsize=7, color="#555555")  # fmt: skip
    ax.set(
        xlabel="Mean predicted churn probability",
        ylabel="Observed churn rate",
        title="Reliability diagram (test; n = members per bin)",
    )
    ax.legend(loc="upper left")
    return fig


def gain_figure(points: pd.DataFrame, top_decile_lift: float) -> Any:
    fig, ax = _figure()
    ax.plot(
        np.r_[0, points["contacted_share"]],
        np.r_[0, points["churners_caught_share"]],
        label=f"model (top-decile lift {top_decile_lift:.2f})",
    )
    ax.plot([0, 1], [0, 1], "--", color="grey", label="random contact")
    ax.set(
        xlabel="Share of members contacted (highest risk first)",
        ylabel="Share of churners reached",
        title="Cumulative gain (test)",
    )
    ax.legend(loc="lower right")
    return fig


def importance_figure(table: pd.DataFrame) -> Any:
    """Model reliance per group of columns (`label`, `importance`, `importance_std`)."""
    ordered = table.sort_values("importance")
    fig, ax = _figure(7.5, 0.35 * len(ordered) + 1.5)
    ax.barh(
        ordered["label"], ordered["importance"], xerr=ordered["importance_std"], color="#4C72B0"
    )
    ax.set(
        xlabel="Rise in log loss when shuffled (a column with the features made from it)",
        title="Model reliance (test split, mean ± std over shuffles)",
    )
    return fig


def k_scan_figure(scan: pd.DataFrame, chosen_k: int) -> Any:
    fig, axes = _pyplot().subplots(1, 3, figsize=(13, 3.8))
    for ax, column, title in zip(
        axes,
        ["silhouette", "inertia", "stability_ari"],
        ["Silhouette (higher = better separated)", "Inertia (elbow)", "Stability (mean ARI)"],
        strict=True,
    ):
        ax.plot(scan["k"], scan[column], "o-")
        if column == "stability_ari" and "stability_ari_low" in scan:
            # 95% interval of each mean: the chosen k has more refits than the others
            ax.fill_between(scan["k"], scan["stability_ari_low"], scan["stability_ari_high"],
                            alpha=0.2)  # fmt: skip
        ax.axvline(chosen_k, ls="--", color="grey")
        ax.set(xlabel="k", title=title)
    fig.suptitle(f"Choosing k (dashed: k = {chosen_k})")
    fig.tight_layout()
    return fig


def dendrogram_figure(linkage_matrix: np.ndarray, chosen_k: int, rows: int) -> Any:
    from scipy.cluster.hierarchy import dendrogram

    fig, ax = _figure(10, 4.5)
    # Cut height that gives chosen_k clusters: between the k-th and (k-1)-th last merges.
    heights = linkage_matrix[:, 2]
    cut = (heights[-chosen_k] + heights[-chosen_k + 1]) / 2 if chosen_k > 1 else heights[-1]
    dendrogram(linkage_matrix, ax=ax, truncate_mode="lastp", p=30, color_threshold=cut)
    ax.grid(False)  # grid lines would run through the tree
    ax.axhline(cut, ls="--", color="grey", label=f"cut at k = {chosen_k}")
    ax.set(
        title=f"Ward dendrogram of a seeded sample of {rows} members",
        xlabel="members (merged leaves show counts)",
        ylabel="Ward distance",
    )
    ax.legend(loc="upper right")
    return fig


def segment_heatmap(
    z: pd.DataFrame,
    labels: list[str],
    columns: dict[str, str] | None = None,
    many: str = "members",
) -> Any:
    """Each segment's (rows, named by `labels`) difference from all `many` on each column
    (named by `columns`' words where given), in standard deviations."""
    fig, ax = _figure(max(8.0, 0.8 * len(z.columns)), 0.6 * len(z) + 2.5)
    shown = z.set_axis(labels, axis=0).rename(columns=columns or {})
    _heatmap(ax, shown, ".1f", "RdBu_r", center=0,
             colorbar="segment's average minus everyone's, in standard deviations")  # fmt: skip
    ax.set(title=f"Segment profiles: how each differs from all {many}")
    ax.tick_params(axis="x", labelrotation=45)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    return fig


MAX_LEVELS_SHOWN = 12


def distributions_by_churn(
    members: pd.DataFrame,
    columns: list[str],
    target: str,
    titles: dict[str, str] | None = None,
    many: str = "members",
    outcome: tuple[str, str] = ("retained", "churned"),
) -> Any:
    """One panel per column (titled by `titles`' words where given): shares per value for
    few values or text (the 12 most common levels), densities for numbers; `outcome`: the
    words for a negative and a positive target."""
    n_cols = 4
    n_rows = int(np.ceil(len(columns) / n_cols))
    fig, axes = _pyplot().subplots(n_rows, n_cols, figsize=(16, 3.2 * n_rows))
    status = members[target].map({0: "retained", 1: "churned"})
    for ax, col in zip(axes.flat, columns, strict=False):
        data = members.assign(status=status)
        numeric = pd.api.types.is_numeric_dtype(members[col])
        if members[col].nunique() <= MAX_LEVELS_SHOWN or not numeric:
            if not numeric:
                common = data[col].value_counts().index[:MAX_LEVELS_SHOWN]
                data = data[data[col].isin(common)]
            rates = pd.crosstab(data[col], data["status"])
            shares = rates / rates.sum()
            shares.plot.bar(ax=ax, color=[PALETTE[c] for c in shares.columns], rot=0,
                            legend=False)  # fmt: skip
            ax.set(ylabel="share of group")
            labels = [t.get_text() for t in ax.get_xticklabels()]
            if len(labels) > 6 or max(map(len, labels), default=0) > 6:
                # many or long values: rotated, so neighbouring ticks do not merge
                ax.tick_params(axis="x", labelrotation=45, labelsize=8)
        else:
            # each group's density over the same bins (numpy's "auto" rule on both groups)
            values = data[col].dropna()
            edges = np.histogram_bin_edges(values.to_numpy(dtype=float), bins="auto")
            for name, colour in PALETTE.items():
                group = values[data.loc[values.index, "status"] == name].to_numpy(dtype=float)
                if len(group):
                    ax.hist(group, bins=edges, density=True, histtype="stepfilled",
                            color=colour, alpha=0.25)  # fmt: skip
                    ax.hist(group, bins=edges, density=True, histtype="step", color=colour,
                            linewidth=1.2)  # fmt: skip
            ax.set(ylabel="Density")
        ax.set(title=(titles or {}).get(col, col), xlabel="")
    for ax in axes.flat[len(columns) :]:
        ax.set_visible(False)
    # one legend for the figure, above the panels, instead of one covering each panel's bars
    handles = [_pyplot().Rectangle((0, 0), 1, 1, color=c) for c in PALETTE.values()]
    fig.legend(handles, list(outcome), loc="upper right", ncols=2, frameon=False)
    fig.suptitle(f"Each column's values, {outcome[1]} vs {outcome[0]} {many}")
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return fig


def correlation_heatmap(
    members: pd.DataFrame, columns: list[str], labels: dict[str, str] | None = None
) -> Any:
    """Pearson correlations of `columns` (named by `labels`' words where given)."""
    corr = members[columns].corr()  # numeric columns only: the caller leaves out categories
    corr = corr.rename(index=labels or {}, columns=labels or {})
    fig, ax = _figure(11, 9)
    mask = np.triu(np.ones_like(corr, dtype=bool), k=1)
    _heatmap(ax, corr, ".2f", "RdBu_r", center=0, mask=mask, colorbar="")
    ax.tick_params(axis="x", labelrotation=90)
    ax.set(title="Correlations (Pearson)")
    return fig


def tenure_figure(table: pd.DataFrame, label: str, unit: str) -> Any:
    """Monthly churn rate by tenure with 95% CIs, and the running share of all churners."""
    fig, ax = _figure(8.0, 4.5)
    if table.empty:
        ax.text(0.5, 0.5, "no tenure column declared in the data contract", ha="center")
        ax.set_axis_off()
        return fig
    shown = table[table["cumulative_share_of_churners"].shift(fill_value=0) < 0.999]
    err = [shown["churn_rate"] - shown["low"], shown["high"] - shown["churn_rate"]]
    ax.bar(shown["tenure"], shown["churn_rate"], yerr=err, color=PALETTE["churned"],
           capsize=3, label="churn rate (95% CI)")  # fmt: skip
    ax.plot(shown["tenure"], shown["cumulative_share_of_churners"], "o-", color="#333333",
            label="share of all churners so far")  # fmt: skip
    ax.set(xlabel=f"{label} ({unit})" if unit else label, ylabel="share", ylim=(0, 1.05),
           title="When members leave: churn rate by tenure")  # fmt: skip
    ax.yaxis.set_major_formatter(_pyplot().FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.legend(loc="center right")
    return fig


def _share(x: float) -> str:
    """A share with the decimals needed: 0.125 -> "12.5%", 0.27 -> "27%"."""
    return f"{100 * float(x):.1f}".removesuffix(".0") + "%"


def profit_figure(curve: pd.DataFrame, best: pd.Series, budget_share: float, eco: Any) -> Any:
    """Expected profit by share contacted (riskiest first): the success-rate band, random
    targeting, the best share and the share the budget pays for."""
    fig, ax = _figure(8.0, 4.5)
    x = 100 * curve["contact_share"]
    ax.fill_between(x, curve["profit_low"], curve["profit_high"], color="#9ecae1", alpha=0.5,
                    label=f"success rate {_share(eco.success_rate_low)} to "
                          f"{_share(eco.success_rate_high)}")  # fmt: skip
    ax.plot(x, curve["profit"], color="#08519c",
            label=f"riskiest first, success rate {_share(eco.success_rate)}")  # fmt: skip
    ax.plot(x, curve["random"], "--", color="#636363", label="random members")
    ax.axhline(0, color="#333333", linewidth=0.8)
    ax.axvline(100 * best["contact_share"], color="#08519c", linestyle=":",
               label=f"best share {_share(best['contact_share'])}")  # fmt: skip
    if budget_share < 1:
        ax.axvline(100 * budget_share, color="#e6550d", linestyle="-.",
                   label=f"budget: {_share(budget_share)}")  # fmt: skip
    ax.set(xlabel="members contacted, riskiest first (%)", ylabel="expected profit",
           title=f"Expected retention profit (offer {eco.offer_cost:g}, member value "
                 f"{eco.member_value:g})")  # fmt: skip
    ax.legend(loc="lower left", fontsize=8)
    return fig


def backtest_figure(table: pd.DataFrame) -> Any:
    """ROC-AUC, top-decile lift, ECE and churn rate per tested month (the backtest table);
    a note instead when no month could be tested."""
    fig, axes = _pyplot().subplots(1, 2, figsize=(10.0, 4.0))
    if table.empty:
        for ax in axes:
            ax.axis("off")
        axes[0].text(0, 0.5, "No out-of-time check: it needs 2 labelled snapshots or more.")
        return fig
    x = [str(s) for s in table["snapshot"]]
    axes[0].plot(x, table["roc_auc"], "o-", label="ROC-AUC")
    axes[0].plot(x, table["ece"], "s--", label="ECE")
    axes[0].plot(x, table["churn_rate"], "^:", label="churn rate")
    axes[0].set(ylim=(0, 1), xlabel="month scored", title="Each month, by a model of earlier ones")
    axes[0].legend(loc="lower left", fontsize=8)
    axes[1].bar(x, table["top_decile_lift"], color="#08519c")
    axes[1].axhline(1, color="#636363", linestyle="--", linewidth=0.8)
    axes[1].set(xlabel="month scored", ylabel="lift", title="Top-decile lift")
    for ax in axes:
        ax.tick_params(axis="x", labelrotation=45)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------ the marketer's figures
# Drawn by the report stage in the contract's words. Colours mean risk: red leaves most,
# orange more than average, grey about average, blue less.
RISK = {"high": "#c0392b", "raised": "#e67e22", "average": "#95a5a6", "low": "#2e86c1"}


def risk_colour(ratio: float) -> str:
    """A churn ratio (a group's churn / the comparison's) as a risk colour."""
    if ratio >= 2:
        return RISK["high"]
    if ratio >= 1.2:
        return RISK["raised"]
    if ratio > 1 / 1.2:
        return RISK["average"]
    return RISK["low"]


def _percent_axis(axis: Any) -> None:
    axis.set_major_formatter(_pyplot().FuncFormatter(lambda v, _: f"{100 * v:.0f}%"))


def _money_axis(axis: Any) -> None:
    axis.set_major_formatter(_pyplot().FuncFormatter(lambda v, _: f"{v:,.0f}"))


def campaign_return_figure(
    curve: pd.DataFrame, words: dict[str, Any], marks: dict[str, float], title: str
) -> Any:
    """Expected return (after the offers' cost) by how many are contacted, riskiest first:
    the assumed success rate, its band, random picks, the list sent and the best size.
    `words`: many, currency, rate, low, high (texts); `marks`: sent, best (counts)."""
    fig, ax = _figure(8.0, 4.2)
    x = curve["contacted"]
    ax.fill_between(x, curve["profit_low"], curve["profit_high"], color="#aed6f1", alpha=0.6,
                    label=f"if the offer keeps {words['low']} to {words['high']} of those "
                          "who would leave")  # fmt: skip
    ax.plot(x, curve["profit"], color="#1b4f72",
            label=f"if it keeps {words['rate']} (assumed), riskiest first")  # fmt: skip
    ax.plot(x, curve["random"], "--", color="#7f8c8d", label=f"{words['many']} picked at random")
    ax.axhline(0, color="#333333", linewidth=0.8)
    ax.axvline(marks["sent"], color=RISK["high"], linestyle="-.",
               label=f"this month's list: {marks['sent']:,.0f} contacted")  # fmt: skip
    if marks["best"] != marks["sent"]:
        ax.axvline(marks["best"], color="#1b4f72", linestyle=":",
                   label=f"most return: {marks['best']:,.0f} contacted")  # fmt: skip
    ax.set(xlabel=f"{words['many']} contacted, riskiest first",
           ylabel=f"expected return after costs ({words['currency']})", title=title)  # fmt: skip
    _money_axis(ax.xaxis)
    _money_axis(ax.yaxis)
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    return fig


def _against_average(rates: pd.Series, average: float) -> list[str]:
    """Each rate's risk colour against the average rate."""
    return [risk_colour(r / average) if average > 0 else RISK["average"] for r in rates]


def _average_line(average: float) -> dict[str, Any]:
    """The dashed line at the average rate, labelled with it."""
    return {"color": "#333333", "linestyle": "--", "linewidth": 0.9,
            "label": f"average: {100 * average:.1f}%"}  # fmt: skip


def tenure_risk_figure(table: pd.DataFrame, xlabel: str, title: str, average: float) -> Any:
    """Monthly churn rate by tenure (95% CIs), each bar coloured by its risk against the
    average rate."""
    fig, ax = _figure(8.0, 3.8)
    err = [table["churn_rate"] - table["low"], table["high"] - table["churn_rate"]]
    colours = _against_average(table["churn_rate"], average)
    ax.bar(table["tenure"], table["churn_rate"], yerr=err, color=colours, capsize=3)
    ax.axhline(average, **_average_line(average))
    ax.set(xlabel=xlabel, ylabel="share who left (95% CI)", title=title)
    _percent_axis(ax.yaxis)
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return fig


def ratio_bars_figure(rows: pd.DataFrame, xlabel: str, title: str) -> Any:
    """One bar per comparison (`text`, `ratio`): how many times as often the riskier group
    leaves as the other, coloured by risk, strongest on top."""
    rows = rows.sort_values("ratio")
    fig, ax = _figure(8.0, 0.9 + 0.45 * max(len(rows), 1))
    ax.barh(rows["text"], rows["ratio"], color=[risk_colour(r) for r in rows["ratio"]])
    ax.axvline(1, color="#333333", linewidth=0.9)
    for y, r in enumerate(rows["ratio"]):
        ax.text(r, y, f" {r:,.1f}×", va="center", fontsize=8)
    ax.set(xlabel=xlabel, title=title)
    ax.set_xlim(0, max(float(rows["ratio"].max()) * 1.15, 1.5) if len(rows) else 2)
    fig.tight_layout()
    return fig


def group_rates_figure(rows: pd.DataFrame, average: float, xlabel: str, title: str) -> Any:
    """The share who left per group (`text`, `rate`, `low`, `high`) with 95% CIs, coloured by
    risk against the average, riskiest on top."""
    rows = rows.sort_values("rate")
    fig, ax = _figure(8.0, 1.2 + 0.75 * max(len(rows), 1))
    err = [rows["rate"] - rows["low"], rows["high"] - rows["rate"]]
    colours = _against_average(rows["rate"], average)
    ax.barh(rows["text"], rows["rate"], xerr=err, color=colours, capsize=3)
    ax.axvline(average, **_average_line(average))
    ax.set(xlabel=xlabel, title=title)
    _percent_axis(ax.xaxis)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig

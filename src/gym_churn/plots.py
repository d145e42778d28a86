"""Every matplotlib/seaborn figure of the project. Each function takes data, returns a Figure.

The Agg backend and the seaborn theme are set once, on first use, not at import time.
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
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook")
    return plt


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
    import seaborn as sns

    order = ["retained", "churned"]
    matrix = pd.crosstab(rows["actual"], rows["predicted"]).reindex(
        index=order, columns=order, fill_value=0
    )
    fig, ax = _figure(4.5, 4.0)
    sns.heatmap(matrix, annot=True, fmt="d", cmap="Blues", cbar=False, ax=ax)
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
    ax.set(
        xlabel="Mean predicted churn probability",
        ylabel="Observed churn rate",
        title="Reliability diagram (test)",
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
    ordered = table.sort_values("importance")
    fig, ax = _figure(6.5, 0.35 * len(ordered) + 1.5)
    ax.barh(
        ordered["feature"], ordered["importance"], xerr=ordered["importance_std"], color="#4C72B0"
    )
    ax.set(
        xlabel="Drop in ROC-AUC when the column is shuffled",
        title="Permutation importance (test, mean ± std)",
    )
    return fig

"""Test-set metrics and the data behind every evaluation plot. Pure functions."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    f1_score,
    log_loss,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)


def expected_calibration_error(y: np.ndarray, proba: np.ndarray, n_bins: int) -> float:
    """ECE with `n_bins` equal-width bins on [0, 1]: the row-weighted mean of
    |mean predicted probability - observed churn rate| over the non-empty bins."""
    y = np.asarray(y, dtype=float)
    proba = np.asarray(proba, dtype=float)
    # Right-closed bins except the first, so that p = 1.0 falls in the last bin.
    bins = np.clip(np.ceil(proba * n_bins).astype(int) - 1, 0, n_bins - 1)
    total = 0.0
    for b in np.unique(bins):
        mask = bins == b
        total += mask.sum() * abs(proba[mask].mean() - y[mask].mean())
    return float(total / len(y))


def top_share_lift(y: np.ndarray, proba: np.ndarray, share: float = 0.1) -> float:
    """The churn rate among the `share` of members with the highest scores over the overall rate.

    The top group has ceil(share * n) members; ties are broken by row order.
    """
    y = np.asarray(y, dtype=float)
    n_top = int(np.ceil(share * len(y)))
    order = np.argsort(-np.asarray(proba, dtype=float), kind="stable")
    return float(y[order[:n_top]].mean() / y.mean())


def classification_metrics(
    y: np.ndarray, proba: np.ndarray, threshold: float, calibration_bins: int
) -> dict[str, float]:
    """Every scalar test metric, keyed as in metrics/evaluate.json."""
    y = np.asarray(y, dtype=int)
    pred = (np.asarray(proba) >= threshold).astype(int)
    return {
        "roc_auc": float(roc_auc_score(y, proba)),
        "pr_auc": float(average_precision_score(y, proba)),
        "f1": float(f1_score(y, pred, zero_division=0)),
        "precision": float(precision_score(y, pred, zero_division=0)),
        "recall": float(recall_score(y, pred, zero_division=0)),
        "accuracy": float(accuracy_score(y, pred)),
        "brier": float(brier_score_loss(y, proba)),
        "log_loss": float(log_loss(y, np.clip(proba, 1e-15, 1 - 1e-15), labels=[0, 1])),
        "ece": expected_calibration_error(y, proba, calibration_bins),
        "top_decile_lift": top_share_lift(y, proba, 0.1),
        # the most a top decile can lift (all of it churned): a lift at this ceiling on a
        # real export is itself a sign that some column gives the outcome away
        "top_decile_lift_max": top_share_lift(y, y.astype(float), 0.1),
        "flagged_share": float(pred.mean()),
    }


def roc_points(y: np.ndarray, proba: np.ndarray) -> pd.DataFrame:
    fpr, tpr, _ = roc_curve(y, proba, drop_intermediate=True)
    return pd.DataFrame({"fpr": fpr, "tpr": tpr})


def pr_points(y: np.ndarray, proba: np.ndarray) -> pd.DataFrame:
    precision, recall, _ = precision_recall_curve(y, proba, drop_intermediate=True)
    return pd.DataFrame({"recall": recall, "precision": precision}).iloc[::-1]


def confusion_rows(y: np.ndarray, proba: np.ndarray, threshold: float) -> pd.DataFrame:
    """One row per test member, the shape dvc's confusion template expects."""
    label = np.array(["retained", "churned"])
    pred = (np.asarray(proba) >= threshold).astype(int)
    return pd.DataFrame({"actual": label[np.asarray(y, dtype=int)], "predicted": label[pred]})


def calibration_points(y: np.ndarray, proba: np.ndarray, n_bins: int) -> pd.DataFrame:
    """Per non-empty equal-width bin: mean predicted probability, observed churn rate and the
    number of members in it (a point resting on 7 members says little)."""
    observed, predicted = calibration_curve(y, proba, n_bins=n_bins, strategy="uniform")
    # the bins calibration_curve uses: right-closed, p on an edge in the lower bin
    edges = np.linspace(0.0, 1.0, n_bins + 1)[1:-1]
    counts = np.bincount(np.searchsorted(edges, np.asarray(proba)), minlength=n_bins)
    return pd.DataFrame(
        {"mean_predicted": predicted, "observed_churn_rate": observed,
         "members": counts[counts > 0]}
    )  # fmt: skip


def cumulative_gain(y: np.ndarray, proba: np.ndarray, points: int = 100) -> pd.DataFrame:
    """Share of churners caught when contacting the top x% of members, with the lift."""
    y = np.asarray(y, dtype=float)
    order = np.argsort(-np.asarray(proba, dtype=float), kind="stable")
    caught = np.cumsum(y[order]) / y.sum()
    steps = np.arange(1, points + 1)
    shares = steps / points
    # Integer ceil(step * n / points): float shares would overshoot by one member.
    idx = -(-steps * len(y) // points) - 1
    gain = caught[idx]
    return pd.DataFrame(
        {"contacted_share": shares, "churners_caught_share": gain, "lift": gain / shares}
    )

"""The decision threshold: chosen on out-of-fold training predictions, never on the test split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gym_churn.params import Threshold


def confusion_at_thresholds(y: np.ndarray, proba: np.ndarray) -> pd.DataFrame:
    """For each distinct score t (flag members with proba >= t): tp, fp, fn, tn."""
    y = np.asarray(y, dtype=int)
    proba = np.asarray(proba, dtype=float)
    order = np.argsort(-proba, kind="stable")
    sorted_p, sorted_y = proba[order], y[order]
    # Last position of each run of equal scores: flagging is all-or-nothing within a tie.
    ends = np.r_[np.flatnonzero(np.diff(sorted_p) != 0), len(sorted_p) - 1]
    tp = np.cumsum(sorted_y)[ends]
    fp = (ends + 1) - tp
    positives = int(y.sum())
    negatives = len(y) - positives
    return pd.DataFrame(
        {
            "threshold": sorted_p[ends],
            "tp": tp,
            "fp": fp,
            "fn": positives - tp,
            "tn": negatives - fp,
        }
    )


def threshold_objective(counts: pd.DataFrame, cfg: Threshold) -> pd.Series:
    """Objective value at each threshold row of `confusion_at_thresholds`."""
    if cfg.objective == "f1":
        denom = 2 * counts["tp"] + counts["fp"] + counts["fn"]
        return (2 * counts["tp"] / denom.where(denom > 0)).fillna(0.0)
    # Expected retention profit: every flagged member gets an offer; a contacted churner
    # stays with probability offer_success_rate and is then worth member_value.
    saved_value = counts["tp"] * cfg.offer_success_rate * cfg.member_value
    return saved_value - (counts["tp"] + counts["fp"]) * cfg.offer_cost


@dataclass(frozen=True)
class ThresholdChoice:
    threshold: float
    objective: str
    value: float


def choose_threshold(y: np.ndarray, proba: np.ndarray, cfg: Threshold) -> ThresholdChoice:
    """Pick the score cut-off that maximises the objective; ties go to the higher cut-off.

    Call it with out-of-fold training predictions only: choosing on the test split would
    make every test metric optimistic.
    """
    counts = confusion_at_thresholds(y, proba)
    values = threshold_objective(counts, cfg).to_numpy()
    best = int(np.argmax(values))  # rows run from high to low thresholds
    return ThresholdChoice(
        threshold=float(counts["threshold"].iloc[best]),
        objective=cfg.objective,
        value=float(values[best]),
    )

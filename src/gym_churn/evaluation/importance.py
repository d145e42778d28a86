"""Model reliance: how much the churn model leans on each group of columns, on the test split.

A raw column and the features made from it are permuted together (one group), so credit is
not split between a column and its engineered features; the score is the rise in log loss,
which, unlike ROC-AUC, moves when the model's probabilities move, not only its ranking.

The shuffled rows are scored by the model's runtime form where it has one (models.predict:
bit for bit scikit-learn's probabilities) and the log loss is computed here as
scikit-learn's log_loss does: its per-call input checks were half of the stage's reliance
time (a hundred calls).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from gym_churn.models.predict import probability
from gym_churn.models.runtime import runtime_model


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    """Mean log loss of churn probabilities `p` for 0/1 labels `y`, clipped to [eps, 1 - eps]
    as scikit-learn's log_loss(y, p, labels=[0, 1]) does (equal to it, tested)."""
    eps = np.finfo(float).eps
    chance = np.where(np.asarray(y) == 1, p, 1 - p)  # of what happened
    return float(np.mean(-np.log(np.clip(chance, eps, 1 - eps))))


def grouped_reliance(
    model: Any,
    X: pd.DataFrame,
    y: pd.Series,
    groups: dict[str, list[str]],
    *,
    repeats: int,
    max_rows: int,
    seed: int,
) -> pd.DataFrame:
    """One row per group (`groups`: name -> columns): the rise in log loss when the group's
    columns are shuffled together across members, mean and std over `repeats` shuffles, on a
    seeded sample of at most `max_rows` rows. Sorted, largest first."""
    if len(X) > max_rows:
        X = X.sample(max_rows, random_state=seed)
        y = y.loc[X.index]
    rng = np.random.default_rng(seed)
    model = runtime_model(model) or model  # the runtime form once, not per shuffle
    y = y.to_numpy()
    base = log_loss(y, probability(model, X))
    rows = []
    for group, cols in groups.items():
        present = [c for c in cols if c in X.columns]
        rises = []
        for _ in range(repeats):
            order = rng.permutation(len(X))
            shuffled = X.assign(**{c: X[c].to_numpy()[order] for c in present})
            rises.append(log_loss(y, probability(model, shuffled)) - base)
        rows.append(
            {
                "group": group,
                "columns": " + ".join(present),
                "importance": float(np.mean(rises)),
                "importance_std": float(np.std(rises)),
            }
        )
    table = pd.DataFrame(rows)
    return table.sort_values(["importance", "group"], ascending=[False, True], ignore_index=True)

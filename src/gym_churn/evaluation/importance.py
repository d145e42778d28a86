"""Model reliance: how much the churn model leans on each group of columns, on the test split.

A raw column and the features made from it are permuted together (one group), so credit is
not split between a column and its engineered features; the score is the rise in log loss,
which, unlike ROC-AUC, moves when the model's probabilities move, not only its ranking.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin
from sklearn.metrics import log_loss


def grouped_reliance(
    model: ClassifierMixin,
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
    base = log_loss(y, model.predict_proba(X)[:, 1], labels=[0, 1])
    rows = []
    for group, cols in groups.items():
        present = [c for c in cols if c in X.columns]
        rises = []
        for _ in range(repeats):
            order = rng.permutation(len(X))
            shuffled = X.assign(**{c: X[c].to_numpy()[order] for c in present})
            rises.append(log_loss(y, model.predict_proba(shuffled)[:, 1], labels=[0, 1]) - base)
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

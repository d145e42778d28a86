"""Model reliance: permutation importance on the test split."""

from __future__ import annotations

import pandas as pd
from sklearn.base import ClassifierMixin


def permutation_drivers(
    model: ClassifierMixin,
    X: pd.DataFrame,
    y: pd.Series,
    *,
    repeats: int,
    max_rows: int,
    seed: int,
) -> pd.DataFrame:
    """Permutation importance (drop in ROC-AUC) per input column, with its spread.

    It is quadratic-ish in rows x columns x repeats, so large sets use a seeded sample.
    """
    from sklearn.inspection import permutation_importance

    if len(X) > max_rows:
        X = X.sample(max_rows, random_state=seed)
        y = y.loc[X.index]
    result = permutation_importance(
        model, X, y, scoring="roc_auc", n_repeats=repeats, random_state=seed, n_jobs=1
    )
    table = pd.DataFrame(
        {
            "feature": X.columns,
            "importance": result.importances_mean,
            "importance_std": result.importances_std,
        }
    )
    return table.sort_values(["importance", "feature"], ascending=[False, True], ignore_index=True)

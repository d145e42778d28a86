"""The one probability function: for gradient boosting it sums the trees itself: scikit-learn's
own log-odds exactly (the same additions in the same order) and its predict_proba to 1e-12
(the log-odds to probability step is numpy's exp here and SciPy's there: they may differ in
the last bits, and by how much depends on the CPU)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder, StandardScaler

from gym_churn.models.predict import probability
from gym_churn.models.runtime import boosted_trees


def _members(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "plan": rng.choice(["month", "half", "year"], n),
        }
    )
    y = ((X["a"] + (X["plan"] == "month") + rng.normal(size=n)) > 0.8).astype(int).to_numpy()
    X.loc[::9, "b"] = np.nan  # gaps take the trees' missing-value branch
    return X, y


def _boosting(categorical: bool, leaves: int) -> Pipeline:
    enc = ColumnTransformer(
        [
            ("n", "passthrough", ["a", "b"]),
            (
                "c",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan),
                ["plan"],
            ),
        ]
    )
    hgb = HistGradientBoostingClassifier(
        max_iter=25,
        max_leaf_nodes=leaves,
        random_state=0,
        categorical_features=[False, False, True] if categorical else None,
    )
    return Pipeline([("inputs", enc), ("model", hgb)])


@pytest.mark.parametrize("leaves", [3, 15, 40])  # 40: too many splits for a lookup
@pytest.mark.parametrize("categorical", [False, True])
def test_boosting_probability_is_sklearns(categorical: bool, leaves: int) -> None:
    X, y = _members(600, seed=0)
    model = _boosting(categorical, leaves).fit(X, y)
    new, _ = _members(300, seed=1)
    new.loc[::7, "plan"] = "weekly"  # a level the model never saw: scored as missing
    new.loc[::11, "a"] = np.nan  # a gap where training had none
    # the trees' sum is exact: the same leaves added in the same order on any machine
    log_odds = boosted_trees(model).log_odds(new)
    assert np.array_equal(log_odds, model[-1].decision_function(model[:-1].transform(new)))
    ours = probability(model, new)
    np.testing.assert_allclose(ours, model.predict_proba(new)[:, 1], rtol=0, atol=1e-12)


def test_other_models_and_empty_inputs_use_predict_proba() -> None:
    X, y = _members(200, seed=2)
    logreg = Pipeline(
        [
            ("inputs", ColumnTransformer([("n", StandardScaler(), ["a"])])),
            ("model", LogisticRegression()),
        ]
    ).fit(X.fillna(0), y)
    assert np.array_equal(probability(logreg, X.fillna(0)), logreg.predict_proba(X.fillna(0))[:, 1])
    boosting = _boosting(True, 3).fit(X, y)
    assert probability(boosting, X.head(0)).shape == (0,)

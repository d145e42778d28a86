"""The model's churn probability for members: the one function evaluate, the per-member
table and gym-churn-score all go through. Pure.

For gradient boosting the probability is summed from the trees in their runtime form
(models.runtime: the pipeline's encoding, then the trees as gym_churn.models.trees reads
them): the same trees, in the same order, from the same baseline as scikit-learn's own
predict_proba (the same log-odds bit for bit; the probability to 1e-12, since the last bits
of exp differ between numpy's and SciPy's and between CPUs; tested), about three times
quicker on large exports, where sklearn's per-row predictor was the largest single cost of
scoring. Logistic regression (uncalibrated) goes through its runtime form too: the same
encoded inputs times the same coefficients (the same log-odds, bit for bit where
scikit-learn's encoded inputs are row-major as the runtime form's are; the probability to
1e-12). The fitted pipeline and its runtime form (as gym-churn-score loads it)
go through the same code; any other model through its own predict_proba.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from gym_churn.contract.spec import Contract
from gym_churn.features import add_features, model_inputs
from gym_churn.models.runtime import runtime_model, sigmoid


def inputs(members: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """What the model reads: raw columns, then the engineered features (recomputed)."""
    return model_inputs(add_features(members, contract), contract)


def probability(model: Any, X: pd.DataFrame) -> np.ndarray:
    """Probability of churning for model inputs X (as `inputs` makes them)."""
    if len(X) == 0:
        return np.zeros(0)
    runtime = runtime_model(model)
    if runtime is not None:
        return sigmoid(runtime.log_odds(X))
    return model.predict_proba(X)[:, 1]


def predict(model: Any, contract: Contract, members: pd.DataFrame) -> np.ndarray:
    """Probability of each member churning."""
    return probability(model, inputs(members, contract))

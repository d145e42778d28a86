"""The model's churn probability for members: the one function evaluate, the per-member
table and gym-churn-score all go through. Pure."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from gym_churn.contract.spec import Contract
from gym_churn.features import add_features, model_inputs


def inputs(members: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """What the model reads: raw columns, then the engineered features (recomputed)."""
    return model_inputs(add_features(members, contract), contract)


def predict(model: Any, contract: Contract, members: pd.DataFrame) -> np.ndarray:
    """Probability of each member churning."""
    return model.predict_proba(inputs(members, contract))[:, 1]

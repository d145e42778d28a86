"""Engineered features (declared as expressions in the data contract) and model inputs."""

from __future__ import annotations

import pandas as pd

from gym_churn.contract.spec import Contract


def add_features(members: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """A copy of `members` with each engineered feature of the contract appended.

    An expression runs on the contract's columns (pandas `DataFrame.eval`); a gap in any
    column it uses gives a gap in the result.
    """
    if not contract.engineered:
        return members.copy()
    raw = members[contract.raw_features]
    new = {
        name: pd.to_numeric(raw.eval(eng.expr, engine="python"), errors="coerce").astype(float)
        for name, eng in contract.engineered.items()
    }
    return members.assign(**new)


def model_inputs(members: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """The columns the model reads, in the contract's order, categorical levels as text.

    A frame read back from CSV may hold a level such as `3` as a number; the model's
    encoders compare text, so every categorical cell is turned back into text here.
    """
    X = members[contract.model_features]
    text = {
        col: X[col].astype(object).where(X[col].isna(), X[col].astype(str))
        for col in contract.categorical
        if X[col].dtype != object
    }
    return X.assign(**text) if text else X

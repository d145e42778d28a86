"""Engineered features (declared as expressions in the data contract) and model inputs."""

from __future__ import annotations

import pandas as pd

from gym_churn.contract.spec import Contract, level_text


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

    A frame read back from CSV may hold a level such as `3` as a number, or as `3.0` when the
    column has a gap; the model's encoders compare text, so every categorical cell is turned
    back into the text its level is declared with.
    """
    X = members[contract.model_features]
    text = {
        col: X[col].astype(object).map(level_text).astype(object) for col in contract.categorical
    }
    return X.assign(**text) if text else X

"""Scoring members with the trained pipeline: probability, risk decile, at-risk flag, segment,
and the top reasons behind each flagged member's risk. Pure functions.

Reasons are found by replacement: for each raw feature, set the member's value to the member
base's typical value (the training split's median, or mode for a 0/1 flag), recompute the
engineered features and re-score. The features whose replacement lowers the predicted risk
most are the reasons. This works for every model family, and a reason always agrees with the
model by construction: undoing it lowers the member's risk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gym_churn.features import add_features
from gym_churn.params import Features
from gym_churn.schema import FEATURES, ID_COLUMN


@dataclass(frozen=True)
class Scorer:
    model: Any  # fitted churn pipeline (predict_proba)
    threshold: float
    decile_edges: np.ndarray  # 9 cut points of the training base's probabilities
    typical: dict[str, float]
    assigner: Any  # segment assigner (predict)
    segment_names: dict[int, str]
    features: Features


def _proba(scorer: Scorer, members: pd.DataFrame) -> np.ndarray:
    X = add_features(members, scorer.features)[list(scorer.model.feature_names_in_)]
    return scorer.model.predict_proba(X)[:, 1]


def risk_decile(proba: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """1..10 against the training base's deciles: 10 = as risky as its riskiest tenth."""
    return np.searchsorted(edges, proba, side="right") + 1


def top_reasons(
    scorer: Scorer, members: pd.DataFrame, proba: np.ndarray, n_reasons: int
) -> pd.DataFrame:
    """Per member: the `n_reasons` features whose typical value lowers the risk most, with the
    drop in probability. Fewer (empty) when fewer features lower it."""
    drops = np.zeros((len(members), len(FEATURES)))
    for j, col in enumerate(FEATURES):
        differs = (members[col] != scorer.typical[col]).to_numpy()
        if not differs.any():
            continue  # members already at the typical value: replacing changes nothing
        changed = members.loc[differs].assign(**{col: scorer.typical[col]})
        drops[differs, j] = proba[differs] - _proba(scorer, changed)
    order = np.argsort(-drops, axis=1, kind="stable")[:, :n_reasons]
    names = np.array(FEATURES, dtype=object)
    out = {}
    for k in range(n_reasons):
        effect = np.take_along_axis(drops, order[:, k : k + 1], axis=1)[:, 0]
        lowers = effect > 0
        out[f"reason_{k + 1}"] = np.where(lowers, names[order[:, k]], "")
        out[f"reason_{k + 1}_risk_drop"] = np.where(lowers, effect, np.nan)
    return pd.DataFrame(out, index=members.index)


def score(scorer: Scorer, members: pd.DataFrame, n_reasons: int = 3) -> pd.DataFrame:
    """Score validated members (as validate_members returns them, target optional)."""
    proba = _proba(scorer, members)
    at_risk = proba >= scorer.threshold
    segment = scorer.assigner.predict(members[list(scorer.assigner.feature_names_in_)])
    names = pd.Series(scorer.segment_names)
    out = pd.DataFrame(
        {
            ID_COLUMN: members[ID_COLUMN].to_numpy(),
            "churn_probability": proba,
            "risk_decile": risk_decile(proba, scorer.decile_edges),
            "at_risk": at_risk.astype(int),
            "segment": segment.astype(int),
            "segment_name": names.reindex(segment).to_numpy(),
        }
    )
    reasons = top_reasons(scorer, members.loc[at_risk], proba[at_risk], n_reasons)
    for col in reasons.columns:
        is_name = not col.endswith("_risk_drop")
        values = np.full(
            len(members), "" if is_name else np.nan, dtype=object if is_name else float
        )
        values[at_risk] = reasons[col].to_numpy()
        out[col] = values
    return out

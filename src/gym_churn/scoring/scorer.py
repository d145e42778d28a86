"""Scoring members with the trained pipeline: probability, risk decile, at-risk flag, segment,
and the top reasons behind each flagged member's risk. Pure functions.

Reasons are found by replacement: for each raw feature, set the member's value to the member
base's typical value (the training split's median, or most common value of a flag or a
category), recompute the
engineered features and re-score. The features whose replacement lowers the predicted risk
most are the reasons. This works for every model family, and a reason always agrees with the
model by construction: undoing it lowers the member's risk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gym_churn.contract.spec import Contract
from gym_churn.features import add_features, model_inputs

# A replacement must lower the probability by more than this to count as a reason: below it
# the difference is floating-point rounding, not the model.
MIN_DROP = 1e-9


@dataclass(frozen=True)
class Scorer:
    model: Any  # fitted churn pipeline (predict_proba)
    threshold: float
    decile_edges: np.ndarray  # 9 cut points of the training base's probabilities
    typical: dict[str, Any]
    assigner: Any  # segment assigner (predict)
    segment_names: dict[int, str]
    contract: Contract


def _inputs(scorer: Scorer, members: pd.DataFrame) -> pd.DataFrame:
    return model_inputs(add_features(members, scorer.contract), scorer.contract)


def _proba(scorer: Scorer, members: pd.DataFrame) -> np.ndarray:
    return scorer.model.predict_proba(_inputs(scorer, members))[:, 1]


def risk_decile(proba: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """1..10 against the training base's deciles: 10 = as risky as its riskiest tenth."""
    return np.searchsorted(edges, proba, side="right") + 1


def top_reasons(
    scorer: Scorer, members: pd.DataFrame, proba: np.ndarray, n_reasons: int
) -> pd.DataFrame:
    """Per member: the `n_reasons` features whose typical value lowers the risk most, with the
    drop in probability. Fewer (empty) when fewer features lower it."""
    features = scorer.contract.raw_features
    drops = np.zeros((len(members), len(features)))
    for j, col in enumerate(features):
        differs = (members[col] != scorer.typical[col]).to_numpy()
        if not differs.any():
            continue  # members already at the typical value: replacing changes nothing
        changed = members.loc[differs].assign(**{col: scorer.typical[col]})
        drops[differs, j] = proba[differs] - _proba(scorer, changed)
    order = np.argsort(-drops, axis=1, kind="stable")[:, :n_reasons]
    out = {}
    for k in range(n_reasons):
        effect = np.take_along_axis(drops, order[:, k : k + 1], axis=1)[:, 0]
        lowers = effect > MIN_DROP
        out[f"reason_{k + 1}"] = _reason_names(np.where(lowers, order[:, k] + 1, 0), features)
        out[f"reason_{k + 1}_risk_drop"] = np.where(lowers, effect, np.nan)
    return pd.DataFrame(out, index=members.index)


def _reason_names(codes: np.ndarray, features: list[str]) -> pd.Categorical:
    # Categorical: one small code per member instead of a Python string each (turning
    # strings into a text column cost ~0.5 s per million members); written out as text.
    return pd.Categorical.from_codes(codes, categories=["", *features])


def score(scorer: Scorer, members: pd.DataFrame, n_reasons: int = 3) -> pd.DataFrame:
    """Score validated members (as validate_members returns them, target optional)."""
    proba = _proba(scorer, members)
    at_risk = proba >= scorer.threshold
    segment = scorer.assigner.predict(_inputs(scorer, members))
    names = list(dict.fromkeys(scorer.segment_names.values()))
    name_code = {seg: names.index(name) for seg, name in scorer.segment_names.items()}
    out = pd.DataFrame(
        {
            scorer.contract.key: members[scorer.contract.key].to_numpy(),
            "churn_probability": proba,
            "risk_decile": risk_decile(proba, scorer.decile_edges),
            "at_risk": at_risk.astype(int),
            "segment": segment.astype(int),
            "segment_name": pd.Categorical.from_codes(
                pd.Series(segment).map(name_code).fillna(-1).astype(int), categories=names
            ),
        }
    )
    reasons = top_reasons(scorer, members.loc[at_risk], proba[at_risk], n_reasons)
    for col in reasons.columns:
        if col.endswith("_risk_drop"):
            drops = np.full(len(members), np.nan)
            drops[at_risk] = reasons[col].to_numpy()
            out[col] = drops
        else:
            codes = np.zeros(len(members), dtype=np.int8)
            codes[at_risk] = reasons[col].cat.codes.to_numpy()
            out[col] = _reason_names(codes, scorer.contract.raw_features)
    return out

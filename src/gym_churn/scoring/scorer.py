"""The one scorer: from probabilities to what a retention team reads. Pure.

The pipeline's per-member table (out-of-fold probabilities of the bundled members) and
`gym-churn-score` (the trained model's probabilities on a new export) both call `describe`,
so the same probabilities always give the same risk decile, at-risk flag, segment, reasons
and suggested lever.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gym_churn.contract.spec import Contract
from gym_churn.models.predict import inputs, predict
from gym_churn.scoring.reasons import reason_columns, suggested_lever
from gym_churn.scoring.shapley import contributions


@dataclass(frozen=True)
class Scorer:
    """Everything scoring needs, as the model bundle (the models folder) holds it."""

    model: Any  # fitted churn pipeline (predict_proba)
    threshold: float
    decile_edges: np.ndarray  # 9 cut points of the training base's out-of-fold probabilities
    typical: dict[str, Any]  # the base's typical value of each raw column, shown in reasons
    assigner: Any  # segment assigner (predict)
    segment_names: dict[int, str]
    contract: Contract
    background: pd.DataFrame  # training members the reasons' base is taken over
    lever_options: dict[str, list[Any]]  # values each lever can be set to
    reference: dict[str, Any]  # the training base's distributions, for the drift check
    n_reasons: int = 3
    min_points: float = 1.0  # smallest contribution (percentage points) shown as a reason
    drift_psi: float = 0.2


def risk_decile(proba: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """1..10 against the training base's deciles: 10 = as risky as its riskiest tenth."""
    return np.searchsorted(edges, proba, side="right") + 1


def _segments(scorer: Scorer, members: pd.DataFrame) -> tuple[np.ndarray, pd.Categorical]:
    segment = scorer.assigner.predict(inputs(members, scorer.contract)).astype(int)
    names = list(dict.fromkeys(scorer.segment_names.values()))
    code = {seg: names.index(name) for seg, name in scorer.segment_names.items()}
    codes = pd.Series(segment).map(code).fillna(-1).astype(int).to_numpy()
    return segment, pd.Categorical.from_codes(codes, categories=names)


def describe(
    scorer: Scorer,
    members: pd.DataFrame,
    proba: np.ndarray,
    explain: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per member: key, churn_probability, risk_decile, at_risk, segment,
    segment_name, reason_1..n with their percentage points, lever and lever_points.

    members  validated members (as check_export gives them; the target may be there)
    proba    their churn probabilities (the model's own, or out-of-fold)
    explain  which members get reasons and a lever (default: the at-risk ones)
    """
    contract = scorer.contract
    proba = np.asarray(proba, dtype=float)
    at_risk = proba >= scorer.threshold
    chosen = at_risk if explain is None else np.asarray(explain, dtype=bool)
    segment, segment_name = _segments(scorer, members)
    out = pd.DataFrame(
        {
            contract.key: members[contract.key].to_numpy(),
            "churn_probability": proba,
            "risk_decile": risk_decile(proba, scorer.decile_edges),
            "at_risk": at_risk.astype(int),
            "segment": segment,
            "segment_name": segment_name,
        }
    )
    picked = members.loc[chosen]
    contrib = contributions(
        scorer.model,
        contract,
        inputs(picked, contract),
        inputs(scorer.background, contract),
    )
    reasons = reason_columns(
        contrib.points, contrib.groups, picked, contract, scorer.background,
        scorer.n_reasons, scorer.min_points,
    )  # fmt: skip
    lever = suggested_lever(
        lambda m: predict(scorer.model, contract, m), picked, contract, scorer.lever_options
    )
    for frame in (reasons, lever):
        for col in frame.columns:
            numeric = col.endswith("_points")
            full = np.full(len(out), np.nan) if numeric else np.full(len(out), "", dtype=object)
            full[chosen] = frame[col].to_numpy()
            out[col] = full
    return out


def score(scorer: Scorer, members: pd.DataFrame) -> pd.DataFrame:
    """Score validated members with the trained model (describe with its probabilities)."""
    return describe(scorer, members, predict(scorer.model, scorer.contract, members))

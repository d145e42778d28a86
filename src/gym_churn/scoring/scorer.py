"""The one scorer: from probabilities to what a retention team reads. Pure.

The pipeline's per-member table (out-of-fold probabilities of the bundled members) and
`gym-churn-score` (the trained model's probabilities on a new export) both call `describe`,
so the same probabilities always give the same risk decile, at-risk flag, segment, reasons
and suggested lever.

Probabilities and percentage points are rounded to DIGITS decimals, the precision the table
reports: the digits beyond it are floating-point noise that differs between CPUs (numpy's
exp and the BLAS kernels a machine picks differ in the last bits), and a table written on
one machine should be the bytes written on any other. The at-risk flag and the decile are
taken from the rounded probability, so they agree with the number shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from gym_churn.contract.spec import Contract, without_columns
from gym_churn.models.predict import inputs, predict, probability
from gym_churn.models.runtime import boosted_trees, sigmoid
from gym_churn.models.trees import delta
from gym_churn.scoring.reasons import WhatIf, base_words, reason_columns, suggested_lever
from gym_churn.scoring.shapley import contributions

# Decimals of the probabilities and points the table holds: 1e-6 is far below any difference
# a reader acts on, and ~1e10 times the last-bit noise, so a value rounds the same way on any
# machine unless it lies within that noise of a rounding boundary (about 1 in 1e9 values).
DIGITS = 6


@dataclass(frozen=True)
class Scorer:
    """Everything scoring needs, as the model bundle (the models folder) holds it."""

    model: Any  # fitted churn pipeline or its runtime form (predict_proba)
    threshold: float
    decile_edges: np.ndarray  # 9 cut points of the training base's out-of-fold probabilities
    assigner: Any  # segment assigner or its runtime form (predict)
    segment_names: dict[int, str]
    contract: Contract
    background: pd.DataFrame  # training members the reasons' base is taken over
    lever_options: dict[str, list[Any]]  # values each lever can be set to
    reference: dict[str, Any]  # the training base's distributions, for the drift check
    n_reasons: int = 3
    min_points: float = 1.0  # smallest contribution (percentage points) shown as a reason
    drift_psi: float = 0.2
    # columns the audit flagged that the model leaves out (train): exports still hold them,
    # and the drift check still covers them
    excluded: tuple[str, ...] = ()
    base: dict[str, Any] | None = None  # base_words over every training member (the bundle)

    @cached_property
    def model_contract(self) -> Contract:
        """The contract as the model sees it: without the excluded columns and the features
        made from them (reasons and levers are built on it)."""
        return (
            without_columns(self.contract, list(self.excluded)) if self.excluded else self.contract
        )

    def model_view(self, X: pd.DataFrame) -> pd.DataFrame:
        """The model's inputs out of every input column (`inputs` with the whole contract)."""
        return X[self.model_contract.model_features] if self.excluded else X

    @cached_property
    def background_inputs(self) -> pd.DataFrame:
        """The background members' model inputs: made once, not per scored chunk."""
        return inputs(self.background, self.model_contract)

    @cached_property
    def base_words(self) -> dict[str, Any]:
        """What reasons compare a member's values with (the training members' averages and
        shares, as the bundle holds them; else the background's), in words: made once, not
        per scored chunk."""
        return (
            self.base if self.base is not None else base_words(self.background, self.model_contract)
        )


def risk_decile(proba: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """1..10 against the training base's deciles: 10 = as risky as its riskiest tenth."""
    return np.searchsorted(edges, proba, side="right") + 1


def _segments(scorer: Scorer, X: pd.DataFrame) -> tuple[np.ndarray, pd.Categorical]:
    segment = scorer.assigner.predict(X).astype(int)
    names = list(dict.fromkeys(scorer.segment_names.values()))
    code = {seg: names.index(name) for seg, name in scorer.segment_names.items()}
    # one lookup per distinct segment, not per member (-1: a segment with no name)
    where, distinct = pd.factorize(segment)
    codes = np.array([code.get(int(seg), -1) for seg in distinct], dtype=int)[where]
    return segment, pd.Categorical.from_codes(codes, categories=names)


def _tree_what_if(model: Any, contract: Contract, X: pd.DataFrame) -> WhatIf | None:
    """For gradient boosting: a one-column change moves only the trees that split on that
    column or on a feature made from it, so only those are predicted (exact: the same trees,
    the same sum). `X`: the members' model inputs. None for other models (the lever predicts
    the changed members whole)."""
    boosted = boosted_trees(model)
    if boosted is None:
        return None
    encoded = boosted.encode(X)
    made_from = {
        col: {col} | {e for e in contract.engineered if col in contract.sources(e)}
        for col in contract.raw_features
    }

    def what_if(
        changed: pd.DataFrame, changes: list[tuple[np.ndarray, str]], own: np.ndarray
    ) -> list[np.ndarray]:
        # every change's inputs made at once: one pass of the feature expressions
        after_all = boosted.encode(inputs(changed, contract))
        p = np.clip(own, 1e-15, 1 - 1e-15)
        logit = np.log(p / (1 - p))
        out, start = [], 0
        for rows, column in changes:
            moved = {i for i, owner in enumerate(boosted.columns) if owner in made_from[column]}
            after = after_all[start : start + len(rows)]
            start += len(rows)
            out.append(sigmoid(logit[rows] + delta(boosted.trees, encoded[rows], after, moved)))
        return out

    return what_if


def describe(
    scorer: Scorer,
    members: pd.DataFrame,
    proba: np.ndarray,
    explain: np.ndarray | None = None,
    model_proba: np.ndarray | None = None,
    features: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per member: key, churn_probability, risk_decile, at_risk, segment,
    segment_name, reason_1..n with their percentage points, lever and lever_points
    (probabilities and points rounded to DIGITS decimals).

    members  validated members (as check_export gives them; the target may be there)
    proba    their churn probabilities (the model's own, or out-of-fold)
    explain  which members get reasons and a lever (default: the at-risk ones)
    model_proba  the trained model's own probabilities, when the caller has them (saves
             predicting the members again for the lever)
    features the members' inputs (`inputs` with the whole contract), when the caller has them
    """
    contract = scorer.model_contract
    proba = np.round(np.asarray(proba, dtype=float), DIGITS)  # as the table reports it
    at_risk = proba >= scorer.threshold
    chosen = at_risk if explain is None else np.asarray(explain, dtype=bool)
    every = inputs(members, scorer.contract) if features is None else features
    segment, segment_name = _segments(scorer, every)  # segments may use excluded columns
    X = scorer.model_view(every)
    empty_text = np.full(len(proba), "", dtype=object)
    columns: dict[str, Any] = {
        contract.key: members[contract.key].to_numpy(),
        "churn_probability": proba,
        "risk_decile": risk_decile(proba, scorer.decile_edges),
        "at_risk": at_risk.astype(int),
        "segment": segment,
        "segment_name": segment_name,
    }
    picked = members.loc[chosen]
    picked_X = X.loc[chosen]
    contrib = contributions(scorer.model, contract, picked_X, scorer.background_inputs)
    reasons = reason_columns(
        contrib.points, contrib.groups, picked, contract, scorer.base_words,
        scorer.n_reasons, scorer.min_points,
    )  # fmt: skip
    lever = suggested_lever(
        lambda m: predict(scorer.model, contract, m), picked, contract, scorer.lever_options,
        own=None if model_proba is None else np.asarray(model_proba)[chosen],
        what_if=_tree_what_if(scorer.model, contract, picked_X),
    )  # fmt: skip
    for col, values in (reasons | lever).items():
        # text kept as Python objects: pandas would turn them into its own strings, and the
        # writer into Arrow strings again
        points = col.endswith("_points")
        full = np.full(len(proba), np.nan) if points else empty_text.copy()
        full[chosen] = np.round(values, DIGITS) if points else values
        columns[col] = pd.Series(full, dtype=full.dtype, copy=False)
    # one frame made at once: adding columns one by one re-forms its blocks each time
    return pd.DataFrame(columns)


def score(scorer: Scorer, members: pd.DataFrame) -> pd.DataFrame:
    """Score validated members with the trained model (describe with its probabilities)."""
    X = inputs(members, scorer.contract)
    proba = probability(scorer.model, scorer.model_view(X))  # as predict() does, made once
    return describe(scorer, members, proba, model_proba=proba, features=X)

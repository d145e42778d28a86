"""Shapley values of the churn model, per group of columns, in percentage points. Pure.

A group is a raw column together with the engineered features made from it (the contract's
`groups`): the visit columns and their difference are one group, so their credit is never
split between them.

Which exact method runs depends on the fitted model:

- gradient boosting: exact tree-path-dependent Shapley values (the game shap's TreeExplainer
  solves: against the training base the trees record, how many training members took each
  branch), by gym_churn.models.trees, which also reads category splits (shap reads none);
- random forest: shap's TreeExplainer, tree path dependent;
- logistic regression (the fitted pipeline or its runtime form, models.runtime, whose
  encoded inputs are the pipeline's bit for bit): its log-odds are a sum of one term per
  input column, so the exact (interventional) Shapley value of a column is its term minus
  the term's mean over the background members;
- a calibrated model (CalibratedClassifierCV over one of the pipelines above, sigmoid or
  isotonic): its probability is the mean over its folds of calibrator(score), the score being
  the fold pipeline's decision function (log-odds) or, for a forest, its probability. Each
  fold's score is split over the groups exactly as above (tree path dependent, or linear),
  carried through that fold's calibrator by the two-player split below (`to_points` with the
  calibrator for the sigmoid), and the folds' points are averaged. Nothing is estimated: the
  cost is the fold models' own exact method, once per fold (5 folds: five times the
  uncalibrated model's), whatever the number of groups;
- anything else (a model this package does not build): exact Shapley values over groups by
  enumerating every coalition against the background members. Exact, but 2^groups model
  calls per member and background row: refused above MAX_BRUTE_FORCE_GROUPS groups.

Tree and linear values are on the model's log-odds scale. They are turned into percentage
points of churn probability (`to_points`) so that they add up to the member's probability
minus the base probability, keep every sign, and none exceeds 100 points: the raising and
the lowering contributions are two players of a two-player Shapley game on the probability
scale, and each shares its player's points in proportion to its log-odds. A calibrated
model's calibrator is monotone: a contribution keeps its sign when the calibrator rises
with the score (isotonic always; sigmoid when its fitted slope says so).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations
from math import factorial
from typing import Any

import numpy as np
import pandas as pd

from gym_churn.contract.spec import Contract
from gym_churn.models.runtime import LinearModel, boosted_trees, sigmoid
from gym_churn.models.trees import internal, read_trees
from gym_churn.models.trees import shapley as tree_shapley

log = logging.getLogger(__name__)

# Above this many groups the coalition enumeration is refused: 2^groups model calls per row.
MAX_BRUTE_FORCE_GROUPS = 14


@dataclass(frozen=True)
class Contributions:
    """Per member and group, in percentage points; they add up to 100 * (p - base)."""

    groups: list[str]  # the contract's group keys, in contract order
    points: np.ndarray  # (members, groups)
    base: float  # base churn probability the contributions start from
    method: str  # "tree", "linear", "calibrated" or "exact"


def group_matrix(columns: list[str], contract: Contract) -> tuple[list[str], np.ndarray]:
    """0/1 matrix (columns, groups): which group each model input column belongs to."""
    groups = contract.groups
    keys = list(groups)
    owner = {col: g for g, cols in groups.items() for col in cols}
    matrix = np.zeros((len(columns), len(keys)))
    for i, col in enumerate(columns):
        matrix[i, keys.index(owner[col])] = 1.0
    return keys, matrix


def exact_group_shapley(
    value: Callable[[np.ndarray], np.ndarray], n_groups: int
) -> tuple[np.ndarray, np.ndarray]:
    """Exact Shapley values by enumerating coalitions. `value(mask)` gives each member's
    payoff when the groups where `mask` is True take the member's own values. Returns the
    values (members, groups) and the empty coalition's payoff per member."""
    empty = value(np.zeros(n_groups, dtype=bool))
    payoff = {(): empty}
    for size in range(1, n_groups + 1):
        for coalition in combinations(range(n_groups), size):
            mask = np.zeros(n_groups, dtype=bool)
            mask[list(coalition)] = True
            payoff[coalition] = value(mask)
    phi = np.zeros((len(empty), n_groups))
    total = factorial(n_groups)
    for coalition, v in payoff.items():
        size = len(coalition)
        members = set(coalition)
        for g in range(n_groups):
            if g in members:
                continue
            weight = factorial(size) * factorial(n_groups - size - 1) / total
            with_g = tuple(sorted((*coalition, g)))
            phi[:, g] += weight * (payoff[with_g] - v)
    return phi, empty


def columns_of_outputs(transformer: Any, inputs: list[str]) -> list[str]:
    """The input column behind each column the pipeline's input step puts out: itself, its
    missing-value indicator, or one of its one-hot levels."""
    names = [str(n) for n in transformer.get_feature_names_out()]
    out = []
    for name in names:
        if name in inputs:
            out.append(name)
        elif name.startswith("missingindicator_") and name[17:] in inputs:
            out.append(name[17:])
        else:
            prefixes = [c for c in inputs if name.startswith(f"{c}_")]
            if not prefixes:
                raise ValueError(f"cannot tell which input column {name!r} comes from")
            out.append(max(prefixes, key=len))
    return out


def _tree_values(
    model: Any, inputs: pd.DataFrame, columns: list[str]
) -> tuple[np.ndarray, float, str, list[str]]:
    """Values per column the input step puts out, their base, scale, and the input column
    behind each."""
    boosted = boosted_trees(model)
    if boosted is not None:
        values, base = tree_shapley(boosted.trees, boosted.encode(inputs))
        return values, base, "log_odds", boosted.columns
    from sklearn.ensemble import HistGradientBoostingClassifier

    estimator = model[-1]
    encoded = np.asarray(model[:-1].transform(inputs), dtype=float)
    owners = columns_of_outputs(model[:-1], columns)
    if isinstance(estimator, HistGradientBoostingClassifier):  # an input step of its own
        values, base = tree_shapley(read_trees(estimator), internal(estimator, encoded))
        return values, base, "log_odds", owners
    import shap  # a heavy import (numba, 1.5 s): only for forests

    explainer = shap.TreeExplainer(estimator, feature_perturbation="tree_path_dependent")
    values = explainer.shap_values(encoded, check_additivity=False)
    base = np.asarray(explainer.expected_value, dtype=float).ravel()
    # a forest's trees average probabilities: the values are already on that scale
    values = values[..., 1] if values.ndim == 3 else values
    return values, float(base[-1]), "probability", owners


def _linear_values(
    model: Any, inputs: pd.DataFrame, background: pd.DataFrame
) -> tuple[np.ndarray, float]:
    """Values per column the input step puts out, and their base: a logistic-regression
    pipeline's, or its runtime form's (the same encoded inputs and coefficients)."""
    if isinstance(model, LinearModel):
        encode, w, intercept = model.encode, model.coef[0], model.intercept[0]
    else:
        encode, w, intercept = model[:-1].transform, model[-1].coef_[0], model[-1].intercept_[0]
    z = np.asarray(encode(inputs), dtype=float)
    z_bg = np.asarray(encode(background), dtype=float).mean(axis=0)
    return (z - z_bg) * w, float(intercept + z_bg @ w)


def _kind(model: Any) -> str:
    if boosted_trees(model) is not None:
        return "tree"
    if isinstance(model, LinearModel):
        return "linear"
    # a fitted scikit-learn model
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    if isinstance(model, CalibratedClassifierCV):
        parts = getattr(model, "calibrated_classifiers_", [])
        explained = parts and all(
            p.method in ("sigmoid", "isotonic")
            and len(p.calibrators) == 1  # binary: one calibrator, of the churn score
            and _kind(p.estimator) in ("tree", "linear")
            for p in parts
        )
        return "calibrated" if explained else "exact"
    if not isinstance(model, Pipeline):
        return "exact"
    estimator = model[-1]
    if isinstance(estimator, LogisticRegression):
        return "linear"
    if isinstance(estimator, RandomForestClassifier | HistGradientBoostingClassifier):
        return "tree"
    return "exact"


def contributions(
    model: Any,
    contract: Contract,
    inputs: pd.DataFrame,
    background: pd.DataFrame,
) -> Contributions:
    """Each member's churn probability (the model's) split over the contract's groups, in
    percentage points.

    inputs      the members' model inputs (raw columns, then engineered), as model_inputs gives
    background  model inputs of the members the base is taken over (linear and exact methods)
    """
    columns = list(inputs.columns)
    keys, membership = group_matrix(columns, contract)
    kind = _kind(model)
    if len(inputs) == 0:
        return Contributions(keys, np.zeros((0, len(keys))), float("nan"), kind)
    if kind == "exact":
        points, base = _exact_points(model, inputs, background, keys, membership)
        return Contributions(keys, points, base, kind)
    if kind == "calibrated":
        points, base = _calibrated_points(model, inputs, background, columns, membership)
        return Contributions(keys, points, base, kind)
    grouped, base, scale = _grouped_scores(model, kind, inputs, background, columns, membership)
    if scale == "probability":
        return Contributions(keys, 100 * grouped, base, kind)
    return Contributions(keys, to_points(grouped, base), float(sigmoid(base)), kind)


def _grouped_scores(
    pipeline: Any,
    kind: str,
    inputs: pd.DataFrame,
    background: pd.DataFrame,
    columns: list[str],
    membership: np.ndarray,
) -> tuple[np.ndarray, float, str]:
    """A tree or linear pipeline's exact values per group (members, groups) on its score's
    scale, the score's base, and the scale: "log_odds" (its decision function) or
    "probability" (a forest's)."""
    if kind == "tree":
        values, base, scale, owners = _tree_values(pipeline, inputs, columns)
    else:
        values, base = _linear_values(pipeline, inputs, background)
        scale = "log_odds"
        if isinstance(pipeline, LinearModel):
            owners = pipeline.columns
        else:
            owners = columns_of_outputs(pipeline[:-1], columns)
    to_groups = np.stack([membership[columns.index(c)] for c in owners])  # outputs x groups
    return values @ to_groups, base, scale


def _calibrated_points(
    model: Any,
    inputs: pd.DataFrame,
    background: pd.DataFrame,
    columns: list[str],
    membership: np.ndarray,
) -> tuple[np.ndarray, float]:
    """A calibrated model's points (members, groups) and base probability: per fold, the
    pipeline's exact values on its score's scale carried through the fold's calibrator
    (to_points with the calibrator as the link), averaged over the folds as the model
    averages their probabilities."""
    parts = model.calibrated_classifiers_
    points = np.zeros((len(inputs), membership.shape[1]))
    base = 0.0
    for part in parts:
        grouped, start, _ = _grouped_scores(
            part.estimator, _kind(part.estimator), inputs, background, columns, membership
        )
        link = part.calibrators[0].predict  # score (1-d) -> churn probability
        points += to_points(grouped, start, link)
        base += float(link(np.array([start]))[0])
    return points / len(parts), base / len(parts)


def to_points(
    log_odds: np.ndarray,
    base: float,
    link: Callable[[np.ndarray], np.ndarray] = sigmoid,
) -> np.ndarray:
    """Log-odds contributions (members, groups) from base log-odds `base` as percentage
    points adding up to 100 * (link(base + sum) - link(base)); `link` maps the score to the
    probability (default the sigmoid; a calibrated model's calibrator).

    Raising (R) and lowering (L) contributions are two players: R gets the average of what
    it adds first and what it adds after L, on the probability scale, L the rest; each
    contribution gets its player's points in proportion to its log-odds."""
    up = np.where(log_odds > 0, log_odds, 0.0)
    down = np.where(log_odds < 0, log_odds, 0.0)
    r, lo = up.sum(axis=1), down.sum(axis=1)
    s = link
    start = np.full(len(log_odds), float(base))  # a calibrator reads arrays only
    gain_r = 0.5 * ((s(start + r) - s(start)) + (s(start + r + lo) - s(start + lo)))
    gain_l = (s(start + r + lo) - s(start)) - gain_r
    share_r = np.divide(up, r[:, None], out=np.zeros_like(up), where=r[:, None] > 0)
    share_l = np.divide(down, lo[:, None], out=np.zeros_like(down), where=lo[:, None] < 0)
    return 100 * (share_r * gain_r[:, None] + share_l * gain_l[:, None])


def _exact_points(
    model: Any,
    inputs: pd.DataFrame,
    background: pd.DataFrame,
    keys: list[str],
    membership: np.ndarray,
) -> tuple[np.ndarray, float]:
    n_groups = len(keys)
    if n_groups > MAX_BRUTE_FORCE_GROUPS:
        raise ValueError(
            f"exact Shapley values over {n_groups} groups need 2^{n_groups} model calls per "
            f"member; at most {MAX_BRUTE_FORCE_GROUPS} groups are explained this way"
        )
    log.warning(
        "reasons for %d members by exact enumeration of %d coalitions against %d background "
        "members (this model has no fast exact method): slow on large exports",
        len(inputs), 2**n_groups, len(background),
    )  # fmt: skip
    columns = list(inputs.columns)
    col_group = membership.argmax(axis=1)
    n, b = len(inputs), len(background)
    mine = inputs.iloc[np.repeat(np.arange(n), b)].reset_index(drop=True)
    theirs = background.iloc[np.tile(np.arange(b), n)].reset_index(drop=True)

    def value(mask: np.ndarray) -> np.ndarray:
        take = [c for c, g in zip(columns, col_group, strict=True) if mask[g]]
        rows = theirs.copy()
        if take:
            rows[take] = mine[take].to_numpy()
        p = model.predict_proba(rows)[:, 1]
        return p.reshape(n, b).mean(axis=1)

    phi, empty = exact_group_shapley(value, n_groups)
    return 100 * phi, float(empty.mean())

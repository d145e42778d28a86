"""Reasons and the suggested lever, in the contract's words. Pure.

"Why is this member at risk" and "what could the club do" are different questions:

- reasons are the groups of columns with the largest Shapley contributions to the member's
  churn probability (scoring.shapley), each with the member's values, the base's values, its
  direction and its size in percentage points; contributions under a minimum are not shown;
- the suggested lever is the one `lever` column whose change (to another value the training
  base holds) lowers the model's churn probability most, everything else held, with that drop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from gym_churn.contract.spec import Contract, level_text

# A lever change must lower the probability by more than this to be suggested: below it the
# difference is floating-point rounding, not the model.
MIN_DROP = 1e-9


def value_text(values: pd.Series, contract: Contract, column: str) -> pd.Series:
    """A column's cells as a marketer reads them: yes/no for flags, levels as declared,
    numbers to three significant digits with the contract's unit."""
    feature = contract.features[column]
    missing = values.isna()
    if feature.kind == "binary":
        present = str(feature.allowed[1]) if feature.allowed else "1"
        text = values.map(lambda v: "yes" if level_text(v) == present else "no")
    elif feature.kind == "categorical":
        text = values.map(lambda v: str(level_text(v)))
    else:
        unit = f" {contract.words(column).unit}" if contract.words(column).unit else ""
        text = values.map(lambda v: f"{v:.3g}{unit}")
    return text.where(~missing, "missing").astype(str)


def base_text(
    values: pd.Series, background: pd.DataFrame, contract: Contract, column: str
) -> pd.Series:
    """How the member's value compares with the base the contributions start from: the
    base's average for numbers, the share of the base with the same value otherwise."""
    feature = contract.features[column]
    if feature.kind in ("binary", "categorical"):
        keys = background[column].map(level_text)
        shares = keys.value_counts(normalize=True)
        share = values.map(level_text).map(shares).fillna(0.0)
        return share.map(lambda s: f"{s:.0%} of members alike")
    unit = f" {contract.words(column).unit}" if contract.words(column).unit else ""
    mean = float(pd.to_numeric(background[column], errors="coerce").mean())
    return pd.Series(f"base average {mean:.3g}{unit}", index=values.index)


def _group_text(
    members: pd.DataFrame, contract: Contract, group: list[str], background: pd.DataFrame
) -> pd.Series:
    parts = []
    for col in (c for c in group if c in contract.features):
        label = contract.words(col).label
        now = value_text(members[col], contract, col)
        parts.append(
            label + " " + now + " (" + base_text(members[col], background, contract, col) + ")"
        )
    text = parts[0]
    for part in parts[1:]:
        text = text + "; " + part
    return text


def reason_columns(
    points: np.ndarray,
    groups: list[str],
    members: pd.DataFrame,
    contract: Contract,
    background: pd.DataFrame,
    n_reasons: int,
    min_points: float,
) -> pd.DataFrame:
    """reason_k (words, values, direction) and reason_k_points (signed percentage points) for
    the k-th largest contribution by size; empty where fewer than k reach `min_points`."""
    out: dict[str, Any] = {}
    order = np.argsort(-np.abs(points), axis=1, kind="stable")[:, :n_reasons]
    for k in range(n_reasons):
        text = pd.Series("", index=members.index, dtype=object)
        size = np.full(len(members), np.nan)
        if k < points.shape[1]:
            g_idx = order[:, k]
            value = np.take_along_axis(points, g_idx[:, None], axis=1)[:, 0]
            shown = np.abs(value) >= min_points
            for g in np.unique(g_idx[shown]):
                rows = shown & (g_idx == g)
                sub = members.loc[rows]
                words = _group_text(sub, contract, contract.groups[groups[g]], background)
                way = np.where(value[rows] > 0, ": raises risk", ": lowers risk")
                text.loc[rows] = words + pd.Series(way, index=sub.index)
            size = np.where(shown, value, np.nan)
        out[f"reason_{k + 1}"] = text.to_numpy()
        out[f"reason_{k + 1}_points"] = size
    return pd.DataFrame(out, index=members.index)


def lever_options(members: pd.DataFrame, contract: Contract) -> dict[str, list[Any]]:
    """The values each lever can be set to: a flag's two values, a category's or a declared
    integer's allowed values, otherwise the training base's quartiles."""
    options: dict[str, list[Any]] = {}
    for col in contract.with_role("lever"):
        feature = contract.features[col]
        if feature.kind == "categorical":
            options[col] = list(feature.levels)
        elif feature.allowed is not None:
            options[col] = list(feature.allowed)
        else:
            q = members[col].dropna().quantile([0.25, 0.5, 0.75]).unique()
            options[col] = [float(v) for v in q]
    return options


def suggested_lever(
    predict: Callable[[pd.DataFrame], np.ndarray],
    members: pd.DataFrame,
    contract: Contract,
    options: dict[str, list[Any]],
) -> pd.DataFrame:
    """Per member: the lever change that lowers the model's probability most (`lever`, in the
    contract's words, and `lever_points`, the drop in percentage points); empty when no
    change lowers it. `predict` maps raw members to probabilities (features recomputed)."""
    n = len(members)
    best = np.zeros(n)
    best_col = np.full(n, -1)
    best_val = np.full(n, -1)
    if n:
        own = predict(members)
        cols = list(options)
        for c, col in enumerate(cols):
            for v, target in enumerate(options[col]):
                current = members[col]
                if contract.features[col].kind == "categorical":
                    current = current.map(level_text)
                differs = (current != target).to_numpy()
                if not differs.any():
                    continue
                changed = members.loc[differs].assign(**{col: target})
                drop = np.zeros(n)
                drop[differs] = own[differs] - predict(changed)
                better = drop > np.maximum(best, MIN_DROP)
                best = np.where(better, drop, best)
                best_col = np.where(better, c, best_col)
                best_val = np.where(better, v, best_val)
    text = np.full(n, "", dtype=object)
    for c, col in enumerate(options):
        for v, target in enumerate(options[col]):
            rows = (best_col == c) & (best_val == v)
            if not rows.any():
                continue
            now = value_text(members.loc[rows, col], contract, col)
            to = value_text(pd.Series([target]), contract, col).iloc[0]
            text[rows] = (contract.words(col).label + ": " + now + " -> " + to).to_numpy()
    return pd.DataFrame(
        {"lever": text, "lever_points": np.where(best_col >= 0, 100 * best, np.nan)},
        index=members.index,
    )

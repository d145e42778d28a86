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


# Text is built as numpy object arrays: pandas' (pyarrow) strings cost more to create than
# the model's Shapley values on large exports.


def _three_digits(values: np.ndarray) -> np.ndarray:
    """Numbers as text to three significant digits ("0.736", "153", "1230")."""
    x = np.asarray(values, dtype=float)
    finite = np.isfinite(x) & (x != 0)
    decimals = (2 - np.floor(np.log10(np.abs(np.where(finite, x, 1.0))))).astype(int)
    rounded = x.copy()
    for d in np.unique(decimals[finite]):  # np.round per magnitude: short, exact reprs
        at = finite & (decimals == d)
        rounded[at] = np.round(x[at], int(d))
    # few distinct values remain after rounding: format each once
    distinct, position = np.unique(rounded, return_inverse=True)
    whole = np.isfinite(distinct) & (distinct == np.round(distinct)) & (np.abs(distinct) < 1e15)
    text = distinct.astype(str).astype(object)
    text[whole] = np.asarray(distinct[whole], dtype=np.int64).astype(str).astype(object)
    return text[position.ravel()]


def _by_value(values: pd.Series, words: dict[Any, str]) -> np.ndarray:
    """Text per cell from a {value: text} table (few distinct values), gaps as "missing"."""
    codes, uniques = pd.factorize(values)  # gaps get code -1: the table's last entry
    table = np.array([*(words[u] for u in uniques), "missing"], dtype=object)
    return table[codes]


def value_text(values: pd.Series, contract: Contract, column: str) -> np.ndarray:
    """A column's cells as a marketer reads them: yes/no for flags, levels as declared,
    numbers to three significant digits with the contract's unit; gaps as "missing"."""
    feature = contract.features[column]
    if feature.kind == "binary":
        present = level_text(feature.allowed[1]) if feature.allowed else 1
        return _by_value(
            values,
            {v: "yes" if level_text(v) == present else "no" for v in values.dropna().unique()},
        )
    if feature.kind == "categorical":
        return _by_value(values, {v: str(level_text(v)) for v in values.dropna().unique()})
    unit = f" {contract.words(column).unit}" if contract.words(column).unit else ""
    text = _three_digits(values.to_numpy(dtype=float)) + unit
    text[values.isna().to_numpy()] = "missing"
    return text


def base_text(
    values: pd.Series, background: pd.DataFrame, contract: Contract, column: str
) -> np.ndarray:
    """How the member's value compares with the base the contributions start from: the
    base's average for numbers, the share of the base with the same value otherwise."""
    feature = contract.features[column]
    if feature.kind in ("binary", "categorical"):
        shares = background[column].map(level_text).value_counts(normalize=True).to_dict()
        words = {
            v: f"{shares.get(level_text(v), 0.0):.0%} of members alike"
            for v in values.dropna().unique()
        }
        return _by_value(values, words)
    unit = f" {contract.words(column).unit}" if contract.words(column).unit else ""
    mean = pd.to_numeric(background[column], errors="coerce").mean()
    average = _three_digits(np.array([mean]))[0]
    return np.full(len(values), f"base average {average}{unit}", dtype=object)


def _group_text(
    members: pd.DataFrame, contract: Contract, group: list[str], background: pd.DataFrame
) -> np.ndarray:
    text = None
    for col in (c for c in group if c in contract.features):
        part = (
            contract.words(col).label + " " + value_text(members[col], contract, col) + " ("
            + base_text(members[col], background, contract, col) + ")"
        )  # fmt: skip
        text = part if text is None else text + "; " + part
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
        text = np.full(len(members), "", dtype=object)
        size = np.full(len(members), np.nan)
        if k < points.shape[1]:
            g_idx = order[:, k]
            value = np.take_along_axis(points, g_idx[:, None], axis=1)[:, 0]
            shown = np.abs(value) >= min_points
            for g in np.unique(g_idx[shown]):
                rows = shown & (g_idx == g)
                words = _group_text(members[rows], contract, contract.groups[groups[g]], background)
                way = np.where(value[rows] > 0, ": raises risk", ": lowers risk").astype(object)
                text[rows] = words + way
            size = np.where(shown, value, np.nan)
        out[f"reason_{k + 1}"] = text
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


# what_if(rows, changed, column, own): the model's probability for `changed` (the members at
# positions `rows`, with one column set otherwise), given those members' own probability.
WhatIf = Callable[[np.ndarray, pd.DataFrame, str, np.ndarray], np.ndarray]


def suggested_lever(
    predict: Callable[[pd.DataFrame], np.ndarray],
    members: pd.DataFrame,
    contract: Contract,
    options: dict[str, list[Any]],
    own: np.ndarray | None = None,
    what_if: WhatIf | None = None,
) -> pd.DataFrame:
    """Per member: the lever change that lowers the model's probability most (`lever`, in the
    contract's words, and `lever_points`, the drop in percentage points); empty when no
    change lowers it. `predict` maps raw members to probabilities (features recomputed);
    `own` is the members' own model probability, when the caller has it; `what_if` a faster
    way to predict a one-column change (default: predict the changed members)."""
    n = len(members)
    best = np.zeros(n)
    best_col = np.full(n, -1)
    best_val = np.full(n, -1)
    if n:
        own = predict(members) if own is None else np.asarray(own, dtype=float)
        for c, col in enumerate(options):
            current = members[col]
            if contract.features[col].kind == "categorical":
                current = current.map(level_text)
            # every option of this lever in one frame: one model call per lever
            changes, frames = [], []
            for v, target in enumerate(options[col]):
                differs = np.flatnonzero((current != target).to_numpy())
                if len(differs):
                    changes.append((v, differs))
                    frames.append(members.iloc[differs].assign(**{col: target}))
            if not frames:
                continue
            rows_all = np.concatenate([rows for _, rows in changes])
            changed = pd.concat(frames, ignore_index=True)
            if what_if is None:
                probs = predict(changed)
            else:
                probs = what_if(rows_all, changed, col, own[rows_all])
            start = 0
            for v, rows in changes:
                drop = np.zeros(n)
                drop[rows] = own[rows] - probs[start : start + len(rows)]
                start += len(rows)
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
            to = value_text(pd.Series([target]), contract, col)[0]
            text[rows] = contract.words(col).label + ": " + now + " -> " + to
    return pd.DataFrame(
        {"lever": text, "lever_points": np.where(best_col >= 0, 100 * best, np.nan)},
        index=members.index,
    )

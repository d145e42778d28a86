"""Reasons and the suggested lever, in the contract's words. Pure.

"Why is this member at risk" and "what could the club do" are different questions:

- reasons are the groups of columns with the largest Shapley contributions to the member's
  churn probability (scoring.shapley), each with the member's values, the base's values, its
  direction and its size in percentage points; contributions under a minimum are not shown;
- the suggested lever is the one `lever` column whose change (to another value the training
  base holds) lowers the model's churn probability most, everything else held, with that drop.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from gym_churn.contract.spec import Contract, level_text

# A lever change must lower the probability by more than this to be suggested: below it the
# difference is floating-point rounding, not the model.
MIN_DROP = 1e-9


# Text is built per distinct value, then taken row by row: creating a Python string per
# member and column costs more than the model's Shapley values on large exports.


def _round3(values: np.ndarray) -> np.ndarray:
    """Numbers rounded to three significant digits."""
    x = np.asarray(values, dtype=float)
    finite = np.isfinite(x) & (x != 0)
    decimals = (2 - np.floor(np.log10(np.abs(np.where(finite, x, 1.0))))).astype(int)
    rounded = x.copy()
    for d in np.unique(decimals[finite]):  # np.round per magnitude: short, exact reprs
        at = finite & (decimals == d)
        rounded[at] = np.round(x[at], int(d))
    return rounded


def _number_text(x: float) -> str:
    if not math.isfinite(x):
        return "missing"
    return str(int(x)) if x == round(x) and abs(x) < 1e15 else str(x)


def _codes(values: pd.Series, contract: Contract, column: str) -> tuple[np.ndarray, list]:
    """Each cell's index into a list of distinct values (numbers rounded as shown; a gap is
    the value None)."""
    if contract.features[column].kind in ("binary", "categorical"):
        codes, uniques = pd.factorize(values)
        distinct = list(uniques)
    else:
        rounded = _round3(values.to_numpy(dtype=float))
        codes, uniques = pd.factorize(rounded)
        distinct = [float(u) for u in uniques]
    return np.where(codes < 0, len(distinct), codes), [*distinct, None]


def _value_words(value: Any, contract: Contract, column: str) -> str:
    """One value as a marketer reads it: yes/no for flags, levels as declared, numbers to
    three significant digits with the contract's unit."""
    if value is None or (isinstance(value, float) and value != value):
        return "missing"
    feature = contract.features[column]
    if feature.kind == "binary":  # checked members hold a flag as 0/1, whatever its labels
        return "yes" if value == 1 else "no"
    if feature.kind == "categorical":
        return str(level_text(value))
    unit = feature.unit  # the contract's own word, no default (words() builds an object)
    return _number_text(value) + (f" {unit}" if unit else "")


def value_text(values: pd.Series, contract: Contract, column: str) -> np.ndarray:
    """A column's cells as _value_words gives them ("missing" for a gap)."""
    codes, distinct = _codes(values, contract, column)
    table = np.array([_value_words(v, contract, column) for v in distinct], dtype=object)
    return table[codes]


def _base_words(
    distinct: list, background: pd.DataFrame, contract: Contract, column: str
) -> list[str]:
    """How each value compares with the base the contributions start from: the base's
    average for numbers, the share of the base with the same value otherwise."""
    if contract.features[column].kind in ("binary", "categorical"):
        shares = background[column].map(level_text).value_counts(normalize=True).to_dict()
        return [
            f"{shares.get(level_text(v), 0.0) if v is not None else 0.0:.0%} of members alike"
            for v in distinct
        ]
    unit = contract.words(column).unit
    mean = float(pd.to_numeric(background[column], errors="coerce").mean())
    words = f"base average {_number_text(_round3(np.array([mean]))[0])}" + (
        f" {unit}" if unit else ""
    )
    return [words] * len(distinct)


def _column_words(
    members: pd.DataFrame, contract: Contract, column: str, background: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Each member's code into the column's words per distinct value: "<label> <value>
    (<base>)"."""
    codes, distinct = _codes(members[column], contract, column)
    bases = _base_words(distinct, background, contract, column)
    label = contract.features[column].label or column
    table = np.array(
        [
            f"{label} {_value_words(v, contract, column)} ({b})"
            for v, b in zip(distinct, bases, strict=True)
        ],
        dtype=object,
    )
    return codes, table


def _group_text(words: list[tuple[np.ndarray, np.ndarray]], raises: np.ndarray) -> np.ndarray:
    """ "<label> <value> (<base>); ...: raises risk" per member, from each of the group's
    columns' (codes, words) for these members. Each distinct combination of values and
    direction is written once and taken row by row."""
    key = raises.astype(np.int64)
    for codes, table in words:  # renumbered at each step: stays below the row count
        key = pd.factorize(key * len(table) + codes)[0]
    _, first = np.unique(key, return_index=True)  # a member with each combination
    text = None
    for codes, table in words:
        part = table[codes[first]]
        text = part if text is None else text + "; " + part
    text = text + np.where(raises[first], ": raises risk", ": lowers risk").astype(object)
    return text[key]


def reason_columns(
    points: np.ndarray,
    groups: list[str],
    members: pd.DataFrame,
    contract: Contract,
    background: pd.DataFrame,
    n_reasons: int,
    min_points: float,
) -> dict[str, np.ndarray]:
    """reason_k (words, values, direction) and reason_k_points (signed percentage points) for
    the k-th largest contribution by size; empty where fewer than k reach `min_points`.
    Columns as numpy arrays (text as objects), in the members' order."""
    out: dict[str, Any] = {}
    words: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # a column's, once for all members
    order = np.argsort(-np.abs(points), axis=1, kind="stable")[:, :n_reasons]
    for k in range(n_reasons):
        text = np.full(len(members), "", dtype=object)
        size = np.full(len(members), np.nan)
        if k < points.shape[1]:
            g_idx = order[:, k]
            value = np.take_along_axis(points, g_idx[:, None], axis=1)[:, 0]
            shown = np.abs(value) >= min_points
            for g in np.unique(g_idx[shown]):
                rows = np.flatnonzero(shown & (g_idx == g))
                cols = [c for c in contract.groups[groups[g]] if c in contract.features]
                for col in cols:
                    if col not in words:
                        words[col] = _column_words(members, contract, col, background)
                text[rows] = _group_text(
                    [(words[c][0][rows], words[c][1]) for c in cols], value[rows] > 0
                )
            size = np.where(shown, value, np.nan)
        out[f"reason_{k + 1}"] = text
        out[f"reason_{k + 1}_points"] = size
    return out


def lever_options(members: pd.DataFrame, contract: Contract) -> dict[str, list[Any]]:
    """The values each lever can be set to: a flag's 0 and 1 (as checked members hold it,
    whatever its labels), a category's or a declared integer's allowed values, otherwise
    the training base's quartiles."""
    options: dict[str, list[Any]] = {}
    for col in contract.with_role("lever"):
        feature = contract.features[col]
        if feature.kind == "binary":  # as checked members hold it, whatever its labels
            options[col] = [0, 1]
        elif feature.kind == "categorical":
            options[col] = list(feature.levels)
        elif feature.allowed is not None:
            options[col] = list(feature.allowed)
        else:
            q = members[col].dropna().quantile([0.25, 0.5, 0.75]).unique()
            options[col] = [float(v) for v in q]
    return options


# what_if(changed, changes, own): for each (rows, column) of `changes` the model's
# probability for its part of `changed` (the members at positions `rows`, with `column` set
# otherwise; the parts stacked in that order), given the members' own probability `own`
# (all of them).
WhatIf = Callable[[pd.DataFrame, list[tuple[np.ndarray, str]], np.ndarray], list[np.ndarray]]


def _changed(members: pd.DataFrame, changes: list[tuple[np.ndarray, str, Any]]) -> pd.DataFrame:
    """Every (rows, column, value) change as one frame: those members with that column set
    to that value, stacked in order (one take of the members, then one array per lever)."""
    stacked = members.iloc[np.concatenate([rows for rows, _, _ in changes])]
    stacked = stacked.reset_index(drop=True)
    new: dict[str, np.ndarray] = {}
    start = 0
    for rows, col, value in changes:
        if col not in new:
            new[col] = stacked[col].to_numpy(copy=True)  # numbers, or text as objects
        new[col][start : start + len(rows)] = value
        start += len(rows)
    return stacked.assign(**new)


def suggested_lever(
    predict: Callable[[pd.DataFrame], np.ndarray],
    members: pd.DataFrame,
    contract: Contract,
    options: dict[str, list[Any]],
    own: np.ndarray | None = None,
    what_if: WhatIf | None = None,
) -> dict[str, np.ndarray]:
    """Per member: the lever change that lowers the model's probability most (`lever`, in the
    contract's words, and `lever_points`, the drop in percentage points); empty when no
    change lowers it. `predict` maps raw members to probabilities (features recomputed);
    `own` is the members' own model probability, when the caller has it; `what_if` a faster
    way to predict one-column changes (default: predict the changed members)."""
    n = len(members)
    best = np.zeros(n)
    best_col = np.full(n, -1)
    best_val = np.full(n, -1)
    if n:
        own = predict(members) if own is None else np.asarray(own, dtype=float)
        changes, meta = [], []
        for c, col in enumerate(options):
            current = members[col]
            if contract.features[col].kind == "categorical":
                current = current.map(level_text)
            for v, target in enumerate(options[col]):
                rows = np.flatnonzero((current != target).to_numpy())
                if len(rows):
                    changes.append((rows, col, target))
                    meta.append((c, v))
        if changes:
            changed = _changed(members, changes)
            if what_if is None:  # every change in one frame: one model call
                probs = predict(changed)
                bounds = np.cumsum([0, *(len(r) for r, _, _ in changes)])
                new = [probs[a:b] for a, b in itertools.pairwise(bounds)]
            else:
                new = what_if(changed, [(rows, col) for rows, col, _ in changes], own)
            for (c, v), (rows, _, _), p in zip(meta, changes, new, strict=True):
                drop = own[rows] - p
                better = drop > np.maximum(best[rows], MIN_DROP)
                best[rows[better]] = drop[better]
                best_col[rows[better]] = c
                best_val[rows[better]] = v
    text = np.full(n, "", dtype=object)
    for c, col in enumerate(options):
        if not (best_col == c).any():
            continue
        codes, distinct = _codes(members[col], contract, col)
        now = [_value_words(x, contract, col) for x in distinct]
        label = contract.words(col).label
        for v, target in enumerate(options[col]):
            rows = np.flatnonzero((best_col == c) & (best_val == v))
            if len(rows):
                to = value_text(pd.Series([target]), contract, col)[0]
                table = np.array([f"{label}: {x} -> {to}" for x in now], dtype=object)
                text[rows] = table[codes[rows]]
    return {"lever": text, "lever_points": np.where(best_col >= 0, 100 * best, np.nan)}

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
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from gym_churn.contract.spec import Contract, Words, level_text

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


def _number_texts(values: list[float], words: Words | None) -> list[str]:
    """Numbers as shown: whole ones without a decimal point, with the contract's unit (its
    unit_one after exactly 1); a value that is not finite reads "missing". One pass over the
    distinct values."""
    x = np.asarray(values, dtype=float)
    finite = np.isfinite(x)
    whole = finite & (x == np.round(x)) & (np.abs(x) < 1e15)
    ints = np.where(whole, x, 0).astype(np.int64).tolist()
    many = f" {words.unit}" if words is not None and words.unit else ""
    one = f" {words.unit_for(1)}" if words is not None and words.unit_for(1) else ""
    return [
        # thousands separators, never scientific notation ("1,160", "0.0000123")
        (f"{i:,}" if w else np.format_float_positional(v, trim="-")) + (one if v == 1 else many)
        if f
        else "missing"
        for v, i, w, f in zip(x.tolist(), ints, whole.tolist(), finite.tolist(), strict=True)
    ]


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


def _value_texts(distinct: list, contract: Contract, column: str) -> list[str]:
    """_codes' distinct values as a marketer reads them: yes/no for flags, levels as
    declared, numbers to three significant digits with the contract's unit; the gap (the
    last, None) reads "missing"."""
    feature, known = contract.features[column], distinct[:-1]
    if feature.kind == "binary":  # checked members hold a flag as 0/1, whatever its labels
        # a flag declared with text values (Female/Male, No/Yes) reads as those labels
        named = feature.allowed if all(isinstance(v, str) for v in feature.allowed or [0]) else None
        no, yes = (str(named[0]), str(named[1])) if named else ("no", "yes")
        texts = [yes if v == 1 else no for v in known]
    elif feature.kind == "categorical":
        texts = [str(level_text(v)) for v in known]
    else:  # the contract's own unit words, no default (words() builds an object)
        texts = _number_texts(known, feature)
    return [*texts, "missing"]


def value_text(values: pd.Series, contract: Contract, column: str) -> np.ndarray:
    """A column's cells as _value_texts gives them ("missing" for a gap)."""
    codes, distinct = _codes(values, contract, column)
    return np.array(_value_texts(distinct, contract, column), dtype=object)[codes]


def base_words(background: pd.DataFrame, contract: Contract) -> dict[str, Any]:
    """What a member's value is compared with, per raw feature: the base's average in words
    for numbers, each level's share of the base otherwise. Made once per scorer."""
    out: dict[str, Any] = {}
    for column in contract.raw_features:
        if column not in background:
            continue
        if contract.features[column].kind in ("binary", "categorical"):
            shares = background[column].map(level_text).value_counts(normalize=True)
            out[column] = shares.to_dict()
        else:
            numbers = pd.to_numeric(background[column], errors="coerce")
            mean = float(_round3(np.array([numbers.mean()]))[0])
            unit = contract.words(column).unit_for(mean)
            number = _number_texts([mean], None)[0]
            out[column] = f"base average {number}" + (f" {unit}" if unit else "")
    return out


def _base_texts(distinct: list, base: Any, many: str) -> list[str]:
    """How each value compares with the base the contributions start from (base_words)."""
    if isinstance(base, str):
        return [base] * len(distinct)
    return [
        f"{base.get(level_text(v), 0.0) if v is not None else 0.0:.0%} of {many} alike"
        for v in distinct
    ]


def _column_words(
    members: pd.DataFrame, contract: Contract, column: str, base: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """Each member's code into the column's words per distinct value: "<label> <value>
    (<base>)"."""
    codes, distinct = _codes(members[column], contract, column)
    label = contract.features[column].label or column
    table = np.array(
        [
            f"{label} {v} ({b})"
            for v, b in zip(
                _value_texts(distinct, contract, column),
                _base_texts(distinct, base[column], contract.population.many),
                strict=True,
            )
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
    base: dict[str, Any],
    n_reasons: int,
    min_points: float,
) -> dict[str, np.ndarray]:
    """reason_k (words, values, direction) and reason_k_points (signed percentage points) for
    the k-th largest contribution by size; empty where fewer than k reach `min_points`.
    `base`: base_words of the base the contributions start from. Columns as numpy arrays
    (text as objects), in the members' order."""
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
                        words[col] = _column_words(members, contract, col, base)
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
    the training base's quartiles (whole numbers for an integer column: set into a column
    of whole numbers, 2.5 would be scored as 2 while the lever read "-> 2.5")."""
    options: dict[str, list[Any]] = {}
    for col in contract.with_role("lever"):
        feature = contract.features[col]
        if not feature.changeable:  # it acts on whom is recruited, not on someone already there
            continue
        if feature.kind == "binary":  # as checked members hold it, whatever its labels
            options[col] = [0, 1]
        elif feature.kind == "categorical":
            options[col] = list(feature.levels)
        elif feature.allowed is not None:
            options[col] = list(feature.allowed)
        else:
            q = members[col].dropna().quantile([0.25, 0.5, 0.75])
            if feature.kind == "integer":  # a whole number, as the members hold it
                q = q.round()
            options[col] = [float(v) for v in q.unique()]
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
        now = _value_texts(distinct, contract, col)
        label = contract.words(col).label
        for v, target in enumerate(options[col]):
            rows = np.flatnonzero((best_col == c) & (best_val == v))
            if len(rows):
                to = value_text(pd.Series([target]), contract, col)[0]
                table = np.array([f"{label}: {x} -> {to}" for x in now], dtype=object)
                text[rows] = table[codes[rows]]
    return {"lever": text, "lever_points": np.where(best_col >= 0, 100 * best, np.nan)}

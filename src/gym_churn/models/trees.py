"""The trees of a fitted gradient-boosting pipeline, read for exact Shapley values and for
quick what-if predictions. Pure.

scikit-learn's HistGradientBoostingClassifier keeps its trees as node tables (the same ones
shap's TreeExplainer reads). Its trees are small: with the default 3 leaves a tree splits on
at most 2 columns. For such trees the exact tree-path-dependent Shapley values (the game
shap's TreeExplainer solves: a column outside the coalition is averaged over the training
members that took each branch) are computed by enumerating the coalitions of each tree's own
columns, for every member at once. Unlike shap, category splits (sklearn's native categorical
support) are read too. A tree that splits on more than MAX_TREE_COLUMNS columns is refused:
the caller falls back to shap.

A what-if change of some columns only moves the trees that split on them, so `delta`
predicts those trees alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from math import factorial
from typing import Any

import numpy as np

MAX_TREE_COLUMNS = 8  # 2^8 coalitions per tree at most


@dataclass(frozen=True)
class TreeSet:
    nodes: list[np.ndarray]  # each tree's node table
    columns: list[tuple[int, ...]]  # the (internal) columns each tree splits on
    bitsets: list[np.ndarray]  # each tree's category bitsets (left-going categories)
    baseline: float  # log-odds every prediction starts from
    order: np.ndarray  # internal column j is the estimator's input column order[j]


def internal(estimator: Any, Z: np.ndarray) -> np.ndarray:
    """The estimator's input as its trees read it: with native categories, sklearn encodes
    them again and puts them first."""
    return np.asarray(estimator._preprocess_X(Z, reset=False), dtype=float)


def read_trees(estimator: Any) -> TreeSet:
    """The trees of a fitted binary HistGradientBoostingClassifier."""
    cats = getattr(estimator, "is_categorical_", None)
    width = estimator.n_features_in_
    if cats is None:
        order = np.arange(width)
    else:
        order = np.r_[np.flatnonzero(cats), np.flatnonzero(~np.asarray(cats))]
    nodes, columns, bitsets = [], [], []
    for (predictor,) in estimator._predictors:
        table = predictor.nodes
        splits = table[~table["is_leaf"].astype(bool)]
        nodes.append(table)
        columns.append(tuple(sorted({int(f) for f in splits["feature_idx"]})))
        bitsets.append(predictor.raw_left_cat_bitsets)
    baseline = float(np.ravel(estimator._baseline_prediction)[0])
    return TreeSet(nodes, columns, bitsets, baseline, order)


def _goes_left(node: np.void, bits: np.ndarray, x: np.ndarray) -> np.ndarray:
    missing = np.isnan(x)
    if node["is_categorical"]:
        words = bits[int(node["bitset_idx"])]
        code = np.where(missing, 0, x).astype(np.int64)
        left = (words[code // 32] >> (code % 32).astype(np.uint32)) & 1 == 1
    else:
        left = x <= node["num_threshold"]
    return np.where(missing, bool(node["missing_go_to_left"]), left)


def _expected(
    table: np.ndarray, bits: np.ndarray, node_id: int, Z: np.ndarray, known: frozenset
) -> np.ndarray | float:
    """E[tree(x) | the columns in `known`], unknown splits weighted by training counts."""
    node = table[node_id]
    if node["is_leaf"]:
        return float(node["value"])
    left, right = int(node["left"]), int(node["right"])
    f = int(node["feature_idx"])
    lv = _expected(table, bits, left, Z, known)
    rv = _expected(table, bits, right, Z, known)
    if f in known:
        return np.where(_goes_left(node, bits, Z[:, f]), lv, rv)
    cl, cr = float(table[left]["count"]), float(table[right]["count"])
    return (cl * lv + cr * rv) / (cl + cr)


def tree_value(trees: TreeSet, t: int, Z: np.ndarray) -> np.ndarray:
    """One tree's prediction for every row of the encoded inputs Z."""
    value = _expected(trees.nodes[t], trees.bitsets[t], 0, Z, frozenset(trees.columns[t]))
    return np.broadcast_to(np.asarray(value, dtype=float), (len(Z),))


def shapley(trees: TreeSet, Z: np.ndarray) -> tuple[np.ndarray, float]:
    """Exact tree-path-dependent Shapley values (rows, the estimator's input columns) on the
    log-odds scale, and the expected log-odds they start from. Z: internal() of the input."""
    n = len(Z)
    phi = np.zeros((n, Z.shape[1]))
    base = trees.baseline
    for t, cols in enumerate(trees.columns):
        k = len(cols)
        if k > MAX_TREE_COLUMNS:
            raise ValueError(f"a tree splits on {k} columns (at most {MAX_TREE_COLUMNS})")
        table, bits = trees.nodes[t], trees.bitsets[t]
        value = {
            s: np.broadcast_to(
                np.asarray(_expected(table, bits, 0, Z, frozenset(s)), dtype=float), (n,)
            )
            for size in range(k + 1)
            for s in combinations(cols, size)
        }
        base += float(value[()][0])
        for j in cols:
            others = [c for c in cols if c != j]
            for size in range(k):
                w = factorial(size) * factorial(k - size - 1) / factorial(k)
                for s in combinations(others, size):
                    with_j = tuple(sorted((*s, j)))
                    phi[:, j] += w * (value[with_j] - value[s])
    out = np.zeros_like(phi)
    out[:, trees.order] = phi
    return out, base


def delta(trees: TreeSet, before: np.ndarray, after: np.ndarray, changed: set[int]) -> np.ndarray:
    """Change in log-odds from `before` to `after` (internal() rows that differ only in the
    estimator's input columns `changed`), predicting only the trees that split on them."""
    changed = {int(np.flatnonzero(trees.order == c)[0]) for c in changed}
    out = np.zeros(len(before))
    for t, cols in enumerate(trees.columns):
        if changed.intersection(cols):
            out += tree_value(trees, t, after) - tree_value(trees, t, before)
    return out

"""The trees of a fitted gradient-boosting pipeline, read for exact Shapley values and for
quick what-if predictions. Pure.

scikit-learn's HistGradientBoostingClassifier keeps its trees as node tables (the same ones
shap's TreeExplainer reads). `shapley` gives the exact tree-path-dependent Shapley values (the
game shap's TreeExplainer solves: a column outside the coalition is averaged over the
training members that took each branch), for every member at once, and unlike shap it reads
category splits (sklearn's native categorical support) too. Two exact ways, per tree:

- a tree on at most ENUMERATE_UP_TO columns (the default 3-leaf trees split on 2): every
  coalition of its columns is evaluated, which is quickest for so few;
- a larger tree (15 leaves can split on 14 columns, 2^14 coalitions): leaf by leaf. A leaf's
  share of the game is its value times, per column on its path, either "the member goes this
  way" (column in the coalition) or "the training share that went this way" (not in it), so
  the Shapley sum over coalitions is a polynomial's coefficients: O(depth^2) per leaf (the
  idea of Lundberg et al.'s TreeSHAP, written for numpy over members).

The game reads a member only through the way it goes at each split, so members with the
same pattern of ways get the same values: a tree of at most TABLE_UP_TO splits has them
worked out once per model for every pattern and read per member (as its leaf value is),
a larger one once per pattern present among the members scored.

A what-if change of some columns only moves the trees that split on them, so `delta`
predicts those trees alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from math import factorial
from typing import Any

import numpy as np

ENUMERATE_UP_TO = 3  # columns of a tree; above it the leaf-by-leaf way is quicker
LOOKUP_UP_TO = 16  # splits of a tree whose leaves are looked up by the member's ways (2^16)
TABLE_UP_TO = 4  # splits of a tree whose Shapley values are worked out for every pattern


@dataclass(frozen=True)
class TreeSet:
    nodes: list[np.ndarray]  # each tree's node table
    columns: list[tuple[int, ...]]  # the (internal) columns each tree splits on
    bitsets: list[np.ndarray]  # each tree's category bitsets (left-going categories)
    baseline: float  # log-odds every prediction starts from
    order: np.ndarray  # internal column j is the estimator's input column order[j]
    # per tree (up to LOOKUP_UP_TO splits): the value of the leaf each pattern of ways reaches
    leaf_values: list[np.ndarray | None] = field(init=False, repr=False, compare=False)
    # per tree (up to TABLE_UP_TO splits): each pattern's Shapley values, the expected value
    pattern_values: list[tuple[np.ndarray, float] | None] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "leaf_values", [_leaf_values(t) for t in self.nodes])
        tables = [_pattern_values(self, t) for t in range(len(self.nodes))]
        object.__setattr__(self, "pattern_values", tables)


def _splits(table: np.ndarray) -> np.ndarray:
    return np.flatnonzero(~table["is_leaf"].astype(bool))


def _leaf_values(table: np.ndarray) -> np.ndarray | None:
    """The value of the leaf reached by each pattern of ways (bit k of the pattern: the
    member goes left at the tree's k-th split), or None for a tree with too many splits."""
    splits = _splits(table)
    if len(splits) > LOOKUP_UP_TO:
        return None
    bit = np.zeros(len(table), dtype=np.int64)
    bit[splits] = np.arange(len(splits))
    patterns = np.arange(1 << len(splits))
    node = np.zeros(len(patterns), dtype=np.int64)
    leaf = table["is_leaf"].astype(bool)
    while not leaf[node].all():
        left = (patterns >> bit[node]) & 1 == 1
        inner = ~leaf[node]
        node = np.where(inner, np.where(left, table["left"][node], table["right"][node]), node)
    return table["value"][node].astype(float)


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
    if node["is_categorical"]:
        missing = np.isnan(x)
        words = bits[int(node["bitset_idx"])]
        code = np.where(missing, 0, x).astype(np.int64)
        left = (words[code // 32] >> (code % 32).astype(np.uint32)) & 1 == 1
        return np.where(missing, bool(node["missing_go_to_left"]), left)
    left = x <= node["num_threshold"]  # a gap compares False: it goes right...
    if node["missing_go_to_left"]:  # ...unless the tree sends gaps left
        left |= np.isnan(x)
    return left


def _ways(table: np.ndarray, bits: np.ndarray, Z: np.ndarray) -> dict[int, np.ndarray]:
    """Whether each row goes left, at each split of the tree: all the game reads of it."""
    return {
        int(i): _goes_left(table[i], bits, Z[:, int(table[i]["feature_idx"])])
        for i in _splits(table)
    }


def _expected(
    table: np.ndarray, left_at: dict[int, np.ndarray], node_id: int, known: frozenset
) -> np.ndarray | float:
    """E[tree(x) | the columns in `known`], unknown splits weighted by training counts;
    `left_at`: each split's ways (_ways)."""
    node = table[node_id]
    if node["is_leaf"]:
        return float(node["value"])
    left, right = int(node["left"]), int(node["right"])
    f = int(node["feature_idx"])
    lv = _expected(table, left_at, left, known)
    rv = _expected(table, left_at, right, known)
    if f in known:
        return np.where(left_at[node_id], lv, rv)
    cl, cr = float(table[left]["count"]), float(table[right]["count"])
    return (cl * lv + cr * rv) / (cl + cr)


def _pattern(table: np.ndarray, bits: np.ndarray, Z: np.ndarray, splits: np.ndarray) -> np.ndarray:
    """Each row's pattern of ways through the splits (bit k: goes left at splits[k])."""
    code = np.zeros(len(Z), dtype=np.int64)
    for k, i in enumerate(splits):
        left = _goes_left(table[i], bits, Z[:, int(table[i]["feature_idx"])])
        code += left << np.int64(k)  # bits apart: adding is or-ing
    return code


def tree_value(trees: TreeSet, t: int, Z: np.ndarray) -> np.ndarray:
    """One tree's prediction for every row of the encoded inputs Z."""
    lookup = trees.leaf_values[t]
    if lookup is not None:  # the same leaf's value, found by the member's ways
        table = trees.nodes[t]
        return lookup[_pattern(table, trees.bitsets[t], Z, _splits(table))]
    table = trees.nodes[t]
    value = _expected(table, _ways(table, trees.bitsets[t], Z), 0, frozenset(trees.columns[t]))
    return np.broadcast_to(np.asarray(value, dtype=float), (len(Z),))


def raw_predict(trees: TreeSet, Z: np.ndarray) -> np.ndarray:
    """The model's log-odds for every row of Z (internal()): the baseline plus each tree's
    value, added in the trees' order (as sklearn does: the same sums)."""
    raw = np.full(len(Z), trees.baseline)
    for t in range(len(trees.nodes)):
        raw += tree_value(trees, t, Z)
    return raw


def _leaf_paths(table: np.ndarray) -> list[tuple[float, list[tuple[int, int, bool, float]]]]:
    """Each leaf's value and path: (column, node, goes left, training share that went so)."""
    out = []
    stack: list[tuple[int, list[tuple[int, int, bool, float]]]] = [(0, [])]
    while stack:
        i, path = stack.pop()
        node = table[i]
        if node["is_leaf"]:
            out.append((float(node["value"]), path))
            continue
        left, right = int(node["left"]), int(node["right"])
        cl, cr = float(table[left]["count"]), float(table[right]["count"])
        f = int(node["feature_idx"])
        stack.append((left, [*path, (f, i, True, cl / (cl + cr))]))
        stack.append((right, [*path, (f, i, False, cr / (cl + cr))]))
    return out


def _times_factor(poly: np.ndarray, zero: float, one: np.ndarray) -> np.ndarray:
    """poly(t) * (zero + one * t), coefficients per member in the rows."""
    out = np.zeros((poly.shape[0], poly.shape[1] + 1))
    out[:, :-1] = poly * zero
    out[:, 1:] += poly * one[:, None]
    return out


def _enumerated(
    trees: TreeSet, t: int, left_at: dict[int, np.ndarray], n: int, phi: np.ndarray
) -> float:
    """Adds tree t's Shapley values for n rows (their ways: `left_at`) to phi by evaluating
    every coalition of its columns; returns the tree's expected value."""
    cols = trees.columns[t]
    k = len(cols)
    table = trees.nodes[t]
    value = {
        s: np.broadcast_to(np.asarray(_expected(table, left_at, 0, frozenset(s)), float), (n,))
        for size in range(k + 1)
        for s in combinations(cols, size)
    }
    for j in cols:
        others = [c for c in cols if c != j]
        for size in range(k):
            w = factorial(size) * factorial(k - size - 1) / factorial(k)
            for s in combinations(others, size):
                with_j = tuple(sorted((*s, j)))
                phi[:, j] += w * (value[with_j] - value[s])
    return float(value[()][0])


def _by_leaf(
    trees: TreeSet, t: int, left_at: dict[int, np.ndarray], n: int, phi: np.ndarray
) -> float:
    """Adds tree t's Shapley values to phi leaf by leaf; returns the tree's expected value.

    A leaf with value v on a path through the distinct columns F contributes to the game
    v * prod_{f in S} o_f * prod_{f not in S} z_f, where o_f is 1 when the member follows
    every split on f along the path and z_f the product of the training shares that did.
    Its Shapley value for f in F is v * (o_f - z_f) * sum_k w_k c_k, with c_k the t^k
    coefficient of prod_{g != f} (z_g + o_g t) and w_k = k! (|F|-1-k)! / |F|!."""
    table = trees.nodes[t]
    expected = 0.0
    for v, path in _leaf_paths(table):
        cols = sorted({f for f, *_ in path})
        zero = [float(np.prod([r for g, _, _, r in path if g == f])) for f in cols]
        one = []
        for f in cols:
            follows = np.ones(n, dtype=bool)
            for g, i, left, _ in path:
                if g == f:
                    follows &= left_at[i] if left else ~left_at[i]
            one.append(follows.astype(float))
        expected += v * float(np.prod(zero))
        d = len(cols)
        if d == 0:
            continue
        w = np.array([factorial(k) * factorial(d - 1 - k) / factorial(d) for k in range(d)])
        before = [np.ones((n, 1))]  # products of the factors before column j
        for j in range(d):
            before.append(_times_factor(before[-1], zero[j], one[j]))
        after = np.ones((n, 1))  # product of the factors after column j
        for j in range(d - 1, -1, -1):
            a = before[j]
            # sum_k w_k c_k of a(t) * after(t): w indexed by the sum of the two degrees
            hankel = w[np.arange(a.shape[1])[:, None] + np.arange(after.shape[1])[None, :]]
            weighted = np.einsum("na,ab,nb->n", a, hankel, after)
            phi[:, cols[j]] += v * (one[j] - zero[j]) * weighted
            after = _times_factor(after, zero[j], one[j])
    return expected


def _game(trees: TreeSet, t: int, left_at: dict[int, np.ndarray], n: int, phi: np.ndarray) -> float:
    """Tree t's Shapley values for n rows of ways added to phi, the quicker exact way for
    its size; returns its expected value."""
    way = _enumerated if len(trees.columns[t]) <= ENUMERATE_UP_TO else _by_leaf
    return way(trees, t, left_at, n, phi)


def _pattern_values(trees: TreeSet, t: int) -> tuple[np.ndarray, float] | None:
    """Tree t's Shapley values for every pattern of ways through it (row p: bit k of p set
    when the member goes left at the tree's k-th split, as _pattern numbers them; columns
    as the estimator's inputs), and its expected value; None for a tree with more than
    TABLE_UP_TO splits. The game reads a member only through those ways, so a member's
    values are its pattern's row: the same numbers, computed once per model."""
    table = trees.nodes[t]
    splits = _splits(table)
    if len(splits) > TABLE_UP_TO:
        return None
    patterns = np.arange(1 << len(splits))
    left_at = {int(i): (patterns >> k) & 1 == 1 for k, i in enumerate(splits)}
    values = np.zeros((len(patterns), len(trees.order)))
    expected = _game(trees, t, left_at, len(patterns), values)
    return values, expected


def _patterns(trees: TreeSet, t: int, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Members that take the same way at every split of tree t get the same Shapley values
    from it (the game reads a member only through those ways): one member per pattern of
    ways, and each member's pattern."""
    table, bits = trees.nodes[t], trees.bitsets[t]
    splits = _splits(table)
    if len(splits) > 62:  # a pattern too long for one integer: whole rows
        return np.arange(len(Z)), np.arange(len(Z))
    code = _pattern(table, bits, Z, splits)
    if len(splits) <= LOOKUP_UP_TO:  # few possible patterns: a lookup table, no sort
        seen = np.full(1 << len(splits), len(Z))
        seen[code] = np.arange(len(Z))  # some member with each pattern: any one will do
        present = np.flatnonzero(seen < len(Z))
        rank = np.zeros(len(seen), dtype=np.int64)
        rank[present] = np.arange(len(present))
        return seen[present], rank[code]
    _, first, which = np.unique(code, return_index=True, return_inverse=True)
    return first, which


def shapley(trees: TreeSet, Z: np.ndarray) -> tuple[np.ndarray, float]:
    """Exact tree-path-dependent Shapley values (rows, the estimator's input columns) on the
    log-odds scale, and the expected log-odds they start from. Z: internal() of the input.
    Each tree's values are computed once per pattern of ways through it (few for small
    trees) and handed to every member with that pattern."""
    phi = np.zeros((len(Z), Z.shape[1]), order="F")  # added to column by column
    base = trees.baseline
    for t, cols in enumerate(trees.columns):
        table, bits = trees.nodes[t], trees.bitsets[t]
        known = trees.pattern_values[t]
        if known is not None:  # every pattern's values, worked out once per model
            own, expected = known
            which = _pattern(table, bits, Z, _splits(table))
        else:
            first, which = _patterns(trees, t, Z)
            own = np.zeros((len(first), Z.shape[1]))
            expected = _game(trees, t, _ways(table, bits, Z[first]), len(first), own)
        base += expected
        for c in cols:
            phi[:, c] += own[which, c]
    out = np.zeros(phi.shape)
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

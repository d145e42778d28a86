"""Shapley values checked against brute force: every coalition enumerated on small models."""

from __future__ import annotations

from itertools import combinations
from math import factorial

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder, StandardScaler

from gym_churn.contract.spec import parse_contract
from gym_churn.models.estimators import build_model
from gym_churn.models.predict import inputs
from gym_churn.models.trees import delta, internal, read_trees
from gym_churn.models.trees import shapley as tree_shapley
from gym_churn.scoring.shapley import (
    MAX_BRUTE_FORCE_GROUPS,
    _exact_points,
    _kind,
    _linear_values,
    _tree_values,
    contributions,
    exact_group_shapley,
    group_matrix,
    to_points,
)
from tests.conftest import GYM_CONTRACT

COLUMNS = ["a", "b", "c", "d"]


def _data(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=COLUMNS)
    logit = 1.5 * X["a"] - X["b"] + X["a"] * X["c"] + 0.3 * X["d"]
    return X, (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)


def _brute_force(value, n: int) -> np.ndarray:
    """Shapley values straight from the definition, one player at a time."""
    phi = np.zeros(n)
    for i in range(n):
        others = [j for j in range(n) if j != i]
        for size in range(n):
            for s in combinations(others, size):
                w = factorial(size) * factorial(n - size - 1) / factorial(n)
                phi[i] += w * (value({*s, i}) - value(set(s)))
    return phi


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_exact_group_shapley_matches_the_definition(n: int) -> None:
    rng = np.random.default_rng(n)
    table = {}

    def value_of(s: frozenset) -> np.ndarray:
        if s not in table:
            table[s] = rng.normal(size=3) if s else np.zeros(3)
        return table[s]

    phi, empty = exact_group_shapley(lambda mask: value_of(frozenset(np.flatnonzero(mask))), n)
    for member in range(3):
        expected = _brute_force(lambda s, m=member: value_of(frozenset(s))[m], n)
        assert phi[member] == pytest.approx(expected, abs=1e-12)
    # efficiency: the values add up to the grand coalition's payoff minus the empty one's
    assert phi.sum(axis=1) == pytest.approx(value_of(frozenset(range(n))) - empty)


def _expected(node_id: int, nodes, x: np.ndarray, known: set[int]) -> float:
    """E[tree(x) | x_known], weighting unknown splits by the training members per branch
    (the game tree path dependent TreeSHAP solves exactly)."""
    node = nodes[node_id]
    if node["is_leaf"]:
        return float(node["value"])
    left, right = int(node["left"]), int(node["right"])
    f = int(node["feature_idx"])
    if f in known:
        goes_left = x[f] <= node["num_threshold"]
        return _expected(left if goes_left else right, nodes, x, known)
    cl, cr = nodes[left]["count"], nodes[right]["count"]
    return (cl * _expected(left, nodes, x, known) + cr * _expected(right, nodes, x, known)) / (
        cl + cr
    )


def test_tree_values_are_exact_shapley_values_of_the_trees() -> None:
    X, y = _data()
    model = Pipeline(
        [
            ("inputs", ColumnTransformer([("n", "passthrough", COLUMNS)])),
            ("model", HistGradientBoostingClassifier(max_iter=8, max_leaf_nodes=4, random_state=0)),
        ]
    ).fit(X, y)
    values, base, scale, owners = _tree_values(model, X.head(5), COLUMNS)
    assert scale == "log_odds"
    assert owners == COLUMNS
    trees = [p[0].nodes for p in model[-1]._predictors]
    for i in range(5):
        x = X.iloc[i].to_numpy()

        def v(s: set[int], x: np.ndarray = x) -> float:
            return sum(_expected(0, nodes, x, s) for nodes in trees)

        assert values[i] == pytest.approx(_brute_force(v, 4), abs=1e-9)
    raw = model[-1]._raw_predict(X.head(5).to_numpy())[:, 0]
    assert values.sum(axis=1) + base == pytest.approx(raw, abs=1e-9)


def test_linear_values_are_exact_interventional_shapley_values() -> None:
    X, y = _data()
    model = Pipeline(
        [
            ("inputs", ColumnTransformer([("n", StandardScaler(), COLUMNS)])),
            ("model", LogisticRegression()),
        ]
    ).fit(X, y)
    background = X.iloc[100:130]
    values, base = _linear_values(model, X.head(4), background)
    for i in range(4):

        def v(s: set[int], i: int = i) -> float:
            rows = background.copy()
            for j in s:
                rows[COLUMNS[j]] = X.iloc[i, j]
            return float(model.decision_function(rows).mean())

        assert values[i] == pytest.approx(_brute_force(v, 4), abs=1e-9)
    assert base == pytest.approx(float(model.decision_function(background).mean()))


def test_the_exact_method_on_groups_matches_brute_force() -> None:
    X, y = _data()
    model = Pipeline(
        [
            ("inputs", ColumnTransformer([("n", "passthrough", COLUMNS)])),
            ("model", HistGradientBoostingClassifier(max_iter=5, random_state=0)),
        ]
    ).fit(X, y)
    # a and c are one group (as a raw column and a feature made from it would be)
    groups = [[0, 2], [1], [3]]
    membership = np.zeros((4, 3))
    for g, cols in enumerate(groups):
        membership[cols, g] = 1
    background = X.iloc[200:215]
    points, base = _exact_points(model, X.head(3), background, ["ac", "b", "d"], membership)
    for i in range(3):

        def v(s: set[int], i: int = i) -> float:
            rows = background.copy()
            for g in s:
                for j in groups[g]:
                    rows[COLUMNS[j]] = X.iloc[i, j]
            return float(model.predict_proba(rows)[:, 1].mean())

        assert points[i] == pytest.approx(100 * _brute_force(v, 3), abs=1e-9)
    assert base == pytest.approx(float(model.predict_proba(background)[:, 1].mean()))


@pytest.mark.parametrize(
    "log_odds",
    [
        [[2.0, -0.5, 0.1]],
        [[-3.0, 0.2, 0.0]],
        [[0.0, 0.0, 0.0]],
        [[8.0, -7.5, 0.4], [0.01, 0.02, -0.03]],
    ],
)
@pytest.mark.parametrize("base", [-1.2, 0.0, 2.5])
def test_points_add_up_keep_signs_and_stay_within_100(log_odds: list, base: float) -> None:
    phi = np.asarray(log_odds)
    points = to_points(phi, base)
    sig = 1 / (1 + np.exp(-(base + phi.sum(axis=1))))
    assert points.sum(axis=1) == pytest.approx(100 * (sig - 1 / (1 + np.exp(-base))), abs=1e-9)
    assert np.all(np.sign(points) == np.sign(phi))
    assert np.abs(points).max() <= 100
    # within a sign, points are in proportion to log-odds
    for row_phi, row_pts in zip(phi, points, strict=True):
        up = row_phi > 0
        if up.sum() > 1:
            ratio = row_pts[up] / row_phi[up]
            assert ratio == pytest.approx(np.full(up.sum(), ratio[0]))


def test_group_matrix_puts_engineered_features_with_their_sources() -> None:
    columns = GYM_CONTRACT.model_features
    keys, matrix = group_matrix(columns, GYM_CONTRACT)
    assert matrix.sum(axis=1).tolist() == [1.0] * len(columns)
    owner = {c: keys[int(matrix[i].argmax())] for i, c in enumerate(columns)}
    for name in GYM_CONTRACT.engineered:
        assert {owner[name]} == {owner[s] for s in GYM_CONTRACT.sources(name)}


def _hgb_xy() -> tuple[pd.DataFrame, np.ndarray]:
    X, y = _data(200)
    return X.assign(e=np.where(X["a"] > 0, "x", "y"))[[*COLUMNS, "e"]], y


def _hgb(categorical: bool) -> Pipeline:
    enc = ColumnTransformer([("n", "passthrough", COLUMNS), ("c", OrdinalEncoder(), ["e"])])
    hgb = HistGradientBoostingClassifier(
        max_iter=3, categorical_features=[False] * 4 + [True] if categorical else None
    )
    return Pipeline([("inputs", enc), ("model", hgb)]).fit(*_hgb_xy())


def test_the_method_follows_the_model() -> None:
    X, y = _data(200)
    logreg = Pipeline([("inputs", StandardScaler()), ("model", LogisticRegression())]).fit(X, y)
    assert _kind(logreg) == "linear"
    assert _kind(_hgb(categorical=False)) == "tree"
    # category splits are read by gym_churn.models.trees (shap reads none)
    assert _kind(_hgb(categorical=True)) == "tree"
    assert _kind(CalibratedClassifierCV(logreg, cv=2).fit(X, y)) == "calibrated"
    hgb_iso = CalibratedClassifierCV(_hgb(categorical=True), cv=2, method="isotonic")
    assert _kind(hgb_iso.fit(*_hgb_xy())) == "calibrated"


def _hgb_data(categorical: bool) -> tuple[Pipeline, pd.DataFrame]:
    X, y = _data(300)
    X = X.assign(e=np.where(X["c"] > 0.3, "x", np.where(X["b"] > 0, "y", "z")))
    y = np.where(X["e"] == "y", 1 - y, y)  # a category effect for the trees to split on
    X.loc[::17, "b"] = np.nan  # gaps take the trees' missing-value branch
    enc = ColumnTransformer([("n", "passthrough", COLUMNS), ("c", OrdinalEncoder(), ["e"])])
    hgb = HistGradientBoostingClassifier(
        max_iter=10, max_leaf_nodes=4, random_state=0,
        categorical_features=[False] * 4 + [True] if categorical else None,
    )  # fmt: skip
    X = X[[*COLUMNS, "e"]]
    return Pipeline([("inputs", enc), ("model", hgb)]).fit(X, y), X


@pytest.mark.parametrize("categorical", [False, True])
def test_tree_values_add_up_to_sklearns_own_prediction(categorical: bool) -> None:
    # the full coalition routes every member exactly as sklearn does, category splits and
    # gaps included
    model, X = _hgb_data(categorical)
    Z = np.asarray(model[:-1].transform(X), dtype=float)
    values, base = tree_shapley(read_trees(model[-1]), internal(model[-1], Z))
    assert values.sum(axis=1) + base == pytest.approx(model[-1]._raw_predict(Z)[:, 0], abs=1e-9)


def test_tree_values_equal_shaps_tree_explainer() -> None:
    import shap

    model, X = _hgb_data(categorical=False)
    Z = np.asarray(model[:-1].transform(X), dtype=float)
    ours, base = tree_shapley(read_trees(model[-1]), internal(model[-1], Z))
    explainer = shap.TreeExplainer(model[-1], feature_perturbation="tree_path_dependent")
    assert ours == pytest.approx(explainer.shap_values(Z, check_additivity=False), abs=1e-9)
    assert base == pytest.approx(float(np.ravel(explainer.expected_value)[0]), abs=1e-9)


@pytest.mark.parametrize("categorical", [False, True])
def test_delta_predicts_a_change_from_the_trees_that_use_it(categorical: bool) -> None:
    model, X = _hgb_data(categorical)
    trees = read_trees(model[-1])
    changed = X.assign(a=X["a"] + 1.0, e="x")
    before = np.asarray(model[:-1].transform(X), dtype=float)
    after = np.asarray(model[:-1].transform(changed), dtype=float)
    moved = {0, 4}  # a and e, the encoded columns that changed
    raw = model[-1]._raw_predict
    inner = internal(model[-1], before), internal(model[-1], after)
    assert delta(trees, *inner, moved) == pytest.approx(
        raw(after)[:, 0] - raw(before)[:, 0], abs=1e-9
    )


@pytest.mark.parametrize("categorical", [False, True])
def test_large_trees_leaf_by_leaf_equal_enumerating_every_coalition(
    categorical: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 12-leaf trees split on up to all 5 columns: the leaf-by-leaf way runs; forcing
    # enumeration for every tree gives the definition to compare with
    import gym_churn.models.trees as trees_module

    X, y = _data(400)
    X = X.assign(e=np.where(X["c"] > 0.3, "x", np.where(X["b"] > 0, "y", "z")))
    y = np.where(X["e"] == "y", 1 - y, y)
    X.loc[::11, "a"] = np.nan
    X = X[[*COLUMNS, "e"]]
    enc = ColumnTransformer([("n", "passthrough", COLUMNS), ("c", OrdinalEncoder(), ["e"])])
    hgb = HistGradientBoostingClassifier(
        max_iter=8, max_leaf_nodes=12, min_samples_leaf=5, random_state=0,
        categorical_features=[False] * 4 + [True] if categorical else None,
    )  # fmt: skip
    model = Pipeline([("inputs", enc), ("model", hgb)]).fit(X, y)
    trees = read_trees(model[-1])
    assert max(len(c) for c in trees.columns) > trees_module.ENUMERATE_UP_TO
    assert _kind(model) == "tree"  # never coalition enumeration over the model (was: hung)
    encoded = np.asarray(model[:-1].transform(X), dtype=float)
    Z = internal(model[-1], encoded)
    by_leaf, base = tree_shapley(trees, Z)
    monkeypatch.setattr(trees_module, "ENUMERATE_UP_TO", 99)
    enumerated, base_enumerated = tree_shapley(trees, Z)
    assert by_leaf == pytest.approx(enumerated, abs=1e-10)
    assert base == pytest.approx(base_enumerated, abs=1e-12)
    raw = model[-1]._raw_predict(encoded)[:, 0]
    assert by_leaf.sum(axis=1) + base == pytest.approx(raw, abs=1e-9)
    if not categorical:  # shap reads numeric splits only
        import shap

        explainer = shap.TreeExplainer(model[-1], feature_perturbation="tree_path_dependent")
        shaps = explainer.shap_values(encoded, check_additivity=False)
        assert by_leaf == pytest.approx(shaps, abs=1e-9)


def _small_boosting(leaves: int, seed: int, gaps_in: str, iters: int):
    """A boosting model with `leaves`-leaf trees, its data (gaps in one column), its trees
    and their encoded input."""
    X, y = _data(600, seed=seed)
    X.loc[::7, gaps_in] = np.nan
    hgb = HistGradientBoostingClassifier(
        max_iter=iters, max_leaf_nodes=leaves, min_samples_leaf=3, random_state=0
    ).fit(X.to_numpy(), y)
    return hgb, X, read_trees(hgb), internal(hgb, X.to_numpy(dtype=float))


def _without_tables(trees, monkeypatch: pytest.MonkeyPatch):
    """The same trees with no pattern table: each chunk plays the game for its patterns."""
    import gym_churn.models.trees as trees_module

    monkeypatch.setattr(trees_module, "TABLE_UP_TO", -1)
    plain = trees_module.TreeSet(trees.nodes, trees.columns, trees.bitsets,
                                 trees.baseline, trees.order)  # fmt: skip
    assert all(v is None for v in plain.pattern_values)
    return plain


@pytest.mark.parametrize("leaves", [3, 12, 24])  # 2, 11 and 23 splits: lookup and sort
def test_values_per_pattern_of_ways_equal_values_per_member(
    leaves: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # each tree's values are computed once per pattern of ways through it; computing them
    # for every member alone (one "pattern" per member) must give the same numbers
    import gym_churn.models.trees as trees_module

    hgb, X, trees, Z = _small_boosting(leaves, seed=3, gaps_in="b", iters=6)
    trees = _without_tables(trees, monkeypatch)
    splits = max(int((~t["is_leaf"].astype(bool)).sum()) for t in trees.nodes)
    assert splits == leaves - 1
    first, _ = trees_module._patterns(trees, 0, Z)
    assert len(first) < len(Z)  # members do share patterns
    patterned, base = tree_shapley(trees, Z)
    rows = np.arange(len(Z))
    monkeypatch.setattr(trees_module, "_patterns", lambda trees, t, Z: (rows, rows))
    alone, base_alone = tree_shapley(trees, Z)
    assert patterned == pytest.approx(alone, abs=1e-12)
    assert base == pytest.approx(base_alone, abs=1e-12)
    assert patterned.sum(axis=1) + base == pytest.approx(hgb._raw_predict(X.to_numpy())[:, 0])


@pytest.mark.parametrize("leaves", [3, 5])  # 2 and 4 splits: each pattern's values in a table
def test_values_from_the_pattern_table_equal_values_computed_per_chunk(
    leaves: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a small tree's values are worked out once per model for every pattern of ways (even
    # ones no member takes); reading a member's row must give exactly what computing the
    # game for that member's pattern gives
    hgb, X, trees, Z = _small_boosting(leaves, seed=5, gaps_in="a", iters=8)
    assert all(v is not None for v in trees.pattern_values)
    tabled, base = tree_shapley(trees, Z)
    computed, base_computed = tree_shapley(_without_tables(trees, monkeypatch), Z)
    assert np.array_equal(tabled, computed)
    assert base == base_computed
    assert tabled.sum(axis=1) + base == pytest.approx(hgb._raw_predict(X.to_numpy())[:, 0])


# ---------------------------------------------------------------- calibrated models

N_TEXT = MAX_BRUTE_FORCE_GROUPS + 4  # more groups than coalitions can be enumerated for
SMALL_SETTINGS = {
    "logreg": {"C": 1.0, "max_iter": 500},
    "random_forest": {"n_estimators": 8, "max_depth": 5, "min_samples_leaf": 3,
                      "max_features": "sqrt"},
    "hist_gradient_boosting": {"learning_rate": 0.3, "max_iter": 10, "max_leaf_nodes": 4,
                               "min_samples_leaf": 10, "l2_regularization": 1.0},
}  # fmt: skip


def _many_text_columns(n: int = 240, seed: int = 0):
    """A contract and members with N_TEXT text columns and one number (one group each), a
    Yes/No target that depends on two of them."""
    rng = np.random.default_rng(seed)
    levels = ["low", "mid", "high"]
    features = {f"t{i:02d}": {"kind": "categorical", "values": levels} for i in range(N_TEXT)}
    features["spend"] = {"kind": "numeric", "min": 0}
    contract = parse_contract(
        {"name": "many text columns", "id": "member",
         "target": {"column": "left", "positive": ["Yes"], "negative": ["No"]},
         "features": features},
        source="many.yaml",
    )  # fmt: skip
    members = pd.DataFrame({c: rng.choice(levels, size=n) for c in features if c != "spend"})
    members["spend"] = rng.uniform(0, 100, size=n)
    score = (members["t00"] == "low") * 1.5 - members["spend"] / 50 + rng.normal(0, 0.7, n)
    members["member"] = [f"M{i}" for i in range(n)]
    return contract, members, (score > np.median(score)).astype(int).to_numpy()


@pytest.mark.parametrize("calibration", ["sigmoid", "isotonic"])
@pytest.mark.parametrize("family", list(SMALL_SETTINGS))
def test_calibrated_models_over_many_groups_add_up_to_their_own_probability(
    family: str, calibration: str
) -> None:
    # was: "exact Shapley values over 19 groups need 2^19 model calls per member" (issue 22)
    contract, members, y = _many_text_columns()
    X = inputs(members, contract)
    model = build_model(family, SMALL_SETTINGS[family], contract, seed=0,
                        calibration=calibration, calibration_folds=3).fit(X, y)  # fmt: skip
    contrib = contributions(model, contract, X.head(30), X.iloc[100:160])
    assert contrib.method == "calibrated"
    assert len(contrib.groups) == N_TEXT + 1 > MAX_BRUTE_FORCE_GROUPS
    own = model.predict_proba(X.head(30))[:, 1]
    assert contrib.points.sum(axis=1) == pytest.approx(100 * (own - contrib.base), abs=1e-8)
    assert 0 < contrib.base < 1
    assert np.abs(contrib.points).max() <= 100
    # the group the target depends on most is someone's largest contribution
    top = {contrib.groups[i] for i in np.abs(contrib.points).argmax(axis=1)}
    assert top & {"t00", "spend"}


@pytest.mark.parametrize("family", ["logreg", "hist_gradient_boosting"])
def test_a_calibrator_that_is_the_sigmoid_gives_the_uncalibrated_points(
    family: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the calibrated path is the uncalibrated one with the calibrator as the link: one fold
    # whose sigmoid calibrator is exactly 1 / (1 + e^-score) must give the same points
    from sklearn.frozen import FrozenEstimator

    contract, members, y = _many_text_columns(seed=1)
    X = inputs(members, contract)
    pipeline = build_model(family, SMALL_SETTINGS[family], contract, seed=0).fit(X, y)
    model = CalibratedClassifierCV(FrozenEstimator(pipeline), method="sigmoid").fit(X, y)
    (part,) = model.calibrated_classifiers_
    monkeypatch.setattr(part, "estimator", pipeline)  # the frozen wrapper's own model
    monkeypatch.setattr(part.calibrators[0], "a_", -1.0)
    monkeypatch.setattr(part.calibrators[0], "b_", 0.0)
    background = X.iloc[100:160]
    calibrated = contributions(model, contract, X.head(20), background)
    plain = contributions(pipeline, contract, X.head(20), background)
    assert calibrated.method == "calibrated"
    assert calibrated.points == pytest.approx(plain.points, abs=1e-10)
    assert calibrated.base == pytest.approx(plain.base, abs=1e-12)

"""The models' runtime forms (what gym-churn-score loads instead of scikit-learn): the same
encoding, log-odds and segments as the fitted pipelines (boosted trees, logistic regression,
the segment assigner), probabilities to 1e-12 (numpy's exp against SciPy's: the last bits
differ by CPU), and exact round trips through runtime.npz."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import NearestCentroid
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from gym_churn.contract.checks import check_export
from gym_churn.contract.spec import parse_contract
from gym_churn.errors import ModelFileError
from gym_churn.io import read_arrays, write_arrays
from gym_churn.models.estimators import build_model
from gym_churn.models.predict import inputs
from gym_churn.models.runtime import (
    BoostedTrees,
    Centroids,
    LinearModel,
    boosted_trees,
    centroids,
    from_arrays,
    linear_model,
    runtime_model,
    to_arrays,
)
from gym_churn.models.trees import internal
from gym_churn.scoring.shapley import contributions
from gym_churn.segments.clustering import segment_encoder
from tests.conftest import GYM_CONTRACT, OTHER_CONTRACT, make_members, make_other

OTHER = parse_contract(OTHER_CONTRACT, source="other.yaml")
CASES = {"gym": (GYM_CONTRACT, make_members), "other": (OTHER, make_other)}


def _members(business: str, n: int, seed: int) -> pd.DataFrame:
    contract, make = CASES[business]
    return check_export(make(n, seed), contract, source="test", labelled=True).members


def _fitted(
    business: str, leaves: int, encoding: str = "native"
) -> tuple[object, pd.DataFrame, object]:
    contract, _ = CASES[business]
    members = _members(business, 500, 0)
    X = inputs(members, contract)
    hyper = {"max_iter": 15, "max_leaf_nodes": leaves, "min_samples_leaf": 5, "encoding": encoding}
    model = build_model("hist_gradient_boosting", hyper, contract, seed=0)
    return model.fit(X, members[contract.target.column]), X, contract


def _new_month(business: str, X: pd.DataFrame, contract) -> pd.DataFrame:
    new = inputs(_members(business, 300, 1), contract)
    for column in contract.categorical:
        new[column] = new[column].astype(object)
        new.loc[new.index[::7], column] = "never seen"  # scored as missing, as sklearn does
    numbers = [c for c in new.columns if c not in contract.categorical]
    new.loc[new.index[::5], numbers[0]] = np.nan
    return new


@pytest.mark.parametrize(
    ("business", "encoding"),
    [("gym", "native"), ("other", "native"), ("other", "onehot"), ("other", "target")],
)  # other: text categories, each encoding the trees can read them in
@pytest.mark.parametrize("leaves", [3, 15])
def test_boosted_trees_read_and_predict_as_the_pipeline(
    business: str, encoding: str, leaves: int
) -> None:
    model, X, contract = _fitted(business, leaves, encoding)
    new = _new_month(business, X, contract)
    boosted = boosted_trees(model)
    assert isinstance(boosted, BoostedTrees)
    assert bool(boosted.categories) == bool(contract.categorical)
    width = model[:-1].transform(X.head(1)).shape[1]
    assert len(boosted.columns) == width  # one-hot: a column per level, each its own table
    expected = internal(model[-1], np.asarray(model[:-1].transform(new), dtype=float))
    assert np.array_equal(boosted.encode(new), expected, equal_nan=True)
    # the same trees summed in the same order: exact; then exp, whose last bits vary by CPU
    assert np.array_equal(boosted.log_odds(new), model.decision_function(new))
    np.testing.assert_allclose(
        boosted.predict_proba(new), model.predict_proba(new), rtol=0, atol=1e-12
    )


@pytest.mark.parametrize("encoding", ["native", "onehot", "target"])
def test_reasons_of_every_encoding_add_up_to_the_pipelines_probability(encoding: str) -> None:
    # a one-hot category's columns are one player: its credit is not split between levels
    model, X, contract = _fitted("other", 7, encoding)
    new = _new_month("other", X, contract)
    parts = contributions(model, contract, new, X.head(50))
    assert parts.method == "tree"
    assert parts.groups == list(contract.groups)
    p = model.predict_proba(new)[:, 1]
    assert parts.points.sum(axis=1) == pytest.approx(100 * (p - parts.base), abs=1e-9)
    # churn depends on the plan: its (encoded) columns get credit, under one group
    assert np.abs(parts.points[:, parts.groups.index("plan")]).max() > 1


@pytest.mark.parametrize("business", ["gym", "other"])
def test_centroids_assign_the_segments_the_pipeline_assigns(business: str) -> None:
    contract, _ = CASES[business]
    members = _members(business, 400, 2)
    encoder = segment_encoder(contract).fit(members)
    Z = encoder.transform(members)
    labels = KMeans(4, n_init=2, random_state=0).fit_predict(Z)
    assigner = Pipeline([("encode", encoder), ("centroid", NearestCentroid().fit(Z, labels))])
    new = _members(business, 300, 3)
    for column in contract.segment_columns[:2]:
        new.loc[new.index[::6], column] = np.nan  # imputed with the training median
    runtime = centroids(assigner)
    assert isinstance(runtime, Centroids)
    assert np.array_equal(runtime.predict(new), assigner.predict(new))


def test_other_models_have_no_runtime_form() -> None:
    members = _members("gym", 300, 0)
    X, y = inputs(members, GYM_CONTRACT), members[GYM_CONTRACT.target.column]
    logreg = build_model("logreg", {}, GYM_CONTRACT, 0)
    assert boosted_trees(logreg.fit(X, y)) is None
    calibrated = build_model(
        "hist_gradient_boosting", {"max_iter": 5}, GYM_CONTRACT, 0, calibration="sigmoid",
        calibration_folds=2,
    ).fit(X, y)  # fmt: skip
    assert boosted_trees(calibrated) is None
    scaled = Pipeline([("encode", ColumnTransformer([("n", StandardScaler(), ["Age"])])),
                       ("model", LogisticRegression())]).fit(X, y)  # fmt: skip
    assert centroids(scaled) is None
    assert boosted_trees(CalibratedClassifierCV(scaled, cv=2).fit(X, y)) is None


@pytest.mark.parametrize("encoding", ["native", "onehot", "target"])
def test_runtime_npz_round_trip_is_exact_and_repeatable(tmp_path, encoding: str) -> None:
    model, X, contract = _fitted("other", 15, encoding)
    new = _new_month("other", X, contract)
    members = _members("other", 300, 4)
    encoder = segment_encoder(OTHER).fit(members)
    Z = encoder.transform(members)
    labels = KMeans(3, n_init=2, random_state=0).fit_predict(Z)
    assigner = centroids(
        Pipeline([("encode", encoder), ("centroid", NearestCentroid().fit(Z, labels))])
    )
    boosted = boosted_trees(model)
    write_arrays(to_arrays(boosted, assigner), tmp_path / "a.npz")
    write_arrays(to_arrays(boosted, assigner), tmp_path / "b.npz")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    loaded, loaded_assigner = from_arrays(read_arrays(tmp_path / "a.npz"))
    assert np.array_equal(loaded.log_odds(new), model.decision_function(new))
    assert np.array_equal(loaded.predict_proba(new), boosted.predict_proba(new))  # same code
    np.testing.assert_allclose(
        loaded.predict_proba(new), model.predict_proba(new), rtol=0, atol=1e-12
    )
    assert np.array_equal(loaded_assigner.predict(members), assigner.predict(members))
    assert from_arrays(read_arrays(_written(tmp_path / "c.npz", to_arrays(None, None)))) == (
        None, None,
    )  # fmt: skip


def test_runtime_npz_written_before_the_encoding_tables_still_loads(tmp_path) -> None:
    # runtime.npz files of native models kept each category's codes without the gap's entry
    model, X, contract = _fitted("other", 7)
    boosted = boosted_trees(model)
    arrays = to_arrays(boosted, None)
    meta = json.loads(str(arrays["meta"]))
    tables = meta["model"].pop("tables")
    old = {k: v for k, v in arrays.items() if not k.startswith("model_table_")}
    for i, column in enumerate(meta["model"]["categories"]):
        j = boosted.columns.index(column)
        assert j in tables
        old[f"model_inner_{i}"] = arrays[f"model_table_{j}"][:-1]
    old["meta"] = np.asarray(json.dumps(meta))
    loaded, _ = from_arrays(old)
    new = _new_month("other", X, contract)
    assert np.array_equal(loaded.encode(new), boosted.encode(new), equal_nan=True)
    assert np.array_equal(loaded.predict_proba(new), boosted.predict_proba(new))


def _written(path, arrays):
    write_arrays(arrays, path)
    return path


def _logreg(encoding: str) -> tuple[object, pd.DataFrame, pd.DataFrame]:
    """Logistic regression on the other export (text categories), fitted with gaps in a
    category, in numbers (missing indicators) and a number of gaps only; and a new month
    with gaps, unseen levels and a gap in a number that had none in training."""
    members = _members("other", 500, 0)
    X = inputs(members, OTHER)
    for column in OTHER.categorical:
        X[column] = X[column].astype(object)
        X.loc[X.index[::9], column] = np.nan
    X["tenure_months"] = np.nan  # imputed as 0 (keep_empty_features), its indicator always 1
    model = build_model("logreg", {"encoding": encoding}, OTHER, seed=0)
    model.fit(X, members[OTHER.target.column])
    new = _new_month("other", X, OTHER)  # unseen levels; gaps in the first number
    for column in OTHER.categorical:
        new.loc[new.index[1::11], column] = np.nan
    new.loc[new.index[::4], "fee"] = np.nan
    return model, X, new


@pytest.mark.parametrize("encoding", ["onehot", "target"])
def test_linear_model_encodes_and_predicts_as_the_pipeline(encoding: str) -> None:
    model, X, new = _logreg(encoding)
    linear = linear_model(model)
    assert isinstance(linear, LinearModel)
    assert isinstance(runtime_model(model), LinearModel)
    assert boosted_trees(model) is None
    assert set(linear.categories) == set(OTHER.categorical)
    # the indicators of the numbers training had gaps in, after the numbers
    flagged = [linear.columns[j] for j in linear.indicators]
    assert sorted(flagged) == sorted(c for c in X.columns if X[c].isna().any()
                                     and c not in OTHER.categorical)  # fmt: skip
    assert "tenure_months" in flagged
    assert new["fee"].isna().any()
    assert (new["plan"] == "never seen").any()
    assert new["plan"].isna().any()
    # the same encoded inputs, bit for bit, and the same product of them with the
    # coefficients: the log-odds bit for bit; exp's last bits differ (numpy's, SciPy's)
    assert np.array_equal(linear.encode(new), model[:-1].transform(new))
    assert np.array_equal(linear.log_odds(new), model.decision_function(new))
    np.testing.assert_allclose(
        linear.predict_proba(new), model.predict_proba(new), rtol=1e-12, atol=0
    )
    assert linear.predict_proba(new.head(0)).shape == (0, 2)


@pytest.mark.parametrize("encoding", ["onehot", "target"])
def test_linear_model_round_trips_through_runtime_npz(tmp_path, encoding: str) -> None:
    model, _, new = _logreg(encoding)
    linear = linear_model(model)
    write_arrays(to_arrays(linear, None), tmp_path / "a.npz")
    write_arrays(to_arrays(linear, None), tmp_path / "b.npz")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    loaded, assigner = from_arrays(read_arrays(tmp_path / "a.npz"))
    assert isinstance(loaded, LinearModel)
    assert assigner is None
    assert loaded.columns == linear.columns
    assert loaded.indicators == linear.indicators
    assert np.array_equal(loaded.log_odds(new), model.decision_function(new))
    assert np.array_equal(loaded.predict_proba(new), linear.predict_proba(new))


@pytest.mark.parametrize("encoding", ["onehot", "target"])
def test_linear_models_reasons_are_the_pipelines(encoding: str) -> None:
    model, X, new = _logreg(encoding)
    loaded, _ = from_arrays(to_arrays(linear_model(model), None))
    ours = contributions(loaded, OTHER, new, X.head(60))
    theirs = contributions(model, OTHER, new, X.head(60))
    assert ours.method == theirs.method == "linear"
    assert ours.groups == theirs.groups
    assert np.array_equal(ours.points, theirs.points)
    assert ours.base == theirs.base
    p = model.predict_proba(new)[:, 1]
    assert ours.points.sum(axis=1) == pytest.approx(100 * (p - ours.base), abs=1e-9)


def test_calibrated_logreg_and_other_families_have_no_linear_form() -> None:
    members = _members("other", 300, 0)
    X, y = inputs(members, OTHER), members[OTHER.target.column]
    calibrated = build_model("logreg", {}, OTHER, 0, calibration="sigmoid", calibration_folds=2)
    assert runtime_model(calibrated.fit(X, y)) is None
    forest = build_model("random_forest", {"n_estimators": 5}, OTHER, 0).fit(X, y)
    assert linear_model(forest) is None
    assert runtime_model(forest) is None
    boosting = build_model("hist_gradient_boosting", {"max_iter": 5}, OTHER, 0).fit(X, y)
    assert linear_model(boosting) is None
    assert isinstance(runtime_model(boosting), BoostedTrees)
    numbers = [c for c in X.columns if c not in OTHER.categorical]
    X = X.fillna(0)
    scaled = Pipeline([("encode", ColumnTransformer([("n", StandardScaler(), numbers)])),
                       ("model", LogisticRegression())]).fit(X, y)  # fmt: skip
    assert linear_model(scaled) is None  # numbers not imputed: a layout it does not know
    imputed = Pipeline([("encode", ColumnTransformer([("n", SimpleImputer(), numbers)])),
                        ("model", LogisticRegression(max_iter=1000))]).fit(X, y)  # fmt: skip
    # numbers imputed, unscaled: known. Its encoded inputs come out column-major here, so
    # the product sums in another order than the runtime form's: equal to the last bits
    linear = linear_model(imputed)
    assert np.array_equal(linear.encode(X), imputed[:-1].transform(X))
    np.testing.assert_allclose(
        linear.log_odds(X), imputed.decision_function(X), rtol=1e-12, atol=1e-12
    )


def test_runtime_npz_refuses_what_needs_pickle(tmp_path) -> None:
    np.savez(tmp_path / "bad.npz", meta=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ModelFileError, match=r"bad\.npz"):
        read_arrays(tmp_path / "bad.npz")
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(ModelFileError, match=r"text\.npz"):
        read_arrays(tmp_path / "text.npz")


def _numbers_only(step: object, frame: pd.DataFrame, y: pd.Series) -> Pipeline:
    columns = ColumnTransformer([("n", step, list(frame.columns))])
    return Pipeline([("encode", columns), ("model", LogisticRegression(max_iter=1000))]).fit(
        frame, y
    )


# the all-gaps column: scikit-learn says it leaves it out, which is the point of the case
@pytest.mark.filterwarnings("ignore:Skipping features without any observed values")
@pytest.mark.parametrize(
    "layout",
    [
        "gaps coded -1",  # an imputer of another missing value
        "two scalers",  # more than one step after the imputer
        "a column of gaps only",  # left out by the imputer: the columns no longer line up
        "sparse indicator",
        "columns passed through",  # the input step keeps columns it does not name
    ],
)
def test_a_logistic_regression_layout_it_does_not_know_has_no_linear_form(layout: str) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)})
    frame.loc[::7, "a"] = np.nan
    y = pd.Series((rng.random(60) < 0.4).astype(int))
    if layout == "gaps coded -1":
        model = _numbers_only(SimpleImputer(missing_values=-1.0), frame.fillna(-1.0), y)
    elif layout == "two scalers":
        steps = Pipeline([("i", SimpleImputer()), ("s", StandardScaler()), ("t", StandardScaler())])
        model = _numbers_only(steps, frame, y)
    elif layout == "a column of gaps only":
        model = _numbers_only(SimpleImputer(), frame.assign(b=np.nan), y)
    elif layout == "sparse indicator":
        model = _numbers_only(SimpleImputer(add_indicator=True), frame, y)
        model[0].transformers_[0][1].indicator_.sparse = True  # as if fitted with sparse=True
    else:
        columns = ColumnTransformer([("n", SimpleImputer(), ["a"])], remainder="passthrough")
        model = Pipeline([("encode", columns), ("model", LogisticRegression())]).fit(
            frame.fillna(0.0), y
        )
    assert linear_model(model) is None
    assert runtime_model(model) is None


def test_a_dropped_part_puts_out_nothing_and_the_rest_is_read() -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)})
    frame.loc[::5, "a"] = np.nan
    y = pd.Series((rng.random(60) < 0.4).astype(int))
    columns = ColumnTransformer([("n", SimpleImputer(add_indicator=True), ["a"]),
                                 ("unused", "drop", ["b"])])  # fmt: skip
    model = Pipeline([("encode", columns), ("model", LogisticRegression())]).fit(frame, y)

    linear = linear_model(model)

    assert linear is not None
    assert linear.columns == ["a", "a"]  # the number, then its indicator
    np.testing.assert_allclose(
        linear.log_odds(frame), model.decision_function(frame), rtol=1e-12, atol=1e-12
    )

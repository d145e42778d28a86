"""The models' runtime forms (what gym-churn-score loads instead of scikit-learn): the same
encoding, log-odds and segments as the fitted pipelines, probabilities to 1e-12 (numpy's exp
against SciPy's: the last bits differ by CPU), and exact round trips through runtime.npz."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
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
    boosted_trees,
    centroids,
    from_arrays,
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


def test_runtime_npz_refuses_what_needs_pickle(tmp_path) -> None:
    np.savez(tmp_path / "bad.npz", meta=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ModelFileError, match=r"bad\.npz"):
        read_arrays(tmp_path / "bad.npz")
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(ModelFileError, match=r"text\.npz"):
        read_arrays(tmp_path / "text.npz")

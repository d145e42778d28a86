"""Grouped model reliance (gym_churn.evaluation.importance.grouped_reliance): a group's columns
are shuffled together, the score is the rise in log loss, sorted, seeded, on a sample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from gym_churn.evaluation.importance import grouped_reliance, log_loss

COLUMNS = ["group", "columns", "importance", "importance_std"]


def _data(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Churn needs both a and b (their sum); c is noise the model does not need."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({c: rng.normal(size=n) for c in "abc"})
    y = pd.Series((X["a"] + X["b"] + 0.3 * rng.normal(size=n) > 0).astype(int))
    return X, y


class Recorder:
    """A fixed model (churn probability from a + b) that keeps every frame it is shown."""

    def __init__(self) -> None:
        self.seen: list[pd.DataFrame] = []

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        self.seen.append(X.copy())
        p = 1 / (1 + np.exp(-3 * (X["a"] + X["b"]).to_numpy()))
        return np.column_stack([1 - p, p])


@pytest.fixture(scope="module")
def fitted() -> tuple[LogisticRegression, pd.DataFrame, pd.Series]:
    X, y = _data()
    return LogisticRegression().fit(X, y), X, y


def test_a_group_the_model_needs_loses_and_an_unused_group_does_not(fitted) -> None:
    model, X, y = fitted

    table = grouped_reliance(
        model, X, y, {"ab": ["a", "b"], "c": ["c"]}, repeats=3, max_rows=1000, seed=0
    )

    assert list(table.columns) == COLUMNS
    assert table["group"].tolist() == ["ab", "c"]  # largest first
    assert table.loc[0, "columns"] == "a + b"
    assert table.loc[0, "importance"] > 0.3
    assert abs(table.loc[1, "importance"]) < 0.02
    assert (table["importance_std"] >= 0).all()


def test_shuffling_the_group_costs_more_than_shuffling_either_column(fitted) -> None:
    model, X, y = fitted
    groups = {"ab": ["a", "b"], "a": ["a"], "b": ["b"]}

    table = grouped_reliance(model, X, y, groups, repeats=3, max_rows=1000, seed=0)
    rise = table.set_index("group")["importance"]

    assert rise["ab"] > rise["a"] > 0
    assert rise["ab"] > rise["b"] > 0
    assert table["importance"].is_monotonic_decreasing


def test_a_groups_columns_move_together_and_the_rest_stay() -> None:
    X, y = _data(50)
    model = Recorder()

    grouped_reliance(model, X, y, {"ab": ["a", "b"]}, repeats=2, max_rows=1000, seed=1)

    base, *shuffled = model.seen
    assert len(shuffled) == 2
    pairs = set(zip(base["a"], base["b"], strict=True))
    for frame in shuffled:
        assert not np.array_equal(frame["a"], base["a"])  # shuffled ...
        assert set(zip(frame["a"], frame["b"], strict=True)) == pairs  # ... row pairs kept
        pd.testing.assert_series_equal(frame["c"], base["c"])  # not in the group


def test_columns_of_a_group_missing_from_the_frame_are_left_out(fitted) -> None:
    model, X, y = fitted

    table = grouped_reliance(
        model, X, y, {"ab": ["a", "b", "a_engineered"]}, repeats=1, max_rows=1000, seed=0
    )

    assert table.loc[0, "columns"] == "a + b"


def test_ties_are_sorted_by_group_name() -> None:
    X, y = _data(60)
    model = Recorder()

    table = grouped_reliance(model, X, y, {"z": ["c"], "m": ["c"]}, repeats=2, max_rows=99, seed=0)

    assert table["group"].tolist() == ["m", "z"]
    assert table["importance"].tolist() == [0.0, 0.0]  # the model never reads c


def test_the_same_seed_gives_the_same_table_and_another_seed_another(fitted) -> None:
    model, X, y = fitted
    groups = {"ab": ["a", "b"], "c": ["c"]}

    def run(seed: int) -> pd.DataFrame:
        return grouped_reliance(model, X, y, groups, repeats=3, max_rows=1000, seed=seed)

    pd.testing.assert_frame_equal(run(5), run(5))
    assert not np.allclose(run(5)["importance"], run(6)["importance"])


def test_at_most_max_rows_are_scored_and_labels_follow_their_rows() -> None:
    X, y = _data(300)
    X.index = y.index = pd.RangeIndex(1000, 1300)  # labels are matched by index, not position
    model = Recorder()

    table = grouped_reliance(model, X, y, {"ab": ["a", "b"]}, repeats=2, max_rows=80, seed=0)

    assert {len(frame) for frame in model.seen} == {80}
    assert set(model.seen[0].index) <= set(X.index)
    # the model predicts y well; misaligned labels would make shuffling cost nothing
    assert table.loc[0, "importance"] > 0.3

    again = Recorder()
    grouped_reliance(again, X, y, {"ab": ["a", "b"]}, repeats=2, max_rows=80, seed=0)
    assert again.seen[0].index.equals(model.seen[0].index)  # the same seeded sample


@pytest.mark.parametrize(
    "p",
    [
        np.array([0.9, 0.2, 0.6, 0.4, 0.5]),
        np.array([0.0, 1.0, 1.0, 0.0, 0.5]),  # certain and wrong: clipped, not infinite
        np.array([1e-20, 1 - 1e-17, 0.3, 0.7, 1e-300]),
    ],
)
def test_log_loss_is_scikit_learns(p: np.ndarray) -> None:
    from sklearn.metrics import log_loss as sklearn_log_loss

    y = np.array([1, 0, 1, 0, 1])

    assert log_loss(y, p) == pytest.approx(sklearn_log_loss(y, p, labels=[0, 1]), rel=1e-15)


def test_a_boosting_pipeline_is_shuffled_through_its_runtime_form_with_its_own_figures(
    gym_contract,
) -> None:
    from sklearn.metrics import log_loss as sklearn_log_loss

    from gym_churn.models.estimators import build_model
    from gym_churn.models.predict import inputs
    from tests.conftest import make_members

    members = make_members(300)
    X, y = inputs(members, gym_contract), members["Churn"]
    model = build_model("hist_gradient_boosting", {"max_iter": 10}, gym_contract, seed=0).fit(X, y)
    groups = {"Lifetime": ["Lifetime"], "Age": ["Age"]}

    table = grouped_reliance(model, X, y, groups, repeats=3, max_rows=300, seed=1)

    # the same shuffles scored by scikit-learn's own predict_proba and log_loss
    rng = np.random.default_rng(1)
    base = sklearn_log_loss(y, model.predict_proba(X)[:, 1], labels=[0, 1])
    for group in groups:
        rises = []
        for _ in range(3):
            shuffled = X.assign(**{group: X[group].to_numpy()[rng.permutation(len(X))]})
            p = model.predict_proba(shuffled)[:, 1]
            rises.append(sklearn_log_loss(y, p, labels=[0, 1]) - base)
        row = table.set_index("group").loc[group]
        assert row["importance"] == pytest.approx(np.mean(rises), rel=1e-12, abs=1e-15)

"""Model construction, cross-validation and threshold choice (gym_churn.modeling)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from gym_churn.columns import ID_COLUMN
from gym_churn.modeling import (
    build_model,
    choose_threshold,
    confusion_at_thresholds,
    cross_validate_oof,
    fit_with_cv,
    member_oof_scores,
    permutation_drivers,
    split_xy,
    threshold_objective,
)
from gym_churn.params import MODEL_FAMILIES, Threshold, Train

FAMILY_CLASS = {
    "logreg": LogisticRegression,
    "random_forest": RandomForestClassifier,
    "hist_gradient_boosting": HistGradientBoostingClassifier,
}
CALIBRATIONS = ("none", "sigmoid", "isotonic")

# Hand example used by several tests. Sorted by score (high first):
#   score 0.9 0.8 0.8 0.4 0.4 0.1
#   label  1   0   1   1   0   0      3 churners, 3 retained
# The rows are given shuffled so that the functions must sort them themselves.
HAND_Y = np.array([0, 1, 1, 0, 0, 1])
HAND_P = np.array([0.4, 0.9, 0.8, 0.1, 0.8, 0.4])
HAND_COUNTS = pd.DataFrame(
    {
        "threshold": [0.9, 0.8, 0.4, 0.1],
        "tp": [1, 2, 3, 3],
        "fp": [0, 1, 2, 3],
        "fn": [2, 1, 0, 0],
        "tn": [3, 2, 1, 0],
    }
)
# F1 = 2tp / (2tp + fp + fn) at each threshold
HAND_F1 = [2 / 4, 4 / 6, 6 / 8, 6 / 9]


def _threshold(**update: float | str) -> Threshold:
    base = {"objective": "f1", "offer_cost": 10.0, "offer_success_rate": 0.3, "member_value": 100.0}
    return Threshold(**{**base, **update})


@pytest.fixture(scope="module")
def xy() -> tuple[pd.DataFrame, pd.Series]:
    X, y = make_classification(
        n_samples=200, n_features=6, n_informative=3, weights=[0.7], random_state=0
    )
    return pd.DataFrame(X, columns=[f"x{i}" for i in range(6)]), pd.Series(y, name="Churn")


def _frame(X: pd.DataFrame, y: pd.Series) -> pd.DataFrame:
    """A processed-members-like frame: member id first, features, target last."""
    return X.assign(Churn=y).assign(**{ID_COLUMN: np.arange(1, len(X) + 1)})


def _tiny_train(params, **update) -> Train:
    """params.train with the smallest hyperparameters, so fitting takes milliseconds."""
    train = params.train
    return train.model_copy(
        update={
            "cv_folds": 3,
            "calibration_folds": 2,
            "logreg": train.logreg.model_copy(update={"max_iter": 200}),
            "random_forest": train.random_forest.model_copy(update={"n_estimators": 5}),
            "hist_gradient_boosting": train.hist_gradient_boosting.model_copy(
                update={"max_iter": 5, "min_samples_leaf": 5}
            ),
            **update,
        }
    )


# ---------------------------------------------------------------- confusion and threshold


def test_confusion_at_thresholds_hand_example_with_ties():
    counts = confusion_at_thresholds(HAND_Y, HAND_P)

    pd.testing.assert_frame_equal(counts, HAND_COUNTS, check_dtype=False)


def test_confusion_rows_always_add_up():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 50)
    p = np.round(rng.uniform(size=50), 1)  # many ties

    counts = confusion_at_thresholds(y, p)

    assert (counts[["tp", "fp", "fn", "tn"]].sum(axis=1) == 50).all()
    assert counts["threshold"].is_monotonic_decreasing
    assert counts["threshold"].is_unique
    assert len(counts) == len(np.unique(p))
    for row in counts.itertuples():
        flagged = p >= row.threshold
        assert row.tp == int((flagged & (y == 1)).sum())
        assert row.fp == int((flagged & (y == 0)).sum())


def test_f1_objective_hand_values():
    values = threshold_objective(HAND_COUNTS, _threshold(objective="f1"))

    assert values.tolist() == pytest.approx(HAND_F1)


def test_f1_objective_is_zero_without_positives():
    counts = confusion_at_thresholds(np.zeros(3), np.array([0.9, 0.5, 0.1]))

    values = threshold_objective(counts, _threshold(objective="f1"))

    assert values.tolist() == [0.0, 0.0, 0.0]


def test_choose_threshold_f1_hand_example():
    choice = choose_threshold(HAND_Y, HAND_P, _threshold(objective="f1"))

    # best F1 = 6/8 at 0.4: flag both members tied at 0.4, catching every churner
    assert choice.threshold == 0.4
    assert choice.value == pytest.approx(0.75)
    assert choice.objective == "f1"


@pytest.mark.parametrize(
    ("offer_cost", "threshold", "value"),
    [
        # a saved churner is worth 0.5 * 100 = 50; every flagged member costs offer_cost
        # profit at 0.9 / 0.8 / 0.4 / 0.1 = 1*50 - 1c / 2*50 - 3c / 3*50 - 5c / 3*50 - 6c
        (10.0, 0.4, 100.0),  # 40 / 70 / 100 / 90
        (30.0, 0.9, 20.0),  # 20 / 10 / 0 / -30
        (0.0, 0.4, 150.0),  # 50 / 100 / 150 / 150: tie goes to the higher cut-off
    ],
)
def test_choose_threshold_profit_hand_example(offer_cost, threshold, value):
    cfg = _threshold(
        objective="profit", offer_cost=offer_cost, offer_success_rate=0.5, member_value=100.0
    )

    choice = choose_threshold(HAND_Y, HAND_P, cfg)

    assert choice.threshold == threshold
    assert choice.value == pytest.approx(value)
    assert choice.objective == "profit"


def test_profit_ties_go_to_the_higher_threshold():
    # churner worth 0.5 * 40 = 20, offer 10: profit 10 at 0.9, 0 at 0.8, 10 at 0.7
    cfg = _threshold(objective="profit", offer_cost=10.0, offer_success_rate=0.5, member_value=40.0)

    choice = choose_threshold(np.array([1, 0, 1]), np.array([0.9, 0.8, 0.7]), cfg)

    assert choice.threshold == 0.9
    assert choice.value == pytest.approx(10.0)


@pytest.mark.parametrize(
    ("y", "p", "flagged"),
    [
        (np.array([1, 0, 1, 0, 1]), np.array([0.95, 0.6, 0.5, 0.3, 0.2]), 1),
        (np.array([1, 1, 0, 0, 1]), np.array([0.9, 0.9, 0.6, 0.3, 0.2]), 2),  # tie at the top
    ],
)
def test_very_high_offer_cost_flags_only_the_top(y, p, flagged):
    cfg = _threshold(objective="profit", offer_cost=1e6, offer_success_rate=0.3, member_value=100.0)

    choice = choose_threshold(y, p, cfg)

    # no cut-off makes a profit; the least bad one flags as few members as possible
    assert choice.threshold == p.max()
    assert int((p >= choice.threshold).sum()) == flagged
    assert choice.value == pytest.approx(flagged * (0.3 * 100.0 - 1e6))


# ---------------------------------------------------------------- model construction


@pytest.mark.parametrize("calibration", CALIBRATIONS)
@pytest.mark.parametrize("family", MODEL_FAMILIES)
def test_build_model_gives_an_unfitted_estimator_that_fits(params, xy, family, calibration):
    X, y = xy
    train = _tiny_train(params, model=family, calibration=calibration)

    model = build_model(train, seed=3)

    with pytest.raises(NotFittedError):
        check_is_fitted(model)
    pipeline = model.estimator if calibration != "none" else model
    if calibration != "none":
        assert isinstance(model, CalibratedClassifierCV)
        assert model.method == calibration
        assert model.cv.n_splits == train.calibration_folds
    assert isinstance(pipeline, Pipeline)
    final = pipeline.steps[-1][1]
    assert isinstance(final, FAMILY_CLASS[family])
    assert final.random_state == 3
    for key, value in train.hyperparameters().items():
        assert final.get_params()[key] == value, key

    fitted = model.fit(X, y)
    proba = fitted.predict_proba(X)
    assert proba.shape == (len(X), 2)
    assert np.all((proba >= 0) & (proba <= 1))
    assert proba[:, 1].std() > 0


def test_logreg_is_scaled_inside_the_pipeline(params):
    model = build_model(_tiny_train(params, model="logreg", calibration="none"), seed=0)

    assert [name for name, _ in model.steps] == ["scale", "model"]


def test_build_model_is_reproducible(params, xy):
    X, y = xy
    train = _tiny_train(params, model="random_forest", calibration="sigmoid")

    first = build_model(train, seed=5).fit(X, y).predict_proba(X)
    second = build_model(train, seed=5).fit(X, y).predict_proba(X)

    np.testing.assert_array_equal(first, second)


# ---------------------------------------------------------------- cross-validation


@pytest.mark.parametrize("folds", [2, 3, 5])
def test_cross_validate_oof_covers_every_row(params, xy, folds):
    X, y = xy
    model = build_model(_tiny_train(params, model="logreg", calibration="none"), seed=0)

    result = cross_validate_oof(model, X, y, folds=folds, seed=0)

    assert result.oof_proba.shape == (len(X),)
    assert not np.isnan(result.oof_proba).any()
    assert np.all((result.oof_proba >= 0) & (result.oof_proba <= 1))
    assert len(result.fold_roc_auc) == folds
    assert result.roc_auc_mean == pytest.approx(np.mean(result.fold_roc_auc))
    assert result.roc_auc_std == pytest.approx(np.std(result.fold_roc_auc))
    with pytest.raises(NotFittedError):
        check_is_fitted(model)  # the model passed in stays unfitted


def test_oof_predictions_are_out_of_fold(params, xy):
    X, y = xy
    # a forest of fully grown trees memorises its training rows: in-sample ROC-AUC is 1,
    # so out-of-fold predictions that leaked their own row would look perfect too
    train = _tiny_train(params, model="random_forest", calibration="none")
    train = train.model_copy(
        update={
            "random_forest": train.random_forest.model_copy(
                update={"n_estimators": 20, "min_samples_leaf": 1}
            )
        }
    )
    model = build_model(train, seed=0)
    noise = pd.DataFrame(np.random.default_rng(0).normal(size=X.shape), columns=X.columns)

    oof = cross_validate_oof(model, noise, y, folds=3, seed=0).oof_proba
    in_sample = model.fit(noise, y).predict_proba(noise)[:, 1]

    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(y, in_sample) > 0.99
    assert roc_auc_score(y, oof) < 0.75


def test_cross_validate_oof_is_reproducible(params, xy):
    X, y = xy
    model = build_model(_tiny_train(params, model="hist_gradient_boosting"), seed=0)

    first = cross_validate_oof(model, X, y, folds=3, seed=7)
    second = cross_validate_oof(model, X, y, folds=3, seed=7)

    np.testing.assert_array_equal(first.oof_proba, second.oof_proba)
    np.testing.assert_array_equal(first.fold_roc_auc, second.fold_roc_auc)


# ---------------------------------------------------------------- fit_with_cv


def test_split_xy_drops_target_and_member_id(xy):
    X, y = xy

    features, target = split_xy(_frame(X, y), "Churn")

    pd.testing.assert_frame_equal(features, X)
    pd.testing.assert_series_equal(target, y)


def test_fit_with_cv_summary(params, xy):
    X, y = xy
    frame = _frame(X, y)
    cfg = _tiny_train(params, model="logreg", calibration="none")

    fitted, summary = fit_with_cv(frame, cfg, "Churn", seed=11)

    assert set(summary) == {
        "model",
        "calibration",
        "features",
        "train_rows",
        "cv_folds",
        "cv_roc_auc_mean",
        "cv_roc_auc_std",
        "cv_roc_auc_folds",
        "threshold",
        "threshold_objective",
        "threshold_objective_oof_value",
        "risk_decile_edges",
        "typical_values",
    }
    assert summary["model"] == "logreg"
    assert summary["calibration"] == "none"
    assert summary["features"] == list(X.columns)
    assert summary["train_rows"] == len(frame)
    assert summary["cv_folds"] == 3
    assert len(summary["cv_roc_auc_folds"]) == 3
    assert summary["cv_roc_auc_mean"] == pytest.approx(np.mean(summary["cv_roc_auc_folds"]))
    assert 0.5 < summary["cv_roc_auc_mean"] <= 1.0
    assert summary["threshold_objective"] == cfg.threshold.objective
    check_is_fitted(fitted)
    assert list(fitted.feature_names_in_) == list(X.columns)


def test_fit_with_cv_threshold_comes_from_out_of_fold_predictions(params, xy):
    X, y = xy
    cfg = _tiny_train(params, model="logreg", calibration="none")

    _, summary = fit_with_cv(_frame(X, y), cfg, "Churn", seed=11)

    oof = cross_validate_oof(build_model(cfg, 11), X, y, cfg.cv_folds, 11).oof_proba
    choice = choose_threshold(y.to_numpy(), oof, cfg.threshold)
    assert summary["threshold"] == choice.threshold
    assert summary["threshold_objective_oof_value"] == pytest.approx(choice.value)
    assert summary["threshold"] in set(oof)


def test_member_oof_scores_score_every_member_out_of_fold(params, xy):
    X, y = xy
    cfg = _tiny_train(params, model="logreg", calibration="none")
    members = _frame(X, y).sample(frac=1.0, random_state=0)  # ids no longer in order

    scores, cv = member_oof_scores(members, cfg, "Churn", seed=11)

    assert list(scores.columns) == [ID_COLUMN, "churn_probability"]
    assert scores[ID_COLUMN].tolist() == members[ID_COLUMN].tolist()
    assert not scores["churn_probability"].isna().any()
    np.testing.assert_array_equal(scores["churn_probability"], cv.oof_proba)
    assert len(cv.fold_roc_auc) == cfg.cv_folds


# ---------------------------------------------------------------- drivers


def test_permutation_drivers_rank_the_informative_column_first():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"signal": rng.normal(size=300), "noise": rng.normal(size=300)})
    y = pd.Series((X["signal"] + 0.3 * rng.normal(size=300) > 0).astype(int))
    model = LogisticRegression().fit(X, y)

    table = permutation_drivers(model, X, y, repeats=3, max_rows=100, seed=0)

    assert list(table.columns) == ["feature", "importance", "importance_std"]
    assert table["feature"].tolist() == ["signal", "noise"]
    assert table.loc[0, "importance"] > 0.2
    assert abs(table.loc[1, "importance"]) < 0.05

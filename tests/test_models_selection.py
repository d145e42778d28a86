"""Cross-validation, the choice of model (`train.model: auto` or a family), the final fit and
its summary, the baseline and out-of-fold member scores (gym_churn.models.selection)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.utils.validation import check_is_fitted

from gym_churn.contract.checks import check_export
from gym_churn.contract.spec import ROW_KEY, parse_contract
from gym_churn.features import add_features
from gym_churn.models.estimators import build_model
from gym_churn.models.selection import (
    baseline_roc_auc,
    choose_model,
    cross_validate_oof,
    distinct_candidates,
    fit_with_cv,
    member_groups,
    member_oof_scores,
    model_from_summary,
    split_xy,
)
from gym_churn.models.threshold import choose_threshold
from gym_churn.splitting import sample_rows as fit_sample
from tests.conftest import make_members, make_other

FAMILY_CLASS = {
    "logreg": LogisticRegression,
    "random_forest": RandomForestClassifier,
    "hist_gradient_boosting": HistGradientBoostingClassifier,
}
SUMMARY_KEYS = {
    "model", "model_setting", "hyperparameters", "calibration", "calibration_folds",
    "candidates", "features", "train_rows", "fit_rows", "cv_folds", "cv_roc_auc_mean",
    "cv_roc_auc_std",
    "cv_roc_auc_folds", "threshold", "threshold_objective", "threshold_objective_oof_value",
    "risk_decile_edges",
}  # fmt: skip


def _numeric_contract(columns: list[str], engineered: dict | None = None):
    """A contract of numeric columns only, target `Churn` (0/1), no ID."""
    return parse_contract(
        {
            "target": {"column": "Churn", "positive": [1], "negative": [0]},
            "features": {c: {"kind": "numeric"} for c in columns},
            "engineered": engineered or {},
        },
        source="synthetic.yaml",
    )


def _frame(X: pd.DataFrame, y) -> pd.DataFrame:
    """A processed-members-like frame: the member key first, features, target last."""
    return X.assign(Churn=np.asarray(y)).assign(**{ROW_KEY: np.arange(1, len(X) + 1)})[
        [ROW_KEY, *X.columns, "Churn"]
    ]


def _processed(raw: pd.DataFrame, contract) -> pd.DataFrame:
    return add_features(check_export(raw, contract, source="export.csv").members, contract)


def _train(params, **update):
    """The real params.yaml train section with 3 folds and the smallest settings."""
    train = params.train
    return train.model_copy(
        update={
            "cv_folds": 3,
            "calibration_folds": 2,
            "logreg": train.logreg.model_copy(update={"max_iter": 200}),
            "random_forest": train.random_forest.model_copy(update={"n_estimators": 10}),
            "hist_gradient_boosting": train.hist_gradient_boosting.model_copy(
                update={"max_iter": 10, "min_samples_leaf": 5}
            ),
            **update,
        }
    )


@pytest.fixture(scope="module")
def xy() -> tuple[pd.DataFrame, pd.Series]:
    X, y = make_classification(
        n_samples=200, n_features=6, n_informative=3, weights=[0.7], random_state=0
    )
    return pd.DataFrame(X, columns=[f"x{i}" for i in range(6)]), pd.Series(y, name="Churn")


@pytest.fixture(scope="module")
def xy_contract(xy):
    return _numeric_contract(list(xy[0].columns))


@pytest.fixture(scope="module")
def other_members(other_contract) -> pd.DataFrame:
    return _processed(make_other(120, seed=3), other_contract)


# ---------------------------------------------------------------- split_xy


def test_split_xy_gives_the_contract_features_and_the_target(other_contract, other_members):
    X, y = split_xy(other_members, other_contract)

    # the ID, the ignored date and the target are left out; engineered features are in
    assert list(X.columns) == other_contract.model_features
    assert "fee_per_month" in X.columns
    pd.testing.assert_series_equal(y, other_members["left"])
    assert set(y) == {0, 1}

    only, _ = split_xy(other_members, other_contract, columns=["calls", "plan"])
    assert list(only.columns) == ["calls", "plan"]


def _store_contract():
    """A category whose levels are numbers (store 1, 2, 3), gaps kept."""
    return parse_contract(
        {
            "target": {"column": "Churn", "positive": [1], "negative": [0]},
            "features": {
                "store": {"kind": "categorical", "values": [1, 2, 3], "missing": "keep"},
                "x": {"kind": "numeric"},
            },
        },
        source="stores.yaml",
    )


def test_split_xy_gives_categories_as_text():
    # a level such as 3 read back from CSV as a number is compared as text by the encoders
    members = pd.DataFrame({"store": [1, 2, 3, 3], "x": [0.0, 1, 2, 3], "Churn": [0, 1, 0, 1]})

    X, _ = split_xy(members, _store_contract())

    assert X["store"].tolist() == ["1", "2", "3", "3"]


def test_numeric_category_levels_read_back_with_a_gap_stay_known(params):
    # processed members written to CSV and read back: a gap makes pandas read store as float
    members = pd.DataFrame(
        {"store": [1.0, 2.0, np.nan, 3.0] * 5, "x": np.arange(20.0), "Churn": [0, 1] * 10}
    )
    contract = _store_contract()

    X, y = split_xy(members, contract)

    assert X["store"].iloc[[0, 1, 3]].tolist() == ["1", "2", "3"]
    assert X["store"].isna().iloc[2]
    model = build_model("logreg", params.train.hyperparameters("logreg"), contract, 0).fit(X, y)
    encoded = model.named_steps["inputs"].transform(X.head(4))
    names = list(model.named_steps["inputs"].get_feature_names_out())
    assert encoded[0, names.index("store_1")] == 1.0


# ---------------------------------------------------------------- cross-validation


@pytest.mark.parametrize("folds", [2, 3, 5])
def test_cross_validate_oof_covers_every_row(params, xy, xy_contract, folds):
    X, y = xy
    model = build_model("logreg", params.train.hyperparameters("logreg"), xy_contract, seed=0)

    result = cross_validate_oof(model, X, y, folds=folds, seed=0)

    assert result.oof_proba.shape == (len(X),)
    assert not np.isnan(result.oof_proba).any()
    assert np.all((result.oof_proba >= 0) & (result.oof_proba <= 1))
    assert len(result.fold_roc_auc) == folds
    assert result.roc_auc_mean == pytest.approx(np.mean(result.fold_roc_auc))
    assert result.roc_auc_std == pytest.approx(np.std(result.fold_roc_auc))
    with pytest.raises(NotFittedError):
        check_is_fitted(model)  # the model passed in stays unfitted


def test_oof_predictions_are_out_of_fold(xy, xy_contract):
    X, y = xy
    # a forest of fully grown trees memorises its training rows: in-sample ROC-AUC is 1,
    # so out-of-fold predictions that leaked their own row would look perfect too
    hyper = {"n_estimators": 20, "min_samples_leaf": 1, "max_depth": None, "max_features": "sqrt"}
    model = build_model("random_forest", hyper, xy_contract, seed=0)
    noise = pd.DataFrame(np.random.default_rng(0).normal(size=X.shape), columns=X.columns)

    oof = cross_validate_oof(model, noise, y, folds=3, seed=0).oof_proba
    in_sample = clone(model).fit(noise, y).predict_proba(noise)[:, 1]

    assert roc_auc_score(y, in_sample) > 0.99
    assert roc_auc_score(y, oof) < 0.75


def test_cross_validate_oof_is_reproducible(params, other_contract, other_members):
    X, y = split_xy(other_members, other_contract)
    model = build_model("logreg", params.train.hyperparameters("logreg"), other_contract, seed=0)

    first = cross_validate_oof(model, X, y, folds=3, seed=7)
    second = cross_validate_oof(model, X, y, folds=3, seed=7)
    other_folds = cross_validate_oof(model, X, y, folds=3, seed=8)

    np.testing.assert_array_equal(first.oof_proba, second.oof_proba)
    np.testing.assert_array_equal(first.fold_roc_auc, second.fold_roc_auc)
    assert not np.array_equal(first.oof_proba, other_folds.oof_proba)


@pytest.mark.parametrize("max_fit_rows", [None, 10_000])
def test_a_cap_above_the_folds_changes_nothing(params, xy, xy_contract, max_fit_rows):
    X, y = xy
    model = build_model("logreg", params.train.hyperparameters("logreg"), xy_contract, seed=0)
    plain = cross_validate_oof(model, X, y, folds=3, seed=0)
    capped = cross_validate_oof(model, X, y, folds=3, seed=0, max_fit_rows=max_fit_rows)
    np.testing.assert_array_equal(plain.oof_proba, capped.oof_proba)
    np.testing.assert_array_equal(plain.fold_roc_auc, capped.fold_roc_auc)


def test_a_capped_fold_fits_on_a_sample_and_still_scores_every_row(
    params, xy, xy_contract, monkeypatch
):
    X, y = xy
    model = build_model("logreg", params.train.hyperparameters("logreg"), xy_contract, seed=0)
    fitted_rows = []
    fit = type(model).fit

    def counting_fit(self, X_fit, y_fit, **kwargs):
        fitted_rows.append(len(X_fit))
        return fit(self, X_fit, y_fit, **kwargs)

    monkeypatch.setattr(type(model), "fit", counting_fit)
    cap = len(X) // 3
    result = cross_validate_oof(model, X, y, folds=3, seed=0, max_fit_rows=cap)

    assert fitted_rows == [cap] * 3  # each fold learned from the sample, not its whole part
    assert not np.isnan(result.oof_proba).any()  # every row scored out of fold
    assert len(result.fold_roc_auc) == 3
    again = cross_validate_oof(model, X, y, folds=3, seed=0, max_fit_rows=cap)
    np.testing.assert_array_equal(result.oof_proba, again.oof_proba)  # seeded
    full = cross_validate_oof(model, X, y, folds=3, seed=0)
    assert result.roc_auc_mean == pytest.approx(full.roc_auc_mean, abs=0.1)


# ---------------------------------------------------------------- train.model: auto


def _linear(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """Churn linear and additive in 20 weak features: logistic regression's home ground."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 20)), columns=[f"x{i:02d}" for i in range(20)])
    churn = rng.uniform(size=n) < 1 / (1 + np.exp(-0.4 * X.sum(axis=1)))
    return _frame(X, churn.astype(int))


def _interaction(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """Churn when exactly one of two thresholds is crossed (10% noise): no additive signal."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.uniform(-1, 1, size=(n, 6)), columns=[f"x{i:02d}" for i in range(6)])
    churn = (X["x00"] > 0) ^ (X["x01"] > 0)
    churn ^= rng.uniform(size=n) < 0.1
    return _frame(X, churn.astype(int))


@pytest.mark.parametrize(
    ("data", "kept"),
    [(_linear, "logreg"), (_interaction, "hist_gradient_boosting")],
)
def test_auto_picks_the_family_that_fits_the_signal(params, data, kept):
    # the real params.yaml: train.model auto over its candidates, only fewer folds
    cfg = params.train.model_copy(update={"cv_folds": 3})
    assert cfg.model == "auto"
    train = data()
    contract = _numeric_contract([c for c in train.columns if c.startswith("x")])

    fitted, summary = fit_with_cv(train, cfg, contract, seed=1)

    # every candidate is recorded, in the params' order, with its CV ROC-AUC
    candidates = summary["candidates"]
    # (without categories, settings that differ only in encoding are one model, fitted once)
    listed = distinct_candidates(cfg.candidates(), contract)
    assert [(c["model"], c["hyperparameters"]) for c in candidates] == listed
    means = [c["cv_roc_auc_mean"] for c in candidates]
    assert all(0 <= m <= 1 for m in means)
    assert all(c["cv_roc_auc_std"] >= 0 for c in candidates)
    best = candidates[int(np.argmax(means))]
    # ... and the kept model is the best of them
    assert summary["model"] == best["model"] == kept
    assert summary["hyperparameters"] == best["hyperparameters"]
    assert summary["cv_roc_auc_mean"] == pytest.approx(max(means))
    assert summary["model_setting"] == "auto"
    final = fitted.named_steps["model"]
    assert isinstance(final, FAMILY_CLASS[kept])
    estimator_settings = {k: v for k, v in best["hyperparameters"].items() if k != "encoding"}
    assert {k: final.get_params()[k] for k in estimator_settings} == estimator_settings
    # the other family is clearly behind: the choice is not a coin toss
    loser = max(m for c, m in zip(candidates, means, strict=True) if c["model"] != kept)
    assert max(means) - loser > 0.05


def test_choose_model_with_an_explicit_family_has_one_candidate(params, xy, xy_contract):
    X, y = xy
    cfg = _train(params, model="logreg")

    choice = choose_model(X, y, cfg, xy_contract, seed=0)

    assert choice.family == "logreg"
    assert choice.hyperparameters == cfg.hyperparameters("logreg")
    assert len(choice.candidates) == 1
    assert choice.candidates[0]["model"] == "logreg"
    assert choice.candidates[0]["cv_roc_auc_mean"] == pytest.approx(choice.cv.roc_auc_mean)


def test_choose_model_compares_candidates_on_the_same_folds(params, xy, xy_contract):
    X, y = xy
    # the same setting listed twice scores exactly alike, and the first listed wins the tie
    cfg = _train(params, model="auto").model_copy(
        update={"auto": [params.train.auto[2], params.train.auto[2]]}
    )

    choice = choose_model(X, y, cfg, xy_contract, seed=0)

    first, second = choice.candidates
    assert first["cv_roc_auc_mean"] == second["cv_roc_auc_mean"]
    assert choice.family == "logreg"


# ---------------------------------------------------------------- fit_with_cv


def test_fit_with_cv_summary(params, other_contract, other_members):
    cfg = _train(params, model="logreg")

    fitted, summary = fit_with_cv(other_members, cfg, other_contract, seed=11)

    assert set(summary) == SUMMARY_KEYS
    assert summary["model"] == summary["model_setting"] == "logreg"
    assert [c["model"] for c in summary["candidates"]] == ["logreg"]  # an explicit family
    assert summary["hyperparameters"] == cfg.hyperparameters("logreg")
    assert (summary["calibration"], summary["calibration_folds"]) == ("none", 2)
    assert summary["features"] == other_contract.model_features
    assert summary["train_rows"] == summary["fit_rows"] == len(other_members)
    assert summary["cv_folds"] == 3
    assert len(summary["cv_roc_auc_folds"]) == 3
    assert summary["cv_roc_auc_mean"] == pytest.approx(np.mean(summary["cv_roc_auc_folds"]))
    assert 0.6 < summary["cv_roc_auc_mean"] <= 1.0  # make_other has a learnable signal
    assert summary["threshold_objective"] == cfg.threshold.objective
    assert len(summary["risk_decile_edges"]) == 9
    assert summary["risk_decile_edges"] == sorted(summary["risk_decile_edges"])
    check_is_fitted(fitted)
    assert list(fitted.feature_names_in_) == other_contract.model_features


def test_fit_with_cv_threshold_comes_from_out_of_fold_predictions(
    params, other_contract, other_members
):
    cfg = _train(params, model="logreg")

    _, summary = fit_with_cv(other_members, cfg, other_contract, seed=11)

    X, y = split_xy(other_members, other_contract)
    model = model_from_summary(summary, other_contract, seed=11)
    oof = cross_validate_oof(model, X, y, cfg.cv_folds, 11).oof_proba
    choice = choose_threshold(y.to_numpy(), oof, cfg.threshold)
    assert summary["threshold"] == choice.threshold
    assert summary["threshold_objective_oof_value"] == pytest.approx(choice.value)
    assert summary["threshold"] in set(oof)


@pytest.mark.parametrize("encoding", ["native", "target"])
def test_model_from_summary_rebuilds_the_kept_spec(params, other_contract, other_members, encoding):
    family = "hist_gradient_boosting"
    cfg = _train(params, model=family, calibration="sigmoid")
    hgb = cfg.hist_gradient_boosting.model_copy(update={"encoding": encoding})
    cfg = cfg.model_copy(update={"hist_gradient_boosting": hgb})
    fitted, summary = fit_with_cv(other_members, cfg, other_contract, seed=4)
    assert summary["hyperparameters"]["encoding"] == encoding

    rebuilt = model_from_summary(summary, other_contract, seed=4)

    with pytest.raises(NotFittedError):
        check_is_fitted(rebuilt)
    assert rebuilt.method == "sigmoid"
    assert rebuilt.cv.n_splits == 2
    final = rebuilt.estimator.named_steps["model"]
    settings = {k: final.get_params().get(k, encoding) for k in summary["hyperparameters"]}
    assert settings == cfg.hyperparameters(family)
    name, encoder, _ = rebuilt.estimator.named_steps["inputs"].transformers[1]
    assert name == "categories"
    expected = {"native": "OrdinalEncoder", "target": "TargetEncoder"}[encoding]
    assert type(encoder).__name__ == expected
    X, y = split_xy(other_members, other_contract)
    np.testing.assert_allclose(
        rebuilt.fit(X, y).predict_proba(X), fitted.predict_proba(X), rtol=0, atol=1e-12
    )


# ---------------------------------------------------------------- baseline and member scores


def test_baseline_uses_the_raw_columns_only():
    # churn follows the sign of a * b: no line through the raw columns separates it, but the
    # engineered product does. The baseline must not see the engineered feature.
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.uniform(-1, 1, size=(400, 2)), columns=["a", "b"])
    members = _frame(X.assign(ab=X["a"] * X["b"]), (X["a"] * X["b"] > 0).astype(int))
    contract = _numeric_contract(["a", "b"], engineered={"ab": {"expr": "a * b"}})
    train, test = members.iloc[:300], members.iloc[300:]

    baseline = baseline_roc_auc(train, test, contract)

    with_engineered = build_model("logreg", {"C": 1.0, "max_iter": 2000}, contract, seed=0)
    X_train, y_train = split_xy(train, contract)
    X_test, y_test = split_xy(test, contract)
    proba = with_engineered.fit(X_train, y_train).predict_proba(X_test)[:, 1]
    assert roc_auc_score(y_test, proba) > 0.95
    assert baseline < 0.7
    assert list(contract.engineered) == ["ab"]  # the contract passed in is untouched


def test_baseline_one_hot_encodes_text_categories(other_contract, other_members):
    train, test = other_members.iloc[:80], other_members.iloc[80:]

    assert 0.6 < baseline_roc_auc(train, test, other_contract) <= 1.0


@pytest.mark.parametrize("which", ["other", "gym"])
def test_member_oof_scores_are_out_of_fold_and_keyed_by_the_contract_key(
    params, other_contract, gym_contract, which
):
    contract = other_contract if which == "other" else gym_contract
    raw = make_other(60, seed=5) if which == "other" else make_members(60, seed=5)
    members = _processed(raw, contract).sample(frac=1.0, random_state=0)  # keys out of order
    model = build_model("logreg", {"C": 1.0, "max_iter": 200}, contract, seed=11)

    scores, cv = member_oof_scores(members, model, contract, folds=3, seed=11)

    key = "customer_id" if which == "other" else ROW_KEY
    assert contract.key == key
    assert list(scores.columns) == [key, "churn_probability"]
    assert scores[key].tolist() == members[key].tolist()
    assert not scores["churn_probability"].isna().any()
    np.testing.assert_array_equal(scores["churn_probability"], cv.oof_proba)
    # the same folds as cross_validate_oof on the member table: every score out-of-fold
    X, y = split_xy(members, contract)
    expected = cross_validate_oof(model, X, y, 3, 11)
    np.testing.assert_array_equal(cv.oof_proba, expected.oof_proba)
    assert len(cv.fold_roc_auc) == 3
    with pytest.raises(NotFittedError):
        check_is_fitted(model)


# ------------------------------------------------------------------ snapshots (issue 24)


def _panel_members(members: int = 40, months: int = 4) -> tuple[pd.DataFrame, object]:
    from gym_churn.splitting import split_unknown
    from tests.conftest import PANEL_CONTRACT, make_panel

    contract = parse_contract(PANEL_CONTRACT)
    checked = check_export(make_panel(members, months), contract, source="panel.csv")
    labelled, _ = split_unknown(add_features(checked.members, contract), contract)
    return labelled, contract


@pytest.mark.parametrize("folds", [2, 3, 5])
def test_no_member_sits_on_both_sides_of_any_cv_fold(folds, monkeypatch):
    """Every fold cross_validate_oof runs, as sklearn's cross_validate is given it."""
    import gym_churn.models.selection as selection

    members, contract = _panel_members()
    seen: list[tuple[np.ndarray, np.ndarray]] = []
    real = selection.cross_validate

    def recording(*args, **kwargs):
        result = real(*args, **kwargs)
        seen.extend(zip(result["indices"]["train"], result["indices"]["test"], strict=True))
        return result

    monkeypatch.setattr(selection, "cross_validate", recording)
    model = build_model("logreg", {"C": 1.0, "max_iter": 500}, contract, seed=0)
    scores, cv = member_oof_scores(members, model, contract, folds, seed=0)

    assert len(seen) == folds
    ids = members["customer_id"].to_numpy()
    for train_idx, test_idx in seen:
        assert not set(ids[train_idx]) & set(ids[test_idx])
    assert np.isfinite(cv.oof_proba).all()  # every row scored once, by a fold without it
    assert len(scores) == len(members)


def test_members_are_grouped_only_when_they_repeat_across_snapshots():
    members, contract = _panel_members()
    groups = member_groups(members, contract)
    assert groups is not None
    np.testing.assert_array_equal(groups, members["customer_id"].to_numpy())
    one_month = members[members["month"] == "2024-01"]
    assert member_groups(one_month, contract) is None
    assert member_groups(members, contract.model_copy(update={"snapshot": None})) is None


def test_ungrouped_folds_are_the_stratified_folds_of_before():
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    X, y = make_classification(n_samples=120, random_state=0)
    X, y = pd.DataFrame(X), pd.Series(y)
    model = LogisticRegression()
    cv = cross_validate_oof(model, X, y, 4, seed=5)
    expected = cross_val_predict(
        model, X, y, cv=StratifiedKFold(4, shuffle=True, random_state=5), method="predict_proba"
    )[:, 1]
    np.testing.assert_allclose(cv.oof_proba, expected)


# ---------------------------------------------------------------- encodings in the auto choice


def test_auto_compares_encodings_and_keeps_the_better_one(params):
    from gym_churn.params import Candidate
    from tests.test_models_estimators import MANY_CONTRACT, many_levels

    contract = parse_contract(MANY_CONTRACT, source="many.yaml")
    X, y = many_levels()
    hgb = "hist_gradient_boosting"
    cfg = params.train.model_copy(
        update={
            "cv_folds": 3,
            "auto": [Candidate(model=hgb), Candidate(model=hgb, encoding="target")],
        }
    )

    choice = choose_model(X, y, cfg, contract, seed=0)

    encodings = [c["hyperparameters"]["encoding"] for c in choice.candidates]
    assert encodings == ["native", "target"]  # both fitted: the contract has a category
    assert choice.hyperparameters["encoding"] == "target"
    native, target = (c["cv_roc_auc_mean"] for c in choice.candidates)
    assert target > native


@pytest.mark.parametrize("with_categories", [False, True])
def test_settings_that_differ_only_in_encoding_are_one_model_without_categories(
    params, other_contract, xy_contract, with_categories
):
    contract = other_contract if with_categories else xy_contract
    hgb = params.train.hyperparameters("hist_gradient_boosting")
    listed = [
        ("hist_gradient_boosting", hgb),
        ("logreg", params.train.hyperparameters("logreg")),
        ("hist_gradient_boosting", {**hgb, "encoding": "onehot"}),
        ("hist_gradient_boosting", {**hgb, "encoding": "target", "max_iter": 7}),
        ("hist_gradient_boosting", hgb),  # listed twice on purpose: kept (same folds, a tie)
    ]

    kept = distinct_candidates(listed, contract)

    assert kept == (listed if with_categories else [listed[0], listed[1], listed[3], listed[4]])


def test_the_final_fit_learns_from_at_most_max_fit_rows(params, other_contract, other_members):
    cfg = params.train.model_copy(update={"model": "logreg", "cv_folds": 3, "max_fit_rows": 100})
    _, summary = fit_with_cv(other_members, cfg, other_contract, seed=0)
    assert summary["train_rows"] == len(other_members) > 100
    assert summary["fit_rows"] == 100
    assert fit_sample(len(other_members), 100, 0).tolist() == sorted(
        set(fit_sample(len(other_members), 100, 0).tolist())
    )  # distinct rows, in order
    assert len(fit_sample(50, 100, 0)) == 50  # under the cap: every row

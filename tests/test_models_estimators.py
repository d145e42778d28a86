"""Model construction (gym_churn.models.estimators): every family with its input preparation
inside one pipeline, on the gym contract and on another business's contract (text
categories, gaps kept), levels never seen in training, encoders that keep the declared
categories whatever rows they are fitted on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from gym_churn.contract.checks import check_export
from gym_churn.features import add_features
from gym_churn.models.estimators import build_model
from gym_churn.models.selection import split_xy
from gym_churn.params import MODEL_FAMILIES
from tests.conftest import make_members, make_other

FAMILY_CLASS = {
    "logreg": LogisticRegression,
    "random_forest": RandomForestClassifier,
    "hist_gradient_boosting": HistGradientBoostingClassifier,
}
CALIBRATIONS = ("none", "sigmoid", "isotonic")
# The smallest settings that still learn: fits take milliseconds.
TINY = {
    "logreg": {"max_iter": 200},
    "random_forest": {"n_estimators": 10},
    "hist_gradient_boosting": {"max_iter": 10, "min_samples_leaf": 5},
}
SIGMOID = {"calibration": "sigmoid", "calibration_folds": 2}
OTHER_NUMBERS = ["senior", "fee", "tenure_months", "calls", "fee_per_month"]


def _hyper(params, family: str) -> dict:
    return {**params.train.hyperparameters(family), **TINY[family]}


def _processed(raw: pd.DataFrame, contract) -> pd.DataFrame:
    """What the preprocess stage writes: checked, typed members with engineered features."""
    return add_features(check_export(raw, contract, source="export.csv").members, contract)


@pytest.fixture(scope="module")
def gym_xy(gym_contract):
    return split_xy(_processed(make_members(60, seed=1), gym_contract), gym_contract)


@pytest.fixture(scope="module")
def other_xy(other_contract):
    return split_xy(_processed(make_other(90, seed=2), other_contract), other_contract)


# ---------------------------------------------------------------- every family, both contracts


@pytest.mark.parametrize("calibration", CALIBRATIONS)
@pytest.mark.parametrize("family", MODEL_FAMILIES)
def test_build_model_gives_an_unfitted_estimator_that_fits_gym_members(
    params, gym_contract, gym_xy, family, calibration
):
    X, y = gym_xy
    hyper = _hyper(params, family)

    model = build_model(
        family, hyper, gym_contract, seed=3, calibration=calibration, calibration_folds=2
    )

    with pytest.raises(NotFittedError):
        check_is_fitted(model)
    pipeline = model.estimator if calibration != "none" else model
    if calibration != "none":
        assert isinstance(model, CalibratedClassifierCV)
        assert model.method == calibration
        assert model.cv.n_splits == 2
    assert isinstance(pipeline, Pipeline)
    assert [name for name, _ in pipeline.steps] == ["inputs", "model"]
    final = pipeline.named_steps["model"]
    assert isinstance(final, FAMILY_CLASS[family])
    assert final.random_state == 3
    for key, value in hyper.items():
        if key != "encoding":  # how the input step encodes categories, not the estimator's
            assert final.get_params()[key] == value, key

    proba = model.fit(X, y).predict_proba(X)
    assert proba.shape == (len(X), 2)
    assert np.all((proba >= 0) & (proba <= 1))
    assert proba[:, 1].std() > 0


@pytest.mark.parametrize("family", MODEL_FAMILIES)
def test_every_family_fits_text_categories_and_gaps(params, other_contract, other_xy, family):
    X, y = other_xy
    assert X["fee"].isna().any()
    assert X["plan"].dtype == object

    model = build_model(family, _hyper(params, family), other_contract, seed=0).fit(X, y)

    proba = model.predict_proba(X)[:, 1]
    assert np.isfinite(proba).all()
    assert proba[X["fee"].isna().to_numpy()].std() > 0  # members with a gap are scored too
    names = list(model.named_steps["inputs"].get_feature_names_out())
    if family == "hist_gradient_boosting":
        # categories go to the trees as codes they split on natively, numbers as they are
        assert names == [*OTHER_NUMBERS, "plan", "region"]
        assert list(model.named_steps["model"].is_categorical_) == [False] * 5 + [True] * 2
    else:
        levels = [f"plan_{v}" for v in ("basic", "plus", "premium")]
        levels += [f"region_r{i:02d}" for i in range(12)]
        # median imputation with an indicator for each column that had gaps, then one-hot
        assert names == [*OTHER_NUMBERS, "missingindicator_fee",
                         "missingindicator_fee_per_month", *levels]  # fmt: skip


def test_gradient_boosting_without_categories_has_no_categorical_mask(params, gym_contract):
    family = "hist_gradient_boosting"
    model = build_model(family, _hyper(params, family), gym_contract, seed=0)

    assert model.named_steps["model"].categorical_features is None


def test_only_logistic_regression_scales_its_numbers(params, other_contract, other_xy):
    X, _y = other_xy
    logreg = build_model("logreg", _hyper(params, "logreg"), other_contract, seed=0)
    forest = build_model("random_forest", _hyper(params, "random_forest"), other_contract, 0)

    logreg_steps = logreg.named_steps["inputs"].transformers[0][1].named_steps
    forest_steps = forest.named_steps["inputs"].transformers[0][1].named_steps
    assert isinstance(logreg_steps["scale"], StandardScaler)
    assert "scale" not in forest_steps

    encoded = logreg.named_steps["inputs"].fit_transform(X)
    numbers = encoded[:, : len(OTHER_NUMBERS)]
    np.testing.assert_allclose(numbers.mean(axis=0), 0, atol=1e-9)
    np.testing.assert_allclose(numbers.std(axis=0), 1, atol=1e-9)


def test_build_model_is_reproducible(params, other_contract, other_xy):
    X, y = other_xy
    hyper = _hyper(params, "random_forest")

    first = build_model("random_forest", hyper, other_contract, 5, **SIGMOID)
    second = build_model("random_forest", hyper, other_contract, 5, **SIGMOID)

    np.testing.assert_array_equal(
        first.fit(X, y).predict_proba(X), second.fit(X, y).predict_proba(X)
    )


@pytest.mark.parametrize(("given", "tol"), [({}, 1e-10), ({"tol": 1e-3}, 1e-3)])
def test_logistic_regression_converges_tightly_unless_told_otherwise(other_contract, given, tol):
    # lbfgs's default tol (1e-4) lets a BLAS's last-bit noise change where it stops, and so
    # the written scores; at 1e-10 the stopping point moves them by far less than is written
    model = build_model("logreg", {"max_iter": 2000, **given}, other_contract, seed=0)
    assert model[-1].tol == tol


def test_unknown_family_is_refused(other_contract):
    with pytest.raises(ValueError, match="unknown model family 'xgboost'"):
        build_model("xgboost", {}, other_contract, seed=0)


# ---------------------------------------------------------------- levels and fitting


@pytest.mark.parametrize("family", MODEL_FAMILIES)
def test_a_level_never_seen_in_training_does_not_crash_predict(
    params, other_contract, other_xy, family
):
    X, y = other_xy
    model = build_model(family, _hyper(params, family), other_contract, seed=0).fit(X, y)
    new = X.head(4).assign(plan="enterprise", region=["r99", "r00", None, "r01"])

    proba = model.predict_proba(new)[:, 1]

    assert np.isfinite(proba).all()
    assert np.all((proba >= 0) & (proba <= 1))
    encoded = model.named_steps["inputs"].transform(new)
    names = list(model.named_steps["inputs"].get_feature_names_out())
    if family == "hist_gradient_boosting":
        # an unseen level is a missing value for the trees
        assert np.isnan(encoded[:, names.index("plan")]).all()
    else:
        # an unseen level is all zeros in the one-hot block
        plan = [i for i, n in enumerate(names) if n.startswith("plan_")]
        assert (encoded[:, plan] == 0).all()


@pytest.mark.parametrize("family", MODEL_FAMILIES)
def test_encoders_keep_the_declared_categories_when_fitted_on_a_subset(
    params, other_contract, other_xy, family
):
    # A training fold may lack some levels; its encoder must still know every declared level
    # (from the contract, not from the rows it saw), so every fold's model has the same inputs.
    X, y = other_xy
    few = X["plan"].isin(["basic", "plus"]) & X["region"].isin(["r00", "r01", "r02", "r03"])
    subset_X, subset_y = X[few], y[few]
    assert subset_y.nunique() == 2
    assert len(subset_X) >= 10

    template = build_model(family, _hyper(params, family), other_contract, seed=0)
    on_subset = clone(template).fit(subset_X, subset_y)
    on_all = clone(template).fit(X, y)

    encoder = on_subset.named_steps["inputs"].named_transformers_["categories"]
    assert [list(c) for c in encoder.categories_] == [
        ["basic", "plus", "premium"],
        [f"r{i:02d}" for i in range(12)],
    ]
    assert (
        on_subset.named_steps["inputs"].transform(X).shape[1]
        == (on_all.named_steps["inputs"].transform(X).shape[1])
    )
    # a level only members outside the subset have is encoded, not refused
    premium = X[X["plan"] == "premium"]
    assert np.isfinite(on_subset.predict_proba(premium)).all()


def test_imputation_is_learnt_from_the_rows_the_pipeline_is_fitted_on(
    params, other_contract, other_xy
):
    # cross-validation clones the pipeline per fold: what it learns comes from that fold only
    X, y = other_xy
    train = X.index < 45
    model = build_model("logreg", _hyper(params, "logreg"), other_contract, seed=0)

    model.fit(X[train], y[train])

    imputer = model.named_steps["inputs"].named_transformers_["numbers"].named_steps["impute"]
    fee = OTHER_NUMBERS.index("fee")
    assert imputer.statistics_[fee] == pytest.approx(X.loc[train, "fee"].median())
    assert imputer.statistics_[fee] != pytest.approx(X["fee"].median())


# ---------------------------------------------------------------- category encodings

ENCODED = [
    ("hist_gradient_boosting", "native"),
    ("hist_gradient_boosting", "onehot"),
    ("hist_gradient_boosting", "target"),
    ("logreg", "onehot"),
    ("logreg", "target"),
    ("random_forest", "onehot"),
    ("random_forest", "target"),
]
OTHER_LEVELS = [f"plan_{v}" for v in ("basic", "plus", "premium")] + [
    f"region_r{i:02d}" for i in range(12)
]


@pytest.mark.parametrize(("family", "encoding"), ENCODED)
def test_each_encoding_gives_the_inputs_it_names(
    params, other_contract, other_xy, family, encoding
):
    X, y = other_xy
    hyper = {**_hyper(params, family), "encoding": encoding}

    model = build_model(family, hyper, other_contract, seed=0).fit(X, y)

    names = list(model.named_steps["inputs"].get_feature_names_out())
    numbers = OTHER_NUMBERS
    if family != "hist_gradient_boosting":  # imputed, with an indicator per column with gaps
        numbers = [*OTHER_NUMBERS, "missingindicator_fee", "missingindicator_fee_per_month"]
    categories = OTHER_LEVELS if encoding == "onehot" else ["plan", "region"]
    assert names == [*numbers, *categories]
    assert np.isfinite(model.predict_proba(X)).all()
    if family == "hist_gradient_boosting":
        native = model.named_steps["model"].is_categorical_
        assert (native is not None and native.any()) == (encoding == "native")


@pytest.mark.parametrize(
    ("family", "encoding"),
    [("logreg", "native"), ("random_forest", "native"), ("hist_gradient_boosting", "ordinal")],
)
def test_an_encoding_the_family_cannot_use_is_refused(other_contract, family, encoding):
    with pytest.raises(ValueError, match=f"{family}.*{encoding}"):
        build_model(family, {"encoding": encoding}, other_contract, seed=0)


def test_target_encoding_is_cross_fitted_and_an_unseen_level_gets_the_overall_rate(
    params, other_contract, other_xy
):
    X, y = other_xy
    hyper = {**_hyper(params, "hist_gradient_boosting"), "encoding": "target"}
    model = build_model("hist_gradient_boosting", hyper, other_contract, seed=0)
    inputs = model.named_steps["inputs"]

    during_fit = inputs.fit_transform(X, y)[:, -2:]  # plan, region
    after_fit = inputs.transform(X)[:, -2:]

    # during fit a row's level is encoded by rates learnt without that row's label
    assert not np.allclose(during_fit, after_fit)
    encoder = inputs.named_transformers_["categories"]
    unseen = X.head(3).assign(plan=pd.Series([None] * 3, index=X.index[:3], dtype=object))
    unseen = unseen.assign(region="r99")
    assert np.allclose(inputs.transform(unseen)[:, -2:], encoder.target_mean_)


MANY_LEVELS = [f"club{i:03d}" for i in range(100)]
MANY_CONTRACT = {
    "target": {"column": "Churn", "positive": [1], "negative": [0]},
    "features": {
        "club": {"kind": "categorical", "values": MANY_LEVELS},
        **{f"x{i}": {"kind": "numeric"} for i in range(3)},
    },
}


def many_levels(n: int = 1500, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """A 100-level category (about 15 members a level) whose levels differ strongly in
    churn, plus two informative numbers and a useless one."""
    rng = np.random.default_rng(seed)
    effect = rng.normal(0.0, 1.5, size=len(MANY_LEVELS))
    code = rng.integers(0, len(MANY_LEVELS), size=n)
    x = rng.normal(size=(n, 3))
    logit = effect[code] + x[:, 0] - 0.5 * x[:, 1]
    churn = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    X = pd.DataFrame({"club": np.asarray(MANY_LEVELS, dtype=object)[code]})
    X = X.assign(**{f"x{i}": x[:, i] for i in range(3)})
    return X, pd.Series(churn, name="Churn")


@pytest.mark.parametrize("seed", [0, 1])
def test_target_encoding_beats_native_splits_on_a_many_level_category(params, seed):
    # Native splits ignore levels with few members in a node (scikit-learn needs 10), so a
    # category of many small levels is mostly lost; its cross-fitted churn rate is one
    # column the shallow trees use at once.
    from gym_churn.contract.spec import parse_contract
    from gym_churn.models.selection import cross_validate_oof

    contract = parse_contract(MANY_CONTRACT, source="many.yaml")
    X, y = many_levels(seed=seed)
    hyper = params.train.hyperparameters("hist_gradient_boosting")
    auc = {
        encoding: cross_validate_oof(
            build_model("hist_gradient_boosting", {**hyper, "encoding": encoding}, contract, 0),
            X, y, folds=3, seed=0,
        ).roc_auc_mean
        for encoding in ("native", "target")
    }  # fmt: skip
    assert auc["target"] - auc["native"] > 0.02

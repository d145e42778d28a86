"""Model construction: each family with its preprocessing inside one sklearn pipeline.

Everything that learns from data (imputation, scaling, category encoding) sits inside the
pipeline, so cross-validation fits it on the training folds only.

How categories reach the model is the `encoding` hyperparameter of a family's settings:

- `native`  (gradient boosting only): ordinal codes the trees split on as categories. Good
  with few levels; with many, a split may group any subset of levels and overfits.
- `onehot`: one 0/1 column per declared level (a level never seen in training: all zeros).
- `target`: one column per category, the level's smoothed churn rate, cross-fitted
  (scikit-learn's TargetEncoder: during fit each row is encoded by rates learnt on the
  other folds, so the model never sees its own label through it; a gap or an unseen level
  gets the overall rate).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler, TargetEncoder

from gym_churn.contract.spec import Contract

ENCODINGS: tuple[str, ...] = ("native", "onehot", "target")
# The encoding a family uses when its settings name none (model files trained before the
# option existed record none).
DEFAULT_ENCODING = {"logreg": "onehot", "random_forest": "onehot",
                    "hist_gradient_boosting": "native"}  # fmt: skip


def _categories(contract: Contract, columns: list[str]) -> list[list[str]]:
    return [contract.features[c].levels for c in columns]


def _category_encoder(encoding: str, contract: Contract, cats: list[str], seed: int) -> Any:
    """The encoder of the category columns `cats` for `encoding` (onehot or target)."""
    if encoding == "onehot":
        return OneHotEncoder(
            categories=_categories(contract, cats), handle_unknown="ignore", sparse_output=False
        )
    # Cross-fitting folds of their own, seeded: the encoder sees only the rows it is fit on.
    return TargetEncoder(
        categories=_categories(contract, cats),
        target_type="binary",
        cv=StratifiedKFold(5, shuffle=True, random_state=seed),
    )


def _imputed_inputs(
    contract: Contract, scale: bool, encoding: str = "onehot", seed: int = 0
) -> ColumnTransformer:
    """Numbers imputed (median, with a missing-indicator) and optionally scaled; categories
    one-hot encoded (a level never seen in training all zeros) or target encoded (then
    scaled with the numbers when `scale`)."""
    cats = contract.categorical
    numbers = [c for c in contract.model_features if c not in cats]
    number_steps: list[tuple[str, Any]] = [
        ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True))
    ]
    if scale:
        number_steps.append(("scale", StandardScaler()))
    transformers: list[tuple[str, Any, list[str]]] = [("numbers", Pipeline(number_steps), numbers)]
    if cats:
        encoder = _category_encoder(encoding, contract, cats, seed)
        if encoding == "target" and scale:
            encoder = Pipeline([("encode", encoder), ("scale", StandardScaler())])
        transformers.append(("categories", encoder, cats))
    return ColumnTransformer(transformers, verbose_feature_names_out=False)


def _tree_inputs(
    contract: Contract, encoding: str, seed: int
) -> tuple[ColumnTransformer, list[bool]]:
    """For gradient boosting: numbers as they are (gaps handled natively); categories as
    ordinal codes the trees split on natively (`native`: an unseen level or a gap becomes
    missing), one-hot or target encoded. Returns the step and which outputs are categories."""
    cats = contract.categorical
    numbers = [c for c in contract.model_features if c not in cats]
    transformers: list[tuple[str, Any, list[str]]] = [("numbers", "passthrough", numbers)]
    if cats and encoding == "native":
        encoder: Any = OrdinalEncoder(
            categories=_categories(contract, cats),
            handle_unknown="use_encoded_value",
            unknown_value=np.nan,
            encoded_missing_value=np.nan,
        )
        transformers.append(("categories", encoder, cats))
    elif cats:
        transformers.append(("categories", _category_encoder(encoding, contract, cats, seed), cats))
    mask = [False] * len(numbers) + [True] * len(cats) * (encoding == "native")
    return ColumnTransformer(transformers, verbose_feature_names_out=False), mask


def build_model(
    family: str,
    hyperparameters: dict[str, Any],
    contract: Contract,
    seed: int,
    *,
    calibration: str = "none",
    calibration_folds: int = 5,
) -> ClassifierMixin:
    """An unfitted pipeline: the family's input preparation, then the classifier.

    `hyperparameters` are the estimator's, plus optionally `encoding` (see the module's
    docstring; the family's default when absent). Raises ValueError on an unknown family or
    an encoding the family cannot use.
    """
    if family not in DEFAULT_ENCODING:
        raise ValueError(f"unknown model family {family!r}")
    hyperparameters = dict(hyperparameters)
    encoding = hyperparameters.pop("encoding", DEFAULT_ENCODING[family])
    if encoding not in ENCODINGS or (encoding == "native" and family != "hist_gradient_boosting"):
        raise ValueError(f"model family {family!r} cannot use encoding {encoding!r}")
    if family == "logreg":
        steps: list[tuple[str, Any]] = [
            ("inputs", _imputed_inputs(contract, scale=True, encoding=encoding, seed=seed)),
            # converged far past lbfgs's default tol (1e-4): where it stops then moves the
            # coefficients by ~1e-10 at most, so a BLAS's last-bit noise (which can change the
            # iteration it stops at) never reaches a written score
            ("model", LogisticRegression(**{"tol": 1e-10, **hyperparameters}, random_state=seed)),
        ]
    elif family == "random_forest":
        steps = [
            ("inputs", _imputed_inputs(contract, scale=False, encoding=encoding, seed=seed)),
            ("model", RandomForestClassifier(**hyperparameters, random_state=seed, n_jobs=1)),
        ]
    elif family == "hist_gradient_boosting":
        inputs, mask = _tree_inputs(contract, encoding, seed)
        model = HistGradientBoostingClassifier(
            **hyperparameters,
            categorical_features=mask if any(mask) else None,
            random_state=seed,
        )
        steps = [("inputs", inputs), ("model", model)]
    else:
        raise ValueError(f"unknown model family {family!r}")
    pipeline: ClassifierMixin = Pipeline(steps)
    if calibration != "none":
        pipeline = CalibratedClassifierCV(
            pipeline,
            method=calibration,
            cv=StratifiedKFold(calibration_folds, shuffle=True, random_state=seed),
        )
    return pipeline

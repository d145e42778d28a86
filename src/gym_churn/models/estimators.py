"""Model construction: each family with its preprocessing inside one sklearn pipeline.

Everything that learns from data (imputation, scaling, category encoding) sits inside the
pipeline, so cross-validation fits it on the training folds only.
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
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from gym_churn.contract.spec import Contract


def _categories(contract: Contract, columns: list[str]) -> list[list[str]]:
    return [contract.features[c].levels for c in columns]


def _one_hot_inputs(contract: Contract, scale: bool) -> ColumnTransformer:
    """Numbers imputed (median, with a missing-indicator) and optionally scaled; categories
    one-hot encoded, a level never seen in training encoded as all zeros."""
    cats = contract.categorical
    numbers = [c for c in contract.model_features if c not in cats]
    number_steps: list[tuple[str, Any]] = [
        ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True))
    ]
    if scale:
        number_steps.append(("scale", StandardScaler()))
    transformers: list[tuple[str, Any, list[str]]] = [("numbers", Pipeline(number_steps), numbers)]
    if cats:
        encoder = OneHotEncoder(
            categories=_categories(contract, cats),
            handle_unknown="ignore",
            sparse_output=False,
        )
        transformers.append(("categories", encoder, cats))
    return ColumnTransformer(transformers, verbose_feature_names_out=False)


def _native_inputs(contract: Contract) -> tuple[ColumnTransformer, list[bool]]:
    """For gradient boosting: numbers as they are (gaps handled natively), categories as
    ordinal codes the trees split on natively; an unseen level or a gap becomes missing."""
    cats = contract.categorical
    numbers = [c for c in contract.model_features if c not in cats]
    transformers: list[tuple[str, Any, list[str]]] = [("numbers", "passthrough", numbers)]
    if cats:
        encoder = OrdinalEncoder(
            categories=_categories(contract, cats),
            handle_unknown="use_encoded_value",
            unknown_value=np.nan,
            encoded_missing_value=np.nan,
        )
        transformers.append(("categories", encoder, cats))
    mask = [False] * len(numbers) + [True] * len(cats)
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
    """An unfitted pipeline: the family's input preparation, then the classifier."""
    if family == "logreg":
        steps: list[tuple[str, Any]] = [
            ("inputs", _one_hot_inputs(contract, scale=True)),
            # converged far past lbfgs's default tol (1e-4): where it stops then moves the
            # coefficients by ~1e-10 at most, so a BLAS's last-bit noise (which can change the
            # iteration it stops at) never reaches a written score
            ("model", LogisticRegression(**{"tol": 1e-10, **hyperparameters}, random_state=seed)),
        ]
    elif family == "random_forest":
        steps = [
            ("inputs", _one_hot_inputs(contract, scale=False)),
            ("model", RandomForestClassifier(**hyperparameters, random_state=seed, n_jobs=1)),
        ]
    elif family == "hist_gradient_boosting":
        inputs, mask = _native_inputs(contract)
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

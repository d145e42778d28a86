"""Cross-validation, the choice of model family and hyperparameters, and the final fit.

`train.model: auto` compares the params' candidate settings by CV ROC-AUC on the training
split only, with the same folds for every candidate, and keeps the best; an explicit family
skips the comparison. All functions are pure: frames and params in, new objects out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin, clone
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, cross_validate

from gym_churn.contract.spec import Contract
from gym_churn.features import model_inputs
from gym_churn.models.estimators import build_model
from gym_churn.models.threshold import choose_threshold
from gym_churn.params import Train
from gym_churn.splitting import sample_rows

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CVResult:
    """Out-of-fold probabilities for every training row and the ROC-AUC of each fold."""

    oof_proba: np.ndarray
    fold_roc_auc: np.ndarray

    @property
    def roc_auc_mean(self) -> float:
        return float(self.fold_roc_auc.mean())

    @property
    def roc_auc_std(self) -> float:
        return float(self.fold_roc_auc.std())


def cross_validate_oof(
    model: ClassifierMixin,
    X: pd.DataFrame,
    y: pd.Series,
    folds: int,
    seed: int,
    groups: np.ndarray | None = None,
    max_fit_rows: int | None = None,
) -> CVResult:
    """Stratified k-fold CV: fold ROC-AUCs and an out-of-fold churn probability per row.

    With `groups` (a member's ID on each of its rows, member_groups) the folds keep each
    group's rows together: a member seen in several snapshots is never on both sides. With
    `max_fit_rows`, each fold's model learns from a seeded sample of at most that many of
    its training rows (the work of a fit grows with rows; every row is still scored by the
    fold that left it out); below it, every training row, as without it."""
    if groups is None:
        cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    else:
        cv = StratifiedGroupKFold(folds, shuffle=True, random_state=seed)
    if max_fit_rows is not None and len(y) - len(y) // folds > max_fit_rows:
        return _sampled_cv(model, X, y, cv, groups, max_fit_rows, seed)
    result = cross_validate(
        clone(model), X, y, groups=groups, cv=cv, scoring="roc_auc",
        return_estimator=True, return_indices=True,
    )  # fmt: skip
    oof = np.full(len(y), np.nan)
    for estimator, test_idx in zip(result["estimator"], result["indices"]["test"], strict=True):
        oof[test_idx] = estimator.predict_proba(X.iloc[test_idx])[:, 1]
    return CVResult(oof_proba=oof, fold_roc_auc=np.asarray(result["test_score"]))


def _sampled_cv(
    model: ClassifierMixin,
    X: pd.DataFrame,
    y: pd.Series,
    cv: Any,
    groups: np.ndarray | None,
    max_fit_rows: int,
    seed: int,
) -> CVResult:
    """cross_validate_oof when a fold's training part exceeds `max_fit_rows`: each fold
    fits on a seeded sample of it (without replacement) and scores its whole test part."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    oof, aucs = np.full(len(y), np.nan), []
    for train_idx, test_idx in cv.split(X, y, groups):
        fit_idx = np.sort(rng.choice(train_idx, size=min(max_fit_rows, len(train_idx)),
                                     replace=False))  # fmt: skip
        estimator = clone(model).fit(X.iloc[fit_idx], y.iloc[fit_idx])
        oof[test_idx] = estimator.predict_proba(X.iloc[test_idx])[:, 1]
        aucs.append(roc_auc_score(y.iloc[test_idx], oof[test_idx]))
    log.info("each of %d folds learned from a sample of %d rows (train.max_fit_rows)",
             len(aucs), max_fit_rows)  # fmt: skip
    return CVResult(oof_proba=oof, fold_roc_auc=np.asarray(aucs))


def member_groups(frame: pd.DataFrame, contract: Contract) -> np.ndarray | None:
    """Each row's member ID when members repeat across the contract's snapshots (CV must
    keep a member's rows in one fold), else None: the folds as for one row per member."""
    if contract.snapshot is None or contract.id is None:
        return None
    ids = frame[contract.id]
    return ids.to_numpy() if ids.duplicated().any() else None


def split_xy(
    frame: pd.DataFrame, contract: Contract, columns: list[str] | None = None
) -> tuple[pd.DataFrame, pd.Series]:
    """Model inputs (the contract's features, or `columns`) and the 0/1 target."""
    X = model_inputs(frame, contract)
    return (X[columns] if columns is not None else X), frame[contract.target.column]


@dataclass(frozen=True)
class Choice:
    """The model spec kept, its CV result, and every candidate's CV ROC-AUC."""

    family: str
    hyperparameters: dict[str, Any]
    cv: CVResult
    candidates: list[dict[str, Any]]


def distinct_candidates(
    candidates: list[tuple[str, dict[str, Any]]], contract: Contract
) -> list[tuple[str, dict[str, Any]]]:
    """The candidates in order, less those that differ from an earlier one only in their
    encoding when the contract has no category columns: the same model, fitted once."""
    if contract.categorical:
        return list(candidates)
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    out = []
    for family, hyper in candidates:
        key = (family, repr(sorted((k, v) for k, v in hyper.items() if k != "encoding")))
        if key in seen and seen[key] != hyper:
            log.info("%s %s: the same model as %s without categories", family, hyper, seen[key])
            continue
        seen.setdefault(key, hyper)
        out.append((family, hyper))
    return out


def choose_model(
    X: pd.DataFrame,
    y: pd.Series,
    cfg: Train,
    contract: Contract,
    seed: int,
    groups: np.ndarray | None = None,
) -> Choice:
    """CV every candidate setting on the same folds and keep the best mean ROC-AUC (the
    first listed wins a tie). With an explicit family there is one candidate; candidates
    that build the same model on this contract are fitted once (distinct_candidates)."""
    best: Choice | None = None
    table = []
    for family, hyper in distinct_candidates(cfg.candidates(), contract):
        model = build_model(
            family, hyper, contract, seed,
            calibration=cfg.calibration, calibration_folds=cfg.calibration_folds,
        )  # fmt: skip
        cv = cross_validate_oof(model, X, y, cfg.cv_folds, seed, groups, cfg.max_fit_rows)
        table.append(
            {
                "model": family,
                "hyperparameters": hyper,
                "cv_roc_auc_mean": cv.roc_auc_mean,
                "cv_roc_auc_std": cv.roc_auc_std,
            }
        )
        log.info("%s %s: CV ROC-AUC %.4f ± %.4f", family, hyper, cv.roc_auc_mean, cv.roc_auc_std)
        if best is None or cv.roc_auc_mean > best.cv.roc_auc_mean:
            best = Choice(family, hyper, cv, table)
    assert best is not None  # Train requires at least one candidate
    return Choice(best.family, best.hyperparameters, best.cv, table)


def fit_with_cv(
    train: pd.DataFrame, cfg: Train, contract: Contract, seed: int
) -> tuple[ClassifierMixin, dict[str, Any]]:
    """Choose the model by CV on `train`, the threshold out-of-fold, then fit on all of it.

    Returns the fitted model and a summary: what was compared and kept, CV ROC-AUC, the
    threshold and how it was chosen.
    """
    X, y = split_xy(train, contract)
    choice = choose_model(X, y, cfg, contract, seed, member_groups(train, contract))
    return _fit_choice(choice, X, y, cfg, contract, seed)


def refit_spec(
    train: pd.DataFrame, summary: dict[str, Any], cfg: Train, contract: Contract, seed: int
) -> tuple[ClassifierMixin, dict[str, Any]]:
    """The spec another fit kept (its summary), cross-validated and fitted on `contract`'s
    columns, with its own out-of-fold threshold and decile edges: the model that lists
    members when some columns are left out. The family is not chosen again: candidates
    are compared once, on every column."""
    X, y = split_xy(train, contract)
    spec = model_from_summary(summary, contract, seed)
    groups = member_groups(train, contract)
    cv = cross_validate_oof(spec, X, y, cfg.cv_folds, seed, groups, cfg.max_fit_rows)
    table = [{"model": summary["model"], "hyperparameters": summary["hyperparameters"],
              "cv_roc_auc_mean": cv.roc_auc_mean, "cv_roc_auc_std": cv.roc_auc_std}]  # fmt: skip
    choice = Choice(summary["model"], summary["hyperparameters"], cv, table)
    return _fit_choice(choice, X, y, cfg, contract, seed)


def _fit_choice(
    choice: Choice, X: pd.DataFrame, y: pd.Series, cfg: Train, contract: Contract, seed: int
) -> tuple[ClassifierMixin, dict[str, Any]]:
    threshold = choose_threshold(y.to_numpy(), choice.cv.oof_proba, cfg.threshold)
    model = build_model(
        choice.family, choice.hyperparameters, contract, seed,
        calibration=cfg.calibration, calibration_folds=cfg.calibration_folds,
    )  # fmt: skip
    fit = sample_rows(len(X), cfg.max_fit_rows, seed)
    fitted = clone(model).fit(X.iloc[fit], y.iloc[fit])
    summary = {
        "model": choice.family,
        "model_setting": cfg.model,
        "hyperparameters": choice.hyperparameters,
        "calibration": cfg.calibration,
        "calibration_folds": cfg.calibration_folds,
        "candidates": choice.candidates,
        "features": list(X.columns),
        "train_rows": len(X),
        "fit_rows": len(fit),
        "cv_folds": cfg.cv_folds,
        "cv_roc_auc_mean": choice.cv.roc_auc_mean,
        "cv_roc_auc_std": choice.cv.roc_auc_std,
        "cv_roc_auc_folds": choice.cv.fold_roc_auc.tolist(),
        "threshold": threshold.threshold,
        "threshold_objective": threshold.objective,
        "threshold_objective_oof_value": threshold.value,
        # Scoring new exports: deciles relative to this base, so they stay comparable from
        # one monthly export to the next.
        "risk_decile_edges": np.quantile(choice.cv.oof_proba, np.linspace(0.1, 0.9, 9)).tolist(),
    }
    return fitted, summary


def model_from_summary(summary: dict[str, Any], contract: Contract, seed: int) -> ClassifierMixin:
    """The unfitted model spec that train kept, as its summary records it."""
    return build_model(
        summary["model"], summary["hyperparameters"], contract, seed,
        calibration=summary["calibration"], calibration_folds=summary["calibration_folds"],
    )  # fmt: skip


def baseline_roc_auc(
    train: pd.DataFrame, test: pd.DataFrame, contract: Contract, max_fit_rows: int | None = None
) -> float:
    """Test ROC-AUC of the textbook approach: scaled logistic regression on the raw columns
    (categories one-hot encoded), no engineered features (fitted on at most `max_fit_rows`
    seeded training rows)."""
    from sklearn.metrics import roc_auc_score

    raw_only = contract.model_copy(update={"engineered": {}})
    model = build_model("logreg", {"C": 1.0, "max_iter": 2000}, raw_only, seed=0)
    X_train, y_train = split_xy(train, raw_only)
    X_test, y_test = split_xy(test, raw_only)
    fit = sample_rows(len(X_train), max_fit_rows, 0)
    model.fit(X_train.iloc[fit], y_train.iloc[fit])
    return float(roc_auc_score(y_test, model.predict_proba(X_test)[:, 1]))


def member_oof_scores(
    members: pd.DataFrame,
    model: ClassifierMixin,
    contract: Contract,
    folds: int,
    seed: int,
    max_fit_rows: int | None = None,
) -> tuple[pd.DataFrame, CVResult]:
    """Out-of-fold churn probability for every member: no member is scored by a model that
    saw its own label. The model spec train kept, the same folds, run on the whole export
    (each fold's fit on at most `max_fit_rows` rows, cross_validate_oof)."""
    X, y = split_xy(members, contract)
    groups = member_groups(members, contract)
    cv = cross_validate_oof(model, X, y, folds, seed, groups, max_fit_rows)
    scores = pd.DataFrame({contract.key: members[contract.key], "churn_probability": cv.oof_proba})
    return scores, cv

"""Model construction, cross-validation and the choice of the decision threshold.

All functions are pure: they take frames, arrays and params and return new objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from gym_churn.columns import BINARY_FLAGS, FEATURES, ID_COLUMN
from gym_churn.params import Threshold, Train


def build_model(train: Train, seed: int) -> ClassifierMixin:
    """An unfitted sklearn estimator for `train.model`, with preprocessing inside the pipeline."""
    hyper = train.hyperparameters()
    if train.model == "logreg":
        steps: list[tuple[str, Any]] = [
            ("scale", StandardScaler()),
            ("model", LogisticRegression(**hyper, random_state=seed)),
        ]
    elif train.model == "random_forest":
        steps = [("model", RandomForestClassifier(**hyper, random_state=seed, n_jobs=1))]
    else:
        steps = [("model", HistGradientBoostingClassifier(**hyper, random_state=seed))]
    model: ClassifierMixin = Pipeline(steps)
    if train.calibration != "none":
        model = CalibratedClassifierCV(
            model,
            method=train.calibration,
            cv=StratifiedKFold(train.calibration_folds, shuffle=True, random_state=seed),
        )
    return model


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
    model: ClassifierMixin, X: pd.DataFrame, y: pd.Series, folds: int, seed: int
) -> CVResult:
    """Stratified k-fold CV: fold ROC-AUCs and an out-of-fold churn probability per row."""
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    result = cross_validate(
        clone(model), X, y, cv=cv, scoring="roc_auc", return_estimator=True, return_indices=True
    )
    oof = np.full(len(y), np.nan)
    for estimator, test_idx in zip(result["estimator"], result["indices"]["test"], strict=True):
        oof[test_idx] = estimator.predict_proba(X.iloc[test_idx])[:, 1]
    return CVResult(oof_proba=oof, fold_roc_auc=np.asarray(result["test_score"]))


def confusion_at_thresholds(y: np.ndarray, proba: np.ndarray) -> pd.DataFrame:
    """For each distinct score t (flag members with proba >= t): tp, fp, fn, tn."""
    y = np.asarray(y, dtype=int)
    proba = np.asarray(proba, dtype=float)
    order = np.argsort(-proba, kind="stable")
    sorted_p, sorted_y = proba[order], y[order]
    # Last position of each run of equal scores: flagging is all-or-nothing within a tie.
    ends = np.r_[np.flatnonzero(np.diff(sorted_p) != 0), len(sorted_p) - 1]
    tp = np.cumsum(sorted_y)[ends]
    fp = (ends + 1) - tp
    positives = int(y.sum())
    negatives = len(y) - positives
    return pd.DataFrame(
        {
            "threshold": sorted_p[ends],
            "tp": tp,
            "fp": fp,
            "fn": positives - tp,
            "tn": negatives - fp,
        }
    )


def threshold_objective(counts: pd.DataFrame, cfg: Threshold) -> pd.Series:
    """Objective value at each threshold row of `confusion_at_thresholds`."""
    if cfg.objective == "f1":
        denom = 2 * counts["tp"] + counts["fp"] + counts["fn"]
        return (2 * counts["tp"] / denom.where(denom > 0)).fillna(0.0)
    # Expected retention profit: every flagged member gets an offer; a contacted churner
    # stays with probability offer_success_rate and is then worth member_value.
    saved_value = counts["tp"] * cfg.offer_success_rate * cfg.member_value
    return saved_value - (counts["tp"] + counts["fp"]) * cfg.offer_cost


@dataclass(frozen=True)
class ThresholdChoice:
    threshold: float
    objective: str
    value: float


def choose_threshold(y: np.ndarray, proba: np.ndarray, cfg: Threshold) -> ThresholdChoice:
    """Pick the score cut-off that maximises the objective; ties go to the higher cut-off.

    Call it with out-of-fold training predictions only: choosing on the test split would
    make every test metric optimistic.
    """
    counts = confusion_at_thresholds(y, proba)
    values = threshold_objective(counts, cfg).to_numpy()
    best = int(np.argmax(values))  # rows run from high to low thresholds
    return ThresholdChoice(
        threshold=float(counts["threshold"].iloc[best]),
        objective=cfg.objective,
        value=float(values[best]),
    )


def permutation_drivers(
    model: ClassifierMixin,
    X: pd.DataFrame,
    y: pd.Series,
    *,
    repeats: int,
    max_rows: int,
    seed: int,
) -> pd.DataFrame:
    """Permutation importance (drop in ROC-AUC) per input column, with its spread.

    It is quadratic-ish in rows x columns x repeats, so large sets use a seeded sample.
    """
    from sklearn.inspection import permutation_importance

    if len(X) > max_rows:
        X = X.sample(max_rows, random_state=seed)
        y = y.loc[X.index]
    result = permutation_importance(
        model, X, y, scoring="roc_auc", n_repeats=repeats, random_state=seed, n_jobs=1
    )
    table = pd.DataFrame(
        {
            "feature": X.columns,
            "importance": result.importances_mean,
            "importance_std": result.importances_std,
        }
    )
    return table.sort_values(["importance", "feature"], ascending=[False, True], ignore_index=True)


def split_xy(frame: pd.DataFrame, target: str) -> tuple[pd.DataFrame, pd.Series]:
    """Model inputs (every column but the target and the member id) and the target."""
    return frame.drop(columns=[target, ID_COLUMN]), frame[target]


def fit_with_cv(
    train: pd.DataFrame, cfg: Train, target: str, seed: int
) -> tuple[ClassifierMixin, dict[str, Any]]:
    """Cross-validate on `train`, choose the threshold out-of-fold, then fit on all of it.

    Returns the fitted model and a summary (CV ROC-AUC, threshold and how it was chosen).
    """
    X, y = split_xy(train, target)
    model = build_model(cfg, seed)
    cv = cross_validate_oof(model, X, y, cfg.cv_folds, seed)
    choice = choose_threshold(y.to_numpy(), cv.oof_proba, cfg.threshold)
    fitted = clone(model).fit(X, y)
    summary = {
        "model": cfg.model,
        "calibration": cfg.calibration,
        "features": list(X.columns),
        "train_rows": len(X),
        "cv_folds": cfg.cv_folds,
        "cv_roc_auc_mean": cv.roc_auc_mean,
        "cv_roc_auc_std": cv.roc_auc_std,
        "cv_roc_auc_folds": cv.fold_roc_auc.tolist(),
        "threshold": choice.threshold,
        "threshold_objective": choice.objective,
        "threshold_objective_oof_value": choice.value,
        # Scoring new exports: deciles relative to this base, reasons relative to its typical
        # member, so both stay comparable from one monthly export to the next.
        "risk_decile_edges": np.quantile(cv.oof_proba, np.linspace(0.1, 0.9, 9)).tolist(),
        "typical_values": typical_values(train),
    }
    return fitted, summary


def typical_values(members: pd.DataFrame) -> dict[str, float]:
    """The member base's typical value of each raw feature: the mode of a 0/1 flag, the
    median of anything else."""
    out = {}
    for col in (c for c in FEATURES if c in members.columns):
        values = members[col]
        out[col] = float(values.mode().iloc[0] if col in BINARY_FLAGS else values.median())
    return out


def baseline_roc_auc(
    train: pd.DataFrame, test: pd.DataFrame, columns: list[str], target: str
) -> float:
    """Test ROC-AUC of the published approach: scaled logistic regression on raw columns."""
    from sklearn.metrics import roc_auc_score

    baseline = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(max_iter=2000))])
    baseline.fit(train[columns], train[target])
    return float(roc_auc_score(test[target], baseline.predict_proba(test[columns])[:, 1]))


def member_oof_scores(
    members: pd.DataFrame, cfg: Train, target: str, seed: int
) -> tuple[pd.DataFrame, CVResult]:
    """Out-of-fold churn probability for every member: no member is scored by a model that
    saw its own label. Same model spec and folds as train, run on the whole export."""
    X, y = split_xy(members, target)
    cv = cross_validate_oof(build_model(cfg, seed), X, y, cfg.cv_folds, seed)
    scores = pd.DataFrame({ID_COLUMN: members[ID_COLUMN], "churn_probability": cv.oof_proba})
    return scores, cv

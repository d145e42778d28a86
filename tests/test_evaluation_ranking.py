"""ROC-AUC from ranks: the same figure as scikit-learn's, without importing it."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from gym_churn.evaluation.ranking import rank_roc_auc


@pytest.mark.parametrize(
    ("n", "levels", "seed"),
    [(50, None, 0), (400, None, 1), (400, 5, 2), (1000, 2, 3), (7, 3, 4)],
)  # levels: scores rounded to that many distinct values, so ties are common
def test_equals_scikit_learn_with_and_without_ties(n: int, levels: int | None, seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]  # both classes
    score = rng.random(n) + 0.3 * y
    if levels is not None:
        score = np.floor(score * levels) / levels
    assert rank_roc_auc(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-12)


@pytest.mark.parametrize(
    ("y", "score", "expected"),
    [
        ([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], 1.0),  # every churner above every stayer
        ([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1], 0.0),
        ([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5], 0.5),  # all tied: a coin toss
        ([1, 0, 0], [0.4, 0.4, 0.1], 0.75),  # one tie counts half
    ],
)
def test_small_cases_by_hand(y: list, score: list, expected: float) -> None:
    assert rank_roc_auc(np.array(y), np.array(score)) == pytest.approx(expected)


@pytest.mark.parametrize("y", [[0, 0, 0], [1, 1]])
def test_one_class_has_no_roc_auc(y: list) -> None:
    assert math.isnan(rank_roc_auc(np.array(y), np.linspace(0, 1, len(y))))
